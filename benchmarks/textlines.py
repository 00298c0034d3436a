"""Text detection and reading measured on the held-out screen generator
(:mod:`cadbusi_demo.screens_heldout`): numbers, never assertions.

Per layout family, for the tuning families and for the held-out families together
(:func:`run_text_benchmark`): text-box recall and false boxes per frame of the annotation
reader's detector (``find_text_lines``) and of the de-identification's (``find_lines``: lines
and areas read in strips), annotation fields read (laterality, clock, distance, orientation,
body area) by ``analyze_frame``, and the CPU time of the de-identification's OCR verification
(``ocr_identifiers``) per frame: after pixel cleaning (the header's identifiers blacked out,
the engine's line cache warm from the earlier frames: what the verification does in the
pipeline), the cleaned frame again with tesseract's and the line reader's caches empty (``clean
cold``: a frame of a screen never seen, no line read before), and the frame as rendered with
both caches empty (``verify cold``: every text read); and the share
of the identifiers left in the rendered frame (patient name, ID) that the verification
catches, next to the share that tesseract reading every line catches (``ids tess``: the
verification's learned gate must not catch fewer). False boxes are also given per 20 frames
(the target: at most one). With the verification's time come the tesseract reads per cleaned
frame (``tess/frame``), the share of cleaned frames that left tesseract nothing to read
(``no-tess share``) and their median time (``no-tess ms``: finding the lines and the learned
reading alone, the floor that gating more lines away from tesseract cannot go under). Only APIs that exist before and after the shared detector are
used, so the same module measures both (run it in a checkout of the older commit).

* A true text box is **found** when detected boxes holding at least half its height cover at
  least :data:`COVERED` of its columns.
* A detected box is **false** when it overlaps no true text box and no UI graphic (depth
  scale, body mark, grey bar) by at least :data:`OVERLAP` of the smaller of the two.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Box = tuple[int, int, int, int]

COVERED = 0.7
OVERLAP = 0.3
FIELDS = ("laterality", "clock_position", "nipple_distance_cm", "orientation", "body_area")


def _area(box: Box) -> int:
    return max(0, box[2] - box[0] + 1) * max(0, box[3] - box[1] + 1)


def _intersection(a: Box, b: Box) -> int:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def covered_share(truth: Box, found: Sequence[Box]) -> float:
    """Share of ``truth``'s columns covered by boxes of ``found`` that hold at least half
    of its height (a line box may leave out descenders or a halo)."""
    x0, y0, x1, y1 = truth
    columns = np.zeros(x1 - x0 + 1, bool)
    for b in found:
        rows = min(b[3], y1) - max(b[1], y0) + 1
        if rows >= 0.5 * (y1 - y0 + 1) and b[0] <= x1 and b[2] >= x0:
            columns[max(b[0], x0) - x0 : min(b[2], x1) - x0 + 1] = True
    return float(columns.mean())


def match_boxes(
    truth: Sequence[Box], ignore: Sequence[Box], found: Sequence[Box]
) -> tuple[int, int]:
    """(true boxes found, detected boxes that are false)."""
    hits = sum(covered_share(t, found) >= COVERED for t in truth)
    false = 0
    for b in found:
        if not any(
            _intersection(b, t) >= OVERLAP * min(_area(b), _area(t)) for t in (*truth, *ignore)
        ):
            false += 1
    return hits, false


def expected_fields(text: str) -> dict[str, Any]:
    from cadbusi_assets.ultrasound.annotations import parse_annotation

    parsed = parse_annotation(text)
    return {f: getattr(parsed, f) for f in FIELDS}


@dataclass
class FamilyScore:
    family: str
    frames: int = 0
    truth_boxes: int = 0
    found_boxes: int = 0
    false_boxes: int = 0
    fields_expected: int = 0
    fields_read: int = 0
    verify_ms: list[float] | None = None

    @property
    def recall(self) -> float:
        return self.found_boxes / self.truth_boxes if self.truth_boxes else 1.0

    @property
    def false_per_frame(self) -> float:
        return self.false_boxes / self.frames if self.frames else 0.0

    @property
    def fields_share(self) -> float | None:
        return self.fields_read / self.fields_expected if self.fields_expected else None

    def as_dict(self) -> dict[str, Any]:
        ms = self.verify_ms or []
        return {
            "family": self.family,
            "frames": self.frames,
            "text_box_recall": round(self.recall, 4),
            "false_boxes_per_frame": round(self.false_per_frame, 4),
            "annotation_fields_read": None
            if self.fields_share is None
            else round(self.fields_share, 4),
            "verify_ms_per_frame": round(statistics.median(ms), 1) if ms else None,
        }

    def add(self, other: FamilyScore) -> None:
        self.frames += other.frames
        self.truth_boxes += other.truth_boxes
        self.found_boxes += other.found_boxes
        self.false_boxes += other.false_boxes
        self.fields_expected += other.fields_expected
        self.fields_read += other.fields_read
        self.verify_ms = (self.verify_ms or []) + (other.verify_ms or [])


def score_family(
    family: str,
    frames: int,
    seed: int,
    detect: Callable[[np.ndarray, np.ndarray], list[Box]],
    read_fields: Callable[[np.ndarray, np.ndarray], dict[str, Any]] | None = None,
    verify: Callable[[np.ndarray], Any] | None = None,
) -> FamilyScore:
    """Score ``detect(frame, fov_mask)`` (and optionally ``read_fields`` and the timing of
    ``verify(frame)``) on ``frames`` frames of ``family``."""
    from cadbusi_demo.screens_heldout import render_screen

    score = FamilyScore(family, verify_ms=[])
    for k in range(frames):
        screen = render_screen(family, seed + k)
        found = detect(screen.frame, screen.fov_mask)
        truth = [t.box for t in screen.readable_texts]
        ignore = [t.box for t in screen.texts if t.kind == "scale"] + list(screen.ui_boxes)
        hits, false = match_boxes(truth, ignore, found)
        score.frames += 1
        score.truth_boxes += len(truth)
        score.found_boxes += hits
        score.false_boxes += false
        if read_fields is not None:
            want = expected_fields(screen.annotation_text)
            got = read_fields(screen.frame, screen.fov_mask)
            for name in FIELDS:
                if want[name] is not None:
                    score.fields_expected += 1
                    score.fields_read += got.get(name) == want[name]
        if verify is not None:
            start = time.process_time()
            verify(screen.frame)
            assert score.verify_ms is not None
            score.verify_ms.append(1000 * (time.process_time() - start))
    return score


def _cleaned(screen: Any) -> np.ndarray:
    """The frame with its identifying text (kind ``phi``) blacked out, as pixel cleaning
    leaves it."""
    return screen.phi_blacked_out()


def _identifiers(screen: Any) -> Any:
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers

    phi = [t.text for t in screen.texts if t.kind == "phi"]
    names = tuple(t for t in phi if "^" in t)
    ids = tuple(t.split()[-1] for t in phi if t.startswith("ID"))
    return OriginalIdentifiers(patient_names=names, patient_ids=ids)


@dataclass
class _Totals:
    frames: int = 0
    truth: int = 0
    found: dict[str, int] | None = None
    false: dict[str, int] | None = None
    fields_expected: int = 0
    fields_read: int = 0
    identifiers_expected: int = 0
    identifiers_caught: int = 0
    identifiers_caught_tesseract: int = 0
    verify_raw_ms: list[float] | None = None
    verify_clean_ms: list[float] | None = None
    #: the cleaned frame again with both caches empty (tesseract's and the line reader's)
    verify_clean_cold_ms: list[float] | None = None
    detect_ms: list[float] | None = None
    #: tesseract reads (cache misses) of each cleaned frame's verification
    tesseract_reads: list[int] | None = None

    def __post_init__(self) -> None:
        self.found = {"annotation": 0, "deid": 0}
        self.false = {"annotation": 0, "deid": 0}
        self.verify_raw_ms, self.verify_clean_ms, self.detect_ms = [], [], []
        self.verify_clean_cold_ms = []
        self.tesseract_reads = []

    def add(self, other: _Totals) -> None:
        assert self.found and self.false and other.found and other.false
        self.frames += other.frames
        self.truth += other.truth
        for key in self.found:
            self.found[key] += other.found[key]
            self.false[key] += other.false[key]
        self.fields_expected += other.fields_expected
        self.fields_read += other.fields_read
        self.identifiers_expected += other.identifiers_expected
        self.identifiers_caught += other.identifiers_caught
        self.identifiers_caught_tesseract += other.identifiers_caught_tesseract
        for mine, theirs in (
            (self.verify_raw_ms, other.verify_raw_ms),
            (self.verify_clean_ms, other.verify_clean_ms),
            (self.verify_clean_cold_ms, other.verify_clean_cold_ms),
            (self.detect_ms, other.detect_ms),
        ):
            assert mine is not None and theirs is not None
            mine += theirs
        assert self.tesseract_reads is not None and other.tesseract_reads is not None
        self.tesseract_reads += other.tesseract_reads

    def summary(self) -> dict[str, Any]:
        assert self.found and self.false
        assert self.verify_clean_ms is not None and self.tesseract_reads is not None
        med = lambda v: round(statistics.median(v), 1) if v else None  # noqa: E731
        # the verification's floor: cleaned frames that left tesseract nothing to read
        untouched = [
            ms
            for ms, reads in zip(self.verify_clean_ms, self.tesseract_reads, strict=True)
            if reads == 0
        ]
        return {
            "frames": self.frames,
            "recall_annotation_detector": round(self.found["annotation"] / max(1, self.truth), 4),
            "false_per_frame_annotation_detector": round(
                self.false["annotation"] / max(1, self.frames), 3
            ),
            "recall_deid_detector": round(self.found["deid"] / max(1, self.truth), 4),
            "false_per_frame_deid_detector": round(self.false["deid"] / max(1, self.frames), 3),
            "annotation_fields_read": round(self.fields_read / max(1, self.fields_expected), 4),
            "false_per_20_frames_annotation_detector": round(
                20 * self.false["annotation"] / max(1, self.frames), 2
            ),
            "identifiers_caught": round(
                self.identifiers_caught / max(1, self.identifiers_expected), 4
            ),
            "identifiers_caught_tesseract": round(
                self.identifiers_caught_tesseract / max(1, self.identifiers_expected), 4
            ),
            "detect_ms_median": med(self.detect_ms),
            "verify_ms_raw_median": med(self.verify_raw_ms),
            "verify_ms_cleaned_median": med(self.verify_clean_ms),
            "verify_ms_cleaned_cold_median": med(self.verify_clean_cold_ms or []),
            "verify_ms_cleaned_mean": round(statistics.fmean(self.verify_clean_ms), 1)
            if self.verify_clean_ms
            else None,
            "tesseract_reads_per_cleaned_frame": round(statistics.fmean(self.tesseract_reads), 2)
            if self.tesseract_reads
            else None,
            "cleaned_frames_without_tesseract": round(len(untouched) / len(self.tesseract_reads), 3)
            if self.tesseract_reads
            else None,
            "verify_ms_cleaned_without_tesseract_median": med(untouched),
        }


@contextlib.contextmanager
def _cold_caches() -> Iterator[None]:
    """For the block: tesseract's line cache and the learned line reader's empty (their
    contents put back after)."""
    from cadbusi_assets.ultrasound.glyphs import line_reader
    from cadbusi_assets.ultrasound.ocr import engine as ocr_engine

    owners: list[Any] = [ocr_engine(), line_reader()]
    kept = [owner._cache for owner in owners]
    for owner, cache in zip(owners, kept, strict=True):
        owner._cache = type(cache)()
    try:
        yield
    finally:
        for owner, cache in zip(owners, kept, strict=True):
            owner._cache = cache


def _family_totals(family: str, frames: int, seed: int, ocr: bool) -> _Totals:
    from cadbusi_assets.deid.ocr import (
        find_identifiers_in_ocr_text,
        find_lines,
        ocr_identifiers,
        read_frame,
    )
    from cadbusi_assets.ultrasound.analysis import analyze_frame
    from cadbusi_assets.ultrasound.ocr import engine as ocr_engine
    from cadbusi_assets.ultrasound.ocr import find_text_lines
    from cadbusi_demo.screens_heldout import render_screen

    totals = _Totals()
    for k in range(frames):
        screen = render_screen(family, seed + k)
        truth = [t.box for t in screen.readable_texts]
        ignore = [t.box for t in screen.texts if t.kind == "scale"] + list(screen.ui_boxes)
        start = time.process_time()
        annotation_boxes = find_text_lines(screen.frame, screen.fov_mask)
        assert totals.detect_ms is not None
        totals.detect_ms.append(1000 * (time.process_time() - start))
        found = find_lines(screen.frame)
        deid_boxes = list(found.lines) + list(found.unresolved)
        totals.frames += 1
        totals.truth += len(truth)
        assert totals.found is not None and totals.false is not None
        for key, boxes in (("annotation", annotation_boxes), ("deid", deid_boxes)):
            hits, false = match_boxes(truth, ignore, boxes)
            totals.found[key] += hits
            totals.false[key] += false
        if not ocr:
            continue
        identifiers = _identifiers(screen)
        # The matcher compiles its patterns once per study: not part of a frame's time (an
        # empty text returns before compiling, hence a word).
        find_identifiers_in_ocr_text("warm", identifiers)
        # As in the pipeline: the cleaned frame, the engine's cache warm from earlier frames.
        reader = ocr_engine()
        misses = reader.misses
        start = time.process_time()
        ocr_identifiers(_cleaned(screen), identifiers)
        assert totals.verify_clean_ms is not None and totals.verify_raw_ms is not None
        totals.verify_clean_ms.append(1000 * (time.process_time() - start))
        assert totals.tesseract_reads is not None
        totals.tesseract_reads.append(reader.misses - misses)
        # The cleaned frame again, nothing cached (a first frame of its kind: no line read
        # before by tesseract or the line reader), then every text of the rendered frame.
        with _cold_caches():
            start = time.process_time()
            ocr_identifiers(_cleaned(screen), identifiers)
            assert totals.verify_clean_cold_ms is not None
            totals.verify_clean_cold_ms.append(1000 * (time.process_time() - start))
        with _cold_caches():
            start = time.process_time()
            caught = ocr_identifiers(screen.frame, identifiers)
            totals.verify_raw_ms.append(1000 * (time.process_time() - start))
        # Identifiers left in the frame (name, ID) that the verification catches, and that
        # tesseract reading every line catches.
        full = ocr_identifiers(screen.frame, identifiers, read_frame(screen.frame))
        wanted = {"patient_name"} if identifiers.patient_names else set()
        wanted |= {"patient_id"} if identifiers.patient_ids else set()
        totals.identifiers_expected += len(wanted)
        totals.identifiers_caught += len(wanted & set(caught))
        totals.identifiers_caught_tesseract += len(wanted & set(full))
        want = expected_fields(screen.annotation_text)
        row = analyze_frame(screen.frame, [], ocr=True).as_row()
        got = {**row, "laterality": row.get("ocr_laterality")}
        for name in FIELDS:
            if want[name] is not None:
                totals.fields_expected += 1
                totals.fields_read += got.get(name) == want[name]
    return totals


#: Seed of the text benchmark's frames (the tests and the tuning used other seeds).
TEXT_SEED = 20261202


def run_text_benchmark(
    frames_per_family: int = 20, seed: int = TEXT_SEED, ocr: bool = True, opencv_threads: int = 1
) -> dict[str, Any]:
    """Per family, tuning families together and held-out families together (see the module
    docstring); ``ocr=False`` measures the detectors only. OpenCV runs on ``opencv_threads``
    threads: 1 by default, as the pipeline's worker processes run it
    (:func:`cadbusi_assets.parallel._init_worker`); the CPU time of a process counts every
    thread's, so OpenCV's default (one thread a core) adds its threads' overhead to the
    verification's milliseconds (about 6 ms a frame on 2 cores, measured 2026-12-05)."""
    import cv2

    from cadbusi_demo.screens_heldout import FAMILIES, HELDOUT_FAMILIES, TUNING_FAMILIES

    threads = cv2.getNumThreads()
    cv2.setNumThreads(opencv_threads)
    try:
        per_family = {f: _family_totals(f, frames_per_family, seed, ocr) for f in FAMILIES}
    finally:
        cv2.setNumThreads(threads)
    out: dict[str, Any] = {name: t.summary() for name, t in per_family.items()}
    for label, group in (("tuning", TUNING_FAMILIES), ("held_out", HELDOUT_FAMILIES)):
        total = _Totals()
        for name in group:
            total.add(per_family[name])
        out[label] = total.summary()
    return out


def format_text_report(results: dict[str, Any], detection_only: bool = False) -> str:
    """A plain-text table of :func:`run_text_benchmark`'s results (``detection_only``: the
    detectors' columns, for a run with ``ocr=False``)."""
    columns = [
        ("recall_annotation_detector", "recall(an)"),
        ("false_per_20_frames_annotation_detector", "false/20fr"),
        ("recall_deid_detector", "recall(deid)"),
        ("false_per_frame_deid_detector", "false/fr(deid)"),
        ("annotation_fields_read", "fields"),
        ("detect_ms_median", "detect ms"),
        ("verify_ms_cleaned_median", "verify clean"),
        ("verify_ms_cleaned_mean", "clean mean"),
        ("verify_ms_cleaned_cold_median", "clean cold"),
        ("verify_ms_raw_median", "verify cold"),
        ("identifiers_caught", "ids caught"),
        ("identifiers_caught_tesseract", "ids tess"),
        ("tesseract_reads_per_cleaned_frame", "tess/frame"),
        ("cleaned_frames_without_tesseract", "no-tess share"),
        ("verify_ms_cleaned_without_tesseract_median", "no-tess ms"),
    ]
    if detection_only:
        columns = [*columns[:4], ("detect_ms_median", "detect ms")]
    lines = ["family".ljust(16) + "".join(title.rjust(15) for _, title in columns)]
    for name, figures in results.items():
        cells = ["-" if figures.get(key) is None else str(figures[key]) for key, _ in columns]
        lines.append(name.ljust(16) + "".join(cell.rjust(15) for cell in cells))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Speed of the shared detector, and the frames that prove speed work output-preserving

#: Frames of the equivalence reference and of the speed runner: the tuning families and the
#: demo style (never the held-out families), :data:`REFERENCE_FRAMES` seeds each.
REFERENCE_SEED = 5150
REFERENCE_FRAMES = 5


def reference_screens(
    frames: int = REFERENCE_FRAMES, seed: int = REFERENCE_SEED
) -> list[tuple[str, int]]:
    """(family, seed) of the reference frames: tuning families and ``demo``."""
    from cadbusi_demo.screens_heldout import DEMO_FAMILY, TUNING_FAMILIES

    return [(f, seed + k) for f in (*TUNING_FAMILIES, DEMO_FAMILY) for k in range(frames)]


def detector_boxes(frame: np.ndarray) -> dict[str, list[list[int]]]:
    """``find_text``'s lines and unresolved areas of ``frame`` as JSON-ready lists."""
    from cadbusi_assets.ultrasound.textlines import find_text

    found = find_text(frame)
    return {
        "lines": [list(map(int, b)) for b in found.lines],
        "unresolved": [list(map(int, b)) for b in found.unresolved],
    }


def record_reference(frames: int = REFERENCE_FRAMES, seed: int = REFERENCE_SEED) -> list[dict]:
    """The boxes ``find_text`` finds on the reference frames now (what the equivalence test
    compares against; re-record only when the detector's output is meant to change)."""
    from cadbusi_demo.screens_heldout import render_screen

    return [
        {"family": family, "seed": s, **detector_boxes(render_screen(family, s).frame)}
        for family, s in reference_screens(frames, seed)
    ]


def find_text_speed(
    frames: int = REFERENCE_FRAMES, repeats: int = 5, seed: int = REFERENCE_SEED
) -> dict[str, Any]:
    """Milliseconds per frame of ``find_text`` on one OpenCV thread (CPU time of the
    process, steadier than the wall clock on a shared machine; best of ``repeats`` passes
    over the reference frames; the frames are rendered beforehand)."""
    import cv2

    from cadbusi_assets.ultrasound.textlines import find_text
    from cadbusi_demo.screens_heldout import render_screen

    screens = [(f, render_screen(f, s).frame) for f, s in reference_screens(frames, seed)]
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        per_family: dict[str, float] = {}
        passes = []
        for _ in range(repeats):
            times: dict[str, list[float]] = {}
            for family, frame in screens:
                start = time.process_time()
                find_text(frame)
                times.setdefault(family, []).append(1000 * (time.process_time() - start))
            passes.append(sum(sum(v) for v in times.values()) / len(screens))
            for family, values in times.items():
                mean = sum(values) / len(values)
                per_family[family] = min(per_family.get(family, mean), mean)
    finally:
        cv2.setNumThreads(threads)
    return {
        "frames": len(screens),
        "ms_per_frame_best": round(min(passes), 2),
        "ms_per_frame_median": round(statistics.median(passes), 2),
        "per_family_best": {f: round(v, 2) for f, v in per_family.items()},
    }


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.textlines --speed`` (ms per frame of ``find_text``, one core),
    ``--record PATH`` (write the equivalence reference), or the text benchmark's detection
    figures (recall and false boxes per family, tuning and held-out; with ``--ocr`` also the
    annotation fields, identifiers caught and the verification's CPU ms per frame)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m benchmarks.textlines")
    parser.add_argument("--speed", action="store_true", help="ms per frame of find_text")
    parser.add_argument("--repeats", type=int, default=5, help="passes (--speed; best kept)")
    parser.add_argument("--frames", type=int, default=20, help="frames per family (benchmark)")
    parser.add_argument("--record", metavar="PATH", help="write the equivalence reference")
    parser.add_argument(
        "--ocr",
        action="store_true",
        help="also read: annotation fields, identifiers caught, verification ms per frame",
    )
    parser.add_argument(
        "--opencv-threads",
        type=int,
        default=1,
        help="OpenCV threads (default 1, as the pipeline's workers; -1: OpenCV's default)",
    )
    args = parser.parse_args(argv)
    if args.record:
        with open(args.record, "w", encoding="utf-8") as out:
            rows = [json.dumps(row, separators=(",", ":")) for row in record_reference()]
            out.write("[\n" + ",\n".join(rows) + "\n]\n")
    elif args.speed:
        print(json.dumps(find_text_speed(repeats=args.repeats), indent=1))
    else:
        results = run_text_benchmark(
            frames_per_family=args.frames, ocr=args.ocr, opencv_threads=args.opencv_threads
        )
        print(format_text_report(results, detection_only=not args.ocr))


if __name__ == "__main__":
    main()
