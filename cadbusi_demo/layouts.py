"""Device screen layouts: image size, PHI header band, US region, field of view, UI furniture.

Three devices differ the way real ones do: a 1024x768 linear-probe screen with a UI column on
the right, a 960x720 linear-probe screen with a menu panel on the left, and an 800x600
curvilinear (sector) screen whose annotations sit in the dark corners beside the fan.

>>> fov = LAYOUTS["acuson_s2000"].fov
>>> box, mask = fov.mask_in(LAYOUTS["acuson_s2000"].region)
>>> fov.shape, bool(mask.any())
('sector', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1, inclusive


@dataclass(frozen=True)
class Fov:
    """A field of view: an axis-aligned rectangle or a sector (fan) below a virtual apex."""

    shape: str  # 'rectangle' | 'sector'
    box: Box  # rectangle: the FOV itself; sector: a box that contains the fan
    apex: tuple[float, float] = (0.0, 0.0)
    r0: float = 0.0
    r1: float = 0.0
    half_angle_deg: float = 0.0

    def mask_in(self, box: Box) -> tuple[Box, np.ndarray]:
        """The FOV mask restricted to its exact bounding box: ``(bbox, bool mask)``."""
        if self.shape == "rectangle":
            x0, y0, x1, y1 = self.box
            return self.box, np.ones((y1 - y0 + 1, x1 - x0 + 1), dtype=bool)
        x0, y0, x1, y1 = box
        yy, xx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
        dx, dy = xx - self.apex[0], yy - self.apex[1]
        radius = np.hypot(dx, dy)
        angle = np.degrees(np.arctan2(np.abs(dx), dy))
        mask = (radius >= self.r0) & (radius <= self.r1) & (angle <= self.half_angle_deg) & (dy > 0)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        bbox = (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]), y0 + int(rows[-1]))
        return bbox, mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    def polygon(self) -> list[list[float]]:
        """The outline as ``[[x, y], ...]`` (rectangle corners, or arcs and edges of the fan)."""
        if self.shape == "rectangle":
            x0, y0, x1, y1 = self.box
            return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
        half = math.radians(self.half_angle_deg)
        outer = np.linspace(-half, half, 17)
        inner = np.linspace(half, -half, 9)
        points = [
            (self.apex[0] + self.r1 * math.sin(a), self.apex[1] + self.r1 * math.cos(a))
            for a in outer
        ]
        points += [
            (self.apex[0] + self.r0 * math.sin(a), self.apex[1] + self.r0 * math.cos(a))
            for a in inner
        ]
        return [[round(x, 1), round(y, 1)] for x, y in points]

    def depth_px(self, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        """Distance below the skin line, in pixels, for pixel coordinates."""
        if self.shape == "rectangle":
            return (yy - self.box[1]).astype(np.float32)
        return (np.hypot(xx - self.apex[0], yy - self.apex[1]) - self.r0).astype(np.float32)

    @property
    def depth_span_px(self) -> float:
        return (
            float(self.box[3] - self.box[1] + 1) if self.shape == "rectangle" else self.r1 - self.r0
        )


@dataclass(frozen=True)
class HeaderItem:
    """One burned-in text in the header band; ``x < 0`` aligns the right edge to width + x."""

    x: int
    y: int
    template: str
    kind: str  # 'phi' | 'ui'
    field: str
    size: int


@dataclass(frozen=True)
class Layout:
    name: str
    manufacturer: str
    model: str
    software_versions: str
    probe: str
    probe_type: str  # 'LINEAR' | 'CURVED LINEAR'
    frequency_mhz: float
    preset: str
    rows: int
    columns: int
    header_height: int
    region: Box
    fov: Fov
    dual_regions: tuple[Box, Box] | None
    dual_fovs: tuple[Fov, Fov] | None
    side_panel: tuple[int, int] | None  # x0, x1 of a menu panel
    header: tuple[HeaderItem, ...]
    menu: tuple[str, ...]  # UI words in the side panel or UI column
    menu_origin: tuple[int, int]
    annotation_origin: tuple[int, int]
    annotation_size: int
    ticks: str  # 'left' | 'right' of the FOV
    grey_bar: Box
    body_mark: Box
    colour_bar: Box
    single_encodings: dict[str, float]  # 'rgb' | 'mono' | 'jpeg' -> weight
    cine_encodings: dict[str, float]
    burned_in_tag_probability: float
    caliper_style: str  # the device's usual caliper glyph ('+' or 'x')


LAYOUTS: dict[str, Layout] = {
    "logiq_e10": Layout(
        name="logiq_e10",
        manufacturer="GE Healthcare",
        model="LOGIQ E10",
        software_versions="R3.2.1",
        probe="ML6-15-D",
        probe_type="LINEAR",
        frequency_mhz=12.0,
        preset="Breast",
        rows=768,
        columns=1024,
        header_height=64,
        region=(70, 72, 953, 735),
        fov=Fov("rectangle", (180, 92, 843, 627)),
        dual_regions=((70, 72, 509, 735), (514, 72, 953, 735)),
        dual_fovs=(Fov("rectangle", (130, 92, 469, 627)), Fov("rectangle", (554, 92, 893, 627))),
        side_panel=None,
        header=(
            HeaderItem(12, 8, "{name_comma}", "phi", "patient_name", 20),
            HeaderItem(380, 8, "ID: {mrn}", "phi", "mrn", 20),
            HeaderItem(600, 8, "{date}", "phi", "exam_date", 20),
            HeaderItem(740, 8, "{time}", "ui", "exam_time", 20),
            HeaderItem(12, 38, "{institution}", "phi", "institution", 16),
            HeaderItem(-12, 8, "{probe} {preset}", "ui", "probe", 16),
            HeaderItem(-12, 38, "MI {mi}  TIs {ti}", "ui", "acoustic_output", 16),
        ),
        menu=("Gn 52", "DR 66", "FR 31", "AO 90", "CRI 2"),
        menu_origin=(962, 120),
        annotation_origin=(190, 642),
        annotation_size=18,
        ticks="right",
        grey_bar=(92, 120, 103, 375),
        body_mark=(800, 644, 870, 714),
        colour_bar=(900, 120, 911, 247),
        single_encodings={"rgb": 0.55, "jpeg": 0.45},
        cine_encodings={"jpeg": 1.0},
        burned_in_tag_probability=0.9,
        caliper_style="+",
    ),
    "epiq_7g": Layout(
        name="epiq_7g",
        manufacturer="Philips Medical Systems",
        model="EPIQ 7G",
        software_versions="7.0.5.189",
        probe="L12-5",
        probe_type="LINEAR",
        frequency_mhz=8.5,
        preset="Breast",
        rows=720,
        columns=960,
        header_height=52,
        region=(168, 56, 951, 711),
        fov=Fov("rectangle", (236, 72, 875, 579)),
        dual_regions=((168, 56, 557, 711), (562, 56, 951, 711)),
        dual_fovs=(Fov("rectangle", (240, 72, 539, 579)), Fov("rectangle", (580, 72, 879, 579))),
        side_panel=(0, 159),
        header=(
            HeaderItem(176, 4, "{institution}", "phi", "institution", 16),
            HeaderItem(176, 26, "{name_comma}", "phi", "patient_name", 18),
            HeaderItem(520, 26, "{mrn}", "phi", "mrn", 18),
            HeaderItem(640, 26, "DOB {dob}", "phi", "birth_date", 18),
            HeaderItem(-12, 4, "{date} {time}", "phi", "exam_date", 16),
            HeaderItem(-12, 26, "MI {mi}  TIS {ti}", "ui", "acoustic_output", 16),
        ),
        menu=("{probe}", "{preset}", "2D", "Gn 54", "C 60", "Res/Spd", "Harm", "SonoCT"),
        menu_origin=(12, 70),
        annotation_origin=(250, 596),
        annotation_size=18,
        ticks="left",
        grey_bar=(920, 90, 931, 345),
        body_mark=(790, 600, 860, 670),
        colour_bar=(896, 90, 907, 217),
        single_encodings={"mono": 0.7, "jpeg": 0.3},
        cine_encodings={"mono": 0.7, "jpeg": 0.3},
        burned_in_tag_probability=0.7,
        caliper_style="x",
    ),
    "acuson_s2000": Layout(
        name="acuson_s2000",
        manufacturer="SIEMENS",
        model="ACUSON S2000",
        software_versions="VC21",
        probe="9L4",
        probe_type="CURVED LINEAR",
        frequency_mhz=7.0,
        preset="Breast",
        rows=600,
        columns=800,
        header_height=58,
        region=(16, 60, 783, 591),
        fov=Fov(
            "sector",
            (16, 60, 783, 591),
            apex=(400.0, -60.0),
            r0=160.0,
            r1=580.0,
            half_angle_deg=35.0,
        ),
        dual_regions=None,
        dual_fovs=None,
        side_panel=None,
        header=(
            HeaderItem(10, 6, "{name_space}", "phi", "patient_name", 18),
            HeaderItem(340, 6, "{mrn}", "phi", "mrn", 18),
            HeaderItem(10, 32, "{institution}", "phi", "institution", 15),
            HeaderItem(-10, 6, "{date}", "phi", "exam_date", 18),
            HeaderItem(-10, 32, "{time}", "ui", "exam_time", 15),
            HeaderItem(450, 32, "{probe} {preset} MI {mi} TIb {ti}", "ui", "probe", 14),
        ),
        menu=(),
        menu_origin=(0, 0),
        annotation_origin=(24, 500),
        annotation_size=16,
        ticks="right",
        grey_bar=(24, 80, 35, 335),
        body_mark=(620, 510, 690, 580),
        colour_bar=(44, 80, 55, 207),
        single_encodings={"rgb": 0.4, "jpeg": 0.6},
        cine_encodings={"jpeg": 1.0},
        burned_in_tag_probability=0.0,
        caliper_style="+",
    ),
}
