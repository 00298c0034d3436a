"""The caliper-net training tool's refiner options (:mod:`tools.train_caliper_net`): the UI
negatives and the losses that keep a teacher refiner's verdicts."""

from __future__ import annotations

import numpy as np

from tools import train_caliper_net as t


def test_ui_negatives_lie_in_ui_graphics_of_tuning_screens():
    windows, points, negatives = t.render_ui(4, 0)
    assert len(windows) == len(points) == len(negatives) > 0
    assert windows.shape[1:] == (t.WINDOW, t.WINDOW, 3)
    assert ((negatives >= 0) & (negatives < t.WINDOW)).all()
    # the same seed, the same windows
    again = t.render_ui(4, 0)
    assert all(
        np.array_equal(a, b) for a, b in zip((windows, points, negatives), again, strict=True)
    )


def test_anchor_and_distill_keep_the_teacher_refiner():
    """Fine-tuned on random windows (one caliper point each) from the same start, a refiner held by
    the anchor moves its weights less than one fine-tuned freely."""
    import torch

    from cadbusi_assets.ultrasound import caliper_net

    rng = np.random.default_rng(0)
    windows = rng.integers(0, 255, (8, t.WINDOW, t.WINDOW, 3), dtype=np.uint8)
    points = np.full((8, t.MAX_POINTS, 2), -1.0, np.float32)
    points[:, 0] = (48.0, 48.0)
    arrows = np.zeros(8, bool)
    torch.manual_seed(0)  # the heat map's false points the same whatever ran before
    coarse = caliper_net.build_model().eval()

    def moved(anchor: float) -> float:
        torch.manual_seed(1)
        teacher = caliper_net.build_refiner()
        before = [p.detach().clone() for p in teacher.parameters()]
        tuned = t.train_refiner(
            windows, points, arrows, coarse, 20, 8, 3, teacher, distill=1.0, anchor=anchor
        )
        return sum(
            float(((p.detach() - q) ** 2).sum())
            for p, q in zip(tuned.parameters(), before, strict=True)
        )

    firm, held, free = moved(100.0), moved(1.0), moved(0.0)
    assert np.isfinite([firm, held, free]).all()
    assert firm < held < free / 10


def test_training_runs_on_native_cpu_kernels_and_stops_on_a_nan_loss():
    """oneDNN's convolution weight gradients came back NaN (or wrong) now and then on the CI
    machine: the training functions run with it off, and a loss that is no longer a number
    stops the run instead of saving NaN weights."""
    import pytest
    import torch

    seen = t._native_kernels(lambda: torch.backends.mkldnn.enabled)()
    assert seen is False
    assert torch.backends.mkldnn.enabled  # restored after the run
    t._finite(torch.tensor(1.5), "refiner", 0)
    with pytest.raises(RuntimeError, match="refiner training diverged at step 4"):
        t._finite(torch.tensor(float("nan")), "refiner", 3)


def _trained_heat_map():
    from cadbusi_assets.ultrasound import caliper_net

    coarse = caliper_net.build_model()
    t._load_part(coarse, t.OUT, "coarse.", lambda k: k.startswith("coarse."))
    return coarse.eval()


def test_refiner_samples_are_cut_from_tuning_crops_around_marks_and_away_from_them():
    from cadbusi_demo import screens_heldout as gen

    coarse = _trained_heat_map()
    patches, kinds, offsets, arrows = t.render_samples(1, 0, coarse)
    assert patches.shape[1:] == (t.SAMPLE, t.SAMPLE, 3) and patches.dtype == np.uint8
    assert len(patches) == len(kinds) == len(offsets) == len(arrows)
    points = kinds == t.KINDS.index("point")
    # every caliper point of the screens in their crops once, its offset from the patch
    # centre under 1 px
    marks = 0
    for family in t.FAMILIES:
        screen = gen.render_screen(family, t.SAMPLE_SEED)
        crop, x0, y0 = t._crop(screen)
        marks += sum(
            0 <= round(x - x0) < crop.shape[1] and 0 <= round(y - y0) < crop.shape[0]
            for x, y in screen.calipers
        )
    assert points.sum() == marks
    assert (np.abs(offsets[points]) <= 0.5).all() and (offsets[~points] == 0).all()
    assert set(kinds.tolist()) <= set(range(len(t.KINDS))) and (~points).sum() > 0
    again = t.render_samples(1, 0, coarse)
    assert all(
        np.array_equal(a, b) for a, b in zip((patches, kinds, offsets, arrows), again, strict=True)
    )


def test_a_version_2_refiner_trains_saves_and_loads(tmp_path):
    """A few steps on random samples give a 6-channel refiner that a weights file names and
    :class:`CaliperNet` loads as version 2 (its verdicts on the patches of version 2)."""
    from cadbusi_assets.ultrasound import caliper_net

    rng = np.random.default_rng(0)
    n = 16
    samples = (
        rng.integers(0, 255, (n, t.SAMPLE, t.SAMPLE, 3), dtype=np.uint8),
        np.array([k % len(t.KINDS) for k in range(n)], np.int8),
        np.zeros((n, 2), np.float32),
        np.zeros(n, bool),
    )
    refiner = t.train_refiner_v2(samples, 3, 8, 0)
    out = tmp_path / "w.pt"
    t._save(_trained_heat_map(), refiner, 2, out)
    import torch

    state = torch.load(out, map_location="cpu", weights_only=True)
    assert caliper_net.refiner_version(state) == 2
    net = caliper_net.CaliperNet(state)
    assert net.refiner_version == 2
    crop = rng.integers(0, 255, (80, 90, 3), dtype=np.uint8)
    verdicts = net.refine(crop, [(5, 5), (45, 40)])
    assert len(verdicts) == 2 and all(0.0 <= v.prob <= 1.0 for v in verdicts)


def test_ui_samples_are_negatives_in_the_ui_graphics_of_whole_frames():
    from cadbusi_demo import screens_heldout as gen

    patches, kinds, offsets, arrows = t.render_ui_samples(2, 0)
    assert len(patches) > 0 and patches.shape[1:] == (t.SAMPLE, t.SAMPLE, 3)
    assert (kinds == t.KINDS.index("ui")).all() and not offsets.any() and not arrows.any()
    assert sum(p.any() for p in patches) > len(patches) // 2  # drawn pixels, not padding
    most = sum(
        min(t.SAMPLE_UI, len(gen.render_screen(f, t.UI_SEED + k).ui_boxes))
        for f in t.FAMILIES
        for k in range(2)
    )
    assert len(patches) <= most
    again = t.render_ui_samples(2, 0)
    assert all(
        np.array_equal(a, b) for a, b in zip((patches, kinds, offsets, arrows), again, strict=True)
    )


def test_edge_samples_lie_on_box_outlines_and_the_field_of_views_border():
    """``--sample-edges``' points lie within 1 px of the outline of a UI box on the image (a
    Doppler, elastography or zoom box) or within 2 px (each axis) of the field of view's
    border; the samples are negatives cut from tuning crops, the same for the same seed."""
    import cv2

    from cadbusi_demo import screens_heldout as gen

    rng = np.random.default_rng(0)
    on_boxes = 0
    for k in range(8):
        for family in t.FAMILIES:
            screen = gen.render_screen(family, t.EDGE_SEED + k)
            fov = screen.fov_mask.astype(np.uint8)
            # up to 2 px (each axis) from a pixel of the border: inside and outside pixels in
            # the 7x7 neighbourhood
            near = cv2.dilate(fov, np.ones((7, 7), np.uint8)) != cv2.erode(
                fov, np.ones((7, 7), np.uint8)
            )
            for x, y in t.edge_points(screen, rng):
                outline = any(
                    (x0 - 1 <= x <= x1 + 1 and min(abs(y - y0), abs(y - y1)) <= 1)
                    or (y0 - 1 <= y <= y1 + 1 and min(abs(x - x0), abs(x - x1)) <= 1)
                    for x0, y0, x1, y1 in screen.ui_boxes
                    if fov[(y0 + y1) // 2, (x0 + x1) // 2]
                )
                on_boxes += outline
                inside = 0 <= x < fov.shape[1] and 0 <= y < fov.shape[0]
                assert outline or (inside and near[y, x]), (family, k, (x, y))
    assert on_boxes > 0
    patches, kinds, offsets, arrows = t.render_edge_samples(2, 0)
    assert len(patches) > 0 and patches.shape[1:] == (t.SAMPLE, t.SAMPLE, 3)
    assert (kinds == t.KINDS.index("edge")).all() and not offsets.any() and not arrows.any()
    again = t.render_edge_samples(2, 0)
    assert all(
        np.array_equal(a, b) for a, b in zip((patches, kinds, offsets, arrows), again, strict=True)
    )


def test_edge_glyphs_are_ui_coloured_shapes_over_the_centre():
    """``--edge-glyphs``: a glyph changes only pixels near the patch's centre, to one UI
    colour; the same seed, the same glyph-drawn samples."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        patch = np.zeros((t.SAMPLE, t.SAMPLE, 3), np.uint8)
        t.draw_glyph(patch, rng)
        ys, xs = np.nonzero(patch.any(axis=2))
        assert len(ys) > 0
        c = t.SAMPLE // 2
        assert np.abs(ys - c).max() <= 8 and np.abs(xs - c).max() <= 8
        assert len({tuple(v) for v in patch[ys, xs].tolist()}) == 1
        assert tuple(patch[ys[0], xs[0]].tolist()) in t.UI_COLOURS
    drawn = t.render_edge_samples(2, 0, glyphs=True)
    again = t.render_edge_samples(2, 0, glyphs=True)
    assert len(drawn[0]) > 0
    assert all(np.array_equal(a, b) for a, b in zip(drawn, again, strict=True))


def test_version_3_combines_a_version_2_verdict_with_version_1_offsets():
    """``combine_version_3`` keeps the version 2 file's heat map and refiner and adds the
    version 1 file's refiner as the placer; :class:`CaliperNet` loads it as version 3. The
    wrong versions are refused."""
    import pytest
    import torch

    from cadbusi_assets.ultrasound import caliper_net

    coarse = {f"coarse.{k}": v.half() for k, v in caliper_net.build_model().state_dict().items()}
    torch.manual_seed(0)
    two = {
        **coarse,
        **{f"refine.{k}": v.half() for k, v in caliper_net.build_refiner(2).state_dict().items()},
        caliper_net.VERSION_KEY: torch.tensor(2),
    }
    one_refiner = caliper_net.build_refiner(1).state_dict()
    one = {**coarse, **{f"refine.{k}": v.half() for k, v in one_refiner.items()}}
    state = t.combine_version_3(two, one)
    assert caliper_net.refiner_version(state) == 3
    assert all(torch.equal(state[k], v) for k, v in two.items() if k != caliper_net.VERSION_KEY)
    for k, v in one_refiner.items():
        assert torch.equal(state[caliper_net.PLACE_PREFIX + k], v.half())
    assert caliper_net.CaliperNet(state).refiner_version == 3
    with pytest.raises(ValueError, match="version 3 combines"):
        t.combine_version_3(one, two)


def test_hued_screens_draw_other_colours_reproducibly_and_leave_the_families_alone():
    from cadbusi_demo import screens_heldout as gen

    before = dict(gen.FAMILIES)
    screens = [t.hued_screen(f, t.HUE_SEED + k) for k in range(6) for f in gen.TUNING_FAMILIES]
    assert before == gen.FAMILIES  # the spec changes are undone
    own = {c for f in gen.TUNING_FAMILIES for c in gen.FAMILIES[f].caliper_colours}
    colours = {s.caliper_colour for s in screens}
    assert colours - own  # random hues
    assert (255, 255, 255) in colours
    assert any(s.elastography for s in screens)
    again = t.hued_screen(screens[3].family, screens[3].seed)
    assert np.array_equal(again.frame, screens[3].frame)
    assert again.calipers == screens[3].calipers


def test_hues_fine_tune_the_heat_map_only_and_keep_the_refiners(tmp_path, monkeypatch):
    """``--coarse W --keep-refiners --hues N`` (tiny): the file has W's refiners and version,
    bit for bit, and a heat map trained on."""
    import sys

    import torch

    out = tmp_path / "h.pt"
    argv = ["x", "--coarse", str(t.OUT), "--keep-refiners", "--hues", "1", "--screens", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--steps", "3", "--batch", "2", "--out", str(out)])
    t.main()
    old = torch.load(t.OUT, map_location="cpu", weights_only=True)
    new = torch.load(out, map_location="cpu", weights_only=True)
    assert set(new) == set(old)
    assert all(torch.equal(new[k], old[k]) for k in old if not k.startswith("coarse."))
    assert any(not torch.equal(new[k], old[k]) for k in old if k.startswith("coarse."))


def test_hued_samples_hold_colour_map_negatives_and_a_second_heat_maps_points():
    """``--sample-hues``: :func:`render_samples` on :func:`hued_screen` screens (the tuning
    families only) adds negatives of kind ``map`` on the crop's colour pixels, away from every
    caliper point, and a second heat map's false points join the hard ones; the same seed,
    the same samples; without ``maps`` no such kind."""
    import torch

    from cadbusi_assets.ultrasound import caliper_net

    coarse = _trained_heat_map()
    torch.manual_seed(0)
    other = caliper_net.build_model().eval()  # untrained: false points anywhere

    def hued(maps: int, mine: tuple[object, ...] = ()) -> tuple[np.ndarray, ...]:
        return t.render_samples(
            2,
            0,
            coarse,
            t.HUE_SAMPLE_SEED,
            make=t.hued_screen,
            families=t.gen.TUNING_FAMILIES,
            mine=mine,
            maps=maps,
        )

    patches, kinds, offsets, arrows = hued(t.SAMPLE_MAP, (other,))
    on_map = kinds == t.KINDS.index("map")
    assert 0 < on_map.sum() <= 2 * len(t.gen.TUNING_FAMILIES) * t.SAMPLE_MAP
    c = t.SAMPLE // 2
    centre = patches[on_map, c, c].astype(int)
    assert (centre.max(1) - centre.min(1) >= t.MAP_CHROMA).all()
    assert (offsets[on_map] == 0).all()
    plain = hued(0)
    assert t.KINDS.index("map") not in plain[1]
    heat = t.KINDS.index("heat")
    assert (kinds == heat).sum() > (plain[1] == heat).sum()  # the second heat map's points
    again = hued(t.SAMPLE_MAP, (other,))
    assert all(
        np.array_equal(a, b) for a, b in zip((patches, kinds, offsets, arrows), again, strict=True)
    )


def test_a_version_2_refiner_fine_tunes_from_a_version_3_file_and_combines(tmp_path, monkeypatch):
    """``--refiner-version 2 --refine-from W --distill --anchor --sample-hues --mine-with``
    (tiny) fine-tunes W's verdict refiner (an anchor holds its weights nearer than none);
    ``--combine NEW W --combine-heat H`` writes a version 3 file: NEW's verdict, W's placing
    refiner bit for bit, H's heat map."""
    import sys

    import torch

    from cadbusi_assets.ultrasound import caliper_net

    rng = np.random.default_rng(0)
    n = 16
    samples = (
        rng.integers(0, 255, (n, t.SAMPLE, t.SAMPLE, 3), dtype=np.uint8),
        np.array([k % len(t.KINDS) for k in range(n)], np.int8),
        np.zeros((n, 2), np.float32),
        np.zeros(n, bool),
    )

    def moved(anchor: float) -> float:
        teacher = caliper_net.build_refiner(2)
        t._load_part(teacher, t.OUT, "refine.", lambda k: k.startswith("refine."))
        before = [p.detach().clone() for p in teacher.parameters()]
        tuned = t.train_refiner_v2(samples, 10, 8, 0, teacher, distill=1.0, anchor=anchor)
        return sum(
            float(((p.detach() - q) ** 2).sum())
            for p, q in zip(tuned.parameters(), before, strict=True)
        )

    firm, free = moved(100.0), moved(0.0)
    assert 0 < firm < free

    new = tmp_path / "v2.pt"
    argv = ["x", "--coarse", str(t.OUT), "--refiner-version", "2", "--refine-from", str(t.OUT)]
    argv += ["--sample-screens", "1", "--sample-hues", "1", "--mine-with", str(t.OUT)]
    argv += ["--distill", "1", "--anchor", "0.1", "--refine-steps", "3", "--out", str(new)]
    monkeypatch.setattr(sys, "argv", argv)
    t.main()
    old = torch.load(t.OUT, map_location="cpu", weights_only=True)
    two = torch.load(new, map_location="cpu", weights_only=True)
    assert caliper_net.refiner_version(two) == 2
    assert any(not torch.equal(two[k], old[k]) for k in two if k.startswith("refine."))

    torch.manual_seed(0)
    heat = {f"coarse.{k}": v.half() for k, v in caliper_net.build_model().state_dict().items()}
    torch.save(heat, tmp_path / "heat.pt")
    out = tmp_path / "v3.pt"
    combine = ["x", "--combine", str(new), str(t.OUT), "--combine-heat", str(tmp_path / "heat.pt")]
    monkeypatch.setattr(sys, "argv", [*combine, "--out", str(out)])
    t.main()
    three = torch.load(out, map_location="cpu", weights_only=True)
    assert caliper_net.refiner_version(three) == 3
    assert set(three) == set(old)
    for k, v in three.items():
        if k.startswith(caliper_net.PLACE_PREFIX):
            assert torch.equal(v, old[k])
        elif k.startswith("refine."):
            assert torch.equal(v, two[k])
        elif k.startswith("coarse."):
            assert torch.equal(v, heat[k])
    assert caliper_net.CaliperNet(three).refiner_version == 3


def test_grey_points_only_drops_hued_caliper_points_and_keeps_every_negative():
    """``--hued-grey-points``: a caliper point with a coloured pixel within 3 px of the centre
    goes; a white one on grey speckle stays, and so does every negative, coloured or not."""
    c = t.SAMPLE // 2
    patches = np.full((4, t.SAMPLE, t.SAMPLE, 3), 90, np.uint8)
    patches[:, c, c - 3 : c + 4] = (255, 255, 255)  # a white arm through every centre
    patches[0, c + 3, c] = (255, 0, 255)  # a magenta pixel 3 px below: hued
    patches[2, c + 3, c] = (255, 0, 255)
    patches[3, c + 4, c] = (255, 0, 255)  # 4 px off: still grey within 3 px
    kinds = np.array([t.KINDS.index(k) for k in ("point", "point", "map", "point")], np.int8)
    offsets = np.zeros((4, 2), np.float32)
    arrows = np.array([False, True, False, False])
    kept = t.grey_points_only((patches, kinds, offsets, arrows))
    assert kept[1].tolist() == kinds[1:].tolist()
    assert kept[3].tolist() == [True, False, False]
    assert np.array_equal(kept[0], patches[1:])
