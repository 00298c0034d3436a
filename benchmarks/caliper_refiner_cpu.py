"""The caliper refiner's CPU time per frame, weights files compared in one process.

``python -m benchmarks.caliper_refiner_cpu W1 [W2 ...] --seed S --frames N`` records the
calls :func:`~cadbusi_assets.ultrasound.calipers.detect_calipers` makes to
:meth:`~cadbusi_assets.ultrasound.caliper_net.CaliperNet.refine` (its crop, points and
which of them the placing refiner is asked about) on
``N`` frames of each tuning family (the committed weights' heat map; the refiner's inputs
depend on the heat map only), then times each weights file's refiner on those same calls:
CPU ms per frame (``time.process_time``, one thread, best of :data:`REPEATS` per call,
summed over a frame's calls), mean and median over the frames, and the patches a frame.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

REPEATS = 7


def main(argv: list[str] | None = None) -> int:
    import torch

    from benchmarks.caliper_misses import _prepared
    from cadbusi_assets.ultrasound import caliper_net as cn
    from cadbusi_assets.ultrasound import calipers as cal
    from cadbusi_assets.ultrasound.fov import find_field_of_view
    from cadbusi_demo import screens_heldout as gen

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.caliper_refiner_cpu", description=__doc__
    )
    parser.add_argument("weights", type=Path, nargs="+")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--frames", type=int, default=10, help="frames per family")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    net = cn.caliper_net()
    Call = tuple[np.ndarray, list[tuple[int, int]], list[bool] | None, float]
    calls: list[list[Call]] = []
    original = net.refine

    def recording(
        crop: np.ndarray,
        points: list[tuple[int, int]],
        place: Sequence[bool] | None = None,
        place_above: float = 0.0,
    ) -> list[cn.NetPoint]:
        chosen = None if place is None else list(place)
        calls[-1].append((crop.copy(), list(points), chosen, place_above))
        return original(crop, points, place, place_above)

    net.refine = recording  # type: ignore[method-assign]
    for family in gen.TUNING_FAMILIES:
        for s in range(args.seed, args.seed + args.frames):
            screen = gen.render_screen(family, s)
            work, grey, maps = _prepared(screen.frame)
            box = find_field_of_view(grey, []).box
            if box is not None:
                calls.append([])
                cal.detect_calipers(work, box, grey=grey, maps=maps)
    net.refine = original  # type: ignore[method-assign]
    points = [sum(len(call[1]) for call in frame) for frame in calls]
    print(f"{len(calls)} frames, {np.mean(points):.1f} refined points a frame (mean)")
    for path in args.weights:
        other = cn.CaliperNet(torch.load(path, map_location="cpu", weights_only=True))
        per_frame = []
        for frame in calls:
            total = 0.0
            for crop, pts, place, place_above in frame:
                best = float("inf")
                for _ in range(REPEATS):
                    start = time.process_time()
                    other.refine(crop, pts, place, place_above)
                    best = min(best, time.process_time() - start)
                total += best
            per_frame.append(1000 * total)
        print(
            f"{path}: refiner version {other.refiner_version}, "
            f"CPU ms/frame mean {np.mean(per_frame):.3f} median {np.median(per_frame):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
