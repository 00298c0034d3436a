"""Records group: warehouse rows per study date, the imaging cohort, per-breast labels."""

from typing import Any

import dagster as dg

from cadbusi_assets.defs.automation.conditions import after_upstream_updates
from cadbusi_assets.defs.partitions import STUDY_DATE_BACKFILL, study_date_partitions
from cadbusi_assets.defs.reporting import attach, report_metadata, run_for_days
from cadbusi_assets.defs.resources import PseudonymKeyResource, WarehouseResource, ZonesResource
from cadbusi_assets.stages import records as stage
from cadbusi_assets.stages.safety import check_key_fingerprint, record_key_fingerprint

COMMON: dict[str, Any] = dict(
    partitions_def=study_date_partitions,
    group_name="records",
    backfill_policy=STUDY_DATE_BACKFILL,
)


@dg.asset(
    **COMMON,
    kinds={"sql", "parquet"},
    code_version="1",
    description="Breast radiology exams of the study date from the warehouse, with parsed "
    "BI-RADS, laterality, sections and lexicon (raw zone, PHI).",
)
def radiology_reports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, zones: ZonesResource
) -> dg.MaterializeResult:
    with warehouse.open() as wh:
        reports = run_for_days(
            context, lambda days: stage.load_radiology_reports(wh, zones.raw(), days)
        )
    attach(context, reports, zones.raw())
    return dg.MaterializeResult()


@dg.asset(
    **COMMON,
    kinds={"sql", "parquet"},
    code_version="1",
    description="Breast pathology specimens of the specimen date, split into lettered parts "
    "with laterality and interpretation (raw zone, PHI).",
)
def pathology_reports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, zones: ZonesResource
) -> dg.MaterializeResult:
    with warehouse.open() as wh:
        reports = run_for_days(
            context, lambda days: stage.load_pathology_reports(wh, zones.raw(), days)
        )
    attach(context, reports, zones.raw())
    return dg.MaterializeResult()


@dg.asset(
    **COMMON,
    deps=[radiology_reports],
    kinds={"polars", "parquet"},
    code_version="1",
    description="The cohort: ultrasound breast studies to retrieve for the study date, and every "
    "excluded exam with its reason (raw zone, PHI).",
)
def imaging_studies(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, zones: ZonesResource
) -> dg.MaterializeResult:
    with warehouse.open() as wh:
        reports = run_for_days(
            context, lambda days: stage.select_imaging_studies(wh, zones.raw(), days)
        )
    attach(context, reports, zones.raw())
    return dg.MaterializeResult()


@dg.asset(
    deps=[
        dg.AssetDep(radiology_reports, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(pathology_reports, partition_mapping=dg.AllPartitionMapping()),
    ],
    group_name="records",
    kinds={"polars", "parquet"},
    code_version="1",
    automation_condition=after_upstream_updates(),
    description="Per-breast diagnosis labels with evidence codes over all dates (rules need "
    "history across dates); pseudonymized copy in the research zone.",
)
def diagnosis_labels(
    zones: ZonesResource, pseudonym_key: PseudonymKeyResource
) -> dg.MaterializeResult:
    pseudonymizer = pseudonym_key.pseudonymizer(zones)
    research = zones.research()
    check_key_fingerprint(research, "diagnosis_labels", pseudonymizer.key_fingerprint)
    report = stage.build_diagnosis_labels(zones.raw(), research, pseudonymizer)
    record_key_fingerprint(research, "diagnosis_labels", pseudonymizer.key_fingerprint)
    return dg.MaterializeResult(metadata=report_metadata(report))
