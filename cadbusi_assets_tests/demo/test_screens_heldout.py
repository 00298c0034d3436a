"""The held-out screen generator (:mod:`cadbusi_demo.screens_heldout`): families, determinism
and the ground truth every frame carries (texts, field of view, calipers)."""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_demo.screens.calipers import CALIPER_EXTRAS, CALIPER_SIZES
from cadbusi_demo.screens_heldout import (
    DEMO_FAMILY,
    FAMILIES,
    HELDOUT_FAMILIES,
    TUNING_FAMILIES,
    LesionMarks,
    render_family,
    render_screen,
)

#: Frames per family for the statistics over seeds (every style and count must occur).
SEEDS = range(300, 340)


@pytest.fixture(scope="module")
def frames():
    return {f: [render_screen(f, s) for s in SEEDS] for f in sorted(FAMILIES)}


def test_families_split_into_tuning_and_held_out():
    assert len(FAMILIES) >= 12
    assert not set(TUNING_FAMILIES) & set(HELDOUT_FAMILIES)
    assert set(TUNING_FAMILIES) | set(HELDOUT_FAMILIES) == set(FAMILIES)
    # the original split stays as it was
    assert {"ge_logiq", "philips_epiq", "siemens_s2000"} <= set(TUNING_FAMILIES)
    assert {"canon_aplio", "samsung_rs", "sonosite_edge", "mindray_dc"} <= set(HELDOUT_FAMILIES)
    assert len(TUNING_FAMILIES) <= 5 and len(HELDOUT_FAMILIES) >= 2 * len(TUNING_FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_frames_are_deterministic(family):
    one, again, other = (render_screen(family, s) for s in (11, 11, 12))
    assert one.frame.tobytes() == again.frame.tobytes()
    assert one.clean.tobytes() == again.clean.tobytes()
    assert one.texts == again.texts and one.calipers == again.calipers
    assert one.frame.tobytes() != other.frame.tobytes()


def test_text_truth_lies_inside_the_frame(frames):
    for family, screens in frames.items():
        for screen in screens:
            height, width = screen.frame.shape[:2]
            assert screen.fov_mask.shape == (height, width) and screen.fov_mask.any(), family
            for text in screen.texts:
                x0, y0, x1, y1 = text.box
                assert 0 <= x0 <= x1 < width and 0 <= y0 <= y1 < height, (family, text)
                assert text.text.strip()


def test_caliper_points_are_marked_inside_the_field_of_view(frames):
    for family, screens in frames.items():
        for screen in screens:
            mask = screen.caliper_mask
            assert mask is not None and mask.shape == screen.fov_mask.shape
            assert len(screen.calipers) % 2 == 0 and len(screen.calipers) <= 8
            if not screen.calipers:
                assert not mask.any(), family
            changed = (screen.frame != screen.clean).any(axis=-1)
            for x, y in screen.calipers:
                assert screen.fov_mask[y, x] and mask[y, x], (family, screen.seed, (x, y))
                # the mark changed the clean frame around its centre
                assert changed[y - 3 : y + 4, x - 3 : x + 4][
                    mask[y - 3 : y + 4, x - 3 : x + 4]
                ].any()
            # the mask is the calipers' footprint, every pixel in the caliper colour (before
            # any JPEG re-encoding)
            if screen.jpeg_quality is None:
                assert (screen.frame[mask] == screen.caliper_colour).all(), family
            # numbers beside the marks are caliper pixels too
            for text in (t for t in screen.texts if t.kind == "caliper"):
                x0, y0, x1, y1 = text.box
                assert mask[y0 : y1 + 1, x0 : x1 + 1].any()


def test_caliper_counts_and_styles_vary(frames):
    counts = {len(s.calipers) for screens in frames.values() for s in screens}
    assert counts == {0, 2, 4, 6, 8}
    parts = [s.caliper_style.split() for screens in frames.values() for s in screens if s.calipers]
    assert {p[0] for p in parts} == {"+", "x", "arrow"}
    assert {p[1] for p in parts} == set(CALIPER_SIZES)
    assert {e for p in parts for e in p[2:]} == set(CALIPER_EXTRAS)
    colours = {s.caliper_colour for screens in frames.values() for s in screens if s.calipers}
    assert {(255, 255, 0), (0, 255, 0), (0, 255, 255), (255, 255, 255)} <= colours
    for family, screens in frames.items():  # every family shows calipers and frames without
        assert {bool(s.calipers) for s in screens} == {True, False}, family


def test_speckle_reaches_full_white_in_every_family(frames):
    for family, screens in frames.items():
        assert any((s.clean[s.fov_mask] == 255).all(axis=-1).any() for s in screens), family


def test_text_and_calipers_are_all_that_differs_from_the_clean_frame(frames):
    for family, screens in frames.items():
        for screen in (s for s in screens if s.jpeg_quality is None):
            marked = screen.caliper_mask.copy()
            for text in screen.texts:  # text (anti-aliased edges)
                x0, y0, x1, y1 = text.box
                marked[max(0, y0 - 2) : y1 + 3, max(0, x0 - 2) : x1 + 3] = True
            for x0, y0, x1, y1 in screen.panels:  # measurement tables' backing
                marked[y0 : y1 + 1, x0 : x1 + 1] = True
            changed = (screen.frame != screen.clean).any(axis=-1)
            assert not (changed & ~marked).any(), (family, screen.seed)


def test_texts_do_not_overlap(frames):
    for family, screens in frames.items():
        for screen in screens:
            boxes = [t.box for t in screen.texts if t.kind != "caliper"]
            for i, a in enumerate(boxes):
                for b in boxes[i + 1 :]:
                    apart = a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]
                    assert apart, (family, screen.seed, a, b)


def test_screen_elements_occur_with_their_ground_truth(frames):
    screens = [s for group in frames.values() for s in group]
    assert {s.fan for s in screens} == {"sector", "linear", "curvilinear", "trapezoid"}
    assert {s.header_layout for s in screens} == {
        "top_left_stack",
        "one_line",
        "two_columns",
        "right_stack",
    }
    assert {s.doppler_kind for s in screens} == {None, "colour", "power"}
    assert any(s.elastography for s in screens) and any(s.zoom for s in screens)
    qualities = {s.jpeg_quality for s in screens}
    assert None in qualities and len(qualities) > 10
    assert all(q is None or 50 <= q <= 100 for q in qualities)
    measurement = [t.text for s in screens for t in s.texts if t.kind == "measurement"]
    assert any(m.startswith("Vol ") for m in measurement)
    assert any(m.startswith("D1 ") and m.endswith(" cm") for m in measurement)
    for screen in screens:
        assert screen.doppler == (screen.doppler_kind is not None)
        assert screen.fov_polygon == screen.fov_polygons[0]
        assert len(screen.fov_polygons) == (2 if screen.dual else 1)
        height, width = screen.fov_mask.shape
        for x0, y0, x1, y1 in screen.ui_boxes:
            assert -3 <= x0 <= x1 < width + 3 and -3 <= y0 <= y1 < height + 3
        x0, y0, x1, y1 = screen.fov_box
        assert screen.fov_mask[y0 : y1 + 1, x0 : x1 + 1].sum() == screen.fov_mask.sum()
    duals = [s for s in screens if s.dual]
    assert duals
    for screen in duals:  # two separate views, side by side
        first, second = screen.fov_polygons
        assert max(x for x, _ in first) < min(x for x, _ in second)
    # elements appear in held-out families too
    held_out = [s for f in HELDOUT_FAMILIES for s in frames[f]]
    assert any(s.dual for s in held_out) and any(s.doppler for s in held_out)


def test_render_family_renders_consecutive_seeds():
    screens = render_family("terason", 2, seed=7)
    assert [s.seed for s in screens] == [7, 8]
    assert screens[1].frame.tobytes() == render_screen("terason", 8).frame.tobytes()


def test_demo_style_renders_the_demo_cohort_with_the_same_ground_truth():
    assert DEMO_FAMILY not in FAMILIES  # it takes no LesionMarks; tuning data by nature
    with pytest.raises(ValueError):
        render_screen(DEMO_FAMILY, 1, LesionMarks("LEFT", "2:00"))
    screens = [render_screen(DEMO_FAMILY, s) for s in range(6)]
    again = render_screen(DEMO_FAMILY, 3)
    assert again.frame.tobytes() == screens[3].frame.tobytes()
    assert len({s.frame.tobytes() for s in screens}) == len(screens)
    assert any(s.calipers for s in screens)
    for screen in screens:
        assert screen.family == DEMO_FAMILY and screen.frame.ndim == 3
        assert screen.fov_mask.any() and screen.pixel_spacing_cm
        assert any(t.kind == "phi" for t in screen.texts)
        marked = screen.caliper_mask.copy()
        for t in screen.texts:
            x0, y0, x1, y1 = t.box
            marked[y0 : y1 + 1, x0 : x1 + 1] = True
        # the clean frame: no text (its boxes hold the background), no calipers
        changed = (screen.frame != screen.clean).any(axis=-1)
        assert not (changed & ~marked).any()
        for t in (t for t in screen.texts if t.kind != "scale"):
            x0, y0, x1, y1 = t.box
            assert np.unique(screen.clean[y0 : y1 + 1, x0 : x1 + 1]).size == 1
        for x, y in screen.calipers:
            assert screen.fov_mask[y, x] and screen.caliper_mask[y, x]
        assert (screen.frame[screen.caliper_mask] == screen.caliper_colour).all()
