"""Deterministic patient-level splits, stratified by label and scanner.

Two methods:

- :func:`assign_split` — the plain keyed hash of the patient (the original CADBUSI split). Stable
  when the cohort grows, but with few patients per class it can be badly unbalanced (the 30-day
  demo's test split held 2 benign and 28 malignant images).
- :func:`stratified_splits` — patients are grouped into strata (patient label × main scanner),
  ordered by stratum and by a keyed hash inside each stratum, then dealt out one by one to the
  split that is furthest below its target share of *images* (a systematic, largest-deficit
  allocation). Every stratum is spread over the splits in proportion, leftovers of small strata
  carry over to the next stratum, and the same patients, labels and salt always give the same
  result. A patient is one unit: all of its images land in one split (and one fold).

Optional ``folds`` deal the non-test patients out to k cross-validation folds the same way.

>>> assign_split("P123", salt="v1") == assign_split("P123", salt="v1")
True
>>> assign_split("P123", ratios={"train": 1.0, "val": 0.0, "test": 0.0})
'train'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import polars as pl

DEFAULT_RATIOS = {"train": 0.70, "val": 0.15, "test": 0.15}
#: Name of the split that folds never include.
TEST_SPLIT = "test"
SPLIT_METHODS = ("stratified", "hash")


def split_fraction(patient_pseudo: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}\x00{patient_pseudo}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(
    patient_pseudo: str, salt: str = "cadbusi", ratios: Mapping[str, float] = DEFAULT_RATIOS
) -> str:
    """All images of a patient land in the same split; ratios are cumulative in order."""
    total = sum(ratios.values())
    if total <= 0:
        raise ValueError("split ratios must add up to more than 0")
    value = split_fraction(patient_pseudo, salt) * total
    edge = 0.0
    name = next(iter(ratios))
    for name, ratio in ratios.items():
        edge += ratio
        if value < edge:
            return name
    return name


def patient_strata(images: pl.DataFrame) -> pl.DataFrame:
    """One row per patient: ``patient_pseudo, label, scanner, n_images``.

    ``images`` needs ``patient_pseudo`` and ``label`` (1 malignant, 0 benign, -1 unknown) and
    optionally ``model`` (scanner). A patient's label is its worst image label (malignant beats
    benign beats unknown); its scanner is the model most of its images come from (ties: the
    alphabetically first).
    """
    scanner = pl.col("model") if "model" in images.columns else pl.lit(None, dtype=pl.Utf8)
    frame = images.select(
        "patient_pseudo",
        pl.col("label").fill_null(-1).cast(pl.Int32).alias("label"),
        scanner.cast(pl.Utf8).fill_null("unknown").alias("scanner"),
    )
    main_scanner = (
        frame.group_by("patient_pseudo", "scanner")
        .len()
        .sort(["patient_pseudo", "len", "scanner"], descending=[False, True, False])
        .group_by("patient_pseudo", maintain_order=True)
        .first()
        .select("patient_pseudo", "scanner")
    )
    return (
        frame.group_by("patient_pseudo")
        .agg(pl.col("label").max(), pl.len().cast(pl.Int64).alias("n_images"))
        .join(main_scanner, on="patient_pseudo", how="left")
        .sort("patient_pseudo")
    )


def _deal(
    units: list[tuple[str, int]],
    shares: Mapping[str, float],
    fixed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Give each unit (name, weight), in order, to the bucket furthest below its target share;
    a unit in ``fixed`` (with a bucket of ``shares``) keeps that bucket and counts in it."""
    total = sum(shares.values())
    if total <= 0:
        raise ValueError("split ratios must add up to more than 0")
    target = {k: v / total for k, v in shares.items() if v > 0}
    filled = dict.fromkeys(target, 0)
    seen = 0
    out: dict[str, str] = {}
    for name, weight in units:
        seen += weight
        kept = (fixed or {}).get(name)
        # deficit after taking this unit, relative to the target; ties: the larger share
        best = (
            kept
            if kept in target
            else max(target, key=lambda k: (target[k] * seen - filled[k], target[k], k))
        )
        filled[best] += weight
        out[name] = best
    return out


def stratified_splits(
    images: pl.DataFrame,
    *,
    salt: str = "cadbusi",
    ratios: Mapping[str, float] = DEFAULT_RATIOS,
    folds: int = 0,
    method: str = "stratified",
    previous: Mapping[str, tuple[str, int | None]] | None = None,
) -> pl.DataFrame:
    """Per patient: ``patient_pseudo, label, scanner, n_images, split, fold``.

    ``fold`` is 0..folds-1 for patients outside the test split when ``folds`` >= 2, else null.
    ``method="hash"`` gives the plain :func:`assign_split` (kept for comparison).

    ``previous`` (sticky splits): patient → (split, fold) of the previous export cut with the
    same split settings. Those patients keep them, and only the others are dealt (in the same
    running order, the kept ones counted where they are), so an export never moves a patient
    between splits because other patients came or left (a new study date, a withdrawal of
    consent): a researcher's test patients stay test patients.
    """
    if method not in SPLIT_METHODS:
        raise ValueError(f"split method must be one of {SPLIT_METHODS}, not {method!r}")
    if folds == 1 or folds < 0:
        raise ValueError("folds must be 0 (none) or at least 2")
    patients = patient_strata(images)
    order = patients.with_columns(
        pl.col("patient_pseudo")
        .map_elements(lambda p: split_fraction(p, salt), return_dtype=pl.Float64)
        .alias("_rank")
    ).sort(["label", "scanner", "_rank", "patient_pseudo"], descending=[True, False, False, False])
    units = list(zip(order["patient_pseudo"].to_list(), order["n_images"].to_list(), strict=True))
    before = previous or {}
    if method == "hash":
        split = {p: assign_split(p, salt, ratios) for p, _ in units}
    else:
        split = _deal(units, ratios, {p: s for p, (s, _) in before.items()})
    fold: dict[str, int] = {}
    if folds >= 2:
        train_units = [(p, w) for p, w in units if split[p] != TEST_SPLIT]
        kept_folds = {
            p: str(f)
            for p, (s, f) in before.items()
            if f is not None and s == split.get(p) and s != TEST_SPLIT
        }
        dealt = _deal(train_units, {str(k): 1.0 for k in range(folds)}, kept_folds)
        fold = {p: int(v) for p, v in dealt.items()}
    return (
        order.drop("_rank")
        .with_columns(
            pl.col("patient_pseudo").replace_strict(split, return_dtype=pl.Utf8).alias("split"),
            pl.col("patient_pseudo")
            .replace_strict(fold, default=None, return_dtype=pl.Int32)
            .alias("fold"),
        )
        .sort("patient_pseudo")
    )


def balance_table(manifest: pl.DataFrame) -> pl.DataFrame:
    """Images and patients per (split, label): the figures the dataset card prints."""
    if manifest.height == 0:
        return pl.DataFrame(
            schema={"split": pl.Utf8, "label": pl.Int32, "images": pl.UInt32, "patients": pl.UInt32}
        )
    return (
        manifest.group_by("split", "label")
        .agg(pl.len().alias("images"), pl.col("patient_pseudo").n_unique().alias("patients"))
        .sort(["split", "label"])
    )


def patients_in_several_splits(manifest: pl.DataFrame) -> list[str]:
    """Patients whose images sit in more than one split (must be empty)."""
    if manifest.height == 0:
        return []
    return (
        manifest.group_by("patient_pseudo")
        .agg(pl.col("split").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
        .sort("patient_pseudo")["patient_pseudo"]
        .to_list()
    )
