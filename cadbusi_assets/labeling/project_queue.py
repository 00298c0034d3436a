"""One call that puts a day's data rows in front of annotators: batches, then MAL pre-labels.

``queue_for_labeling(client, project_id, data_rows, ...)`` plans and creates the batches
(:mod:`.batches`) for rows not yet queued, then imports the pre-labels of the newly queued rows
(:mod:`.prelabels`; pre-labels need the rows to be in the project first). Rate-limit errors of
the SDK (``ApiLimitError``) are retried with exponential backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import polars as pl

from cadbusi_assets.labeling.batches import BatchReport, plan_batches, queue_batches
from cadbusi_assets.labeling.consensus import ConsensusCheck, ConsensusConfig, check_consensus
from cadbusi_assets.labeling.ontology import (
    OntologyCheck,
    OntologySpec,
    differences_text,
    ensure_ontology,
)
from cadbusi_assets.labeling.prelabels import (
    ImportReport,
    PrelabelNames,
    build_prelabels,
    import_prelabels,
)

_T = TypeVar("_T")


def with_backoff(
    attempts: int = 6, first_wait_s: float = 2.0, sleep: Callable[[float], None] = time.sleep
) -> Callable[[Callable[[], _T]], _T]:
    """Retry an SDK call on ``labelbox`` rate-limit errors, doubling the wait each time."""

    def run(action: Callable[[], _T]) -> _T:
        from lbox.exceptions import ApiLimitError

        wait = first_wait_s
        for attempt in range(attempts):
            try:
                return action()
            except ApiLimitError:
                if attempt == attempts - 1:
                    raise
                sleep(wait)
                wait *= 2
        raise AssertionError("unreachable")

    return run


@dataclass
class QueueReport:
    batches: BatchReport
    prelabels: ImportReport | None = None
    queued_keys: list[str] = field(default_factory=list)
    #: the ontology check made first (when an ontology was configured)
    ontology: OntologyCheck | None = None
    #: why pre-labels were not imported (None when they were, or when there were none)
    prelabels_skipped: str | None = None
    #: the project's quality settings compared with the configuration (when one was given)
    consensus: ConsensusCheck | None = None


def queue_for_labeling(
    client: Any,
    project_id: str,
    data_rows: pl.DataFrame,
    prefix: str,
    *,
    already_queued: Iterable[str] = (),
    lesions: pl.DataFrame | None = None,
    lesion_images: pl.DataFrame | None = None,
    names: PrelabelNames = PrelabelNames(),
    consensus: Mapping[str, float] | None = None,
    max_rows: int = 100_000,
    retry: Callable[[Callable[[], Any]], Any] | None = None,
    poll_seconds: int = 10,
    ontology: OntologySpec | None = None,
    quality: ConsensusConfig | None = None,
) -> QueueReport:
    """Queue ``data_rows`` (``global_key`` and optional ``birads``) to the project in batches named
    after ``prefix``, then import pre-labels for the rows that were queued now.

    ``ontology``: checked (created and connected when the project has none) before anything is
    queued; when the project's ontology differs from it, batches are still queued but the
    pre-labels are skipped (their feature names may not exist) and the differences reported.

    ``quality``: the configured consensus settings (:mod:`.consensus`), compared with the
    project's; the batches carry them (instead of ``consensus``) when consensus is on in both,
    and go without consensus settings otherwise (the difference is in the report)."""
    call = retry or with_backoff()
    check = call(lambda: ensure_ontology(client, project_id, ontology)) if ontology else None
    plans = plan_batches(data_rows, prefix, max_rows=max_rows, already_queued=already_queued)
    project = call(lambda: client.get_project(project_id))
    quality_check = None
    if quality is not None:
        quality_check = check_consensus(project, quality)
        consensus = quality.batch_settings() if quality_check.batches_get_consensus else None
    batches = queue_batches(project, plans, consensus=consensus, retry=call)
    refused = {k for keys in batches.failed.values() for k in keys}
    queued = [k for plan in plans for k in plan.global_keys if k not in refused]
    report = QueueReport(batches, None, queued, ontology=check, consensus=quality_check)
    if check is not None and not check.ok and queued and lesions is not None:
        report.prelabels_skipped = differences_text(check)
        return report
    if lesions is not None and lesion_images is not None and queued:
        lines = build_prelabels(lesion_images, lesions, names, global_keys=queued)
        if lines:
            report.prelabels = call(
                lambda: import_prelabels(
                    client, project_id, f"{prefix}-prelabels", lines, poll_seconds=poll_seconds
                )
            )
    return report
