"""Small synthetic ultrasound frames with known ground truth, built inside the tests.

Speckle is smoothed Rayleigh noise inside a rectangular or fan-shaped field of view on a
black background; overlays (calipers, text, colour flow) are drawn on top, so every
detector has an exact answer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

YELLOW = (255, 255, 0)
WHITE = (255, 255, 255)


@dataclass
class SyntheticFrame:
    rgb: np.ndarray
    clean: np.ndarray
    crop_box: tuple[int, int, int, int]
    fov_mask: np.ndarray
    caliper_points: list[tuple[int, int]] = field(default_factory=list)
    caliper_mask: np.ndarray | None = None


def speckle(height: int, width: int, rng: np.random.Generator, mean: float = 90.0) -> np.ndarray:
    """Smoothed Rayleigh speckle with a gentle depth gradient, float32."""
    raw = rng.rayleigh(1.0, size=(height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(raw, (0, 0), 1.2)
    smooth = smooth / smooth.mean()
    depth = np.linspace(1.1, 0.7, height, dtype=np.float32)[:, None]
    return np.clip(smooth * mean * depth, 0, 255)


def fov_mask_for(shape: str, size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    height, width = size
    x0, y0, x1, y1 = box
    mask = np.zeros((height, width), np.uint8)
    if shape == "rectangle":
        mask[y0 : y1 + 1, x0 : x1 + 1] = 1
        return mask.astype(bool)
    # Fan: apex above the box centre, straight sides to the box corners, outer arc at y1.
    cx = (x0 + x1) / 2.0
    half = (x1 - x0) / 2.0
    apex_y = y0 - 0.35 * (y1 - y0)
    r_outer = y1 - apex_y
    angle = np.arcsin(min(0.99, half / r_outer))
    r_inner = (y0 - apex_y) / np.cos(0.0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot(xx - cx, yy - apex_y)
    theta = np.arctan2(xx - cx, yy - apex_y)
    inside = (r <= r_outer) & (r >= r_inner) & (np.abs(theta) <= angle)
    mask[inside] = 1
    return mask.astype(bool)


def draw_caliper(
    img: np.ndarray,
    x: int,
    y: int,
    style: str,
    colour: tuple[int, int, int],
    arm: int = 6,
    thickness: int = 1,
) -> None:
    """A '+' or 'x' of 1-px lines; ``thickness`` 2 adds a parallel line one pixel over, as
    scanners draw their 2-px marks."""
    for shift in range(thickness):
        if style == "+":
            cv2.line(img, (x - arm, y + shift), (x + arm, y + shift), colour, 1)
            cv2.line(img, (x + shift, y - arm), (x + shift, y + arm), colour, 1)
        else:
            cv2.line(img, (x - arm + shift, y - arm), (x + arm + shift, y + arm), colour, 1)
            cv2.line(img, (x - arm + shift, y + arm), (x + arm + shift, y - arm), colour, 1)


def jpeg_roundtrip(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, subsampling=1)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()


def make_frame(
    *,
    seed: int = 0,
    size: tuple[int, int] = (480, 640),
    shape: str = "rectangle",
    box: tuple[int, int, int, int] = (120, 60, 559, 419),
    calipers: list[tuple[int, int, str, tuple[int, int, int]]] | None = None,
    arm: int = 6,
    thickness: int = 1,
    text: list[tuple[str, tuple[int, int]]] | None = None,
    doppler: bool = False,
    brightness: float = 90.0,
    jpeg: bool = False,
) -> SyntheticFrame:
    """A grey-on-black US frame, as RGB, with optional overlays and its ground truth."""
    rng = np.random.default_rng(seed)
    height, width = size
    mask = fov_mask_for(shape, size, box)
    tissue = speckle(height, width, rng, mean=brightness)
    grey = np.where(mask, tissue, 0).astype(np.uint8)
    # A depth scale and a grey bar outside the FOV, as scanners draw them.
    x1 = box[2]
    if x1 + 20 < width:
        for y in range(box[1], box[3], 40):
            grey[y : y + 2, x1 + 8 : x1 + 14] = 200
    if box[0] > 40:
        grey[box[1] : box[1] + 100, 10:22] = np.linspace(255, 0, 100, dtype=np.uint8)[:, None]
    clean = np.repeat(grey[:, :, None], 3, axis=2)
    rgb = clean.copy()
    if doppler:
        cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
        blob = np.zeros((height, width), np.uint8)
        cv2.ellipse(blob, (cx, cy), (40, 18), 15, 0, 360, 1, -1)
        cv2.ellipse(blob, (cx + 30, cy + 40), (25, 10), -20, 0, 360, 2, -1)
        rgb[blob == 1] = (200, 30, 20)
        rgb[blob == 2] = (20, 60, 220)
        clean = rgb.copy()
    for words, (tx, ty) in text or []:
        cv2.putText(rgb, words, (tx, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.6, WHITE, 1, cv2.LINE_AA)
        cv2.putText(clean, words, (tx, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.6, WHITE, 1, cv2.LINE_AA)
    points: list[tuple[int, int]] = []
    for x, y, _, _ in calipers or []:
        if not mask[y, x]:
            raise ValueError(f"caliper ({x}, {y}) lies outside the field of view")
    overlay = np.zeros((height, width, 3), np.uint8)
    for x, y, style, colour in calipers or []:
        draw_caliper(rgb, x, y, style, colour, arm=arm, thickness=thickness)
        draw_caliper(overlay, x, y, style, (255, 255, 255), arm=arm, thickness=thickness)
        points.append((x, y))
    if jpeg:
        rgb = jpeg_roundtrip(rgb)
        clean = jpeg_roundtrip(clean)
    ys, xs = np.nonzero(mask)
    crop = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    return SyntheticFrame(
        rgb=rgb,
        clean=clean,
        crop_box=crop,
        fov_mask=mask,
        caliper_points=points,
        caliper_mask=overlay[..., 0] > 0,
    )
