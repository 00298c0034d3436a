"""The held-out screen generator (:mod:`cadbusi_demo.screens_heldout`): families, determinism
and the ground truth every frame carries (texts, field of view, calipers)."""

from __future__ import annotations

import pytest

from cadbusi_demo.screens.calipers import CALIPER_EXTRAS, CALIPER_SIZES
from cadbusi_demo.screens_heldout import (
    FAMILIES,
    HELDOUT_FAMILIES,
    TUNING_FAMILIES,
    render_screen,
)

#: Frames per family for the statistics over seeds (every style and count must occur).
SEEDS = range(300, 340)


@pytest.fixture(scope="module")
def frames():
    return {f: [render_screen(f, s) for s in SEEDS] for f in sorted(FAMILIES)}


def test_families_split_into_tuning_and_held_out():
    assert len(FAMILIES) >= 7
    assert not set(TUNING_FAMILIES) & set(HELDOUT_FAMILIES)
    assert set(TUNING_FAMILIES) | set(HELDOUT_FAMILIES) == set(FAMILIES)
    # the original split stays as it was
    assert {"ge_logiq", "philips_epiq", "siemens_s2000"} <= set(TUNING_FAMILIES)
    assert {"canon_aplio", "samsung_rs", "sonosite_edge", "mindray_dc"} <= set(HELDOUT_FAMILIES)


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
            # the mask is the calipers' footprint, every pixel in the caliper colour
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
