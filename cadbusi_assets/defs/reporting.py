"""Stage reports → Dagster metadata, and per-day failure isolation in ranged runs."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dagster as dg
import polars as pl

from cadbusi_assets.stages import PartitionReport, StageFailure

MAX_TABLE_ROWS = 25


def markdown_table(frame: pl.DataFrame, max_rows: int = MAX_TABLE_ROWS) -> str:
    if frame.height == 0:
        return "_(empty)_"
    head = frame.head(max_rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    for row in head.iter_rows():
        lines.append("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    if frame.height > max_rows:
        lines.append(f"\n… {frame.height - max_rows} more rows")
    return "\n".join(lines)


def image_markdown(previews: Mapping[str, bytes]) -> str:
    parts = []
    for name, png in previews.items():
        encoded = base64.b64encode(png).decode()
        parts.append(f"**{name}**\n\n![{name}](data:image/png;base64,{encoded})")
    return "\n\n".join(parts)


def report_metadata(report: PartitionReport) -> dict[str, Any]:
    metadata: dict[str, Any] = {"dagster/row_count": int(report.row_count)}
    for name, value in report.counts.items():
        metadata[name] = float(value) if isinstance(value, float) else int(value)
    for name, frame in report.tables.items():
        metadata[name] = dg.MetadataValue.md(markdown_table(frame))
    if report.previews:
        metadata["previews"] = dg.MetadataValue.md(image_markdown(report.previews))
    if report.problems:
        metadata["problems"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in report.problems))
    return metadata


def run_per_day(
    context: dg.AssetExecutionContext,
    days: Iterable[str],
    stage: Callable[[str], PartitionReport],
) -> dict[str, PartitionReport]:
    """Run ``stage`` for every day of the run; a failing day does not stop the others.

    Days that fail are listed in a :class:`dagster.Failure` raised after all days ran; the
    successful days are recorded as materialized (their data is written and correct).
    """
    reports: dict[str, PartitionReport] = {}
    failures: dict[str, str] = {}
    days = list(days)
    for day in days:
        try:
            report = stage(day)
        except StageFailure as exc:
            failures[day] = str(exc)
            continue
        reports[day] = report
        context.log.info(
            f"{day}: {report.row_count} rows"
            + (f"; problems: {'; '.join(report.problems)}" if report.problems else "")
        )
    if failures:
        if len(days) > 1:
            for day, report in reports.items():
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=context.asset_key, partition=day, metadata=report_metadata(report)
                    )
                )
        raise dg.Failure(
            description=f"{len(failures)} of {len(days)} study dates failed: nothing in them could "
            "be processed. The other dates were written. Fix the cause and re-run the failed dates.",
            metadata={
                "failed_dates": dg.MetadataValue.md(
                    "\n".join(f"- {d}: {r}" for d, r in failures.items())
                )
            },
        )
    return reports


def attach(context: dg.AssetExecutionContext, reports: Mapping[str, PartitionReport]) -> None:
    """Per-partition metadata for every day of the run."""
    for day, report in reports.items():
        context.add_asset_metadata(report_metadata(report), partition_key=day)


def materialize_per_day(
    context: dg.AssetExecutionContext, stage: Callable[[str], PartitionReport]
) -> dg.MaterializeResult:
    """The common body of a study-date asset: every day of the run, isolated, with metadata."""
    attach(context, run_per_day(context, context.partition_keys, stage))
    return dg.MaterializeResult()
