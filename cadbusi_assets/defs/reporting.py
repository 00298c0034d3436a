"""Stage reports → Dagster metadata, and per-day failure isolation in ranged runs."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from cadbusi_assets.defs.run_process import tag_run_process
from cadbusi_assets.parallel import worker_scope
from cadbusi_assets.settings import SettingsError
from cadbusi_assets.stages import PartitionReport, StageFailure
from cadbusi_assets.stages.locks import configured_lock_dirs, partition_lock, zone_lock_dirs
from cadbusi_assets.stages.report import record_partition_report, without_counts
from cadbusi_assets.storage.zones import Zone

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


#: report entries that are yes/no flags, not counts: shown beside a study date
FLAGS = frozenset({"ocr_ran"})


def partition_metadata(asset: str, report: PartitionReport) -> dict[str, Any]:
    """What the UI shows beside a study date: the outcome and the problems, without counts.

    A UI viewer sees real study dates; a research reader sees the row counts of the opaque
    batches. A count seen on both sides would link a batch to its date (issue 10), so exact
    counts and tables stay in the raw zone (:func:`~cadbusi_assets.stages.report.
    record_partition_report`, read with ``cadbusi partition-report``).
    """
    metadata: dict[str, Any] = {
        "outcome": dg.MetadataValue.text(
            "delivered with problems" if report.problems else "delivered"
        ),
        "details": dg.MetadataValue.md(
            f"Exact counts and tables are kept in the raw zone: `cadbusi partition-report "
            f"--asset {asset} --date <this date>` (raw-zone access needed)."
        ),
    }
    for name in FLAGS & set(report.counts):
        metadata[name] = dg.MetadataValue.bool(bool(report.counts[name]))
    if report.problems:
        metadata["problems"] = dg.MetadataValue.md(
            "\n".join(f"- {without_counts(p)}" for p in report.problems)
        )
    return metadata


def ui_progress(context: dg.AssetExecutionContext) -> Callable[[str], None]:
    """Progress messages for the run log of a study-date step, with absolute counts removed
    (see :func:`partition_metadata`); percentages stay."""
    return lambda message: context.log.info(without_counts(message))


def report_metadata(report: PartitionReport) -> dict[str, Any]:
    """Metadata of an asset that is not partitioned by study date (counts over all dates)."""
    metadata: dict[str, Any] = {"dagster/row_count": int(report.row_count)}
    for name, value in report.counts.items():
        metadata[name] = float(value) if isinstance(value, float) else int(value)
    for name, frame in report.tables.items():
        metadata[name] = dg.MetadataValue.md(markdown_table(frame))
    # No research-image previews beside a study date: a UI viewer could match them to research
    # batches by eye and so recover real dates (issue 10). Previews stay in the stage reports
    # for the command line; the dataset card of an export shows its own samples.
    if report.problems:
        metadata["problems"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in report.problems))
    return metadata


#: Run tag listing the study dates that failed in a ranged run: ``{"2026-09-03": "raw_dicom"}``.
FAILED_DATES_TAG = "cadbusi/failed_dates"


#: The run that wrote :data:`FAILED_DATES_TAG`. A re-execution from the UI inherits its
#: parent's tags, this one included: the failed dates of another run.
FAILED_DATES_OF_TAG = "cadbusi/failed_dates_of"


def _step_of(context: dg.AssetExecutionContext, asset: str) -> str | None:
    """The step (op) that materializes ``asset`` in the run's job (None: not in it)."""
    try:
        graph = context.job_def.asset_layer.asset_graph
        return graph.assets_def_for_key(dg.AssetKey.from_user_string(asset)).node_def.name
    except Exception:  # an asset of another job or code version
        return None


def inherited_failed_dates(
    context: dg.AssetExecutionContext, run: dg.DagsterRun, known: dict[str, str]
) -> dict[str, str]:
    """Of the failed dates a re-execution inherited from its parent, those it must still
    skip: the dates whose failing step it does not run again (a re-execution from failure
    after a later step failed). A date whose failing step it runs again (all steps, or from
    that step on) is processed again."""
    steps = run.step_keys_to_execute
    if steps is None:
        return {}
    return {day: asset for day, asset in known.items() if _step_of(context, asset) not in steps}


def failed_dates(context: dg.AssetExecutionContext) -> dict[str, str]:
    """Dates that already failed in this run, with the asset where they failed. A re-executed
    run's first look replaces the dates it inherited from its parent's tags
    (:func:`inherited_failed_dates`), so that its sensors and summary read its own."""
    run = context.instance.get_run_by_id(context.run.run_id)
    if run is None:
        return {}
    text = run.tags.get(FAILED_DATES_TAG, "")
    known = json.loads(text) if text else {}
    if run.parent_run_id and run.tags.get(FAILED_DATES_OF_TAG) != run.run_id:
        known = inherited_failed_dates(context, run, known)
        context.instance.add_run_tags(
            run.run_id,
            {FAILED_DATES_TAG: json.dumps(known, sort_keys=True), FAILED_DATES_OF_TAG: run.run_id},
        )
    return known


def _record_failed_dates(
    context: dg.AssetExecutionContext, days: Iterable[str], asset: str | None = None
) -> None:
    known = failed_dates(context)
    for day in days:
        known.setdefault(day, asset or context.asset_key.to_user_string())
    context.instance.add_run_tags(
        context.run.run_id,
        {
            FAILED_DATES_TAG: json.dumps(known, sort_keys=True),
            FAILED_DATES_OF_TAG: context.run.run_id,
        },
    )


#: Exceptions whose messages are safe to log and to show as a date's failure reason.
SAFE_MESSAGES = (StageFailure, SettingsError)


def system_error(exc: BaseException) -> str:
    """The system's error of an :class:`OSError` (`` [ENOSPC] No space left on device``), or
    ``""``: fixed text of the operating system that tells a full disk, a quota, a read-only
    zone and a permission error apart. Never its file name (a raw-zone path holds a real
    date) nor its message (a library's may quote data).

    >>> system_error(OSError(28, "disk full", "/zones/raw/dicom/2024-03-05/x.dcm"))
    ' [ENOSPC] No space left on device'
    >>> system_error(ValueError("PatientName=DOE^JANE"))
    ''
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if not isinstance(code, int) or code not in errno.errorcode:
        return ""
    return f" [{errno.errorcode[code]}] {os.strerror(code)}"


def safe_traceback(exc: BaseException) -> str:
    """Where an exception came from, without its message (messages may quote data values).

    Our own :class:`StageFailure` messages are written to be safe and are kept, and so are
    :class:`~cadbusi_assets.settings.SettingsError` ones: they quote the operator's settings
    (a variable and its value, the fix), never patient data or a secret.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    head = f"{type(exc).__module__}.{type(exc).__qualname__}" + system_error(exc)
    if isinstance(exc, SAFE_MESSAGES):
        head += f": {exc}"
    return "Traceback (most recent call last):\n" + "\n".join(lines) + "\n" + head


def step_lock_dirs(context: dg.AssetExecutionContext) -> list[Path]:
    """The lock folders beside the data the step writes: that of its ``zones`` resource's raw
    zone (:func:`~cadbusi_assets.stages.locks.zone_lock_dirs`), else of the configured zones (see :mod:`cadbusi_assets.stages.locks`:
    every run writing the same zones waits for the other, whatever its Dagster instance)."""
    try:
        zones = getattr(context.resources, "zones", None)
    except Exception:  # a step without a zones resource
        zones = None
    raw, research = (getattr(zones, name, "") for name in ("raw_uri", "research_uri"))
    raw, research = (u if isinstance(u, str) else "" for u in (raw, research))
    if not (raw or research):
        return configured_lock_dirs()
    return zone_lock_dirs(raw, research)


def run_per_day(
    context: dg.AssetExecutionContext,
    days: Iterable[str],
    stage: Callable[[str], PartitionReport],
    *,
    assets: Sequence[dg.AssetKey] | None = None,
) -> dict[str, PartitionReport]:
    """Run ``stage`` for every day of the run; a failing day does not stop the others.

    ``assets``: the assets the stage materializes (a multi-asset step; default the step's
    one asset): every day holds each one's partition lock, and a failed day is failed for
    each of them.

    * Any exception of one day is that day's failure: its traceback (without the message, which
      may quote data) goes to the run log, a short reason to the day's metadata. A report with
      ``failed`` set (nothing of the day could be processed) fails the day too.
    * Days that failed in an earlier step of the same run are not processed again downstream.
    * Each day runs under its partition lock, so two runs of one date never interleave.
    * Worker processes started by the stage belong to this step and are gone when it ends
      (killed at once when the run is terminated).

    When every day of the run failed, the step fails (a single-date run fails as usual).
    When only some failed, the others go on downstream in the same run; the failed days are
    listed in the run tag ``cadbusi/failed_dates``, in the step's metadata and log, and the
    ``failed_study_dates_sensor`` re-runs each of them alone so that its failure is recorded
    against that date (red in the UI) and a retry re-runs exactly that date.
    """
    reports: dict[str, PartitionReport] = {}
    failures: dict[str, str] = {}
    days = list(days)
    tag_run_process(context.instance, context.run.run_id)
    earlier = failed_dates(context)
    keys = list(assets or [context.asset_key])
    folders = step_lock_dirs(context)
    with worker_scope():
        for day in days:
            if day in earlier:
                failures[day] = f"not processed: {earlier[day]} failed for this date in this run"
                continue
            try:
                with contextlib.ExitStack() as locks:
                    for name in lock_names(keys):  # in the order given: the same in every step
                        locks.enter_context(
                            partition_lock(
                                name,
                                day,
                                lock_dirs=folders,
                                on_wait=context.log.info,
                            )
                        )
                    report = stage(day)
            except SAFE_MESSAGES as exc:
                failures[day] = str(exc)
                context.log.error(f"{day}: {safe_traceback(exc)}")
                continue
            except Exception as exc:
                failures[day] = (
                    f"{type(exc).__name__}{system_error(exc)} (traceback in the run log)"
                )
                context.log.error(f"{day}: {safe_traceback(exc)}")
                continue
            reports[day] = report
            context.log.info(
                f"{day}: done"
                + (
                    f"; problems: {'; '.join(without_counts(p) for p in report.problems)}"
                    if report.problems
                    else ""
                )
            )
    return settle(context, days, reports, failures, assets=keys)


#: the assets that write one research batch's images and their derived tables take one lock
#: per date between them: materialized alone, each held its own, so ``inpainted_images`` alone
#: could write a batch back that the de-identification's leak check was purging meanwhile
IMAGING_LOCK = "research_imaging"
_SHARED_LOCKS = dict.fromkeys(
    ("deidentified_images", "image_features", "inpainted_images"), IMAGING_LOCK
)


def lock_names(keys: Sequence[dg.AssetKey]) -> list[str]:
    """The partition locks a step of ``keys`` takes for each date, in a fixed order."""
    names = [_SHARED_LOCKS.get(key.to_user_string(), key.to_user_string()) for key in keys]
    return list(dict.fromkeys(names))


def settle(
    context: dg.AssetExecutionContext,
    days: list[str],
    reports: dict[str, PartitionReport],
    failures: dict[str, str],
    *,
    assets: Sequence[dg.AssetKey] | None = None,
) -> dict[str, PartitionReport]:
    """Apply the per-date failure rules to a step's outcome (see :func:`run_per_day`;
    ``assets``: the step's assets, default its one asset)."""
    for day, report in list(reports.items()):
        if report.failed:
            failures[day] = "; ".join(report.problems) or "nothing could be processed"
            del reports[day]
    if not failures:
        return reports
    keys = list(assets or [context.asset_key])
    asset = ", ".join(key.to_user_string() for key in keys)
    listing = "\n".join(f"- {d}: {r}" for d, r in sorted(failures.items()))
    if not reports:
        raise dg.Failure(
            description=f"{len(failures)} of {len(days)} study dates failed; nothing was written "
            "for them. Fix the cause and re-run these dates.",
            metadata={"failed_dates": dg.MetadataValue.md(listing)},
        )
    _record_failed_dates(context, failures, keys[0].to_user_string())
    context.log.warning(
        f"{len(failures)} of {len(days)} study dates failed at {asset}; the other dates go on. "
        f"Failed dates:\n{listing}"
    )
    for day, reason in failures.items():
        for key in keys:
            context.add_asset_metadata(
                {"outcome": "failed", "failed": dg.MetadataValue.text(reason)},
                asset_key=key if assets else None,
                partition_key=day,
            )
    return reports


def run_for_days(
    context: dg.AssetExecutionContext,
    stage: Callable[[list[str]], dict[str, PartitionReport]],
) -> dict[str, PartitionReport]:
    """Like :func:`run_per_day` for stages that read all the run's days at once (one warehouse
    query per run): days that failed earlier in the run are left out, every day's lock is held,
    and days whose report is marked failed fail alone."""
    tag_run_process(context.instance, context.run.run_id)
    days = list(context.partition_keys)
    earlier = failed_dates(context)
    failures = {
        d: f"not processed: {earlier[d]} failed for this date in this run"
        for d in days
        if d in earlier
    }
    todo = [d for d in days if d not in earlier]
    asset = context.asset_key.to_user_string()
    reports: dict[str, PartitionReport] = {}
    if todo:
        folders = step_lock_dirs(context)
        with contextlib.ExitStack() as locks:
            for day in sorted(todo):
                locks.enter_context(
                    partition_lock(asset, day, lock_dirs=folders, on_wait=context.log.info)
                )
            reports = dict(stage(todo))
    return settle(context, days, reports, failures)


def attach(
    context: dg.AssetExecutionContext,
    reports: Mapping[str, PartitionReport],
    raw: Zone,
    *,
    asset_key: dg.AssetKey | None = None,
) -> None:
    """For every day of the run: the full report into the raw zone, the count-free view into
    the partition's metadata (of ``asset_key``, default the step's one asset)."""
    asset = (asset_key or context.asset_key).to_user_string()
    for day, report in reports.items():
        record_partition_report(raw, asset, day, report)
        context.add_asset_metadata(
            partition_metadata(asset, report), asset_key=asset_key, partition_key=day
        )


def materialize_per_day(
    context: dg.AssetExecutionContext, stage: Callable[[str], PartitionReport], raw: Zone
) -> dg.MaterializeResult:
    """The common body of a study-date asset: every day of the run, isolated, with metadata."""
    attach(context, run_per_day(context, context.partition_keys, stage), raw)
    return dg.MaterializeResult()
