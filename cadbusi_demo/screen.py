"""The static screen around the image: PHI header band, annotations, ticks, bars, body mark.

Text is drawn with Pillow's bundled FreeType font (``ImageFont.load_default(size=...)``: the
same glyphs on every machine) in white, at OCR-readable sizes. Every text's ground-truth box is
the exact bounding box of the pixels it changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cadbusi_demo.layouts import Box, Fov, Layout

if TYPE_CHECKING:
    from cadbusi_demo.acquisition import StudyPlan, ViewPlan

TEXT_WHITE = 255
UI_GREY = 200
PANEL_GREY = 26


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


@dataclass(frozen=True)
class BurnedText:
    text: str
    kind: str  # 'phi' | 'annotation' | 'ui'
    field: str
    box: Box

    def as_dict(self) -> dict:
        return {"text": self.text, "kind": self.kind, "field": self.field, "box": list(self.box)}


@dataclass(frozen=True)
class UiElement:
    kind: (
        str  # 'grey_bar' | 'depth_ticks' | 'body_mark' | 'side_panel' | 'separator' | 'colour_bar'
    )
    box: Box

    def as_dict(self) -> dict:
        return {"kind": self.kind, "box": list(self.box)}


class Painter:
    """Draws on a grey canvas and records what it drew where."""

    def __init__(self, rows: int, columns: int) -> None:
        self.image = Image.new("L", (columns, rows), 0)
        self.draw = ImageDraw.Draw(self.image)
        self.texts: list[BurnedText] = []
        self.elements: list[UiElement] = []

    def text(
        self,
        x: int,
        y: int,
        text: str,
        size: int,
        kind: str,
        field: str,
        fill: int = TEXT_WHITE,
        align_right: bool = False,
    ) -> BurnedText:
        """Draw ``text`` with its top-left (or top-right) at ``(x, y)``; returns its ink box."""
        face = font(size)
        if align_right:
            x = x - math.ceil(self.draw.textbbox((0, y), text, font=face)[2])
        left, top, right, bottom = (int(v) for v in self.draw.textbbox((x, y), text, font=face))
        window = (
            max(0, left - 2),
            max(0, top - 2),
            min(self.image.width, right + 2),
            min(self.image.height, bottom + 2),
        )
        before = np.asarray(self.image.crop(window))
        self.draw.text((x, y), text, font=face, fill=fill)
        changed = np.asarray(self.image.crop(window)) != before
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        box = (
            window[0] + int(cols[0]),
            window[1] + int(rows[0]),
            window[0] + int(cols[-1]),
            window[1] + int(rows[-1]),
        )
        item = BurnedText(text, kind, field, box)
        self.texts.append(item)
        return item

    def element(self, kind: str, box: Box) -> None:
        self.elements.append(UiElement(kind, box))

    def pixels(self) -> np.ndarray:
        return np.array(self.image)


def header_values(study: StudyPlan, layout: Layout) -> dict[str, str]:
    patient = study.patient
    return {
        "name_comma": f"{patient.last_name}, {patient.first_name}",
        "name_space": f"{patient.first_name} {patient.last_name}",
        "mrn": patient.patient_id,
        "date": study.exam_datetime.strftime("%m/%d/%Y"),
        "time": study.exam_datetime.strftime("%H:%M:%S"),
        "dob": patient.birth_date.strftime("%m/%d/%Y"),
        "institution": study.site.name,
        "probe": layout.probe,
        "preset": layout.preset,
        "mi": study.mechanical_index,
        "ti": study.thermal_index,
    }


def draw_header(painter: Painter, layout: Layout, values: dict[str, str]) -> None:
    """The PHI band above the region, the separator line and any side panel or UI column."""
    if layout.side_panel is not None:
        x0, x1 = layout.side_panel
        painter.draw.rectangle((x0, 0, x1, layout.rows - 1), fill=PANEL_GREY)
        painter.draw.line((x1, 0, x1, layout.rows - 1), fill=90)
        painter.element("side_panel", (x0, 0, x1, layout.rows - 1))
    for item in layout.header:
        text = item.template.format(**values)
        x = layout.columns + item.x if item.x < 0 else item.x
        painter.text(
            x,
            item.y,
            text,
            item.size,
            item.kind,
            item.field,
            fill=TEXT_WHITE if item.kind == "phi" else UI_GREY,
            align_right=item.x < 0,
        )
    y = layout.header_height - 2
    x_start = layout.side_panel[1] + 1 if layout.side_panel else 0
    painter.draw.line((x_start, y, layout.columns - 1, y), fill=70)
    painter.element("separator", (x_start, y, layout.columns - 1, y))
    x, y = layout.menu_origin
    for word in layout.menu:
        painter.text(x, y, word.format(**values), 15, "ui", "menu", fill=190)
        y += 30


def draw_annotation(painter: Painter, layout: Layout, view: ViewPlan) -> None:
    """Operator annotation lines (laterality, clock, distance, orientation) below/beside the FOV."""
    size = layout.annotation_size
    x0, y = layout.annotation_origin
    lines: list[list[tuple[str, str]]] = [[(view.laterality_text, "laterality")]]
    if view.body_area == "axilla":
        lines[0].append(("AXILLA", "body_area"))
    else:
        assert view.clock is not None and view.distance_text is not None  # set outside the axilla
        lines.append([(view.clock, "clock_position"), (view.distance_text, "nipple_distance")])
    lines.append([(view.orientation, "orientation")])
    gap = int(size * 0.5)
    for tokens in lines:
        x = x0
        for text, field in tokens:
            item = painter.text(x, y, text, size, "annotation", field)
            x = item.box[2] + 1 + gap
        y += size + 8


def draw_depth_ticks(
    painter: Painter,
    layout: Layout,
    fov: Fov,
    fov_box: Box,
    region: Box,
    cm_per_px: float,
    depth_cm: float,
    side: str,
) -> None:
    """Depth marks every 0.5 cm beside the FOV with a label every centimetre."""
    if fov.shape == "sector":
        top = fov.apex[1] + fov.r0
        x = region[2] - 34
    else:
        top = fov_box[1]
        x = fov_box[2] + 6 if side == "right" else fov_box[0] - 14
    xs, ys = [], []
    steps = int(depth_cm / 0.5 + 1e-6)
    for k in range(steps + 1):
        y = round(top + k * 0.5 / cm_per_px)
        length = 8 if k % 2 == 0 else 4
        start = x if side == "right" or fov.shape == "sector" else x + 8 - length
        painter.draw.line((start, y, start + length - 1, y), fill=UI_GREY)
        xs += [start, start + length - 1]
        ys.append(y)
        if k % 2 == 0 and k > 0:
            if side == "right" or fov.shape == "sector":
                painter.text(x + 11, y - 7, str(k // 2), 12, "ui", "depth_label", fill=UI_GREY)
            else:
                painter.text(
                    x - 3,
                    y - 7,
                    str(k // 2),
                    12,
                    "ui",
                    "depth_label",
                    fill=UI_GREY,
                    align_right=True,
                )
    painter.element("depth_ticks", (min(xs), min(ys), max(xs), max(ys)))


def draw_grey_bar(canvas: np.ndarray, box: Box) -> None:
    x0, y0, x1, y1 = box
    ramp = np.linspace(255, 0, y1 - y0 + 1).round().astype(np.uint8)
    canvas[y0 : y1 + 1, x0 : x1 + 1] = ramp[:, None]


def draw_body_mark(painter: Painter, box: Box, view: ViewPlan) -> None:
    """A breast (circle, nipple, probe bar at the clock position) or an axilla pictogram."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    radius = (x1 - x0) / 2 - 4
    if view.body_area == "axilla":
        painter.draw.polygon([(x0 + 6, y1 - 6), (cx, y0 + 6), (x1 - 6, y1 - 6)], outline=185)
        painter.draw.line((cx - 10, cy + 6, cx + 10, cy + 6), fill=230, width=3)
    else:
        painter.draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=185)
        painter.draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=185)
        hour, minute = (int(v) for v in (view.clock or "12:00").split(":"))
        angle = math.radians(
            (hour % 12 + minute / 60) * 30
        )  # clockwise from 12, facing the patient
        px, py = cx + 0.6 * radius * math.sin(angle), cy - 0.6 * radius * math.cos(angle)
        dx, dy = 8 * math.cos(angle), 8 * math.sin(angle)
        painter.draw.line((px - dx, py - dy, px + dx, py + dy), fill=230, width=3)
    painter.element("body_mark", box)
