"""The hand-checked regression set of real ultrasound files (``real_files_expected.json``):
where each file is, its first frame decoded once, the detectors' results on it cached, and the
expectations of files that hold another file's picture. Shared by ``test_real_files.py``, the
caliper tests that look at a real frame and the benchmarks (:mod:`benchmarks.real_files`).

Files come from the pydicom-data and deid-data packages, never the network
(``download=False``); a missing package skips on a developer machine and fails in CI
(:func:`missing_package`)."""

from __future__ import annotations

import atexit
import json
import math
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.data import get_testdata_file

from cadbusi_assets.deid.errors import DeidentificationError
from cadbusi_assets.deid.pixels import blank_outside, plan_pixel_cleaning
from cadbusi_assets.dicom import UltrasoundRegion, iter_frames, read_dataset, ultrasound_regions
from cadbusi_assets.ultrasound import analyze_frame
from cadbusi_assets.ultrasound.analysis import FrameAnalysis
from cadbusi_assets.ultrasound.textlines import find_text
from cadbusi_assets_tests.support import missing

Box = tuple[int, int, int, int]


def deid_file(name: str) -> Path:
    import deid_data

    return Path(deid_data.__file__).parent / "data" / "ultrasounds" / name


def first_frame(path):
    ds = read_dataset(path)
    _, frame = next(iter_frames(ds, indices=[0]))
    return frame, ultrasound_regions(ds)


EXPECTED: dict[str, Any] = json.loads(
    (Path(__file__).with_name("real_files_expected.json")).read_text(encoding="utf-8")
)["files"]


def missing_package(what: str) -> None:
    missing(
        f"{what} is not available offline (pip install pydicom-data deid-data)",
        "CI must install the test data packages",
    )


def _pydicom_path(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        missing_package(f"pydicom test file {name}")
    return Path(str(path))


@cache
def _cine_folder() -> Path:
    folder = tempfile.mkdtemp(prefix="cadbusi-real-cines-")
    # the unzipped cines (about 115 MB a test process) go when the process ends
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)


def locate(key: str) -> Path:
    """The file of a ``pydicom/NAME``, ``pydicom-data/NAME`` or ``deid-data/NAME`` key."""
    package, name = key.split("/", 1)
    if package in ("pydicom", "pydicom-data"):
        return _pydicom_path(name)
    try:
        import deid_data
    except ImportError:
        missing_package("deid-data")
    folder = Path(deid_data.__file__).parent / "data" / "ultrasounds"
    if (folder / name).exists():
        return folder / name
    zipped = folder / (Path(name).stem + ".zip")
    target = _cine_folder() / name
    if not target.exists():
        with zipfile.ZipFile(zipped) as archive:
            archive.extract(name, _cine_folder())
    return target


@cache
def decoded(key: str) -> tuple[np.ndarray, list[UltrasoundRegion]]:
    """First frame and ultrasound regions (decoded once per module run)."""
    ds = read_dataset(locate(key))
    _, frame = next(iter_frames(ds, indices=[0]))
    frame.setflags(write=False)
    return frame, ultrasound_regions(ds)


@cache
def analysed(key: str) -> FrameAnalysis:
    frame, regions = decoded(key)
    return analyze_frame(frame, regions, ocr=False)


@cache
def text_boxes(key: str) -> list[Box]:
    found = find_text(decoded(key)[0])
    return [*found.lines, *found.unresolved]


@cache
def cleaned(key: str) -> tuple[np.ndarray, bool]:
    """The frame after de-identification's pixel cleaning, and whether a plan existed (no
    plan: the object is not released; the frame is returned unchanged)."""
    frame, _ = decoded(key)
    try:
        plan = plan_pixel_cleaning(read_dataset(locate(key)))
    except DeidentificationError:
        return frame, False
    return blank_outside(frame[None].copy(), plan.keep)[0], True


def _scaled(box: Sequence[float], factor: float) -> list[int]:
    x0, y0, x1, y1 = box
    return [
        math.floor(x0 * factor),
        math.floor(y0 * factor),
        math.ceil(x1 * factor),
        math.ceil(y1 * factor),
    ]


@cache
def expectation(key: str) -> dict[str, Any]:
    """The hand-checked values for ``key``; files that hold the same picture as another one
    (re-encodings, a crop, a half-size copy) take that file's values, moved accordingly."""
    entry = EXPECTED[key]
    if "same_as" in entry:
        return expectation(entry["same_as"])
    if "derived_from" not in entry:
        return entry
    base = expectation(entry["derived_from"])
    if "crop_rows" in entry:
        last = entry["crop_rows"] - 1
        return {
            **base,
            "fov": {
                **base["fov"],
                "boxes": [[x0, y0, x1, min(y1, last)] for x0, y0, x1, y1 in base["fov"]["boxes"]],
            },
            "calipers": [p for p in base["calipers"] if p[1] <= last],
            "text": [t for t in base["text"] if t["box"][3] <= last],
        }
    factor = entry["scale"]
    return {
        **base,
        "fov": {**base["fov"], "boxes": [_scaled(b, factor) for b in base["fov"]["boxes"]]},
        "calipers": [[x * factor, y * factor] for x, y in base["calipers"]],
        "text": [{**t, "box": _scaled(t["box"], factor)} for t in base["text"]],
    }


def iou(a: Sequence[int], b: Sequence[int]) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0]) + 1
    iy = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(0, ix) * max(0, iy)
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / (area - inter)


def coverage(box: Sequence[int], found: Sequence[Box], shape: tuple[int, ...]) -> float:
    """Share of ``box`` covered by the union of the ``found`` boxes."""
    mask = np.zeros(shape[:2], np.uint8)
    for x0, y0, x1, y1 in found:
        mask[y0 : y1 + 1, x0 : x1 + 1] = 1
    x0, y0, x1, y1 = box
    return float(mask[y0 : y1 + 1, x0 : x1 + 1].mean())
