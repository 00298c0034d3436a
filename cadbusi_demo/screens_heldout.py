"""A second, independent ultrasound screen generator: domain-randomized scanner layout families.

Written apart from the demo generator (:mod:`cadbusi_demo.render`) so that detectors
tuned on one can be measured on the other. Each family (:class:`Family`) is modelled loosely
on a real scanner's screen: GE LOGIQ and Voluson; Philips EPIQ, iU22, Affiniti and CX50;
Siemens ACUSON S2000, Sequoia and Juniper; Canon Aplio; Samsung RS; SuperSonic Aixplorer;
Hitachi-Aloka; Mindray; Esaote; BK; SonoSite Edge and PX; Terason. Within its own ranges every
frame randomizes the header layout, band and position; annotation place (top right, top band,
bottom band, side panel, inside the image; another place when the drawn one is taken); fonts
(DejaVu faces when installed, thin ExtraLight, Pillow's bitmap font; 8-30 px), text colours
(white, yellow, cyan, green, grey); strings; the fan (sector, linear, curvilinear,
trapezoid) and dual views; speckle brightness (bright speckle reaches full white, as on real
scanners); colour and power Doppler boxes, elastography, zoom boxes
(:mod:`cadbusi_demo.screens.elements`); caliper style and count; measurement lines or tables;
body markers with probe icons, depth scales, TGC curves, focus markers; JPEG re-encoding.

Families :data:`TUNING_FAMILIES` may be used to tune detectors; :data:`HELDOUT_FAMILIES` must
never be (they measure generalization).

Ground truth (:class:`Screen`): every text box with its string and kind (texts never overlap),
the caliper points and mask, the field-of-view polygons and mask (``fov_polygon`` is the
first view's, ``fov_polygons`` every view's, ``fov_mask`` and ``fov_box`` the union), the UI
graphics' boxes, measurement panels, the elements shown (``dual``, ``doppler``,
``elastography``, ``zoom``, ``jpeg_quality``), the clean frame (speckle and UI graphics, no
text and no calipers, never JPEG re-encoded), and the pixel spacing the depth scale implies.
:class:`LesionMarks` renders a given lesion instead of random annotation and calipers (side,
clock and distance in the frame's phrasing; calipers spanning the lesion's size at the
frame's pixel spacing). Text kinds: ``phi`` (clinic, patient name, ID, date, time),
``annotation``, ``measurement`` (``D1 1.58 cm`` ..., ``Vol 2.30 ml``), ``ui`` (probe,
frequency, gain, MI/TI), ``scale`` (depth-scale numbers: single digits, neither text a reader
needs nor a false detection) and ``caliper`` (the digits numbering caliper marks; also in
:attr:`Screen.caliper_mask`).

Calipers (:mod:`cadbusi_demo.screens.calipers`): 0-4 pairs (0-8 marks) per frame, one style
per frame (``+``, ``x`` or arrows, small or large, optionally numbered, with dotted lines or
dotted ellipse traces) in yellow, green, cyan or white; :attr:`Screen.calipers` lists the mark
centres (pairs in order), :attr:`Screen.caliper_mask` every pixel they drew.
``render_screen(family, seed, caliper_style="hollow")`` draws the same frame's calipers as
hollow '+' marks (:class:`HollowStyle`: light bars outlined in black around an empty centre,
as the Philips EPIQ draws them, or the light outline of a '+'), from a random stream of
their own: the default frames stay as they were.

>>> screen = render_screen("ge_logiq", seed=3)
>>> screen.frame.shape, screen.frame.dtype.name, len(screen.calipers) % 2
((768, 1024, 3), 'uint8', 0)
>>> any(t.kind == "annotation" for t in screen.texts)
True
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from functools import cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cadbusi_demo.screens.calipers import (
    CALIPER_EXTRAS,
    CaliperStyle,
    DrawnCalipers,
    draw_calipers,
    random_style,
)
from cadbusi_demo.screens.elements import (
    bbox,
    body_marker,
    doppler_box,
    elastography,
    focus_markers,
    nonzero,
    tgc_curve,
    zoom_box,
)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 inclusive

WHITE = (255, 255, 255)
YELLOW = (255, 255, 0)
CYAN = (0, 255, 255)
GREEN = (0, 255, 0)
GREY = (200, 200, 200)
PALE_YELLOW = (255, 255, 150)

_DEJAVU = "/usr/share/fonts/truetype/dejavu"
_FACES = {
    "sans": "DejaVuSans.ttf",
    "sans_bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono_bold": "DejaVuSansMono-Bold.ttf",
    "condensed": "DejaVuSansCondensed.ttf",
    "serif": "DejaVuSerif.ttf",
    "light": "DejaVuSans-ExtraLight.ttf",
    "condensed_bold": "DejaVuSansCondensed-Bold.ttf",
    "serif_bold": "DejaVuSerif-Bold.ttf",
}


@cache
def load_font(face: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font by face name: a DejaVu face when installed, else Pillow's bundled FreeType
    font; ``bitmap`` is Pillow's fixed 11-px bitmap font (the size is ignored)."""
    if face == "bitmap":
        return ImageFont.load_default_imagefont()
    path = os.path.join(_DEJAVU, _FACES.get(face, ""))
    if face in _FACES and os.path.exists(path):
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class TextTruth:
    text: str
    kind: str  # phi | annotation | measurement | ui | scale
    box: Box
    colour: tuple[int, int, int]

    def as_dict(self) -> dict:
        return {"text": self.text, "kind": self.kind, "box": list(self.box)}


@dataclass
class Screen:
    family: str
    seed: int
    frame: np.ndarray  # (H, W, 3) uint8 RGB
    clean: np.ndarray  # the same without text and calipers
    fov_mask: np.ndarray  # bool (H, W)
    fov_polygon: list[tuple[int, int]]
    texts: list[TextTruth] = field(default_factory=list)
    calipers: list[tuple[int, int]] = field(default_factory=list)
    ui_boxes: list[Box] = field(default_factory=list)  # grey bar, body mark, ticks
    pixel_spacing_cm: float | None = None  # depth scale (cm) / field-of-view height (px)
    #: every pixel the caliper graphics drew (marks, numbers, dotted lines, ellipses,
    #: arrows); None only for a Screen built by hand
    caliper_mask: np.ndarray | None = None
    #: the frame's caliper style (:attr:`CaliperStyle.name`, e.g. ``"+ small numbered"``),
    #: drawn for every frame, also one without calipers
    caliper_style: str = ""
    caliper_colour: tuple[int, int, int] | None = None
    #: every view's field-of-view polygon (two for a dual view); ``fov_polygon`` is the
    #: first (left) view's and ``fov_mask`` the union of all
    fov_polygons: list[list[tuple[int, int]]] = field(default_factory=list)
    dual: bool = False  # two views side by side
    doppler: bool = False  # a colour or power Doppler box (``doppler_kind``)
    doppler_kind: str | None = None  # colour | power
    elastography: bool = False  # an elastography box with its colour bar
    zoom: bool = False  # a zoom rectangle with its magnified inset
    #: the frame was re-encoded as JPEG at this quality (None: not); ``clean`` never is
    jpeg_quality: int | None = None
    header_layout: str = ""  # top_left_stack | one_line | two_columns | right_stack
    fan: str = ""  # sector | linear | curvilinear | trapezoid
    #: measurement tables' dark panels (inclusive boxes): drawn with the text, so not in
    #: ``clean``
    panels: list[Box] = field(default_factory=list)

    @property
    def fov_box(self) -> Box:
        """The crop: bounding box (inclusive) of the field of view, both views of a dual view."""
        ys, xs = np.nonzero(self.fov_mask)
        return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())

    def phi_blacked_out(self) -> np.ndarray:
        """A copy of the frame with its identifying texts (kind ``phi``) blacked out, 2 px
        around each box, as pixel cleaning leaves it."""
        frame = self.frame.copy()
        for t in self.texts:
            if t.kind == "phi":
                x0, y0, x1, y1 = t.box
                frame[max(0, y0 - 2) : y1 + 3, max(0, x0 - 2) : x1 + 3] = 0
        return frame

    @property
    def annotation_text(self) -> str:
        return "\n".join(t.text for t in self.texts if t.kind == "annotation")

    @property
    def readable_texts(self) -> list[TextTruth]:
        """Texts a text detector must find (all but single-character scale numbers and the
        digits numbering calipers)."""
        return [t for t in self.texts if t.kind not in ("scale", "caliper")]


@dataclass(frozen=True)
class Family:
    name: str
    size: tuple[int, int]  # (height, width)
    fans: tuple[str, ...]  # sector | linear | curvilinear | trapezoid
    faces: tuple[str, ...]
    sizes: tuple[int, int]  # text height range (font size)
    colours: tuple[tuple[int, int, int], ...]  # header / UI text colours
    annotation_colours: tuple[tuple[int, int, int], ...]
    annotation_place: tuple[str, ...]  # top_right | bottom_band | inside | side
    measurement_place: tuple[str, ...]  # bottom | top_left_inside | side
    header: str  # top_left_stack | one_line | two_columns | right_stack
    caliper_glyphs: tuple[str, ...]
    scale_side: str  # right | left
    speckle_gain: tuple[float, float]  # share of fan pixels at full white (fraction)
    caliper_colours: tuple[tuple[int, int, int], ...] = (
        (255, 255, 0),
        (0, 255, 0),
        (0, 255, 255),
        (255, 255, 255),
    )
    caliper_extras: tuple[str, ...] = CALIPER_EXTRAS
    #: weights of 0, 1, 2, 3, 4 caliper pairs (0-8 marks) on a frame
    pair_weights: tuple[float, ...] = (0.25, 0.3, 0.2, 0.15, 0.1)
    #: other header layouts the family also shows (``header`` is the usual one)
    header_alts: tuple[str, ...] = ()
    #: header band backgrounds (None: black, as the image background)
    header_bands: tuple[tuple[int, int, int] | None, ...] = (None,)
    #: shares of frames with two views side by side, a zoom box, a colour or power Doppler
    #: box, an elastography box, a TGC curve, focus markers
    dual_share: float = 0.1
    zoom_share: float = 0.08
    doppler_share: float = 0.12
    elasto_share: float = 0.05
    tgc_share: float = 0.5
    focus_share: float = 0.6
    #: share of frames whose measurements are a table (one line each, dark backing)
    table_share: float = 0.5
    body_markers: tuple[str, ...] = ("circle",)  # circle | pair | quadrant
    #: JPEG quality range of the re-encoded frame, and the share of frames re-encoded
    jpeg: tuple[int, int] = (75, 95)
    jpeg_share: float = 0.4
    #: the annotation's own faces and sizes (empty: ``faces`` and ``sizes``), where the
    #: family's smallest or thinnest faces are kept for the header and UI text
    annotation_faces: tuple[str, ...] = ()
    annotation_sizes: tuple[int, int] | None = None


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "ge_logiq",
            (768, 1024),
            ("sector", "curvilinear"),
            ("sans", "sans_bold", "mono"),
            (14, 22),
            (WHITE, GREY),
            (WHITE, YELLOW),
            ("top_right",),
            ("bottom",),
            "top_left_stack",
            ("+", "x", "+", "x", "arrow"),
            "right",
            (0.01, 0.04),
        ),
        Family(
            "philips_epiq",
            (768, 1024),
            ("linear", "trapezoid"),
            ("sans", "condensed"),
            (13, 20),
            (WHITE, GREY),
            (WHITE, YELLOW, CYAN),
            ("bottom_band", "inside"),
            ("side",),
            "one_line",
            ("+", "+", "x", "arrow"),
            "right",
            (0.01, 0.03),
        ),
        Family(
            "siemens_s2000",
            (600, 800),
            ("curvilinear", "linear"),
            ("sans", "mono", "bitmap"),
            (12, 18),
            (WHITE, GREY),
            (WHITE, YELLOW),
            ("bottom_band", "top_right"),
            ("top_left_inside", "bottom"),
            "two_columns",
            ("+", "x", "+", "x", "arrow"),
            "left",
            (0.005, 0.03),
        ),
        Family(
            "canon_aplio",
            (720, 960),
            ("linear", "curvilinear"),
            ("sans_bold", "condensed", "serif"),
            (14, 24),
            (WHITE, GREEN, GREY),
            (GREEN, WHITE, YELLOW),
            ("bottom_band", "inside", "top_right"),
            ("side", "bottom"),
            "right_stack",
            ("x", "+", "x", "+", "arrow"),
            "right",
            (0.01, 0.05),
        ),
        Family(
            "samsung_rs",
            (768, 1024),
            ("sector", "linear", "trapezoid"),
            ("mono", "mono_bold", "light"),
            (13, 21),
            (CYAN, WHITE),
            (CYAN, WHITE, YELLOW),
            ("top_right", "bottom_band"),
            ("bottom", "top_left_inside"),
            "one_line",
            ("+", "+", "x", "arrow"),
            "left",
            (0.01, 0.04),
        ),
        Family(
            "sonosite_edge",
            (480, 640),
            ("linear", "sector"),
            ("bitmap", "sans", "sans_bold"),
            (11, 16),
            (WHITE, GREY),
            (WHITE, YELLOW),
            ("inside", "bottom_band"),
            ("bottom", "side"),
            "two_columns",
            ("+", "x", "+", "x", "arrow"),
            "right",
            (0.01, 0.04),
        ),
        Family(
            "mindray_dc",
            (768, 1024),
            ("curvilinear", "linear"),
            ("condensed", "sans", "mono"),
            (13, 22),
            (WHITE, YELLOW, GREY),
            (YELLOW, WHITE, GREEN),
            ("side", "top_right", "inside"),
            ("side", "bottom"),
            "top_left_stack",
            ("x", "+", "x", "+", "arrow"),
            "right",
            (0.01, 0.05),
        ),
        Family(
            "ge_voluson",
            (768, 1024),
            ("curvilinear", "sector", "linear"),
            ("sans", "condensed", "sans_bold"),
            (12, 20),
            (WHITE, GREY, YELLOW),
            (WHITE, YELLOW),
            ("top_right", "top_band", "inside"),
            ("side", "top_left_inside"),
            "top_left_stack",
            ("+", "x", "+"),
            "right",
            (0.01, 0.04),
            header_alts=("one_line",),
            header_bands=(None, (24, 28, 40)),
            pair_weights=(0.2, 0.25, 0.25, 0.15, 0.15),
            dual_share=0.25,
            zoom_share=0.15,
            body_markers=("circle", "quadrant"),
            jpeg=(70, 95),
        ),
        Family(
            "philips_iu22",
            (768, 1024),
            ("linear", "trapezoid", "curvilinear"),
            ("sans", "condensed", "light"),
            (12, 19),
            (WHITE, GREY, CYAN),
            (WHITE, YELLOW, CYAN),
            ("bottom_band", "inside", "top_band"),
            ("side", "bottom"),
            "one_line",
            ("+", "+", "x"),
            "right",
            (0.008, 0.035),
            header_alts=("two_columns",),
            header_bands=(None, (30, 30, 30)),
            doppler_share=0.2,
            body_markers=("pair", "circle"),
            jpeg=(80, 98),
            annotation_faces=("sans", "condensed"),
        ),
        Family(
            "philips_affiniti",
            (720, 960),
            ("linear", "trapezoid"),
            ("light", "sans", "condensed"),
            (11, 18),
            (WHITE, GREY),
            (WHITE, CYAN, YELLOW),
            ("inside", "bottom_band", "top_band"),
            ("side", "top_left_inside"),
            "right_stack",
            ("+", "x", "arrow"),
            "right",
            (0.01, 0.04),
            header_alts=("one_line",),
            header_bands=((20, 24, 36), None),
            doppler_share=0.2,
            zoom_share=0.12,
            body_markers=("pair",),
            annotation_faces=("sans", "condensed"),
            annotation_sizes=(13, 18),
        ),
        Family(
            "philips_cx50",
            (600, 800),
            ("linear", "curvilinear", "sector"),
            ("bitmap", "mono", "condensed"),
            (9, 14),
            (WHITE, GREY, GREEN),
            (WHITE, YELLOW, GREEN),
            ("bottom_band", "inside"),
            ("bottom", "side"),
            "two_columns",
            ("+", "x"),
            "left",
            (0.01, 0.05),
            pair_weights=(0.3, 0.35, 0.2, 0.1, 0.05),
            dual_share=0.05,
            tgc_share=0.2,
            jpeg=(60, 85),
            jpeg_share=0.7,
            annotation_faces=("mono", "condensed"),
            annotation_sizes=(12, 16),
        ),
        Family(
            "siemens_sequoia",
            (768, 1024),
            ("linear", "curvilinear", "trapezoid"),
            ("sans", "sans_bold", "condensed_bold"),
            (14, 24),
            (WHITE, GREY, CYAN),
            (WHITE, YELLOW, CYAN),
            ("top_right", "bottom_band", "side"),
            ("top_left_inside", "side"),
            "two_columns",
            ("+", "x", "x"),
            "left",
            (0.01, 0.045),
            header_alts=("right_stack",),
            header_bands=((16, 32, 56), (40, 40, 40)),
            elasto_share=0.15,
            doppler_share=0.18,
            body_markers=("quadrant", "circle"),
        ),
        Family(
            "siemens_juniper",
            (720, 1280),
            ("linear", "curvilinear"),
            ("sans", "light", "mono"),
            (13, 22),
            (WHITE, GREY),
            (WHITE, GREEN, YELLOW),
            ("side", "top_band", "inside"),
            ("side",),
            "one_line",
            ("x", "+", "arrow"),
            "left",
            (0.01, 0.04),
            header_bands=((28, 28, 34),),
            dual_share=0.2,
            table_share=0.8,
            body_markers=("circle", "pair"),
            annotation_faces=("sans", "mono"),
        ),
        Family(
            "supersonic_aixplorer",
            (768, 1024),
            ("linear", "trapezoid"),
            ("sans_bold", "sans", "condensed"),
            (13, 21),
            (WHITE, GREY),
            (WHITE, YELLOW),
            ("bottom_band", "side", "top_band"),
            ("side", "top_left_inside"),
            "right_stack",
            ("+", "x"),
            "right",
            (0.01, 0.04),
            header_alts=("top_left_stack",),
            header_bands=((36, 36, 36), None),
            dual_share=0.45,
            elasto_share=0.45,
            doppler_share=0.05,
            table_share=0.8,
            body_markers=("pair",),
        ),
        Family(
            "hitachi_aloka",
            (768, 1024),
            ("curvilinear", "linear", "sector"),
            ("mono", "serif", "bitmap"),
            (11, 19),
            (GREEN, WHITE, GREY),
            (GREEN, WHITE, YELLOW),
            ("top_right", "inside", "side"),
            ("bottom", "side"),
            "right_stack",
            ("x", "+", "x", "arrow"),
            "right",
            (0.005, 0.03),
            header_alts=("two_columns",),
            elasto_share=0.15,
            body_markers=("quadrant",),
            jpeg=(65, 90),
            annotation_faces=("mono", "serif"),
            annotation_sizes=(13, 19),
        ),
        Family(
            "esaote",
            (600, 800),
            ("linear", "curvilinear", "trapezoid"),
            ("condensed", "serif", "light"),
            (10, 17),
            (WHITE, CYAN, GREY),
            (CYAN, WHITE, YELLOW),
            ("bottom_band", "top_band", "inside"),
            ("bottom", "top_left_inside"),
            "top_left_stack",
            ("+", "x", "arrow"),
            "left",
            (0.01, 0.05),
            header_alts=("one_line",),
            header_bands=((0, 30, 40), None),
            zoom_share=0.15,
            body_markers=("circle", "pair"),
            annotation_faces=("condensed", "serif"),
            annotation_sizes=(13, 18),
        ),
        Family(
            "bk",
            (768, 1024),
            ("curvilinear", "sector", "linear"),
            ("sans", "mono_bold", "condensed"),
            (14, 26),
            (WHITE, YELLOW, GREY),
            (YELLOW, WHITE),
            ("side", "top_right", "inside"),
            ("side", "bottom"),
            "two_columns",
            ("+", "x", "arrow"),
            "right",
            (0.01, 0.05),
            header_alts=("top_left_stack",),
            dual_share=0.3,
            doppler_share=0.2,
            body_markers=("circle",),
            jpeg=(70, 92),
        ),
        Family(
            "terason",
            (600, 960),
            ("linear", "curvilinear"),
            ("sans", "light", "bitmap", "serif_bold"),
            (8, 16),
            (WHITE, GREY, CYAN),
            (WHITE, CYAN, GREEN),
            ("top_band", "inside", "bottom_band"),
            ("top_left_inside", "bottom"),
            "one_line",
            ("+", "x"),
            "right",
            (0.01, 0.04),
            header_bands=((56, 56, 60), (30, 30, 34)),
            pair_weights=(0.3, 0.3, 0.2, 0.1, 0.1),
            zoom_share=0.12,
            body_markers=("pair", "quadrant"),
            jpeg=(55, 85),
            jpeg_share=0.6,
            annotation_faces=("sans", "serif_bold"),
            annotation_sizes=(12, 17),
        ),
        Family(
            "sonosite_px",
            (720, 1280),
            ("linear", "sector", "curvilinear"),
            ("sans_bold", "sans", "condensed_bold"),
            (16, 30),
            (WHITE, GREY),
            (WHITE, YELLOW, CYAN),
            ("inside", "bottom_band", "side"),
            ("side", "bottom"),
            "right_stack",
            ("+", "x"),
            "right",
            (0.01, 0.05),
            header_alts=("one_line",),
            doppler_share=0.2,
            body_markers=("circle",),
        ),
    )
}
#: The demo cohort's own screens (:mod:`cadbusi_demo.screens.demo_style`), rendered by
#: :func:`render_screen` but not one of :data:`FAMILIES` (it takes no :class:`LesionMarks`;
#: detectors were developed on it, so it is never held out).
DEMO_FAMILY = "demo"
#: Families detectors may be tuned on.
TUNING_FAMILIES = ("ge_logiq", "philips_epiq", "siemens_s2000", "ge_voluson", "philips_iu22")
#: Families never used for tuning: they measure generalization.
HELDOUT_FAMILIES = (
    "canon_aplio",
    "samsung_rs",
    "sonosite_edge",
    "mindray_dc",
    "philips_affiniti",
    "philips_cx50",
    "siemens_sequoia",
    "siemens_juniper",
    "supersonic_aixplorer",
    "hitachi_aloka",
    "esaote",
    "bk",
    "terason",
    "sonosite_px",
)

_FIRST = ("ANNA", "MARIA", "JUDITH", "CAROL", "NGOZI", "MEI", "SOFIA", "IRENE", "HELGA", "ROSA")
_LAST = ("KOWALSKA", "OKAFOR", "BRANDT", "LINDQVIST", "MORETTI", "TANAKA", "DUVAL", "HARGREAVE")
_CLINICS = (
    "ST MARY WOMENS CLINIC",
    "NORTHSIDE IMAGING",
    "LAKEVIEW BREAST CENTER",
    "MERCY RADIOLOGY",
    "Riverside Hospital",
)
_PROBES = ("L12-5", "C5-1", "ML6-15", "14L5", "L18-5", "9L4", "HFL50x", "eL18-4")


@dataclass(frozen=True)
class LesionMarks:
    """A lesion to show on a frame instead of random annotation and calipers.

    ``side``: LEFT/RIGHT; ``clock``: ``"H:MM"``; ``distance_cm`` from the nipple (None: not
    annotated); ``size_cm``: the longest caliper axis (None: no calipers); ``axes``: 1 (one
    caliper pair along the long axis) or 2 (two crossing pairs, the short axis 40-90 % of the
    long one). The phrasing, orientation, fonts and placement stay the family's random ones."""

    side: str
    clock: str
    distance_cm: float | None = None
    size_cm: float | None = None
    axes: int = 1


def _annotation_lines(rng: np.random.Generator, lesion: LesionMarks | None = None) -> list[str]:
    """Breast annotation in one of the phrasings scanners use (the location of ``lesion``
    when given: the same random draws, its values)."""
    side_long, side_short = (("LEFT", "LT"), ("RIGHT", "RT"))[int(rng.integers(2))]
    hour = int(rng.integers(1, 13))
    minute = ("00", "00", "30")[int(rng.integers(3))]
    cm: int | str = int(rng.integers(1, 9))
    orient = ("RADIAL", "ANTIRAD", "TRANS", "SAG", "LONG", "ARAD", "TRV")[int(rng.integers(7))]
    style = int(rng.integers(6))
    if lesion is not None:
        side_long, side_short = (lesion.side, lesion.side[0] + "T")
        hour_text, _, minute = lesion.clock.partition(":")
        hour, minute = int(hour_text), minute or "00"
        cm = "" if lesion.distance_cm is None else f"{lesion.distance_cm:g}"
        if not cm:  # no distance: the phrasings without one
            return [
                [f"{side_short} BREAST {hour}:{minute}", orient],
                [f"{side_short} {hour}:{minute} SUBAREOLAR"],
            ][style % 2]
    if style == 0:
        return [f"{side_short} BREAST {hour}:{minute} {cm}CMFN", orient]
    if style == 1:
        return [f"BREAST {side_short[0]} {hour}:{minute} {cm}CM FN"]
    if style == 2:
        return [f"{side_short[0]} BR {hour} O'CLOCK {cm} CM FN", orient]
    if style == 3:
        return [f"{side_long} BREAST", f"{hour}:{minute}  {cm} CM FN", orient]
    if style == 4:
        return [f"{side_short} {hour}:{minute} SUBAREOLAR"]
    return [f"{side_short} BREAST", f"{hour}:{minute} {cm}CMFN {orient}"]


class _Canvas:
    def __init__(self, clean: np.ndarray, blocked: list[Box] | None = None) -> None:
        self.clean = clean
        self.image = Image.fromarray(clean.copy())
        self.draw = ImageDraw.Draw(self.image)
        self.texts: list[TextTruth] = []
        self.blocked = blocked if blocked is not None else []  # UI graphics texts avoid
        self.height, self.width = clean.shape[:2]

    def extent(
        self,
        xy: tuple[int, int],
        text: str,
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
        anchor_right: bool = False,
    ) -> Box:
        """Where ``text`` would go (its font box, a little larger than its ink)."""
        left, top, right, bottom = (int(v) for v in self.draw.textbbox((0, 0), text, font=font))
        x, y = xy
        if anchor_right:
            x -= right
        return x + left, y + top, x + right, y + bottom

    def free(self, box: Box, margin: int = 2) -> bool:
        """``box`` lies inside the frame, clear of every text drawn so far and of the
        blocked UI graphics."""
        x0, y0, x1, y1 = box
        if x0 < 1 or y0 < 1 or x1 >= self.width - 1 or y1 >= self.height - 1:
            return False
        return all(
            x1 + margin < b[0] or b[2] + margin < x0 or y1 + margin < b[1] or b[3] + margin < y0
            for b in [*(t.box for t in self.texts), *self.blocked]
        )

    def text(
        self,
        xy: tuple[int, int],
        text: str,
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
        colour: tuple[int, int, int],
        kind: str,
        anchor_right: bool = False,
    ) -> Box | None:
        left, top, right, bottom = (int(v) for v in self.draw.textbbox((0, 0), text, font=font))
        x, y = xy
        if anchor_right:
            x -= right
        x0, y0 = x + left, y + top
        x1, y1 = x + right, y + bottom
        if not self.free((x0, y0, x1, y1)):
            return None
        mask = Image.new("L", (x1 - x0 + 3, y1 - y0 + 3), 0)
        ImageDraw.Draw(mask).text((1 - left, 1 - top), text, font=font, fill=255)
        ys, xs = np.nonzero(np.asarray(mask))
        if ys.size == 0:
            return None
        box = (
            int(x0 - 1 + xs.min()),
            int(y0 - 1 + ys.min()),
            int(x0 - 1 + xs.max()),
            int(y0 - 1 + ys.max()),
        )
        self.draw.text((x, y), text, font=font, fill=colour)
        self.texts.append(TextTruth(text, kind, box, colour))
        return box

    def array(self) -> np.ndarray:
        return np.asarray(self.image).copy()

    def set_array(self, image: np.ndarray) -> None:
        self.image = Image.fromarray(image.copy())
        self.draw = ImageDraw.Draw(self.image)


def _fan(
    kind: str, area: Box, rng: np.random.Generator
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Polygon of the field of view inside ``area`` (as points and as an int32 array)."""
    x0, y0, x1, y1 = area
    width, height = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    if kind == "linear":
        w = width * rng.uniform(0.6, 0.85)
        h = height * rng.uniform(0.8, 0.97)
        poly = [
            (cx - w / 2, y0),
            (cx + w / 2, y0),
            (cx + w / 2, y0 + h),
            (cx - w / 2, y0 + h),
        ]
    elif kind == "trapezoid":
        top = width * rng.uniform(0.4, 0.6)
        bottom = width * rng.uniform(0.8, 0.95)
        h = height * rng.uniform(0.85, 0.97)
        poly = [
            (cx - top / 2, y0),
            (cx + top / 2, y0),
            (cx + bottom / 2, y0 + h),
            (cx - bottom / 2, y0 + h),
        ]
    else:
        half = math.radians(rng.uniform(30, 40) if kind == "sector" else rng.uniform(25, 33))
        r_in = 4.0 if kind == "sector" else height * rng.uniform(0.2, 0.35)
        r_out = min(height * rng.uniform(0.9, 0.98) + r_in, (width / 2) / math.sin(half))
        apex = (cx, y0 - r_in * math.cos(half))  # the inner arc never rises above y0
        r_out = min(r_out, y1 - apex[1])
        angles = np.linspace(-half, half, 48)
        outer = [(apex[0] + r_out * math.sin(a), apex[1] + r_out * math.cos(a)) for a in angles]
        inner = [(apex[0] + r_in * math.sin(a), apex[1] + r_in * math.cos(a)) for a in angles[::-1]]
        poly = outer + inner if kind == "curvilinear" else [(apex[0], y0), *outer]
    points = [(round(px), round(py)) for px, py in poly]
    return points, np.array(points, np.int32)


def _speckle(
    rng: np.random.Generator,
    height: int,
    width: int,
    bright_share: float,
    inside: np.ndarray | None = None,
) -> np.ndarray:
    """Log-compressed speckle with tissue layers, a lesion, and depth attenuation; scaled so
    that about ``bright_share`` of the pixels (of those ``inside``, the field of view, when
    given) reach full white."""
    noise: np.ndarray = rng.standard_normal((height, width, 2), dtype=np.float32)
    sx, sy = rng.uniform(1.5, 3.0), rng.uniform(0.8, 1.4)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=sx, sigmaY=sy)
    magnitude = np.sqrt(noise[..., 0] ** 2 + noise[..., 1] ** 2)
    yy = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xx = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    echo = np.ones((height, width), np.float32)
    skin = rng.uniform(0.04, 0.08)
    echo += 1.5 * (yy < skin)
    echo *= 1.0 + 0.5 * np.sin(2 * math.pi * (yy * rng.uniform(2, 5) + xx * rng.uniform(-1, 1)))
    lx, ly = rng.uniform(0.3, 0.7), rng.uniform(0.35, 0.6)
    rx, ry = rng.uniform(0.06, 0.15), rng.uniform(0.05, 0.1)
    lesion = ((xx - lx) / rx) ** 2 + ((yy - ly) / ry) ** 2 < 1.0
    echo[lesion] *= rng.uniform(0.05, 0.3)
    echo *= np.exp(-rng.uniform(0.6, 1.6) * yy)
    amplitude = magnitude * echo
    sample = amplitude[::2, ::2] if inside is None else amplitude[::2, ::2][inside[::2, ::2]]
    top = float(np.quantile(sample if sample.size else amplitude, 1.0 - bright_share))
    out = 255.0 * (amplitude / top) ** rng.uniform(0.5, 0.8)
    return np.clip(out, 0, 255).astype(np.uint8)


def _depth_scale(
    canvas: _Canvas,
    fov: Box,
    side: str,
    rng: np.random.Generator,
    ui_boxes: list[Box],
    depth_cm: int | None = None,
) -> tuple[int, int]:
    """Draw the depth scale beside ``fov``; returns its depth in cm and its column."""
    x0, y0, x1, y1 = fov
    depth_cm = int(rng.integers(3, 7)) if depth_cm is None else depth_cm
    x = x1 + 12 if side == "right" else x0 - 18
    x = int(min(max(x, 4), canvas.width - 30))
    font = load_font("sans", 11)
    for cm in range(depth_cm + 1):
        y = int(y0 + (y1 - y0) * cm / depth_cm)
        canvas.draw.line([(x, y), (x + 6, y)], fill=GREY, width=1)
        if cm > 0 and y + 12 < canvas.height:
            canvas.text((x + 9 if side == "right" else x - 10, y - 6), str(cm), font, GREY, "scale")
    ui_boxes.append((x, y0, x + 8, y1))
    return depth_cm, x


def _lesion_calipers(
    lesion: LesionMarks, spacing_cm: float, inner: np.ndarray, rng: np.random.Generator
) -> list[tuple[tuple[int, int], tuple[int, int], float]]:
    """Caliper pairs (end, end, length in cm) spanning ``lesion`` inside ``inner`` (the
    eroded field of view); none when the lesion does not fit."""
    if lesion.size_cm is None or lesion.size_cm <= 0:
        return []
    long_px = lesion.size_cm / spacing_cm
    short_share = rng.uniform(0.4, 0.9)
    angle = rng.uniform(-0.3, 0.3)  # widths are measured about horizontally
    iy, ix = nonzero(inner)
    height, width = inner.shape
    for _ in range(50 if iy.size else 0):
        a = int(rng.integers(iy.size))
        cx, cy = float(ix[a]), float(iy[a])
        axes = [(angle, long_px)]
        if lesion.axes >= 2:
            axes.append((angle + math.pi / 2, long_px * short_share))
        pairs = []
        for theta, length in axes:
            dx, dy = 0.5 * length * math.cos(theta), 0.5 * length * math.sin(theta)
            p = (round(cx - dx), round(cy - dy))  # q from p: the length off by < 1 px
            q = (p[0] + round(2 * dx), p[1] + round(2 * dy))
            cm = math.hypot(q[0] - p[0], q[1] - p[1]) * spacing_cm
            pairs.append((p, q, cm))
        ends = [e for p, q, _ in pairs for e in (p, q)]
        if all(0 <= x < width and 0 <= y < height and inner[y, x] for x, y in ends):
            return pairs
    return []


def _random_pairs(
    rng: np.random.Generator, inner: np.ndarray, n_pairs: int
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``n_pairs`` caliper pairs with both ends inside ``inner`` (fewer when they do not fit):
    a pair after the first crosses the previous one at right angles (the short axis of the
    same lesion) about half of the time, else it measures somewhere else."""
    iy, ix = nonzero(inner)
    height, width = inner.shape
    pairs: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for _ in range(n_pairs if iy.size else 0):
        for _attempt in range(20):
            if pairs and len(pairs) % 2 == 1 and rng.random() < 0.5:
                (px, py), (qx, qy) = pairs[-1]
                cx, cy = (px + qx) / 2, (py + qy) / 2
                angle = math.atan2(qy - py, qx - px) + math.pi / 2
                dist = math.hypot(qx - px, qy - py) * rng.uniform(0.4, 0.9)
            else:
                a = int(rng.integers(iy.size))
                angle = rng.uniform(0, math.pi)
                dist = rng.uniform(40, 160)
                cx = ix[a] + 0.5 * dist * math.cos(angle)
                cy = iy[a] + 0.5 * dist * math.sin(angle)
            dx, dy = 0.5 * dist * math.cos(angle), 0.5 * dist * math.sin(angle)
            p, q = (round(cx - dx), round(cy - dy)), (round(cx + dx), round(cy + dy))
            if all(0 <= x < width and 0 <= y < height and inner[y, x] for x, y in (p, q)):
                pairs.append((p, q))
                break
    return pairs


def _views(
    kind: str, area: Box, dual: bool, rng: np.random.Generator, height: int, width: int
) -> tuple[list[list[tuple[int, int]]], list[np.ndarray]]:
    """The field-of-view polygons and masks: one view in ``area``, or two of the same shape
    side by side (40 px apart, room for a depth scale between them)."""
    x0, y0, x1, y1 = area
    areas = (
        [area]
        if not dual
        else [(x0, y0, (x0 + x1) // 2 - 20, y1), ((x0 + x1) // 2 + 20, y0, x1, y1)]
    )
    fan_seed = int(rng.integers(2**31))
    polygons, masks = [], []
    for sub in areas:
        polygon, poly_array = _fan(kind, sub, np.random.default_rng(fan_seed))
        mask8 = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask8, [poly_array], 1)
        polygons.append(polygon)
        masks.append(mask8.astype(bool))
    return polygons, masks


def _bbox(mask: np.ndarray) -> Box:
    return bbox(mask)


#: :func:`render_screen`'s ``caliper_style`` that draws hollow '+' marks.
HOLLOW = "hollow"


@dataclass(frozen=True)
class HollowStyle:
    """A hollow '+' caliper mark: four arms around an empty centre, no pixel drawn there.

    ``variant`` ``"filled"``: each arm a light bar ``width`` px wide (1 or 3) and ``length``
    px long, outlined 1 px in ``dark`` on its three outer sides, starting ``gap + 1`` px from
    the centre (the Philips EPIQ look: white 3 x 5 px arms outlined in black, the 5 x 5 px
    centre square showing the image, 17 px across). ``variant`` ``"outline"``: the 1-px light
    outline of a solid '+' whose arms are ``width`` px wide (3, 5 or 7) and reach ``length``
    px from the centre; inside it the image shows, or ``dark`` when ``dark_inside``."""

    variant: str  # filled | outline
    width: int
    length: int
    gap: int = 0
    dark: tuple[int, int, int] = (0, 0, 0)
    dark_inside: bool = False

    @property
    def half(self) -> int:
        """Pixels from the centre to the mark's farthest pixel."""
        return self.gap + self.length + 1 if self.variant == "filled" else self.length

    def name(self, style: CaliperStyle) -> str:
        """``"hollow <variant>[ numbered][ dotted][ ellipse]"``, e.g. ``"hollow filled dotted"``."""
        extras = [e for e in CALIPER_EXTRAS if getattr(style, e)]
        return " ".join([HOLLOW, self.variant, *extras])

    def glyph(self) -> tuple[np.ndarray, np.ndarray]:
        """The light and the dark pixels (bool, ``2 * half + 1`` square, centre in the middle)."""
        r = self.half
        side = 2 * r + 1
        light = np.zeros((side, side), bool)
        dark = np.zeros((side, side), bool)
        if self.variant == "filled":
            w, a = self.width // 2, self.width // 2 + 1
            near, far = self.gap + 1, self.gap + self.length
            for part, across, upto in ((light, w, far), (dark, a, far + 1)):
                rows = slice(r - across, r + across + 1)
                part[rows, r - upto : r - near + 1] = True
                part[rows, r + near : r + upto + 1] = True
                part[r - upto : r - near + 1, rows] = True
                part[r + near : r + upto + 1, rows] = True
            dark &= ~light
        else:
            a = self.width // 2
            solid = np.zeros((side, side), np.uint8)
            solid[r - a : r + a + 1, :] = 1
            solid[:, r - a : r + a + 1] = 1
            inner = cv2.erode(solid, np.ones((3, 3), np.uint8), borderValue=0).astype(bool)
            light = solid.astype(bool) & ~inner
            if self.dark_inside:
                dark = inner
        return light, dark


def random_hollow(rng: np.random.Generator) -> HollowStyle:
    """A hollow style: filled (2 in 3; arms 3 px wide 3 times in 4, else 1; 4-8 px long; the
    empty centre as wide as an arm's outline, or 1-2 px wider; outlined in black or dark
    grey) or outline (arms 3, 5 or 7 px wide reaching 6-11 px; the inside dark 1 in 3)."""
    dark = ((0, 0, 0), (0, 0, 0), (40, 40, 40))[int(rng.integers(3))]
    if rng.random() < 2 / 3:
        width = 3 if rng.random() < 0.75 else 1
        gap = width // 2 + 1 + int(rng.choice(3, p=(0.6, 0.25, 0.15)))
        return HollowStyle("filled", width, int(rng.integers(4, 9)), gap, dark)
    width = (3, 5, 7)[int(rng.integers(3))]
    length = int(rng.integers(max(6, width // 2 + 4), 12))
    return HollowStyle("outline", width, length, dark=dark, dark_inside=bool(rng.random() < 1 / 3))


def draw_hollow_calipers(
    frame: np.ndarray,
    pairs: list[tuple[tuple[int, int], tuple[int, int]]],
    style: CaliperStyle,
    hollow: HollowStyle,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None = None,
    ellipse_ratio: float = 0.6,
) -> DrawnCalipers:
    """Draw ``pairs`` on ``frame`` (RGB, in place) as ``hollow`` marks in ``style``'s colour,
    with ``style``'s numbers, dotted lines and ellipse traces (placed as
    :func:`~cadbusi_demo.screens.calipers.draw_calipers` places them for a mark of the same
    size). The mask holds every pixel drawn: decorations, light and dark mark pixels."""
    height, width = frame.shape[:2]
    r = hollow.half
    scratch = frame.copy()
    drawn = draw_calipers(
        scratch, pairs, replace(style, glyph="+", half=r, thickness=1), font, ellipse_ratio
    )
    marks = np.zeros((height, width), bool)
    for x, y in drawn.points:  # the plain '+' drawn in the marks' places goes
        marks[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1] = True
    mask = drawn.mask & ~marks
    frame[mask] = style.colour
    light, dark = hollow.glyph()
    for x, y in drawn.points:
        gx0, gy0 = max(0, r - x), max(0, r - y)
        fx0, fy0 = max(0, x - r), max(0, y - r)
        fx1, fy1 = min(width, x + r + 1), min(height, y + r + 1)
        window = (slice(fy0, fy1), slice(fx0, fx1))
        part = (slice(gy0, gy0 + fy1 - fy0), slice(gx0, gx0 + fx1 - fx0))
        frame[window][dark[part]] = hollow.dark
        frame[window][light[part]] = style.colour
        mask[window] |= dark[part] | light[part]
    drawn.mask = mask
    drawn.labels = [
        (t, b) for t, b in drawn.labels if not marks[b[1] : b[3] + 1, b[0] : b[2] + 1].any()
    ]
    return drawn


def render_screen(
    family: str,
    seed: int,
    lesion: LesionMarks | None = None,
    *,
    caliper_style: str | None = None,
    caliper_colours: tuple[tuple[int, int, int], ...] | None = None,
) -> Screen:
    """One frame of ``family`` (a key of :data:`FAMILIES`), fully determined by ``seed``
    (and ``lesion``: its location as the annotation, its size between the calipers).
    ``family`` :data:`DEMO_FAMILY` renders the demo cohort's own screens
    (:mod:`cadbusi_demo.screens.demo_style`; no ``lesion``).

    ``caliper_style``: None (the family's own styles) or ``"hollow"``: the same frame with
    its calipers drawn as hollow '+' marks (:class:`HollowStyle`, drawn from a stream of its
    own: every other pixel and every other ground truth are those of the default frame)."""
    if caliper_style not in (None, HOLLOW):
        raise ValueError(f"unknown caliper style {caliper_style!r} (None or {HOLLOW!r})")
    if family == DEMO_FAMILY:
        if lesion is not None:
            raise ValueError("the demo style plans its own lesions: no LesionMarks")
        if caliper_style is not None:
            raise ValueError("the demo style draws its own calipers: no caliper_style")
        from cadbusi_demo.screens.demo_style import render_demo_screen

        return render_demo_screen(seed)
    spec = FAMILIES[family]
    if caliper_colours is not None:
        if not caliper_colours:
            raise ValueError("caliper_colours: at least one colour")
        # As many colours as the family's (the k-th of them the k-th override, cycled): the
        # same draw from the stream whatever the override's length.
        n = len(spec.caliper_colours)
        spec = replace(
            spec, caliper_colours=tuple(caliper_colours[k % len(caliper_colours)] for k in range(n))
        )
    rng = np.random.default_rng([seed, sorted(FAMILIES).index(family)])
    height, width = spec.size
    header_h = int(height * rng.uniform(0.08, 0.11))
    bottom_h = int(height * rng.uniform(0.08, 0.12))
    side_w = int(width * rng.uniform(0.16, 0.2))
    left = int(width * rng.uniform(0.03, 0.06))
    needs_side = "side" in spec.annotation_place or "side" in spec.measurement_place
    image_area = (
        left + 30,
        header_h + 8,
        width - (side_w if needs_side else int(width * 0.1)) - 30,
        height - bottom_h - 8,
    )
    fan_kind = spec.fans[int(rng.integers(len(spec.fans)))]
    dual = bool(rng.random() < spec.dual_share)
    polygons, view_masks = _views(fan_kind, image_area, dual, rng, height, width)
    fov_mask = np.logical_or.reduce(view_masks)
    bright = rng.uniform(*spec.speckle_gain)
    grey = np.zeros((height, width), np.uint8)
    for view in view_masks:
        bx0, by0, bx1, by1 = _bbox(view)
        inside = view[by0 : by1 + 1, bx0 : bx1 + 1]
        tissue = _speckle(rng, by1 - by0 + 1, bx1 - bx0 + 1, bright, inside)
        window = grey[by0 : by1 + 1, bx0 : bx1 + 1]
        window[inside] = tissue[inside]
    clean = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    band = spec.header_bands[int(rng.integers(len(spec.header_bands)))]
    if band is not None:
        clean[: header_h - 2] = band
    ui_boxes: list[Box] = []
    blocked: list[Box] = []  # UI graphics no text may cover
    # grey bar on the left
    bar_x = max(4, left - 10)
    bar = np.linspace(255, 0, 160).astype(np.uint8)
    bar_y = header_h + 20
    if bar_y + 160 < height:
        clean[bar_y : bar_y + 160, bar_x : bar_x + 8] = bar[:, None, None]
        ui_boxes.append((bar_x, bar_y, bar_x + 7, bar_y + 159))
    # colour modes and zoom, in one of the views
    active = int(rng.integers(len(view_masks)))
    doppler_kind: str | None = None
    elasto = False
    mode = rng.random()
    if mode < spec.doppler_share:
        doppler_kind = "power" if rng.random() < 0.35 else "colour"
        boxes = doppler_box(clean, view_masks[active], rng, doppler_kind)
        doppler_kind = doppler_kind if boxes else None
        ui_boxes += boxes
        blocked += boxes[1:]
    elif mode < spec.doppler_share + spec.elasto_share:
        boxes = elastography(clean, view_masks[active], rng)
        elasto = bool(boxes)
        ui_boxes += boxes
        blocked += boxes[1:]
    zoom = False
    if rng.random() < spec.zoom_share:
        boxes = zoom_box(clean, view_masks[active], fov_mask, rng)
        zoom = bool(boxes)
        ui_boxes += boxes
        blocked += boxes[1:]
    # body marker with a probe icon (bottom left, under the image)
    radius = int(rng.integers(16, 26))
    mx, my = left + radius + 8, height - bottom_h - radius - 12
    marker = spec.body_markers[int(rng.integers(len(spec.body_markers)))]
    if "inside" not in spec.annotation_place or fan_kind == "sector":
        box = body_marker(clean, (mx, my), radius, marker, rng)
        ui_boxes.append(box)
        blocked.append(box)
    canvas = _Canvas(clean, blocked)
    # depth scale of every view (the frame's pixel spacing from the first), TGC, focus
    depth_cm = int(rng.integers(3, 7))
    fov_box = _bbox(view_masks[0])
    scale_x = 0
    for k, view in enumerate(view_masks):
        _, x = _depth_scale(canvas, _bbox(view), spec.scale_side, rng, ui_boxes, depth_cm)
        scale_x = x if k == 0 else scale_x
    spacing_cm = depth_cm / max(1, fov_box[3] - fov_box[1] + 1)
    clean = canvas.array()
    if rng.random() < spec.tgc_share:
        tgc_x = image_area[0] - 14 if spec.scale_side == "right" else image_area[2] + 14
        box_or_none = tgc_curve(clean, tgc_x, fov_box[1], fov_box[3], rng)
        if box_or_none is not None:
            ui_boxes.append(box_or_none)
            blocked.append(box_or_none)
    if rng.random() < spec.focus_share:
        rows = rng.uniform(
            fov_box[1] + 0.15 * (fov_box[3] - fov_box[1]), fov_box[3] - 20, int(rng.integers(1, 4))
        )
        focus_x = scale_x + 26 if spec.scale_side == "right" else scale_x + 13
        box_or_none = focus_markers(
            clean,
            focus_x,
            sorted(int(r) for r in rows),
            spec.scale_side == "right",
            (WHITE, YELLOW, GREY)[int(rng.integers(3))],
        )
        if box_or_none is not None:
            ui_boxes.append(box_or_none)
            blocked.append(box_or_none)
    canvas.set_array(clean)
    canvas_clean = canvas.array()  # UI graphics without text

    def pick_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        face = spec.faces[int(rng.integers(len(spec.faces)))]
        return load_font(face, int(rng.integers(spec.sizes[0], spec.sizes[1] + 1)))

    def pick(colours: tuple[tuple[int, int, int], ...]) -> tuple[int, int, int]:
        return colours[int(rng.integers(len(colours)))]

    # header
    name = f"{_LAST[int(rng.integers(len(_LAST)))]}^{_FIRST[int(rng.integers(len(_FIRST)))]}"
    patient_id = f"ID: {int(rng.integers(10**6, 10**8)):08d}"
    clinic = _CLINICS[int(rng.integers(len(_CLINICS)))]
    date = f"{int(rng.integers(1, 29)):02d}/{int(rng.integers(1, 13)):02d}/20{int(rng.integers(18, 27))}"
    clock = f"{int(rng.integers(7, 19)):02d}:{int(rng.integers(0, 60)):02d}:{int(rng.integers(0, 60)):02d}"
    probe = f"{_PROBES[int(rng.integers(len(_PROBES)))]}  {int(rng.integers(5, 18))}MHz"
    power = f"MI {rng.uniform(0.4, 1.4):.1f}  TIs {rng.uniform(0.1, 1.0):.1f}"
    font = pick_font()
    colour = pick(spec.colours)
    step = lambda f: int(f.getbbox("Ag")[3]) + 4  # noqa: E731
    layouts = (spec.header, *spec.header_alts)
    header = spec.header if rng.random() < 0.65 else layouts[int(rng.integers(len(layouts)))]
    y = int(rng.integers(2, 9))
    hx = left + int(rng.integers(-8, 9))
    if header == "top_left_stack":
        for text in (clinic, name, patient_id):
            canvas.text((hx, y), text, font, colour, "phi")
            y += step(font)
        y -= 3 * step(font)
        canvas.text((width // 2 - 60, y + 2), f"{date} {clock}", font, colour, "phi")
        canvas.text((width - 10, y + 2), probe, font, colour, "ui", anchor_right=True)
        top_band = (width // 2 - 60, y + 2 + step(font), False)
    elif header == "one_line":
        canvas.text((hx, y), name, font, colour, "phi")
        canvas.text((hx + int(width * 0.3), y), patient_id, font, colour, "phi")
        canvas.text((hx + int(width * 0.52), y), date, font, colour, "phi")
        canvas.text((width - 10, y), clock, font, colour, "phi", anchor_right=True)
        canvas.text((hx, y + step(font)), clinic, font, colour, "phi")
        canvas.text((width - 10, y + step(font)), probe, font, colour, "ui", anchor_right=True)
        top_band = (int(width * 0.4), y + step(font), False)
    elif header == "two_columns":
        canvas.text((hx, y), name, font, colour, "phi")
        canvas.text((hx, y + step(font)), patient_id, font, colour, "phi")
        canvas.text((width // 2, y), clinic, font, colour, "phi")
        canvas.text((width // 2, y + step(font)), f"{date}  {clock}", font, colour, "phi")
        top_band = (width - 10, y, True)
    else:  # right_stack
        for k, text in enumerate((clinic, f"{date} {clock}")):
            canvas.text(
                (width - 10, y + k * step(font)), text, font, colour, "phi", anchor_right=True
            )
        canvas.text((hx, y), name, font, colour, "phi")
        canvas.text((hx, y + step(font)), patient_id, font, colour, "phi")
        top_band = (int(width * 0.36), y, False)
    # UI text on the side of the image
    ui_font = pick_font()
    ui_colour = pick(spec.colours)
    ux = image_area[2] + 40 if not needs_side else width - side_w + 8
    uy = int(height * 0.42)
    for text in (power, f"Gn {int(rng.integers(30, 80))}", f"DR {int(rng.integers(50, 80))}"):
        if ux + 40 < width:
            drawn_box = canvas.text((ux, uy), text, ui_font, ui_colour, "ui")
            uy += step(ui_font) + 2 if drawn_box else 0
    # annotation: the drawn place, else the family's others, else inside the image
    place = spec.annotation_place[int(rng.integers(len(spec.annotation_place)))]
    afont = load_font(
        (spec.annotation_faces or spec.faces)[
            int(rng.integers(len(spec.annotation_faces or spec.faces)))
        ],
        int(
            rng.integers(
                (spec.annotation_sizes or spec.sizes)[0],
                (spec.annotation_sizes or spec.sizes)[1] + 1,
            )
        ),
    )
    acolour = pick(spec.annotation_colours)
    lines = _annotation_lines(rng, lesion)
    line_h = step(afont) + 2

    def origin(where: str) -> tuple[int, int, bool]:
        if where == "top_right":
            return width - 12, header_h + 8, True
        if where == "top_band":
            return top_band
        if where == "bottom_band":
            return (
                left + int(width * 0.25),
                min(height - bottom_h + 4, height - len(lines) * line_h - 4),
                False,
            )
        if where == "side":
            return width - side_w + 8, height // 2, False
        # inside the image: lower part of the image area (dark corner or deep speckle)
        return image_area[0] + 6, image_area[3] - len(lines) * line_h - 4, False

    for where in dict.fromkeys([place, *spec.annotation_place, "inside"]):
        ax, ay, right = origin(where)
        spots = [canvas.extent((ax, ay + k * line_h), t, afont, right) for k, t in enumerate(lines)]
        if all(canvas.free(b) for b in spots):
            for k, text in enumerate(lines):
                canvas.text(
                    (ax, ay + k * line_h), text, afont, acolour, "annotation", anchor_right=right
                )
            break
    # calipers (drawn last, over everything) and their measurements
    weights = np.array(spec.pair_weights, float)
    n_pairs = int(rng.choice(len(weights), p=weights / weights.sum()))
    style = random_style(rng, spec.caliper_glyphs, spec.caliper_colours, spec.caliper_extras)
    ellipse_ratio = float(rng.uniform(0.4, 0.9))
    digit_font = load_font(
        ("bitmap", "sans", "sans_bold")[int(rng.integers(3))], int(rng.integers(10, 14))
    )
    inner = cv2.erode(view_masks[active].astype(np.uint8), np.ones((41, 41), np.uint8))
    pairs: list[tuple[tuple[int, int], tuple[int, int]]] = []
    lengths: list[float] = []
    if lesion is not None:
        for p, q, cm in _lesion_calipers(lesion, spacing_cm, inner, rng):
            pairs.append((p, q))
            lengths.append(cm)
    else:
        for p, q in _random_pairs(rng, inner, n_pairs):
            pairs.append((p, q))
            lengths.append(math.hypot(q[0] - p[0], q[1] - p[1]) * spacing_cm)
    measurements = [f"D{k + 1} {cm:.2f} cm" for k, cm in enumerate(lengths)]
    if len(lengths) >= 3:
        measurements.append(f"Vol {0.523 * lengths[0] * lengths[1] * lengths[2]:.2f} ml")
    panels: list[Box] = []
    if measurements:
        mplace = spec.measurement_place[int(rng.integers(len(spec.measurement_place)))]
        table = bool(rng.random() < spec.table_share)
        if table and mplace == "bottom":
            mplace = "side" if needs_side else "top_left_inside"
        mfont = pick_font()
        mcolour = pick((YELLOW, WHITE, *spec.colours))
        if mplace == "bottom":
            canvas.text(
                (left + int(width * 0.05), height - max(bottom_h // 2, step(mfont)) - 2),
                "  ".join(measurements),
                mfont,
                mcolour,
                "measurement",
            )
        else:
            mx0 = width - side_w + 8 if mplace == "side" else image_area[0] + 4
            my0 = (
                height - bottom_h - (len(measurements) + 1) * step(mfont) - 30
                if mplace == "side"
                else image_area[1] + 4
            )
            if mplace == "top_left_inside":
                mx0 = fov_box[0] - 4 if fan_kind == "sector" else mx0
            if table or mplace == "top_left_inside":  # a result box: dark backing under the text
                tw = max(int(canvas.draw.textlength(t, font=mfont)) for t in measurements)
                th = len(measurements) * (step(mfont) + 2)
                backing = (mx0 - 3, my0 - 3, mx0 + tw + 3, my0 + th)
                if canvas.free(backing):
                    canvas.draw.rectangle(backing, fill=(0, 0, 0), outline=GREY if table else None)
                    panels.append(backing)
            for text in measurements:
                canvas.text((mx0, my0), text, mfont, mcolour, "measurement")
                my0 += step(mfont) + 2
    frame = canvas.array()
    style_name = style.name
    if caliper_style == HOLLOW:
        hollow = random_hollow(np.random.default_rng([seed, sorted(FAMILIES).index(family), 11]))
        drawn = draw_hollow_calipers(frame, pairs, style, hollow, digit_font, ellipse_ratio)
        style_name = hollow.name(style)
    else:
        drawn = draw_calipers(frame, pairs, style, digit_font, ellipse_ratio)
    texts = canvas.texts + [TextTruth(t, "caliper", box, style.colour) for t, box in drawn.labels]
    jpeg_quality: int | None = None
    if rng.random() < spec.jpeg_share:
        jpeg_quality = int(rng.integers(spec.jpeg[0], spec.jpeg[1] + 1))
        _, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
        assert decoded is not None  # an image OpenCV just encoded
        frame = np.ascontiguousarray(decoded[..., ::-1])
    return Screen(
        family=family,
        seed=seed,
        frame=frame,
        clean=canvas_clean,
        fov_mask=fov_mask,
        fov_polygon=polygons[0],
        texts=texts,
        calipers=drawn.points,
        ui_boxes=ui_boxes,
        pixel_spacing_cm=spacing_cm,
        caliper_mask=drawn.mask,
        caliper_style=style_name,
        caliper_colour=style.colour,
        fov_polygons=polygons,
        dual=dual,
        doppler=doppler_kind is not None,
        doppler_kind=doppler_kind,
        elastography=elasto,
        zoom=zoom,
        jpeg_quality=jpeg_quality,
        header_layout=header,
        fan=fan_kind,
        panels=panels,
    )


def render_family(
    family: str, n: int, seed: int = 0, *, caliper_style: str | None = None
) -> list[Screen]:
    """``n`` frames of ``family`` with seeds ``seed``, ``seed + 1``, ... (``caliper_style``:
    as :func:`render_screen`'s)."""
    return [render_screen(family, seed + k, caliper_style=caliper_style) for k in range(n)]
