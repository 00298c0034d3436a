"""Bit-identity of :func:`~cadbusi_assets.ultrasound.calipers.detect_calipers` between two checkouts.

``python -m benchmarks.caliper_identity --base DIR [--seeds N] [--cache FILE]`` renders ``N``
frames of every family of :data:`cadbusi_demo.screens_heldout.FAMILIES` and of the demo
family (default and, but for the demo family, ``caliper_style="hollow"``) and takes the first frame of every real file of
``cadbusi_assets_tests/ultrasound/test_real_files.py`` that is installed; then runs
``detect_calipers`` (as ``analyze_frame`` calls it; on the first frames of each family also
with the field-of-view mask and without the learned heat map) and ``hollow_marks`` in a
subprocess with ``PYTHONPATH`` at ``DIR`` (the base commit's worktree) and in one at this
checkout, and compares every output exactly (points, scores, styles). ``--time`` also prints
the CPU ms/frame of ``detect_calipers`` of both on the default-style frames of the first
:data:`TIME_FRAMES` seeds (one thread, tuning and held-out frames apart, best of 3 repeats in
each of ``--rounds`` subprocess pairs run interleaved, base then new). Exit status 1 when any output differs.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FOV_FRAMES = 5  # seeds per family also run with the fov mask, without the heat map
TIME_FRAMES = 4  # seeds per family timed (default style)


def render(seeds: int, cache: Path) -> None:
    from cadbusi_demo import screens_heldout as gen

    cases: list[dict[str, Any]] = []
    for family in [*gen.FAMILIES, gen.DEMO_FAMILY]:
        group = (
            "tuning"
            if family in gen.TUNING_FAMILIES
            else "heldout"
            if family in gen.HELDOUT_FAMILIES
            else "demo"
        )
        # (the demo family draws its own calipers: no hollow style)
        for style in (None,) if family == gen.DEMO_FAMILY else (None, gen.HOLLOW):
            for seed in range(seeds):
                screen = (
                    gen.render_screen(family, seed)
                    if style is None
                    else gen.render_screen(family, seed, caliper_style=style)
                )
                cases.append(
                    {
                        "name": f"{family}/{style or 'default'}/{seed}",
                        "group": group,
                        "frame": screen.frame,
                        "regions": [],
                        "fov": seed < FOV_FRAMES,
                    }
                )
    sys.path.insert(0, str(Path.cwd()))
    from benchmarks.real_files import real_file_frames

    for key, frame, regions in real_file_frames():
        cases.append(
            {"name": key, "group": "real", "frame": frame, "regions": regions, "fov": True}
        )
    cache.write_bytes(pickle.dumps(cases))


def outputs(cache: Path, out: Path) -> None:
    """Run in the subprocess: every output of every case."""
    import cv2
    import torch

    from cadbusi_assets.ultrasound import calipers as cal
    from cadbusi_assets.ultrasound.fov import find_field_of_view
    from cadbusi_assets.ultrasound.overlay import ColourMaps, to_grey

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    cases = pickle.loads(cache.read_bytes())
    results: dict[str, Any] = {"where": cal.__file__}
    for i, case in enumerate(cases):
        frame = case["frame"]
        cases[i] = {}  # frames not timed are dropped as they are done
        grey = to_grey(frame)
        maps = ColourMaps.of(frame) if frame.ndim == 3 else None
        if maps is None or cv2.countNonZero(maps.chroma) == 0:
            work, maps = grey, None
        else:
            work = frame
        fov = find_field_of_view(grey, case["regions"])
        if fov.box is None:
            continue
        d = cal.detect_calipers(work, fov.box, grey=grey, maps=maps)
        got: list[Any] = [(d.points, d.scores, d.styles)]
        if case["fov"]:
            mask = fov.mask(*grey.shape[:2])
            d = cal.detect_calipers(work, fov.box, mask, grey=grey, maps=maps, learned=False)
            got.append((d.points, d.scores, d.styles))
            x0, y0, x1, y1 = fov.box
            level = (grey if maps is None else maps.high)[y0 : y1 + 1, x0 : x1 + 1]
            got.append([(m.x, m.y, m.style, m.score, m.box) for m in cal.hollow_marks(level)])
        results[case["name"]] = got
    out.write_bytes(pickle.dumps(results))


def timed(cache: Path, out: Path) -> None:
    """Run in the subprocess: CPU ms/frame of ``detect_calipers`` on the cases of ``cache``
    (as ``analyze_frame`` calls it), per group, the best of 3 repeats, one thread."""
    import cv2
    import torch

    from cadbusi_assets.ultrasound import calipers as cal
    from cadbusi_assets.ultrasound.fov import find_field_of_view
    from cadbusi_assets.ultrasound.overlay import ColourMaps, to_grey

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    prepared = []
    for case in pickle.loads(cache.read_bytes()):
        frame = case["frame"]
        grey = to_grey(frame)
        maps = ColourMaps.of(frame) if frame.ndim == 3 else None
        work = frame
        if maps is None or cv2.countNonZero(maps.chroma) == 0:
            work, maps = grey, None
        box = find_field_of_view(grey, case["regions"]).box
        if box is not None:
            prepared.append((case["group"], work, grey, maps, box))
    times: dict[str, float] = {}
    for group in ("tuning", "heldout"):
        chosen = [p for p in prepared if p[0] == group]
        cal.detect_calipers(chosen[0][1], chosen[0][4], grey=chosen[0][2], maps=chosen[0][3])
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for _, work, grey, maps, box in chosen:
                cal.detect_calipers(work, box, grey=grey, maps=maps)
            best = min(best, (time.process_time() - start) / len(chosen))
        times[group] = best * 1000
        times[group + "_frames"] = len(chosen)
    out.write_bytes(pickle.dumps(times))


def run_in(root: Path, what: str, cache: Path, out: Path) -> Any:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    script = Path(__file__).resolve()
    env["PYTHONPATH"] = f"{root}{os.pathsep}{script.parent.parent}"
    # the base checkout may lack this file: import it from here, the package from root
    code = (
        "import sys, importlib.util; from pathlib import Path;"
        f"spec = importlib.util.spec_from_file_location('ci', {str(script)!r});"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
        f"m.{what}(Path({str(cache)!r}), Path({str(out)!r}))"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=root, check=True)
    return pickle.loads(out.read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/caliper_identity_cases.pkl"))
    parser.add_argument("--time", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.cache.exists():
        render(args.seeds, args.cache)
    here = Path(__file__).resolve().parent.parent
    base_root = args.base.resolve()
    base = run_in(base_root, "outputs", args.cache, args.cache.with_suffix(".base.pkl"))
    new = run_in(here, "outputs", args.cache, args.cache.with_suffix(".new.pkl"))
    print("base:", base.pop("where"), " new:", new.pop("where"))
    if args.time:
        # the timed frames: the default-style ones of the first TIME_FRAMES seeds per family
        few = args.cache.with_suffix(".time.pkl")
        if not few.exists():
            few.write_bytes(
                pickle.dumps(
                    [
                        c
                        for c in pickle.loads(args.cache.read_bytes())
                        if c["group"] in ("tuning", "heldout")
                        and "/default/" in c["name"]
                        and int(c["name"].rsplit("/", 1)[1]) < TIME_FRAMES
                    ]
                )
            )
        best: dict[str, dict[str, float]] = {"base": {}, "new": {}}
        for _ in range(args.rounds):  # interleaved: base, new, base, new, ...
            for name, root in (("base", base_root), ("new", here)):
                got = run_in(root, "timed", few, few.with_suffix(f".{name}.pkl"))
                for key, value in got.items():
                    best[name][key] = min(best[name].get(key, float("inf")), value)
        for group in ("tuning", "heldout"):
            print(
                f"detect_calipers CPU ms/frame {group} ({best['base'][group + '_frames']:.0f} "
                f"frames, one thread, best of 3 x {args.rounds} interleaved): "
                f"base {best['base'][group]:.2f} new {best['new'][group]:.2f}"
            )
    differ = [k for k in base if base[k] != new.get(k)] + [k for k in new if k not in base]
    points = sum(len(v[0][0]) for v in base.values())
    print(f"{len(base)} cases, {points} points (analysis call); {len(differ)} differ")
    for k in differ[:20]:
        print("  DIFFERS", k, base.get(k), new.get(k))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
