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


def test_mined_centres_are_negatives_at_false_points_and_positives_at_missed_points():
    """``--mine-detector``: one screen's samples from the full detector's points. A false
    point (and the heat-map point nearest it) gives negatives; a caliper point the refiner
    refused and one placed 3 px off give positives; a found point, a second mark beside a
    caliper point and a miss the refiner did not refuse give none."""
    truth = [(50.0, 50.0), (100.4, 99.6), (150.0, 150.0), (30.0, 120.0)]
    found = [(50, 50), (57, 50), (153, 150), (200, 200)]
    refused = {(100.4, 99.6)}
    centres = t.mined_centres(
        truth, found, lambda x, y: (x, y) in refused, heat=[(203, 200), (50, 51), (20, 20)]
    )
    false, point = t.KINDS.index("mined_false"), t.KINDS.index("mined_point")
    assert sorted(c[:3] for c in centres if c[2] == false) == [(200, 200, false), (203, 200, false)]
    positives = sorted((c[0], c[1], c[3]) for c in centres if c[2] == point)
    assert [(x, y) for x, y, _ in positives] == [(100, 100), (150, 150)]
    assert np.allclose(positives[0][2], (0.4, -0.4)) and positives[1][2] == (0.0, 0.0)


def test_detector_mining_cuts_samples_at_false_and_refused_points_of_tuning_screens(monkeypatch):
    """A tiny ``--mine-detector`` run: a detector that drops each screen's first caliper point
    and adds a false one far from every mark gives a negative patch centred on the false
    point and a positive centred on the dropped one (the refiner said to refuse it), cut from
    the frame it searched; only tuning families are searched. The real detector on one
    screen a family gives samples of the mined kinds only."""
    from cadbusi_demo import screens_heldout as gen

    seen: list[str] = []
    planted: list[tuple[np.ndarray, tuple[int, int], tuple[int, int] | None]] = []

    def detect(screen):
        seen.append(screen.family)
        box = screen.fov_box
        truth = [(round(x), round(y)) for x, y in screen.calipers]
        false = next(
            (x, y)
            for y in range(box[1] + 20, box[3] - 20, 7)
            for x in range(box[0] + 20, box[2] - 20, 7)
            if all(np.hypot(x - tx, y - ty) > 30 for tx, ty in truth)
        )
        planted.append((screen.frame, false, truth[0] if truth else None))
        return screen.frame, box, [*truth[1:], false]

    monkeypatch.setattr(t, "_refused", lambda net, crop, x, y: True)
    patches, kinds, offsets, arrows = t.render_detector_samples(1, 0, detect=detect)
    assert seen == list(gen.TUNING_FAMILIES)
    assert len(patches) == len(kinds) == len(offsets) == len(arrows)
    false, point = t.KINDS.index("mined_false"), t.KINDS.index("mined_point")
    assert set(kinds.tolist()) <= {false, point}
    dropped = [(f, d) for f, _, d in planted if d is not None]  # screens with caliper points
    assert (kinds == point).sum() == len(dropped) > 0
    c = t.SAMPLE // 2

    def around(frame: np.ndarray, x: int, y: int) -> np.ndarray:
        return frame[y - 3 : y + 4, x - 3 : x + 4]

    for (frame, (tx, ty)), positive in zip(dropped, patches[kinds == point], strict=True):
        assert np.array_equal(positive[c - 3 : c + 4, c - 3 : c + 4], around(frame, tx, ty))
    negatives = patches[kinds == false]
    for frame, (fx, fy), _ in planted:
        assert any(
            np.array_equal(n[c - 3 : c + 4, c - 3 : c + 4], around(frame, fx, fy))
            for n in negatives
        )
    monkeypatch.undo()
    real = t.render_detector_samples(1, 0)
    assert set(real[1].tolist()) <= {false, point}
    assert real[0].shape[1:] == (t.SAMPLE, t.SAMPLE, 3)


def test_mined_samples_are_a_fixed_share_of_each_refiner_batch(monkeypatch):
    """With ``--mine-detector``'s samples, MINED_SHARE of every batch is drawn from them, half
    refused caliper points (trained as positives), half false points and near misses (as
    negatives)."""
    from cadbusi_assets.ultrasound import caliper_net

    kinds = np.array([k % len(t.KINDS) for k in range(64)], np.int8)
    images = np.zeros((64, t.SAMPLE, t.SAMPLE, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(64)  # each sample's index in its corner
    drawn: list[int] = []
    patches = caliper_net.patches

    def spy(image, centres, version=1):
        drawn.append(int(image[0, 0, 0]))
        return patches(image, centres, version)

    monkeypatch.setattr(caliper_net, "patches", spy)
    steps, batch = 3, 32
    t.train_refiner_v2(
        (images, kinds, np.zeros((64, 2), np.float32), np.zeros(64, bool)), steps, batch, 0
    )
    counts = np.bincount(kinds[drawn], minlength=len(t.KINDS))
    share = round(batch * t.MINED_SHARE) // 2 * steps
    negatives = counts[t.KINDS.index("mined_false")] + counts[t.KINDS.index("mined_near")]
    assert counts[t.KINDS.index("mined_point")] == negatives == share
    assert counts[t.KINDS.index("mined_false")] and counts[t.KINDS.index("mined_near")]
    assert counts[t.KINDS.index("point")] == (batch // 2) * steps - share


def test_near_misses_are_heat_points_away_from_marks_the_refiner_leans_to():
    """``--mine-near``: of the heat-map points, those farther than REFINE_AWAY px from every
    caliper point and from the samples already taken that the verdict refiner gives at least
    MINED_NEAR, the likeliest MINED_NEAR_MAX, become ``mined_near`` negatives."""
    from cadbusi_assets.ultrasound.caliper_net import NetPoint

    probs = {
        (10, 10): 0.9,
        (40, 10): 0.3,
        (70, 10): 0.6,
        (100, 10): 0.99,
        (130, 10): 0.7,
        (160, 10): 0.8,
        (200, 200): 0.95,
        (103, 12): 0.97,
    }

    class Net:
        def refine(self, crop, points, place=None, place_above=0.0):
            assert place is not None and not any(place) and place_above > 1.0  # no placer
            return [NetPoint(x, y, probs[(x, y)]) for x, y in points]

    truth = [(203.0, 203.0)]
    taken = [(103, 12, t.KINDS.index("mined_false"), (0.0, 0.0))]
    near = t._near_misses(Net(), np.zeros((300, 300, 3), np.uint8), list(probs), truth, taken)
    kind = t.KINDS.index("mined_near")
    assert t.MINED_NEAR_MAX == 4 and t.MINED_NEAR == 0.5
    assert near == [
        (x, y, kind, (0.0, 0.0)) for x, y in ((100, 10), (10, 10), (160, 10), (130, 10))
    ]
