"""Every table the whole graph writes (the session's demo run: every study date, labels,
catalog, an export) is in the registry (:mod:`cadbusi_assets.stages.tables`) with exactly its
registered schema."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.stages import tables as registry
from cadbusi_assets.storage import open_zone

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pipeline")]


def test_every_table_of_the_demo_run_is_registered_with_its_schema(pipeline):
    found = {}
    for kind, root in (
        (registry.RAW, pipeline.env.raw),
        (registry.RESEARCH, pipeline.env.research),
    ):
        zone = open_zone(root, kind)
        for path in zone.iter_files("tables", suffix=".parquet"):
            name = zone.relative(path).split("/")[1]
            table = registry.TABLES.get((kind, name))
            assert table is not None, f"{kind} table {name} is not in the registry"
            schema = pl.read_parquet(path.read_bytes()).schema
            assert schema == table.schema, f"{kind} table {name}: {path.name}"
            found[(kind, name)] = table.stage
    stages = set(found.values())
    assert {"records", "retrieval", "deidentification", "analysis", "labeling"} <= stages
