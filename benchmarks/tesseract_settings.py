"""Tesseract's own settings measured on the lines the OCR verification and the annotation
reading send it (numbers, never assertions).

1. :func:`collect`: the text benchmark's flow (:func:`benchmarks.textlines._family_totals`:
   cleaned and raw verification, tesseract reading every line, the annotation reading) on
   tuning and held-out frames (tesseract's own settings), recording every image that reaches tesseract (cache misses)
   and whether it is a strip of an unresolved area.
2. :func:`compare`: each image read by the current engine and by one with other settings,
   alternately in one process (CPU time per read, best of ``repeats``): CPU ms per read of
   each, and how many readings change (a setting that changes no reading changes no
   identifier caught and no field read).
3. :func:`ab_verification`: the text benchmark's figures (verification CPU ms, identifiers
   caught, fields) with the current settings and with others, family by family alternately
   in one process, which goes first alternating too (each family starts with cold line
   caches, tesseract's and the learned reader's, in both).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class Read:
    family: str
    held_out: bool
    strip: bool
    image: np.ndarray
    text: str


def collect(frames: int, seed: int, families: Sequence[str] | None = None) -> list[Read]:
    """Every image tesseract reads in the text benchmark's flow on ``frames`` frames of each
    family (all families by default), with the text it read."""
    from benchmarks.textlines import _family_totals
    from cadbusi_assets.ultrasound import ocr
    from cadbusi_demo.screens_heldout import FAMILIES, HELDOUT_FAMILIES

    strip_ids: set[int] = set()
    keep: list[np.ndarray] = []
    original_clean = ocr.clean_line_image
    original_read = ocr._CApi.read
    reads: list[Read] = []
    family = ""

    def clean(level: np.ndarray, box: Any, height: int = ocr.LINE_HEIGHT) -> np.ndarray:
        image = original_clean(level, box, height)
        if height == 2 * ocr.LINE_HEIGHT:
            strip_ids.add(id(image))
            keep.append(image)
        return image

    def read(self: Any, image: np.ndarray) -> str:
        text = original_read(self, image)
        reads.append(
            Read(
                family,
                family in HELDOUT_FAMILIES,
                id(image) in strip_ids,
                image.copy(),
                " ".join(text.split()),
            )
        )
        return text

    saved = dict(ocr.TESSERACT_VARIABLES)
    ocr.TESSERACT_VARIABLES.clear()  # tesseract's own settings, as compare's "old"
    ocr.engine().close()
    ocr.clean_line_image = clean
    ocr._CApi.read = read  # type: ignore[method-assign]
    try:
        for family in families or sorted(FAMILIES):
            _family_totals(family, frames, seed, ocr=True)
    finally:
        ocr.clean_line_image = original_clean
        ocr._CApi.read = original_read  # type: ignore[method-assign]
        ocr.TESSERACT_VARIABLES.update(saved)
        ocr.engine().close()
    return reads


def rescaled(height: int) -> Callable[[np.ndarray], np.ndarray]:
    """An image transform: a line image made for :data:`~cadbusi_assets.ultrasound.ocr.LINE_HEIGHT`
    (a strip's for twice that) scaled by ``height / LINE_HEIGHT`` (INTER_AREA; only down)."""
    from cadbusi_assets.ultrasound.ocr import LINE_HEIGHT

    factor = height / LINE_HEIGHT

    def scale(image: np.ndarray) -> np.ndarray:
        if factor >= 1.0:
            return image
        return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)

    return scale


def compare(
    reads: Sequence[Read],
    variables: dict[str, str],
    *,
    psm: int | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    repeats: int = 2,
) -> dict[str, Any]:
    """CPU ms per read of the default engine and of one with ``variables`` (and ``psm``,
    images through ``transform``), alternately; readings changed, per group."""
    from cadbusi_assets.ultrasound.ocr import _CApi

    old, new = _CApi({}), _CApi(variables, psm)
    groups: dict[str, dict[str, Any]] = {}
    try:
        for r in reads:
            image = r.image if transform is None else np.ascontiguousarray(transform(r.image))
            times = {"old": float("inf"), "new": float("inf")}
            texts = {}
            for _ in range(repeats):
                for name, api, img in (("old", old, r.image), ("new", new, image)):
                    start = time.process_time()
                    texts[name] = " ".join(api.read(img).split())
                    times[name] = min(times[name], time.process_time() - start)
            for key in (
                ("held_out" if r.held_out else "tuning") + (" strip" if r.strip else " line"),
                "held_out" if r.held_out else "tuning",
            ):
                g = groups.setdefault(key, {"reads": 0, "old": [], "new": [], "changed": 0})
                g["reads"] += 1
                g["old"].append(1000 * times["old"])
                g["new"].append(1000 * times["new"])
                g["changed"] += texts["new"] != texts["old"]
                g.setdefault("unstable", 0)
                g["unstable"] += texts["old"] != r.text
    finally:
        old.close()
        new.close()
    return {
        key: {
            "reads": g["reads"],
            "old_ms_mean": round(statistics.fmean(g["old"]), 2),
            "new_ms_mean": round(statistics.fmean(g["new"]), 2),
            "old_ms_median": round(statistics.median(g["old"]), 2),
            "new_ms_median": round(statistics.median(g["new"]), 2),
            "changed": g["changed"],
            "unstable": g["unstable"],
        }
        for key, g in sorted(groups.items())
    }


def _identifiers_of(text: str) -> Any:
    """The study identifiers a synthetic identifier line (:func:`tools.calibrate_identifier_gate.identifier_text`)
    shows: a name, an ID, a birth date (a phone number is caught as anyone's contact)."""
    import datetime as dt
    import re

    from cadbusi_assets.deid.identifiers import OriginalIdentifiers

    if re.fullmatch(r"[A-Za-z]+[\^ ][A-Za-z]+", text):
        return OriginalIdentifiers(patient_names=(text.upper().replace(" ", "^"),))
    ids = re.fullmatch(r"(?:ID |MRN: |ACC |ID:)?(\d+)", text)
    if ids:
        return OriginalIdentifiers(patient_ids=(ids.group(1),))
    for pattern, order in (
        (r"(\d\d)/(\d\d)/(\d{4})", "mdy"),
        (r"(\d{4})-(\d\d)-(\d\d)", "ymd"),
        (r"(\d\d)\.(\d\d)\.(\d{4})", "dmy"),
        (r"(\d{1,2})/(\d{1,2})/(\d\d)", "mdy2"),
    ):
        m = re.match(pattern + r"(?: \d\d:\d\d)?$", text)
        if m:
            a, b, c = (int(g) for g in m.groups())
            y, mo, d = {
                "mdy": (c, a, b),
                "ymd": (a, b, c),
                "dmy": (c, b, a),
                "mdy2": (1900 + c if c > 26 else 2000 + c, a, b),
            }[order]
            return OriginalIdentifiers(birth_dates=(dt.date(y, mo, d),))
    return OriginalIdentifiers()


def identifier_check(
    variables: dict[str, str],
    count: int = 2000,
    *,
    psm: int | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """The synthetic identifier lines of ``tools/calibrate_identifier_gate.py`` (tuning
    material: names, IDs, dates, phone numbers, a share glued to graphics) read by the
    default engine and by one with ``variables``: lines whose identifier each catches
    (:func:`~cadbusi_assets.deid.ocr.ocr_identifiers`' matching), and lines only the default
    engine catches (must be 0)."""
    from cadbusi_assets.deid.ocr import (
        find_contact_details_in_ocr_text,
        find_identifiers_in_ocr_text,
    )
    from cadbusi_assets.ultrasound.ocr import _CApi
    from tools.calibrate_identifier_gate import identifier_lines

    old, new = _CApi({}), _CApi(variables, psm)
    out = {"lines": 0, "old_caught": 0, "new_caught": 0, "lost": 0, "gained": 0}
    old_ms: list[float] = []
    new_ms: list[float] = []
    try:
        for line in identifier_lines(count):
            ids = _identifiers_of(line.text)
            caught = {}
            for name, api, image in (
                ("old", old, line.image),
                ("new", new, line.image if transform is None else transform(line.image)),
            ):
                start = time.process_time()
                text = " ".join(api.read(np.ascontiguousarray(image)).split())
                (old_ms if name == "old" else new_ms).append(1000 * (time.process_time() - start))
                found = find_identifiers_in_ocr_text(text, ids) if not ids.is_empty() else []
                caught[name] = bool(found or find_contact_details_in_ocr_text(text))
            out["lines"] += 1
            out["old_caught"] += caught["old"]
            out["new_caught"] += caught["new"]
            out["lost"] += caught["old"] and not caught["new"]
            out["gained"] += caught["new"] and not caught["old"]
    finally:
        old.close()
        new.close()
    return {
        **out,
        "old_ms_mean": round(statistics.fmean(old_ms), 2),
        "new_ms_mean": round(statistics.fmean(new_ms), 2),
    }


def ab_verification(
    frames: int,
    seed: int,
    variables: dict[str, str],
    families: Sequence[str] | None = None,
    base: dict[str, str] | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """The text benchmark's OCR figures with tesseract's own settings (or ``base``: "old")
    and with ``variables`` ("new"), family by family alternately in one process."""
    from benchmarks.textlines import _family_totals, _Totals
    from cadbusi_assets.ultrasound import ocr
    from cadbusi_demo.screens_heldout import FAMILIES, HELDOUT_FAMILIES, TUNING_FAMILIES

    saved = dict(ocr.TESSERACT_VARIABLES)
    original_read = ocr._CApi.read
    per: dict[str, dict[str, _Totals]] = {"old": {}, "new": {}}
    from cadbusi_assets.ultrasound.glyphs import line_reader

    try:
        for k, family in enumerate(families or sorted(FAMILIES)):
            runs = [("old", base or {}), ("new", variables)]
            for name, setting in runs if k % 2 == 0 else runs[::-1]:
                ocr.TESSERACT_VARIABLES.clear()
                ocr.TESSERACT_VARIABLES.update(setting)
                ocr.engine().close()  # a fresh engine with these settings, a cold cache
                ocr.engine()._cache.clear()
                line_reader()._cache.clear()  # the learned reader's readings: cold too
                if name == "new" and transform is not None:
                    # tesseract's images only (the learned reader's stay as they are)
                    ocr._CApi.read = lambda api, image: original_read(api, transform(image))  # type: ignore[method-assign,assignment]
                try:
                    per[name][family] = _family_totals(family, frames, seed, ocr=True)
                finally:
                    ocr._CApi.read = original_read  # type: ignore[method-assign]
    finally:
        ocr.TESSERACT_VARIABLES.clear()
        ocr.TESSERACT_VARIABLES.update(saved)
        ocr.engine().close()
    out: dict[str, Any] = {}
    for name, totals in per.items():
        for label, group in (("tuning", TUNING_FAMILIES), ("held_out", HELDOUT_FAMILIES)):
            total = _Totals()
            for family in group:
                if family in totals:
                    total.add(totals[family])
            if total.frames:
                out[f"{label} {name}"] = total.summary()
    for label, group in (("tuning", TUNING_FAMILIES), ("held_out", HELDOUT_FAMILIES)):
        # the same frame's verification with both settings (new - old): steadier than the
        # difference of the medians on a shared machine
        paired = [
            new - old
            for family in group
            if family in per["old"]
            for old, new in zip(
                per["old"][family].verify_clean_ms or [],
                per["new"][family].verify_clean_ms or [],
                strict=True,
            )
        ]
        if paired:
            out[f"{label} paired"] = {
                "frames": len(paired),
                "verify_ms_cleaned_median": round(statistics.median(paired), 2),
                "verify_ms_cleaned_mean": round(statistics.fmean(paired), 2),
            }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import json
    import pickle

    parser = argparse.ArgumentParser(prog="python -m benchmarks.tesseract_settings")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--collect", metavar="PATH", help="record the reads into PATH (pickle)")
    parser.add_argument("--reads", metavar="PATH", help="compare settings on recorded reads")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE (repeatable)")
    parser.add_argument("--psm", type=int)
    parser.add_argument("--height", type=int, help="scale line images down to this height")
    parser.add_argument("--ab", action="store_true", help="the text benchmark's figures, A/B")
    parser.add_argument(
        "--committed", action="store_true", help="--set: the committed TESSERACT_VARIABLES"
    )
    parser.add_argument("--identifiers", type=int, help="synthetic identifier lines, A/B")
    args = parser.parse_args(argv)
    from benchmarks.textlines import TEXT_SEED
    from cadbusi_assets.ultrasound.ocr import TESSERACT_VARIABLES

    variables = dict(item.split("=", 1) for item in args.set)
    if args.committed:
        variables = {**TESSERACT_VARIABLES, **variables}
    if args.collect:
        reads = collect(args.frames, TEXT_SEED)
        with open(args.collect, "wb") as out:
            pickle.dump(reads, out)
        print(len(reads), "reads")
    elif args.reads:
        with open(args.reads, "rb") as f:
            reads = pickle.load(f)
        result = compare(
            reads,
            variables,
            psm=args.psm,
            transform=None if args.height is None else rescaled(args.height),
        )
        print(json.dumps({"set": variables, "psm": args.psm, "height": args.height, **result}))
    elif args.identifiers:
        result = identifier_check(
            variables,
            args.identifiers,
            psm=args.psm,
            transform=None if args.height is None else rescaled(args.height),
        )
        print(json.dumps({"set": variables, "psm": args.psm, "height": args.height, **result}))
    elif args.ab:
        from benchmarks.textlines import format_text_report

        transform = None if args.height is None else rescaled(args.height)
        print(
            format_text_report(
                ab_verification(
                    args.frames,
                    TEXT_SEED,
                    variables,
                    # --height: its effect alone (both with the variables)
                    base=variables if transform is not None else None,
                    transform=transform,
                )
            )
        )


if __name__ == "__main__":
    main()
