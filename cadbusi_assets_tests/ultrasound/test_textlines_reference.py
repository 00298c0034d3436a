"""The shared text detector's boxes on 30 generator frames (tuning families and the demo
style) against the boxes recorded in ``textlines_reference.json``: speed work on
:func:`cadbusi_assets.ultrasound.textlines.find_text` must leave every box as it was.

Re-record (``python -m benchmarks.textlines --record
cadbusi_assets_tests/ultrasound/textlines_reference.json``) only in a commit that means to
change what the detector finds, and say so in its message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.textlines import REFERENCE_FRAMES, detector_boxes, reference_screens
from cadbusi_demo.screens_heldout import HELDOUT_FAMILIES, render_screen

REFERENCE = json.loads(
    Path(__file__).with_name("textlines_reference.json").read_text(encoding="utf-8")
)


def test_reference_covers_the_tuning_frames_only():
    screens = [(row["family"], row["seed"]) for row in REFERENCE]
    assert screens == reference_screens()
    assert len(screens) == 6 * REFERENCE_FRAMES
    assert not {family for family, _ in screens} & set(HELDOUT_FAMILIES)
    # the reference is not empty: most frames hold several lines
    assert sum(len(row["lines"]) for row in REFERENCE) >= 5 * len(REFERENCE)


@pytest.mark.parametrize("row", REFERENCE, ids=lambda r: f"{r['family']}-{r['seed']}")
def test_boxes_unchanged(row):
    found = detector_boxes(render_screen(row["family"], row["seed"]).frame)
    assert found == {"lines": row["lines"], "unresolved": row["unresolved"]}
