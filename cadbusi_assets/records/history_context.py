"""Parsed radiology reports of a study-date window whose history columns do not depend on the
window: :func:`radiology_reports_for_window`.

The exams of ``[start, end]`` are parsed in full; their history columns
(:data:`~cadbusi_assets.records.history.HISTORY_COLUMNS` and the propagated
``biopsy_guidance``) are then computed against every exam of the same patients dated
``[start - lookback_days, end + forward_days]``, read from the warehouse with one more query
(``radiology_history``). Since each history column only looks that far
(:class:`~cadbusi_assets.records.windows.HistoryWindows`), a date gives identical rows
whether it is parsed alone, inside a 31-date backfill or by the nightly run, as long as the
warehouse holds the same exams.

Forward-looking values (the next biopsy) appear once the warehouse has that biopsy: the
late-arrival schedule re-runs recent dates, and a re-run always gives the same rows for the
same warehouse contents.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cadbusi_assets.records import exam_facts
from cadbusi_assets.records.history import (
    HISTORY_COLUMNS,
    HISTORY_INPUT_COLUMNS,
    add_exam_history,
)
from cadbusi_assets.records.radiology import parse_radiology_reports
from cadbusi_assets.records.warehouse.base import Warehouse
from cadbusi_assets.records.windows import HistoryWindows

_ROW = "__history_row"


def _history_input(parsed: pl.DataFrame) -> pl.DataFrame:
    """The columns :func:`add_exam_history` reads, with the modality the parser uses for it
    (the warehouse modality, else guessed from the description)."""
    return parsed.with_columns(
        exam_facts.modality_of(pl.col("modality"), pl.col("exam_description")).alias("modality")
    ).select(HISTORY_INPUT_COLUMNS)


def radiology_reports_for_window(
    warehouse: Warehouse,
    start: dt.date,
    end: dt.date,
    *,
    windows: HistoryWindows | None = None,
) -> pl.DataFrame:
    """``parse_radiology_reports`` of the exams dated ``[start, end]``, with the history
    columns computed from the warehouse span around them (see the module docstring)."""
    windows = windows or HistoryWindows()
    parsed = parse_radiology_reports(warehouse.radiology_exams(start, end), history=False)
    patient_ids = parsed["patient_id"].drop_nulls().unique().sort().to_list()
    context_start, context_end = windows.context(start, end)
    context_rows = warehouse.radiology_history(patient_ids, context_start, context_end)
    context = _history_input(parse_radiology_reports(context_rows, lexicon=False, history=False))
    targets = _history_input(parsed).with_row_index(_ROW)
    history = add_exam_history(targets, key=_ROW, context=context, windows=windows).select(
        _ROW, "biopsy_guidance", *HISTORY_COLUMNS
    )
    columns = parsed.columns
    return (
        parsed.with_row_index(_ROW)
        .drop("biopsy_guidance", *HISTORY_COLUMNS)
        .join(history, on=_ROW, how="left")
        .sort(_ROW)
        .select([pl.col(c).cast(parsed.schema[c]) for c in columns])
    )
