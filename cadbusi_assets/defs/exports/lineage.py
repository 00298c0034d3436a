"""What an export's ``lineage.json`` lists as upstream: for every asset the catalog is built
from (and the catalog itself), the latest materialization of each partition — its data version
and the run that made it — read from the Dagster instance and handed to the domain code as plain
dicts (``cadbusi_assets.exports`` never imports Dagster)."""

from __future__ import annotations

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
