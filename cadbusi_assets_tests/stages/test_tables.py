"""The table registry (:mod:`cadbusi_assets.stages.tables`): every stage's table constant is
registered with its owning stage, and a written table has exactly the registered schema."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.identity.audit import EXPORT_AUDIT_TABLE, REIDENTIFICATION_AUDIT_TABLE
from cadbusi_assets.identity.reidentify import LINKS_TABLE
from cadbusi_assets.stages import analysis, deidentification, labeling, records, retrieval, safety
from cadbusi_assets.stages import tables as registry
from cadbusi_assets.storage import open_zone, read_partition_table


def test_every_stage_table_constant_is_registered_with_its_owning_stage():
    expected = {
        (registry.RAW, records.RADIOLOGY_TABLE): "records",
        (registry.RAW, records.PATHOLOGY_TABLE): "records",
        (registry.RAW, records.COHORT_TABLE): "records",
        (registry.RAW, records.COHORT_EXCLUSIONS_TABLE): "records",
        (registry.RAW, retrieval.INSTANCES_TABLE): "retrieval",
        (registry.RAW, retrieval.STUDIES_TABLE): "retrieval",
        (registry.RAW, retrieval.CONFLICTS_TABLE): "retrieval",
        (registry.RAW, retrieval.REMOVED_TABLE): "retrieval",
        (registry.RAW, retrieval.HANDOVERS_TABLE): "retrieval",
        (registry.RAW, retrieval.RESOLVED_TABLE): "retrieval",
        (registry.RAW, retrieval.UNRESOLVED_TABLE): "retrieval",
        (registry.RAW, safety.KEY_FINGERPRINTS_TABLE): "safety",
        (registry.RESEARCH, safety.KEY_FINGERPRINTS_TABLE): "safety",
        (registry.RAW, LINKS_TABLE): "deidentification",
        (registry.RAW, deidentification.RAW_QUARANTINE_TABLE): "deidentification",
        (registry.RESEARCH, deidentification.INSTANCES_TABLE): "deidentification",
        (registry.RESEARCH, deidentification.IMAGES_TABLE): "deidentification",
        (registry.RESEARCH, deidentification.QUARANTINE_TABLE): "deidentification",
        (registry.RESEARCH, deidentification.STUDIES_TABLE): "deidentification",
        (registry.RESEARCH, analysis.FEATURES_TABLE): "analysis",
        (registry.RESEARCH, analysis.TWINS_TABLE): "analysis",
        (registry.RESEARCH, analysis.INPAINTED_TABLE): "analysis",
        (registry.RESEARCH, labeling.DATA_ROWS_TABLE): "labeling",
        (registry.RAW, EXPORT_AUDIT_TABLE): "identity.audit",
        (registry.RAW, REIDENTIFICATION_AUDIT_TABLE): "identity.audit",
    }
    assert {k: t.stage for k, t in registry.TABLES.items()} == expected
    for (zone, name), table in registry.TABLES.items():
        assert (table.zone, table.name) == (zone, name)
        assert table.key and set(table.key) <= set(table.schema), name


def test_write_table_keeps_types_of_all_null_columns_and_refuses_other_columns(tmp_path):
    zone = open_zone(tmp_path / "research", "research").ensure()
    frame = pl.DataFrame(
        {"caliper_image_id": ["a"], "clean_image_id": [None], "distance": [None]}
    )  # polars infers Null for the two empty columns
    registry.write_table(zone, registry.RESEARCH, "twins", "b1", frame)
    stored = read_partition_table(zone, "twins", "b1")
    assert stored is not None
    assert stored.schema == registry.table("twins", registry.RESEARCH).schema
    registry.write_table(zone, registry.RESEARCH, "twins", "b2", pl.DataFrame())  # no rows
    assert read_partition_table(zone, "twins", "b2").schema == stored.schema
    with pytest.raises(registry.TableSchemaError, match="not in the registry"):
        registry.write_table(
            zone, registry.RESEARCH, "twins", "b3", frame.with_columns(extra=pl.lit(1))
        )
    with pytest.raises(registry.TableSchemaError, match="missing"):
        registry.write_table(zone, registry.RESEARCH, "twins", "b3", frame.drop("distance"))
    with pytest.raises(KeyError):
        registry.table("no_such_table", registry.RESEARCH)
