"""Batched normalized convolution with torch: the fill of :mod:`.inpaint` for many windows.

The windows of a batch (every caliper window of many frames) are grouped into size buckets
(height and width rounded up to :data:`BUCKET`), zero-padded to their bucket and stacked, one
plane per channel plus one validity plane per window, so one separable Gaussian blur per
sigma serves the whole bucket (on a GPU: a few kernel launches for hundreds of calipers).
Zero padding of values and weights is OpenCV's constant border in :func:`.inpaint._normconv`.

**Exact, hence deterministic.** The Gaussian kernels are fixed point (integer taps summing to
about ``2**16``) and the data are integers (grey levels times a 0/1 validity), so every
partial sum of the two blur passes is an integer below ``2**53`` and float64 holds it
exactly: the sums do not depend on the order of the additions, the batch a window is part
of, its bucket, the thread count or the device. The one rounding step left is the division
``num / den``, which IEEE 754 defines to the bit on CPUs and GPUs alike. A frame therefore
gives the same bytes alone or in a batch, on the CPU or on CUDA.

**Device.** ``device`` if given, else ``$CADBUSI_INPAINT_DEVICE`` (``cpu``, ``cuda``,
``cuda:1``, or ``auto``), else CUDA when :func:`torch.cuda.is_available`, else the CPU.

**On the CPU** the same sums are taken window by window with OpenCV's separable filter in
float64 (:func:`_normconv_opencv`): exact too (integer data, integer taps), hence the same
bytes as the torch batch, at a fifth of its cost for caliper-sized windows (torch's many
small shifted adds and its per-call overhead dominate there: 1.5 ms against 0.3 ms per
window of the held-out screens, one thread). The torch batch serves CUDA.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

import cv2
import numpy as np

from cadbusi_assets.settings import INPAINT_DEVICE_VAR

#: Environment variable that forces the inpainting device (``cpu``, ``cuda``, ``auto``).
DEVICE_ENV_VAR = INPAINT_DEVICE_VAR
#: Window heights and widths are padded up to a multiple of this (the size buckets).
BUCKET = 16
#: Fixed-point scale of the Gaussian taps (each 1-D kernel sums to about ``2**SCALE_BITS``).
SCALE_BITS = 16
#: At most this many elements (planes x height x width) in one tensor of a bucket.
MAX_ELEMENTS = 1 << 22


def pick_device(device: str | None = None) -> str:
    """``device``, else :data:`DEVICE_ENV_VAR`, else ``"cuda"`` when a GPU is visible, else
    ``"cpu"``. Asking for CUDA where there is none is an error, not a silent CPU run."""
    import torch

    choice = (device or os.environ.get(DEVICE_ENV_VAR, "") or "auto").strip().lower()
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice != "cpu" and not re.fullmatch(r"cuda(:\d+)?", choice):
        raise ValueError(
            f"{DEVICE_ENV_VAR}={choice!r}: use auto (the default), cpu, cuda or cuda:N"
        )
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"inpainting device {choice!r} asked for, but torch sees no CUDA device "
            f"(unset {DEVICE_ENV_VAR} or set it to 'auto' or 'cpu')"
        )
    return choice


def fixed_point_kernel(sigma: float) -> np.ndarray:
    """Integer Gaussian taps (float64) of OpenCV's size for ``sigma``: ``2*ceil(3 sigma)+1``."""
    size = 2 * int(np.ceil(3 * sigma)) + 1
    x = np.arange(size, dtype=np.float64) - size // 2
    k = np.exp(-(x**2) / (2 * sigma * sigma))
    return np.rint(k / k.sum() * (1 << SCALE_BITS))


def _blur(t: Any, taps_x: np.ndarray, taps_y: np.ndarray) -> Any:
    """Separable blur of ``t`` (planes, H, W) with zero border: shifted multiply-adds over a
    zero-padded copy (exact on integer data, so no algorithm choice can change a bit)."""
    import torch.nn.functional as functional

    for axis, taps in ((2, taps_x), (1, taps_y)):  # along the width, then along the height
        radius = len(taps) // 2
        weights = taps.tolist()
        n = t.shape[axis]
        padded = functional.pad(t, (radius, radius) if axis == 2 else (0, 0, radius, radius))
        out = padded.narrow(axis, 0, n) * weights[0]
        for i in range(1, len(weights)):
            out.add_(padded.narrow(axis, i, n), alpha=weights[i])
        t = out
    return t


def _bucket_of(shape: tuple[int, ...]) -> tuple[int, int]:
    return (-(-shape[0] // BUCKET) * BUCKET, -(-shape[1] // BUCKET) * BUCKET)


def _chunks(indices: list[int], planes_of: list[int], area: int) -> list[list[int]]:
    """Split a bucket's windows so that no tensor exceeds :data:`MAX_ELEMENTS`."""
    chunks: list[list[int]] = [[]]
    size = 0
    for i in indices:
        n = (planes_of[i] + 1) * area
        if chunks[-1] and size + n > MAX_ELEMENTS:
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += n
    return chunks


Sigma = float | tuple[float, float]


def _pair(sigma: Sigma) -> tuple[float, float]:
    return (sigma, sigma) if isinstance(sigma, float | int) else (sigma[0], sigma[1])


def normconv_windows(
    windows: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    sigmas: Sequence[Sigma],
    *,
    device: str | None = None,
    min_weight: float = 0.05,
) -> list[np.ndarray]:
    """Locally weighted mean of the unmasked pixels of every window (float64 arrays of the
    windows' shapes; grey windows give 2-D arrays, colour windows one plane per channel).

    ``sigmas`` go from wide to narrow, each one value or ``(along x, along y)``; a narrower
    estimate replaces the wider one wherever its weight sum reaches ``min_weight`` (of a
    fully valid neighbourhood). Only the masked pixels' estimates are meant to be used: the
    passes are computed narrow first, and a wider one only while some masked pixel of the
    window (on CUDA: of the batch's tensor) lacks a trusted estimate (the same result as
    computing them all, for less work: a thin stroke never needs the widest). On the CPU
    window by window with OpenCV (:func:`_normconv_opencv`), else batched with torch
    (:func:`_normconv_torch`): the same bits either way.
    """
    import torch

    dev = torch.device(pick_device(device))
    if dev.type == "cpu":
        return _normconv_opencv(windows, masks, sigmas, min_weight)
    return _normconv_torch(windows, masks, sigmas, dev, min_weight)


def _kernels(
    sigmas: Sequence[Sigma], min_weight: float
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[float]]:
    """The fixed-point taps ``(along x, along y)`` of ``sigmas`` narrow first, and the weight
    sum each pass must reach to be trusted."""
    narrow_first = [_pair(s) for s in reversed(sigmas)]
    kernels = [(fixed_point_kernel(sx), fixed_point_kernel(sy)) for sx, sy in narrow_first]
    thresholds = [min_weight * float(kx.sum()) * float(ky.sum()) for kx, ky in kernels]
    return kernels, thresholds


def _normconv_opencv(
    windows: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    sigmas: Sequence[Sigma],
    min_weight: float,
) -> list[np.ndarray]:
    """:func:`normconv_windows` window by window with OpenCV (float64, zero border): the
    same integer sums as :func:`_normconv_torch`, the same division, so the same bits."""
    kernels, thresholds = _kernels(sigmas, min_weight)
    results: list[np.ndarray] = []
    for window, mask in zip(windows, masks, strict=True):
        unknown = np.asarray(mask, bool)
        valid = (~unknown).astype(np.float64)
        values = window.astype(np.float64)
        values *= valid[..., None] if values.ndim == 3 else valid
        # Masked pixels still without a trusted estimate.
        pending = unknown
        result: np.ndarray | None = None
        for k, ((taps_x, taps_y), threshold) in enumerate(zip(kernels, thresholds, strict=True)):
            num = cv2.sepFilter2D(
                values, cv2.CV_64F, taps_x, taps_y, borderType=cv2.BORDER_CONSTANT
            )
            den = cv2.sepFilter2D(valid, cv2.CV_64F, taps_x, taps_y, borderType=cv2.BORDER_CONSTANT)
            divisor = np.maximum(den, 1.0)
            estimate = num / (divisor[..., None] if num.ndim == 3 else divisor)
            if result is None:
                result = estimate
            else:
                np.copyto(result, estimate, where=pending[..., None] if num.ndim == 3 else pending)
            pending = pending & (den < threshold)
            if k + 1 < len(kernels) and not pending.any():
                break
        assert result is not None
        results.append(result)
    return results


def _normconv_torch(
    windows: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    sigmas: Sequence[Sigma],
    dev: Any,
    min_weight: float,
) -> list[np.ndarray]:
    """:func:`normconv_windows` as one batched torch computation per size bucket on ``dev``."""
    import torch

    kernels, thresholds = _kernels(sigmas, min_weight)
    planes_of = [1 if w.ndim == 2 else w.shape[2] for w in windows]
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, window in enumerate(windows):
        buckets[_bucket_of(window.shape)].append(i)
    results: list[np.ndarray | None] = [None] * len(windows)
    with torch.inference_mode():
        for (height, width), members in sorted(buckets.items()):
            for chunk in _chunks(members, planes_of, height * width):
                n_planes = sum(planes_of[i] for i in chunk)
                stack = np.zeros((n_planes + len(chunk), height, width), np.float64)
                owner = np.empty(n_planes, np.int64)
                unknown = np.zeros((len(chunk), height, width), bool)
                p = 0
                for slot, i in enumerate(chunk):
                    window, h, w = windows[i], *windows[i].shape[:2]
                    valid = ~np.asarray(masks[i], bool)
                    channels = window[..., None] if window.ndim == 2 else window
                    stack[n_planes + slot, :h, :w] = valid
                    unknown[slot, :h, :w] = ~valid
                    for c in range(planes_of[i]):
                        stack[p, :h, :w] = np.where(valid, channels[..., c], 0)
                        owner[p] = slot
                        p += 1
                t = torch.from_numpy(stack).to(dev)
                owner_t = torch.from_numpy(owner).to(dev)
                # Masked pixels still without a trusted estimate (one plane per window).
                pending = torch.from_numpy(unknown).to(dev)
                result = None
                for k, ((taps_x, taps_y), threshold) in enumerate(
                    zip(kernels, thresholds, strict=True)
                ):
                    blurred = _blur(t, taps_x, taps_y)
                    num = blurred[:n_planes]
                    den_w = blurred[n_planes:]
                    den = den_w.index_select(0, owner_t)
                    estimate = num / den.clamp_min(1.0)
                    result = (
                        estimate
                        if result is None
                        else torch.where(pending.index_select(0, owner_t), estimate, result)
                    )
                    pending &= den_w < threshold
                    if k + 1 < len(kernels) and not bool(pending.any()):
                        break
                assert result is not None
                out = result.cpu().numpy()
                p = 0
                for i in chunk:
                    h, w = windows[i].shape[:2]
                    planes = out[p : p + planes_of[i], :h, :w]
                    p += planes_of[i]
                    results[i] = planes[0] if windows[i].ndim == 2 else np.moveaxis(planes, 0, -1)
    assert all(r is not None for r in results)
    return cast(list[np.ndarray], results)
