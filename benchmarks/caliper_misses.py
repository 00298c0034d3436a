"""Caliper figures alone on generator frames, and why each true mark was missed.

``python -m benchmarks.caliper_misses GROUP --seed S --frames N [--weights W]`` runs
:func:`~cadbusi_assets.ultrasound.calipers.detect_calipers` (the frame prepared and its field of
view found as :func:`~cadbusi_assets.ultrasound.analysis.analyze_frame` does, without the
rest of the analysis or the inpainting: about a minute for 10 frames of the 14 held-out
families) on ``N`` frames of each family of ``GROUP`` (``tuning`` or ``heldout``) and prints
precision, recall and point error (matched as :mod:`benchmarks.screens` matches: within
:data:`~benchmarks.screens.POINT_TOLERANCE` px, greedy nearest first) per family and per
style element, the matched points' error (median, 95th and 99th percentiles, max, the share
within 2 px), the true marks whose nearest found point is more than 2 px off (with the style
of the mark that found them: ``*`` is the learned finder's), the found points matched to no true point (with
their style: a ``false mark`` has no true point within the tolerance, a ``second mark`` has
one that another found point took; both count against precision), and the misses by cause:

* ``no heat``: no heat-map point at least 0.05 probable within 6 px;
* ``heat < P``: the nearest such point below :data:`~.calipers.NET_MIN_PROB`;
* ``refiner < P``: the refiner's verdict on it below P, :data:`~.calipers.NET_REFINE_PROB` of
  its refiner version;
* ``refined off``: the refined point more than 5 px from the mark;
* ``blocked``: none of those (a rule mark within :data:`~.calipers.NET_CLEAR` px, or off
  the field of view).

``--weights`` measures another weights file of :mod:`~cadbusi_assets.ultrasound.caliper_net`
(for example one ``tools/train_caliper_net.py --out`` wrote) instead of the committed one.
``--caliper-colours`` draws the calipers in other colours (``unseen``: :data:`UNSEEN_COLOURS`,
none of which the families draw; every other pixel is the default frame's).
Per-miss lines are printed for the tuning group only (``-v`` for the held-out one: those are
for measuring, never for tuning). CPU ms per frame: ``detect_calipers`` alone, one thread.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.screens import POINT_TOLERANCE, error_summary, match_points, matched_pairs

#: Caliper colours none of the generator's families draws (``--caliper-colours unseen``):
#: the three that start at full red are dim in luminance (red 76, magenta 105).
UNSEEN_COLOURS: dict[str, tuple[int, int, int]] = {
    "magenta": (255, 0, 255),
    "orange": (255, 165, 0),
    "red": (255, 0, 0),
    "lightblue": (100, 180, 255),
}


def _prepared(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    from cadbusi_assets.ultrasound.overlay import ColourMaps, to_grey

    grey = to_grey(frame)
    maps = ColourMaps.of(frame) if frame.ndim == 3 else None
    if maps is None or cv2.countNonZero(maps.chroma) == 0:  # as analyze_frame does
        return grey, grey, None
    return frame, grey, maps


def _cause(net: Any, crop: np.ndarray, x: int, y: int) -> str:
    from cadbusi_assets.ultrasound import calipers as cal

    if not (0 <= x < crop.shape[1] and 0 <= y < crop.shape[0]):
        return "outside crop"
    near = [p for p in net.find([crop], 0.05)[0] if math.hypot(p.x - x, p.y - y) <= 6]
    if not near:
        return "no heat"
    best = max(near, key=lambda p: p.prob)
    if best.prob < cal.NET_MIN_PROB:
        return f"heat < {cal.NET_MIN_PROB}"
    verdict = net.refine(crop, [(best.x, best.y)])[0]
    if verdict.prob < cal.NET_REFINE_PROB[net.refiner_version]:
        return f"refiner < {cal.NET_REFINE_PROB[net.refiner_version]}"
    if math.hypot(verdict.x - x, verdict.y - y) > POINT_TOLERANCE:
        return "refined off"
    return "blocked"


def parse_colours(text: str) -> tuple[tuple[int, int, int], ...]:
    """``"255,0,255;255,128,0"`` -> ``((255, 0, 255), (255, 128, 0))`` (named colours of
    :data:`UNSEEN_COLOURS` too: ``"unseen"`` is all of them)."""
    if text == "unseen":
        return tuple(UNSEEN_COLOURS.values())
    out = []
    for part in text.split(";"):
        part = part.strip()
        if part in UNSEEN_COLOURS:
            out.append(UNSEEN_COLOURS[part])
            continue
        values = tuple(int(v) for v in part.split(","))
        if len(values) != 3 or not all(0 <= v <= 255 for v in values):
            raise argparse.ArgumentTypeError(f"not an RGB colour: {part!r}")
        out.append((values[0], values[1], values[2]))
    return tuple(out)


def run(
    group: str,
    seed: int,
    frames: int,
    weights: Path | None,
    verbose: bool,
    caliper_colours: tuple[tuple[int, int, int], ...] | None = None,
) -> None:
    import torch

    from cadbusi_assets.ultrasound import caliper_net as cn
    from cadbusi_assets.ultrasound import calipers as cal
    from cadbusi_assets.ultrasound.fov import find_field_of_view
    from cadbusi_demo import screens_heldout as gen

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    net = cn.caliper_net()
    if weights is not None:
        net = cn.CaliperNet(torch.load(weights, map_location="cpu", weights_only=True))
        cn.caliper_net = lambda: net  # type: ignore[assignment]
    families: Sequence[str] = gen.TUNING_FAMILIES if group == "tuning" else gen.HELDOUT_FAMILIES
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # true, found, matched
    errors: list[float] = []
    cpu: list[float] = []
    off: list[str] = []
    false: list[str] = []
    causes: Counter[str] = Counter()
    lines: list[str] = []
    for family in families:
        for s in range(seed, seed + frames):
            screen = gen.render_screen(family, s, caliper_colours=caliper_colours)
            work, grey, maps = _prepared(screen.frame)
            box = find_field_of_view(grey, []).box
            if box is None:
                found, styles = [], []
            else:
                start = time.process_time()
                d = cal.detect_calipers(work, box, grey=grey, maps=maps)
                cpu.append(time.process_time() - start)
                found, styles = d.points, d.styles
            truth = [tuple(p) for p in screen.calipers]
            matched = match_points(found, truth)
            errors += matched
            style = " ".join(
                [
                    screen.caliper_style,
                    *(f for f in ("dual", "doppler", "elastography", "zoom") if getattr(screen, f)),
                    *(["jpeg"] if screen.jpeg_quality is not None else []),
                    "colour" + ",".join(str(c) for c in screen.caliper_colour or ()),
                ]
            )
            for key in (family, *(f"style {t}" for t in style.split(" "))):
                counts[key][0] += len(truth)
                counts[key][1] += len(found)
                counts[key][2] += len(matched)
            taken = {i for i, _, _ in matched_pairs(found, truth)}
            for i, ((fx, fy), st) in enumerate(zip(found, styles, strict=True)):
                if i in taken:
                    continue
                if all(math.hypot(fx - tx, fy - ty) > POINT_TOLERANCE for tx, ty in truth):
                    false.append(f"{family}/{s} {style} ({fx}, {fy}): false mark {st}")
                else:  # a true point near, matched to another found point
                    false.append(f"{family}/{s} {style} ({fx}, {fy}): second mark {st}")
            for tx, ty in truth:
                near = sorted(
                    (math.hypot(fx - tx, fy - ty), st)
                    for (fx, fy), st in zip(found, styles, strict=True)
                )
                if near and near[0][0] <= POINT_TOLERANCE:
                    if near[0][0] > 2.0:
                        off.append(
                            f"{family}/{s} {style} ({tx}, {ty}) {near[0][0]:.2f} px {near[0][1]}"
                        )
                    continue
                cause = "no field of view"
                if box is not None:
                    margin = cal.ARM + 3
                    x0, y0 = max(0, box[0] - margin), max(0, box[1] - margin)
                    height, width = screen.frame.shape[:2]
                    x1, y1 = min(width - 1, box[2] + margin), min(height - 1, box[3] + margin)
                    crop = work[y0 : y1 + 1, x0 : x1 + 1]
                    cause = _cause(net, crop, tx - x0, ty - y0)
                causes[cause] += 1
                lines.append(f"{family}/{s} {style} ({tx}, {ty}): {cause}")
    true = sum(counts[f][0] for f in families)
    found_n = sum(counts[f][1] for f in families)
    matched_n = sum(counts[f][2] for f in families)
    print(
        f"{group} seeds {seed}-{seed + frames - 1}: true {true} found {found_n} "
        f"precision {matched_n / max(1, found_n):.4f} recall {matched_n / max(1, true):.4f} "
        f"error max {max(errors, default=0.0):.2f} px; detect_calipers "
        f"{1000 * float(np.mean(cpu)) if cpu else 0.0:.1f} CPU ms/frame (mean, one thread)"
    )
    for key, (t, f, m) in sorted(counts.items()):
        print(f"  {key:<28} true {t:4d} precision {m / max(1, f):.3f} recall {m / max(1, t):.3f}")
    summary = error_summary(errors)
    print(
        f"point error of the {summary['count']} matched points: median {summary['median']:.2f}, "
        f"95th percentile {summary['p95']:.2f}, 99th {summary['p99']:.2f}, "
        f"max {summary['max']:.2f} px; within 2 px {summary['within_share']:.4f}"
    )
    print(f"true marks whose nearest found point is more than 2 px off: {len(off)}")
    print(f"misses by cause: {dict(causes)}")
    print(f"found points matched to no true point (false or second marks): {len(false)}")
    if verbose or group == "tuning":
        for line in off + lines + false:
            print("  " + line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.caliper_misses", description=__doc__
    )
    parser.add_argument("group", choices=("tuning", "heldout"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=10, help="frames per family")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument(
        "--caliper-colours",
        type=parse_colours,
        default=None,
        help="draw the calipers in these colours instead of the families' own "
        "('R,G,B;R,G,B', names of UNSEEN_COLOURS, or 'unseen': all of them)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    run(args.group, args.seed, args.frames, args.weights, args.verbose, args.caliper_colours)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
