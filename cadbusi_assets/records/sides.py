"""Breast sides of an exam: LEFT → [LEFT], RIGHT → [RIGHT], BILATERAL → [LEFT, RIGHT]."""

from __future__ import annotations

import polars as pl

SIDES = ("LEFT", "RIGHT")


def sides_of(laterality: pl.Expr, *, unknown_as_both: bool = False) -> pl.Expr:
    """A list of the breast sides covered by a study laterality.

    Null laterality gives ``[]``, or both sides with ``unknown_as_both`` (for events whose side
    is unknown but that must still count, e.g. a biopsy that disqualifies a benign label).
    """
    both = pl.lit(list(SIDES), dtype=pl.List(pl.Utf8))
    return (
        pl.when(laterality == "LEFT")
        .then(pl.lit(["LEFT"], dtype=pl.List(pl.Utf8)))
        .when(laterality == "RIGHT")
        .then(pl.lit(["RIGHT"], dtype=pl.List(pl.Utf8)))
        .when(laterality == "BILATERAL")
        .then(both)
        .otherwise(both if unknown_as_both else pl.lit([], dtype=pl.List(pl.Utf8)))
    )


def explode_sides(
    frame: pl.DataFrame, laterality: str, *, unknown_as_both: bool = False
) -> pl.DataFrame:
    """``frame`` with one row per covered side in a new ``side`` column."""
    return frame.with_columns(
        sides_of(pl.col(laterality), unknown_as_both=unknown_as_both).alias("side")
    ).explode("side", keep_nulls=False, empty_as_null=False)
