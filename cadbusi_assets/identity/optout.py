"""Patients who withdrew consent: an optional opt-out list honoured at the cohort stage.

The list is a file named by ``CADBUSI_OPT_OUT_FILE`` (or a warehouse table read into a
frame): plain text with one patient id a line (``#`` starts a comment), or CSV / Parquet
with a ``patient_id`` column (a ``.tsv``: tab-separated). Ids are compared after trimming
spaces and leading zeros, ignoring letter case and a float's ``.0`` (as pandas writes an
integer column with a missing value), so ``0012345`` or ``12345.0`` on the list also excludes
``12345``, and ``e0012345`` excludes ``E0012345`` (erring on the side of the patient). A plain
list whose lines hold a comma, a tab or a semicolon (a CSV saved as ``.txt``) is refused: its
lines are not one id each.

Opted-out rows leave the cohort with the exclusion reason :data:`OPT_OUT_REASON`; the list
itself never leaves the raw side (it holds MRNs).

>>> import polars as pl
>>> rows = pl.DataFrame({"patient_id": ["00123", "456", None], "accession_number": ["A", "B", "C"]})
>>> kept, excluded = split_opted_out(rows, frozenset({"123"}))
>>> kept["accession_number"].to_list(), excluded.select("accession_number", "exclusion_reason").rows()
(['B', 'C'], [('A', 'patient opted out')])
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars only where a table is read: `cadbusi deidentify` reads the list
    import polars as pl  # in a process that imports no polars

OPT_OUT_ENV_VAR = "CADBUSI_OPT_OUT_FILE"
OPT_OUT_REASON = "patient opted out"


class OptOutError(RuntimeError):
    """The opt-out list is configured but unusable (the run must not go on without it)."""


_FLOAT_ID = re.compile(r"^(\d+)\.0+$")


def normalize_patient_id(value: str) -> str:
    """``" 0012345 "`` → ``"12345"`` (all zeros stay ``"0"``), ``"12345.0"`` → ``"12345"``,
    ``"e0012345"`` → ``"E0012345"``."""
    text = _FLOAT_ID.sub(r"\1", str(value).strip()).upper()
    return text.lstrip("0") or ("0" if text else "")


def opt_out_ids(frame: pl.DataFrame, column: str = "patient_id") -> frozenset[str]:
    """Normalized ids from a frame (a warehouse table of withdrawn consents)."""
    if column not in frame.columns:
        raise OptOutError(f"the opt-out table has no {column!r} column")
    import polars as pl

    values = frame.get_column(column).cast(pl.Utf8).drop_nulls().to_list()
    return frozenset(n for n in (normalize_patient_id(v) for v in values) if n)


def _read_table(source: Path, suffix: str) -> pl.DataFrame:
    import polars as pl

    if suffix == ".parquet":
        return pl.read_parquet(source)
    return pl.read_csv(source, infer_schema=False, separator="\t" if suffix == ".tsv" else ",")


def load_opt_out(path: str | os.PathLike[str] | None) -> frozenset[str]:
    """Patient ids (normalized) from an opt-out file; an empty set when ``path`` is empty.

    A configured but missing or unreadable file is an :class:`OptOutError`: silently
    ignoring it would release withdrawn patients.
    """
    if path is None or not str(path).strip():
        return frozenset()
    source = Path(path).expanduser()
    if not source.is_file():
        raise OptOutError(f"the opt-out file named by {OPT_OUT_ENV_VAR} does not exist")
    suffix = source.suffix.lower()
    try:
        if suffix in (".parquet", ".csv", ".tsv"):
            return opt_out_ids(_read_table(source, suffix))
        lines = source.read_text(encoding="utf-8-sig").splitlines()
    except OptOutError:
        raise
    except Exception as exc:  # the message of a parser may quote an id
        raise OptOutError(f"the opt-out file cannot be read ({type(exc).__name__})") from None
    ids = [line.split("#", 1)[0].strip() for line in lines]
    if any(mark in i for i in ids for mark in ",\t;"):
        raise OptOutError(
            f"the opt-out file named by {OPT_OUT_ENV_VAR} holds lines with commas, tabs or "
            "semicolons, not one patient id a line; save a table as .csv (or .tsv) with a "
            "patient_id column"
        )
    return frozenset(n for n in (normalize_patient_id(i) for i in ids) if n)


def load_opt_out_from_env(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """:func:`load_opt_out` of ``$CADBUSI_OPT_OUT_FILE`` (empty when not set)."""
    env = os.environ if env is None else env
    return load_opt_out(env.get(OPT_OUT_ENV_VAR) or None)


def opted_out_expr(opt_out: Iterable[str], column: str = "patient_id") -> pl.Expr:
    """Polars expression: the row's patient is on the (normalized) opt-out list."""
    import polars as pl

    ids = sorted(opt_out)
    normalized = (
        pl.col(column)
        .cast(pl.Utf8)
        .str.strip_chars()
        .str.replace(_FLOAT_ID.pattern, "${1}")
        .str.to_uppercase()
        .str.strip_chars_start("0")
    )
    normalized = pl.when(normalized == "").then(pl.lit("0")).otherwise(normalized)
    return normalized.is_in(ids).fill_null(False)


def split_opted_out(
    frame: pl.DataFrame,
    opt_out: Iterable[str],
    column: str = "patient_id",
    reason_column: str = "exclusion_reason",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(kept, excluded)``: rows of opted-out patients move to ``excluded`` with
    ``reason_column`` = :data:`OPT_OUT_REASON`."""
    import polars as pl

    ids = frozenset(opt_out)
    if not ids or frame.height == 0:
        empty = frame.head(0).with_columns(pl.lit(None, dtype=pl.Utf8).alias(reason_column))
        return frame, empty
    flag = opted_out_expr(ids, column)
    kept = frame.filter(~flag)
    excluded = frame.filter(flag).with_columns(pl.lit(OPT_OUT_REASON).alias(reason_column))
    return kept, excluded
