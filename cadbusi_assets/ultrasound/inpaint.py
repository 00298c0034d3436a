"""Caliper removal: a tight mask from the detected points, then a local fill.

The mask of each mark is the overlay pixels lying on the mark's own strokes ('+' or 'x',
arm length measured from the image), plus the colour halo that JPEG chroma subsampling
leaves around a coloured mark, dilated by one pixel. Pixels outside the mask never change.

Fill methods (all work on a small window around each point, never on the whole frame):

* ``"normconv"`` (the default, also ``"auto"``): normalized Gaussian convolution, i.e. the
  locally weighted mean of the unmasked neighbours (sigma 1.5 px, 4 px where the mask is
  wide). Speckle under a stroke cannot be recovered; its best estimate in the mean-square
  sense is the local mean, which is what this gives (TELEA copies noisy edge pixels inward).
* ``"telea"`` / ``"ns"``: OpenCV ``cv2.inpaint``.
* ``"torch"``: the normalized convolution on batched windows with torch (GPU when present),
  see :func:`inpaint_batch`.

>>> import numpy as np
>>> frame = np.full((40, 40), 90, np.uint8)
>>> frame[20, 14:27] = 255; frame[14:27, 20] = 255
>>> out, mask = inpaint_calipers(frame, [(20, 20)])
>>> int(out[20, 20]), bool(mask[20, 20]), bool(mask[5, 5])
(90, True, False)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from cadbusi_assets.ultrasound.calipers import arm_length
from cadbusi_assets.ultrasound.overlay import chroma, overlay_candidates, to_grey

#: Half-size of the window searched around a caliper point.
REACH = 20
#: Extra context around the window for the fill.
CONTEXT = 8
SIGMA_NEAR = 1.5
SIGMA_FAR = 4.0
#: Chroma above which a pixel near a coloured mark belongs to its JPEG halo.
HALO_CHROMA = 12
METHODS = ("auto", "normconv", "telea", "ns", "torch")

Point = Sequence[int]


def _window(shape: tuple[int, ...], x: int, y: int, half: int) -> tuple[int, int, int, int]:
    height, width = shape[:2]
    return max(0, x - half), max(0, y - half), min(width, x + half + 1), min(height, y + half + 1)


def _mark_mask(
    frame: np.ndarray, grey: np.ndarray, x: int, y: int
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Mask of one mark in its window (uint8 0/1) and the window (x0, y0, x1, y1 exclusive)."""
    wx0, wy0, wx1, wy1 = _window(frame.shape, x, y, REACH + 8)
    sub = frame[wy0:wy1, wx0:wx1]
    candidates = overlay_candidates(sub, grey[wy0:wy1, wx0:wx1])
    cx, cy = x - wx0, y - wy0
    arms = {style: arm_length(candidates, cx, cy, style, limit=REACH) for style in ("+", "x")}
    style = "+" if arms["+"] >= arms["x"] else "x"
    arm = max(3, arms[style])
    model = np.zeros(candidates.shape, np.uint8)
    if style == "+":
        cv2.line(model, (cx - arm, cy), (cx + arm, cy), 1, 1)
        cv2.line(model, (cx, cy - arm), (cx, cy + arm), 1, 1)
    else:
        cv2.line(model, (cx - arm, cy - arm), (cx + arm, cy + arm), 1, 1)
        cv2.line(model, (cx - arm, cy + arm), (cx + arm, cy - arm), 1, 1)
    band = cv2.dilate(model, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    mask = (candidates & band) | model
    if sub.ndim == 3:
        halo_band = cv2.dilate(band, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3)))
        mask |= (chroma(sub) >= HALO_CHROMA).astype(np.uint8) & halo_band
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    return mask, (wx0, wy0, wx1, wy1)


def caliper_mask(
    frame: np.ndarray, caliper_points: Sequence[Point], grey: np.ndarray | None = None
) -> np.ndarray:
    """Boolean full-frame mask of the caliper marks at ``caliper_points``."""
    grey = to_grey(frame) if grey is None else grey
    full = np.zeros(frame.shape[:2], bool)
    for point in caliper_points:
        x, y = int(point[0]), int(point[1])
        if not (0 <= x < frame.shape[1] and 0 <= y < frame.shape[0]):
            continue
        mask, (wx0, wy0, wx1, wy1) = _mark_mask(frame, grey, x, y)
        full[wy0:wy1, wx0:wx1] |= mask.astype(bool)
    return full


def gaussian_kernel(sigma: float) -> np.ndarray:
    size = 2 * int(np.ceil(3 * sigma)) + 1
    return cv2.getGaussianKernel(size, sigma, cv2.CV_32F).ravel()


def _normconv(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Locally weighted mean of the valid pixels (float32, same shape as ``values``)."""
    valid_f = valid.astype(np.float32)
    weighted = values.astype(np.float32) * (valid_f[..., None] if values.ndim == 3 else valid_f)
    out = None
    for sigma in (SIGMA_FAR, SIGMA_NEAR):
        k = gaussian_kernel(sigma)
        num = cv2.sepFilter2D(weighted, cv2.CV_32F, k, k, borderType=cv2.BORDER_CONSTANT)
        den = cv2.sepFilter2D(valid_f, cv2.CV_32F, k, k, borderType=cv2.BORDER_CONSTANT)
        if num.ndim == 3:
            den = den[..., None]
        estimate = num / np.maximum(den, 1e-6)
        if out is None:
            out = estimate
        else:
            trusted = den >= 0.05
            out = np.where(trusted, estimate, out)
    assert out is not None
    return out


def _fill_window(window: np.ndarray, mask: np.ndarray, method: str) -> np.ndarray:
    if method in ("telea", "ns"):
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        return cv2.inpaint(window, mask.astype(np.uint8), 3, flag)
    estimate = _normconv(window, mask == 0)
    return np.clip(np.rint(estimate), 0, 255).astype(np.uint8)


def _neutralize(frame: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Make filled pixels grey when the unmasked surroundings are grey (up to JPEG noise)."""
    if filled.ndim != 3:
        return filled
    around = frame[mask == 0]
    if around.size and float(np.mean(chroma(around[None, :, :]) > 8)) <= 0.05:
        grey = cv2.cvtColor(filled, cv2.COLOR_RGB2GRAY)
        filled = np.repeat(grey[..., None], 3, axis=2)
    return filled


def inpaint_calipers(
    frame: np.ndarray,
    caliper_points: Sequence[Point],
    *,
    method: str = "auto",
    device: str | None = None,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(inpainted copy, boolean mask)``; pixels outside the mask are unchanged.

    ``mask`` overrides the mask derived from the points (e.g. a known overlay mask).
    """
    if method not in METHODS:
        raise ValueError(f"unknown inpainting method {method!r}; choose one of {METHODS}")
    full_mask = caliper_mask(frame, caliper_points) if mask is None else mask.astype(bool)
    if method == "torch":
        return inpaint_batch([frame], [caliper_points], device=device, masks=[full_mask])[
            0
        ], full_mask
    method = "normconv" if method == "auto" else method
    out = frame.copy()
    if not full_mask.any():
        return out, full_mask
    labels_count, _, stats, _ = cv2.connectedComponentsWithStats(
        cv2.dilate(full_mask.astype(np.uint8), np.ones((2 * CONTEXT + 1,) * 2, np.uint8)),
        connectivity=8,
    )
    for label in range(1, labels_count):
        x, y, w, h = stats[label, :4]
        window = out[y : y + h, x : x + w]
        window_mask = full_mask[y : y + h, x : x + w]
        filled = _neutralize(window, _fill_window(window, window_mask, method), window_mask)
        window[window_mask] = filled[window_mask]
    return out, full_mask


def inpaint_batch(
    frames: Sequence[np.ndarray],
    points: Sequence[Sequence[Point]],
    *,
    method: str = "torch",
    device: str | None = None,
    masks: Sequence[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Inpaint many frames at once; ``method="torch"`` batches all windows on one device.

    The device is ``device`` or, when None, CUDA when available, else the CPU. Other methods
    fall back to :func:`inpaint_calipers` frame by frame.
    """
    if method != "torch":
        return [
            inpaint_calipers(f, p, method=method, mask=None if masks is None else masks[i])[0]
            for i, (f, p) in enumerate(zip(frames, points, strict=True))
        ]
    from cadbusi_assets.ultrasound.inpaint_torch import normconv_windows

    outputs = [f.copy() for f in frames]
    jobs: list[tuple[int, int, int, np.ndarray, np.ndarray]] = []
    for i, frame in enumerate(frames):
        full_mask = caliper_mask(frame, points[i]) if masks is None else masks[i].astype(bool)
        if not full_mask.any():
            continue
        count, _, stats, _ = cv2.connectedComponentsWithStats(
            cv2.dilate(full_mask.astype(np.uint8), np.ones((2 * CONTEXT + 1,) * 2, np.uint8)),
            connectivity=8,
        )
        for label in range(1, count):
            x, y, w, h = (int(v) for v in stats[label, :4])
            jobs.append((i, x, y, frame[y : y + h, x : x + w], full_mask[y : y + h, x : x + w]))
    if not jobs:
        return outputs
    estimates = normconv_windows(
        [job[3] for job in jobs], [job[4] for job in jobs], (SIGMA_FAR, SIGMA_NEAR), device=device
    )
    for (i, x, y, window, window_mask), estimate in zip(jobs, estimates, strict=True):
        filled = np.clip(np.rint(estimate), 0, 255).astype(np.uint8)
        filled = _neutralize(window, filled, window_mask)
        target = outputs[i][y : y + window.shape[0], x : x + window.shape[1]]
        target[window_mask] = filled[window_mask]
    return outputs
