"""Our commands side by side with DCMTK on text-heavy frames from the domain-randomized generator.

One run, the same cores, the same files: ``n`` DICOM files (half raw RGB, half JPEG baseline
YBR_FULL_422) whose frames are rendered by :mod:`cadbusi_demo.screens_heldout` from the
held-out families (bright speckle reaching full white, header with the patient's name, ID,
date and clinic, annotation, measurement and UI text). The header carries the same name, ID and
date as the burned-in text, and the ultrasound region starts under the header band, so the
de-identification has burned-in identifiers to remove and the OCR verification has text to read
(annotation, UI and measurement lines inside the region).

Timed, each with ``jobs`` processes (wall time, as a user sees it, process start-up included):

* ``floor``: decode the pixels and encode one PNG per file (pydicom + our PNG encoder, workers
  with our workers' malloc settings): the physical floor of any DICOM → PNG tool written in
  Python here;
* ``dcmj2pnm``: DCMTK's ``dcmj2pnm --write-png``, one process per file (as the tool is used),
  ``jobs`` at a time;
* ``deidentify``: ``cadbusi deidentify IN OUT --jobs N`` (header profile + pixel cleaning +
  OCR verification + DICOM + PNG);
* ``deidentify_no_ocr``: the same with ``--no-ocr`` (what reading text costs);
* ``one_pass``: ``cadbusi deidentify --analyze``, the assets' one pass (de-identification,
  verification, analysis with the annotation reading, inpainting; each file decoded and each
  frame's text read once);
* ``full_chain``: ``cadbusi deidentify`` then ``cadbusi analyze`` of its output
  (de-identification + analysis with the annotation reading + inpainting).

Ratios are files/s against ``dcmj2pnm``. Beside the wall time, each contender's CPU time is
reported: every process it ran, start-up and exit included (this process, its children and
theirs: a fork server left behind by an ended command is adopted and reaped here); on a
machine shared with other work it varies far less than the wall time. ``--files`` can be given
more than once (e.g. 120 and 600): our start-up (imports, the fork server) is paid once per run
while ``dcmj2pnm`` starts one process per file, so both sizes are reported side by side.
Numbers only; nothing asserts on them.

>>> paths = write_corpus(__import__("pathlib").Path(__import__("tempfile").mkdtemp()), 2)
>>> len(paths)
2
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from benchmarks.deid import set_rgb_pixels
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets.parallel import keep_freed_memory

_US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
_ROOT = "1.2.826.0.1.3680043.99997"
_KEY_HEX = bytes(range(11, 43)).hex()  # synthetic data only


def _phi(screen: Any) -> dict[str, str]:
    """The header values that match the burned-in identifying text of ``screen``."""
    found = {"name": "SYNTH^PATIENT", "id": "00000000", "date": "20240101"}
    for text in (t.text for t in screen.texts if t.kind == "phi"):
        if "^" in text and text.replace("^", "").isalpha():
            found["name"] = text
        elif text.upper().startswith("ID"):
            found["id"] = "".join(ch for ch in text if ch.isdigit()) or found["id"]
        elif text.count("/") == 2:
            day, month, year = text.split()[0].split("/")
            found["date"] = f"{year}{month}{day}"
    return found


def screen_dataset(index: int, jpeg: bool, per_study: int = 1) -> Dataset:
    """One held-out-family screen as a DICOM dataset (fictitious identifiers). Files
    ``per_study`` at a time form one study of one patient (header identifiers from the
    study's first screen; every screen's header band is outside the region and cleaned)."""
    from cadbusi_demo.screens_heldout import HELDOUT_FAMILIES, render_screen

    study = index // per_study
    family = HELDOUT_FAMILIES[study % len(HELDOUT_FAMILIES)]
    screen = render_screen(family, seed=10_000 + index)
    first = screen if index % per_study == 0 else render_screen(family, 10_000 + study * per_study)
    pixels = np.ascontiguousarray(screen.frame)
    rows, cols = pixels.shape[:2]
    phi = _phi(first)
    header_bottom = max((t.box[3] for t in screen.texts if t.kind == "phi"), default=0)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    sop = f"{_ROOT}.{index}.{int(jpeg)}"
    ds.file_meta.MediaStorageSOPClassUID = UID(_US_IMAGE)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop)
    ds.SOPClassUID, ds.SOPInstanceUID = _US_IMAGE, sop
    ds.StudyInstanceUID = f"{_ROOT}.{study}"
    ds.SeriesInstanceUID = f"{_ROOT}.{study}.9"
    ds.Modality, ds.Manufacturer = "US", family
    ds.PatientName, ds.PatientID = phi["name"], phi["id"]
    ds.PatientBirthDate, ds.StudyDate = "19620304", phi["date"]
    ds.AccessionNumber = f"A{study:07d}"
    ds.InstitutionName = "Synthetic Clinic"
    ds.StudyDescription = "US BREAST"
    region = Dataset()
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, min(rows - 2, header_bottom + 3)
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = cols - 1, rows - 1
    region.RegionSpatialFormat, region.RegionDataType = 1, 1
    ds.SequenceOfUltrasoundRegions = Sequence([region])
    set_rgb_pixels(ds, pixels, jpeg)
    return ds


def write_corpus(folder: Path, n: int, per_study: int = 1) -> list[Path]:
    """``n`` files in ``folder``: even indices raw RGB, odd ones JPEG baseline; studies of
    ``per_study`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n):
        path = folder / f"screen_{index:04d}.dcm"
        path.write_bytes(dataset_to_bytes(screen_dataset(index, index % 2 == 1, per_study)))
        paths.append(path)
    return paths


def _floor_one(path: str) -> int:
    from cadbusi_assets.dicom import iter_frames, read_dataset
    from cadbusi_assets.ultrasound import encode_png

    _, frame = next(iter_frames(read_dataset(path), indices=[0]))
    return len(encode_png(frame))


#: prctl's PR_SET_CHILD_SUBREAPER (linux/prctl.h).
_PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux), so that the CPU time
    of a process that outlives its parent (a command's fork server) is counted here once it
    is reaped (:func:`_reap_orphans`). False where the system has no such setting."""
    try:
        return ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return False


def _children() -> set[int]:
    """This process's child processes (Linux ``/proc``), less multiprocessing's resource
    tracker (a helper that lives as long as this process)."""
    from multiprocessing import resource_tracker

    found: set[int] = set()
    for listing in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.update(int(pid) for pid in listing.read_text().split())
    tracker = getattr(getattr(resource_tracker, "_resource_tracker", None), "_pid", None)
    return found - {tracker}


def _reap_orphans(grace: float = 5.0) -> None:
    """Reap the adopted descendants, waiting up to ``grace`` seconds for those still ending
    (a process closes its pipes a moment before it can be reaped); called when no child that
    other code waits for is left (a contender has returned)."""
    deadline = time.monotonic() + grace
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        if not _children() or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its reaped descendants."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _time(fn: Any) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn()`` (CPU: every process it ran, see the module doc)."""
    cpu = _cpu_seconds()
    started = time.perf_counter()
    fn()
    wall = time.perf_counter() - started
    _reap_orphans()
    return wall, _cpu_seconds() - cpu


def _entry(files: int, seconds: float, cpu_seconds: float | None = None) -> dict[str, Any]:
    entry = {"files": files, "seconds": round(seconds, 2), "files_per_s": round(files / seconds, 1)}
    if cpu_seconds is not None:
        entry["cpu_s"] = round(cpu_seconds, 2)
        entry["cpu_ms_per_file"] = round(cpu_seconds / files * 1000, 1)
    return entry


def _cli(*args: str) -> None:
    env = dict(os.environ, CADBUSI_PSEUDONYM_KEY=_KEY_HEX)
    done = subprocess.run(
        [sys.executable, "-m", "cadbusi_assets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 1):  # 1: some input quarantined (reported, not an error here)
        raise RuntimeError(f"cadbusi {args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")


CONTENDERS = ("floor", "dcmj2pnm", "deidentify", "deidentify_no_ocr", "full_chain", "one_pass")


def run_benchmark(
    n: int = 120,
    jobs: int = 2,
    repeats: int = 2,
    per_study: int = 10,
    only: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Every contender (or those in ``only``) on the same ``n`` files (studies of
    ``per_study``) with ``jobs`` processes; best of ``repeats`` (wall and CPU each)."""
    adopt_orphans()
    dcmj2pnm = shutil.which("dcmj2pnm")
    out: dict[str, Any] = {
        "files": n,
        "files_per_study": per_study,
        "jobs": jobs,
        "cpus": os.cpu_count(),
        "repeats": repeats,
    }
    with tempfile.TemporaryDirectory(prefix="cadbusi-sidebyside-") as tmp:
        root = Path(tmp)
        paths = write_corpus(root / "in", n, per_study)
        out["mb"] = round(sum(p.stat().st_size for p in paths) / 1e6, 1)
        names = [str(p) for p in paths]

        def floor() -> None:
            # the workers' malloc settings as ours (cadbusi_assets.parallel): a fair floor
            with ProcessPoolExecutor(jobs, initializer=keep_freed_memory) as pool:
                list(pool.map(_floor_one, names, chunksize=4))

        def dcmtk() -> None:
            target = root / "dcmtk"
            target.mkdir(exist_ok=True)
            assert dcmj2pnm is not None

            def one(path: Path) -> None:
                png = target / (path.stem + ".png")
                subprocess.run([dcmj2pnm, "--write-png", str(path), str(png)], check=True)

            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(one, paths))

        def ours(*extra: str, analyze: bool = False) -> None:
            target = root / "out"
            shutil.rmtree(target, ignore_errors=True)
            shutil.rmtree(root / "out.report.csv", ignore_errors=True)
            _cli("deidentify", str(root / "in"), str(target), "--jobs", str(jobs), *extra)
            if analyze:
                analysis = root / "analysis"
                shutil.rmtree(analysis, ignore_errors=True)
                _cli("analyze", str(target), str(analysis), "--jobs", str(jobs))

        contenders: dict[str, Any] = {
            "floor": floor,
            "deidentify": lambda: ours(),
            "deidentify_no_ocr": lambda: ours("--no-ocr"),
            "full_chain": lambda: ours(analyze=True),
            "one_pass": lambda: ours("--analyze"),
        }
        if dcmj2pnm:
            contenders["dcmj2pnm"] = dcmtk
        for name, fn in contenders.items():
            if only and name not in only:
                continue
            walls, cpus = zip(*(_time(fn) for _ in range(max(1, repeats))), strict=True)
            out[name] = _entry(n, min(walls), min(cpus))
        for base, key in (("dcmj2pnm", "ratio_to_dcmj2pnm"), ("floor", "ratio_to_floor")):
            if base in out:
                out[key] = {
                    k: round(out[k]["files_per_s"] / out[base]["files_per_s"], 2)
                    for k in CONTENDERS
                    if k in out and k != base and (k != "floor" or base == "dcmj2pnm")
                }
    return out


def format_report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['files']} held-out-family screens (half raw RGB, half JPEG baseline, "
        f"studies of {result['files_per_study']}), "
        f"{result['mb']} MB, {result['jobs']} processes on {result['cpus']} CPUs, best of "
        f"{result['repeats']}:",
    ]
    for name in CONTENDERS:
        if name in result:
            entry = result[name]
            ratio = result.get("ratio_to_dcmj2pnm", {}).get(name)
            cpu = entry.get("cpu_ms_per_file")
            lines.append(
                f"  {name:<18} {entry['files_per_s']:>7.1f} files/s  ({entry['seconds']} s)"
                + (f"  {cpu:>6.1f} CPU ms/file" if cpu is not None else "")
                + (f"  {ratio}x dcmj2pnm" if ratio is not None else "")
            )
    return "\n".join(lines)


#: The parts of one file's de-identification that :func:`profile_parts` times, by the
#: module-level functions (looked up at call time) that do them.
PARTS = {
    "read": (("cadbusi_assets.stages.deidentification", "read_dataset"),),
    "header engine": (
        ("cadbusi_assets.deid.deidentify", "_check_supported"),
        ("cadbusi_assets.deid.deidentify", "_copy_header"),
        ("cadbusi_assets.deid.deidentify", "clean_header"),
        ("cadbusi_assets.deid.deidentify", "_bookkeeping"),
        ("cadbusi_assets.deid.deidentify", "find_identifiers_in_dataset"),
    ),
    "decode": (("cadbusi_assets.deid.deidentify", "decode_all_frames"),),
    "pixel cleaning": (
        ("cadbusi_assets.deid.deidentify", "plan_pixel_cleaning"),
        ("cadbusi_assets.deid.deidentify", "blank_outside"),
        ("cadbusi_assets.deid.deidentify", "describe"),
    ),
    "serialisation": (
        ("cadbusi_assets.deid.deidentify", "_write_pixels"),
        ("cadbusi_assets.stages.deidentification", "dataset_to_parts"),
    ),
    "ocr": (("cadbusi_assets.deid.deidentify", "ocr_identifiers"),),
    "png": (("cadbusi_assets.stages.deidentification", "encode_png"),),
}
#: Inside ``ocr``: finding the lines, the learned line reader, tesseract (lines and strips
#: alike, its per-process cache included); the rest of ``ocr`` is ``ocr: other`` (brightness,
#: cleaning the line images, matching the identifiers).
OCR_PARTS = {
    "ocr: find lines": ("cadbusi_assets.ultrasound.ocr", "_found_lines"),
    "ocr: learned reader": ("cadbusi_assets.ultrasound.glyphs", "LineReader.read"),
    "ocr: tesseract": ("cadbusi_assets.ultrasound.ocr", "Tesseract.read_line"),
}


def profile_parts(n: int = 40, per_study: int = 10, ocr: bool = False) -> dict[str, Any]:
    """CPU milliseconds per file of each part of ``cadbusi deidentify``'s worker, in this
    process (``time.process_time``: what the file costs, whatever else the machine runs;
    with the workers' malloc and OpenCV thread settings, as
    :func:`~cadbusi_assets.parallel.keep_freed_memory` and one OpenCV thread),
    over ``n`` files of the corpus; ``other`` is the rest of the worker (file reads and
    writes, hashes, rows). With OCR, ``ocr`` is split too (:data:`OCR_PARTS`).

    The first file (the line reader's weights and tesseract loaded, caches cold) is not
    in the per-file figures: it is ``first_file_cpu_ms``; the others are the steady state
    over the remaining ``n - 1`` files."""
    import importlib

    keep_freed_memory()
    import cv2

    cv2.setNumThreads(1)  # as every worker (parallel._init_worker)

    stage = importlib.import_module("cadbusi_assets.stages.deidentification")
    from cadbusi_assets.identity import Pseudonymizer
    from cadbusi_assets.identity.keys import PseudonymKey
    from cadbusi_assets.storage import open_zone

    spent: dict[str, float] = dict.fromkeys([*PARTS, *(OCR_PARTS if ocr else ())], 0.0)
    originals = []
    targets_of = dict(PARTS)
    if ocr:
        targets_of.update({part: (target,) for part, target in OCR_PARTS.items()})
    for part, targets in targets_of.items():
        for module_name, dotted in targets:
            module: Any = importlib.import_module(module_name)
            *owner_path, name = dotted.split(".")
            for attribute in owner_path:  # a method: patched on its class
                module = getattr(module, attribute)
            function = getattr(module, name)
            originals.append((module, name, function))

            def timed(*args: Any, _f: Any = function, _p: str = part, **kwargs: Any) -> Any:
                begin = time.process_time()
                try:
                    return _f(*args, **kwargs)
                finally:
                    spent[_p] += time.process_time() - begin

            setattr(module, name, timed)
    try:
        with tempfile.TemporaryDirectory(prefix="cadbusi-parts-") as tmp:
            root = Path(tmp)
            write_corpus(root / "in", n, per_study)
            inputs = [stage.DeidInput(f"screen_{i:04d}.dcm", f"input-{i:06d}") for i in range(n)]
            tasks = stage.deid_tasks(
                open_zone(root / "in", "in"),
                open_zone(root / "out", "out"),
                inputs,
                Pseudonymizer(PseudonymKey(bytes.fromhex(_KEY_HEX))),
                verify_ocr=ocr,
                layout="flat",
            )
            begin = time.process_time()
            outcomes = [stage.deidentify_one(tasks[0])]
            first = time.process_time() - begin
            spent.update(dict.fromkeys(spent, 0.0))
            begin = time.process_time()
            outcomes += [stage.deidentify_one(task) for task in tasks[1:]]
            total = time.process_time() - begin
    finally:
        for module, name, function in originals:
            setattr(module, name, function)
    steady = max(1, n - 1)
    main = sum(spent[p] for p in PARTS)
    per_file = {k: round(spent[k] / steady * 1000, 1) for k in PARTS}
    per_file["other"] = round((total - main) / steady * 1000, 1)
    found: dict[str, Any] = {
        "files": n,
        "files_per_study": per_study,
        "ocr": ocr,
        "deidentified": sum(o.status == "ok" for o in outcomes),
        "first_file_cpu_ms": round(first * 1000, 1),
        "cpu_ms_per_file": round(total / steady * 1000, 1),
        "parts_ms_per_file": per_file,
    }
    if ocr:
        inside = {k: round(spent[k] / steady * 1000, 1) for k in OCR_PARTS}
        inside["ocr: other"] = round(
            (spent["ocr"] - sum(spent[k] for k in OCR_PARTS)) / steady * 1000, 1
        )
        found["ocr_parts_ms_per_file"] = inside
    return found


#: The fork server's imports for ``cadbusi deidentify`` with OCR, in the order it runs them
#: (:func:`cadbusi_assets.cli.deidentify_worker_modules`), by group.
STARTUP_GROUPS = (
    ("base", ()),  # cadbusi_assets.parallel.PRELOAD
    ("stage", ("cadbusi_assets.stages.deidentification",)),
    ("torch", ("torch", "cadbusi_assets.ultrasound.glyphs")),
    ("tesseract", ("cadbusi_assets.deid.warmup",)),  # and the first file's caches (warm)
)

_STARTUP_SCRIPT = """
import importlib, json, os, pickle, statistics, sys, tempfile, time
from pathlib import Path
os.environ.setdefault("OMP_NUM_THREADS", "1")
from cadbusi_assets.parallel import PRELOAD, keep_freed_memory  # the standard library only
n, per_study, STARTUP_GROUPS = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
preload = {}
for group, modules in STARTUP_GROUPS:
    begin = time.process_time()
    for module in modules or PRELOAD:
        importlib.import_module(module)
    preload[group] = (time.process_time() - begin) * 1000
ours = [m.__file__ for name, m in list(sys.modules.items())
        if name.split(".")[0] == "cadbusi_assets" and getattr(m, "__file__", None)]
sources = [(path, Path(path).read_bytes()) for path in ours]
begin = time.process_time()
for path, source in sources:
    compile(source, path, "exec", dont_inherit=True)
compiled = (time.process_time() - begin) * 1000
keep_freed_memory()
import cv2
cv2.setNumThreads(1)
from benchmarks.sidebyside import _KEY_HEX, write_corpus
from cadbusi_assets.deid.command import FolderRun, _deidentify_input
from cadbusi_assets.deid.deidentify import deidentify_dataset
from cadbusi_assets.deid.profile import get_profile
from cadbusi_assets.dicom import read_dataset
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.identity.keys import PseudonymKey
with tempfile.TemporaryDirectory(prefix="cadbusi-startup-") as tmp:
    root = Path(tmp)
    paths = write_corpus(root / "in", n, per_study)
    run = FolderRun(str(root / "in"), str(root / "out"),
                    Pseudonymizer(PseudonymKey(bytes.fromhex(_KEY_HEX))),
                    "research-breast-us", 4, True, "flat")
    files = []
    for index, path in enumerate(paths, start=1):
        begin = time.process_time()
        _deidentify_input((run, path.name, f"input-{index:06d}"))
        files.append((time.process_time() - begin) * 1000)
    torch_free, handover, sizes, frames = [], [], [], []
    for path in paths:
        begin = time.process_time()
        cleaned = deidentify_dataset(read_dataset(path.read_bytes()), run.pseudonymizer,
                                     get_profile(run.profile))
        torch_free.append((time.process_time() - begin) * 1000)
        begin = time.process_time()
        blob = pickle.dumps(cleaned, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)
        handover.append((time.process_time() - begin) * 1000)
        sizes.append(len(blob))
        frames.append(cleaned.frames.nbytes)
print(json.dumps({
    "preload": preload, "compiled": compiled, "modules": len(sources),
    "bytecode_written": not sys.dont_write_bytecode,
    "first": files[0], "steady": statistics.median(files[1:]),
    "torch_free": statistics.median(torch_free), "handover": statistics.median(handover),
    "handover_bytes": statistics.median(sizes), "frame_bytes": statistics.median(frames),
}))
"""


def profile_startup(n: int = 20, per_study: int = 10, files: int = 120) -> dict[str, Any]:
    """The start-up budget of ``cadbusi deidentify`` with OCR, in CPU milliseconds, measured in
    a fresh interpreter (cold imports, one thread): the fork server's imports by group
    (:data:`STARTUP_GROUPS`; ``compile_from_source``: the part spent compiling this project's
    modules, when no bytecode is cached, e.g. ``PYTHONDONTWRITEBYTECODE``), a worker's first
    file and its steady file (median of the next ``n - 1``), the torch-free part of a file
    (read, header, decode, pixel cleaning: what runs before the OCR verification needs torch)
    and the cost of handing its cleaned object to another process (pickle both ways).

    ``overlap_bound``: what the command's own process could take off the workers if, while
    the fork server imports torch and starts tesseract, it imported the base and stage groups
    itself and did the torch-free part of the first of ``files`` files, handing each over:
    ``files_in_window``, the workers' CPU saved (``saved_worker_ms``, at most what the
    window holds) and the CPU it adds (``added_ms``: the process's imports and the
    hand-overs)."""
    done = subprocess.run(
        [sys.executable, "-c", _STARTUP_SCRIPT, str(n), str(per_study), json.dumps(STARTUP_GROUPS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    if done.returncode != 0:
        raise RuntimeError(f"start-up profile failed: {done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    preload = {k: round(v, 1) for k, v in found["preload"].items()}
    window = preload["torch"] + preload["tesseract"]
    per_file = found["torch_free"] + found["handover"]
    in_window = min(files, int(window // per_file)) if per_file > 0 else files
    return {
        "files_profiled": n,
        "preload_cpu_ms": preload,
        "preload_total_cpu_ms": round(sum(preload.values()), 1),
        "compile_from_source_cpu_ms": round(found["compiled"], 1),
        "project_modules": found["modules"],
        "bytecode_written": found["bytecode_written"],
        "first_file_cpu_ms": round(found["first"], 1),
        "steady_file_cpu_ms": round(found["steady"], 1),
        "torch_free_cpu_ms_per_file": round(found["torch_free"], 1),
        "handover_cpu_ms_per_file": round(found["handover"], 2),
        "handover_bytes_per_file": int(found["handover_bytes"]),
        "cleaned_pixel_bytes_per_file": int(found["frame_bytes"]),
        "overlap_bound": {
            "files": files,
            "files_in_window": in_window,
            "saved_worker_ms": round(in_window * (found["torch_free"] - found["handover"]), 1),
            "added_ms": round(
                preload["base"] + preload["stage"] + in_window * found["handover"], 1
            ),
        },
    }


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual entry point
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--files",
        type=int,
        action="append",
        default=[],
        help="files in the corpus (repeatable: one run per size, e.g. 120 and 600; default 120)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="processes for every contender")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    parser.add_argument(
        "--per-study", type=int, default=10, help="files per study (one patient); 1: all distinct"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=CONTENDERS,
        default=[],
        help="run only this contender (repeatable; default: all)",
    )
    parser.add_argument(
        "--parts",
        action="store_true",
        help="instead: CPU ms per file of each part of the de-identification worker, one "
        "process (--files files, --no-ocr-parts to leave OCR out)",
    )
    parser.add_argument("--no-ocr-parts", action="store_true", help="--parts without OCR")
    parser.add_argument(
        "--startup",
        action="store_true",
        help="instead: the start-up budget of deidentify with OCR (fork-server imports by group, "
        "first vs steady file, torch-free part, hand-over), CPU ms, a fresh process",
    )
    args = parser.parse_args(argv)
    sizes = args.files or [120]
    if args.parts:
        print(json.dumps(profile_parts(sizes[0], args.per_study, not args.no_ocr_parts)))
        return
    if args.startup:
        print(json.dumps(profile_startup(files=sizes[0], per_study=args.per_study), indent=2))
        return
    results = [
        run_benchmark(n, args.jobs, args.repeats, args.per_study, tuple(args.only)) for n in sizes
    ]
    for result in results:
        print(format_report(result))
    print(json.dumps(results[0] if len(results) == 1 else results, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
