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
