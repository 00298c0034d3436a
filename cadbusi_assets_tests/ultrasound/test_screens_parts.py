"""``python -m benchmarks.screens --parts``: the parts it times are the functions the speed
path calls, wrapped for the time of a measurement only."""

from __future__ import annotations

import importlib
from collections import defaultdict
from types import SimpleNamespace

import pytest

from benchmarks import screens
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen


def _current(module: str, attribute: str) -> object:
    owner: object = importlib.import_module(module)
    for step in attribute.split("."):
        owner = getattr(owner, step)
    return owner


def test_every_part_is_timed_and_put_back():
    before = {(m, a): _current(m, a) for m, a, _ in screens.PARTS}
    spent: defaultdict[str, float] = defaultdict(float)
    with screens._timed_parts(spent):
        wrapped = {(m, a): _current(m, a) for m, a, _ in screens.PARTS}
        assert all(wrapped[key] is not before[key] for key in before)
    assert {(m, a): _current(m, a) for m, a, _ in screens.PARTS} == before


def test_measure_parts_names_the_total_and_the_parts_the_frames_reach():
    screen = render_screen(TUNING_FAMILIES[0], 100)  # a colour frame with marks
    grey = SimpleNamespace(frame=screen.frame[..., 0].copy())
    figures = screens.measure_parts([screen, grey], repeats=1)
    names = {name for _, _, name in screens.PARTS}
    assert set(figures) <= names | {"total"}
    assert {"total", "calipers (all)", "heat map (find)", "text lines", "field of view"} <= set(
        figures
    )
    assert all(ms >= 0 for ms in figures.values())


def test_measure_parts_one_pass_times_the_analysis_given_the_reading():
    """``--parts --one-pass``: the analysis as the one pass runs it, given the verification's
    reading (made before the clock starts), finds no text lines of its own."""
    screen = render_screen(TUNING_FAMILIES[0], 100)
    figures = screens.measure_parts([screen], repeats=1, one_pass=True)
    assert {"total", "calipers (all)", "field of view"} <= set(figures)
    assert "text lines" not in figures
    assert "text lines" in screens.measure_parts([screen], repeats=1)


def test_matching_takes_each_true_point_once():
    """Two found points near one true mark: one matches it, the other matches nothing and
    counts against precision (``caliper_misses`` lists it as a second mark)."""
    found = [(10, 10), (13, 10), (50, 50)]
    truth = [(12, 10), (90, 90)]
    assert screens.matched_pairs(found, truth) == [(1, 0, 1.0)]
    assert screens.match_points(found, truth) == [1.0]
    assert screens.matched_pairs(found, []) == []


def test_error_summary_reports_the_tail_the_max_alone_hides():
    """The caliper benchmark's error line: one point 4 px off among 99 exact ones moves the
    max, not the median or the 95th percentile, and the share within 2 px counts it out."""
    errors = [0.0] * 99 + [4.0]
    summary = screens.error_summary(errors)
    assert summary["count"] == 100
    assert summary["median"] == 0.0 and summary["p95"] == 0.0
    assert summary["max"] == 4.0
    assert summary["p99"] == pytest.approx(0.04, abs=0.005)
    assert summary["within_share"] == 0.99
    assert screens.error_summary([2.0, 2.24])["within_share"] == 0.5  # 2 px is within
    assert screens.error_summary([])["within_share"] == 1.0  # nothing matched, nothing off
