"""Attack the turned-line gate (:mod:`cadbusi_assets.deid.line_gate`) of the unseen-text
search: turned identifiers outside the gate's training distribution, planted in the field of
view of generator tuning screens (seeds 100-439 only, cleaned as the benchmark cleans them),
each verified by :func:`~cadbusi_assets.deid.ocr.ocr_identifiers` with the gate off (every
turned line read) and, where the gate skipped a line, with it on.

    PYTHONPATH=. nice python tools/attack_line_gate.py [--limit N] [--out /tmp/attack.csv]

Every name is invented.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

import cadbusi_assets  # noqa: F401  (before cadbusi_demo and torch)
from cadbusi_assets.deid import line_gate
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from tools.train_turned_line_gate import rotated

DEJAVU = "/usr/share/fonts/truetype/dejavu/"
TTF = {
    "sans": "DejaVuSans.ttf",
    "sans_bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif_bolditalic": "DejaVuSerif-BoldItalic.ttf",
    "mono": "DejaVuSansMono.ttf",
    "condensed": "DejaVuSansCondensed.ttf",
    "condensed_oblique": "DejaVuSansCondensed-Oblique.ttf",
    "extralight": "DejaVuSans-ExtraLight.ttf",
}
HERSHEY = {
    "complex": cv2.FONT_HERSHEY_COMPLEX,
    "triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "duplex": cv2.FONT_HERSHEY_DUPLEX,
    "script_simplex": cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    "script_complex": cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
    "simplex_italic": cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
    "complex_italic": cv2.FONT_HERSHEY_COMPLEX | cv2.FONT_ITALIC,
}

NAME_IDS = OriginalIdentifiers(
    patient_names=("GATELAST^GATEFIRST",),
    patient_ids=("12345678",),
    birth_dates=(dt.date(1961, 3, 4),),
)
SHORT_IDS = OriginalIdentifiers(
    patient_names=("LI^NA",), patient_ids=("12345678",), birth_dates=(dt.date(1961, 3, 4),)
)


def pil_ink(
    text: str, font: str | None, size: int, spacing: int = 0, stroke: int = 0
) -> np.ndarray:
    f = (
        ImageFont.load_default(size=size)
        if font is None
        else ImageFont.truetype(DEJAVU + TTF[font], size)
    )
    chars = list(text) if spacing else [text]
    widths = (
        [int(f.getbbox(c)[2]) + spacing for c in chars] if spacing else [int(f.getbbox(text)[2])]
    )
    height = int(f.getbbox(text + "Ag")[3])
    image = Image.new("L", (sum(widths) + 8 + 2 * stroke, height + 8 + 2 * stroke), 0)
    draw = ImageDraw.Draw(image)
    x = 4 + stroke
    for c, w in zip(chars, widths, strict=True):
        draw.text((x, 4 + stroke), c, fill=255, font=f, stroke_width=stroke, stroke_fill=255)
        x += w
    return np.asarray(image).copy()


def hershey_ink(text: str, font: int, height: int, thick: int = 1) -> np.ndarray:
    scale = cv2.getFontScaleFromHeight(font & 15, height, thick)
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    ink = np.zeros((h + base + 10, w + 10), np.uint8)
    cv2.putText(ink, text, (5, h + 5), font, scale, 255, thick, cv2.LINE_AA)
    return ink


@dataclass
class Case:
    kind: str
    name: str
    text: str
    ink: Callable[[], np.ndarray]
    ids: OriginalIdentifiers = NAME_IDS
    level: int = 255
    colour: tuple[int, int, int] | None = None
    way: int = cv2.ROTATE_90_CLOCKWISE
    style: str = "brightest"  # brightest | blend | panel | edge | caliper | dotted | beside
    jpeg: int = 0


def background(seed: int) -> tuple[np.ndarray, np.ndarray]:
    from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

    screen = render_screen(TUNING_FAMILIES[seed % 5], seed)
    return screen.phi_blacked_out(), screen.fov_mask


def build(case: Case, seed: int) -> np.ndarray:
    return build_boxed(case, seed)[0]


def build_boxed(case: Case, seed: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The attack frame and the planted ink's box (x0, y0, x1, y1)."""
    frame, fov = background(seed)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    ink = cv2.rotate(case.ink(), case.way)
    h, w = ink.shape
    ys, xs = np.nonzero(fov)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    if case.style == "edge":  # across the fan's left edge at its middle row
        row = fov[cy]
        cx = int(np.flatnonzero(row)[0])
    if case.style == "outside":  # on the black margin left of the fan, 25 px from it
        cx = max(w // 2 + 2, int(np.flatnonzero(fov[cy])[0]) - 25 - w // 2)
    if case.style == "nearlabel":  # 4 px below the screen's first upright line of text
        cx, cy = _near_label(frame, w, h)
    top = int(np.clip(cy - h // 2, 0, frame.shape[0] - h))
    left = int(np.clip(cx - w // 2, 0, frame.shape[1] - w))
    colour = np.array(case.colour or (case.level,) * 3, np.float32)
    a = ink.astype(np.float32)[..., None] / 255
    region = frame[top : top + h, left : left + w]
    if case.style in ("panel", "label"):  # dark text on a light panel (label: at level)
        light = 225 if case.style == "panel" else case.level
        frame[max(0, top - 6) : top + h + 6, max(0, left - 6) : left + w + 6] = light
        region = frame[top : top + h, left : left + w]
        dark = np.array(case.colour or (20, 20, 20), np.float32)
        region[:] = (region * (1 - a) + dark * a).astype(np.uint8)
    elif case.style == "darkink":  # black letters in the speckle itself
        region[:] = (region * (1 - a)).astype(np.uint8)
    elif case.style in ("blend", "nearlabel"):
        region[:] = (region * (1 - a) + colour * a).astype(np.uint8)
    else:
        region[:] = np.maximum(region, (colour * a).astype(np.uint8))
    if case.style == "caliper":  # a measurement line with crosses through the text
        x = left + w // 2
        cv2.line(frame, (x, top - 20), (x, top + h + 20), (230, 230, 230), 1)
        for y in (top - 20, top + h + 20):
            cv2.drawMarker(frame, (x, y), (255, 255, 255), cv2.MARKER_CROSS, 11, 1)
    if case.style == "dotted":  # a dotted measurement line along the text
        x = left + w // 2
        for y in range(top - 10, top + h + 10, 6):
            cv2.circle(frame, (x, y), 1, (255, 255, 255), -1)
    if case.style == "beside":  # other turned text 6 px to the side
        other = cv2.rotate(pil_ink("RT BREAST 2CM FN", None, 14), case.way)
        oh, ow = other.shape
        l2 = left + w + 6
        if l2 + ow < frame.shape[1] and top + oh < frame.shape[0]:
            r2 = frame[top : top + oh, l2 : l2 + ow]
            r2[:] = np.maximum(r2, other[..., None])
    if case.jpeg:
        ok, enc = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, case.jpeg])
        assert ok
        frame = np.asarray(cv2.imdecode(enc, cv2.IMREAD_COLOR))
    return frame, (left, top, left + w - 1, top + h - 1)


def planted_score(frame: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """The highest gate score of the search's turned lines lying on the planted ink."""
    from cadbusi_assets.deid.ocr import (
        _joined,
        _quarter_turn,
        _view_box_in_frame,
        turned_line_image,
    )
    from cadbusi_assets.ultrasound.textlines import brightness, find_text

    level = brightness(frame)
    view = _quarter_turn(level)
    best = float("-inf")
    for b in _joined(find_text(view).lines):
        x0, y0, x1, y1 = _view_box_in_frame(b, 1, level.shape)
        if x0 <= box[2] and x1 >= box[0] and y0 <= box[3] and y1 >= box[1]:
            best = max(best, line_gate.score(turned_line_image(view, b)))
    return best


def cases() -> list[Case]:
    out: list[Case] = []
    name, mrn, date = "GATELAST", "ID 12345678", "DOB 1961-03-04"
    texts = [name, mrn, date]
    ways = [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE]
    for fk, font in HERSHEY.items():
        for i, t in enumerate(texts):
            for px in (10, 16, 24):
                out.append(
                    Case(
                        "hershey_" + fk,
                        f"{fk}_{px}_{i}",
                        t,
                        partial(hershey_ink, t, font, px),
                        way=ways[(i + px) % 2],
                    )
                )
    for fk in TTF:
        for i, t in enumerate(texts):
            for px in (11, 20):
                out.append(
                    Case(
                        "ttf_" + fk,
                        f"{fk}_{px}_{i}",
                        t,
                        partial(pil_ink, t, fk, px),
                        way=ways[(i + px) % 2],
                    )
                )
    for px in (8, 9, 24, 30, 34, 40):
        for i, t in enumerate(texts):
            out.append(
                Case(
                    "size_edge",
                    f"pil{px}_{i}",
                    t,
                    partial(pil_ink, t, None, px),
                    way=ways[i % 2],
                )
            )
    for lv in (100, 115, 130, 140):
        for i, t in enumerate(texts):
            out.append(
                Case(
                    "dim",
                    f"dim{lv}_{i}",
                    t,
                    partial(pil_ink, t, None, 16),
                    level=lv,
                    style="blend" if i == 2 else "brightest",
                )
            )
    colours = {
        "yellow": (230, 230, 0),
        "cyan": (0, 220, 220),
        "green": (0, 200, 0),
        "red": (220, 0, 0),
    }
    for ck, c in colours.items():
        for i, t in enumerate(texts):
            out.append(
                Case(
                    "colour",
                    f"{ck}_{i}",
                    t,
                    partial(pil_ink, t, None, 14),
                    colour=c,
                    style="blend",
                )
            )
    # (kind, name prefix, style, pil_ink options at a size, JPEG quality) for each text at
    # 12 and 18 px
    placements: list[tuple[str, str, str, Callable[[int], dict[str, int]], int]] = [
        ("panel", "panel", "panel", lambda px: {}, 0),
        ("fan_edge", "edge", "edge", lambda px: {}, 0),
        ("caliper", "cal", "caliper", lambda px: {}, 0),
        ("dotted", "dot", "dotted", lambda px: {}, 0),
        ("spaced", "spaced", "brightest", lambda px: {"spacing": px // 2}, 0),
        ("bold_stroke", "bold", "brightest", lambda px: {"stroke": 1}, 0),
        ("beside", "beside", "beside", lambda px: {}, 0),
        ("jpeg", "jpeg", "brightest", lambda px: {}, 40),
    ]
    for i, t in enumerate(texts):
        for px in (12, 18):
            for kind, prefix, style, ink_options, quality in placements:
                out.append(
                    Case(
                        kind,
                        f"{prefix}{px}_{i}",
                        t,
                        partial(pil_ink, t, None, px, **ink_options(px)),
                        style=style,
                        jpeg=quality,
                    )
                )
    for px in (10, 14, 20):
        out.append(
            Case("digits_only", f"mrn{px}", "12345678", partial(pil_ink, "12345678", None, px))
        )
        out.append(
            Case(
                "digits_only",
                f"mrnh{px}",
                "12345678",
                partial(hershey_ink, "12345678", cv2.FONT_HERSHEY_COMPLEX, px),
            )
        )
        out.append(
            Case("date_iso", f"date{px}", "1961-03-04", partial(pil_ink, "1961-03-04", None, px))
        )
        out.append(
            Case(
                "date_iso",
                f"dateh{px}",
                "1961-03-04",
                partial(hershey_ink, "1961-03-04", cv2.FONT_HERSHEY_TRIPLEX, px),
            )
        )
        out.append(
            Case(
                "short_name",
                f"lina{px}",
                "LI NA",
                partial(pil_ink, "LI NA", None, px),
                ids=SHORT_IDS,
            )
        )
        out.append(
            Case(
                "short_name",
                f"linah{px}",
                "LI NA",
                partial(hershey_ink, "LI NA", cv2.FONT_HERSHEY_DUPLEX, px),
                ids=SHORT_IDS,
            )
        )
    non_latin = {
        "greek": ("ΠΑΠΑΔΟΠΟΥΛΟΣ", OriginalIdentifiers(patient_names=("ΠΑΠΑΔΟΠΟΥΛΟΣ^ΕΛΕΝΗ",))),
        "cyrillic": ("ЩУКИНА", OriginalIdentifiers(patient_names=("ЩУКИНА^ЮЛИЯ",))),
    }
    for nk, (t, ids) in non_latin.items():
        for px in (14, 20):
            out.append(Case("non_latin", f"{nk}{px}", t, partial(pil_ink, t, "sans", px), ids=ids))
    return out


def hollow(ink: np.ndarray) -> np.ndarray:
    """Outlined letters: the ink less its erosion."""
    grown = cv2.dilate(ink, np.ones((3, 3), np.uint8))
    return cv2.subtract(grown, cv2.erode(grown, np.ones((3, 3), np.uint8)))


def boxed(ink: np.ndarray) -> np.ndarray:
    """The ink inside a 1 px rectangle."""
    out = cv2.copyMakeBorder(ink, 3, 3, 3, 3, cv2.BORDER_CONSTANT, value=0)
    cv2.rectangle(out, (0, 0), (out.shape[1] - 1, out.shape[0] - 1), 255, 1)
    return out


def underlined(ink: np.ndarray) -> np.ndarray:
    out = ink.copy()
    rows = np.flatnonzero(ink.max(axis=1) > 60)
    cols = np.flatnonzero(ink.max(axis=0) > 60)
    out[min(out.shape[0] - 1, rows[-1] + 2), cols[0] : cols[-1] + 1] = 255
    return out


def pixelated(text: str, size: int, factor: int) -> np.ndarray:
    """A small bitmap-like glyph scaled up by nearest neighbour, thresholded (no anti-aliasing)."""
    ink = pil_ink(text, None, size)
    ink = np.where(ink > 110, 255, 0).astype(np.uint8)
    return cv2.resize(ink, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


def tilted_ink(text: str, angle: float) -> np.ndarray:
    return rotated(pil_ink(text, None, 18), angle)


def hollow_ink(text: str, size: int) -> np.ndarray:
    return hollow(pil_ink(text, "sans_bold", size))


def boxed_ink(text: str, size: int) -> np.ndarray:
    return boxed(pil_ink(text, None, size))


def underlined_ink(text: str, size: int) -> np.ndarray:
    return underlined(pil_ink(text, None, size))


def spacing_cases() -> list[Case]:
    """Letter spacing from a third to all of the letters' size, in the fan and on the
    margin (spacing lowers the gate's score most of the kinds tried)."""
    out: list[Case] = []
    texts = ["GATELAST", "ID 12345678", "DOB 1961-03-04"]
    for i, t in enumerate(texts):
        for px in (12, 18, 24):
            for share in (0.35, 0.5, 0.65, 0.8, 1.0):
                gap = round(px * share)
                for style in ("brightest", "outside"):
                    out.append(
                        Case(
                            f"spacing_{style}",
                            ("spm" if style == "outside" else "sp") + f"{px}_{gap}_{i}",
                            t,
                            partial(pil_ink, t, None, px, spacing=gap),
                            way=(cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE)[i % 2],
                            style=style,
                        )
                    )
    return out


def hard_cases() -> list[Case]:
    """Pushed further from the gate's training: bigger, wider spaced, lighter, turned further
    than a quarter, hollow, boxed, underlined, pixelated, thick strokes, lower case, dark ink."""
    out: list[Case] = []
    texts = ["GATELAST", "ID 12345678", "DOB 1961-03-04"]
    ways = [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE]
    for i, t in enumerate(texts):
        w = ways[i % 2]
        # (kind, name, ink) in order, each turned the text's way
        inks: list[tuple[str, str, Callable[[], np.ndarray]]] = [
            *(("huge", f"pil{px}_{i}", partial(pil_ink, t, None, px)) for px in (44, 52, 60)),
            *(
                ("wide_spaced", f"wide{px}_{i}", partial(pil_ink, t, None, px, spacing=px))
                for px in (12, 18)
            ),
            *(
                ("extralight_big", f"xl{px}_{i}", partial(pil_ink, t, "extralight", px))
                for px in (16, 24, 30)
            ),
            *(
                ("tilted", f"tilt{ang}_{i}", partial(tilted_ink, t, ang))
                for ang in (-20, -12, 12, 20)
            ),
            *(("hollow", f"hollow{px}_{i}", partial(hollow_ink, t, px)) for px in (20, 30)),
        ]
        for px in (12, 18):
            inks.append(("boxed", f"boxed{px}_{i}", partial(boxed_ink, t, px)))
            inks.append(("underlined", f"under{px}_{i}", partial(underlined_ink, t, px)))
        inks += [
            ("pixelated", f"pix{f}x{px}_{i}", partial(pixelated, t, px, f))
            for f, px in ((2, 8), (3, 7), (2, 10))
        ]
        inks += [
            (
                "hershey_thick",
                f"thick{px}_{i}",
                partial(hershey_ink, t, cv2.FONT_HERSHEY_SIMPLEX, px, 3),
            )
            for px in (16, 26)
        ]
        out += [Case(kind, name, t, ink, way=w) for kind, name, ink in inks]
        out.append(
            Case(
                "dark_ink",
                f"dark18_{i}",
                t,
                partial(pil_ink, t, "sans_bold", 18),
                way=w,
                style="darkink",
            )
        )
    for px in (12, 18, 24):
        out.append(
            Case(
                "lower_case",
                f"lower{px}",
                "Gatelast",
                partial(pil_ink, "Gatelast Gatefirst", "sans", px),
            )
        )
        out.append(
            Case(
                "lower_case",
                f"lowerh{px}",
                "gatelast",
                partial(hershey_ink, "gatelast", cv2.FONT_HERSHEY_COMPLEX, px),
            )
        )
    return out


#: Names in scripts the OCR (English) cannot read, and the study's identifiers (invented).
SCRIPT_NAMES = {
    "greek": ("ΠΑΠΑΔΟΠΟΥΛΟΣ", OriginalIdentifiers(patient_names=("ΠΑΠΑΔΟΠΟΥΛΟΣ^ΕΛΕΝΗ",))),
    "cyrillic": ("ЩУКИНА", OriginalIdentifiers(patient_names=("ЩУКИНА^ЮЛИЯ",))),
    "hebrew": ("רוזנברג", OriginalIdentifiers(patient_names=("רוזנברג^שרה",))),
}
#: (font, size, style, level) of each placement of a turned non-Latin name.
SCRIPT_PLACEMENTS = [
    ("sans", 12, "brightest", 255),
    ("sans", 14, "brightest", 255),
    ("sans", 20, "brightest", 200),
    ("sans", 30, "brightest", 255),
    ("sans", 16, "blend", 150),
    ("sans", 24, "blend", 200),
    ("serif", 18, "brightest", 255),
    ("sans_bold", 16, "brightest", 220),
    ("sans", 14, "edge", 255),
    ("sans", 20, "edge", 180),
    ("sans", 16, "outside", 255),
    ("mono", 22, "outside", 150),
]
#: DejaVu Serif and Sans Mono have no Hebrew letters (they draw one empty box for each): a
#: Hebrew placement in one of them is drawn in the font given here instead.
SCRIPT_FONT_INSTEAD = {"hebrew": {"serif": "condensed", "mono": "condensed_oblique"}}


def script_cases() -> list[Case]:
    """Greek, Cyrillic and Hebrew names turned 90, 270 and 180 degrees (clockwise) in the
    :data:`SCRIPT_PLACEMENTS`: caught only by the unreadable-name check (kind
    ``text_unreadable_for_a_<script>_name``), the OCR reading them as junk."""
    out: list[Case] = []
    for script, (t, ids) in SCRIPT_NAMES.items():
        out += _turned_script_cases(script, t, ids, SCRIPT_FONT_INSTEAD.get(script, {}))
    return out


def _turned_script_cases(
    script: str, t: str, ids: OriginalIdentifiers, instead: dict[str, str]
) -> list[Case]:
    """``t`` (a name in ``script``) turned 90, 270 and 180 degrees (clockwise) in each of the
    :data:`SCRIPT_PLACEMENTS`, a placement's font replaced as ``instead`` says."""
    turns = {
        "90": cv2.ROTATE_90_CLOCKWISE,
        "270": cv2.ROTATE_90_COUNTERCLOCKWISE,
        "180": cv2.ROTATE_180,
    }
    out: list[Case] = []
    for turn, way in turns.items():
        for placed, px, style, level in SCRIPT_PLACEMENTS:
            font = instead.get(placed, placed)
            out.append(
                Case(
                    f"turned_{script}",
                    f"{script}{turn}_{font}{px}_{style}{level}",
                    t,
                    partial(pil_ink, t, font, px),
                    ids=ids,
                    level=level,
                    way=way,
                    style=style,
                )
            )
    return out


#: More names in scripts the OCR cannot read (invented): Arabic (shaped when PIL has raqm),
#: Armenian, Georgian, a Latin given name with an Arabic family name (only the Arabic part
#: burned in), and a name in two scripts (``=`` groups, the Arabic group burned in).
SCRIPT_NAMES_2 = {
    "arabic": ("الحسيني", OriginalIdentifiers(patient_names=("الحسيني^فاطمة",))),
    "armenian": ("ՀԱԿՈԲՅԱՆ", OriginalIdentifiers(patient_names=("ՀԱԿՈԲՅԱՆ^ԱՆԻ",))),
    "georgian": ("ბერიძე", OriginalIdentifiers(patient_names=("ბერიძე^ნინო",))),
    "mixed": ("الحسيني", OriginalIdentifiers(patient_names=("الحسيني^Ahmed",))),
    "twogroup": (
        "فاطمة الحسيني",
        OriginalIdentifiers(patient_names=("Alhusseini^Fatima=الحسيني^فاطمة",)),
    ),
}
#: DejaVu Serif and Serif Bold Italic have no Arabic letters.
SCRIPT_FONT_INSTEAD_2 = {
    s: {"serif": "condensed", "serif_bolditalic": "sans_bold"} for s in ("mixed", "twogroup")
} | {"arabic": {"serif": "condensed", "serif_bolditalic": "sans_bold"}}
#: (font, size, style, level) of each upright placement: a light label, on the fan's speckle
#: (bright, blended, dark), small (10-12 px), next to the screen's own text, on the margin.
UPRIGHT_PLACEMENTS = [
    ("sans", 14, "panel", 255),
    ("sans", 11, "panel", 255),
    ("sans", 16, "brightest", 255),
    ("sans", 12, "blend", 160),
    ("sans", 20, "blend", 200),
    ("sans", 18, "darkink", 255),
    ("sans", 10, "brightest", 230),
    ("sans", 12, "nearlabel", 200),
    ("sans", 14, "nearlabel", 255),
    ("serif", 12, "outside", 255),
    ("sans_bold", 11, "edge", 255),
]


def _near_label(frame: np.ndarray, w: int, h: int) -> tuple[int, int]:
    """The centre of a ``w`` x ``h`` box 4 px below the frame's first line of upright text
    (its left edge on the line's), else the frame's top left corner."""
    from cadbusi_assets.ultrasound.textlines import brightness, find_text

    lines = sorted(find_text(brightness(frame)).lines, key=lambda b: (b[1], b[0]))
    if not lines:
        return 10 + w // 2, 10 + h // 2
    x0, _, _, y1 = lines[0]
    return x0 + w // 2, y1 + 4 + h // 2


def _upright(ink: Callable[[], np.ndarray]) -> np.ndarray:
    """``ink`` turned so that :func:`build_boxed`'s quarter turn clockwise sets it upright."""
    return cv2.rotate(ink(), cv2.ROTATE_90_COUNTERCLOCKWISE)


def script_cases_2() -> list[Case]:
    """:data:`SCRIPT_NAMES_2` turned 90, 270 and 180 degrees in the
    :data:`SCRIPT_PLACEMENTS`, and upright in the :data:`UPRIGHT_PLACEMENTS`."""
    out: list[Case] = []
    for script, (t, ids) in SCRIPT_NAMES_2.items():
        instead = SCRIPT_FONT_INSTEAD_2.get(script, {})
        if script != "twogroup":
            out += _turned_script_cases(script, t, ids, instead)
        for placed, px, style, level in UPRIGHT_PLACEMENTS:
            font = instead.get(placed, placed)
            out.append(
                Case(
                    f"upright_{script}",
                    f"{script}0_{font}{px}_{style}{level}",
                    t,
                    partial(_upright, partial(pil_ink, t, font, px)),
                    ids=ids,
                    level=level,
                    way=cv2.ROTATE_90_CLOCKWISE,
                    style=style,
                )
            )
    return out


#: (font, size, way, label level, ink colour (BGR)) of each name on a light label: upright,
#: turned a quarter either way and upside down; black, grey, blue and red ink; labels 180-245.
LABEL_PLACEMENTS = [
    ("sans", 10, None, 225, (20, 20, 20)),
    ("sans", 12, None, 240, (60, 60, 60)),
    ("sans", 16, None, 200, (20, 20, 20)),
    ("sans_bold", 14, None, 225, (160, 40, 20)),
    ("condensed", 20, None, 245, (30, 30, 180)),
    ("sans", 24, None, 180, (10, 10, 10)),
    ("sans", 12, cv2.ROTATE_90_CLOCKWISE, 225, (20, 20, 20)),
    ("sans", 16, cv2.ROTATE_90_COUNTERCLOCKWISE, 230, (160, 40, 20)),
    ("sans", 14, cv2.ROTATE_180, 225, (20, 20, 20)),
    ("condensed", 18, cv2.ROTATE_90_CLOCKWISE, 200, (90, 90, 90)),
]


def label_cases() -> list[Case]:
    """The names of :data:`SCRIPT_NAMES` and :data:`SCRIPT_NAMES_2` written in dark or
    coloured ink on a light label planted in the fan, in the :data:`LABEL_PLACEMENTS`."""
    turns = {
        None: "0",
        cv2.ROTATE_90_CLOCKWISE: "90",
        cv2.ROTATE_90_COUNTERCLOCKWISE: "270",
        cv2.ROTATE_180: "180",
    }
    out: list[Case] = []
    for script, (t, ids) in {**SCRIPT_NAMES, **SCRIPT_NAMES_2}.items():
        instead = {**SCRIPT_FONT_INSTEAD.get(script, {}), **SCRIPT_FONT_INSTEAD_2.get(script, {})}
        for placed, px, way, light, colour in LABEL_PLACEMENTS:
            font = instead.get(placed, placed)
            ink = partial(pil_ink, t, font, px)
            out.append(
                Case(
                    f"label_{script}",
                    f"{script}{turns[way]}_{font}{px}_label{light}",
                    t,
                    partial(_upright, ink if way is None else partial(cv2.rotate, ink(), way)),
                    ids=ids,
                    level=light,
                    colour=colour,
                    way=cv2.ROTATE_90_CLOCKWISE,
                    style="label",
                )
            )
    return out


def ruled_ink(
    text: str, size: int, where: float, level: int = 230, thick: int = 1, reach: int = 20
) -> np.ndarray:
    """The ink of ``text`` with a straight line along it (a caliper's measurement line, an
    underline, a strike-through) at ``where`` of the text's height from its top, ``reach``
    px beyond each end, ``thick`` px, at ``level``."""
    ink = cv2.copyMakeBorder(pil_ink(text, None, size), 0, 0, reach, reach, cv2.BORDER_CONSTANT)
    rows = np.flatnonzero(ink.max(axis=1) > 60)
    y = round(float(rows[0]) + where * float(rows[-1] - rows[0]))
    line = np.zeros_like(ink)
    line[y : y + thick, 2 : ink.shape[1] - 2] = level
    return np.maximum(ink, line)


def rule_cases() -> list[Case]:
    """Turned text crossed along its length by a straight line (the middle: a caliper's
    line, at 230 or 255, 1 or 2 px; the baseline: an underline; two thirds up: a strike),
    in the fan and on the margin."""
    out: list[Case] = []
    texts = ["GATELAST", "ID 12345678", "DOB 1961-03-04"]
    lines = {
        "mid230": (0.5, 230, 1),
        "mid255": (0.5, 255, 1),
        "mid2px": (0.5, 230, 2),
        "under": (1.0, 230, 1),
        "strike": (0.35, 230, 1),
    }
    for i, t in enumerate(texts):
        for px in (12, 18, 24):
            for lk, (where, level, thick) in lines.items():
                for style in ("brightest", "outside"):
                    out.append(
                        Case(
                            f"rule_{style}",
                            f"{'rm' if style == 'outside' else 'r'}{lk}_{px}_{i}",
                            t,
                            partial(ruled_ink, t, px, where, level, thick),
                            way=(cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE)[
                                (i + px) % 2
                            ],
                            style=style,
                        )
                    )
    return out


def verify(frame: np.ndarray, ids: OriginalIdentifiers) -> tuple[list[str], list[str], float]:
    """Kinds found with the gate off, with it on, and the lowest score of a turned line."""
    from cadbusi_assets.deid.ocr import ocr_identifiers

    scores: list[float] = []
    original = line_gate.may_be_text

    def record(image: np.ndarray) -> bool:
        scores.append(line_gate.score(image))
        return True

    line_gate.may_be_text = record
    try:
        off = ocr_identifiers(frame, ids)
    finally:
        line_gate.may_be_text = original
    low = min(scores) if scores else float("inf")
    on = off if low > line_gate.THRESHOLD else ocr_identifiers(frame, ids)
    return off, on, low


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out", default="/tmp/gate_attack.csv")
    ap.add_argument("--seeds", default="100,440")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--hard", action="store_true", help="the hard cases only")
    ap.add_argument("--spacing", action="store_true", help="the letter-spacing cases only")
    ap.add_argument("--outside", action="store_true", help="planted on the margin, off the fan")
    ap.add_argument("--scripts", action="store_true", help="the turned non-Latin names only")
    ap.add_argument("--rules", action="store_true", help="text crossed by a line only")
    ap.add_argument(
        "--scripts2",
        action="store_true",
        help="Arabic, Armenian, Georgian and mixed names, turned and upright",
    )
    ap.add_argument(
        "--labels",
        action="store_true",
        help="names in every non-Latin script on light labels (dark or coloured ink)",
    )
    args = ap.parse_args()
    s0, s1 = (int(x) for x in args.seeds.split(","))
    all_cases = hard_cases() if args.hard else spacing_cases() if args.spacing else cases()
    if args.scripts:
        all_cases = script_cases()
    if args.rules:
        all_cases = rule_cases()
    if args.scripts2:
        all_cases = script_cases_2()
    if args.labels:
        all_cases = label_cases()
    if args.outside:
        all_cases = [
            replace(c, kind="outside_" + c.kind, style="outside")
            for c in all_cases
            if c.style in ("brightest", "blend")
        ]
    if args.limit:
        all_cases = all_cases[: args.limit]
    print(len(all_cases), "cases", flush=True)
    with open(args.out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["kind", "name", "seed", "off", "on", "low", "planted", "s"])
        for rep in range(args.reps):
            for k, case in enumerate(all_cases):
                seed = s0 + (k * 37 + rep * 101) % (s1 - s0)
                t0 = time.perf_counter()
                frame, box = build_boxed(case, seed)
                off, on, low = verify(frame, case.ids)
                top = planted_score(frame, box)
                writer.writerow(
                    [
                        case.kind,
                        case.name,
                        seed,
                        "|".join(off),
                        "|".join(on),
                        f"{low:.2f}",
                        f"{top:.2f}",
                        f"{time.perf_counter() - t0:.1f}",
                    ]
                )
                fh.flush()
                flag = "REGRESSION" if off and not on else ""
                print(
                    case.kind,
                    case.name,
                    seed,
                    off,
                    on,
                    f"{low:.2f}",
                    f"{top:.2f}",
                    flag,
                    flush=True,
                )


if __name__ == "__main__":
    main()
