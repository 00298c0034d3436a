"""B-mode breast tissue inside a field of view: layers, a lesion, speckle, log compression.

The echogenicity map has a bright skin line, subcutaneous fat with ligaments, glandular tissue,
retromammary fat and pectoral muscle, with undulating boundaries and a smooth texture, plus an
optional lesion (hypoechoic mass, anechoic cyst with a bright wall and posterior enhancement,
shadowing irregular mass, lymph node with an echogenic hilum) and an optional biopsy needle.
Speckle is a smoothed complex Gaussian field whose magnitude is Rayleigh distributed; the
display is log compressed and capped at :data:`SPECKLE_MAX` so no tissue pixel looks like a
white or yellow caliper. All arrays are ``float32`` and every step is vectorized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cadbusi_demo.model import Finding

#: The brightest grey any tissue pixel may take (calipers and text are 255).
SPECKLE_MAX = 232
#: The darkest grey inside the field of view (the noise floor of a real scanner).
SPECKLE_FLOOR = 3

_ECHO = {
    "anechoic": 0.03,
    "hypoechoic": 0.22,
    "isoechoic": 0.8,
    "heterogeneous": 0.35,
    "complex cystic and solid": 0.05,
}


@dataclass(frozen=True)
class Lesion:
    """A lesion on screen, in pixels of the FOV bounding box (before any cine shift)."""

    cx: float
    cy: float
    half_w: float
    half_h: float
    tilt: float  # radians
    kind: str
    margin: str
    echo: str
    posterior: str
    phase: float

    def extent_points(self, count: int) -> list[tuple[float, float]]:
        """Ends of the width axis (2 points) and also of the height axis (4 points)."""
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        points = [
            (self.cx - self.half_w * c, self.cy - self.half_w * s),
            (self.cx + self.half_w * c, self.cy + self.half_w * s),
        ]
        if count == 4:
            points += [
                (self.cx + self.half_h * s, self.cy - self.half_h * c),
                (self.cx - self.half_h * s, self.cy + self.half_h * c),
            ]
        return points


@dataclass(frozen=True)
class TissueParams:
    skin_cm: float
    fat_cm: float
    gland_cm: float
    undulation: tuple[float, ...]  # amplitude, period px, phase for two waves
    texture: np.ndarray  # coarse random grid (smooth texture), values 0..1
    texture_cell: float  # pixels per grid cell
    gain: float
    attenuation: float  # per cm


def random_tissue(rng: np.random.Generator, height: int, width: int, extra: int) -> TissueParams:
    cell = 24.0
    grid = rng.random((int(height / cell) + 3, int((width + extra) / cell) + 3)).astype(np.float32)
    return TissueParams(
        skin_cm=float(rng.uniform(0.08, 0.15)),
        fat_cm=float(rng.uniform(0.4, 1.0)),
        gland_cm=float(rng.uniform(1.0, 2.0)),
        undulation=(
            float(rng.uniform(0.04, 0.16)),
            float(rng.uniform(180, 420)),
            float(rng.uniform(0, 6.3)),
            float(rng.uniform(0.05, 0.2)),
            float(rng.uniform(120, 300)),
            float(rng.uniform(0, 6.3)),
        ),
        texture=grid,
        texture_cell=cell,
        gain=float(rng.uniform(0.9, 1.1)),
        attenuation=float(rng.uniform(0.08, 0.16)),
    )


def lesion_for(
    finding: Finding,
    fov_size: tuple[int, int],
    cm_per_px: float,
    rng: np.random.Generator,
    centre: tuple[float, float] | None = None,
) -> Lesion:
    """Place ``finding`` in a FOV of ``(height, width)`` pixels; sizes follow the report."""
    height, width = fov_size
    half_w = finding.size_cm[0] / 2 / cm_per_px
    half_h = finding.size_cm[1] / 2 / cm_per_px
    scale = min(1.0, 0.3 * height / max(half_h, 1), 0.3 * width / max(half_w, 1))
    half_w, half_h = max(8.0, half_w * scale), max(6.0, half_h * scale)
    if centre is None:
        cx = float(rng.uniform(0.35, 0.65)) * width
        top = 0.3 / cm_per_px + half_h
        cy = float(rng.uniform(top, max(top + 1, 0.62 * height - half_h)))
        centre = (cx, cy)
    tilt = (
        float(rng.uniform(-0.25, 0.25))
        if finding.orientation == "parallel"
        else float(rng.uniform(-0.15, 0.15))
    )
    return Lesion(
        centre[0],
        centre[1],
        half_w,
        half_h,
        tilt,
        finding.kind,
        finding.margin,
        finding.echo,
        finding.posterior,
        float(rng.uniform(0, 2 * math.pi)),
    )


def _smooth_texture(params: TissueParams, height: int, width: int, offset: float) -> np.ndarray:
    """Bilinear upsampling of the coarse grid, shifted laterally by ``offset`` pixels."""
    grid, cell = params.texture, params.texture_cell
    gx = (np.arange(width, dtype=np.float32) + offset) / cell
    gy = np.arange(height, dtype=np.float32) / cell
    ix, iy = np.floor(gx).astype(np.intp), np.floor(gy).astype(np.intp)
    fx, fy = (gx - ix)[None, :], (gy - iy)[:, None]
    rows = grid[:, ix] * (1 - fx) + grid[:, ix + 1] * fx
    return rows[iy] * (1 - fy) + rows[iy + 1] * fy


def _boundary_radius(lesion: Lesion, theta: np.ndarray) -> np.ndarray:
    """1 + the margin's irregularity, as a function of polar angle."""
    p = lesion.phase
    if lesion.margin == "microlobulated":
        return 1 + 0.07 * np.sin(9 * theta + p)
    if lesion.margin == "angular":
        return 1 + 0.14 * np.abs(((5 * theta + p) / math.pi) % 2 - 1) - 0.07
    if lesion.margin == "spiculated":
        return 1 + 0.35 * np.maximum(0.0, np.cos(13 * theta + p)) ** 16
    return np.ones_like(theta)


def lesion_alpha(lesion: Lesion, yy: np.ndarray, xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft inside-ness (0..1) and the normalized radius, at pixel coordinates."""
    c, s = math.cos(lesion.tilt), math.sin(lesion.tilt)
    dx, dy = xx - lesion.cx, yy - lesion.cy
    u = (dx * c + dy * s) / lesion.half_w
    v = (-dx * s + dy * c) / lesion.half_h
    rho = np.sqrt(u * u + v * v)
    edge = _boundary_radius(lesion, np.arctan2(v, u))
    softness = 0.2 if lesion.margin == "indistinct" else 0.05
    return np.clip((edge - rho) / softness + 0.5, 0.0, 1.0), rho


def echogenicity(
    depth_cm: np.ndarray,
    params: TissueParams,
    lesion: Lesion | None,
    needle: tuple[float, float, float, float] | None,
    offset: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int, int, int] | None]:
    """The tissue reflectivity map for one frame, the lesion alpha window and its box.

    ``offset`` shifts the anatomy laterally (cine probe motion), in pixels.
    """
    height, width = depth_cm.shape
    xs = np.arange(width, dtype=np.float32) + offset
    a1, p1, f1, a2, p2, f2 = params.undulation
    ripple = 0.5 * np.sin(2 * np.pi * xs / (0.37 * p1) + f2) + 0.3 * np.sin(
        2 * np.pi * xs / (0.23 * p2) + f1
    )
    fat_end = (params.skin_cm + params.fat_cm + a1 * (np.sin(2 * np.pi * xs / p1 + f1) + ripple))[
        None, :
    ]
    gland_end = (
        fat_end
        + params.gland_cm
        + (a2 * (np.sin(2 * np.pi * xs / p2 + f2) - 0.6 * ripple))[None, :]
    )
    texture = _smooth_texture(params, height, width, offset)
    wave = 0.12 * np.sin(xs / (23.0 + 40 * a1)) + 0.07 * np.sin(xs / 11.0 + f2)
    ligaments = np.exp(-(((depth_cm - fat_end * 0.7 - wave[None, :]) / 0.035) ** 2))
    echo = np.select(
        [
            depth_cm < params.skin_cm,
            depth_cm < fat_end,
            depth_cm < gland_end,
            depth_cm < gland_end + 0.3,
        ],
        [
            np.float32(1.4),
            0.38 + 0.25 * texture + 0.7 * ligaments,
            0.85 + 0.55 * texture,
            np.float32(0.4),
        ],
        default=0.65 + 0.25 * (np.sin(depth_cm * 45.0) > 0.6) + 0.1 * texture,
    ).astype(np.float32)
    alpha_window = None
    box = None
    if lesion is not None:
        shifted = replace(lesion, cx=lesion.cx - offset)
        reach = 1.5 * max(shifted.half_w, shifted.half_h)
        x0, x1 = int(max(0, shifted.cx - reach)), int(min(width, shifted.cx + reach + 1))
        y0, y1 = int(max(0, shifted.cy - reach)), int(min(height, shifted.cy + reach + 1))
        if x1 > x0 and y1 > y0:
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            alpha, rho = lesion_alpha(shifted, yy, xx)
            window = echo[y0:y1, x0:x1]
            inner: np.floating | np.ndarray = np.float32(_ECHO.get(shifted.echo, 0.25))
            if shifted.echo == "heterogeneous":
                inner = 0.2 + 0.45 * texture[y0:y1, x0:x1]
            if (
                shifted.echo == "complex cystic and solid"
            ):  # a fluid cavity with a solid mural nodule
                nx = shifted.cx + 0.45 * shifted.half_w * math.cos(shifted.phase)
                ny = shifted.cy + 0.45 * shifted.half_h * math.sin(shifted.phase)
                radius = 0.5 * min(shifted.half_w, shifted.half_h)
                nodule = np.hypot(xx - nx, yy - ny) / radius + 0.3 * (texture[y0:y1, x0:x1] - 0.5)
                inner = np.where(nodule < 1.0, 0.6, 0.04).astype(np.float32)
            if shifted.kind == "node":
                inner = np.where(rho < 0.55, 1.5, 0.3).astype(np.float32)
            lesion_echo = window * (1 - alpha) + inner * alpha
            if shifted.kind == "cyst":
                lesion_echo = lesion_echo + 1.2 * np.exp(-(((rho - 1.0) / 0.05) ** 2))
            echo[y0:y1, x0:x1] = lesion_echo
            _posterior(echo, shifted, alpha_cols=(x0, x1))
            inside = alpha > 0.5
            if inside.any():
                r, c = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
                box = (x0 + int(c[0]), y0 + int(r[0]), x0 + int(c[-1]), y0 + int(r[-1]))
            alpha_window = alpha
    if needle is not None:
        echo = np.maximum(echo, _needle(needle, height, width))
    return echo * np.exp(-params.attenuation * depth_cm) * params.gain, alpha_window, box


def _posterior(echo: np.ndarray, lesion: Lesion, alpha_cols: tuple[int, int]) -> None:
    """Acoustic enhancement or shadowing in the columns below the lesion (in place)."""
    if lesion.posterior not in {"enhancement", "shadowing"}:
        return
    height = echo.shape[0]
    x0, x1 = alpha_cols
    xs = np.arange(x0, x1, dtype=np.float32)
    lateral = np.clip(1 - (np.abs(xs - lesion.cx) / (lesion.half_w * 0.9)) ** 4, 0, 1)
    bottom = lesion.cy + lesion.half_h * np.sqrt(
        np.clip(1 - ((xs - lesion.cx) / lesion.half_w) ** 2, 0, 1)
    )
    ys = np.arange(height, dtype=np.float32)[:, None]
    below = np.clip((ys - bottom[None, :]) / 6.0, 0, 1)
    fade = np.exp(-np.clip(ys - bottom[None, :], 0, None) / (6 * lesion.half_h))
    if lesion.posterior == "enhancement":
        factor = 1 + 1.1 * lateral[None, :] * below * fade
    else:
        factor = 1 - 0.75 * lateral[None, :] * below
    echo[:, x0:x1] *= factor.astype(np.float32)


def _needle(needle: tuple[float, float, float, float], height: int, width: int) -> np.ndarray:
    """A bright straight needle from (x0, y0) to its tip (x1, y1)."""
    x0, y0, x1, y1 = needle
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0, 1)
    dist = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
    return (3.0 * np.exp(-((dist / 1.6) ** 2))).astype(np.float32)


def _blur(field: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Box filter of ``size`` along ``axis`` (edge padding), via cumulative sums and slices."""
    if size <= 1:
        return field
    if size == 2:  # a two-tap mean is cheaper as one shifted add
        out = field.copy()
        head = [slice(None)] * field.ndim
        tail = [slice(None)] * field.ndim
        head[axis], tail[axis] = slice(0, -1), slice(1, None)
        out[tuple(head)] += field[tuple(tail)]
        last = [slice(None)] * field.ndim
        last[axis] = slice(-1, None)
        out[tuple(last)] *= 2
        out *= np.float32(0.5)
        return out
    before, after = size // 2, size - 1 - size // 2
    pad = [(0, 0)] * field.ndim
    pad[axis] = (
        before + 1,
        after,
    )  # one extra leading element so the first window sum is total[size]-total[0]
    total = np.cumsum(np.pad(field, pad, mode="edge"), axis=axis, dtype=np.float32)
    upper = [slice(None)] * field.ndim
    lower = [slice(None)] * field.ndim
    upper[axis], lower[axis] = slice(size, None), slice(0, -size)
    out = total[tuple(upper)] - total[tuple(lower)]
    out *= np.float32(1 / size)
    return out


def complex_speckle(
    rng: np.random.Generator, height: int, width: int, grain: tuple[int, int] = (2, 5)
) -> tuple[np.ndarray, np.ndarray]:
    """Correlated complex Gaussian field with unit variance per component (real, imaginary)."""
    field = rng.standard_normal((2, height, width), dtype=np.float32)
    field = _blur(_blur(field, grain[0], 1), grain[1], 2)
    field *= np.float32(math.sqrt(grain[0] * grain[1]))
    return field[0], field[1]


def to_display(echo: np.ndarray, real: np.ndarray, imag: np.ndarray) -> np.ndarray:
    """Rayleigh speckle times reflectivity, log compressed to 8-bit grey in [floor, max]."""
    amplitude = np.hypot(real, imag) * np.float32(1 / math.sqrt(math.pi / 2))  # mean 1
    grey = 74.0 * np.log1p(2.2 * echo * amplitude) + SPECKLE_FLOOR
    return np.clip(grey, SPECKLE_FLOOR, SPECKLE_MAX).astype(np.uint8)
