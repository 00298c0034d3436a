"""Small preview PNGs for Dagster metadata, made only from de-identified pixels."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

RED = np.array([200, 30, 30], dtype=np.float32)


def _rgb(frame: np.ndarray) -> np.ndarray:
    return np.stack([frame] * 3, axis=-1) if frame.ndim == 2 else frame[..., :3]


def side_by_side(panels: Sequence[np.ndarray], max_width: int = 640) -> bytes:
    """Panels next to each other (8 px white gap), scaled to ``max_width``, as PNG bytes."""
    height = max(p.shape[0] for p in panels)
    parts = []
    for i, panel in enumerate(panels):
        rgb = _rgb(panel)
        if rgb.shape[0] < height:
            rgb = np.pad(rgb, ((0, height - rgb.shape[0]), (0, 0), (0, 0)))
        parts.append(rgb)
        if i < len(panels) - 1:
            parts.append(np.full((height, 8, 3), 255, np.uint8))
    image = Image.fromarray(np.concatenate(parts, axis=1).astype(np.uint8))
    scale = min(1.0, max_width / image.width)
    if scale < 1.0:
        image = image.resize(
            (max(1, int(image.width * scale)), max(1, int(image.height * scale))),
            Image.Resampling.BILINEAR,
        )
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def deidentification_preview(frame: np.ndarray, blanked: np.ndarray) -> bytes:
    """Left: the de-identified frame with the removed area tinted red; right: the result."""
    rgb = _rgb(frame).astype(np.float32)
    marked = rgb.copy()
    marked[blanked] = marked[blanked] * 0.3 + RED * 0.7
    return side_by_side([marked.astype(np.uint8), rgb.astype(np.uint8)])


def inpainting_preview(
    frame: np.ndarray,
    inpainted: np.ndarray,
    points: Sequence[Sequence[int]],
    crop: Sequence[int] | None = None,
) -> bytes:
    """Before (detected calipers circled) and after inpainting, cropped to the field of view."""
    before = Image.fromarray(_rgb(frame).astype(np.uint8))
    draw = ImageDraw.Draw(before)
    for x, y in points:
        draw.ellipse((x - 10, y - 10, x + 10, y + 10), outline=(255, 40, 40), width=2)
    before_arr, after_arr = np.asarray(before), _rgb(inpainted)
    if crop:
        x0, y0, x1, y1 = (int(v) for v in crop)
        before_arr, after_arr = (
            before_arr[y0 : y1 + 1, x0 : x1 + 1],
            after_arr[y0 : y1 + 1, x0 : x1 + 1],
        )
    return side_by_side([before_arr, after_arr])
