"""Caliper graphics with their ground truth: marks (``+``, ``x``, arrows; small or large),
numbers beside the marks, dotted lines between a pair and dotted ellipse traces through a
pair, in one colour per frame.

Every caliper point is the centre of its mark (an arrow's tip); :func:`draw_calipers` returns
the boolean mask of every pixel the graphics drew (marks, numbers, dots), drawn without
anti-aliasing so that the mask is exactly the changed footprint.

>>> import numpy as np
>>> frame = np.zeros((100, 120, 3), np.uint8)
>>> style = CaliperStyle("x", "large", 8, 1, (255, 255, 0), numbered=True, dotted=True)
>>> drawn = draw_calipers(frame, [((20, 50), (90, 50))], style)
>>> style.name, bool(drawn.mask[50, 20] and drawn.mask[50, 90]), [t for t, _ in drawn.labels]
('x large numbered dotted', True, ['1', '1'])
>>> bool((frame[drawn.mask] == (255, 255, 0)).all()), bool((frame[~drawn.mask] == 0).all())
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Point = tuple[int, int]
Box = tuple[int, int, int, int]

#: Mark shapes, sizes and decorations a frame's calipers may take.
CALIPER_GLYPHS = ("+", "x", "arrow")
CALIPER_SIZES = ("small", "large")
CALIPER_EXTRAS = ("numbered", "dotted", "ellipse")


@dataclass(frozen=True)
class CaliperStyle:
    """How one frame draws its calipers: ``glyph`` (``+``, ``x``, ``arrow``), ``size``
    (``small``: 2-5 px arms, ``large``: 6-12 px) with ``half`` its arm length in pixels,
    ``thickness`` (1 or 2 px), ``colour`` (RGB) and the decorations."""

    glyph: str
    size: str
    half: int
    thickness: int
    colour: tuple[int, int, int]
    numbered: bool = False
    dotted: bool = False
    ellipse: bool = False
    dot_gap: int = 4

    @property
    def name(self) -> str:
        """``"<glyph> <size>[ numbered][ dotted][ ellipse]"``, e.g. ``"+ small dotted"``."""
        extras = [e for e in CALIPER_EXTRAS if getattr(self, e)]
        return " ".join([self.glyph, self.size, *extras])


def random_style(
    rng: np.random.Generator,
    glyphs: tuple[str, ...],
    colours: tuple[tuple[int, int, int], ...],
    extras: tuple[str, ...] = CALIPER_EXTRAS,
) -> CaliperStyle:
    """A style drawn from a family's glyphs, colours and possible decorations (each
    decoration on with probability 0.35; dotted lines and ellipses exclude each other)."""
    glyph = glyphs[int(rng.integers(len(glyphs)))]
    size = CALIPER_SIZES[int(rng.integers(2))]
    half = int(rng.integers(2, 6)) if size == "small" else int(rng.integers(6, 13))
    thickness = 2 if size == "large" and rng.random() < 0.3 else 1
    colour = colours[int(rng.integers(len(colours)))]
    on = {e: e in extras and bool(rng.random() < 0.35) for e in CALIPER_EXTRAS}
    if on["dotted"] and on["ellipse"]:
        on["dotted" if rng.random() < 0.5 else "ellipse"] = False
    return CaliperStyle(
        glyph,
        size,
        half,
        thickness,
        colour,
        numbered=on["numbered"],
        dotted=on["dotted"],
        ellipse=on["ellipse"],
        dot_gap=int(rng.integers(4, 8)) + 2 * (thickness - 1),
    )


@dataclass
class DrawnCalipers:
    """What :func:`draw_calipers` drew: ``mask`` (bool, H x W), the mark centres in pair
    order and each number's text and box (inclusive)."""

    mask: np.ndarray
    points: list[Point] = field(default_factory=list)
    labels: list[tuple[str, Box]] = field(default_factory=list)


def _mark(layer: np.ndarray, p: Point, q: Point, style: CaliperStyle) -> None:
    """One mark at ``p`` (``q``: the other end of its pair, which an arrow points away from)."""
    x, y = p
    h, t = style.half, style.thickness
    if style.glyph == "+":
        cv2.line(layer, (x - h, y), (x + h, y), 1, t)
        cv2.line(layer, (x, y - h), (x, y + h), 1, t)
    elif style.glyph == "x":
        cv2.line(layer, (x - h, y - h), (x + h, y + h), 1, t)
        cv2.line(layer, (x - h, y + h), (x + h, y - h), 1, t)
    else:  # arrow: the tip at p, coming from outside the pair
        dx, dy = p[0] - q[0], p[1] - q[1]
        norm = math.hypot(dx, dy) or 1.0
        ux, uy = dx / norm, dy / norm
        tail = (round(x + ux * 3 * h), round(y + uy * 3 * h))
        cv2.line(layer, (x, y), tail, 1, t)
        wing = 1.2 * h
        for sign in (-1, 1):
            cx = ux * math.cos(0.45) - sign * uy * math.sin(0.45)
            cy = sign * ux * math.sin(0.45) + uy * math.cos(0.45)
            cv2.line(layer, (x, y), (round(x + cx * wing), round(y + cy * wing)), 1, t)
    if 0 <= y < layer.shape[0] and 0 <= x < layer.shape[1]:
        layer[y, x] = 1


def _dots(layer: np.ndarray, points: np.ndarray, style: CaliperStyle) -> None:
    r = max(0, style.thickness - 1)
    for x, y in np.round(points).astype(int):
        if 0 <= y < layer.shape[0] and 0 <= x < layer.shape[1]:
            layer[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1] = 1


def _away_from(points: np.ndarray, ends: list[Point], gap: float) -> np.ndarray:
    keep = np.ones(len(points), bool)
    for ex, ey in ends:
        keep &= np.hypot(points[:, 0] - ex, points[:, 1] - ey) > gap
    return points[keep]


def draw_calipers(
    frame: np.ndarray,
    pairs: list[tuple[Point, Point]],
    style: CaliperStyle,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None = None,
    ellipse_ratio: float = 0.6,
) -> DrawnCalipers:
    """Draw ``pairs`` on ``frame`` (RGB, in place) in ``style``; pair ``k`` is numbered
    ``k + 1`` when the style numbers its marks (``font``: the digits' font, default
    Pillow's bitmap font). ``ellipse_ratio``: an ellipse trace's short/long axis."""
    height, width = frame.shape[:2]
    layer = np.zeros((height, width), np.uint8)
    drawn = DrawnCalipers(mask=np.zeros((height, width), bool))
    for p, q in pairs:
        for a, b in ((p, q), (q, p)):
            _mark(layer, a, b, style)
            drawn.points.append(a)
        clear = style.half + 3
        length = math.hypot(q[0] - p[0], q[1] - p[1])
        if style.dotted and length > 2 * clear:
            n = int(length // style.dot_gap)
            t = np.linspace(0.0, 1.0, n + 1)[:, None]
            line = np.array(p, float) + t * (np.array(q, float) - np.array(p, float))
            _dots(layer, _away_from(line, [p, q], clear), style)
        if style.ellipse and length > 2 * clear:
            a_ax, b_ax = length / 2, max(3.0, ellipse_ratio * length / 2)
            n = int(math.pi * (a_ax + b_ax) // style.dot_gap)
            theta = np.linspace(0.0, 2 * math.pi, max(n, 8), endpoint=False)
            angle = math.atan2(q[1] - p[1], q[0] - p[0])
            cx, cy = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
            ex = a_ax * np.cos(theta)
            ey = b_ax * np.sin(theta)
            ring = np.stack(
                [
                    cx + ex * math.cos(angle) - ey * math.sin(angle),
                    cy + ex * math.sin(angle) + ey * math.cos(angle),
                ],
                axis=1,
            )
            _dots(layer, _away_from(ring, [p, q], clear), style)
    if style.numbered:
        font = font or ImageFont.load_default_imagefont()
        for k, (p, q) in enumerate(pairs):
            for x, y in (p, q):
                label = _label(str(k + 1), (x + style.half + 2, y - style.half - 2), font, layer)
                if label is not None:
                    drawn.labels.append(label)
    drawn.mask = layer.astype(bool)
    frame[drawn.mask] = style.colour
    return drawn


def _label(
    text: str,
    xy: Point,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    layer: np.ndarray,
) -> tuple[str, Box] | None:
    """Draw ``text`` (without anti-aliasing) into ``layer`` with its bottom-left near ``xy``."""
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    w, h = right - left + 2, bottom - top + 2
    image = Image.new("1", (w, h), 0)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    draw.text((1 - left, 1 - top), text, font=font, fill=1)
    glyph = np.asarray(image, bool)
    x0, y0 = xy[0], xy[1] - h
    height, width = layer.shape
    if x0 < 0 or y0 < 0 or x0 + w > width or y0 + h > height or not glyph.any():
        return None
    layer[y0 : y0 + h, x0 : x0 + w] |= glyph.astype(np.uint8)
    ys, xs = np.nonzero(glyph)
    return text, (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()), y0 + int(ys.max()))
