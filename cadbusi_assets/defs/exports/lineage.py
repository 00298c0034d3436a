"""What an export's ``lineage.json`` lists as upstream: for every asset the catalog is built
from (and the catalog itself), the latest materialization of each partition — its data version
and the run that made it — read from the Dagster instance and handed to the domain code as plain
dicts (``cadbusi_assets.exports`` never imports Dagster).

The study dates whose images are in the research zone are named too when this instance did not
materialize them (a second ``$DAGSTER_HOME`` on the same zones, an instance moved to
PostgreSQL, a wiped event log): with no data version or run
(:func:`cadbusi_assets.exports.lineage.data_dates`), so that the
export's lineage and audit still say which dates it holds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.data_version import DATA_VERSION_TAG

from cadbusi_assets.defs.exports.guards import CATALOG_KEY, catalog_inputs

PAGE = 1000


def _latest_per_partition(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[dict[str, Any]]:
    seen: dict[str | None, dict[str, Any]] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(key, limit=PAGE, cursor=cursor)
        for record in page.records:  # newest first
            partition = record.partition_key
            if partition in seen:
                continue
            materialization = record.asset_materialization
            tags = materialization.tags if materialization is not None else {}
            seen[partition] = {
                "asset": key.to_user_string(),
                "partition": partition,
                "data_version": (tags or {}).get(DATA_VERSION_TAG),
                "run_id": record.run_id,
            }
        if not page.has_more:
            break
        cursor = page.cursor
    return [seen[p] for p in sorted(seen, key=lambda p: p or "")]


def upstream_lineage(
    instance: dg.DagsterInstance, graph: BaseAssetGraph, catalog: dg.AssetKey = CATALOG_KEY
) -> list[dict[str, Any]]:
    """``asset``, ``partition`` (study date or None), ``data_version``, ``run_id`` for the
    catalog and everything it reads (see :func:`~.guards.catalog_inputs`)."""
    return [
        entry
        for key in sorted(catalog_inputs(graph, catalog))
        for entry in _latest_per_partition(instance, key)
    ]


def with_data_dates(
    upstream: list[dict[str, Any]], graph: BaseAssetGraph, days: Iterable[str]
) -> list[dict[str, Any]]:
    """``upstream`` and, for every study-date partitioned asset it lists or the catalog reads,
    an entry for each of ``days`` this instance has no materialization of (no data version,
    no run: unknown here)."""
    days = list(days)
    partitioned = sorted(
        key.to_user_string()
        for key in catalog_inputs(graph)
        if graph.has(key) and graph.get(key).partitions_def is not None
    )
    have = {(entry["asset"], entry["partition"]) for entry in upstream}
    extra = [
        {"asset": asset, "partition": day, "data_version": None, "run_id": None}
        for asset in partitioned
        for day in days
        if (asset, day) not in have
    ]
    return sorted([*upstream, *extra], key=lambda e: (str(e["asset"]), e["partition"] or ""))
