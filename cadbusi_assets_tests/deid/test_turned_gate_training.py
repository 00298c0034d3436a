"""The turned-line gate's training option for scripts tesseract cannot read
(``tools/train_turned_line_gate.py --script-copies``): Greek, Cyrillic and Hebrew text planted
turned, labelled by the planted ink's share of the line, not by a tesseract read.

The option is off by default (the gate it trained scored speckle higher; see the module).
These tests hold the option to what it claims: real glyphs of each script, the label's
share, and Latin copies unchanged by it (the packaged gate stays reproducible)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import cadbusi_assets  # noqa: F401  (before cadbusi_demo and torch)
from cadbusi_assets_tests.support import missing, require_tesseract_executable
from tools.train_turned_line_gate import (
    DEJAVU,
    SCRIPT_FONTS,
    SCRIPT_LETTERS,
    SCRIPT_SHARE,
    _box_share,
    harvest,
)


def _require_fonts() -> None:
    if not Path(DEJAVU, "DejaVuSans.ttf").exists():
        missing("DejaVu fonts are not installed (apt-get install fonts-dejavu-core)")


def _glyph(font: ImageFont.FreeTypeFont, letter: str) -> bytes:
    image = Image.new("L", (40, 40), 0)
    ImageDraw.Draw(image).text((4, 4), letter, fill=255, font=font)
    return np.asarray(image).tobytes()


def test_each_script_is_drawn_in_fonts_that_have_its_letters():
    """A font without a script's glyphs draws every letter as the same empty box (DejaVu
    Serif and Sans Mono have no Hebrew): such text would teach the gate boxes, not letters."""
    _require_fonts()
    for script, letters in SCRIPT_LETTERS.items():
        for name in SCRIPT_FONTS["hebrew" if script == "hebrew" else "other"]:
            font = ImageFont.truetype(DEJAVU + name, 20)
            sample = letters[:8]
            assert len({_glyph(font, c) for c in sample}) == len(sample), (script, name)
    serif = ImageFont.truetype(DEJAVU + "DejaVuSerif.ttf", 20)
    hebrew = SCRIPT_LETTERS["hebrew"][:8]
    assert len({_glyph(serif, c) for c in hebrew}) == 1  # the box the test above rules out


def test_a_line_is_labelled_by_the_planted_inks_share_of_its_box():
    ink = np.zeros((10, 40), np.uint8)
    ink[2:8, 5:35] = 1  # the planted text's ink box: 6 x 30
    on_text = ink[2:8, 5:35]
    assert _box_share(on_text) == 1.0
    half = np.zeros((6, 60), np.uint8)
    half[:, :30] = 1  # a line twice as long as the text: half of it speckle
    assert _box_share(half) == 0.5 < SCRIPT_SHARE


def test_script_copies_leave_the_latin_copies_as_they_were():
    """The Latin copies come first for each frame and from their own random stream: with
    script copies the harvest begins with the same lines and labels (the packaged gate,
    trained without them, is reproduced)."""
    require_tesseract_executable()
    _require_fonts()
    latin, labels, scripts = harvest((100, 101))
    both, both_labels, both_scripts = harvest((100, 101), script_copies=1)
    assert not scripts.any()
    assert len(both) > len(latin)
    assert all(np.array_equal(a, b) for a, b in zip(latin, both, strict=False))
    assert np.array_equal(labels, both_labels[: len(labels)])
    assert both_scripts[len(latin) :].any()  # a positive on the planted Greek/Cyrillic/Hebrew
