"""Screen elements of the held-out generator drawn on the clean frame (no text): colour and
power Doppler boxes, elastography overlays with their colour bars, zoom boxes with a
magnified inset, body markers with probe icons, TGC curves and focus markers.

Each function draws on an RGB ``uint8`` image in place and returns the boxes it drew
(inclusive ``x0, y0, x1, y1``), which the caller lists as UI graphics; a function that finds
no room draws nothing and returns ``[]``.

>>> import numpy as np
>>> image = np.zeros((200, 300, 3), np.uint8)
>>> view = np.zeros((200, 300), bool); view[20:180, 40:260] = True
>>> boxes = doppler_box(image, view, np.random.default_rng(0), "colour")
>>> len(boxes), bool(image.any())
(2, True)
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Box = tuple[int, int, int, int]

WHITE = (255, 255, 255)
GREY = (200, 200, 200)


def _smooth_field(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """A smooth random field in about [-1, 1] (low-resolution noise, resized)."""
    small = rng.standard_normal((max(2, height // cell), max(2, width // cell))).astype(np.float32)
    field = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.asarray(field / (np.abs(field).max() + 1e-6), np.float32)


def _box_in(view: np.ndarray, rng: np.random.Generator, share: tuple[float, float]) -> Box | None:
    """A random box covering ``share`` of the view's bounding box, centred inside the view."""
    ys, xs = np.nonzero(view)
    if ys.size == 0:
        return None
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    w = int((x1 - x0) * rng.uniform(*share))
    h = int((y1 - y0) * rng.uniform(*share))
    for _ in range(20):
        bx = int(rng.integers(x0, max(x0 + 1, x1 - w)))
        by = int(rng.integers(y0, max(y0 + 1, y1 - h)))
        if view[by + h // 2, bx + w // 2] and view[by + 2, bx + w // 2]:
            return bx, by, bx + w, by + h
    return None


def _outline(image: np.ndarray, box: Box, colour: tuple[int, int, int], dashed: bool) -> None:
    x0, y0, x1, y1 = box
    if not dashed:
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, 1)
        return
    for a, b in (
        ((x0, y0), (x1, y0)),
        ((x1, y0), (x1, y1)),
        ((x1, y1), (x0, y1)),
        ((x0, y1), (x0, y0)),
    ):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for k in range(0, length, 8):
            t0, t1 = k / length, min(1.0, (k + 4) / length)
            p = (round(a[0] + t0 * (b[0] - a[0])), round(a[1] + t0 * (b[1] - a[1])))
            q = (round(a[0] + t1 * (b[0] - a[0])), round(a[1] + t1 * (b[1] - a[1])))
            cv2.line(image, p, q, colour, 1)


def _colour_bar(image: np.ndarray, x: int, y: int, colours: np.ndarray) -> Box | None:
    """A vertical bar of ``colours`` (N x 3, top first), 8 px wide, at ``x, y``."""
    height, width = image.shape[:2]
    n = len(colours)
    if x < 0 or y < 0 or x + 8 >= width or y + n >= height:
        return None
    image[y : y + n, x : x + 8] = colours[:, None, :]
    return x, y, x + 7, y + n - 1


def _bar_place(image: np.ndarray, view: np.ndarray, n: int) -> tuple[int, int]:
    """Top-left of a colour bar ``n`` px high left of the view (right of it when no room)."""
    ys, xs = np.nonzero(view)
    x0, y0, x1 = int(xs.min()), int(ys.min()), int(xs.max())
    x = x0 - 30 if x0 - 30 >= 4 else x1 + 22
    return x, y0 + 10


def doppler_box(
    image: np.ndarray, view: np.ndarray, rng: np.random.Generator, kind: str
) -> list[Box]:
    """A colour (red / blue velocities) or ``power`` (orange amplitude) Doppler box inside
    ``view`` (bool mask) with flow pixels, its outline and a colour bar."""
    box = _box_in(view, rng, (0.3, 0.5))
    if box is None:
        return []
    x0, y0, x1, y1 = box
    h, w = y1 - y0 + 1, x1 - x0 + 1
    inside = view[y0 : y1 + 1, x0 : x1 + 1]
    flow = _smooth_field(rng, h, w, int(rng.integers(10, 22)))
    vessels = (np.abs(flow) > rng.uniform(0.35, 0.55)) & inside
    strength = np.clip((np.abs(flow) - 0.3) / 0.7, 0, 1)
    region = image[y0 : y1 + 1, x0 : x1 + 1]
    if kind == "power":
        rgb = np.stack([255 * np.ones_like(strength), 80 + 175 * strength, 40 * strength], -1)
        bar = np.stack([np.full(64, 255), np.linspace(255, 80, 64), np.linspace(40, 0, 64)], -1)
    else:
        red = np.stack([120 + 135 * strength, 40 * strength, 0 * strength], -1)
        blue = np.stack([0 * strength, 60 * strength, 120 + 135 * strength], -1)
        rgb = np.where((flow > 0)[..., None], red, blue)
        ramp = np.linspace(1, -1, 64)
        bar = np.stack(
            [
                np.where(ramp > 0, 120 + 135 * ramp, 0),
                40 * np.abs(ramp),
                np.where(ramp < 0, 120 - 135 * ramp, 0),
            ],
            -1,
        )
    region[vessels] = rgb[vessels].astype(np.uint8)
    _outline(image, box, GREY if rng.random() < 0.5 else WHITE, dashed=bool(rng.random() < 0.3))
    boxes = [box]
    bar_box = _colour_bar(image, *_bar_place(image, view, 64), bar.astype(np.uint8))
    if bar_box is not None:
        boxes.append(bar_box)
    return boxes


def elastography(image: np.ndarray, view: np.ndarray, rng: np.random.Generator) -> list[Box]:
    """A strain / shear-wave elastography box: a smooth stiffness map in a rainbow colour
    map blended over the speckle inside ``view``, its outline and a colour bar."""
    box = _box_in(view, rng, (0.45, 0.7))
    if box is None:
        return []
    x0, y0, x1, y1 = box
    h, w = y1 - y0 + 1, x1 - x0 + 1
    inside = view[y0 : y1 + 1, x0 : x1 + 1]
    stiff = (_smooth_field(rng, h, w, int(rng.integers(12, 30))) + 1) * 127.5
    cmap = (cv2.COLORMAP_JET, cv2.COLORMAP_RAINBOW, cv2.COLORMAP_TURBO)[int(rng.integers(3))]
    colour = cv2.applyColorMap(stiff.astype(np.uint8), cmap)[..., ::-1].astype(np.float32)
    region = image[y0 : y1 + 1, x0 : x1 + 1]
    alpha = float(rng.uniform(0.4, 0.8))
    blended = (1 - alpha) * region.astype(np.float32) + alpha * colour
    region[inside] = np.clip(blended[inside], 0, 255).astype(np.uint8)
    _outline(image, box, WHITE, dashed=False)
    boxes = [box]
    ramp = np.linspace(255, 0, 80).astype(np.uint8)[:, None]
    bar = cv2.applyColorMap(ramp, cmap)[:, 0, ::-1]
    bar_box = _colour_bar(image, *_bar_place(image, view, 80), np.ascontiguousarray(bar))
    if bar_box is not None:
        boxes.append(bar_box)
    return boxes


def zoom_box(
    image: np.ndarray, view: np.ndarray, fov: np.ndarray, rng: np.random.Generator
) -> list[Box]:
    """A small outlined rectangle inside ``view`` and a magnified inset of it placed outside
    the field of view ``fov`` (both boxes returned; nothing when no corner has room)."""
    height, width = fov.shape
    inner = cv2.erode(view.astype(np.uint8), np.ones((31, 31), np.uint8))
    ys, xs = np.nonzero(inner)
    if ys.size == 0:
        return []
    a = int(rng.integers(ys.size))
    w, h = int(rng.integers(40, 80)), int(rng.integers(30, 60))
    x0, y0 = int(xs[a]) - w // 2, int(ys[a]) - h // 2
    if x0 < 0 or y0 < 0 or x0 + w >= width or y0 + h >= height:
        return []
    scale = float(rng.uniform(1.5, 2.5))
    iw, ih = int(w * scale), int(h * scale)
    corners = [
        (6, height - ih - 8),
        (width - iw - 8, height - ih - 8),
        (6, 60),
        (width - iw - 8, 60),
    ]
    for k in rng.permutation(len(corners)):
        cx, cy = corners[int(k)]
        if cx < 0 or cy < 0:
            continue
        if fov[max(0, cy - 4) : cy + ih + 5, max(0, cx - 4) : cx + iw + 5].any():
            continue
        inset = cv2.resize(
            image[y0 : y0 + h, x0 : x0 + w], (iw, ih), interpolation=cv2.INTER_LINEAR
        )
        image[cy : cy + ih, cx : cx + iw] = inset
        colour = (255, 255, 0) if rng.random() < 0.5 else WHITE
        cv2.rectangle(image, (cx - 1, cy - 1), (cx + iw, cy + ih), colour, 1)
        cv2.rectangle(image, (x0, y0), (x0 + w, y0 + h), colour, 1)
        return [(x0, y0, x0 + w, y0 + h), (cx - 1, cy - 1, cx + iw, cy + ih)]
    return []


def body_marker(
    image: np.ndarray, centre: tuple[int, int], radius: int, style: str, rng: np.random.Generator
) -> Box:
    """A breast pictogram (``circle``: one breast; ``pair``: both, one outlined thicker;
    ``quadrant``: a circle with clock ticks) with a probe icon (a short thick bar, the
    transducer face, and its handle) at a random angle."""
    mx, my = centre
    r = radius
    if style == "pair":
        for off in (-r // 2 - 2, r // 2 + 2):
            cv2.circle(image, (mx + off, my), r // 2, GREY, 1 + (off > 0), cv2.LINE_AA)
            cv2.circle(image, (mx + off, my), 2, GREY, 1)
        box = (mx - r - 3, my - r // 2 - 1, mx + r + 3, my + r // 2 + 1)
    else:
        cv2.circle(image, (mx, my), r, GREY, 2, cv2.LINE_AA)
        cv2.circle(image, (mx, my), 3, GREY, 1)
        if style == "quadrant":
            for k in range(12):
                t = k * math.pi / 6
                p = (round(mx + 0.8 * r * math.cos(t)), round(my + 0.8 * r * math.sin(t)))
                q = (round(mx + r * math.cos(t)), round(my + r * math.sin(t)))
                cv2.line(image, p, q, GREY, 1)
        box = (mx - r, my - r, mx + r, my + r)
    angle = rng.uniform(0, math.pi)
    px = mx + float(rng.uniform(-0.4, 0.4)) * r
    py = my + float(rng.uniform(-0.4, 0.4)) * r
    dx, dy = 0.45 * r * math.cos(angle), 0.45 * r * math.sin(angle)
    face_a, face_b = (round(px - dx), round(py - dy)), (round(px + dx), round(py + dy))
    cv2.line(image, face_a, face_b, WHITE, 3)
    nx, ny = -math.sin(angle), math.cos(angle)
    handle = (round(px - 0.5 * r * nx), round(py - 0.5 * r * ny))
    cv2.line(image, (round(px), round(py)), handle, WHITE, 1)
    hx0 = min(box[0], face_a[0], face_b[0], handle[0]) - 2
    hy0 = min(box[1], face_a[1], face_b[1], handle[1]) - 2
    hx1 = max(box[2], face_a[0], face_b[0], handle[0]) + 2
    hy1 = max(box[3], face_a[1], face_b[1], handle[1]) + 2
    return hx0, hy0, hx1, hy1


def tgc_curve(image: np.ndarray, x: int, y0: int, y1: int, rng: np.random.Generator) -> Box | None:
    """A time-gain-compensation curve: a smooth polyline near column ``x`` from ``y0`` to
    ``y1`` with a dot at each of its 6-8 slider nodes."""
    width = image.shape[1]
    if x - 14 < 0 or x + 14 >= width or y1 <= y0:
        return None
    nodes = int(rng.integers(6, 9))
    ys = np.linspace(y0, y1, nodes)
    xs = x + np.cumsum(rng.uniform(-4, 4, nodes)).clip(-12, 12)
    points = np.stack([xs, ys], 1).round().astype(np.int32)
    colour = GREY if rng.random() < 0.6 else WHITE
    cv2.polylines(image, [points], False, colour, 1)
    for px, py in points:
        cv2.circle(image, (int(px), int(py)), 2, colour, -1)
    return (
        int(points[:, 0].min()) - 2,
        int(points[:, 1].min()) - 2,
        int(points[:, 0].max()) + 2,
        int(points[:, 1].max()) + 2,
    )


def focus_markers(
    image: np.ndarray, x: int, depths: list[int], pointing_left: bool, colour: tuple[int, int, int]
) -> Box | None:
    """Small filled triangles at column ``x`` marking the focal zones at rows ``depths``."""
    width = image.shape[1]
    if not depths or x - 7 < 0 or x + 7 >= width:
        return None
    sign = -1 if pointing_left else 1
    for y in depths:
        tri = np.array([[x, y], [x - sign * 6, y - 4], [x - sign * 6, y + 4]], np.int32)
        cv2.fillPoly(image, [tri], colour)
    return x - 7, min(depths) - 5, x + 7, max(depths) + 5
