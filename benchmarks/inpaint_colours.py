"""Inpainting quality on generator frames with the calipers drawn in given colours.

``python -m benchmarks.inpaint_colours GROUP --seed S --frames N [--caliper-colours C]``
renders ``N`` frames of each family of ``GROUP`` (``tuning`` or ``heldout``) from seed ``S``,
with the calipers in the colours ``C`` (as :mod:`benchmarks.caliper_misses` has them:
``unseen`` is magenta, orange, red and light blue; none for the families' own), and prints,
per caliper colour and for JPEG and lossless frames apart, the PSNR figures of
:func:`benchmarks.screens.evaluate_screen` (grey levels, inpainted frame against the
generator's clean frame): over the crop (``crop``), inside the true caliper mask with the
found points (``mask``) and with the generator's own points (``@true``: the mask and the
fill alone), median and worst; and ``left``: the share of the true caliper mask's pixels
that the inpainting mask of the true points leaves out (``caliper_mask`` of the true points:
the marks' pixels never touched).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.caliper_misses import parse_colours
from benchmarks.screens import evaluate_screen, true_caliper_mask


def _fmt(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{float(np.median(values)):5.1f} / {min(values):5.1f}"


def run(
    group: str, seed: int, frames: int, colours: tuple[tuple[int, int, int], ...] | None
) -> dict[str, Any]:
    import cv2

    from cadbusi_assets.ultrasound.inpaint import caliper_mask
    from cadbusi_demo import screens_heldout as gen

    cv2.setNumThreads(1)
    families = gen.TUNING_FAMILIES if group == "tuning" else gen.HELDOUT_FAMILIES
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for family in families:
        for s in range(seed, seed + frames):
            screen = gen.render_screen(family, s, caliper_colours=colours)
            if not screen.calipers:
                continue
            record = evaluate_screen(screen)
            truth = true_caliper_mask(screen)
            mask = caliper_mask(screen.frame, [tuple(p) for p in screen.calipers])
            record["left"] = float(np.count_nonzero(truth & ~mask)) / max(
                1, int(np.count_nonzero(truth))
            )
            kind = "jpeg" if screen.jpeg_quality is not None else "lossless"
            colour = str(tuple(screen.caliper_colour)) if screen.caliper_colour else "?"
            for key in ("all", f"{kind}", f"colour {colour}", f"colour {colour} {kind}"):
                rows[key].append(record)
    out: dict[str, Any] = {}
    print(
        f"{group} seeds {seed}-{seed + frames - 1}, colours {colours or 'own'}: "
        "PSNR dB median / worst"
    )
    for key in sorted(rows):
        rs = rows[key]
        crop = [r["psnr_crop"] for r in rs if r["psnr_crop"] is not None]
        inside = [r["psnr_mask"] for r in rs if r["psnr_mask"] is not None]
        at_true = [r["psnr_mask_true_points"] for r in rs if r["psnr_mask_true_points"] is not None]
        left = [r["left"] for r in rs]
        out[key] = {"crop": crop, "mask": inside, "true": at_true, "left": left}
        print(
            f"  {key:<34} frames {len(rs):3d} crop {_fmt(crop)}  mask {_fmt(inside)}  "
            f"@true {_fmt(at_true)}  left {float(np.mean(left)):.3f} (max {max(left):.3f})"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.inpaint_colours", description=__doc__
    )
    parser.add_argument("group", choices=("tuning", "heldout"))
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--frames", type=int, default=10, help="frames per family")
    parser.add_argument("--caliper-colours", type=parse_colours, default=None)
    args = parser.parse_args(argv)
    run(args.group, args.seed, args.frames, args.caliper_colours)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
