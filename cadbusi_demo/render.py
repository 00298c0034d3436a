"""Pixels and per-frame ground truth for one planned view (a still image or a cine clip)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from cadbusi_demo import overlays, screen, tissue
from cadbusi_demo.acquisition import ORIENTATIONS, StudyPlan, ViewPlan
from cadbusi_demo.ids import child_rng
from cadbusi_demo.layouts import LAYOUTS, Box, Fov, Layout
from cadbusi_demo.model import Finding


@dataclass(frozen=True)
class Geometry:
    region: Box
    fov: Fov
    bbox: Box  # exact bounding box of the FOV mask (the ground-truth crop box)
    mask: np.ndarray  # bool, shape of bbox
    depth_px: np.ndarray  # float32, shape of bbox

    @property
    def size(self) -> tuple[int, int]:
        return self.mask.shape


@lru_cache(maxsize=16)
def geometries(layout_name: str, dual: bool) -> tuple[Geometry, ...]:
    layout = LAYOUTS[layout_name]
    pairs = (
        zip(layout.dual_regions, layout.dual_fovs, strict=True)
        if dual and layout.dual_regions is not None and layout.dual_fovs is not None
        else [(layout.region, layout.fov)]
    )
    out = []
    for region, fov in pairs:
        bbox, mask = fov.mask_in(region)
        yy, xx = np.mgrid[bbox[1] : bbox[3] + 1, bbox[0] : bbox[2] + 1]
        out.append(Geometry(region, fov, bbox, mask, fov.depth_px(yy, xx)))
    return tuple(out)


@dataclass
class RenderedView:
    frames: list[np.ndarray]  # what the main instance stores (calipers drawn where planned)
    clean: list[np.ndarray]  # the same frames before calipers
    truth: list[dict]  # per frame
    regions: list[dict]
    colour: bool


def _boxes_overlap(a: Box, b: Box) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def _static_screen(
    study: StudyPlan, view: ViewPlan, layout: Layout, geos: tuple[Geometry, ...], cm_per_px: float
) -> tuple[np.ndarray, screen.Painter]:
    painter = screen.Painter(layout.rows, layout.columns)
    screen.draw_header(painter, layout, screen.header_values(study, layout))
    screen.draw_annotation(painter, layout, view)
    tick_geo = geos[-1] if layout.ticks == "right" else geos[0]
    screen.draw_depth_ticks(
        painter,
        layout,
        tick_geo.fov,
        tick_geo.bbox,
        tick_geo.region,
        cm_per_px,
        study.depth_cm,
        layout.ticks,
    )
    screen.draw_body_mark(painter, layout.body_mark, view)
    canvas = painter.pixels()
    screen.draw_grey_bar(canvas, layout.grey_bar)
    painter.element("grey_bar", layout.grey_bar)
    items = [(t.text, t.box) for t in painter.texts]
    items += [(e.kind, e.box) for e in painter.elements if e.kind != "side_panel"]
    for i, (name_a, box_a) in enumerate(items):
        for name_b, box_b in items[i + 1 :]:
            if _boxes_overlap(box_a, box_b):
                raise ValueError(f"{layout.name}: screen items overlap: {name_a!r} / {name_b!r}")
    for geo in geos:
        x0, y0, x1, y1 = geo.bbox
        if canvas[y0 : y1 + 1, x0 : x1 + 1][geo.mask].any():
            raise ValueError(f"{layout.name}: screen furniture inside the field of view")
    return canvas, painter


def _needle(
    lesion: tissue.Lesion, size: tuple[int, int], rng: np.random.Generator
) -> tuple[float, float, float, float]:
    width = size[1]
    from_left = rng.random() < 0.5
    x_entry = 0.05 * width if from_left else 0.95 * width
    return (x_entry, 2.0, lesion.cx, lesion.cy)


def _lesion_dict(lesion: tissue.Lesion, origin: tuple[int, int], finding: Finding) -> dict:
    return {
        "kind": lesion.kind,
        "shape": finding.shape,
        "margin": lesion.margin,
        "echo": lesion.echo,
        "posterior": lesion.posterior,
        "orientation": finding.orientation,
        "centre": [round(lesion.cx + origin[0], 1), round(lesion.cy + origin[1], 1)],
        "half_axes": [round(lesion.half_w, 1), round(lesion.half_h, 1)],
        "tilt_deg": round(math.degrees(lesion.tilt), 1),
        "size_cm": list(finding.size_cm),
    }


def render_view(study: StudyPlan, view: ViewPlan) -> RenderedView:
    """Synthesize every frame of ``view`` with its ground truth (deterministic)."""
    layout = LAYOUTS[study.layout]
    rng = child_rng(study.seed, "pixels", study.accession, view.index)
    geos = geometries(layout.name, view.dual)
    cm_per_px = study.depth_cm / geos[0].fov.depth_span_px
    static, painter = _static_screen(study, view, layout, geos, cm_per_px)
    step = int(rng.integers(2, 6)) if view.frames > 1 else 0
    extra = step * (view.frames - 1)
    per_fov = []
    for i, geo in enumerate(geos):
        height, width = geo.size
        params = tissue.random_tissue(rng, height, width, extra)
        lesion = None
        if view.finding is not None:
            finding = view.finding
            if i == 1:  # the second view of a dual image shows the orthogonal plane
                w, h, length = finding.size_cm
                finding = replace(finding, size_cm=(length, h, w))
            lesion = tissue.lesion_for(finding, (height, width), cm_per_px, rng)
            lesion = replace(lesion, cx=lesion.cx + extra / 2)
        needle = _needle(lesion, geo.size, rng) if (view.needle and lesion is not None) else None
        if needle is not None:
            needle = (needle[0] + extra / 2, needle[1], needle[2], needle[3])
        speckle = tissue.complex_speckle(rng, height, width + extra)
        per_fov.append((geo, params, lesion, needle, speckle, geo.depth_px * np.float32(cm_per_px)))
    colour = view.encoding in {"rgb", "jpeg"}
    frames, clean_frames, truths = [], [], []
    doppler_box = None
    for k in range(view.frames):
        offset = k * step
        canvas = static.copy()
        views_truth: list[dict[str, Any]] = []
        for i, (geo, params, lesion, needle, (real, imag), depth_cm) in enumerate(per_fov):
            height, width = geo.size
            real_k, imag_k = real[:, offset : offset + width], imag[:, offset : offset + width]
            if view.frames > 1 and k > 0:
                fresh_real, fresh_imag = tissue.complex_speckle(rng, height, width)
                real_k = 0.87 * real_k + 0.5 * fresh_real
                imag_k = 0.87 * imag_k + 0.5 * fresh_imag
            echo, _, lesion_box = tissue.echogenicity(
                depth_cm, params, lesion, needle, offset=offset
            )
            grey = tissue.to_display(echo, real_k, imag_k)
            x0, y0, x1, y1 = geo.bbox
            target = canvas[y0 : y1 + 1, x0 : x1 + 1]
            target[geo.mask] = grey[geo.mask]
            image_box = None
            if lesion_box is not None:
                image_box = [
                    lesion_box[0] + x0,
                    lesion_box[1] + y0,
                    lesion_box[2] + x0,
                    lesion_box[3] + y0,
                ]
            views_truth.append(
                {
                    "region_index": i,
                    "fov_shape": geo.fov.shape,
                    "fov_polygon": geo.fov.polygon(),
                    "crop_box": list(geo.bbox),
                    "lesion_box": image_box,
                    "lesion": (
                        _lesion_dict(replace(lesion, cx=lesion.cx - offset), (x0, y0), view.finding)
                        if lesion is not None and view.finding is not None
                        else None
                    ),
                }
            )
        frame = np.repeat(canvas[:, :, None], 3, axis=2) if colour else canvas
        ui = [e.as_dict() for e in painter.elements]
        if view.doppler:
            geo = per_fov[0][0]
            if doppler_box is None:
                doppler_box = overlays.doppler_box_for(geo.bbox, views_truth[0]["lesion_box"], rng)
            overlays.draw_doppler(frame, doppler_box, geo.mask, (geo.bbox[0], geo.bbox[1]), rng)
            overlays.draw_colour_bar(frame, layout.colour_bar)
            ui.append({"kind": "colour_bar", "box": list(layout.colour_bar)})
        clean = frame
        caliper_points: list[list[int]] = []
        lines: list[list[int]] = []
        if view.calipers and per_fov[0][2] is not None:
            geo, lesion = per_fov[0][0], per_fov[0][2]
            shifted = replace(lesion, cx=lesion.cx - offset)
            caliper_points = [
                [round(float(x) + geo.bbox[0]), round(float(y) + geo.bbox[1])]
                for x, y in shifted.extent_points(view.caliper_count)
            ]
            frame, lines = overlays.draw_calipers(
                frame,
                [(p[0], p[1]) for p in caliper_points],
                view.caliper_style,
                view.caliper_size,
                view.caliper_stroke,
                view.caliper_line,
            )
        first = views_truth[0]
        truths.append(
            {
                "index": k,
                "fov_shape": first["fov_shape"],
                "fov_polygon": first["fov_polygon"],
                "crop_box": first["crop_box"],
                "lesion_box": first["lesion_box"],
                "lesion": first["lesion"],
                "views": views_truth,
                "has_calipers": bool(caliper_points),
                "caliper_points": caliper_points,
                "caliper_style": view.caliper_style if caliper_points else None,
                "caliper_colour": list(overlays.YELLOW if colour else overlays.WHITE)
                if caliper_points
                else None,
                "caliper_size_px": view.caliper_size if caliper_points else None,
                "caliper_stroke_px": view.caliper_stroke if caliper_points else None,
                "caliper_lines": lines,
                "is_doppler": view.doppler,
                "doppler_box": list(doppler_box) if doppler_box else None,
                "needle": view.needle,
                "laterality": view.laterality,
                "body_area": view.body_area,
                "orientation": ORIENTATIONS[view.orientation],
                "orientation_text": view.orientation,
                "clock_position": view.clock,
                "nipple_distance_cm": view.distance_cm,
                "burned_in_text": [t.as_dict() for t in painter.texts],
                "ui_elements": ui,
            }
        )
        frames.append(frame)
        clean_frames.append(clean)
    regions = [
        {
            "box": list(geo.region),
            "data_type": 2 if view.doppler else 1,
            "spatial_format": 1,
            "physical_delta_cm": round(cm_per_px, 6),
            "fov_shape": geo.fov.shape,
        }
        for geo, *_ in per_fov
    ]
    return RenderedView(frames, clean_frames, truths, regions, colour)
