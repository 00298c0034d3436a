"""Lesion-matching accuracy on the domain-randomized screen generator
(:mod:`cadbusi_assets.demo.screens_heldout`), per layout family.

For synthetic breast exams (several report lesions per breast: side, clock, distance from the
nipple, size), every lesion is shown on frames of the exam's scanner family: the annotation
carries its side, clock and distance in the family's random phrasing, font, colour and place;
the calipers span its size at the frame's pixel spacing (one axis, or two crossing axes; some
frames have none). Each frame then goes through what the pipeline does: identifying text
blacked out (as pixel cleaning leaves it), :func:`~cadbusi_assets.ultrasound.analyze_frame`
(OCR of the annotation, caliper detection, the study's side for one-sided studies),
:func:`~cadbusi_assets.stages.lesions.evidence_of_images` (caliper size in cm with the pixel
spacing, caliper box) and :func:`~cadbusi_assets.records.lesions.lesion_table` (the matcher).
Each frame's link is then ``correct`` (the lesion it shows), ``wrong`` (another lesion) or
``unlinked``.

Figures per family and for the tuning / held-out groups: ``accuracy`` over every frame (each
frame shows its lesion's location: the information exists) and ``accuracy_read`` over the
frames whose OCR'd side, clock and distance equal what the annotation says (the information
was read). Nothing here tunes anything; the frames use seeds of their own
(:data:`EVAL_SEED`).

Run: ``python -m cadbusi_assets_tests.records.lesion_heldout_eval --exams 8``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from cadbusi_assets.demo.screens_heldout import (
    FAMILIES,
    HELDOUT_FAMILIES,
    TUNING_FAMILIES,
    LesionMarks,
    Screen,
    render_screen,
)
from cadbusi_assets.records.lesions import LESIONS_SCHEMA_EXTRA, lesion_table
from cadbusi_assets.stages.lesions import evidence_of_images
from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets.ultrasound.annotations import parse_annotation

#: Seed of the evaluation's exams and frames (the text benchmark and tuning use others).
EVAL_SEED = 20261203


@dataclass(frozen=True)
class TrueLesion:
    lesion_id: str
    accession: str
    index: int
    side: str
    clock: str
    distance_cm: float
    size_cm: float


@dataclass(frozen=True)
class Exam:
    number: int
    accession: str
    family: str
    study_laterality: str  # LEFT | RIGHT | BILATERAL
    lesions: tuple[TrueLesion, ...]


def _hours(clock: str) -> float:
    hour, _, minute = clock.partition(":")
    return int(hour) % 12 + int(minute) / 60


def _distinct(a: tuple[str, float], b: tuple[str, float]) -> bool:
    """Two lesions of one breast a reader could tell apart from the location alone."""
    gap = abs(_hours(a[0]) - _hours(b[0]))
    return min(gap, 12 - gap) >= 1.0 or abs(a[1] - b[1]) >= 1.5


def synthetic_exams(family: str, n: int, seed: int = EVAL_SEED) -> list[Exam]:
    """``n`` exams of ``family``: one or both breasts, 2-3 lesions per breast at locations a
    reader can tell apart (clock 1 h or distance 1.5 cm apart), sizes 0.4-2.5 cm."""
    rng = np.random.default_rng([seed, sorted(FAMILIES).index(family), 1])
    exams = []
    for e in range(n):
        accession = f"{family}-E{e:03d}"
        sides = ["LEFT", "RIGHT"] if rng.random() < 0.5 else [("LEFT", "RIGHT")[e % 2]]
        lesions: list[TrueLesion] = []
        for side in sides:
            placed: list[tuple[str, float]] = []
            wanted = int(rng.integers(2, 4))
            while len(placed) < wanted:
                clock = f"{int(rng.integers(1, 13))}:{('00', '00', '30')[int(rng.integers(3))]}"
                distance = float(rng.integers(1, 9)) + (0.5 if rng.random() < 0.25 else 0.0)
                if all(_distinct((clock, distance), p) for p in placed):
                    placed.append((clock, distance))
            for clock, distance in placed:
                index = len(lesions) + 1
                lesions.append(
                    TrueLesion(
                        f"{accession}-L{index}",
                        accession,
                        index,
                        side,
                        clock,
                        distance,
                        round(float(rng.uniform(0.4, 2.5)), 1),
                    )
                )
        laterality = sides[0] if len(sides) == 1 else "BILATERAL"
        exams.append(Exam(e, accession, family, laterality, tuple(lesions)))
    return exams


@dataclass
class View:
    """One rendered frame of a lesion and what the pipeline made of it."""

    image_id: str
    lesion: TrueLesion
    family: str
    with_calipers: bool
    expected: dict[str, Any]  # side, clock, distance the annotation says
    read: dict[str, Any] = field(default_factory=dict)  # what OCR read
    features: dict[str, Any] = field(default_factory=dict)
    spacing_cm: float | None = None


def _cleaned(screen: Screen) -> np.ndarray:
    """The frame with its identifying text blacked out, as pixel cleaning leaves it."""
    frame = screen.frame.copy()
    for t in screen.texts:
        if t.kind == "phi":
            x0, y0, x1, y1 = t.box
            frame[max(0, y0 - 2) : y1 + 3, max(0, x0 - 2) : x1 + 3] = 0
    return frame


def render_views(
    exam: Exam, views_per_lesion: int, seed: int, caliper_share: float = 0.7
) -> list[tuple[View, np.ndarray]]:
    """Frames of every lesion of ``exam`` (rendered, PHI blacked out) with their truth."""
    rng = np.random.default_rng([seed, sorted(FAMILIES).index(exam.family), 2, exam.number])
    out = []
    for lesion in exam.lesions:
        for v in range(views_per_lesion):
            frame_seed = int(rng.integers(2**31))
            with_calipers = bool(rng.random() < caliper_share)
            marks = LesionMarks(
                lesion.side,
                lesion.clock,
                lesion.distance_cm,
                lesion.size_cm if with_calipers else None,
                axes=int(rng.integers(1, 3)),
            )
            screen = render_screen(exam.family, frame_seed, marks)
            said = parse_annotation(screen.annotation_text)
            view = View(
                image_id=f"{lesion.lesion_id}-V{v}",
                lesion=lesion,
                family=exam.family,
                with_calipers=bool(screen.calipers),
                expected={
                    "laterality": said.laterality,
                    "clock_position": said.clock_position,
                    "nipple_distance_cm": said.nipple_distance_cm,
                },
                spacing_cm=screen.pixel_spacing_cm,
            )
            out.append((view, _cleaned(screen)))
    return out


def analyze_views(exam: Exam, rendered: Sequence[tuple[View, np.ndarray]]) -> list[View]:
    """The pipeline's frame analysis (OCR on, the study's laterality) on every view."""
    views = []
    for view, frame in rendered:
        row = analyze_frame(frame, [], ocr=True, study_laterality=exam.study_laterality).as_row()
        view.features = {
            "image_id": view.image_id,
            "laterality": row["laterality"],
            "clock_position": row["clock_position"],
            "nipple_distance_cm": row["nipple_distance_cm"],
            "has_calipers": row["has_calipers"],
            "caliper_points": row["caliper_points"],
        }
        view.read = {
            "laterality": row["ocr_laterality"],
            "clock_position": row["clock_position"],
            "nipple_distance_cm": row["nipple_distance_cm"],
        }
        views.append(view)
    return views


def link(exams: Sequence[Exam], views: Sequence[View]) -> pl.DataFrame:
    """The pipeline's evidence and matcher over ``views``: one row per view with the truth,
    the link (``lesion_id`` or null), the measured caliper size and the outcome."""
    report = pl.DataFrame(
        [
            {
                "accession_pseudo": lesion.accession,
                "patient_pseudo": f"P-{lesion.accession}",
                "lesion_index": lesion.index,
                "side": lesion.side,
                "clock": lesion.clock,
                "distance_cm": lesion.distance_cm,
                "size_cm": lesion.size_cm,
                "descriptors": None,
                "lesion_type": "mass",
                "text": None,
                "method": "rules",
            }
            for exam in exams
            for lesion in exam.lesions
        ],
        schema={"accession_pseudo": pl.Utf8, "patient_pseudo": pl.Utf8, **LESIONS_SCHEMA_EXTRA},
    )
    images = pl.DataFrame(
        [
            {
                "image_id": v.image_id,
                "accession_pseudo": v.lesion.accession,
                "physical_delta_x_cm": v.spacing_cm,
                "physical_delta_y_cm": v.spacing_cm,
            }
            for v in views
        ],
        schema={
            "image_id": pl.Utf8,
            "accession_pseudo": pl.Utf8,
            "physical_delta_x_cm": pl.Float64,
            "physical_delta_y_cm": pl.Float64,
        },
    )
    features = pl.DataFrame(
        [v.features for v in views],
        schema={
            "image_id": pl.Utf8,
            "laterality": pl.Utf8,
            "clock_position": pl.Utf8,
            "nipple_distance_cm": pl.Float64,
            "has_calipers": pl.Boolean,
            "caliper_points": pl.List(pl.List(pl.Int32)),
        },
    )
    evidence = evidence_of_images(images, features, None)
    _, links = lesion_table(report, evidence, pl.DataFrame())
    truth = pl.DataFrame(
        [
            {
                "image_id": v.image_id,
                "family": v.family,
                "true_lesion_id": v.lesion.lesion_id,
                "true_size_cm": v.lesion.size_cm,
                "with_calipers": v.with_calipers,
                "read_ok": all(
                    v.read.get(k) == want for k, want in v.expected.items() if want is not None
                ),
                "located": v.expected["clock_position"] is not None
                or v.expected["nipple_distance_cm"] is not None,
            }
            for v in views
        ]
    )
    joined = truth.join(
        links.select("image_id", "lesion_id", "score"), on="image_id", how="left"
    ).join(evidence.select("image_id", "caliper_size_cm"), on="image_id", how="left")
    return joined.with_columns(
        pl.when(pl.col("lesion_id").is_null())
        .then(pl.lit("unlinked"))
        .when(pl.col("lesion_id") == pl.col("true_lesion_id"))
        .then(pl.lit("correct"))
        .otherwise(pl.lit("wrong"))
        .alias("outcome")
    ).sort("image_id")


def _summary(rows: pl.DataFrame) -> dict[str, Any]:
    located = rows.filter(pl.col("located"))
    read = located.filter(pl.col("read_ok"))
    calipers = rows.filter(pl.col("with_calipers"))
    measured = calipers.filter(pl.col("caliper_size_cm").is_not_null())
    errors = (measured["caliper_size_cm"] - measured["true_size_cm"]).abs().to_list()

    def rate(frame: pl.DataFrame) -> float | None:
        n = frame.height
        return round(int((frame["outcome"] == "correct").sum()) / n, 4) if n else None

    counts = {o: int((located["outcome"] == o).sum()) for o in ("correct", "wrong", "unlinked")}
    return {
        "frames": rows.height,
        "frames_located": located.height,
        **counts,
        "accuracy": rate(located),
        "frames_read": read.height,
        "accuracy_read": rate(read),
        "wrong_read": int((read["outcome"] == "wrong").sum()),
        "ocr_read_share": round(read.height / located.height, 4) if located.height else None,
        "calipers_found": f"{measured.height}/{calipers.height}",
        "caliper_size_error_cm_median": round(statistics.median(errors), 3) if errors else None,
        "caliper_size_within_0_2cm": round(sum(e <= 0.2 for e in errors) / len(errors), 4)
        if errors
        else None,
    }


def evaluate(
    families: Sequence[str] = tuple(FAMILIES),
    exams_per_family: int = 4,
    views_per_lesion: int = 1,
    seed: int = EVAL_SEED,
) -> tuple[dict[str, Any], pl.DataFrame]:
    """(figures per family and per group, the per-frame table)."""
    tables = []
    for family in families:
        exams = synthetic_exams(family, exams_per_family, seed)
        views: list[View] = []
        for exam in exams:
            views += analyze_views(exam, render_views(exam, views_per_lesion, seed))
        tables.append(link(exams, views))
    rows = pl.concat(tables)
    figures: dict[str, Any] = {f: _summary(rows.filter(pl.col("family") == f)) for f in families}
    for label, group in (("tuning", TUNING_FAMILIES), ("held_out", HELDOUT_FAMILIES)):
        members = [f for f in group if f in families]
        if members:
            figures[label] = _summary(rows.filter(pl.col("family").is_in(members)))
    return figures, rows


def format_report(figures: dict[str, Any]) -> str:
    columns = [
        ("frames_located", "frames"),
        ("correct", "correct"),
        ("wrong", "wrong"),
        ("unlinked", "unlinked"),
        ("accuracy", "accuracy"),
        ("frames_read", "read"),
        ("accuracy_read", "acc(read)"),
        ("calipers_found", "calipers"),
        ("caliper_size_error_cm_median", "size err"),
    ]
    lines = ["family".ljust(16) + "".join(title.rjust(11) for _, title in columns)]
    for name, f in figures.items():
        cells = ["-" if f.get(k) is None else str(f[k]) for k, _ in columns]
        lines.append(name.ljust(16) + "".join(c.rjust(11) for c in cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=8, help="exams per family")
    parser.add_argument("--views", type=int, default=1, help="frames per lesion")
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--json", help="write the figures (and the per-frame table) here")
    args = parser.parse_args(argv)
    start = time.monotonic()
    figures, rows = evaluate(args.families, args.exams, args.views, args.seed)
    print(format_report(figures))
    print(f"{rows.height} frames in {time.monotonic() - start:.0f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"figures": figures, "frames": rows.to_dicts()}, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
