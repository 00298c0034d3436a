"""Queue data rows to the Labelbox project annotators work in, as batches with a priority.

Data rows only reach annotators once they are in a batch of the project. Labelbox caps a batch
at 100,000 data rows and takes a priority from 1 (highest) to 5 (lowest); a data row can be in
one batch per project. :func:`plan_batches` groups rows by priority and cuts them into named,
deterministic batches; :func:`queue_batches` creates them with the SDK's
``project.create_batch(name, global_keys=..., priority=..., consensus_settings=...)`` and reports
the rows Labelbox refused. From 1,000 rows on the SDK creates a batch asynchronously and names
no refused rows; the batch's size then shows how many it did not take (``unconfirmed``).

>>> import polars as pl
>>> rows = pl.DataFrame({"global_key": ["a", "b", "c"], "birads": ["4A", "2", None]})
>>> [(p.name, p.priority, p.global_keys) for p in plan_batches(rows, "d1", max_rows=2)]
[('d1-p1-001', 1, ['a']), ('d1-p4-001', 4, ['b']), ('d1-p5-001', 5, ['c'])]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

#: Labelbox's limit on data rows per batch.
MAX_BATCH_ROWS = 100_000
DEFAULT_PRIORITY = 5
#: from this many rows on, the SDK (7.17) creates a batch asynchronously (no refused row ids)
ASYNC_BATCH_ROWS = 1_000
_NAME_SAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def birads_priority(birads: pl.Expr) -> pl.Expr:
    """Suspicious studies first: BI-RADS 4-6 → 1, 0 (incomplete) → 2, 3 → 3, 1-2 → 4, none → 5."""
    text = birads.cast(pl.Utf8).str.to_uppercase().str.strip_chars()
    return (
        pl.when(text.str.contains(r"^(4|4A|4B|4C|5|6)$"))
        .then(1)
        .when(text == "0")
        .then(2)
        .when(text == "3")
        .then(3)
        .when(text.is_in(["1", "2"]))
        .then(4)
        .otherwise(DEFAULT_PRIORITY)
        .cast(pl.Int8)
    )


@dataclass(frozen=True)
class BatchPlan:
    name: str
    priority: int
    global_keys: list[str]


@dataclass
class BatchReport:
    created: list[str] = field(default_factory=list)
    rows_queued: int = 0
    #: global keys (or data row ids) Labelbox refused, per batch name
    failed: dict[str, list[str]] = field(default_factory=dict)
    skipped_already_queued: int = 0
    #: rows a batch did not take without Labelbox naming them (the SDK's path for batches of
    #: 1,000 rows or more returns no refused ids), per batch name
    unconfirmed: dict[str, int] = field(default_factory=dict)


def plan_batches(
    rows: pl.DataFrame,
    prefix: str,
    *,
    max_rows: int = MAX_BATCH_ROWS,
    priority: pl.Expr | None = None,
    already_queued: Iterable[str] = (),
) -> list[BatchPlan]:
    """Batches for the data rows in ``rows`` (``global_key`` plus whatever ``priority`` reads;
    default: :func:`birads_priority` of a ``birads`` column when present, else 5).

    Rows already queued (a data row is in one batch per project) are left out. Within a
    priority the keys are sorted, so the same rows always give the same batches.
    """
    if not 1 <= max_rows <= MAX_BATCH_ROWS:
        raise ValueError(f"max_rows must be between 1 and {MAX_BATCH_ROWS}")
    if priority is None:
        priority = (
            birads_priority(pl.col("birads"))
            if "birads" in rows.columns
            else pl.lit(DEFAULT_PRIORITY, dtype=pl.Int8)
        )
    queued = list(set(already_queued))
    frame = (
        rows.select(pl.col("global_key").cast(pl.Utf8), priority.clip(1, 5).alias("priority"))
        .filter(pl.col("global_key").is_not_null() & ~pl.col("global_key").is_in(queued))
        .unique("global_key", keep="first")
        .sort("priority", "global_key")
        .with_columns((pl.int_range(pl.len()).over("priority") // max_rows + 1).alias("chunk"))
    )
    safe = _NAME_SAFE.sub("-", prefix).strip("-") or "batch"
    plans = []
    for (level, chunk), group in frame.group_by(["priority", "chunk"], maintain_order=True):
        plans.append(
            BatchPlan(f"{safe}-p{level}-{chunk:03d}", int(level), group["global_key"].to_list())
        )
    return plans


def queue_batches(
    project: Any,
    plans: Sequence[BatchPlan],
    *,
    consensus: Mapping[str, float] | None = None,
    retry: Callable[[Callable[[], Any]], Any] | None = None,
) -> BatchReport:
    """Create each planned batch in ``project`` (a ``labelbox.Project``).

    ``consensus``: ``{"number_of_labels": 3, "coverage_percentage": 0.1}`` to have a share of the
    rows labelled several times. ``retry`` wraps each SDK call (e.g. a backoff on rate limits).
    """
    report = BatchReport()
    call = retry or (lambda action: action())
    for plan in plans:
        if not plan.global_keys:
            continue
        if len(plan.global_keys) > MAX_BATCH_ROWS:
            raise ValueError(f"batch {plan.name} has more than {MAX_BATCH_ROWS} rows")

        def create(plan: BatchPlan = plan) -> Any:
            return project.create_batch(
                plan.name,
                global_keys=list(plan.global_keys),
                priority=plan.priority,
                consensus_settings=dict(consensus) if consensus else None,
            )

        batch = call(create)
        failed = list(getattr(batch, "failed_data_row_ids", None) or [])
        taken = len(plan.global_keys) - len(failed)
        size = getattr(batch, "size", None) if len(plan.global_keys) >= ASYNC_BATCH_ROWS else None
        if isinstance(size, int) and not isinstance(size, bool) and size < taken:
            report.unconfirmed[plan.name] = taken - size
            taken = size
        report.created.append(plan.name)
        report.rows_queued += taken
        if failed:
            report.failed[plan.name] = failed
    return report
