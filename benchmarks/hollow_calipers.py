"""Hollow '+' calipers: detection on hollow-style generator frames, none on default ones.

``python -m benchmarks.hollow_calipers GROUP --seed S --frames N`` renders ``N`` frames of
each family of ``GROUP`` (``tuning`` or ``heldout``; held-out figures are for measuring only)
twice: with ``caliper_style="hollow"`` (:class:`~cadbusi_demo.screens_heldout.HollowStyle`)
and as the family draws them. On the hollow ones it prints the precision and recall of
:func:`~cadbusi_assets.ultrasound.calipers.detect_calipers` (the frame prepared and its field
of view found as :mod:`benchmarks.caliper_misses` does; matched as :mod:`benchmarks.screens`
matches), overall and per variant (``filled``, ``outline``) and JPEG; on the default ones the
number of marks :func:`~cadbusi_assets.ultrasound.calipers.hollow_marks` finds in the field
of view (none is hollow: every one is false), and its CPU ms per frame (one thread).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import cv2
import numpy as np

from benchmarks.caliper_misses import _prepared
from benchmarks.screens import match_points


def run(group: str, seed: int, frames: int) -> None:
    import torch

    from cadbusi_assets.ultrasound import calipers as cal
    from cadbusi_assets.ultrasound.fov import find_field_of_view
    from cadbusi_demo import screens_heldout as gen

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    families = gen.TUNING_FAMILIES if group == "tuning" else gen.HELDOUT_FAMILIES
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # true, found, matched
    false_hollow = 0
    cpu: list[float] = []
    for family in families:
        for s in range(seed, seed + frames):
            screen = gen.render_screen(family, s, caliper_style=gen.HOLLOW)
            work, grey, maps = _prepared(screen.frame)
            box = find_field_of_view(grey, []).box
            found = (
                [] if box is None else cal.detect_calipers(work, box, grey=grey, maps=maps).points
            )
            truth = [tuple(p) for p in screen.calipers]
            matched = len(match_points(found, truth))
            variant = screen.caliper_style.split()[1]
            for key in ("all", variant, "jpeg" if screen.jpeg_quality is not None else "no jpeg"):
                counts[key][0] += len(truth)
                counts[key][1] += len(found)
                counts[key][2] += matched
            plain = gen.render_screen(family, s).frame
            _, grey, maps = _prepared(plain)
            box = find_field_of_view(grey, []).box
            if box is None:
                continue
            x0, y0, x1, y1 = box
            level = (grey if maps is None else maps.high)[y0 : y1 + 1, x0 : x1 + 1]
            start = time.process_time()
            false_hollow += len(cal.hollow_marks(level))
            cpu.append(time.process_time() - start)
    print(f"{group} seeds {seed}-{seed + frames - 1}, hollow-style frames:")
    for key, (t, f, m) in sorted(counts.items()):
        print(
            f"  {key:<8} true {t:4d} found {f:4d} precision {m / max(1, f):.4f} recall {m / max(1, t):.4f}"
        )
    print(
        f"default frames: {len(cpu)}, hollow marks found {false_hollow}; hollow_marks "
        f"{1000 * float(np.mean(cpu)) if cpu else 0.0:.2f} CPU ms/frame (mean, one thread)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hollow_calipers", description=__doc__
    )
    parser.add_argument("group", choices=("tuning", "heldout"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=10, help="frames per family")
    args = parser.parse_args(argv)
    run(args.group, args.seed, args.frames)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
