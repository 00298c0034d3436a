"""Train the turned-line gate of the unseen-text search
(:mod:`cadbusi_assets.deid.line_gate`) on the CPU.

1. Harvest: on the generator's tuning families only (seed ``s`` renders family
   ``TUNING_FAMILIES[s % 5]``; training seeds 100-339, threshold seeds 340-439), the frame
   cleaned as the benchmark cleans it (``phi`` boxes blacked out) and three more copies with
   1-3 texts planted turned a quarter (either way; a fifth of them at a further -8..8
   degrees): random letters, digits, dates; PIL's default font 5-30 px or a Hershey font
   4-30 px high (1-2 px strokes, anti-aliased or not), a quarter of them letter spaced (a
   fifth to a half of the ink's height between letters: without them the gate skipped
   identifiers spaced by two thirds of the letters' size, ``tools/attack_line_gate.py
   --spacing``); at levels 110-255, pasted brightest or
   blended into the speckle; caliper crosses 2-8 px beside a third of them. On each copy the
   search's turned lines outside the screen's own text boxes (``find_text`` on the
   quarter-turned brightness, joined as the search joins them) are cut as the search reads
   them (``turned_line_image``). A line is a positive when it holds planted ink (>= 10 px) and
   tesseract, reading it both ways as the search does, reads at least 4 characters in a row
   of a planted text (all of a shorter one).
2. Train :class:`~cadbusi_assets.deid.line_gate.LineGate`: batches of 16 positives and 16
   negatives, each turned 180 degrees at random and its contrast jittered; binary cross
   entropy; Adam 2e-3, cosine schedule, 1500 steps; one thread, fixed seeds.
3. Print the scores' spread on both seed ranges; write the weights (float16).

    PYTHONPATH=. nice python tools/train_turned_line_gate.py --out /tmp/turned_line_gate.pt

About 5 minutes on a loaded 2-core machine (rendering and tesseract included).
"""

from __future__ import annotations

import argparse
import re
import string
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

import cadbusi_assets  # noqa: F401  (before torch: tesseract on one OpenMP thread)

_HERSHEY = (
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
    cv2.FONT_HERSHEY_TRIPLEX,
)
_CHARS = string.ascii_uppercase + string.digits + string.ascii_lowercase + "/-.:^ "
TRAIN_SEEDS = (100, 340)
CHECK_SEEDS = (340, 440)
STEPS = 1500
#: The share of planted texts drawn letter spaced.
SPACED_SHARE = 0.25


def _random_text(rng: np.random.Generator) -> str:
    n = int(rng.integers(3, 17))
    kind = rng.integers(4)
    if kind == 0:
        return "".join(rng.choice(list(string.digits), n))
    if kind == 1:  # a date
        return f"{rng.integers(1, 13):02d}/{rng.integers(1, 29):02d}/{rng.integers(1930, 2025)}"
    return "".join(rng.choice(list(_CHARS), n)).strip() or "AB1"


def _ink(text: str, rng: np.random.Generator) -> np.ndarray:
    """White-on-black ink of ``text`` (uint8), glyphs 3-30 px high; a quarter of them letter
    spaced (each letter drawn alone, a fifth to a half of the ink's height apart)."""
    draw = _drawer(rng)
    if rng.random() >= SPACED_SHARE or not text.strip():
        return draw(text)
    letters = [draw(c) if c.strip() else None for c in text]
    height = max(i.shape[0] for i in letters if i is not None)
    gap = max(1, round(float(rng.uniform(0.2, 0.5)) * height))
    parts = []
    for ink in letters:
        if ink is None:
            parts.append(np.zeros((height, 2 * gap), np.uint8))
            continue
        pad = np.zeros((height, ink.shape[1] + gap), np.uint8)
        pad[height - ink.shape[0] :, : ink.shape[1]] = ink
        parts.append(pad)
    return np.concatenate(parts, axis=1)


def _drawer(rng: np.random.Generator) -> Callable[[str], np.ndarray]:
    """A way to draw text in one run: PIL's default font 5-30 px or a Hershey font 4-30 px
    high (1-2 px strokes, anti-aliased or not)."""
    if rng.random() < 0.5:
        pil_font = ImageFont.load_default(size=int(rng.integers(5, 31)))

        def pil(text: str) -> np.ndarray:
            _left, _top, right, bottom = pil_font.getbbox(text)
            image = Image.new("L", (int(right) + 6, int(bottom) + 6), 0)
            ImageDraw.Draw(image).text((3, 3), text, fill=255, font=pil_font)
            return np.asarray(image).copy()

        return pil
    font = int(rng.choice(_HERSHEY))
    px = float(rng.uniform(4, 30))
    scale = cv2.getFontScaleFromHeight(font, int(px), 1)
    thick = 1 if rng.random() < 0.7 or px < 10 else 2
    line = cv2.LINE_AA if rng.random() < 0.7 else cv2.LINE_8

    def hershey(text: str) -> np.ndarray:
        (w, h), base = cv2.getTextSize(text, font, scale, thick)
        ink = np.zeros((h + base + 8, w + 8), np.uint8)
        cv2.putText(ink, text, (4, h + 4), font, scale, 255, thick, line)
        return ink

    return hershey


def rotated(ink: np.ndarray, angle: float) -> np.ndarray:
    """``ink`` turned a further ``angle`` degrees (canvas grown to hold it)."""
    h, w = ink.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    nw = int(h * abs(m[0, 1]) + w * abs(m[0, 0])) + 2
    nh = int(h * abs(m[0, 0]) + w * abs(m[0, 1])) + 2
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(ink, m, (nw, nh), flags=cv2.INTER_LINEAR)


def _turned(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``ink`` turned a quarter either way (a fifth of the time a little more)."""
    ink = np.ascontiguousarray(np.rot90(ink, 1 if rng.random() < 0.5 else 3))
    if rng.random() < 0.2:
        ink = rotated(ink, float(rng.uniform(-8, 8)))
    return ink


def planted(
    level: np.ndarray, fov: np.ndarray, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``level`` with ``n`` turned texts planted in the field of view: the frame, their ink
    mask, their strings."""
    out = level.copy()
    mask = np.zeros(level.shape, np.uint8)
    texts: list[str] = []
    ys, xs = np.nonzero(fov) if fov.any() else np.nonzero(np.ones_like(fov))
    for _ in range(n):
        text = _random_text(rng)
        texts.append(text)
        ink = _turned(_ink(text, rng), rng)
        h, w = ink.shape
        if h >= level.shape[0] - 2 or w >= level.shape[1] - 2:
            continue
        k = int(rng.integers(len(ys)))
        top = int(np.clip(ys[k] - h // 2, 0, level.shape[0] - h))
        left = int(np.clip(xs[k] - w // 2, 0, level.shape[1] - w))
        bright = float(rng.choice([255, 255, 230, 200, 170, 140, 110]))
        scaled = (ink.astype(np.float32) * bright / 255).astype(np.uint8)
        region = out[top : top + h, left : left + w]
        if rng.random() < 0.7:
            region[:] = np.maximum(region, scaled)
        else:  # blended (dim text in speckle)
            a = ink.astype(np.float32) / 255
            region[:] = (region * (1 - a) + bright * a).astype(np.uint8)
        if rng.random() < 0.3:  # caliper marks beside it
            for _m in range(int(rng.integers(1, 3))):
                gap = int(rng.integers(2, 8))
                cx = left - gap - 4 if rng.random() < 0.5 else left + w + gap + 4
                cy = top + h // 2 + int(rng.integers(-3, 4))
                size = int(rng.integers(7, 14))
                cv2.drawMarker(out, (cx, cy), 255, int(rng.choice([0, 1])), size, 1)
        mask[top : top + h, left : left + w] |= (ink > 60).astype(np.uint8)
    return out, mask, texts


def turned_lines(level: np.ndarray, seen: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """The unseen search's turned lines of ``level`` outside ``seen``: (frame box, the crop
    tesseract reads)."""
    from cadbusi_assets.deid.ocr import (
        SEEN_SHARE,
        _joined,
        _quarter_turn,
        _share_in,
        _view_box_in_frame,
        turned_line_image,
    )
    from cadbusi_assets.ultrasound.textlines import find_text

    view = _quarter_turn(level)
    out = []
    for box in _joined(find_text(view).lines):
        in_frame = _view_box_in_frame(box, 1, level.shape)
        if _share_in(in_frame, seen) < SEEN_SHARE:
            out.append((in_frame, turned_line_image(view, box)))
    return out


def _plain(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _run(wanted: str, read: str) -> int:
    """The longest run of ``wanted``'s characters found in ``read``."""
    best = 0
    for i in range(len(wanted)):
        for j in range(i + best + 1, len(wanted) + 1):
            if wanted[i:j] in read:
                best = j - i
            else:
                break
    return best


def harvest(seeds: tuple[int, int], copies: int = 4) -> tuple[list[np.ndarray], np.ndarray]:
    """Turned line crops of the tuning frames of ``seeds`` and their labels (1: text)."""
    from cadbusi_assets.ultrasound.ocr import engine
    from cadbusi_assets.ultrasound.textlines import brightness
    from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

    rng = np.random.default_rng(seeds[0] + 7)
    reader = engine()
    images: list[np.ndarray] = []
    labels: list[int] = []
    for seed in range(*seeds):
        screen = render_screen(TUNING_FAMILIES[seed % 5], seed)
        frame = screen.phi_blacked_out()
        seen = np.zeros(frame.shape[:2], bool)
        for t in screen.texts:
            if t.kind != "phi":
                x0, y0, x1, y1 = t.box
                seen[y0 : y1 + 1, x0 : x1 + 1] = True
        level = brightness(frame)
        for copy in range(copies):
            texts: list[str] = []
            if copy == 0:
                view, mask = level, np.zeros(level.shape, np.uint8)
            else:
                view, mask, texts = planted(level, screen.fov_mask, rng, int(rng.integers(1, 4)))
            wanted = [w for w in (_plain(t) for t in texts) if w]
            for (x0, y0, x1, y1), image in turned_lines(view, seen):
                label = 0
                if int(mask[y0 : y1 + 1, x0 : x1 + 1].sum()) >= 10 and wanted:
                    read = _plain(reader.read_line(image)) + " "
                    read += _plain(reader.read_line(cv2.rotate(image, cv2.ROTATE_180)))
                    need = min(4, min(len(w) for w in wanted))
                    label = int(max(_run(w, read) for w in wanted) >= need)
                images.append(image)
                labels.append(label)
    return images, np.array(labels, np.float32)


def scores(net: Any, images: list[np.ndarray]) -> np.ndarray:
    import torch

    from cadbusi_assets.deid.line_gate import batch, prepare

    out = []
    with torch.inference_mode():
        for k in range(0, len(images), 64):
            x, valid = batch([prepare(i) for i in images[k : k + 64]])
            out.append(net(x, valid).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def train(images: list[np.ndarray], labels: np.ndarray, steps: int = STEPS) -> Any:
    import torch
    import torch.nn.functional as F

    from cadbusi_assets.deid.line_gate import batch, new_gate, prepare

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    xs = [prepare(i) for i in images]
    net = new_gate()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    target = torch.from_numpy(labels)
    for step in range(steps):
        idx = np.concatenate([rng.choice(pos, 16), rng.choice(neg, 16)])
        items = []
        for k in idx:
            item = xs[k]
            if rng.random() < 0.5:
                item = item[::-1, ::-1]
            if rng.random() < 0.5:
                item = np.clip(item * rng.uniform(0.6, 1.2) + rng.uniform(-0.1, 0.1), 0, 1)
            items.append(np.ascontiguousarray(item, np.float32))
        x, valid = batch(items)
        loss = F.binary_cross_entropy_with_logits(net(x, valid), target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    return net.eval()


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    start = time.time()
    images, labels = harvest(TRAIN_SEEDS)
    check_images, check_labels = harvest(CHECK_SEEDS)
    print(
        f"lines: train {len(images)} ({int(labels.sum())} text), "
        f"check {len(check_images)} ({int(check_labels.sum())} text), {time.time() - start:.0f}s",
        flush=True,
    )
    net = train(images, labels, args.steps)
    for name, imgs, labs in (
        ("train", images, labels),
        ("check", check_images, check_labels),
    ):
        s = scores(net, imgs)
        print(f"{name}: lowest text score {s[labs == 1].min():.2f}")
        for t in (-6.0, -5.0, -4.0, -3.0):
            print(f"  at {t}: speckle lines still read {(s[labs == 0] > t).mean():.3f}")
    torch.save({k: v.half() for k, v in net.state_dict().items()}, args.out)
    print("saved", args.out, f"{time.time() - start:.0f}s")


if __name__ == "__main__":
    main()
