"""Run the Dagster graph in-process on the configured instance (used by `cadbusi demo` and
`cadbusi export`). The runs land in ``$DAGSTER_HOME`` and show up in the UI like any other.

Partitioned assets are materialized as one ranged run per chunk of study dates — the same
runs a UI backfill launches for assets with ``BackfillPolicy.multi_run(31)`` — never as a loop
of one run per date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
MAX_DAYS_PER_RUN = 31


@dataclass
class RunSummary:
    name: str
    success: bool
    run_id: str
    failed_checks: list[str]


def load_definitions() -> dg.Definitions:
    from cadbusi_assets.definitions import defs

    return defs()


def _console(level: str = "INFO") -> dict:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def _assets(defs: dg.Definitions) -> list:
    return list(defs.assets or [])


def _check_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]


def materialize(
    defs: dg.Definitions,
    selection: Sequence[str],
    instance: dg.DagsterInstance,
    *,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
    name: str = "",
) -> RunSummary:
    result = dg.materialize(
        _assets(defs),
        resources=dict(defs.resources or {}),
        instance=instance,
        selection=list(selection),
        partition_key=partition_key,
        tags=tags,
        run_config={**_console(), **(run_config or {})},
        raise_on_error=False,
    )
    return RunSummary(name or ",".join(selection), result.success, result.run_id, _check_failures(result))


def backfill_study_dates(
    defs: dg.Definitions,
    selection: Sequence[str],
    instance: dg.DagsterInstance,
    start: dt.date,
    end: dt.date,
    echo: Callable[[str], None] = print,
) -> list[RunSummary]:
    """Materialize ``selection`` for every study date in [start, end], one ranged run per month."""
    summaries = []
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + dt.timedelta(days=MAX_DAYS_PER_RUN - 1))
        echo(f"→ backfill {chunk_start}…{chunk_end}: {', '.join(selection)}")
        summaries.append(
            materialize(
                defs,
                selection,
                instance,
                tags={RANGE_START: chunk_start.isoformat(), RANGE_END: chunk_end.isoformat()},
                name=f"study dates {chunk_start}…{chunk_end}",
            )
        )
        chunk_start = chunk_end + dt.timedelta(days=1)
    return summaries


def cut_export(
    defs: dg.Definitions, instance: dg.DagsterInstance, key: str, run_config: dict | None = None
) -> RunSummary:
    """Add the ``exports`` partition ``key`` (if new) and build it."""
    if not instance.has_dynamic_partition("exports", key):
        instance.add_dynamic_partitions("exports", [key])
    return materialize(
        defs, ["dataset_export"], instance, partition_key=key, run_config=run_config,
        name=f"dataset_export {key}",
    )
