"""How sure the learned line reader must be of an annotation line before its reading is kept
alone (:data:`cadbusi_assets.ultrasound.ocr.ANNOTATION_SURE`): numbers, never assertions.

``python -m benchmarks.annotation_sure [--group tuning|demo|heldout] [--frames N]``: on
``N`` frames of each family of the group (seeds from
:data:`~benchmarks.textlines.TEXT_SEED`, the frames as rendered), for each threshold of
:data:`THRESHOLDS` (``never``: every annotation line the reader reads as the screen's own
words is read by tesseract too, as before 2026-12-05), ``analyze_frame(frame, [], ocr=True)``
reads the annotation and the benchmark prints

* the annotation fields read right (laterality, clock, distance, orientation, body area, as
  :mod:`benchmarks.textlines` scores them) out of those the frame holds, and
* the share of the annotation lines whose second reading by tesseract the threshold spares
  (tesseract reads made inside :func:`~cadbusi_assets.ultrasound.ocr.annotation_text`,
  against ``never``'s).

Choose on ``tuning`` and ``demo``; ``heldout`` is for measuring the choice, never for making
it. Each threshold reads every frame again (tesseract's line cache answers repeated lines:
the counts are of reads asked for, not of reads made).
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.textlines import FIELDS, TEXT_SEED, expected_fields

#: The thresholds compared (``math.inf``: never kept alone).
THRESHOLDS = (math.inf, 0.99, 0.95, 0.9, 0.8, 0.7, 0.5)


@dataclass
class Outcome:
    """One threshold's figures over a group of frames."""

    threshold: float
    fields_expected: int = 0
    fields_right: int = 0
    second_readings: int = 0  # tesseract reads asked for inside annotation_text

    def spared(self, never: Outcome) -> float | None:
        """The share of ``never``'s second readings this threshold spares."""
        if not never.second_readings:
            return None
        return 1.0 - self.second_readings / never.second_readings


@contextlib.contextmanager
def _counted(threshold: float, outcome: Outcome) -> Iterator[None]:
    """For the block: ``ANNOTATION_SURE`` at ``threshold``, and the tesseract reads made
    inside ``annotation_text`` counted into ``outcome``."""
    from cadbusi_assets.ultrasound import ocr

    saved = ocr.ANNOTATION_SURE, ocr.annotation_text, ocr.read_line
    inside = [False]

    def annotation_text(*args: Any, **kwargs: Any) -> tuple[str, str]:
        inside[0] = True
        try:
            return saved[1](*args, **kwargs)
        finally:
            inside[0] = False

    def read_line(*args: Any, **kwargs: Any) -> str:
        if inside[0]:
            outcome.second_readings += 1
        return saved[2](*args, **kwargs)

    ocr.ANNOTATION_SURE = threshold
    ocr.annotation_text = annotation_text
    ocr.read_line = read_line
    try:
        yield
    finally:
        ocr.ANNOTATION_SURE, ocr.annotation_text, ocr.read_line = saved


def measure(
    frames: Sequence[tuple[Any, str]], thresholds: Sequence[float] = THRESHOLDS
) -> list[Outcome]:
    """Per threshold, the fields read right on ``frames`` (pairs of a frame and the
    annotation text drawn on it) and the second readings asked for."""
    from cadbusi_assets.ultrasound.analysis import analyze_frame

    out = []
    for threshold in thresholds:
        outcome = Outcome(threshold)
        with _counted(threshold, outcome):
            for frame, annotation in frames:
                want = expected_fields(annotation)
                row = analyze_frame(frame, [], ocr=True).as_row()
                got = {**row, "laterality": row.get("ocr_laterality")}
                for name in FIELDS:
                    if want[name] is not None:
                        outcome.fields_expected += 1
                        outcome.fields_right += got.get(name) == want[name]
        out.append(outcome)
    return out


def format_report(outcomes: Sequence[Outcome]) -> str:
    never = next((o for o in outcomes if math.isinf(o.threshold)), outcomes[0])
    lines = ["kept alone from   fields right   second readings   spared"]
    for o in outcomes:
        spared = o.spared(never)
        lines.append(
            f"{'never' if math.isinf(o.threshold) else o.threshold:<17}"
            f"{o.fields_right:>5} / {o.fields_expected:<6}"
            f"{o.second_readings:>15}   "
            f"{'-' if spared is None else f'{spared:.0%}'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - manual entry point
    import cadbusi_assets  # noqa: F401  (its OMP_THREAD_LIMIT before tesseract loads)
    from cadbusi_demo import screens_heldout as gen

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.annotation_sure", description=__doc__
    )
    parser.add_argument("--group", choices=("tuning", "demo", "heldout"), default="tuning")
    parser.add_argument("--frames", type=int, default=30, help="frames per family")
    args = parser.parse_args(argv)
    families = {
        "tuning": gen.TUNING_FAMILIES,
        "demo": (gen.DEMO_FAMILY,),
        "heldout": gen.HELDOUT_FAMILIES,
    }[args.group]
    screens = [
        gen.render_screen(family, TEXT_SEED + k) for family in families for k in range(args.frames)
    ]
    outcomes = measure([(s.frame, s.annotation_text) for s in screens])
    print(f"{args.group}: {len(screens)} frames")
    print(format_report(outcomes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
