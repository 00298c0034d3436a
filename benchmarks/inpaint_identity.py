"""The inpainting masks and fill of this tree against those of another tree (a base commit),
bit for bit, and their CPU time, on the same frames.

    git worktree add --detach /tmp/base <commit>
    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.inpaint_identity --base /tmp/base

Frames: ``--frames`` seeds of every family of :data:`cadbusi_demo.screens_heldout.FAMILIES`,
the same of the tuning and held-out families drawn with hollow calipers, and the first frame
of every real file of ``real_files_expected.json`` that is available offline. Points: the
generator's own caliper points and those :func:`.analysis.analyze_frame` finds (both sets,
each its own case). Each tree computes, in its own subprocess, :func:`.inpaint.caliper_masks`
(fill, recolour, box) and :func:`.inpaint.inpaint_frames` frame by frame and in batches of 8;
every array is compared by
dtype, shape and SHA-256 of its bytes. Timing (``--repeats``): CPU ms/frame of the masks and of the
fill (the masks given), one thread, best of the repeats, the two trees interleaved.
Exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 8


def prepare(frames: int) -> list[dict[str, Any]]:
    """The cases: name, group (tuning / heldout / other / hollow / real), frame, points."""
    from benchmarks.real_files import real_file_frames
    from cadbusi_assets.ultrasound.analysis import analyze_frame
    from cadbusi_demo import screens_heldout as gen

    def group_of(family: str) -> str:
        if family in gen.TUNING_FAMILIES:
            return "tuning"
        return "heldout" if family in gen.HELDOUT_FAMILIES else "other"

    cases: list[dict[str, Any]] = []

    def add(name: str, group: str, frame: np.ndarray, truth: list[Any] | None) -> None:
        found = [
            tuple(int(v) for v in p) for p in analyze_frame(frame, [], ocr=False).calipers.points
        ]
        cases.append({"name": f"{name}/found", "group": group, "frame": frame, "points": found})
        if truth is not None:
            points = [tuple(int(v) for v in p) for p in truth]
            cases.append(
                {"name": f"{name}/true", "group": group + "-true", "frame": frame, "points": points}
            )

    for family in gen.FAMILIES:
        for seed in range(frames):
            screen = gen.render_screen(family, seed)
            add(f"{family}:{seed}", group_of(family), screen.frame, screen.calipers)
    for family in (*gen.TUNING_FAMILIES, *gen.HELDOUT_FAMILIES):
        for seed in range(max(1, frames // 4)):
            screen = gen.render_screen(family, seed, caliper_style="hollow")
            add(f"{family}:{seed}:hollow", "hollow", screen.frame, screen.calipers)
    for key, frame, _ in real_file_frames():
        add(key, "real", np.ascontiguousarray(frame), None)
    return cases


def _digest(array: np.ndarray) -> str:
    """dtype, shape and SHA-256 of the bytes: equal digests, equal arrays (kept instead of
    the arrays, which for every case would not fit in memory)."""
    data = np.ascontiguousarray(array)
    return f"{data.dtype}{data.shape}" + hashlib.sha256(data.tobytes()).hexdigest()


def compute(cases: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    """Masks and inpainted frames of every case with the tree on ``sys.path``, and timings."""
    import cv2
    import torch

    from cadbusi_assets.ultrasound import inpaint

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    results = []
    for case in cases:
        masks = inpaint.caliper_masks(case["frame"], case["points"])
        ((out, union),) = inpaint.inpaint_frames([case["frame"]], [case["points"]])
        results.append(
            {
                "fill": _digest(masks.fill),
                "recolour": _digest(masks.recolour),
                "box": masks.box,
                "out": _digest(out),
                "union": _digest(union),
            }
        )
    batched = []
    for first in range(0, len(cases), BATCH):
        chunk = cases[first : first + BATCH]
        done = inpaint.inpaint_frames([c["frame"] for c in chunk], [c["points"] for c in chunk])
        batched += [(_digest(o), _digest(u)) for o, u in done]
    timing: dict[str, dict[str, float]] = {}
    for group in ("tuning", "heldout"):
        chosen = [c for c in cases if c["group"] == group]
        if not chosen or repeats == 0:
            continue
        best_masks = best_fill = float("inf")
        given = [inpaint.caliper_masks(c["frame"], c["points"]) for c in chosen]
        for _ in range(repeats):
            began = time.process_time()
            for c in chosen:
                inpaint.caliper_masks(c["frame"], c["points"])
            best_masks = min(best_masks, time.process_time() - began)
            began = time.process_time()
            for c, m in zip(chosen, given, strict=True):
                inpaint.inpaint_frames([c["frame"]], [c["points"]], masks=[m])
            best_fill = min(best_fill, time.process_time() - began)
        timing[group] = {
            "masks_ms": 1000 * best_masks / len(chosen),
            "fill_ms": 1000 * best_fill / len(chosen),
            "frames": len(chosen),
        }
    return {"results": results, "batched": batched, "timing": timing}


def _run_tree(tree: Path, cases_file: Path, out_file: Path, repeats: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--compute",
            str(cases_file),
            str(out_file),
            "--repeats",
            str(repeats),
        ],
        cwd=tree,
        env=env,
        check=True,
    )
    with out_file.open("rb") as f:
        loaded: dict[str, Any] = pickle.load(f)
    return loaded


def differences(cases: list[dict[str, Any]], a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    diffs = []
    for case, ra, rb in zip(cases, a["results"], b["results"], strict=True):
        for key in ("fill", "recolour", "out", "union"):
            if ra[key] != rb[key]:
                diffs.append(f"{case['name']}: {key}")
        if ra["box"] != rb["box"]:
            diffs.append(f"{case['name']}: box {ra['box']} != {rb['box']}")
    for case, alone, together in zip(cases, a["batched"], b["batched"], strict=True):
        if alone != together:
            diffs.append(f"{case['name']}: batched")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="the other tree (a worktree at the base commit)")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timing rounds")
    parser.add_argument("--compute", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compute:
        with args.compute[0].open("rb") as f:
            cases = pickle.load(f)
        with args.compute[1].open("wb") as f:
            pickle.dump(compute(cases, args.repeats), f)
        return 0
    if args.base is None:
        parser.error("--base is required")
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as folder:
        cases_file = Path(folder) / "cases.pkl"
        cases = prepare(args.frames)
        with cases_file.open("wb") as f:
            pickle.dump(cases, f)
        groups: dict[str, int] = {}
        for c in cases:
            groups[c["group"]] = groups.get(c["group"], 0) + 1
        print(f"{len(cases)} cases: {groups}")
        timings: dict[str, list[dict[str, Any]]] = {"base": [], "new": []}
        runs: dict[str, dict[str, Any]] = {}
        for _ in range(max(1, args.rounds)):
            for label, tree in (("base", args.base.resolve()), ("new", here)):
                runs[label] = _run_tree(
                    tree, cases_file, Path(folder) / f"{label}.pkl", args.repeats
                )
                timings[label].append(runs[label]["timing"])
        diffs = differences(cases, runs["base"], runs["new"])
    for group in ("tuning", "heldout"):
        for part in ("masks_ms", "fill_ms"):
            base = min(t[group][part] for t in timings["base"] if group in t)
            new = min(t[group][part] for t in timings["new"] if group in t)
            print(
                f"{group:<8} {part:<9} base {base:7.2f}  new {new:7.2f}  CPU ms/frame, one thread"
            )
    if diffs:
        print(f"{len(diffs)} DIFFERENCES, first: {diffs[:10]}")
        return 1
    print(
        f"identical: masks, boxes, inpainted frames (alone and batched) of all {len(cases)} cases"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
