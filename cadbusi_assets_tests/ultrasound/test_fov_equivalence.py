"""The field of view and the analysis's own measurements are pinned on generated tuning frames.

The speed work on :mod:`cadbusi_assets.ultrasound.fov` and the analysis glue (counts with
OpenCV reduces, the edge refinement's dilation at half resolution, ...) must not change a
single value: these hashes were recorded with the code of commit f23b667, before that work,
on the first four frames of every TUNING family from seed 100. Each hash covers the
analysis row's field of view, darkness, colour share, Doppler and grey flags and signature
(not its calipers, text or debris, which other detectors own), and the field of view (box,
shape, polygon, source, mask bytes) of the grey frame inside a declared region around the
image, of its half-size copy (evidence at full resolution) and of the frame cut to odd
sizes. A change that is meant to change them re-records them, saying why in its commit.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets.ultrasound.fov import find_field_of_view
from cadbusi_assets_tests.support import time_limit
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, Screen, render_screen

#: (family, seed, sha256 prefix of the measurements listed above).
RECORDED = (
    ("ge_logiq", 100, "e32d2e20cacdf070"),
    ("ge_logiq", 101, "3efc2aa723af558e"),
    ("ge_logiq", 102, "ca94420b9882f1a1"),
    ("ge_logiq", 103, "9be1d0d6287dd807"),
    ("philips_epiq", 100, "98f3bf92a930b164"),
    ("philips_epiq", 101, "bd733729a6024797"),
    ("philips_epiq", 102, "ab44ee690855ad66"),
    ("philips_epiq", 103, "aad76d1422fd5b97"),
    ("siemens_s2000", 100, "b00e10b76be63ce9"),
    ("siemens_s2000", 101, "57f1b119f889b7ba"),
    ("siemens_s2000", 102, "e05128ffccbce9b9"),
    ("siemens_s2000", 103, "d96da5c1a656fb0d"),
    ("ge_voluson", 100, "84052b5c326a3dd5"),
    ("ge_voluson", 101, "05d01fbe46e7c39b"),
    ("ge_voluson", 102, "0989103effdc3145"),
    ("ge_voluson", 103, "0211089fe2356635"),
    ("philips_iu22", 100, "39e4ea6bd8c79f75"),
    ("philips_iu22", 101, "eb81a65809855ece"),
    ("philips_iu22", 102, "a2f3f93b46885273"),
    ("philips_iu22", 103, "f33dd31e86c95168"),
)

FIELDS = (
    "crop_x0",
    "crop_y0",
    "crop_x1",
    "crop_y1",
    "fov_shape",
    "fov_source",
    "fov_polygon",
    "darkness",
    "colour_share",
    "is_doppler",
    "is_grey",
    "signature",
)


def _add_fov(digest, grey: np.ndarray, regions: list[UltrasoundRegion]) -> None:
    fov = find_field_of_view(grey, regions)
    digest.update(repr((fov.box, fov.shape, fov.polygon, fov.source)).encode())
    mask = fov.mask(*grey.shape)
    digest.update(b"-" if mask is None else np.ascontiguousarray(mask).tobytes())


def _digest(screen: Screen) -> str:
    digest = hashlib.sha256()
    row = analyze_frame(screen.frame, [], ocr=False).as_row()
    digest.update(repr([row[k] for k in FIELDS]).encode())
    grey = cv2.cvtColor(screen.frame, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    ys, xs = np.nonzero(screen.fov_mask)
    region = UltrasoundRegion(
        max(0, int(xs.min()) - 12),
        max(0, int(ys.min()) - 13),
        min(width - 1, int(xs.max()) + 12),
        min(height - 1, int(ys.max()) + 12),
        spatial_format=1,
    )
    _add_fov(digest, grey, [region])
    half = cv2.resize(grey, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    _add_fov(digest, half, [])
    _add_fov(digest, grey[1:, 3:], [])
    return digest.hexdigest()[:16]


def test_recorded_frames_are_tuning_frames():
    assert {family for family, *_ in RECORDED} == set(TUNING_FAMILIES)


@pytest.mark.parametrize(("family", "seed", "expected"), RECORDED)
def test_fov_and_measurements_unchanged(family, seed, expected):
    with time_limit(60, "rendering and analysing one tuning frame"):
        assert _digest(render_screen(family, seed)) == expected
