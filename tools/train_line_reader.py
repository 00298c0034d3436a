"""Train the line reader of :mod:`cadbusi_assets.ultrasound.glyphs` (CNN + CTC) on CPU/CUDA.

Training lines come only from the generator's *tuning* families
(:data:`cadbusi_demo.screens_heldout.TUNING_FAMILIES`), never from the held-out ones:

1. screens of those families: every line the shared detector finds whose box holds whole
   texts of the screen, labelled with those texts;
2. random strings (the screens' vocabulary, names, IDs, dates, random characters) drawn in
   those families' fonts and in OpenCV's Hershey fonts, over black or over speckle, in the
   screens' text colours.

Each line goes through the reading's own preprocessing
(:func:`cadbusi_assets.ultrasound.ocr.clean_line_image` on the brightness image, then
:func:`cadbusi_assets.ultrasound.glyphs.input_image`). Reproducible: fixed seeds, one thread.

    PYTHONPATH=. python tools/train_line_reader.py

The committed weights are that command's output (2500 steps, batch 32, seed 7, 400 screens,
12000 synthetic lines) with the generator of the commit that added them (5 tuning families):
about 16 minutes on one CPU core of a loaded machine. A changed generator gives other screens,
hence other weights.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from cadbusi_assets.ultrasound import glyphs
from cadbusi_assets.ultrasound.ocr import clean_line_image
from cadbusi_assets.ultrasound.textlines import brightness, find_text

if TYPE_CHECKING:
    import torch

OUT = Path(__file__).resolve().parents[1] / "cadbusi_assets/ultrasound/models" / glyphs.WEIGHTS
#: Screen seeds for training (the benchmark uses 20261202 on; tests use small seeds).
FIRST_SCREEN_SEED = 100_000
COLOURS = ((255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (200, 200, 200))
HERSHEY = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)
_VOCAB = [
    "LT",
    "RT",
    "LEFT",
    "RIGHT",
    "BREAST",
    "BR",
    "R",
    "L",
    "AXILLA",
    "CMFN",
    "CM",
    "FN",
    "O'CLOCK",
    "FROM",
    "NIPPLE",
    "RAD",
    "RADIAL",
    "ARAD",
    "ANTIRAD",
    "TRANS",
    "TRV",
    "SAG",
    "LONG",
    "OBL",
    "SUBAREOLAR",
    "RETROAREOLAR",
    "Gn",
    "DR",
    "MI",
    "TIs",
    "MHz",
    "Hz",
    "D1",
    "D2",
    "cm",
    "L12-5",
    "C5-1",
    "ML6-15",
    "14L5",
    "9L4",
    "HFL50x",
    "eL18-4",
    "DEPTH",
    "FR",
    "dB",
]
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _random_text(rng: np.random.Generator) -> str:
    kind = int(rng.integers(6))
    if kind == 0:  # vocabulary and numbers
        words = []
        for _ in range(int(rng.integers(1, 5))):
            if rng.random() < 0.5:
                words.append(_VOCAB[int(rng.integers(len(_VOCAB)))])
            else:
                n = int(rng.integers(1, 13))
                words.append(
                    (f"{n}:{('00', '30', '15')[int(rng.integers(3))]}", f"{n}CMFN", f"{n}")[
                        int(rng.integers(3))
                    ]
                    if rng.random() < 0.5
                    else f"{rng.uniform(0, 9.99):.{int(rng.integers(1, 3))}f}"
                )
        return " ".join(words)
    if kind == 1:  # a name
        parts = [
            "".join(_LETTERS[int(i)] for i in rng.integers(0, 26, int(rng.integers(3, 10))))
            for _ in range(2)
        ]
        return ("^" if rng.random() < 0.5 else " ").join(parts)
    if kind == 2:  # an ID
        digits = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(5, 10))))
        return (("ID ", "MRN: ", "ACC ", "")[int(rng.integers(4))]) + digits
    if kind == 3:  # a date and time
        d, m, y = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1930, 2027))
        date = (f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}")[
            int(rng.integers(3))
        ]
        return date + (
            f" {int(rng.integers(24)):02d}:{int(rng.integers(60)):02d}"
            if rng.random() < 0.5
            else ""
        )
    chars = glyphs.CHARSET
    text = "".join(chars[int(i)] for i in rng.integers(0, len(chars), int(rng.integers(2, 16))))
    return " ".join(text.split()) or "X"


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    if rng.random() < 0.5:
        return np.full((height, width, 3), int(rng.integers(0, 40)), np.uint8)
    raw = rng.standard_normal((height, width)).astype(np.float32)
    noise = cv2.GaussianBlur(raw, (0, 0), sigmaX=rng.uniform(1.0, 3.0), sigmaY=1.0)
    level = np.clip(np.abs(noise) * rng.uniform(40, 140), 0, 255).astype(np.uint8)
    return np.repeat(level[:, :, None], 3, axis=2)


def _synthetic(rng: np.random.Generator) -> tuple[np.ndarray, str] | None:
    """One random line drawn in a tuning family's font or a Hershey font."""
    from PIL import Image, ImageDraw

    from cadbusi_demo.screens_heldout import FAMILIES, TUNING_FAMILIES, load_font

    text = _random_text(rng)
    colour = COLOURS[int(rng.integers(len(COLOURS)))]
    image = _background(rng, 80, 900)
    if rng.random() < 0.6:
        faces = sorted({f for name in TUNING_FAMILIES for f in FAMILIES[name].faces})
        font = load_font(faces[int(rng.integers(len(faces)))], int(rng.integers(10, 26)))
        pil = Image.fromarray(image)
        draw = ImageDraw.Draw(pil)
        draw.text((10, 20), text, font=font, fill=colour)
        drawn = np.asarray(pil)
    else:
        font_face = HERSHEY[int(rng.integers(len(HERSHEY)))]
        scale = rng.uniform(0.35, 0.8)
        thickness = 1 if rng.random() < 0.7 else 2
        drawn = image.copy()
        cv2.putText(drawn, text, (10, 50), font_face, scale, colour, thickness, cv2.LINE_AA)
    ink = np.abs(drawn.astype(np.int16) - image.astype(np.int16)).max(axis=2) > 60
    ys, xs = np.nonzero(ink)
    if ys.size == 0 or xs.max() >= 890 or ys.max() - ys.min() < 6:
        return None
    level = brightness(drawn)
    box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    return clean_line_image(level, box), text


def _screen_lines(seed: int, family: str) -> list[tuple[np.ndarray, str]]:
    """Lines the detector finds on a tuning-family screen that hold whole texts."""
    from cadbusi_demo.screens_heldout import render_screen

    screen = render_screen(family, seed)
    level = brightness(screen.frame)
    out = []
    for box in find_text(screen.frame).lines:
        x0, y0, x1, y1 = box
        inside, cut = [], False
        for t in screen.texts:
            tx0, ty0, tx1, ty1 = t.box
            if tx1 < x0 or tx0 > x1 or ty1 < y0 or ty0 > y1:
                continue
            if tx0 >= x0 - 3 and tx1 <= x1 + 3 and ty0 >= y0 - 4 and ty1 <= y1 + 4:
                inside.append(t)
            else:
                cut = True
        if inside and not cut and all(t.kind != "scale" for t in inside):
            text = " ".join(t.text for t in sorted(inside, key=lambda t: t.box[0]))
            out.append((clean_line_image(level, box), text))
    return out


def make_data(screens: int, synthetic: int, seed: int) -> list[tuple[np.ndarray, list[int]]]:
    from cadbusi_demo.screens_heldout import TUNING_FAMILIES

    rng = np.random.default_rng(seed)
    data: list[tuple[np.ndarray, list[int]]] = []
    for k in range(FIRST_SCREEN_SEED, FIRST_SCREEN_SEED + screens):
        for image, text in _screen_lines(k, TUNING_FAMILIES[k % len(TUNING_FAMILIES)]):
            data.append((glyphs.input_image(image), glyphs.encode(text)))
    from_screens = len(data)
    while len(data) < from_screens + synthetic:
        made = _synthetic(rng)
        if made is not None:
            data.append((glyphs.input_image(made[0]), glyphs.encode(made[1])))
    print(f"{from_screens} screen lines, {len(data) - from_screens} synthetic", flush=True)
    return [(x, y) for x, y in data if y and len(y) <= x.shape[1] // glyphs.STRIDE]


def _augment(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    if rng.random() < 0.3:  # thinner or bolder strokes
        k = np.ones((2, 2), np.uint8)
        x = cv2.erode(x, k) if rng.random() < 0.5 else cv2.dilate(x, k)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (3, 3), rng.uniform(0.3, 0.9))
    if rng.random() < 0.3:  # horizontal stretch
        w = max(glyphs.STRIDE * 2, int(x.shape[1] * rng.uniform(0.8, 1.2)))
        x = cv2.resize(x, (w, glyphs.INPUT_HEIGHT), interpolation=cv2.INTER_LINEAR)
    return x


def train(steps: int, batch_size: int, seed: int, screens: int, synthetic: int) -> None:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    start = time.time()
    data = make_data(screens, synthetic, seed)
    print(f"{len(data)} lines in {time.time() - start:.0f} s", flush=True)
    rng = np.random.default_rng(seed + 1)
    model = glyphs.build_model()
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    model.train()
    for step in range(steps):
        picks = rng.integers(0, len(data), batch_size)
        images = [_augment(rng, data[int(i)][0]) for i in picks]
        labels = [data[int(i)][1] for i in picks]
        inputs, widths = glyphs.batch(images)
        out = model(torch.from_numpy(inputs))
        frames = torch.tensor([max(1, -(-w // glyphs.STRIDE)) for w in widths])
        targets = torch.tensor([c for label in labels for c in label])
        lengths = torch.tensor([len(label) for label in labels])
        loss = ctc(out, targets, frames, lengths)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        schedule.step()
        if step % 200 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.3f} {time.time() - start:.0f} s", flush=True)
        if step % 500 == 499 or step == steps - 1:
            _save(model)
    print(f"saved {OUT} ({OUT.stat().st_size} bytes)")


def _save(model: torch.nn.Module) -> None:
    import torch

    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, OUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--screens", type=int, default=400)
    parser.add_argument("--synthetic", type=int, default=12000)
    args = parser.parse_args()
    train(args.steps, args.batch, args.seed, args.screens, args.synthetic)


if __name__ == "__main__":
    main()
