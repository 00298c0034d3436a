"""Things drawn over the finished grey image: calipers (and their dotted line), colour flow.

Calipers are '+' or 'x' glyphs of 9-15 px with 1-2 px strokes, pure yellow (255, 255, 0) on
colour images and white on greyscale ones; every pixel they set is returned so ground truth
and tests know exactly what changed. Doppler adds a colour box with red/blue flow and a colour
bar (colour images only).
"""

from __future__ import annotations

import numpy as np

from cadbusi_demo.layouts import Box

YELLOW = (255, 255, 0)
WHITE = (255, 255, 255)


def glyph_pixels(
    cx: int, cy: int, style: str, size: int, stroke: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``(ys, xs)`` of one caliper glyph centred on ``(cx, cy)``."""
    half = size // 2
    k = np.arange(-half, half + 1)
    zeros = np.zeros_like(k)
    if style == "+":
        xs = [cx + k, cx + zeros]
        ys = [cy + zeros, cy + k]
        if stroke == 2:
            xs += [cx + k, cx + 1 + zeros]
            ys += [cy + 1 + zeros, cy + k]
    else:
        xs = [cx + k, cx + k]
        ys = [cy + k, cy - k]
        if stroke == 2:
            xs += [cx + k + 1, cx + k + 1]
            ys += [cy + k, cy - k]
    return np.concatenate(ys), np.concatenate(xs)


def dotted_line_pixels(
    p: tuple[int, int], q: tuple[int, int], clearance: int
) -> tuple[np.ndarray, np.ndarray]:
    """Dots every 6 px from ``p`` to ``q``, leaving ``clearance`` px free around both ends."""
    (x0, y0), (x1, y1) = p, q
    length = float(np.hypot(x1 - x0, y1 - y0))
    if length <= 2 * clearance + 2:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    t = np.arange(clearance, length - clearance, 6.0) / length
    return np.rint(y0 + t * (y1 - y0)).astype(np.intp), np.rint(x0 + t * (x1 - x0)).astype(np.intp)


def draw_calipers(
    frame: np.ndarray, points: list[tuple[int, int]], style: str, size: int, stroke: int, line: bool
) -> tuple[np.ndarray, list[list[int]]]:
    """Calipers on a copy of ``frame``; returns it and the dotted segments drawn."""
    out = frame.copy()
    colour = np.array(YELLOW if out.ndim == 3 else 255, dtype=np.uint8)
    ys_all, xs_all, segments = [], [], []
    for cx, cy in points:
        ys, xs = glyph_pixels(cx, cy, style, size, stroke)
        ys_all.append(ys)
        xs_all.append(xs)
    if line:
        for a, b in zip(points[0::2], points[1::2], strict=True):
            ys, xs = dotted_line_pixels(a, b, size // 2 + 4)
            if ys.size:
                ys_all.append(ys)
                xs_all.append(xs)
                segments.append([a[0], a[1], b[0], b[1]])
    ys, xs = np.concatenate(ys_all), np.concatenate(xs_all)
    keep = (ys >= 0) & (ys < out.shape[0]) & (xs >= 0) & (xs < out.shape[1])
    out[ys[keep], xs[keep]] = colour
    return out, segments


def doppler_box_for(fov_box: Box, lesion_box: Box | None, rng: np.random.Generator) -> Box:
    """A colour box inside the FOV, around the lesion when there is one."""
    x0, y0, x1, y1 = fov_box
    width, height = int((x1 - x0) * rng.uniform(0.3, 0.45)), int((y1 - y0) * rng.uniform(0.3, 0.4))
    if lesion_box is not None:
        cx, cy = (lesion_box[0] + lesion_box[2]) // 2, (lesion_box[1] + lesion_box[3]) // 2
    else:
        cx, cy = (x0 + x1) // 2, int(y0 + (y1 - y0) * 0.4)
    bx0 = int(np.clip(cx - width // 2, x0 + 4, x1 - 4 - width))
    by0 = int(np.clip(cy - height // 2, y0 + 4, y1 - 4 - height))
    return (bx0, by0, bx0 + width, by0 + height)


def draw_doppler(
    frame: np.ndarray,
    box: Box,
    fov_mask: np.ndarray,
    fov_origin: tuple[int, int],
    rng: np.random.Generator,
) -> None:
    """Colour flow in ``box`` (in place): 2-4 winding vessels, red one way, blue the other."""
    x0, y0, x1, y1 = box
    ox, oy = fov_origin
    height, width = y1 - y0 + 1, x1 - x0 + 1
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    inside = fov_mask[y0 - oy : y1 - oy + 1, x0 - ox : x1 - ox + 1]
    for _ in range(int(rng.integers(2, 5))):
        centre = float(rng.uniform(0.15, 0.85)) * height
        amplitude, period, phase = rng.uniform(3, 12), rng.uniform(40, 120), rng.uniform(0, 6.3)
        thickness = rng.uniform(2.5, 5.5)
        path = (
            centre
            + amplitude * np.sin(2 * np.pi * xx / period + phase)
            + (xx - width / 2) * rng.uniform(-0.3, 0.3)
        )
        dist = np.abs(yy - path)
        vessel = (dist < thickness) & inside
        strength = np.clip(1.0 - dist / thickness, 0, 1) * 0.5 + 0.5
        patch = frame[y0 : y1 + 1, x0 : x1 + 1]
        if rng.random() < 0.5:  # towards the probe: red to orange
            colour = np.stack(
                [205 + 50 * strength, 30 + 60 * (1 - strength), 20 * strength], axis=-1
            )
        else:  # away: blue to cyan
            colour = np.stack(
                [15 * strength, 40 + 80 * (1 - strength), 200 + 55 * strength], axis=-1
            )
        patch[vessel] = colour.astype(np.uint8)[vessel]
    outline = np.array([170, 170, 170], np.uint8)
    frame[y0, x0 : x1 + 1] = outline
    frame[y1, x0 : x1 + 1] = outline
    frame[y0 : y1 + 1, x0] = outline
    frame[y0 : y1 + 1, x1] = outline


def draw_colour_bar(frame: np.ndarray, box: Box) -> None:
    """Vertical colour scale: yellow-red on top, blue-cyan below (in place)."""
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, y1 - y0 + 1)[:, None]
    top = np.concatenate([np.full_like(t, 255), 220 * (1 - 2 * t), np.zeros_like(t)], axis=1)
    bottom = np.concatenate([np.zeros_like(t), 220 * (2 * t - 1), np.full_like(t, 255)], axis=1)
    colours = np.where(t < 0.5, top, bottom).clip(0, 255).astype(np.uint8)
    frame[y0 : y1 + 1, x0 : x1 + 1] = colours[:, None, :]
