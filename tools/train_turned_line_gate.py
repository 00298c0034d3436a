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
   of a planted text (all of a shorter one). With ``--script-copies N``, N more copies of
   each frame hold 1-3 Greek, Cyrillic or Hebrew texts (name-like, DejaVu fonts 8-30 px,
   planted the same ways, from their own random stream: the Latin copies are unchanged);
   tesseract (English) cannot read these, so a line on one is a positive when at least
   :data:`SCRIPT_SHARE` of its box lies in the planted ink's box, and a line with less of
   it is left out.
2. Train :class:`~cadbusi_assets.deid.line_gate.LineGate`: batches of 16 positives and 16
   negatives, each turned 180 degrees at random and its contrast jittered; binary cross
   entropy; Adam 2e-3, cosine schedule, 1500 steps; one thread, fixed seeds.
3. Print the scores' spread on both seed ranges; write the weights (float16).

    PYTHONPATH=. nice python tools/train_turned_line_gate.py --out /tmp/turned_line_gate.pt

About 5 minutes on a loaded 2-core machine (rendering and tesseract included).

``--script-copies`` is off: the packaged gate is trained without it. With 2 (17 minutes on a
heavily loaded machine) the gate scored text-free turned lines higher (on the check seeds
0.19 -> 0.57 of them above the reading's threshold -5, 45 -> 60 above 0) and, tried as the
unreadable-name check's gate only, it flagged 2 clean tuning frames at that check's
threshold 0 (wide speckle lines 0.54-0.71) while catching no turned Hebrew name more
(Greek and Cyrillic 3 more of 324 placements, ``tools/attack_line_gate.py --scripts
--reps 3``); fine-tuned from the packaged gate, with or without the highest-scored
negatives weighted, no better.
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
#: ``--script-copies``: letters of the scripts tesseract (English) cannot read, drawn in
#: DejaVu fonts that have them (``fc-list :lang=he``: the Sans faces only for Hebrew).
SCRIPT_LETTERS = {
    "greek": "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρστυφχψω",
    "cyrillic": "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщыьэюя",
    "hebrew": "אבגדהוזחטיכךלמםנןסעפףצץקרשת",
}
DEJAVU = "/usr/share/fonts/truetype/dejavu/"
SCRIPT_FONTS = {
    "hebrew": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansCondensed.ttf"),
    "other": (
        "DejaVuSans.ttf",
        "DejaVuSans-Bold.ttf",
        "DejaVuSansCondensed.ttf",
        "DejaVuSerif.ttf",
        "DejaVuSansMono.ttf",
    ),
}
#: A turned line on a planted Greek, Cyrillic or Hebrew text (which tesseract cannot read
#: to label it) is a positive when at least this share of its box lies in the text's ink
#: box; a line with planted ink (>= 10 px) and a smaller share is left out of the training.
SCRIPT_SHARE = 0.6


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


def _latin(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A random Latin text and its turned ink."""
    text = _random_text(rng)
    return text, _turned(_ink(text, rng), rng)


def _script_text(rng: np.random.Generator) -> tuple[str, str]:
    """A random name-like text in Greek, Cyrillic or Hebrew (3-14 letters, a space between
    two parts now and then) and the script's key in :data:`SCRIPT_LETTERS`."""
    script = str(rng.choice(sorted(SCRIPT_LETTERS)))
    letters = list(SCRIPT_LETTERS[script])
    if script != "hebrew" and rng.random() < 0.7:  # names are mostly upper case
        letters = [c for c in letters if c.isupper()]
    n = int(rng.integers(3, 15))
    text = "".join(rng.choice(letters, n))
    if n >= 7 and rng.random() < 0.3:
        cut = int(rng.integers(3, n - 3))
        text = text[:cut] + " " + text[cut:]
    return text, script


def _script(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A random Greek, Cyrillic or Hebrew text (:func:`_script_text`) and its turned ink: a
    DejaVu font that has the script's glyphs (:data:`SCRIPT_FONTS`), 8-30 px."""
    text, script = _script_text(rng)
    fonts = SCRIPT_FONTS["hebrew" if script == "hebrew" else "other"]
    font = ImageFont.truetype(DEJAVU + str(rng.choice(fonts)), int(rng.integers(8, 31)))
    _left, _top, right, bottom = font.getbbox(text)
    image = Image.new("L", (int(right) + 8, int(bottom) + 8), 0)
    ImageDraw.Draw(image).text((4, 4), text, fill=255, font=font)
    return text, _turned(np.asarray(image).copy(), rng)


def planted(
    level: np.ndarray,
    fov: np.ndarray,
    rng: np.random.Generator,
    n: int,
    make: Callable[[np.random.Generator], tuple[str, np.ndarray]] = _latin,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``level`` with ``n`` turned texts (``make``: a text and its turned ink) planted in
    the field of view: the frame, their ink mask, their strings."""
    out = level.copy()
    mask = np.zeros(level.shape, np.uint8)
    texts: list[str] = []
    ys, xs = np.nonzero(fov) if fov.any() else np.nonzero(np.ones_like(fov))
    for _ in range(n):
        text, ink = make(rng)
        texts.append(text)
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


def harvest(
    seeds: tuple[int, int], copies: int = 4, script_copies: int = 0
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Turned line crops of the tuning frames of ``seeds``, their labels (1: text) and
    whether each holds a planted Greek, Cyrillic or Hebrew text (``script_copies`` more
    copies of each frame with 1-3 of them, drawn from their own random stream: the Latin
    copies are the same with or without them)."""
    from cadbusi_assets.ultrasound.ocr import engine
    from cadbusi_assets.ultrasound.textlines import brightness
    from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

    rng = np.random.default_rng(seeds[0] + 7)
    script_rng = np.random.default_rng(seeds[0] + 11)
    reader = engine()
    images: list[np.ndarray] = []
    labels: list[int] = []
    scripts: list[bool] = []
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
                scripts.append(False)
        for _copy in range(script_copies):
            n = int(script_rng.integers(1, 4))
            view, mask, _texts = planted(level, screen.fov_mask, script_rng, n, _script)
            for (x0, y0, x1, y1), image in turned_lines(view, seen):
                inside = mask[y0 : y1 + 1, x0 : x1 + 1]
                if int(inside.sum()) < 10:
                    label = 0
                elif _box_share(inside) >= SCRIPT_SHARE:
                    label = 1
                else:
                    continue  # part text, part speckle: neither
                images.append(image)
                labels.append(label)
                scripts.append(bool(label))
    return images, np.array(labels, np.float32), np.array(scripts, bool)


def _box_share(inside: np.ndarray) -> float:
    """The share of a line's box (``inside``: the planted ink mask cut to it) that lies in
    the planted ink's own box (rows and columns from its first to last ink pixel)."""
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    area = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
    return float(area) / inside.size


def scores(net: Any, images: list[np.ndarray]) -> np.ndarray:
    import torch

    from cadbusi_assets.deid.line_gate import batch, prepare

    out = []
    with torch.inference_mode():
        for k in range(0, len(images), 64):
            x, valid = batch([prepare(i) for i in images[k : k + 64]])
            out.append(net(x, valid).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def train(
    images: list[np.ndarray],
    labels: np.ndarray,
    steps: int = STEPS,
    init: dict[str, Any] | None = None,
    lr: float = 2e-3,
) -> Any:
    """The gate trained on ``images`` (``labels``: 1 text), from ``init`` (a state dict)
    when given, else from random weights."""
    import torch
    import torch.nn.functional as F

    from cadbusi_assets.deid.line_gate import batch, new_gate, prepare

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    xs = [prepare(i) for i in images]
    net = new_gate()
    if init is not None:
        net.load_state_dict({k: v.float() for k, v in init.items()})
    opt = torch.optim.Adam(net.parameters(), lr=lr)
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
    parser.add_argument(
        "--script-copies",
        type=int,
        default=0,
        help="more copies of each frame with Greek, Cyrillic or Hebrew text planted turned",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    start = time.time()
    images, labels, scripts = harvest(TRAIN_SEEDS, script_copies=args.script_copies)
    check_images, check_labels, check_scripts = harvest(
        CHECK_SEEDS, script_copies=args.script_copies
    )
    print(
        f"lines: train {len(images)} ({int(labels.sum())} text, {int(scripts.sum())} of it "
        f"in other scripts), check {len(check_images)} ({int(check_labels.sum())} text, "
        f"{int(check_scripts.sum())}), {time.time() - start:.0f}s",
        flush=True,
    )
    net = train(images, labels, args.steps)
    for name, imgs, labs, other in (
        ("train", images, labels, scripts),
        ("check", check_images, check_labels, check_scripts),
    ):
        s = scores(net, imgs)
        latin = (labs == 1) & ~other
        print(f"{name}: lowest text score {s[latin].min():.2f}")
        for t in (-6.0, -5.0, -4.0, -3.0):
            print(f"  at {t}: speckle lines still read {(s[labs == 0] > t).mean():.3f}")
        speckle = np.sort(s[labs == 0])
        print(f"  speckle: highest {speckle[-5:].round(2).tolist()}, above 0 {(speckle > 0).sum()}")
        if other.any():
            q = np.percentile(s[other], [0, 5, 10, 25, 50]).round(2).tolist()
            print(
                f"  other scripts: percentiles 0/5/10/25/50 {q}, above 0 {(s[other] > 0).mean():.3f}"
            )
    torch.save({k: v.half() for k, v in net.state_dict().items()}, args.out)
    print("saved", args.out, f"{time.time() - start:.0f}s")


if __name__ == "__main__":
    main()
