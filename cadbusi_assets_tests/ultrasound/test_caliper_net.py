"""The learned caliper heat map (:mod:`cadbusi_assets.ultrasound.caliper_net`) and its place in
:func:`~cadbusi_assets.ultrasound.calipers.detect_calipers`.

The frames are TUNING-family frames (seeds 100-299) holding marks the hand rules miss
(``learned=False`` finds nothing within 5 px of them) that the heat map finds.
"""

from __future__ import annotations

import io
from importlib import resources

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.caliper_net import (
    PLACE_PREFIX,
    STRIDE,
    WEIGHTS,
    CaliperNet,
    caliper_net,
    cell_points,
)
from cadbusi_assets.ultrasound.calipers import detect_calipers
from cadbusi_assets.ultrasound.fov import find_field_of_view
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    check_marks,
    nearest,
    screen_points,
)
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed): true marks the rules miss and the learned finder finds (chosen among the
#: tuning frames of seeds 100-299 where it adds marks and no false one): marks on
#: elastography colour maps, a large white 'x' on speckle, small JPEG marks, arrows (found
#: at their tips, within 2 px).
RESCUED: dict[tuple[str, int], list[tuple[int, int]]] = {
    # (philips_epiq 184's cyan 'x' on an elastography map at (462, 421) and ge_logiq 141's
    # small cyan '+' at (475, 405), rescued here before, the rules find now:
    # calipers.map_marks; and its twin at (524, 387), beside the map: calipers.REGION_AREA)
    ("ge_logiq", 114): [(546, 467), (416, 298)],  # large white 'x', no JPEG
    ("philips_epiq", 220): [(374, 369), (405, 435)],  # small yellow 'x', JPEG
    ("ge_voluson", 278): [(636, 301), (669, 329)],  # small green 'x', JPEG
    ("philips_epiq", 190): [(287, 344)],  # large cyan arrow
    # large cyan arrows, JPEG, dual view (their twin at (690, 197), rescued here before, the
    # rules find now: a thick arrow, test_caliper_arrows.py)
    ("ge_logiq", 157): [(736, 157)],
    ("ge_logiq", 190): [(340, 391)],  # small yellow arrow
}
#: (family, seed): false marks of the rules (farther than 5 px from every true mark) that the
#: learned finder vetoes (tuning frames of seeds 100-299).
VETOED: dict[tuple[str, int], tuple[int, int]] = {
    ("ge_logiq", 130): (695, 165),  # an 'x' 133 px from every mark
    ("ge_voluson", 159): (496, 68),  # an arrow 306 px from every mark
    ("philips_epiq", 215): (622, 320),  # an arrow on an elastography frame
}


def test_weights_are_small_and_load_on_the_cpu():
    import torch

    weights = resources.files("cadbusi_assets.ultrasound.models").joinpath(WEIGHTS)
    with weights.open("rb") as handle:
        data = handle.read()
    assert len(data) < 1_000_000
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    net = CaliperNet(state)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(net.model.parameters()).device.type == expected
    assert sum(p.numel() for p in net.model.parameters()) < 20_000
    crop = np.zeros((37, 50, 3), np.uint8)  # not a multiple of STRIDE: padded
    assert net.outputs([crop])[0].shape == (3, 10, 13)


def test_cell_points_peak_offset_and_threshold():
    out = np.zeros((3, 6, 8), np.float32)
    out[0] = -10.0
    out[0, 2, 3] = 4.0  # p 0.982, offset (+0.25, -0.5) cells
    out[1, 2, 3], out[2, 2, 3] = 0.25, -0.5
    out[0, 2, 4] = 3.0  # a weaker neighbour of the same peak: not a point
    out[0, 5, 7] = 0.0  # p 0.5: below the threshold
    points = cell_points(out, 0.9)
    assert [(p.x, p.y) for p in points] == [
        (round((3 + 0.5 + 0.25) * STRIDE - 0.5), round((2 + 0.5 - 0.5) * STRIDE - 0.5))
    ]
    assert points[0].prob == pytest.approx(1 / (1 + np.exp(-4.0)), abs=1e-4)
    assert len(cell_points(out, 0.4)) == 2


def test_the_net_finds_marks_the_rules_miss_on_tuning_frames(monkeypatch):
    monkeypatch.setattr(calipers, "LEARNED", True)  # for analyze_frame in check_marks
    assert RESCUED and {family for family, _ in RESCUED} <= set(TUNING_FAMILIES)
    with time_limit(300, "analysing frames with marks the rules miss"):
        for (family, seed), missed in RESCUED.items():
            assert 100 <= seed < 300
            rules = screen_points(family, seed, learned=False)
            both = screen_points(family, seed, learned=True)
            for point in missed:
                assert nearest(point, rules) > 5.0, (family, seed, point)
                assert nearest(point, both) <= 2.0, (family, seed, point)
            check_marks(render_screen(family, seed), missed, (family, seed))


def test_the_net_vetoes_false_marks_of_the_rules_on_tuning_frames():
    assert {family for family, _ in VETOED} <= set(TUNING_FAMILIES)
    with time_limit(120, "analysing frames with false marks of the rules"):
        for (family, seed), point in VETOED.items():
            assert 100 <= seed < 300
            truth = render_screen(family, seed).calipers
            assert nearest(point, truth) > 5.0, (family, seed, point)
            rules = screen_points(family, seed, learned=False)
            both = screen_points(family, seed, learned=True)
            assert point in rules, (family, seed, rules)
            assert point not in both, (family, seed, both)
            # the veto takes no true mark: every mark of the rules within 5 px of one stays
            true_rules = {p for p in rules if nearest(p, truth) <= 5.0}
            assert true_rules <= set(both), (family, seed, rules, both)


def test_a_sure_mark_of_the_rules_is_never_vetoed(monkeypatch):
    """Only marks scored below :data:`~.calipers.NET_VETO_SCORE` are put to the refiner: with
    the threshold at 0, no mark goes."""
    monkeypatch.setattr(calipers, "NET_VETO_SCORE", 0.0)
    for (family, seed), point in VETOED.items():
        assert point in screen_points(family, seed, learned=True), (family, seed)


def test_the_thresholds_are_those_of_the_weights_refiner_version(monkeypatch):
    """:data:`~.calipers.NET_REFINE_PROB` and :data:`~.calipers.NET_VETO_PROB` are read for
    the refiner version of the weights in use: the other version's thresholds change nothing,
    its own take the rescued marks (nothing is sure enough) or keep the vetoed one (version 3:
    with :data:`~.calipers.NET_PLACE_PROB`)."""
    version = caliper_net().refiner_version
    other = next(v for v in calipers.NET_REFINE_PROB if v != version)
    (family, seed), missed = next(iter(RESCUED.items()))
    (vetoed_family, vetoed_seed), vetoed = next(iter(VETOED.items()))
    found = screen_points(family, seed, learned=True)
    kept = screen_points(vetoed_family, vetoed_seed, learned=True)
    monkeypatch.setitem(calipers.NET_REFINE_PROB, other, 1.01)
    monkeypatch.setitem(calipers.NET_VETO_PROB, other, 0.0)
    assert screen_points(family, seed, learned=True) == found
    assert screen_points(vetoed_family, vetoed_seed, learned=True) == kept
    monkeypatch.setitem(calipers.NET_REFINE_PROB, version, 1.01)
    monkeypatch.setitem(calipers.NET_VETO_PROB, version, 0.0)
    if version == 3:  # its placing refiner's own threshold, agreement and mirroring too
        monkeypatch.setattr(calipers, "NET_PLACE_PROB", 1.01)
        monkeypatch.setattr(calipers, "NET_AGREE_PROB", 1.01)
        monkeypatch.setattr(calipers, "NET_MIRROR_PROB", 1.01)
        # and the white crosses and arrows it leans to
        monkeypatch.setitem(calipers.NET_WHITE_PROB, version, 1.01)
        monkeypatch.setitem(calipers.NET_ARROW_PROB, version, 1.01)
    without = screen_points(family, seed, learned=True)
    assert all(nearest(point, without) > 5.0 for point in missed), (family, seed, without)
    assert vetoed in screen_points(vetoed_family, vetoed_seed, learned=True)


def test_learned_points_are_deterministic():
    family, seed = next(iter(RESCUED))
    screen = render_screen(family, seed)
    first = caliper_net().outputs([screen.frame[:200, :240]])[0]
    again = CaliperNet().outputs([screen.frame[:200, :240].copy()])[0]
    assert first.tobytes() == again.tobytes()
    assert screen_points(family, seed, learned=True) == screen_points(family, seed, learned=True)


def test_learned_is_the_default_switch(monkeypatch):
    """:data:`~.calipers.LEARNED` switches the learned finder on and off."""
    family, seed = next(iter(RESCUED))
    screen = render_screen(family, seed)
    box = find_field_of_view(to_grey(screen.frame), []).box
    assert box is not None
    monkeypatch.setattr(calipers, "LEARNED", True)
    on = detect_calipers(screen.frame, box)
    assert calipers.NET_STYLE in on.styles
    monkeypatch.setattr(calipers, "LEARNED", False)
    off = detect_calipers(screen.frame, box)
    assert calipers.NET_STYLE not in off.styles
    assert set(off.points) < set(on.points)


def test_outputs_are_the_model_on_input_array_bitwise():
    """:meth:`CaliperNet.outputs` converts the crops its own way (uint8 on the device, the
    model's shift in place, one crop without a copy): the same bits as ``model`` run on
    :func:`input_array` (channels last, on one CPU thread, as it always ran), for grey and
    RGB crops, sizes that are not multiples of STRIDE, read-only crops and a batch of three."""
    import torch

    from cadbusi_assets.ultrasound.caliper_net import input_array

    net = caliper_net()
    frame = render_screen(*next(iter(RESCUED))).frame
    rgb = frame[101:298, 203:442]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    frozen = rgb.copy()
    frozen.flags.writeable = False
    other = np.ascontiguousarray(frame[:197, :239])
    crops = [rgb, grey, frozen, other]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as outputs runs on the CPU (more threads: other bits)
    try:
        with torch.inference_mode():
            expected = [
                net.model(
                    torch.from_numpy(input_array(c)[None])
                    .to(net.device)
                    .contiguous(memory_format=torch.channels_last)
                )[0]
                .cpu()
                .numpy()
                for c in crops
            ]
    finally:
        torch.set_num_threads(threads)
    got = net.outputs(crops)  # rgb, frozen and other share a shape: one batch
    assert [g.shape for g in got] == [e.shape for e in expected] == [(3, 50, 60)] * 4
    if net.device.type == "cpu":  # (a GPU may pick another algorithm for a batch)
        for g, e in zip(got, expected, strict=True):
            assert g.tobytes() == e.tobytes()
    for c, e in zip(crops, expected, strict=True):
        assert net.outputs([c])[0].tobytes() == e.tobytes()
    assert not np.array_equal(expected[0], expected[3])  # different crops, different maps


def test_version_2_patches_add_the_context_at_half_resolution():
    from cadbusi_assets.ultrasound.caliper_net import CONTEXT, PATCH, patches

    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)
    centres = [(40, 35), (3, 60)]  # the second reaches beyond the crop: zeros there
    one, two = patches(crop, centres), patches(crop, centres, 2)
    assert one.shape == (2, 3, PATCH, PATCH) and two.shape == (2, 6, PATCH, PATCH)
    assert np.array_equal(two[:, :3], one)  # the version 1 patch, unchanged
    padded = np.zeros((70 + CONTEXT, 90 + CONTEXT, 3), np.float64)
    padded[CONTEXT // 2 : CONTEXT // 2 + 70, CONTEXT // 2 : CONTEXT // 2 + 90] = crop
    for k, (x, y) in enumerate(centres):
        area = padded[y : y + CONTEXT, x : x + CONTEXT] / 255.0
        half = area.reshape(PATCH, 2, PATCH, 2, 3).mean(axis=(1, 3))
        assert np.allclose(np.moveaxis(two[k, 3:], 0, 2), half, atol=1e-6)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    assert np.array_equal(patches(grey, centres, 2)[:, 3], patches(grey, centres, 2)[:, 5])


def test_weights_of_another_refiner_architecture_are_refused():
    import torch

    from cadbusi_assets.ultrasound.caliper_net import VERSION_KEY, build_refiner, packaged_state

    coarse = {k: v for k, v in packaged_state(WEIGHTS).items() if k.startswith("coarse.")}

    def state(version: int) -> dict:
        refine = build_refiner(version).state_dict()
        return {**coarse, **{f"refine.{k}": v.half() for k, v in refine.items()}}

    assert CaliperNet(state(1)).refiner_version == 1  # no version entry: version 1
    assert CaliperNet({**state(2), VERSION_KEY: torch.tensor(2)}).refiner_version == 2
    with pytest.raises(ValueError, match="do not fit a version 2 refiner"):
        CaliperNet({**state(1), VERSION_KEY: torch.tensor(2)})
    with pytest.raises(ValueError, match="do not fit a version 1 refiner"):
        CaliperNet(state(2))
    with pytest.raises(ValueError, match="version 4 is unknown"):
        CaliperNet({**state(1), VERSION_KEY: torch.tensor(4)})
    place = {f"{PLACE_PREFIX}{k}": v for k, v in state(1).items() if k.startswith("refine.")}
    place = {k.replace(f"{PLACE_PREFIX}refine.", PLACE_PREFIX): v for k, v in place.items()}
    three = {**state(3), **place, VERSION_KEY: torch.tensor(3)}
    assert CaliperNet(three).refiner_version == 3
    with pytest.raises(ValueError, match="do not fit the version 1 refiner that places"):
        CaliperNet({**state(3), VERSION_KEY: torch.tensor(3)})  # no placing refiner
    with pytest.raises(ValueError, match="belong to a version 3 refiner, not version 2"):
        CaliperNet({**state(2), **place, VERSION_KEY: torch.tensor(2)})


def test_version_3_takes_the_verdict_of_its_version_2_refiner_and_the_offsets_of_its_version_1():
    """A version 3 file's points: the probabilities of the same file's ``refine.*`` entries read
    as a version 2 refiner, the offsets of its ``refine_place.*`` entries as a version 1 one."""
    import torch

    from cadbusi_assets.ultrasound.caliper_net import VERSION_KEY, build_refiner, packaged_state

    coarse = {k: v for k, v in packaged_state(WEIGHTS).items() if k.startswith("coarse.")}
    torch.manual_seed(3)
    judge = {f"refine.{k}": v.half() for k, v in build_refiner(2).state_dict().items()}
    placer = {k: v.half() for k, v in build_refiner(1).state_dict().items()}
    two = CaliperNet({**coarse, **judge, VERSION_KEY: torch.tensor(2)})
    one = CaliperNet({**coarse, **{f"refine.{k}": v for k, v in placer.items()}})
    three = CaliperNet(
        {
            **coarse,
            **judge,
            **{f"{PLACE_PREFIX}{k}": v for k, v in placer.items()},
            VERSION_KEY: torch.tensor(3),
        }
    )
    screen = render_screen(*next(iter(RESCUED)))
    crop = np.ascontiguousarray(screen.frame[100:300, 100:300])
    centres = [(40, 50), (100, 100), (160, 30), (5, 190)]
    got = three.refine(crop, centres)
    assert [p.prob for p in got] == [p.prob for p in two.refine(crop, centres)]
    assert [(p.x, p.y) for p in got] == [(p.x, p.y) for p in one.refine(crop, centres)]
    assert [(p.x, p.y) for p in got] != [(p.x, p.y) for p in two.refine(crop, centres)]


def test_the_placing_refiner_looks_only_at_the_points_it_is_asked_about():
    """``refine(place=..., place_above=...)``: the version 1 refiner places the points marked
    True and those its version 2 refiner gives at least ``place_above`` (as it places them
    when it looks at all of them); the others keep the version 2 refiner's own point and
    have no ``placer_prob``."""
    net = caliper_net()
    family, seed = ("ge_voluson", 278)
    truth = render_screen(family, seed)
    crop = np.ascontiguousarray(truth.frame)
    mark = (636, 301)  # a small green 'x' the version 2 refiner doubts (0.93 > it)
    centres = [mark, (40, 50), (600, 200), (300, 420)]
    every = net.refine(crop, centres)
    assert every[0].prob < 0.93 and all(p.placer_prob is not None for p in every)
    some = net.refine(crop, centres, place=[True, False, False, False], place_above=1.01)
    assert some[0] == every[0]
    for full, part in zip(every[1:], some[1:], strict=True):
        assert part.placer_prob is None and part.prob == full.prob
        assert (part.x, part.y) == full.judged_at == part.judged_at
    # a verdict at least place_above is placed whatever ``place`` says
    leaning = net.refine(crop, centres, place=[False] * 4, place_above=0.0)
    assert leaning == every


def test_version_3_takes_a_point_either_of_its_refiners_is_sure_of(monkeypatch):
    """The committed weights are version 3: a heat-map point is a mark when its version 2
    refiner is at least ``NET_REFINE_PROB[3]`` sure (philips_epiq 5's mark at (619, 428), which
    the version 1 refiner doubts) or its version 1 refiner at least ``NET_PLACE_PROB`` (ge_voluson
    278's small green 'x' at (636, 301), which the version 2 refiner doubts). (The first is a
    thin white arrow in JPEG that the rules find too since ``calipers.DIM_ARROWS``: off here.)"""
    assert caliper_net().refiner_version == 3
    monkeypatch.setattr(calipers, "DIM_ARROWS", False)
    judged, placed = ("philips_epiq", 5, (619, 428)), ("ge_voluson", 278, (636, 301))
    for family, seed, point in (judged, placed):
        assert nearest(point, screen_points(family, seed, learned=True)) <= 2.0, (family, seed)
    with monkeypatch.context() as patch:
        patch.setattr(calipers, "NET_PLACE_PROB", 1.01)
        assert nearest(judged[2], screen_points(*judged[:2], learned=True)) <= 2.0
        assert nearest(placed[2], screen_points(*placed[:2], learned=True)) > 5.0
    monkeypatch.setitem(calipers.NET_REFINE_PROB, 3, 1.01)
    monkeypatch.setattr(calipers, "NET_AGREE_PROB", 1.01)  # (both lean to it: its own test)
    monkeypatch.setattr(calipers, "NET_ARROW_PROB", {})  # (a white arrow's tip: its own test)
    assert nearest(judged[2], screen_points(*judged[:2], learned=True)) > 5.0
    assert nearest(placed[2], screen_points(*placed[:2], learned=True)) <= 2.0


#: (family, seed) -> true marks the learned finder takes only because both refiners lean to
#: them (calipers.NET_AGREE_PROB): neither is sure alone.
AGREED = {("philips_iu22", 0): [(262, 148), (193, 218)]}  # small yellow '+', tuning family
AGREE_PROB = calipers.NET_AGREE_PROB


def test_version_3_takes_a_point_both_refiners_lean_to(monkeypatch):
    assert_found(AGREED, within=1.5)
    # (the deciding refiner is sure of them mirrored too: that rule is off here)
    monkeypatch.setattr(calipers, "NET_MIRROR_PROB", 1.01)
    monkeypatch.setattr(calipers, "NET_AGREE_PROB", 1.01)
    assert_missed(AGREED, learned=True)
    # where the two refiners do not put the point at one place, no agreement
    monkeypatch.setattr(calipers, "NET_AGREE_PROB", AGREE_PROB)
    monkeypatch.setattr(calipers, "NET_AGREE_REACH", -1.0)
    assert_missed(AGREED, learned=True)


#: (family, seed) -> true marks the learned finder takes only from heat-map points below 0.5
#: (calipers.NET_MIN_PROB 0.2; tuning frames of seeds 200-439): small white JPEG '+' marks
#: beside measurement numbers, a large white arrow and a large green 'x' on elastography
#: maps, a yellow JPEG arrow in a zoom box.
LOW_HEAT = {
    ("ge_voluson", 233): [(384, 220), (427, 225)],
    ("philips_epiq", 215): [(320, 403)],
    ("ge_voluson", 209): [(280, 250)],
    ("siemens_s2000", 421): [(333, 374)],
}


def test_heat_map_points_below_one_half_are_refined(monkeypatch):
    assert_found(LOW_HEAT, within=2.0)
    monkeypatch.setattr(calipers, "NET_MIN_PROB", 0.5)
    # (ge_voluson 233's (384, 220) the rules take too now: small_white_crosses, off here)
    monkeypatch.setattr(calipers, "SMALL_CONTRAST", 1000.0)
    # (ge_voluson 209's (280, 250), beside an elastography map, too: REGION_AREA, off here)
    monkeypatch.setattr(calipers, "REGION_AREA", 10**9)
    assert_missed(LOW_HEAT, learned=True)


def test_the_placing_refiner_alone_takes_no_faint_heat_point(monkeypatch):
    """The placing (version 1) refiner alone is sure of two points of a real ALOKA frame's
    UI (a scale tick and an icon's corner) that the heat map gives 0.23 and 0.35 and the
    deciding refiner doubts: below ``NET_PLACE_HEAT`` its word alone is not enough."""
    from pydicom.data import get_testdata_file

    from cadbusi_assets.ultrasound.analysis import analyze_frame
    from cadbusi_assets_tests.ultrasound.real_file_set import first_frame

    frame, regions = first_frame(get_testdata_file("gdcm-US-ALOKA-16.dcm", download=False))
    assert analyze_frame(frame, regions, ocr=False).calipers.points == []
    monkeypatch.setattr(calipers, "NET_PLACE_HEAT", 0.0)
    assert len(analyze_frame(frame, regions, ocr=False).calipers.points) == 2


#: (family, seed) -> true marks the learned finder takes only because its deciding refiner is
#: sure of them mirrored three ways (calipers.NET_MIRROR_PROB) while its placing refiner leans
#: to them: JPEG '+' marks on dotted lines, a large yellow '+'.
MIRRORED = {
    ("ge_voluson", 238): [(360, 351)],
    ("siemens_s2000", 302): [(273, 483)],
    ("ge_voluson", 304): [(406, 455)],
}


def test_version_3_takes_a_point_its_deciding_refiner_is_sure_of_mirrored(monkeypatch):
    assert_found(MIRRORED, within=2.5)
    # (ge_voluson 238's white '+' the white-cross rule takes too, where this one does not)
    monkeypatch.setattr(calipers, "NET_WHITE_PROB", {})
    monkeypatch.setattr(calipers, "NET_MIRROR_PROB", 1.01)
    assert_missed(MIRRORED, learned=True)
    monkeypatch.undo()
    monkeypatch.setattr(calipers, "NET_WHITE_PROB", {})
    monkeypatch.setattr(calipers, "NET_MIRROR_PLACE", 1.01)  # the placing refiner must lean
    assert_missed(MIRRORED, learned=True)


def test_mirrored_verdicts_are_the_refiner_on_flipped_inputs():
    import torch

    from cadbusi_assets.ultrasound.caliper_net import patches

    net = caliper_net()
    screen = render_screen("ge_voluson", 238)
    crop = np.ascontiguousarray(screen.frame)
    centres = [(360, 351), (100, 100), (5, 3)]
    got = net.mirrored(crop, centres)
    assert got.shape == (3, 3) and ((got >= 0) & (got <= 1)).all()
    batch = torch.from_numpy(patches(crop, centres, net.refiner_version))
    with torch.inference_mode():
        for column, dims in enumerate(((3,), (2,), (2, 3))):
            one = torch.sigmoid(net.refiner(batch.flip(dims))[:, 0]).double().numpy()
            np.testing.assert_allclose(got[:, column], one, atol=1e-5)
    assert got[0].min() >= calipers.NET_MIRROR_PROB  # a true mark, sure every way
    assert net.mirrored(crop, []).shape == (0, 3)


def _patches_as_before(crop, centres, version):
    """:func:`~.caliper_net.patches` as it was computed before its area resize: uint16 sums
    of each 2x2 block divided by 4 * 255, NCHW."""
    from cadbusi_assets.ultrasound.caliper_net import CONTEXT, PATCH

    side = PATCH if version == 1 else CONTEXT
    rgb = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if crop.ndim == 2 else crop
    height, width = rgb.shape[:2]
    out = np.zeros((len(centres), side, side, 3), np.uint8)
    half = side // 2
    for k, (x, y) in enumerate(centres):
        x0, y0 = x - half, y - half
        sx0, sy0 = max(0, x0), max(0, y0)
        sx1, sy1 = min(width, x0 + side), min(height, y0 + side)
        if sx0 < sx1 and sy0 < sy1:
            out[k, sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    if side == PATCH:
        return np.ascontiguousarray(np.moveaxis(out, 3, 1)).astype(np.float32) / 255.0
    lo = half - PATCH // 2
    centre = out[:, lo : lo + PATCH, lo : lo + PATCH].astype(np.float32) / 255.0
    wide = out.astype(np.uint16)
    blocks = wide[:, 0::2, 0::2] + wide[:, 1::2, 0::2] + wide[:, 0::2, 1::2] + wide[:, 1::2, 1::2]
    context = blocks.astype(np.float32) / (4 * 255.0)
    return np.ascontiguousarray(np.moveaxis(np.concatenate([centre, context], axis=3), 3, 1))


def test_patches_are_those_computed_before_bitwise():
    """The refiners' inputs (:func:`~.caliper_net.patches`: the block means by OpenCV's area
    resize, channels last until the end) are bit for bit those of the uint16 block sums,
    for RGB and grey crops, centres inside, at and past the edges, one centre and none;
    :func:`~.caliper_net._patch_batch` holds the same values, strided channels last."""
    import torch

    from cadbusi_assets.ultrasound.caliper_net import _patch_batch, patches

    rng = np.random.default_rng(5)
    for family, seed in (("ge_logiq", 114), ("philips_iu22", 150)):
        frame = render_screen(family, seed).frame
        for crop in (frame[11:400, 7:523], to_grey(frame)[:301, 50:]):
            height, width = crop.shape[:2]
            centres = [(int(x), int(y)) for x, y in rng.integers(-40, 560, (40, 2))]
            centres += [(0, 0), (width - 1, height - 1), (width + 31, 5), (-33, -33)]
            for version in (1, 2, 3):
                for chosen in (centres, centres[:1], []):
                    got = patches(crop, chosen, version)
                    expected = _patches_as_before(crop, chosen, 1 if version == 1 else 2)
                    assert got.shape == expected.shape and got.dtype == expected.dtype
                    assert got.tobytes() == expected.tobytes()
                    batch = _patch_batch(crop, chosen, version)
                    assert torch.equal(batch, torch.from_numpy(expected))
                    if len(chosen) > 1:
                        assert batch.is_contiguous(memory_format=torch.channels_last)
