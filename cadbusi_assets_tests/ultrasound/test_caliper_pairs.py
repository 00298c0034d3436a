"""Two caliper marks drawn overlapping (a measurement's end on another's).

Before :func:`~cadbusi_assets.ultrasound.calipers.overlapping_pair`, the rules and the
learned finder put one point between two crosses drawn 7-10 px apart (3-4 px off each), or
one good point and one between: the largest point errors of the tuning frames. A component
of the mark layers that two crosses of one style, size and stroke explain (intersection
over union at least ``PAIR_IOU``, better than one cross) now gives both centres. Single
thick or JPEG-smeared crosses, which a pair would also roughly fit, are left as they are.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import cross_pixels, overlapping_pair
from cadbusi_assets_tests.ultrasound.caliper_frames import nearest, screen_points
from cadbusi_demo.screens_heldout import render_screen

#: (family, seed) -> the true points of an overlapping pair (tuning seeds 200-439): each
#: was more than 2 px from every found point, or not found, before.
PAIRS: dict[tuple[str, int], tuple[tuple[int, int], tuple[int, int]]] = {
    ("ge_voluson", 210): ((424, 592), (431, 593)),  # large cyan 'x', 7 px apart: 2.83 px off
    ("ge_voluson", 438): ((527, 212), (534, 211)),  # large 'x', ellipse trace: 2.83 px off
    ("siemens_s2000", 300): ((380, 354), (382, 362)),  # large '+', dotted line: one missed
}


@pytest.mark.parametrize("key", sorted(PAIRS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_both_marks_of_an_overlapping_pair(key, monkeypatch):
    family, seed = key
    truth = render_screen(family, seed).calipers
    for point in PAIRS[key]:
        assert point in [tuple(p) for p in truth]
    found = screen_points(family, seed)
    for point in PAIRS[key]:
        assert nearest(point, found) <= 1.5, (key, point, found)
    monkeypatch.setattr(calipers, "PAIR_IOU", 1.01)  # no pair is good enough: as before
    monkeypatch.setattr(calipers, "LOOSE_EXACT", 1.01)  # (nor a loose one)
    before = screen_points(family, seed)
    assert max(nearest(p, before) for p in PAIRS[key]) > 2.0, (key, before)


def _drawn(centres, half, style, stroke, size=48):
    frame = np.zeros((size, size), np.uint8)
    return cross_pixels(frame.shape, centres, half, style, stroke)


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("stroke", [1, 2, 3])
@pytest.mark.parametrize("offset", [(7, 1), (4, 4), (0, 6), (9, -2)])
def test_a_drawn_pair_gives_both_centres(style, stroke, offset):
    a = (20, 22)
    b = (a[0] + offset[0], a[1] + offset[1])
    found = overlapping_pair(_drawn([a, b], 8, style, stroke))
    assert found is not None
    got_style, p, q, half = found
    assert got_style == style and half == 8
    centre = (stroke - 1) // 2  # the strokes grow left and up
    want = sorted([(a[0] - centre, a[1] - centre), (b[0] - centre, b[1] - centre)])
    assert sorted([p, q]) == want


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("stroke", [1, 2, 3])
def test_one_cross_is_no_pair(style, stroke):
    assert overlapping_pair(_drawn([(22, 22)], 9, style, stroke)) is None


def test_a_blurred_thick_cross_is_no_pair():
    """A 3-px '+' smeared and thresholded (as JPEG leaves a mark's colour layer) spreads
    unevenly; a pair fits it no better than one cross."""
    mark = _drawn([(22, 22)], 9, "+", 3).astype(np.float32) * 255
    smeared = cv2.GaussianBlur(mark, (5, 5), 1.2)
    layer = (smeared > 70).astype(np.uint8)
    assert overlapping_pair(layer) is None


def test_a_cross_with_its_dotted_line_is_no_pair():
    layer = _drawn([(14, 14)], 7, "x", 1)
    for k in range(1, 5):  # dots of the measurement line touching the mark's arm
        layer[21 + 3 * k - 2, 21 + 3 * k - 2] = 1
        layer[21 + 3 * k - 1, 21 + 3 * k - 1] = 1
    assert overlapping_pair(layer) is None


def test_nothing_is_no_pair():
    assert overlapping_pair(np.zeros((20, 20), np.uint8)) is None


def test_the_split_replaces_the_points_on_the_pair_inside_the_field_of_view():
    from cadbusi_assets.ultrasound.calipers import _Mark, _split_pairs

    layer = np.zeros((80, 100), np.uint8)
    a, b = (40, 40), (47, 41)
    layer |= cross_pixels(layer.shape, [a, b], 8, "x", 1)
    between = _Mark(44, 40, "x", 0.9, (36, 32, 55, 49))
    elsewhere = _Mark(80, 20, "+", 1.0, (76, 16, 84, 24))
    split = _split_pairs([between, elsewhere], [layer])
    assert sorted((m.x, m.y) for m in split) == sorted([a, b, (80, 20)])
    assert {m.style for m in split if (m.x, m.y) in (a, b)} == {"x"}
    assert all(m.score == 0.9 for m in split if (m.x, m.y) in (a, b))
    # one centre off the field of view: the points stay as they were
    inside = np.ones(layer.shape, bool)
    inside[:, 46:] = False
    assert _split_pairs([between, elsewhere], [layer], inside) == [between, elsewhere]


#: (family, seed) -> the true points of an overlapping pair that JPEG broke (tuning seeds
#: 100-439): no component of the mark layers is the pair (the white opening takes the
#: pixels where the strokes meet, JPEG breaks the strokes), so overlapping_pair left one
#: point between them (2.2-4.5 px off) before loose_pair.
LOOSE_PAIRS: dict[tuple[str, int], tuple[tuple[int, int], tuple[int, int]]] = {
    ("philips_epiq", 139): ((639, 523), (634, 526)),  # cyan '+', thick: 2.24 and 4.12 px off
    ("siemens_s2000", 234): ((245, 356), (238, 357)),  # white 'x': 3.16 and 4.47 px
    ("philips_epiq", 338): ((604, 247), (600, 245)),  # yellow 'x', 4 px apart: 2.24, 2.24
    ("ge_voluson", 236): ((520, 312), (523, 310)),  # green '+', 3 px apart: 2.24, 1.41
}


@pytest.mark.parametrize("key", sorted(LOOSE_PAIRS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_both_marks_of_a_broken_pair(key, monkeypatch):
    family, seed = key
    truth = [tuple(p) for p in render_screen(family, seed).calipers]
    assert all(point in truth for point in LOOSE_PAIRS[key])
    found = screen_points(family, seed)
    for point in LOOSE_PAIRS[key]:
        assert nearest(point, found) <= 1.0, (key, point, found)
    monkeypatch.setattr(calipers, "LOOSE_EXACT", 1.01)  # no loose pair: as before
    before = screen_points(family, seed)
    assert max(nearest(p, before) for p in LOOSE_PAIRS[key]) > 2.0, (key, before)


def test_a_changed_loose_bound_is_not_answered_from_the_cache(monkeypatch):
    """The loose pairs' per-window bounds are cached: with LOOSE_EXACT changed and then
    restored in one process, the pairs found are those found at first (a cache keyed by the
    window alone kept the changed bound and no loose pair was found again: a full test run
    re-materialized a date with other caliper points than it first had)."""
    calipers._loose_need.cache_clear()  # (what an earlier test of this process cached)
    monkeypatch.setattr(calipers, "LOOSE_EXACT", 1.01)  # no loose pair ...
    changed = screen_points("philips_epiq", 139)  # ... on another frame first
    assert max(nearest(p, changed) for p in LOOSE_PAIRS["philips_epiq", 139]) > 2.0
    monkeypatch.undo()
    found = screen_points("ge_voluson", 236)
    for point in LOOSE_PAIRS["ge_voluson", 236]:
        assert nearest(point, found) <= 1.0, (point, found)


def _broken(layer: np.ndarray) -> np.ndarray:
    """``layer`` with one lit pixel in 30 (row-major) gone and one more pixel lit beside one
    in 7: what JPEG does to a thin mark's layer (no exact fit of a pair is left)."""
    out = layer.copy()
    ys, xs = np.nonzero(layer)
    out[ys[5::30], xs[5::30]] = 0
    out[ys[2::7], np.minimum(layer.shape[1] - 1, xs[2::7] + 1)] = 1
    return out


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("offset", [(7, 1), (4, 4), (1, 6), (5, -3)])
def test_a_broken_drawn_pair_gives_both_centres(style, offset):
    from cadbusi_assets.ultrasound.calipers import loose_pair

    a = (32, 30)
    b = (a[0] + offset[0], a[1] + offset[1])
    layer = np.zeros((72, 72), np.uint8)
    layer |= cross_pixels(layer.shape, [a, b], 9, style, 1)
    layer = _broken(layer)
    found = loose_pair(layer, (a[0] + b[0]) // 2, (a[1] + b[1]) // 2)
    assert found is not None
    got_style, p, q, _ = found
    assert got_style == style
    assert sorted([p, q]) == sorted([a, b])


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("stroke", [1, 2, 3])
def test_one_cross_broken_or_smeared_is_no_loose_pair(style, stroke):
    from cadbusi_assets.ultrasound.calipers import loose_pair

    layer = np.zeros((72, 72), np.uint8)
    layer |= cross_pixels(layer.shape, [(36, 36)], 11, style, stroke)
    for candidate in (layer, _broken(layer), cv2.dilate(layer, np.ones((2, 2), np.uint8))):
        for dx, dy in ((0, 0), (1, 1), (2, -1)):
            assert loose_pair(candidate, 36 + dx, 36 + dy) is None


def test_the_loose_split_keeps_a_rule_marks_style_and_other_marks():
    from cadbusi_assets.ultrasound.calipers import _Mark, _split_pairs

    layer = np.zeros((80, 100), np.uint8)
    a, b = (40, 40), (47, 41)
    layer |= _broken(cross_pixels(layer.shape, [a, b], 8, "x", 1))
    between = _Mark(44, 40, "x", 0.9, (40, 36, 48, 44))
    elsewhere = _Mark(80, 20, "+", 1.0, (76, 16, 84, 24))
    split = _split_pairs([between, elsewhere], [], loose=[layer])
    assert sorted((m.x, m.y) for m in split) == sorted([a, b, (80, 20)])
    # a '+' of the rules is no pair of 'x' marks
    plus = _Mark(44, 40, "+", 0.9, (40, 36, 48, 44))
    assert _split_pairs([plus, elsewhere], [], loose=[layer]) == [plus, elsewhere]
    # one centre off the field of view: the points stay as they were
    inside = np.ones(layer.shape, bool)
    inside[:, 46:] = False
    assert _split_pairs([between, elsewhere], [], inside, [layer]) == [between, elsewhere]


def test_a_thin_pair_two_px_apart_gives_both_marks(monkeypatch):
    """philips_iu22 149 (tuning): two green 1-px '+' marks 2 px apart on both axes, one point
    found for both (the other 2.83 px off, unmatched) while PAIR_APART asked 3 px."""
    truth = [tuple(p) for p in render_screen("philips_iu22", 149).calipers]
    pair = ((610, 321), (608, 323))
    assert all(point in truth for point in pair)
    found = screen_points("philips_iu22", 149)
    assert sorted(p for p in found if nearest(p, list(pair)) <= 3) == sorted(pair)
    monkeypatch.setattr(calipers, "PAIR_APART_THIN", calipers.PAIR_APART)  # as before
    before = screen_points("philips_iu22", 149)
    assert len([p for p in before if nearest(p, list(pair)) <= 3]) == 1, before


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("offset", [(2, 2), (2, 0), (0, 2), (2, -2), (2, 1)])
def test_a_drawn_thin_pair_two_px_apart_gives_both_centres(style, offset, monkeypatch):
    a = (20, 22)
    b = (a[0] + offset[0], a[1] + offset[1])
    layer = _drawn([a, b], 8, style, 1)
    found = overlapping_pair(layer)
    assert found is not None
    assert found[0] == style and sorted(found[1:3]) == sorted([a, b])
    monkeypatch.setattr(calipers, "PAIR_APART_THIN", calipers.PAIR_APART)
    assert overlapping_pair(layer) is None  # (before: no pair this close)


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("stroke", [3, 5])
@pytest.mark.parametrize("level", [50, 70, 100])
def test_a_thick_or_smeared_cross_is_no_thin_pair(style, stroke, level):
    """A single cross of 3-5 px strokes, crisp or blurred and thresholded, is what two
    thicker crosses 2 px apart would draw: only 1-px pairs may be that close."""
    mark = _drawn([(22, 22)], 8, style, stroke)
    assert overlapping_pair(mark) is None
    smeared = cv2.GaussianBlur(mark.astype(np.float32) * 255, (5, 5), 1.2)
    assert overlapping_pair((smeared > level).astype(np.uint8)) is None
