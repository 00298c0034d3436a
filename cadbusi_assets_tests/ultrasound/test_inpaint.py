from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound.inpaint import caliper_mask, inpaint_batch, inpaint_calipers
from cadbusi_assets.ultrasound.overlay import chroma, to_grey
from cadbusi_assets_tests.ultrasound.synthetic import WHITE, YELLOW, make_frame

MARKS = [
    (200, 150, "+", YELLOW),
    (420, 330, "x", WHITE),
    (300, 380, "+", WHITE),
    (500, 120, "x", YELLOW),
]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def marked():
    return make_frame(seed=21, calipers=MARKS, jpeg=True)


def test_mask_covers_the_marks_tightly(marked):
    points = marked.caliper_points
    mask = caliper_mask(marked.rgb, points)
    assert mask[marked.caliper_mask].mean() >= 0.99
    # Tight: a few pixels around each stroke, nowhere near the whole window.
    assert mask.sum() <= 12 * marked.caliper_mask.sum()
    assert caliper_mask(marked.rgb, []).sum() == 0


@pytest.mark.parametrize("method", ["auto", "normconv", "telea", "ns"])
def test_inpainting_changes_only_masked_pixels_and_removes_the_marks(marked, method):
    out, mask = inpaint_calipers(marked.rgb, marked.caliper_points, method=method)
    assert np.array_equal(out[~mask], marked.rgb[~mask])
    assert chroma(out)[mask].max() <= 8  # the yellow is gone
    clean = to_grey(marked.clean)[marked.caliper_mask]
    before = psnr(to_grey(marked.rgb)[marked.caliper_mask], clean)
    after = psnr(to_grey(out)[marked.caliper_mask], clean)
    assert after >= before + 8


def test_fill_beats_telea_inside_the_marks():
    frames = [make_frame(seed=s, calipers=MARKS, jpeg=False) for s in (31, 32, 33)]
    scores = {"normconv": [], "telea": []}
    for frame in frames:
        for method in scores:
            out, _ = inpaint_calipers(frame.rgb, frame.caliper_points, method=method)
            scores[method].append(
                psnr(to_grey(out)[frame.caliper_mask], to_grey(frame.clean)[frame.caliper_mask])
            )
    assert np.mean(scores["normconv"]) > np.mean(scores["telea"])


def test_inpainting_is_deterministic(marked):
    a, _ = inpaint_calipers(marked.rgb, marked.caliper_points)
    b, _ = inpaint_calipers(marked.rgb.copy(), list(marked.caliper_points))
    assert np.array_equal(a, b)


def test_torch_batch_matches_the_classical_fill(marked):
    other = make_frame(seed=22, calipers=MARKS[:2])
    grey = to_grey(other.rgb)
    frames = [marked.rgb, grey]
    points = [marked.caliper_points, other.caliper_points]
    batched = inpaint_batch(frames, points, method="torch", device="cpu")
    for frame, pts, got in zip(frames, points, batched, strict=True):
        expected, mask = inpaint_calipers(frame, pts, method="normconv")
        assert got.shape == frame.shape
        assert np.array_equal(got[~mask], frame[~mask])
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_unknown_method_is_refused(marked):
    with pytest.raises(ValueError, match="unknown inpainting method"):
        inpaint_calipers(marked.rgb, marked.caliper_points, method="magic")
