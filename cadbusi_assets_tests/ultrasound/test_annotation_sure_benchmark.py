"""``benchmarks.annotation_sure``: the threshold it sets is the one the reading uses, and the
second readings it counts are tesseract's reads of annotation lines only."""

from __future__ import annotations

import math

from benchmarks.annotation_sure import Outcome, format_report, measure
from cadbusi_assets.ultrasound import glyphs
from cadbusi_assets.ultrasound import ocr as ultrasound_ocr
from cadbusi_assets_tests.support import missing, require_tesseract
from cadbusi_demo.screens_heldout import render_screen


def test_never_reads_every_annotation_line_twice_and_zero_spares_them_all():
    require_tesseract()
    try:
        glyphs.line_reader()
    except (ImportError, OSError, RuntimeError) as exc:
        missing(f"the learned line reader cannot run ({type(exc).__name__})")
    screens = [render_screen("demo", 9100 + seed) for seed in range(3)]
    before = ultrasound_ocr.ANNOTATION_SURE
    never, sure, zero = measure(
        [(s.frame, s.annotation_text) for s in screens], thresholds=(math.inf, 0.9, 0.0)
    )
    assert before == ultrasound_ocr.ANNOTATION_SURE  # put back
    assert never.second_readings >= len(screens)  # every screen has an annotation line
    assert zero.second_readings == 0
    assert never.second_readings >= sure.second_readings >= zero.second_readings
    assert never.fields_expected == sure.fields_expected == zero.fields_expected > 0
    assert zero.spared(never) == 1.0 and never.spared(never) == 0.0


def test_the_report_names_never_and_gives_the_spared_share():
    never = Outcome(math.inf, fields_expected=10, fields_right=9, second_readings=8)
    sure = Outcome(0.9, fields_expected=10, fields_right=10, second_readings=2)
    lines = format_report([never, sure]).splitlines()
    assert lines[1].startswith("never") and lines[1].rstrip().endswith("0%")
    assert lines[2].startswith("0.9") and "10 / 10" in lines[2] and lines[2].endswith("75%")
    assert Outcome(0.5).spared(Outcome(math.inf)) is None  # nothing to spare
