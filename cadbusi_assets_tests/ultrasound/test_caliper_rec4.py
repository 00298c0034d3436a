"""Caliper recall on generator frames (tuning seeds 100-439 only): light arrows over a colour
map (:data:`.calipers.MAP_LIGHT_LIFT`).

Every mark below is a tuning-family mark that neither the rules nor the learned finder found
before its rule; the traps are tuning-family places where a looser rule put a false mark.
"""

from __future__ import annotations

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    assert_trap,
)
from cadbusi_demo.screens_heldout import Screen

#: Three small white arrows (JPEG: their strokes pale and tinted by the map) on an
#: elastography map: the map's light texture is no arrow, the strokes lift the map's lowest
#: channel by 90-120 levels.
LIGHT_ARROWS = {("philips_epiq", 172): [(371, 199), (424, 232), (369, 262)]}


def _tuning_map_arrows(screen: Screen) -> None:
    assert 100 <= screen.seed < 440, (screen.family, screen.seed)
    assert screen.elastography or screen.doppler, (screen.family, screen.seed)
    assert screen.caliper_style.split()[0] == "arrow", (screen.family, screen.seed)


def test_light_arrows_on_a_map_are_found():
    with time_limit(60, "calipers on an elastography frame"):
        assert_found(LIGHT_ARROWS, check=_tuning_map_arrows)


def test_without_the_light_layer_the_arrows_are_missed(monkeypatch):
    """The arrows are the light layer's: with it off, the rules and the learned finder miss
    them."""
    monkeypatch.setattr(calipers, "MAP_LIGHT_LIFT", 0)
    assert_missed(LIGHT_ARROWS, learned=True)


def test_pale_pieces_of_a_thick_arrow_are_no_arrows(monkeypatch):
    """philips_epiq 215: JPEG leaves 6-px pale pieces at a thick white arrow's wings on the
    map; MAP_LIGHT_SIDE keeps them out (without it: a false mark there)."""
    assert_trap(monkeypatch, "philips_epiq", 215, (415, 368), {"MAP_LIGHT_SIDE": 0})


def test_map_texture_is_no_arrow(monkeypatch):
    """siemens_s2000 358: at a lift of 60 the map's light texture gives a false arrow."""
    assert_trap(monkeypatch, "siemens_s2000", 358, (434, 208), {"MAP_LIGHT_LIFT": 60})


def test_bright_tissue_at_a_map_edge_is_no_arrow(monkeypatch):
    """ge_voluson 170: bright tissue beside a blue Doppler blob lifts the lowest channel above
    its median (the blob's is near 0); without the length, area and ring bounds, a false
    arrow there."""
    loose = {"MAP_LIGHT_SIDE": 0, "MAP_LIGHT_AREA": 100.0, "MAP_LIGHT_TINTED": 0.0}
    assert_trap(monkeypatch, "ge_voluson", 170, (268, 429), loose)
