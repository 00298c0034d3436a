"""The inpainting's masks and output bytes are pinned on generated tuning frames.

The speed work on :mod:`cadbusi_assets.ultrasound.inpaint` (chroma computed once per region,
the fill's blur as one convolution, ...) must not change a single byte: these hashes were
recorded with the code of commit a857db3, before that work, at the generator's own caliper
points (so that the detector's changes do not move them), the first four frames with
calipers of every TUNING family from seed 100. A change that is meant to change the masks or
the fill re-records them, saying why in its commit.
"""

from __future__ import annotations

import hashlib

import pytest

from cadbusi_assets.ultrasound.inpaint import caliper_masks, inpaint_frames
from cadbusi_assets_tests.support import time_limit
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed, caliper count, sha256 prefix of fill mask + recolour mask + output bytes).
RECORDED = (
    ("ge_logiq", 100, 6, "cfc178e234665b83"),
    ("ge_logiq", 103, 8, "29428b2432d134e6"),
    ("ge_logiq", 104, 6, "b79bc94bdf5c486e"),
    ("ge_logiq", 105, 2, "b40700fb99963035"),
    ("philips_epiq", 100, 6, "fd3c18a2ca54c43a"),
    ("philips_epiq", 103, 6, "66623904076c12fd"),
    ("philips_epiq", 104, 2, "3b628bb838d3c77f"),
    ("philips_epiq", 106, 4, "71aa0d546b26f927"),
    ("siemens_s2000", 100, 4, "2ed5372f80b83f82"),
    ("siemens_s2000", 101, 2, "9f61443c0923e9cc"),
    ("siemens_s2000", 102, 8, "34a9996c7e313211"),
    ("siemens_s2000", 103, 6, "ef07e87c950c0a89"),
    ("ge_voluson", 101, 8, "bc07ce8495ff93d9"),
    ("ge_voluson", 102, 4, "ebe84fc065283527"),
    ("ge_voluson", 105, 4, "ea6fe6fbe7ac27ae"),
    ("ge_voluson", 106, 2, "30485cc1ebedd221"),
    ("philips_iu22", 100, 8, "454bef9fb3003a41"),
    ("philips_iu22", 101, 6, "468ebe42268ddd08"),
    ("philips_iu22", 105, 4, "b0dfd1325eef2d4d"),
    ("philips_iu22", 106, 2, "d4fbd7bac039ef55"),
)


def _digest(frame, points) -> str:
    masks = caliper_masks(frame, points)
    ((out, union),) = inpaint_frames([frame], [points])
    assert (union == masks.union).all()
    digest = hashlib.sha256()
    for array in (masks.fill, masks.recolour, out):
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def test_recorded_frames_are_tuning_frames_with_calipers():
    assert {family for family, *_ in RECORDED} <= set(TUNING_FAMILIES)
    assert all(count > 0 for _, _, count, _ in RECORDED)


@pytest.mark.parametrize(("family", "seed", "count", "expected"), RECORDED)
def test_masks_and_output_bytes_unchanged(family, seed, count, expected):
    with time_limit(60, "rendering and inpainting one tuning frame"):
        screen = render_screen(family, seed)
        points = [(int(p[0]), int(p[1])) for p in screen.calipers]
        assert len(points) == count
        assert _digest(screen.frame, points) == expected
