"""The heat map on the crop seen other ways (``calipers.NET_VIEWS``, off in production;
:meth:`~cadbusi_assets.ultrasound.caliper_net.CaliperNet.find_views`): switched on as
measured (mirrored left to right, ``NET_VIEW_TURNED`` 0.85), a point of the mirrored crop's
heat map with none of the crop's own near is a mark where the deciding refiner is sure of it
at all eight orientations of its window. Tuning frames only."""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.caliper_net import VIEWS, caliper_net, view_of, view_point
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    screen_points,
)
from cadbusi_demo.screens_heldout import render_screen

#: (family, seed) -> true marks whose heat-map point is below NET_MIN_PROB in the crop as it
#: is and above it mirrored left to right, which the deciding refiner is sure of at every
#: orientation: a large yellow '+', a small yellow JPEG 'x' on an elastography map.
MIRRORED = {
    ("ge_voluson", 304): [(418, 467)],
    ("siemens_s2000", 310): [(459, 168)],
}


@pytest.fixture
def views(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(calipers, "NET_VIEWS", ("lr",))
    monkeypatch.setattr(calipers, "NET_VIEW_TURNED", 0.85)
    return monkeypatch


def test_the_views_are_off_in_production():
    assert calipers.NET_VIEWS == ()
    with time_limit(120):
        assert_missed(MIRRORED, learned=True)


def test_mirrored_heat_points_sure_at_every_orientation_are_marks(views):
    with time_limit(120):
        assert_found(MIRRORED, within=2.0)
        views.setattr(calipers, "NET_VIEW_TURNED", 1.01)
        assert_missed(MIRRORED, learned=True)


def test_the_views_move_no_point_found_without_them(views):
    """On the frames with the new marks, every other point stays where it was and every new
    point is within 2 px of a true mark."""
    with time_limit(180):
        for family, seed in MIRRORED:
            now = screen_points(family, seed)
            with views.context() as patch:
                patch.setattr(calipers, "NET_VIEWS", ())
                before = screen_points(family, seed)
            assert set(before) <= set(now), (family, seed)
            truth = [tuple(p) for p in render_screen(family, seed).calipers]
            for x, y in set(now) - set(before):
                assert min(np.hypot(x - tx, y - ty) for tx, ty in truth) <= 2.0


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("shape", [(37, 53), (40, 41), (9, 64)])
def test_a_view_point_maps_back_to_its_pixel(view, shape):
    """Each pixel of a crop seen as ``view`` maps back to the crop pixel it shows."""
    height, width = shape
    crop = np.arange(height * width, dtype=np.int32).reshape(height, width)
    seen = view_of(crop, view)
    assert seen.flags.c_contiguous
    for vy in range(seen.shape[0]):
        for vx in range(seen.shape[1]):
            x, y = view_point(view, vx, vy, height, width)
            assert crop[y, x] == seen[vy, vx]


def test_an_unknown_view_is_refused():
    with pytest.raises(ValueError, match="unknown view"):
        view_of(np.zeros((8, 8, 3), np.uint8), "rot45")


@pytest.mark.parametrize("view", ["lr", "tud"])
def test_find_views_gives_the_heat_map_of_the_view_in_crop_coordinates(view):
    """The heat map's points of a crop, found on that crop turned the other way by
    ``find_views``, come back in the turned crop's coordinates (the same network run on the
    same pixels: the same points and probabilities)."""
    net = caliper_net()
    frame = render_screen("ge_logiq", 101).frame
    crop = np.ascontiguousarray(frame[40:290, 60:413])
    plain = net.find([crop], 0.2)[0]
    assert plain
    # the crop such that seeing it as ``view`` gives ``crop`` back
    inverse = {"lr": "lr", "tud": "tlr"}[view]
    turned = view_of(crop, inverse)
    assert np.array_equal(view_of(turned, view), crop)
    (found,) = net.find_views(turned, 0.2, [view])
    height, width = turned.shape[:2]
    expected = []
    for p in plain:
        x, y = view_point(view, p.x, p.y, height, width)
        if 0 <= x < width and 0 <= y < height:
            expected.append((x, y, p.prob))
    assert sorted((p.x, p.y, p.prob) for p in found) == sorted(expected)
