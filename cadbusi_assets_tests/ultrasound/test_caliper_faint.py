"""Faint heat-map points (``calipers.NET_FAINT_PROB``, off in production: at least that
probable, below ``NET_MIN_PROB``) in :func:`~cadbusi_assets.ultrasound.calipers.detect_calipers`:
switched on, a mark where the deciding refiner is sure of the point at all eight orientations
of its window and the placing one agrees (``NET_FAINT_TURNED``, ``NET_FAINT_PLACE``,
``NET_FAINT_REACH``), or where a white arrow's tip lies beside it (the white-arrow rule,
``NET_ARROW_PROB``). Tuning frames only."""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.caliper_net import caliper_net
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    screen_points,
)
from cadbusi_demo.screens_heldout import render_screen

#: The value measured (calipers.NET_FAINT_PROB's notes).
FAINT = 0.05

#: (family, seed) -> true marks whose only heat-map point is below NET_MIN_PROB (0.07 and
#: 0.12) and that the deciding refiner is sure of at every orientation: a large yellow '+',
#: a small yellow JPEG 'x' on an elastography map.
TURNED = {
    ("ge_voluson", 304): [(418, 467)],
    ("siemens_s2000", 310): [(459, 168)],
}

#: ... a small white JPEG arrow whose only heat-map point near its tip is 0.09, beside which
#: the white-arrow rule finds the tip.
WHITE_ARROW = {("ge_logiq", 212): [(552, 598)]}


@pytest.fixture
def faint(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(calipers, "NET_FAINT_PROB", FAINT)
    return monkeypatch


def test_the_faint_points_are_off_in_production():
    assert calipers.NET_FAINT_PROB is None
    with time_limit(120):
        assert_missed({**TURNED, **WHITE_ARROW}, learned=True)


def test_faint_points_sure_at_every_orientation_are_marks(faint):
    with time_limit(120):
        assert_found(TURNED, within=2.0)
        faint.setattr(calipers, "NET_FAINT_TURNED", 1.01)
        assert_missed(TURNED, learned=True)


def test_a_faint_point_beside_a_white_arrow_tip_is_its_mark(faint):
    with time_limit(120):
        assert_found(WHITE_ARROW, within=2.0)
        faint.setattr(calipers, "NET_ARROW_PROB", {})
        assert_missed(WHITE_ARROW, learned=True)


def test_the_faint_points_move_no_point_found_without_them(faint):
    """On the frames with the new marks, every other point stays where it was and every new
    point is within 2 px of a true mark."""
    with time_limit(180):
        for family, seed in [*TURNED, *WHITE_ARROW]:
            now = screen_points(family, seed)
            with faint.context() as patch:
                patch.setattr(calipers, "NET_FAINT_PROB", None)
                before = screen_points(family, seed)
            assert set(before) <= set(now), (family, seed)
            truth = [tuple(p) for p in render_screen(family, seed).calipers]
            for x, y in set(now) - set(before):
                assert min(np.hypot(x - tx, y - ty) for tx, ty in truth) <= 2.0


def test_turned_verdicts_extend_the_mirrored_ones():
    """``CaliperNet.mirrored(turned=True)``: the three mirrored verdicts first, then the
    transposed window's four; the first of those is the verdict on the transposed crop."""
    net = caliper_net()
    rng = np.random.default_rng(7)
    crop = rng.integers(0, 60, (96, 96, 3), dtype=np.uint8)
    crop[48, 40:57] = 255
    crop[40:57, 48] = 255
    points = [(48, 48), (30, 60)]
    three = net.mirrored(crop, points)
    seven = net.mirrored(crop, points, turned=True)
    assert seven.shape == (2, 7)
    assert np.allclose(seven[:, :3], three, atol=0.02)
    swapped = np.ascontiguousarray(crop.transpose(1, 0, 2))
    again = [v.prob for v in net.refine(swapped, [(48, 48), (60, 30)])]
    assert np.allclose(seven[:, 3], again, atol=0.02)
