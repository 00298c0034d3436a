"""Proof that a change to :func:`cadbusi_assets.ultrasound.textlines.find_text` keeps its
output bit for bit, and its CPU cost before and after: numbers, never assertions.

``python -m benchmarks.textlines_identity frames OUT.pkl`` writes the frames (every family of
:data:`cadbusi_demo.screens_heldout.FAMILIES`, 20 each; the side-by-side corpus decoded, JPEG
ones included; the same screens with their identifiers blacked out; the demo generator's
screens; the real files of ``test_real_files.py``; grey, 16-bit, one-channel and
four-channel variants). ``run FRAMES.pkl OUT.pkl [--repeats N]`` runs the ``find_text`` on
the import path (run it with ``PYTHONPATH`` at each checkout) and records every output
and the best-of-N CPU time per frame on one thread. ``compare A.pkl B.pkl`` says whether
every output is identical and gives the CPU ms per frame of each, per group.
``time FRAMES.pkl BASE_TEXTLINES.py [--repeats N] [--every K]`` times the two
``textlines.py`` (the one on the import path and the one at the path given, loaded under
another name) interleaved frame by frame in one process: CPU ms per frame, best of N, per
group (every K-th frame).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import dataclasses
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PER_FAMILY = 20


def _frames() -> list[tuple[str, str, np.ndarray]]:
    """(group, name, frame) of every frame compared."""
    import cv2

    from benchmarks.sidebyside import screen_dataset
    from cadbusi_assets.dicom import iter_frames, read_dataset
    from cadbusi_demo.screens_heldout import FAMILIES, HELDOUT_FAMILIES, render_screen

    out: list[tuple[str, str, np.ndarray]] = []
    for family in FAMILIES:
        group = "heldout" if family in HELDOUT_FAMILIES else "tuning"
        for seed in range(PER_FAMILY):
            screen = render_screen(family, seed)
            frame = np.ascontiguousarray(screen.frame)
            out.append((group, f"{family}/{seed}", frame))
            blanked = frame.copy()
            for text in screen.texts:
                if text.kind == "phi":
                    x0, y0, x1, y1 = text.box
                    blanked[y0 : y1 + 1, x0 : x1 + 1] = 0
            out.append(("blanked", f"{family}/{seed}", blanked))
            if seed < 2:
                grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
                out.append(("variants", f"{family}/{seed}/grey", grey))
                out.append(("variants", f"{family}/{seed}/grey1", grey[..., None].copy()))
                out.append(("variants", f"{family}/{seed}/u16", grey.astype(np.uint16) * 16))
                rgba = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])
                out.append(("variants", f"{family}/{seed}/rgba", rgba))
    for i in range(40):
        ds = screen_dataset(i, i % 2 == 1, 10)
        _, frame = next(iter_frames(ds, indices=[0]))
        out.append(("sidebyside", f"sidebyside/{i}", np.ascontiguousarray(frame)))
    import datetime as dt

    from cadbusi_demo import DemoConfig
    from cadbusi_demo.acquisition import plan_acquisitions
    from cadbusi_demo.plan import plan_cohort
    from cadbusi_demo.render import render_view

    config = DemoConfig(
        start=dt.date(2026, 9, 1), days=2, studies_per_day=(1, 2), seed=424242, workers=1
    )
    for s, study in enumerate(plan_acquisitions(plan_cohort(config))[:4]):
        for v, view in enumerate(study.views[:2]):
            rendered = render_view(study, view)
            for f, frame in enumerate(rendered.frames[:2]):
                out.append(("demo", f"demo/{s}/{v}/{f}", np.ascontiguousarray(frame)))
    import zipfile

    import deid_data

    folder = Path(deid_data.__file__).parent / "data" / "ultrasounds"
    for path in sorted(folder.iterdir()):
        datasets: list[tuple[str, Any]] = []
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if not n.endswith("/")][:2]
                for n in names:
                    import io

                    import pydicom

                    try:
                        datasets.append((n, pydicom.dcmread(io.BytesIO(z.read(n)))))
                    except Exception:
                        continue
        else:
            datasets = [(path.name, read_dataset(path))]
        for n, ds in datasets:
            for k, frame in iter_frames(ds, indices=[0, 1]):
                out.append(("real", f"real/{path.name}/{n}/{k}", np.ascontiguousarray(frame)))
    return out


def _run(frames_path: str, out_path: str, repeats: int) -> None:
    import cv2

    from cadbusi_assets.ultrasound import textlines

    cv2.setNumThreads(1)
    with open(frames_path, "rb") as f:
        frames = pickle.load(f)
    results = []
    for group, name, frame in frames:
        found = textlines.find_text(frame)
        best = float("inf")
        for _ in range(repeats):
            t = time.process_time()
            textlines.find_text(frame)
            best = min(best, time.process_time() - t)
        results.append((group, name, dataclasses.asdict(found), best))
    with open(out_path, "wb") as f:
        pickle.dump({"file": textlines.__file__, "results": results}, f)


def load_records(a_path: str, b_path: str) -> tuple[Any, Any]:
    """The two records ``compare`` compares, each module file they ran printed."""
    with open(a_path, "rb") as f:
        a = pickle.load(f)
    with open(b_path, "rb") as f:
        b = pickle.load(f)
    print("A:", a["file"])
    print("B:", b["file"])
    return a, b


def _compare(a_path: str, b_path: str) -> None:
    a, b = load_records(a_path, b_path)
    differ = 0
    times: dict[str, tuple[list[float], list[float]]] = {}
    for (ga, na, fa, ta), (gb, nb, fb, tb) in zip(a["results"], b["results"], strict=True):
        assert (ga, na) == (gb, nb)
        if fa != fb or repr(fa) != repr(fb):  # (repr: the types of the numbers too)
            differ += 1
            print("DIFFERS", ga, na, fa, fb)
        times.setdefault(ga, ([], []))
        times[ga][0].append(ta)
        times[ga][1].append(tb)
    total = len(a["results"])
    print(f"{total} frames, {differ} differ")
    for group, (ta, tb) in times.items():
        print(
            f"{group:10s} n={len(ta):4d}  A {1000 * statistics.mean(ta):6.2f} ms/frame "
            f"(median {1000 * statistics.median(ta):6.2f})  B {1000 * statistics.mean(tb):6.2f} "
            f"(median {1000 * statistics.median(tb):6.2f})"
        )


def _load(path: str, name: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def _time(frames_path: str, base_path: str, repeats: int, every: int) -> None:
    import cv2

    from cadbusi_assets.ultrasound import textlines

    cv2.setNumThreads(1)
    base = _load(base_path, "textlines_base")
    with open(frames_path, "rb") as f:
        frames = pickle.load(f)[::every]
    times: dict[str, tuple[list[float], list[float]]] = {}
    for group, _, frame in frames:
        best = [float("inf"), float("inf")]
        for module in (base, textlines):  # (warm: the reused buffers)
            module.find_text(frame)
        for _ in range(repeats):
            for k, module in enumerate((base, textlines)):
                t = time.process_time()
                module.find_text(frame)
                best[k] = min(best[k], time.process_time() - t)
        times.setdefault(group, ([], []))
        times[group][0].append(best[0])
        times[group][1].append(best[1])
    print(f"CPU ms per frame, one thread, best of {repeats}, interleaved: base | this")
    for group, (ta, tb) in times.items():
        print(
            f"{group:10s} n={len(ta):4d}  mean {1000 * statistics.mean(ta):6.2f} | "
            f"{1000 * statistics.mean(tb):6.2f}   median {1000 * statistics.median(ta):6.2f} | "
            f"{1000 * statistics.median(tb):6.2f}   ratio of sums {sum(tb) / sum(ta):.3f}"
        )


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "frames":
        with open(argv[1], "wb") as f:
            pickle.dump(_frames(), f)
    elif command == "run":
        repeats = int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else 3
        _run(argv[1], argv[2], repeats)
    elif command == "time":
        repeats = int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else 3
        every = int(argv[argv.index("--every") + 1]) if "--every" in argv else 1
        _time(argv[1], argv[2], repeats, every)
    elif command == "compare":
        _compare(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
