"""The analysis without OCR and the inpainting of the calipers it finds are pinned on
generated tuning frames.

The speed work on the analysis path (:func:`~cadbusi_assets.ultrasound.analysis.analyze_frame`
with ``ocr=False`` plus :func:`~cadbusi_assets.ultrasound.inpaint.inpaint_frames` at the
found points: the coloured-mark components and the template scoring of
:mod:`cadbusi_assets.ultrasound.calipers`, the text lines found on the colour maps, ...) must
not change a single value: these hashes were recorded with the code of commit bd3f0f1,
before that work, on the first three frames of every TUNING family from seed 100, each as
drawn (RGB) and as its grey copy. Each hash covers the analysis row (crop box, field of
view, calipers' points, scores and confidence, Doppler, colour share, darkness, grey flag,
signature), the marks' styles, the field-of-view mask, and the inpainting at the found
points (its fill and recolour masks and the output bytes).

The learned caliper heat map (:mod:`cadbusi_assets.ultrasound.caliper_net`) is left out
(:data:`~cadbusi_assets.ultrasound.calipers.LEARNED` off): it is retrained apart, and its
points would move these hashes for reasons of its own. So are the text boxes and the debris
boxes they make, which the text detector (:mod:`cadbusi_assets.ultrasound.textlines`) owns.
A change that is meant to change them re-records them, saying why in its commit.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets.ultrasound.inpaint import caliper_masks, inpaint_frames
from cadbusi_assets_tests.support import time_limit
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed, found points on the RGB frame, sha256 prefix of the RGB frame's figures,
#: of its grey copy's).
RECORDED = (
    ("ge_logiq", 100, 6, "100102d48dc7b595", "fbd17846bf2dabff"),
    ("ge_logiq", 101, 0, "8cd5330c0952b9cb", "bc1956cbfeca8835"),
    ("ge_logiq", 102, 0, "218ffda1f17bb55c", "e737f81e005867b7"),
    ("philips_epiq", 100, 6, "06fab1e272a0e2b3", "6bf30789b2a9585a"),
    ("philips_epiq", 101, 0, "832f6a4db5ec06a6", "87ef248b0f8df337"),
    ("philips_epiq", 102, 0, "b8e319549db31bda", "8b73b631336bf096"),
    ("siemens_s2000", 100, 4, "aad88fb94a5170e0", "0f22903bb3003a84"),
    ("siemens_s2000", 101, 2, "c40c52fd743f302d", "f3a890fcfbe65a35"),
    ("siemens_s2000", 102, 8, "11f9c4de6dc9c99f", "6075abe728b9404f"),
    ("ge_voluson", 100, 0, "ffcea938d0f7a6d7", "1be8a32bba8dd8e2"),
    ("ge_voluson", 101, 8, "450f87a0dba4b2e6", "d3d7612ba1e9435e"),
    ("ge_voluson", 102, 4, "0ec781c45ab09a1a", "afcd19f9f4ce0186"),
    ("philips_iu22", 100, 8, "34648c83d745c4b1", "897edf7bc619eb28"),
    ("philips_iu22", 101, 6, "afc8445da4e8f167", "14df0d41bf7168ae"),
    ("philips_iu22", 102, 0, "24f9508942b2f2e6", "0deffe0b0375c7f8"),
)

FIELDS = (
    "crop_x0",
    "crop_y0",
    "crop_x1",
    "crop_y1",
    "fov_shape",
    "fov_source",
    "fov_polygon",
    "has_calipers",
    "caliper_points",
    "caliper_scores",
    "caliper_confidence",
    "is_doppler",
    "colour_share",
    "darkness",
    "is_grey",
    "signature",
)


def _digest(frame: np.ndarray) -> tuple[int, str]:
    analysis = analyze_frame(frame, [], ocr=False)
    row = analysis.as_row()
    digest = hashlib.sha256()
    digest.update(repr([row[k] for k in FIELDS]).encode())
    digest.update(repr(analysis.calipers.styles).encode())
    mask = analysis.fov.mask(*frame.shape[:2])
    digest.update(b"-" if mask is None else np.ascontiguousarray(mask).tobytes())
    points = analysis.calipers.points
    masks = caliper_masks(frame, points)
    ((out, union),) = inpaint_frames([frame], [points])
    assert (union == masks.union).all()
    for array in (masks.fill, masks.recolour, out):
        digest.update(np.ascontiguousarray(array).tobytes())
    return len(points), digest.hexdigest()[:16]


def _figures(family: str, seed: int) -> tuple[int, str, str]:
    frame = render_screen(family, seed).frame
    found, colour = _digest(frame)
    _, grey = _digest(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
    return found, colour, grey


def test_recorded_frames_are_tuning_frames_some_with_calipers_found():
    assert {family for family, *_ in RECORDED} == set(TUNING_FAMILIES)
    assert sum(found for _, _, found, _, _ in RECORDED) > 0
    assert len({digest for *_, digest, _ in RECORDED}) == len(RECORDED)


@pytest.mark.parametrize(("family", "seed", "found", "colour", "grey"), RECORDED)
def test_analysis_and_inpainting_unchanged(monkeypatch, family, seed, found, colour, grey):
    monkeypatch.setattr(calipers, "LEARNED", False)
    with time_limit(60, "rendering, analysing and inpainting one tuning frame"):
        assert _figures(family, seed) == (found, colour, grey)
