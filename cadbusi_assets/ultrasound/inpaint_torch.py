"""Batched normalized convolution with torch (imported only when this path is used).

All windows are zero-padded to one size and stacked (one sample per channel), so a single
separable convolution per sigma serves the whole batch; on a GPU that is one kernel launch
for hundreds of calipers. Zero padding of both the values and the validity weights gives
the same result as OpenCV's constant border in :mod:`cadbusi_assets.ultrasound.inpaint`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pick_device(device: str | None = None) -> str:
    """``device`` if given, else ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _kernel(sigma: float) -> np.ndarray:
    size = 2 * int(np.ceil(3 * sigma)) + 1
    x = np.arange(size, dtype=np.float64) - size // 2
    k = np.exp(-(x**2) / (2 * sigma * sigma))
    return (k / k.sum()).astype(np.float32)


def normconv_windows(
    windows: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    sigmas: Sequence[float],
    *,
    device: str | None = None,
    min_weight: float = 0.05,
) -> list[np.ndarray]:
    """Locally weighted mean of the unmasked pixels of every window (float32 arrays).

    ``sigmas`` go from wide to narrow; a narrower estimate replaces the wider one wherever
    its weight sum reaches ``min_weight``.
    """
    import torch
    import torch.nn.functional as functional

    dev = torch.device(pick_device(device))
    height = max(w.shape[0] for w in windows)
    width = max(w.shape[1] for w in windows)
    planes: list[np.ndarray] = []
    valids: list[np.ndarray] = []
    owners: list[tuple[int, int]] = []
    for index, (window, mask) in enumerate(zip(windows, masks, strict=True)):
        channels = window[..., None] if window.ndim == 2 else window
        valid = np.zeros((height, width), np.float32)
        valid[: mask.shape[0], : mask.shape[1]] = ~mask.astype(bool)
        for channel in range(channels.shape[2]):
            plane = np.zeros((height, width), np.float32)
            plane[: window.shape[0], : window.shape[1]] = channels[..., channel]
            planes.append(plane)
            valids.append(valid)
            owners.append((index, channel))
    with torch.inference_mode():
        values = torch.from_numpy(np.stack(planes)[:, None]).to(dev)
        weight = torch.from_numpy(np.stack(valids)[:, None]).to(dev)
        weighted = values * weight
        result = None
        for sigma in sigmas:
            k = torch.from_numpy(_kernel(sigma)).to(dev)
            pad = k.numel() // 2
            kx, ky = k.view(1, 1, 1, -1), k.view(1, 1, -1, 1)

            def blur(t, kx=kx, ky=ky, pad=pad):
                return functional.conv2d(
                    functional.conv2d(t, kx, padding=(0, pad)), ky, padding=(pad, 0)
                )

            num, den = blur(weighted), blur(weight)
            estimate = num / den.clamp_min(1e-6)
            result = (
                estimate if result is None else torch.where(den >= min_weight, estimate, result)
            )
        assert result is not None
        out = result[:, 0].float().cpu().numpy()
    results: list[np.ndarray] = []
    for index, window in enumerate(windows):
        h, w = window.shape[:2]
        rows = [out[i, :h, :w] for i, (owner, _) in enumerate(owners) if owner == index]
        results.append(rows[0] if window.ndim == 2 else np.stack(rows, axis=-1))
    return results
