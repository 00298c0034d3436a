"""Calibrate the verification's second gate (:func:`cadbusi_assets.ultrasound.glyphs.holds_no_identifier`
at :data:`~cadbusi_assets.ultrasound.glyphs.NO_IDENTIFIER_CONFIDENCE`) on *tuning* material only.

The gate spares tesseract a line whose learned reading holds no identifier. It must let no
line through that holds a name, an ID, a date or a phone number. This script measures that,
and what the gate spares, on:

1. **synthetic identifier lines** (:func:`identifier_lines`): names (two parts of 3-9
   letters, ``^`` or a space between), IDs (5-9 digits, with or without ``ID``/``MRN:``/``ACC``),
   dates (three forms, maybe a time), phone numbers, each drawn in every face of the screen
   generator (8-30 px) or an OpenCV Hershey font, over black or speckle, some blurred, some
   JPEG re-encoded (:mod:`tools.train_line_reader`'s drawing); and a share of them **glued to
   graphics** (:func:`_graphic`): a body-mark box, a probe icon, a bar or a ring drawn touching
   the text and inside the line's box, as a detector's box holds a line stuck to a body mark;
2. **tuning-family screens** (:data:`cadbusi_demo.screens_heldout.TUNING_FAMILIES`, never the
   held-out ones): every line the shared detector finds; a line meeting a ``phi`` text box
   (clinic, name, ID, date, time) holds an identifier, and must not be spared either; the
   others measure what the gate spares.

For each gate (:data:`GATES`: the committed one, and candidates given here by name) and each
confidence in :data:`CONFIDENCES`, it prints the identifier lines that pass (must be 0) and
the other screen lines spared (the more the better). Deterministic (fixed seeds, one thread).

    PYTHONPATH=. python -m tools.calibrate_identifier_gate            # 2000 lines, 60 screens
    PYTHONPATH=. python -m tools.calibrate_identifier_gate --lines 500 --screens 20
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from cadbusi_assets.ultrasound import glyphs
from cadbusi_assets.ultrasound.ocr import clean_line_image
from cadbusi_assets.ultrasound.textlines import brightness, find_text

#: Seeds: the synthetic lines (as when the gate was built) and the tuning screens.
LINE_SEED = 4242
SCREEN_SEED = 300_000
#: Confidences the gate is measured at.
CONFIDENCES = (0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
#: Share of the synthetic identifier lines drawn glued to a graphic.
GLUED_SHARE = 0.4
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def identifier_text(rng: np.random.Generator) -> str:
    """A name, ID, date or phone number as scanners and operators write them."""
    kind = int(rng.integers(4))
    if kind == 0:
        parts = [
            "".join(_LETTERS[int(i)] for i in rng.integers(0, 26, int(rng.integers(3, 10))))
            for _ in range(2)
        ]
        name = ("^" if rng.random() < 0.5 else " ").join(parts)
        return name if rng.random() < 0.7 else name.title()
    if kind == 1:
        digits = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(5, 10))))
        return ("ID ", "MRN: ", "ACC ", "ID:", "")[int(rng.integers(5))] + digits
    if kind == 2:
        d, m, y = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1930, 2027))
        date = (
            f"{m:02d}/{d:02d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d:02d}.{m:02d}.{y}",
            f"{m}/{d}/{y % 100:02d}",
        )[int(rng.integers(4))]
        return date + (
            f" {int(rng.integers(24)):02d}:{int(rng.integers(60)):02d}"
            if rng.random() < 0.4
            else ""
        )
    a, b, c = (
        int(rng.integers(200, 999)),
        int(rng.integers(200, 999)),
        int(rng.integers(1000, 9999)),
    )
    return (f"{b}-{c}", f"({a}) {b}-{c}", f"{a}.{b}.{c}")[int(rng.integers(3))]


def _graphic(rng: np.random.Generator, image: np.ndarray, ink: tuple[int, int, int, int]) -> None:
    """Draw a body-mark-like graphic touching the text's ink box ``ink`` (x0, y0, x1, y1):
    a box outline around or beside it, a probe icon (a short thick bar), a ring or a line
    under it, in a text colour."""
    from tools.train_line_reader import COLOURS

    x0, y0, x1, y1 = ink
    h = y1 - y0 + 1
    colour = tuple(int(c) for c in COLOURS[int(rng.integers(len(COLOURS)))])
    kind = int(rng.integers(5))
    if kind == 0:  # a box around the text (a label in a frame)
        cv2.rectangle(image, (x0 - 2, y0 - 2), (x1 + 2, y1 + 2), colour, 1)
    elif kind == 1:  # a body-mark box beside the text, touching it
        side = int(h * rng.uniform(1.0, 2.0))
        left = x1 + 1 if rng.random() < 0.5 else x0 - side - 1
        cv2.rectangle(
            image, (left, y0 - side // 4), (left + side, y0 - side // 4 + side), colour, 1
        )
    elif kind == 2:  # a probe icon: a thick bar glued to the text's end
        cv2.rectangle(image, (x1 + 1, y0 + h // 3), (x1 + 1 + 2 * h, y0 + h // 3 + 2), colour, -1)
    elif kind == 3:  # a ring (a breast body mark) touching the text
        radius = max(4, int(h * rng.uniform(0.8, 1.5)))
        cv2.circle(image, (x1 + radius + 1, (y0 + y1) // 2), radius, colour, 1, cv2.LINE_AA)
    else:  # a line under the text (an underline or a scale touching it)
        cv2.line(image, (x0 - 3, y1 + 1), (x1 + 3, y1 + 1), colour, 1)


@dataclass(frozen=True)
class Line:
    image: np.ndarray  # the line's clean_line_image, as the reader and tesseract get it
    holds_identifier: bool
    source: str  # "synthetic", "glued" or "screen"
    text: str = ""  # the identifier drawn (synthetic and glued lines)


def identifier_lines(count: int, seed: int = LINE_SEED) -> list[Line]:
    """``count`` synthetic identifier lines (:func:`identifier_text`), a share
    (:data:`GLUED_SHARE`) glued to a graphic; the line's box holds text and graphic."""
    from PIL import Image, ImageDraw

    from cadbusi_demo.screens_heldout import load_font
    from tools.train_line_reader import COLOURS, FACES, HERSHEY, SIZES, _background, _jpeg

    rng = np.random.default_rng(seed)
    out: list[Line] = []
    while len(out) < count:
        text = identifier_text(rng)
        colour = COLOURS[int(rng.integers(len(COLOURS)))]
        base = _background(rng, 100, 900)
        if rng.random() < 0.8:
            font = load_font(
                FACES[int(rng.integers(len(FACES)))], int(rng.integers(SIZES[0], SIZES[1] + 1))
            )
            pil = Image.fromarray(base)
            ImageDraw.Draw(pil).text((40, 30), text, font=font, fill=colour)
            drawn = np.array(pil)
        else:
            drawn = base.copy()
            scale, thickness = rng.uniform(0.3, 0.9), 1 if rng.random() < 0.7 else 2
            face = HERSHEY[int(rng.integers(len(HERSHEY)))]
            cv2.putText(drawn, text, (40, 60), face, scale, colour, thickness, cv2.LINE_AA)
        ink = np.abs(drawn.astype(np.int16) - base.astype(np.int16)).max(axis=2) > 60
        ys, xs = np.nonzero(ink)
        if ys.size == 0 or xs.max() >= 800 or ys.max() - ys.min() < 5:
            continue
        glued = rng.random() < GLUED_SHARE
        if glued:
            before = drawn.copy()
            _graphic(rng, drawn, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())))
            added = np.abs(drawn.astype(np.int16) - before.astype(np.int16)).max(axis=2) > 60
            ys, xs = np.nonzero(ink | added)
        if rng.random() < 0.2:
            drawn = cv2.GaussianBlur(drawn, (0, 0), rng.uniform(0.3, 0.8))
        if rng.random() < 0.4:
            drawn = _jpeg(rng, drawn)
        pad = rng.integers(-1, 3, 4)
        box = (
            max(0, int(xs.min() - pad[0])),
            max(0, int(ys.min() - pad[1])),
            int(xs.max() + pad[2]),
            int(ys.max() + pad[3]),
        )
        image = clean_line_image(brightness(drawn), box)
        out.append(Line(image, True, "glued" if glued else "synthetic", text))
    return out


def screen_lines(screens: int, seed: int = SCREEN_SEED) -> list[Line]:
    """Every line the detector finds on ``screens`` tuning-family screens; a line holds an
    identifier when its box meets a ``phi`` text's box."""
    from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

    out: list[Line] = []
    for k in range(screens):
        screen = render_screen(TUNING_FAMILIES[k % len(TUNING_FAMILIES)], seed + k)
        level = brightness(screen.frame)
        phi = [t.box for t in screen.texts if t.kind == "phi"]
        for box in find_text(screen.frame).lines:
            meets = any(
                b[0] <= box[2] and box[0] <= b[2] and b[1] <= box[3] and box[1] <= b[3] for b in phi
            )
            out.append(Line(clean_line_image(level, box), meets, "screen"))
    return out


#: Edge punctuation of a word ("CN:", "*RADIAL", "G%").
_EDGE = re.compile(r"^[^A-Z0-9]+|[^A-Z0-9]+$")


def stuck_punctuation(text: str) -> bool:
    """A candidate relaxation of :func:`~cadbusi_assets.ultrasound.glyphs.holds_no_identifier`
    (measured, **not** adopted: it lets identifier lines through): a word with punctuation
    stuck to its ends passes when what is left passes, and the checks on the compacted
    reading hold with that punctuation kept and taken out."""
    words = text.upper().split()
    if not words:
        return False
    cores = []
    for word in words:
        if glyphs._TOKEN.fullmatch(word) or glyphs._SHORT_WORD.fullmatch(word):
            cores.append(word if re.search("[A-Z0-9]", word) else "")
            continue
        core = _EDGE.sub("", word)
        if not core or not (glyphs._TOKEN.fullmatch(core) or glyphs._SHORT_WORD.fullmatch(core)):
            return False
        cores.append(core)
    for compact in ("".join(words), "".join(cores)):
        if glyphs._IDENTIFIER_SHAPE.search(compact) or not all(
            run in glyphs._VOCABULARY for run in glyphs._LETTERS.findall(compact)
        ):
            return False
    return True


def _vocabulary(text: str) -> bool:
    from cadbusi_assets.ultrasound.annotations import looks_misread

    return glyphs.is_screen_vocabulary(text) and not looks_misread(text)


#: The gates measured (reading, line image -> spared or not): the verification's two gates
#: as committed (the vocabulary gate at :data:`~cadbusi_assets.ultrasound.glyphs.MIN_CONFIDENCE`,
#: the no-identifier gate at :data:`~cadbusi_assets.ultrasound.glyphs.NO_IDENTIFIER_CONFIDENCE`),
#: each without :func:`~cadbusi_assets.ultrasound.glyphs.explains_ink` (as before) too, and the
#: stuck-punctuation candidate.
GATES: dict[str, Callable[[str, np.ndarray], bool]] = {
    "no-identifier, text only": lambda text, image: glyphs.holds_no_identifier(text),
    "no-identifier": lambda text, image: (
        glyphs.holds_no_identifier(text) and glyphs.explains_ink(text, image)
    ),
    "stuck punctuation, text only": lambda text, image: stuck_punctuation(text),
    "stuck punctuation": lambda text, image: (
        stuck_punctuation(text) and glyphs.explains_ink(text, image)
    ),
    "vocabulary, text only": lambda text, image: _vocabulary(text),
    "vocabulary": lambda text, image: _vocabulary(text) and glyphs.explains_ink(text, image),
}


def calibrate(lines: list[Line]) -> Iterator[str]:
    """Per gate and confidence: identifier lines that pass (per source) and other lines
    spared."""
    import torch

    torch.set_num_threads(1)
    readings = glyphs.line_reader().read([line.image for line in lines])
    identifiers = [line for line in lines if line.holds_identifier]
    yield (
        f"{len(identifiers)} identifier lines "
        f"({sum(line.source == 'glued' for line in identifiers)} glued to graphics, "
        f"{sum(line.source == 'screen' for line in identifiers)} on screens), "
        f"{len(lines) - len(identifiers)} other screen lines"
    )
    for name, gate in GATES.items():
        for confidence in CONFIDENCES:
            passed = [
                (line, r)
                for line, r in zip(lines, readings, strict=True)
                if r.confidence >= confidence and gate(r.text, line.image)
            ]
            leaks = [(line.source, r.text) for line, r in passed if line.holds_identifier]
            spared = sum(not line.holds_identifier for line, _ in passed)
            by_source = {
                s: sum(src == s for src, _ in leaks) for s in ("synthetic", "glued", "screen")
            }
            yield (
                f"{name:>28} conf>={confidence:.2f}: identifier lines passing {len(leaks)} "
                f"{by_source}, other lines spared {spared}"
            )
            if leaks and confidence in (glyphs.NO_IDENTIFIER_CONFIDENCE, glyphs.MIN_CONFIDENCE):
                yield f"{'':>30}passing (synthetic text, never PHI): {leaks[:10]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.calibrate_identifier_gate")
    parser.add_argument("--lines", type=int, default=2000, help="synthetic identifier lines")
    parser.add_argument("--screens", type=int, default=60, help="tuning-family screens")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    lines = identifier_lines(args.lines) + screen_lines(args.screens)
    for row in calibrate(lines):
        print(row, flush=True)


if __name__ == "__main__":
    main()
