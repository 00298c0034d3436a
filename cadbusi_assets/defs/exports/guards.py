"""When an export must refuse its catalog, read from the Dagster instance.

An export is cut from ``metadata_db`` (the DuckDB catalog). It refuses — fails before writing
anything — when

* ``metadata_db`` has never been materialized;
* the latest evaluation of a blocking check of the catalog (``metadata_db.unique_keys``), or of
  an unpartitioned asset the catalog reads (``diagnosis_labels``, ``labelbox_labels``), failed,
  is still running, or did not check the latest materialization;
* the catalog is older than its inputs: an asset it reads (any study date of
  ``deidentified_images``, ``image_features``, ``inpainted_images``, ``labelbox_data_rows``, or
  ``diagnosis_labels`` / ``labelbox_labels``) was materialized after the catalog, or
  ``diagnosis_labels`` is older than the records it is built from. The catalog would not hold
  what the export's lineage names (say, a newer label set).

Order is the event log's storage id (monotonic on one instance), not wall clocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import PARTITION_NAME_TAG

CATALOG_KEY = dg.AssetKey("metadata_db")
EXPORT_KEY = dg.AssetKey("dataset_export")
EXPORT_JOB_NAME = "dataset_export_job"
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _last_materializations(
    instance: dg.DagsterInstance, keys: Iterable[dg.AssetKey]
) -> dict[dg.AssetKey, int]:
    """Storage id of the latest materialization (any partition) of each key that has one."""
    out: dict[dg.AssetKey, int] = {}
    for record in instance.get_asset_records(list(keys)):
        entry = record.asset_entry
        if entry.last_materialization_record is not None:
            out[entry.asset_key] = entry.last_materialization_record.storage_id
    return out


def _checked_assets(graph: BaseAssetGraph, catalog: dg.AssetKey) -> list[dg.AssetKey]:
    """The catalog and the unpartitioned assets it reads, transitively through unpartitioned
    assets (partitioned assets are checked per date by their own runs)."""
    seen: list[dg.AssetKey] = []
    todo = [catalog]
    while todo:
        key = todo.pop()
        if key in seen or not graph.has(key):
            continue
        seen.append(key)
        todo.extend(
            parent
            for parent in sorted(graph.get(key).parent_keys)
            if graph.has(parent) and not graph.get(parent).is_partitioned
        )
    return seen


def catalog_inputs(graph: BaseAssetGraph, catalog: dg.AssetKey = CATALOG_KEY) -> set[dg.AssetKey]:
    """The catalog, the unpartitioned assets it reads, and the assets those read directly."""
    checked = _checked_assets(graph, catalog)
    parents = {p for key in checked for p in graph.get(key).parent_keys if graph.has(p)}
    return {*checked, *parents}


def _check_refusals(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    specs: Sequence[dg.AssetCheckKey],
    materialized: dict[dg.AssetKey, int],
) -> list[str]:
    if not specs or key not in materialized:
        return []
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(specs))
    problems = []
    for check_key in specs:
        name = f"{key.to_user_string()}.{check_key.name}"
        record = latest.get(check_key)
        if record is None:
            problems.append(f"the blocking check {name} has never been evaluated")
            continue
        if record.status == AssetCheckExecutionRecordStatus.PLANNED:
            problems.append(f"the blocking check {name} has not finished (run {record.run_id[:8]})")
            continue
        evaluation = record.event.asset_check_evaluation if record.event else None
        if record.status == AssetCheckExecutionRecordStatus.FAILED or (
            evaluation is not None and not evaluation.passed
        ):
            problems.append(
                f"the latest evaluation of the blocking check {name} failed "
                f"(run {record.run_id[:8]})"
            )
            continue
        target = evaluation.target_materialization_data if evaluation else None
        if target is not None and target.storage_id < materialized[key]:
            problems.append(
                f"the latest {key.to_user_string()} was not checked by {name} "
                f"(the check ran on an earlier materialization)"
            )
    return problems


def _is_blocking(graph: BaseAssetGraph, check_key: dg.AssetCheckKey) -> bool:
    return graph.has(check_key) and graph.get(check_key).blocking


def blocking_checks(graph: BaseAssetGraph, keys: Iterable[dg.AssetKey]) -> set[dg.AssetCheckKey]:
    """The blocking checks of ``keys`` that ``graph`` knows (a job's graph may lack checks
    outside the job: pass those to :func:`catalog_refusals` as ``extra_checks``)."""
    return {
        c
        for key in keys
        if graph.has(key)
        for c in graph.get(key).check_keys
        if _is_blocking(graph, c)
    }


def catalog_refusals(
    instance: dg.DagsterInstance,
    graph: BaseAssetGraph,
    catalog: dg.AssetKey = CATALOG_KEY,
    extra_checks: Iterable[dg.AssetCheckKey] = (),
) -> list[str]:
    """Why an export must not be cut from the catalog now (empty: it may)."""
    checked = _checked_assets(graph, catalog)
    checks = blocking_checks(graph, checked) | set(extra_checks)
    materialized = _last_materializations(instance, catalog_inputs(graph, catalog))
    if catalog not in materialized:
        return [f"{catalog.to_user_string()} has never been materialized"]
    problems: list[str] = []
    for key in checked:
        specs = sorted((c for c in checks if c.asset_key == key), key=lambda c: c.name)
        problems += _check_refusals(instance, key, specs, materialized)
    for key in checked:
        if key not in materialized:
            continue
        newer = sorted(
            parent.to_user_string()
            for parent in graph.get(key).parent_keys
            if materialized.get(parent, -1) > materialized[key]
        )
        if newer:
            problems.append(
                f"{key.to_user_string()} is older than its inputs ({', '.join(newer)} "
                "materialized since)"
            )
    return problems


def refusal_message(problems: Sequence[str]) -> str:
    return (
        "Refusing to cut an export from this catalog: "
        + "; ".join(problems)
        + ". Rebuild the catalog (materialize diagnosis_labels and metadata_db, or let "
        "automation do it), make its checks pass, then launch the export again. Nothing "
        "was written."
    )


def launched_export_partitions(
    instance: dg.DagsterInstance, keys: Sequence[str], partitions_def: dg.PartitionsDefinition
) -> set[str]:
    """The export partitions among ``keys`` that someone already launched: materialized, or
    with a run of ``dataset_export`` that is queued, running, failed or done (a run creates its
    planned materialization when it is submitted, before it starts)."""
    if not keys:
        return set()
    statuses = instance.get_status_by_partition(EXPORT_KEY, list(keys), partitions_def)
    launched = {k for k, status in (statuses or {}).items() if status is not None}
    launched |= instance.get_materialized_partitions(EXPORT_KEY) & set(keys)
    for key in set(keys) - launched:
        runs = instance.get_run_records(
            filters=dg.RunsFilter(tags={PARTITION_NAME_TAG: key}), limit=50
        )
        if any(_builds_export(record.dagster_run) for record in runs):
            launched.add(key)
    return launched


def _builds_export(run: dg.DagsterRun) -> bool:
    if run.asset_selection is not None:
        return EXPORT_KEY in run.asset_selection
    return run.job_name == EXPORT_JOB_NAME


def earlier_export_run(instance: dg.DagsterInstance, key: str, run_id: str) -> str | None:
    """Another unfinished run that builds export ``key`` and was created before run ``run_id``
    (two launches of one partition: the first one builds, the later one steps aside)."""
    this = instance.get_run_record_by_id(run_id)
    if this is None:
        return None
    others = instance.get_run_records(
        filters=dg.RunsFilter(tags={PARTITION_NAME_TAG: key}, statuses=UNFINISHED), limit=50
    )
    earlier = [
        r
        for r in others
        if r.dagster_run.run_id != run_id
        and _builds_export(r.dagster_run)
        and (r.create_timestamp, r.dagster_run.run_id) < (this.create_timestamp, run_id)
    ]
    return min(earlier, key=lambda r: r.create_timestamp).dagster_run.run_id if earlier else None
