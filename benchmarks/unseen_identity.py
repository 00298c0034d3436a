"""Proof that a change to the unseen-text search of :mod:`cadbusi_assets.deid.ocr`
(:func:`~cadbusi_assets.deid.ocr.unseen_text` and its helpers) keeps every output, and its CPU
cost before and after: numbers, never assertions.

``python -m benchmarks.unseen_identity frames OUT.pkl`` writes the frames with the identifiers
each is verified against: the frames of :mod:`benchmarks.textlines_identity` (every family,
20 seeds each, as rendered and with the identifiers blacked out; grey, 16-bit, one- and
four-channel variants; 40 side-by-side screens decoded; the demo screens; deid-data's real
files), the 120 side-by-side screens cleaned, the real files of ``test_real_files.py``
(pydicom, pydicom-data), and every case of ``tools/attack_line_gate.py`` (its default, hard,
spacing, script and rule sets, the default set planted outside the fan too). ``run
FRAMES.pkl OUT.pkl [--every K]`` runs the code on the import path and records, per frame: the upright
reading's texts, ``unseen_text``'s text and its ``reads`` (each image hashed, with its text),
every image the search sent to tesseract and to the turned-line gate (hashed, with the
answer), and the kinds :func:`~cadbusi_assets.deid.ocr.ocr_identifiers` reports for the
frame's identifiers and for a Cyrillic name (the unreadable-script path), gate on and off for
the attack frames. ``compare A.pkl B.pkl`` says whether every record is identical (on the frames of B, which
may be every K-th). ``kinds A.pkl B.pkl``: whether only the kinds ``ocr_identifiers`` reports
are identical (a change that searches less may read other texts; the rejected tile gate of
the first session of 2026-12-07, branch ``h-fgate``, was judged by it).
``time FRAMES.pkl BASE_OCR.py [--repeats N] [--every K] [--groups a,b]`` times the
``deid/ocr.py`` on the import path and the one at the path given (loaded under another name)
interleaved frame by frame in one process, OpenCV and torch on one thread, tesseract's cache
warm (the same lines are read by both): CPU ms per frame of ``unseen_text`` and of the whole
verification (``ocr_identifiers``, the upright reading included), best of N, per group.
``parts FRAMES.pkl [--groups a,b]``: where ``unseen_text``'s time goes, part by part.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import hashlib
import pickle
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

SIDE_BY_SIDE = 120


def _digest(image: np.ndarray) -> str:
    image = np.ascontiguousarray(image)
    h = hashlib.sha1(f"{image.shape}{image.dtype}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def _frames() -> list[tuple[str, str, np.ndarray, Any]]:
    """(group, name, frame, identifiers) of every frame compared."""
    import cadbusi_assets  # noqa: F401  (before cadbusi_demo and torch)
    from benchmarks.sidebyside import screen_dataset
    from benchmarks.textlines import _identifiers
    from benchmarks.textlines_identity import _frames as textline_frames
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers
    from cadbusi_assets.dicom import iter_frames, read_dataset
    from cadbusi_demo.screens_heldout import FAMILIES, HELDOUT_FAMILIES, render_screen

    fictitious = OriginalIdentifiers(patient_names=("DOE^JANE",), patient_ids=("12345678",))
    ids = {
        f"{family}/{seed}": _identifiers(render_screen(family, seed))
        for family in FAMILIES
        for seed in range(20)
    }
    out: list[tuple[str, str, np.ndarray, Any]] = []
    for group, name, frame in textline_frames():
        key = "/".join(name.split("/")[:2])
        if group == "blanked":  # (cleaned: tuning or held-out family)
            group = "clean_heldout" if name.split("/")[0] in HELDOUT_FAMILIES else "clean_tuning"
        out.append((group, name, frame, ids.get(key, fictitious)))
    for i in range(SIDE_BY_SIDE):
        ds = screen_dataset(i, i % 2 == 1, 10)
        _, frame = next(iter_frames(ds, indices=[0]))
        frame = np.ascontiguousarray(frame).copy()
        # (the header band above the region is cleaned: blacked out here)
        top = int(ds.SequenceOfUltrasoundRegions[0].RegionLocationMinY0)
        frame[:top] = 0
        name_ids = OriginalIdentifiers(
            patient_names=(str(ds.PatientName),), patient_ids=(str(ds.PatientID),)
        )
        out.append(("sidebyside_clean", f"sbs/{i}", frame, name_ids))
    from pydicom.data import get_testdata_file

    for name in (
        "JPGLosslessP14SV1_1s_1f_8b.dcm", "OBXXXX1A.dcm", "OBXXXX1A_2frame.dcm", "US1_J2KR.dcm",
        "US1_UNCR.dcm", "color-pl.dcm", "color-px.dcm", "color3d_jpeg_baseline.dcm",
        "gdcm-US-ALOKA-16.dcm", "ExplVR_BigEnd.dcm", "examples_jpeg2k.dcm",
        "examples_palette.dcm", "examples_rgb_color.dcm", "examples_ybr_color.dcm",
    ):  # fmt: skip
        path = get_testdata_file(name, download=False)
        if path is None:
            continue
        for k, frame in iter_frames(read_dataset(path), indices=[0]):
            out.append(("real", f"pydicom/{name}/{k}", np.ascontiguousarray(frame), fictitious))
    out += _attack_frames()
    return out


def _attack_frames() -> list[tuple[str, str, np.ndarray, Any]]:
    from dataclasses import replace

    import tools.attack_line_gate as attack

    sets = {
        "attack": attack.cases(),
        "attack_hard": attack.hard_cases(),
        "attack_spacing": attack.spacing_cases(),
        "attack_scripts": attack.script_cases(),
        "attack_rules": attack.rule_cases(),
    }
    sets["attack_outside"] = [
        replace(c, kind="outside_" + c.kind, style="outside")
        for c in sets["attack"]
        if c.style in ("brightest", "blend")
    ]
    out = []
    for group, cases in sets.items():
        for k, case in enumerate(cases):
            seed = 100 + (k * 37) % 340  # (the tool's seeds, first repetition)
            frame = attack.build(case, seed)
            out.append((group, f"{case.kind}/{case.name}/{seed}", frame, case.ids))
    return out


@contextmanager
def _recording(log: list[tuple[str, str, Any]]) -> Iterator[None]:
    """Every image tesseract reads and the turned-line gate scores, logged with the answer."""
    from cadbusi_assets.deid import line_gate
    from cadbusi_assets.ultrasound.ocr import Tesseract

    read_line, may_be_text = Tesseract.read_line, line_gate.may_be_text

    def read(self: Any, image: np.ndarray) -> str:
        text = read_line(self, image)
        log.append(("tess", _digest(image), text))
        return text

    def gate(image: np.ndarray) -> bool:
        answer = may_be_text(image)
        log.append(("gate", _digest(image), answer))
        return answer

    Tesseract.read_line = read  # type: ignore[method-assign]
    line_gate.may_be_text = gate
    try:
        yield
    finally:
        Tesseract.read_line = read_line  # type: ignore[method-assign]
        line_gate.may_be_text = may_be_text


def _gate_off() -> Callable[[], None]:
    from cadbusi_assets.deid import line_gate

    original = line_gate.may_be_text
    line_gate.may_be_text = lambda image: True

    def undo() -> None:
        line_gate.may_be_text = original

    return undo


def _record(frame: np.ndarray, ids: Any, group: str) -> dict[str, Any]:
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers
    from cadbusi_assets.deid.ocr import ocr_identifiers, read_frame, unseen_text

    cyrillic = OriginalIdentifiers(patient_names=("Щукина^Юлия",), patient_ids=("12345678",))
    reading = read_frame(frame, vocabulary_gate=True, fields=False)
    record: dict[str, Any] = {"upright": [line.text for line in reading.lines]}
    log: list[tuple[str, str, Any]] = []
    reads: list[tuple[np.ndarray, str]] = []
    with _recording(log):
        record["unseen"] = unseen_text(frame, reading, reads)
    record["unseen_log"] = log
    record["reads"] = [(_digest(image), text) for image, text in reads]
    with _recording(log := []):
        record["kinds"] = ocr_identifiers(frame, ids, reading)
        record["kinds_cyrillic"] = ocr_identifiers(frame, cyrillic, reading)
    record["kinds_log"] = log
    if group.startswith("attack"):
        undo = _gate_off()
        try:
            with _recording(log := []):
                record["kinds_gate_off"] = ocr_identifiers(frame, ids, reading)
                record["unseen_gate_off"] = unseen_text(frame, reading)
        finally:
            undo()
        record["gate_off_log"] = log
    return record


def _run(frames_path: str, out_path: str, every: int) -> None:
    import cv2

    import cadbusi_assets  # noqa: F401
    from cadbusi_assets.deid import ocr

    cv2.setNumThreads(1)
    with open(frames_path, "rb") as f:
        frames = pickle.load(f)[::every]
    results = []
    for k, (group, name, frame, ids) in enumerate(frames):
        results.append((group, name, _record(frame, ids, group)))
        if k % 200 == 0:
            print(k, len(frames), flush=True)
    with open(out_path, "wb") as f:
        pickle.dump({"file": ocr.__file__, "results": results}, f)


def _compare(a_path: str, b_path: str) -> None:
    from benchmarks.textlines_identity import load_records

    a, b = load_records(a_path, b_path)
    differ = 0
    groups: dict[str, int] = {}
    reads = tess = 0
    # (B may be a run of every K-th frame: compared on the frames it holds)
    a_results = {(g, n): r for g, n, r in a["results"]}
    for gb, nb, rb in b["results"]:
        ga, na, ra = gb, nb, a_results[(gb, nb)]
        groups[ga] = groups.get(ga, 0) + 1
        reads += len(ra["reads"])
        tess += sum(1 for entry in ra["unseen_log"] if entry[0] == "tess")
        if ra != rb or repr(ra) != repr(rb):
            differ += 1
            keys = [k for k in ra if ra.get(k) != rb.get(k)]
            print("DIFFERS", ga, na, keys)
    print(f"{len(b['results'])} frames ({groups}), {differ} differ")
    print(f"unseen_text: {reads} reads recorded, {tess} tesseract calls logged")


#: The records :func:`_kinds` compares: what ``ocr_identifiers`` reports.
KIND_KEYS = ("kinds", "kinds_cyrillic", "kinds_gate_off")


def _kinds(a_path: str, b_path: str) -> None:
    """Whether ``ocr_identifiers`` reports the same kinds on every frame of two records (the
    texts read may differ: a change that searches less, e.g. the tile gate)."""
    from benchmarks.textlines_identity import load_records

    a, b = load_records(a_path, b_path)
    a_results = {(g, n): r for g, n, r in a["results"]}
    differ = texts = 0
    groups: dict[str, int] = {}
    for group, name, rb in b["results"]:
        ra = a_results[(group, name)]
        groups[group] = groups.get(group, 0) + 1
        texts += ra.get("unseen") != rb.get("unseen")
        changed = [k for k in KIND_KEYS if ra.get(k) != rb.get(k)]
        if changed:
            differ += 1
            print("KINDS DIFFER", group, name, {k: (ra.get(k), rb.get(k)) for k in changed})
    print(f"{len(b['results'])} frames ({groups}): kinds differ on {differ}")
    print(f"unseen_text's text differs on {texts} frames (allowed: searched less)")


def _load(path: str, name: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _time(frames_path: str, base_path: str, repeats: int, every: int, groups: set[str]) -> None:
    import cv2

    import cadbusi_assets  # noqa: F401
    from cadbusi_assets.deid import ocr

    cv2.setNumThreads(1)
    import torch  # (after cadbusi_assets: tesseract on one thread)

    torch.set_num_threads(1)
    base = _load(base_path, "deid_ocr_base")
    with open(frames_path, "rb") as f:
        frames = [x for x in pickle.load(f) if not groups or x[0] in groups][::every]
    unseen: dict[str, tuple[list[float], list[float]]] = {}
    whole: dict[str, tuple[list[float], list[float]]] = {}
    for group, _, frame, ids in frames:
        reading = ocr.read_frame(frame, vocabulary_gate=True, fields=False)
        modules = (base, ocr)
        for module in modules:  # (warm: tesseract's cache, the reused buffers)
            module.unseen_text(frame, reading)
            module.ocr_identifiers(frame, ids)
        best_u = [float("inf"), float("inf")]
        best_w = [float("inf"), float("inf")]
        for _ in range(repeats):
            for k, module in enumerate(modules):
                t = time.process_time()
                module.unseen_text(frame, reading)
                best_u[k] = min(best_u[k], time.process_time() - t)
                t = time.process_time()
                module.ocr_identifiers(frame, ids)
                best_w[k] = min(best_w[k], time.process_time() - t)
        for table, best in ((unseen, best_u), (whole, best_w)):
            table.setdefault(group, ([], []))
            table[group][0].append(best[0])
            table[group][1].append(best[1])
    print(f"CPU ms per frame, one thread, best of {repeats}, interleaved: base | this")
    for title, table in (("unseen_text", unseen), ("ocr_identifiers", whole)):
        print(title)
        for group, (ta, tb) in table.items():
            print(
                f"  {group:16s} n={len(ta):4d}  mean {1000 * statistics.mean(ta):6.2f} | "
                f"{1000 * statistics.mean(tb):6.2f}   median {1000 * statistics.median(ta):6.2f}"
                f" | {1000 * statistics.median(tb):6.2f}   ratio of sums {sum(tb) / sum(ta):.3f}"
            )


#: The parts of the search timed by ``parts`` (each name of :mod:`cadbusi_assets.deid.ocr`;
#: ``find_text`` per caller).
PARTS = (
    "light_panels", "_ink_and_rules", "_holds_ink", "_darkness", "brightness",
    "_crossed_lines", "_extended", "tiny_lines", "_quarter_turn", "_one_colour_glyphs",
    "turned_line_image",
)  # fmt: skip


def _parts(frames_path: str, groups: set[str]) -> None:
    """CPU ms per frame of each part of ``unseen_text`` (tesseract's cache warm)."""
    import collections

    import cv2

    import cadbusi_assets  # noqa: F401
    from cadbusi_assets.deid import line_gate, ocr

    cv2.setNumThreads(1)
    import torch  # (after cadbusi_assets: tesseract on one thread)

    torch.set_num_threads(1)
    with open(frames_path, "rb") as f:
        frames = [x for x in pickle.load(f) if not groups or x[0] in groups]
    readings = [ocr.read_frame(x[2], vocabulary_gate=True, fields=False) for x in frames]
    for (_, _, frame, _), reading in zip(frames, readings, strict=True):
        ocr.unseen_text(frame, reading)
    spent: dict[str, float] = collections.defaultdict(float)
    calls: collections.Counter[str] = collections.Counter()

    def timed(name: str, function: Callable[..., Any], by_caller: bool) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            key = f"{name} < {sys._getframe(1).f_code.co_name}" if by_caller else name
            t = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.process_time() - t
                calls[key] += 1

        return run

    patched = {name: getattr(ocr, name) for name in (*PARTS, "find_text", "_tiny_texts")}
    may_be_text = line_gate.may_be_text
    for name, function in patched.items():
        setattr(ocr, name, timed(name, function, name in ("find_text", "_tiny_texts")))
    line_gate.may_be_text = timed("may_be_text (gate)", may_be_text, False)
    try:
        t = time.process_time()
        for (_, _, frame, _), reading in zip(frames, readings, strict=True):
            ocr.unseen_text(frame, reading)
        total = time.process_time() - t
    finally:
        for name, function in patched.items():
            setattr(ocr, name, function)
        line_gate.may_be_text = may_be_text
    n = len(frames)
    print(f"{n} frames: unseen_text {1000 * total / n:.2f} CPU ms a frame (timers included)")
    for key, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {key:36s} {1000 * seconds / n:6.2f} ms  {calls[key] / n:5.2f} calls a frame")


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "frames":
        with open(argv[1], "wb") as f:
            pickle.dump(_frames(), f)
    elif command == "run":
        _run(argv[1], argv[2], int(argv[argv.index("--every") + 1]) if "--every" in argv else 1)
    elif command == "compare":
        _compare(argv[1], argv[2])
    elif command == "kinds":
        _kinds(argv[1], argv[2])
    elif command == "time":
        repeats = int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else 3
        every = int(argv[argv.index("--every") + 1]) if "--every" in argv else 1
        groups = set(argv[argv.index("--groups") + 1].split(",")) if "--groups" in argv else set()
        _time(argv[1], argv[2], repeats, every, groups)
    elif command == "parts":
        groups = set(argv[argv.index("--groups") + 1].split(",")) if "--groups" in argv else set()
        _parts(argv[1], groups)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
