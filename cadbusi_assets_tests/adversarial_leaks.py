"""The planted identifiers of the adversarial pixel tests, shared by the tests that use them
(``test_adversarial_pixels.py``: :data:`LEAKS`; ``test_adversarial_pixels_2.py``:
:data:`LEAKS_2`; ``deid/test_unseen_fast_paths.py``: both). Each maker draws one of the canary
study's identifiers where the upright reading cannot see it (vertical, tiny, on a light label,
upside down, over bright speckle, beside a depth scale). Every name is invented
(:mod:`cadbusi_assets_tests.deid.canary`)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets_tests.adversarial_pixels import (
    KEPT_TOP,
    draw_calipers,
    draw_text,
    grey_to_rgb,
    paste_brightest,
    speckle_fan,
)
from cadbusi_assets_tests.deid import canary


def vertical_down() -> np.ndarray:
    """The name written top to bottom (turned a quarter clockwise) inside the fan."""
    ink = cv2.rotate(draw_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_CLOCKWISE)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 50, 170)


def vertical_up() -> np.ndarray:
    """The name written bottom to top, at the left edge of the frame."""
    ink = cv2.rotate(draw_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_COUNTERCLOCKWISE)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 40, 0)


def dark_on_light_panel() -> np.ndarray:
    """Black text on a light label panel laid over the speckle."""
    frame = speckle_fan()
    frame[KEPT_TOP + 60 : KEPT_TOP + 100, 40:290] = 215
    ink = draw_text("CANARYLAST 00CANARY4242", 16, shape=(30, 240))
    panel = frame[KEPT_TOP + 65 : KEPT_TOP + 95, 45:285]
    panel[ink > 128] = 20
    return frame


def tiny(size: int) -> Callable[[], np.ndarray]:
    """The name and ID in letters ``size`` px high (5-6 px glyphs), in the fan."""

    def make() -> np.ndarray:
        ink = draw_text("CANARYLAST 00CANARY4242", size, shape=(14, 140))
        return paste_brightest(speckle_fan(), ink, KEPT_TOP + 90, 100)

    make.__doc__ = tiny.__doc__
    return make


def short_year_birth_date() -> np.ndarray:
    """The birth date (1961-02-03) as a European scanner prints it, two-digit year."""
    return paste_brightest(
        speckle_fan(), draw_text("DOB 03.02.61", 16, shape=(26, 140)), KEPT_TOP + 80, 90
    )


def upside_down() -> np.ndarray:
    """The name written upside down (turned 180 degrees) inside the fan."""
    ink = cv2.rotate(draw_text("CANARYLAST CANARYFIRST", 16, shape=(26, 220)), cv2.ROTATE_180)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 80, 50)


def _on_white_label(ink: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """An RGB fan with a white label; ``ink`` (a mask of the label's size) in ``colour``."""
    frame = np.repeat(speckle_fan()[..., None], 3, axis=2)
    label = frame[KEPT_TOP + 60 : KEPT_TOP + 60 + ink.shape[0], 40 : 40 + ink.shape[1]]
    label[:] = 240
    label[ink > 128] = colour
    return frame


def blue_on_white() -> np.ndarray:
    """Blue text on a white label (its brightest channel hides it)."""
    return _on_white_label(draw_text("CANARYLAST 00CANARY4242", 16, shape=(30, 240)), (0, 0, 200))


def vertical_dark_on_white() -> np.ndarray:
    """Black text written top to bottom on a white label."""
    ink = cv2.rotate(draw_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_CLOCKWISE)
    return _on_white_label(ink, (10, 10, 10))


def tiny_red_on_white() -> np.ndarray:
    """Red text in 8 px letters on a white label."""
    return _on_white_label(draw_text("CANARYLAST 00CANARY4242", 8, shape=(16, 150)), (200, 0, 0))


def bold_on_tight_label() -> np.ndarray:
    """Bold black text filling a light label only a little taller than the letters."""
    frame = speckle_fan()
    frame[KEPT_TOP + 60 : KEPT_TOP + 86, 20:300] = 230
    image = Image.fromarray(frame)
    ImageDraw.Draw(image).text(
        (22, KEPT_TOP + 60),
        "CANARYLAST",
        fill=0,
        font=ImageFont.load_default(size=22),
        stroke_width=1,
        stroke_fill=0,
    )
    return np.asarray(image).copy()


def clean_fan() -> np.ndarray:
    """The same fan with the screen's own words only (must be released)."""
    return paste_brightest(
        speckle_fan(), draw_text("LT BREAST 10:00 3CM FN", 14, shape=(24, 220)), KEPT_TOP + 120, 60
    )


LEAKS: dict[str, Callable[[], np.ndarray]] = {
    "vertical_down": vertical_down,
    "vertical_up": vertical_up,
    "dark_on_light_panel": dark_on_light_panel,
    "tiny_7px": tiny(7),
    "tiny_8px": tiny(8),
    "short_year_birth_date": short_year_birth_date,
    "upside_down": upside_down,
    "blue_on_white": blue_on_white,
    "vertical_dark_on_white": vertical_dark_on_white,
    "tiny_red_on_white": tiny_red_on_white,
    "bold_on_tight_label": bold_on_tight_label,
}


def _bright_fan() -> np.ndarray:
    """The fan with its speckle reaching full white (grains of 200-255 everywhere)."""
    fan = speckle_fan().astype(np.float32) * 2.6
    return np.clip(fan, 0, 255).astype(np.uint8)


def _vertical(text: str, size: int, shape: tuple[int, int], turn: int) -> np.ndarray:
    return cv2.rotate(draw_text(text, size, shape=shape), turn)


def vertical_over_bright_speckle() -> np.ndarray:
    """The name top to bottom inside a fan whose speckle reaches full white."""
    ink = _vertical("CANARYLAST", 18, (26, 130), cv2.ROTATE_90_CLOCKWISE)
    return paste_brightest(_bright_fan(), ink, KEPT_TOP + 40, 150)


def _depth_scale(frame: np.ndarray, x: int) -> np.ndarray:
    """A vertical depth scale at column ``x``: a long bright rule with ticks on its left and
    numbers left of them."""
    out = frame.copy()
    out[KEPT_TOP + 5 : canary.ROWS - 5, x] = 230
    for k, y in enumerate(range(KEPT_TOP + 10, canary.ROWS - 10, 30)):
        out[y, x - 6 : x] = 230
        out = paste_brightest(out, draw_text(str(k), 12, shape=(16, 12)), y - 7, x - 21)
    return out


def vertical_beside_depth_scale() -> np.ndarray:
    """The name bottom to top right beside a vertical depth scale."""
    ink = _vertical("CANARYLAST", 18, (26, 130), cv2.ROTATE_90_COUNTERCLOCKWISE)
    return paste_brightest(_depth_scale(speckle_fan(), 305), ink, KEPT_TOP + 40, 255)


def vertical_beside_tgc_curve() -> np.ndarray:
    """The name top to bottom beside a TGC curve (a bright polyline down the right side)."""
    frame = speckle_fan()
    ys = np.arange(KEPT_TOP + 5, canary.ROWS - 5)
    xs = (300 - 10 * np.sin((ys - KEPT_TOP) / 18.0)).astype(np.int32)
    curve = np.column_stack((xs, ys)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(frame, [curve], False, 220, 1)
    ink = _vertical("CANARYLAST", 18, (26, 130), cv2.ROTATE_90_CLOCKWISE)
    return paste_brightest(frame, ink, KEPT_TOP + 45, 262)


def vertical_two_lines() -> np.ndarray:
    """Name and ID in two lines, the block turned a quarter (written top to bottom)."""
    image = Image.new("L", (170, 44), 0)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=16)
    draw.text((2, 2), "CANARYLAST", fill=255, font=font)
    draw.text((2, 23), "ID 00CANARY4242", fill=255, font=font)
    ink = cv2.rotate(np.asarray(image), cv2.ROTATE_90_CLOCKWISE)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 10, 140)


def vertical_phone_number() -> np.ndarray:
    """A relative's phone number written bottom to top inside the fan."""
    ink = _vertical("(617) 555-0199", 16, (24, 140), cv2.ROTATE_90_COUNTERCLOCKWISE)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 30, 200)


def tiny_beside_calipers() -> np.ndarray:
    """The name and ID in 7 px letters between two caliper marks on its row."""
    frame = draw_calipers(speckle_fan(), [(92, KEPT_TOP + 95), (235, KEPT_TOP + 95)])
    ink = draw_text("CANARYLAST 00CANARY4242", 7, shape=(14, 140))
    return paste_brightest(frame, ink, KEPT_TOP + 90, 100)


def tiny_in_colour(colour: tuple[int, int, int]) -> Callable[[], np.ndarray]:
    """The name and ID in 7 px letters of one colour on an RGB fan."""

    def make() -> np.ndarray:
        frame = grey_to_rgb(speckle_fan())
        ink = draw_text("CANARYLAST 00CANARY4242", 7, shape=(14, 140))
        region = frame[KEPT_TOP + 90 : KEPT_TOP + 104, 100:240]
        alpha = ink[..., None].astype(np.float32) / 255  # anti-aliased, as drawn
        region[:] = (region * (1 - alpha) + np.array(colour) * alpha).astype(np.uint8)
        return frame

    make.__doc__ = tiny_in_colour.__doc__
    return make


def label_at_the_edge() -> np.ndarray:
    """Black text on a light label that touches the frame's left and bottom edges."""
    frame = speckle_fan()
    frame[canary.ROWS - 34 :, :210] = 220
    ink = draw_text("CANARYLAST 4242", 16, shape=(30, 200))
    label = frame[canary.ROWS - 30 :, 2:202]
    label[ink[: label.shape[0]] > 128] = 15
    return frame


def label_partly_under_upright_text() -> np.ndarray:
    """A light label with black text on it, its right end under the screen's own bright
    words (an upright line the reading sees)."""
    frame = speckle_fan()
    frame[KEPT_TOP + 60 : KEPT_TOP + 96, 20:300] = 200
    ink = draw_text("CANARYLAST", 18, shape=(30, 180))
    label = frame[KEPT_TOP + 63 : KEPT_TOP + 93, 24:204]
    label[ink > 128] = 10
    words = draw_text("LT 10:00", 16, shape=(26, 100))
    frame[KEPT_TOP + 96 : KEPT_TOP + 122, 200:300] = np.maximum(
        frame[KEPT_TOP + 96 : KEPT_TOP + 122, 200:300], words
    )
    frame[KEPT_TOP + 66 : KEPT_TOP + 92, 215:300] = np.where(words > 128, 255, 200)[:26, :85]
    return frame


def upside_down_beside_vocabulary() -> np.ndarray:
    """The name upside down between lines of the screen's own words."""
    frame = paste_brightest(
        speckle_fan(), draw_text("LT BREAST 10:00", 14, shape=(22, 200)), KEPT_TOP + 40, 60
    )
    frame = paste_brightest(frame, draw_text("3CM FN", 14, shape=(22, 120)), KEPT_TOP + 120, 60)
    ink = cv2.rotate(draw_text("CANARYLAST", 16, shape=(26, 140)), cv2.ROTATE_180)
    return paste_brightest(frame, ink, KEPT_TOP + 75, 80)


def upside_down_birth_date() -> np.ndarray:
    """The birth date written upside down inside the fan."""
    ink = cv2.rotate(draw_text("DOB 03.02.61", 16, shape=(26, 140)), cv2.ROTATE_180)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 80, 90)


LEAKS_2: dict[str, Callable[[], np.ndarray]] = {
    "vertical_over_bright_speckle": vertical_over_bright_speckle,
    "vertical_beside_depth_scale": vertical_beside_depth_scale,
    "vertical_beside_tgc_curve": vertical_beside_tgc_curve,
    "vertical_two_lines": vertical_two_lines,
    "vertical_phone_number": vertical_phone_number,
    "tiny_beside_calipers": tiny_beside_calipers,
    "tiny_yellow": tiny_in_colour((255, 255, 0)),
    "tiny_cyan": tiny_in_colour((0, 255, 255)),
    "label_at_the_edge": label_at_the_edge,
    "label_partly_under_upright_text": label_partly_under_upright_text,
    "upside_down_beside_vocabulary": upside_down_beside_vocabulary,
    "upside_down_birth_date": upside_down_birth_date,
}

#: What the verification must find in each case.
EXPECTED_2 = {"vertical_phone_number": "third_party_contact"}


#: Cases a reader with tesseract on the whole page misses (the verification reads them).
PAGE_READER_MISSES_2 = {"tiny_beside_calipers"}
