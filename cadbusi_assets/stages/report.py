"""What a stage reports about one partition (counts, small tables, previews, problems).

Everything in a report may end up in Dagster metadata, so it must never hold PHI: counts,
pseudonymized keys, reasons and de-identified previews only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from cadbusi_assets.storage.zones import Zone


class StageFailure(RuntimeError):
    """Nothing in a partition could be processed (the partition fails; others are unaffected)."""


class MissingUpstream(StageFailure, FileNotFoundError):
    """A partition the stage reads has not been materialized (its message says which)."""


@dataclass
class PartitionReport:
    partition: str
    row_count: int = 0
    counts: dict[str, int | float] = field(default_factory=dict)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    previews: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    failed: bool = False

    def count(self, name: str, value: int | float) -> None:
        self.counts[name] = value

    def add_problem(self, text: str) -> None:
        self.problems.append(text)


#: an absolute number (not a percentage): ``12``, ``3.5``, ``1,204``; or a study date, kept
#: (the partition key the UI shows beside the line anyway: not a count)
_ABSOLUTE = re.compile(
    r"(?<![\w.-])(?P<date>\d{4}-\d{2}-\d{2})(?![\w.-])"
    r"|(?<![\w.])\d+(?:[.,]\d+)*(?![\d%\w]|[.,]\d)"
)


def without_counts(text: str) -> str:
    """``text`` with absolute numbers replaced by ``n`` (percentages are kept).

    What the Dagster UI shows next to a study date must not carry counts: the research zone's
    batches have row counts too, and a count seen on both sides links a batch to its real date.

    >>> without_counts("3 of 12 studies are incomplete; 50% done")
    'n of n studies are incomplete; 50% done'
    >>> without_counts("2026-09-03: de-identifying 1,204 instances")
    '2026-09-03: de-identifying n instances'
    """
    return _ABSOLUTE.sub(lambda m: m["date"] or "n", text)


REPORTS = "reports"


def _cell(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def record_partition_report(raw: Zone, asset: str, day: str, report: PartitionReport) -> None:
    """Keep the full report of one study date (exact counts, tables, problems) in the raw zone:
    ``reports/<asset>/<date>.json``. Re-materializing the date replaces it. Read it with
    ``cadbusi partition-report``; the Dagster UI shows only what carries no count."""
    document = {
        "asset": asset,
        "partition": day,
        "row_count": int(report.row_count),
        "counts": dict(report.counts),
        "problems": list(report.problems),
        "tables": {
            name: [{k: _cell(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]
            for name, frame in report.tables.items()
        },
    }
    raw.write_bytes(
        (REPORTS, asset, f"{day}.json"),
        json.dumps(document, sort_keys=True, indent=1).encode(),
    )


def read_partition_reports(
    raw: Zone,
    asset: str | None = None,
    partition: str | None = None,
    unreadable: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The reports kept by :func:`record_partition_report`, sorted by asset and date. With
    ``partition`` only that date's files are read (a schedule asking for a few dates of years
    of them read every date's file for each). A report that cannot be read (a half-written
    file, a disk error) raises, or, given an ``unreadable`` list, is named there (its path in
    the raw zone) and the others are still returned."""
    if asset and partition:
        candidates = (
            [raw.path(REPORTS, asset, f"{partition}.json")]
            if raw.exists(REPORTS, asset, f"{partition}.json")
            else []
        )
    else:
        candidates = [
            path
            for path in raw.iter_files(*((REPORTS, asset) if asset else (REPORTS,)), suffix=".json")
            if partition is None or path.name == f"{partition}.json"
        ]
    found = []
    for path in candidates:
        try:
            document = json.loads(path.read_bytes())
            if not isinstance(document, dict):
                raise ValueError("not a report")
        except (ValueError, OSError):
            if unreadable is None:
                raise
            unreadable.append(raw.relative(path))
            continue
        if partition is None or document.get("partition") == partition:
            found.append(document)
    return sorted(found, key=lambda d: (str(d.get("asset", "")), str(d.get("partition", ""))))


def format_partition_report(document: dict[str, Any], tables: bool = False) -> str:
    """A report as lines: ``asset date``, then one ``name: value`` line per count and problem
    (and each table, when ``tables``)."""
    lines = [f"{document['asset']} {document['partition']}", f"  rows: {document['row_count']}"]
    lines += [f"  {name}: {value}" for name, value in sorted(document.get("counts", {}).items())]
    lines += [f"  problem: {p}" for p in document.get("problems", [])]
    if tables:
        for name, rows in document.get("tables", {}).items():
            lines.append(f"  table {name}:")
            frame = pl.DataFrame(rows, infer_schema_length=None)
            lines += ["    " + line for line in str(frame).splitlines()]
    return "\n".join(lines)


def reason_counts(frame: pl.DataFrame | None, column: str = "exclusion_reason") -> dict[str, int]:
    """``{reason: n}`` for the non-null reasons of ``frame`` (sorted by count, then reason)."""
    if frame is None or frame.height == 0 or column not in frame.columns:
        return {}
    counted = (
        frame.filter(pl.col(column).is_not_null())
        .group_by(column)
        .len()
        .sort(["len", column], descending=[True, False])
    )
    return {str(r): int(n) for r, n in counted.iter_rows()}


def throttled(progress, seconds: float = 5.0):
    """Pass at most one progress message every ``seconds`` (None stays None)."""
    if progress is None:
        return None
    import time

    last = [float("-inf")]

    def emit(message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= seconds:
            last[0] = now
            progress(message)

    return emit
