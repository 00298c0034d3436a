from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import torch

from cadbusi_assets.ultrasound import inpaint_torch
from cadbusi_assets.ultrasound.inpaint import (
    SIGMAS,
    CaliperMasks,
    _job,
    _masks_for,
    _windows,
    caliper_mask,
    caliper_masks,
    inpaint_batch,
    inpaint_calipers,
    inpaint_frames,
)
from cadbusi_assets.ultrasound.inpaint_torch import DEVICE_ENV_VAR, pick_device
from cadbusi_assets.ultrasound.overlay import chroma, to_grey
from cadbusi_assets.ultrasound.png import encode_png
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


@pytest.mark.parametrize("method", ["auto", "torch", "normconv", "telea", "ns"])
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
    scores: dict[str, list[float]] = {"torch": [], "normconv": [], "telea": []}
    for frame in frames:
        for method in scores:
            out, _ = inpaint_calipers(frame.rgb, frame.caliper_points, method=method)
            scores[method].append(
                psnr(to_grey(out)[frame.caliper_mask], to_grey(frame.clean)[frame.caliper_mask])
            )
    assert np.mean(scores["normconv"]) > np.mean(scores["telea"])
    assert np.mean(scores["torch"]) > np.mean(scores["telea"])
    assert abs(np.mean(scores["torch"]) - np.mean(scores["normconv"])) < 0.05


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


@pytest.fixture(scope="module")
def batch(marked):
    """Frames of different sizes and kinds: colour JPEG, grey, no calipers, a large known
    mask (a window far bigger than a caliper's), a small frame."""
    other = make_frame(seed=22, calipers=MARKS[:2])
    small = make_frame(
        seed=23, size=(240, 320), box=(40, 30, 279, 209), calipers=[(100, 100, "x", WHITE)]
    )
    plain = make_frame(seed=24)
    wide = np.zeros(plain.rgb.shape[:2], bool)
    wide[150:230, 200:420] = True
    frames = [marked.rgb, to_grey(other.rgb), plain.rgb, small.rgb, plain.rgb]
    points = [marked.caliper_points, other.caliper_points, [], small.caliper_points, []]
    masks = [None, None, None, None, wide]
    return frames, points, masks


def test_a_frame_gives_the_same_bytes_alone_and_in_a_batch(batch):
    frames, points, masks = batch
    together = inpaint_frames(frames, points, masks=masks, device="cpu")
    for frame, pts, mask, (got, got_mask) in zip(frames, points, masks, together, strict=True):
        alone, alone_mask = inpaint_frames([frame], [pts], masks=[mask], device="cpu")[0]
        assert np.array_equal(got, alone) and np.array_equal(got_mask, alone_mask)
    # another order and batches split into several tensors change nothing either
    reverse = inpaint_frames(frames[::-1], points[::-1], masks=masks[::-1], device="cpu")
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(together, reverse[::-1], strict=True))


def _fill_windows(batch) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The windows (values, pixels to fill) :func:`inpaint_frames` hands the fill for
    ``batch``, plus random ones: every size, grey and colour, masks on the edges, a window
    masked whole, a window without a masked pixel."""
    frames, points, masks = batch
    windows, unknown = [], []
    for frame, pts, mask in zip(frames, points, masks, strict=True):
        found = _masks_for(frame, pts, mask)
        for box in _windows(found.union):
            job = _job(frame, found, 0, box)
            windows.append(job.values)
            unknown.append(job.unknown)
    rng = np.random.default_rng(7)
    for k in range(24):
        h, w = int(rng.integers(1, 70)), int(rng.integers(1, 90))
        shape = (h, w) if k % 2 else (h, w, 3)
        windows.append(rng.integers(0, 256, shape, dtype=np.uint8))
        unknown.append(rng.random((h, w)) < (0.05, 0.3, 0.9, 1.0, 0.0)[k % 5])
    return windows, unknown


def test_the_cpu_fill_gives_the_torch_batch_bytes(batch):
    """On the CPU the fill is OpenCV's, window by window; the torch batch (CUDA's path, run
    here on the CPU) gives the same bits, masked pixels and all others alike."""
    windows, unknown = _fill_windows(batch)
    opencv = inpaint_torch.normconv_windows(windows, unknown, SIGMAS, device="cpu")
    batched = inpaint_torch._normconv_torch(windows, unknown, SIGMAS, torch.device("cpu"), 0.05)
    for window, a, b in zip(windows, opencv, batched, strict=True):
        assert a.shape == b.shape == window.shape and a.dtype == b.dtype == np.float64
        assert np.array_equal(a, b)


def test_a_bucket_split_into_several_tensors_gives_the_same_bytes(batch, monkeypatch):
    windows, unknown = _fill_windows(batch)
    cpu = torch.device("cpu")
    whole = inpaint_torch._normconv_torch(windows, unknown, SIGMAS, cpu, 0.05)
    monkeypatch.setattr(inpaint_torch, "MAX_ELEMENTS", 4096)
    split = inpaint_torch._normconv_torch(windows, unknown, SIGMAS, cpu, 0.05)
    assert all(np.array_equal(a, b) for a, b in zip(whole, split, strict=True))


def test_batched_torch_changes_only_masked_pixels(batch):
    frames, points, masks = batch
    for frame, (out, mask) in zip(frames, inpaint_frames(frames, points, masks=masks), strict=True):
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert np.array_equal(out[~mask], frame[~mask])
    assert not inpaint_frames(frames[2:3], [[]])[0][1].any()  # no calipers: nothing changes
    assert inpaint_frames([], []) == []


def test_torch_is_the_default_and_gives_the_same_png_every_time(batch):
    frames, points, masks = batch

    def digests() -> list[str]:
        done = inpaint_frames(frames, points, masks=masks)
        return [hashlib.sha256(encode_png(out)).hexdigest() for out, _ in done]

    first = digests()
    assert digests() == first
    explicit = inpaint_frames(frames, points, masks=masks, method="torch", device="cpu")
    assert first == [hashlib.sha256(encode_png(out)).hexdigest() for out, _ in explicit]


def test_the_cpu_is_used_when_there_is_no_cuda(monkeypatch, marked):
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == "cpu"
    out, mask = inpaint_calipers(marked.rgb, marked.caliper_points)  # runs without a GPU
    assert mask.any() and np.array_equal(out[~mask], marked.rgb[~mask])
    with pytest.raises(ValueError, match="no CUDA device"):
        pick_device("cuda")
    monkeypatch.setenv(DEVICE_ENV_VAR, "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        inpaint_calipers(marked.rgb, marked.caliper_points)


def test_cuda_is_picked_when_present_unless_the_cpu_is_forced(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == "cuda"
    monkeypatch.setenv(DEVICE_ENV_VAR, "cpu")
    assert pick_device() == "cpu"
    assert pick_device("cuda:1") == "cuda:1"  # an explicit argument wins over the variable


@pytest.mark.parametrize("value", ["gpu", "cuda1", "mps", "cpu0"])
def test_an_unknown_device_is_an_error_naming_the_variable(monkeypatch, value):
    """Before, torch's own RuntimeError listed every device type torch knows of."""
    monkeypatch.setenv(DEVICE_ENV_VAR, value)
    with pytest.raises(ValueError, match=f"{DEVICE_ENV_VAR}='{value}': use auto"):
        pick_device()


# CUDA = CPU bytes is checked on a GPU machine by `python -m benchmarks.inpaint_speed`
# (`torch_batched_cuda`); this suite runs where there is none and skips nothing.


def _white_ellipse_frame(with_trace: bool = True):
    """Two white '+' marks, optionally a dotted ellipse trace through them, and scattered
    2x2 white blobs (saturated speckle) inside the circle over the pair, away from the
    trace and from the marks."""
    rng = np.random.default_rng(5)
    frame = np.full((220, 320), 60, np.uint8)
    p, q = (90, 110), (230, 110)
    for x, y in (p, q):
        frame[y, x - 6 : x + 7] = 255
        frame[y - 6 : y + 7, x] = 255
    a, b = 70.0, 35.0
    theta = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    ex, ey = (
        np.rint(160 + a * np.cos(theta)).astype(int),
        np.rint(110 + b * np.sin(theta)).astype(int),
    )
    keep = (np.hypot(ex - p[0], ey - p[1]) > 9) & (np.hypot(ex - q[0], ey - q[1]) > 9)
    dots = list(zip(ex[keep], ey[keep], strict=True))
    if with_trace:
        for x, y in dots:
            frame[y, x] = 255
    blobs = []
    while len(blobs) < 30:
        x, y = (int(v) for v in rng.integers((100, 45), (220, 175)))
        off_trace = abs(np.hypot((x - 160) / a, (y - 110) / b) - 1) > 0.2
        if off_trace and min(np.hypot(x - p[0], y - p[1]), np.hypot(x - q[0], y - q[1])) > 35:
            frame[y : y + 2, x : x + 2] = 255
            blobs.append((x, y))
    return frame, [p, q], dots, blobs


@pytest.mark.parametrize("with_trace", [True, False])
def test_white_dots_follow_a_trace_not_scattered_speckle(with_trace):
    frame, points, dots, blobs = _white_ellipse_frame(with_trace)
    mask = caliper_mask(frame, points)
    if with_trace:
        assert all(mask[y, x] for x, y in dots)  # the ellipse trace is taken
    assert sum(bool(mask[y, x]) for x, y in blobs) <= 2  # the scattered blobs are not


def test_bright_speckle_tinted_by_a_coloured_mark_keeps_its_grey_level():
    """A cyan mark over bright speckle: JPEG bleeds its colour into the speckle around it
    (here every pixel within 2 px, more of them than the mark's own), and those pixels join
    the mark's coloured component, but they keep their own grey level, not the mark's: they
    lose the tint and keep their level; the mark's own pixels are filled."""
    frame = np.full((200, 200, 3), 80, np.uint8)
    frame[84:117, 84:117] = 230  # bright speckle under the mark
    mark = np.zeros((200, 200), bool)
    mark[100, 94:107] = mark[94:107, 100] = True
    tinted = cv2.dilate(mark.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~mark
    frame[tinted] = (200, 245, 245)
    frame[mark] = (0, 255, 255)
    assert tinted.sum() > 2 * mark.sum()
    masks = caliper_masks(frame, [(100, 100)])
    assert masks.fill[mark].all()
    assert not (masks.fill & tinted).any() and masks.recolour[tinted].all()
    out, _ = inpaint_calipers(frame, [(100, 100)])
    assert chroma(out)[tinted].max() <= 8
    assert np.abs(to_grey(out)[tinted].astype(int) - int(to_grey(frame)[98, 98])).max() <= 2


def test_the_masks_box_holds_every_masked_pixel_and_changes_nothing(batch):
    """:func:`caliper_masks` says where its masks can be set (the full-frame work stays
    there); the same masks without that box give the same union and the same bytes."""
    frames, points, _ = batch
    for frame, pts in zip(frames, points, strict=True):
        masks = caliper_masks(frame, pts)
        assert masks.box is not None
        x0, y0, x1, y1 = masks.box
        outside = masks.fill | masks.recolour
        outside[y0:y1, x0:x1] = False
        assert not outside.any()
        boxless = CaliperMasks(masks.fill, masks.recolour)
        assert np.array_equal(masks.union, boxless.union)
        (a, mask_a), (b, mask_b) = inpaint_frames([frame, frame], [pts, []], masks=[masks, boxless])
        assert np.array_equal(a, b) and np.array_equal(mask_a, mask_b)
        assert (not pts) or mask_a.any()
