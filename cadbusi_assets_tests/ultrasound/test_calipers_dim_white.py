"""White '+' and 'x' that JPEG dims below the white level (the dim pass of
:func:`~cadbusi_assets.ultrasound.calipers.detect_calipers`), and white crosses on bright
speckle whose ring only duller ridges make busy
(:func:`~cadbusi_assets.ultrasound.calipers._alone_among_duller`).

The frames are TUNING-family frames (seeds 100-299) whose marks the detector missed before
these rules. The traps are frames on which a first version of the dim pass (without its
ridge test) took bright speckle, a letter of the header and a bright rim for marks, and
bright speckle re-encoded as JPEG.
"""

from __future__ import annotations

import pytest

from cadbusi_assets.ultrasound.calipers import detect_calipers
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import check_marks
from cadbusi_assets_tests.ultrasound.synthetic import make_frame
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed): true white marks on JPEG frames that the previous detector missed (no
#: point found within 5 px of these).
DIMMED = {
    ("siemens_s2000", 220): [(341, 371), (272, 395), (540, 386), (500, 407)],
    ("philips_epiq", 213): [(374, 337), (350, 379)],
    ("ge_logiq", 267): [(463, 354), (364, 382), (421, 395)],
    ("ge_logiq", 208): [(483, 487)],
}

#: TUNING frames on which the first version of the dim pass found false marks.
TRAPS = [
    ("ge_logiq", 146),
    ("ge_logiq", 262),
    ("siemens_s2000", 101),
    ("ge_voluson", 109),
    ("ge_voluson", 166),
    ("ge_voluson", 256),
]


def test_dimmed_white_marks_on_tuning_frames_are_found_without_false_marks():
    assert {family for family, _ in DIMMED} <= set(TUNING_FAMILIES)
    with time_limit(300, "analysing dimmed white marks"):
        for (family, seed), missed in DIMMED.items():
            screen = render_screen(family, seed)
            assert screen.jpeg_quality is not None
            assert screen.caliper_colour == (255, 255, 255)
            check_marks(screen, missed, (family, seed))


def test_speckle_text_and_rims_on_trap_frames_are_not_marks():
    assert {family for family, _ in TRAPS} <= set(TUNING_FAMILIES)
    with time_limit(300, "analysing trap frames"):
        for family, seed in TRAPS:
            screen = render_screen(family, seed)
            check_marks(screen, what=(family, seed))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("brightness", [190.0, 220.0])
def test_no_marks_on_bright_jpeg_speckle(seed, brightness):
    frame = make_frame(seed=seed, brightness=brightness, jpeg=True)
    grey = to_grey(frame.rgb)
    # The speckle reaches the dim level: the pass has pixels to judge.
    assert (grey >= 225).mean() > 0.01
    found = detect_calipers(frame.rgb, frame.crop_box, frame.fov_mask, grey=grey)
    assert found.points == []
