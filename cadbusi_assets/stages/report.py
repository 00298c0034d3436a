"""What a stage reports about one partition (counts, small tables, previews, problems).

Everything in a report may end up in Dagster metadata, so it must never hold PHI: counts,
pseudonymized keys, reasons and de-identified previews only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


class StageFailure(RuntimeError):
    """Nothing in a partition could be processed (the partition fails; others are unaffected)."""


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
