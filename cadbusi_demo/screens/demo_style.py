"""The demo cohort's own screens (:func:`cadbusi_demo.render.render_view`) as a
:class:`~cadbusi_demo.screens_heldout.Screen`: ``render_screen("demo", seed)``.

A frame is one view of a small planned demo cohort (chosen by ``seed``; the pixels — speckle,
lesion, calipers — drawn with ``seed`` as the study's pixel seed), rendered by the demo
generator itself, with its ground truth translated: texts (the depth labels as ``scale``), the
caliper points and the exact pixels of their glyphs and dotted lines, every field of view, UI
boxes, the Doppler flag. The clean frame is the demo's frame before calipers with every text's
box filled with the background around it.

The demo style is not one of :data:`~cadbusi_demo.screens_heldout.FAMILIES`: it cannot show a
given :class:`~cadbusi_demo.screens_heldout.LesionMarks` (the demo plans its own findings), and
the demo cohort is what the detectors were developed on (tuning data, never held out).

>>> from cadbusi_demo.screens_heldout import render_screen
>>> screen = render_screen("demo", 4)
>>> screen.family, screen.frame.dtype.name, screen.frame.ndim, screen.fov_mask.any()
('demo', 'uint8', 3, np.True_)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from cadbusi_demo import overlays
from cadbusi_demo.acquisition import StudyPlan, ViewPlan, plan_acquisitions
from cadbusi_demo.config import DemoConfig
from cadbusi_demo.layouts import LAYOUTS
from cadbusi_demo.plan import plan_cohort
from cadbusi_demo.render import geometries, render_view

if TYPE_CHECKING:
    from cadbusi_demo.screens_heldout import Screen

#: The planned cohort the demo frames come from (a few days: every layout, still images).
_CONFIG = DemoConfig(start=dt.date(2026, 9, 1), days=6, studies_per_day=(2, 3), seed=20261203)


@cache
def _views() -> tuple[tuple[StudyPlan, ViewPlan], ...]:
    """Every still view of the planned cohort (cine clips left out)."""
    return tuple(
        (study, view)
        for study in plan_acquisitions(plan_cohort(_CONFIG))
        for view in study.views
        if view.frames == 1
    )


def render_demo_screen(seed: int) -> Screen:
    """One demo-cohort frame as a :class:`Screen` (deterministic in ``seed``)."""
    from cadbusi_demo.screens_heldout import Screen, TextTruth

    pool = _views()
    study, view = pool[seed % len(pool)]
    study = replace(study, seed=seed)
    rendered = render_view(study, view)
    truth = rendered.truth[0]
    frame, before = rendered.frames[0], rendered.clean[0]
    if frame.ndim == 2:
        frame, before = (np.repeat(a[..., None], 3, axis=2) for a in (frame, before))
    height, width = frame.shape[:2]
    clean = before.copy()
    texts = []
    for item in truth["burned_in_text"]:
        x0, y0, x1, y1 = item["box"]
        window = clean[y0 : y1 + 1, x0 : x1 + 1]
        ink = np.asarray(before[y0 : y1 + 1, x0 : x1 + 1, 0])
        scale = item["field"] == "depth_label"
        colour = int(ink.max())
        if not scale:  # the background around the text: the commonest value of its box
            values, counts = np.unique(ink, return_counts=True)
            window[...] = values[int(np.argmax(counts))]
        kind = "scale" if scale else item["kind"]
        texts.append(TextTruth(item["text"], kind, (x0, y0, x1, y1), (colour, colour, colour)))
    fov_mask = np.zeros((height, width), bool)
    for geo in geometries(study.layout, view.dual):
        x0, y0, x1, y1 = geo.bbox
        fov_mask[y0 : y1 + 1, x0 : x1 + 1] |= geo.mask
    caliper_mask = np.zeros((height, width), bool)
    points = [(int(x), int(y)) for x, y in truth["caliper_points"]]
    for x, y in points:
        ys, xs = overlays.glyph_pixels(
            x, y, view.caliper_style, view.caliper_size, view.caliper_stroke
        )
        keep = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        caliper_mask[ys[keep], xs[keep]] = True
    for a0, a1, b0, b1 in truth["caliper_lines"]:
        ys, xs = overlays.dotted_line_pixels((a0, a1), (b0, b1), view.caliper_size // 2 + 4)
        caliper_mask[ys, xs] = True
    polygons = [[(round(x), round(y)) for x, y in v["fov_polygon"]] for v in truth["views"]]
    marks = overlays.YELLOW if rendered.colour else overlays.WHITE
    ui_boxes = [tuple(e["box"]) for e in truth["ui_elements"] if e["kind"] != "side_panel"]
    if truth["doppler_box"]:
        ui_boxes.append(tuple(truth["doppler_box"]))
    layout = LAYOUTS[study.layout]
    size = "large" if view.caliper_size >= 12 else "small"
    return Screen(
        family="demo",
        seed=seed,
        frame=np.ascontiguousarray(frame),
        clean=np.ascontiguousarray(clean),
        fov_mask=fov_mask,
        fov_polygon=polygons[0],
        texts=texts,
        calipers=points,
        ui_boxes=[(int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in ui_boxes],
        pixel_spacing_cm=rendered.regions[0]["physical_delta_cm"],
        caliper_mask=caliper_mask,
        caliper_style=" ".join(
            [view.caliper_style, size] + (["dotted"] if truth["caliper_lines"] else [])
        ),
        caliper_colour=marks,
        fov_polygons=polygons,
        dual=len(polygons) > 1,
        doppler=bool(truth["is_doppler"]),
        doppler_kind="colour" if truth["is_doppler"] else None,
        header_layout=layout.name,
        fan={"rectangle": "linear"}.get(truth["fov_shape"], truth["fov_shape"]),
    )
