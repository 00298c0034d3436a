"""Small coloured '+' and 'x' that JPEG has smeared into a blob of colour
(:func:`~cadbusi_assets.ultrasound.calipers.smeared_marks`).

The frames are TUNING-family frames (seeds 100-160) whose marks the detector missed before
this rule: a small mark of 2-5 px arms, re-encoded as JPEG, whose chroma (subsampled) fills
its box. Doppler flow blobs are not marks.
"""

from __future__ import annotations

from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import check_marks
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed): true marks missed before (the previous detector found none of these
#: points within 5 px), all small marks on JPEG frames.
SMEARED = {
    ("ge_logiq", 120): [(545, 209), (489, 215)],
    ("philips_epiq", 108): [(545, 546), (514, 597)],
    ("philips_epiq", 152): [(250, 246), (284, 245)],
    ("siemens_s2000", 117): [(323, 387), (371, 351), (429, 241), (363, 292)],
    ("ge_voluson", 124): [(331, 330), (287, 387)],
    ("philips_iu22", 112): [(577, 217)],
}


def test_smeared_small_marks_on_tuning_frames_are_found_without_false_marks():
    assert {family for family, _ in SMEARED} <= set(TUNING_FAMILIES)
    with time_limit(300, "analysing smeared marks"):
        for (family, seed), missed in SMEARED.items():
            screen = render_screen(family, seed)
            assert screen.jpeg_quality is not None
            assert screen.caliper_style.split()[1] == "small"
            check_marks(screen, missed, (family, seed))


#: TUNING frames with power Doppler flow on JPEG (orange blobs of a small mark's size), each
#: of which a first version of the rule, without its core test, took for marks.
FLOW = [("ge_logiq", 4), ("philips_epiq", 1), ("philips_iu22", 6)]


def test_flow_blobs_on_jpeg_doppler_frames_are_not_marks():
    with time_limit(120, "analysing Doppler frames"):
        for family, seed in FLOW:
            screen = render_screen(family, seed)
            assert screen.doppler and screen.jpeg_quality is not None
            check_marks(screen, what=(family, seed))
