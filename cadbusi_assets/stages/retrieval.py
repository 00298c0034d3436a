"""Retrieval stage: the day's cohort from the PACS into the raw zone, with a manifest.

Outputs (raw zone): the instance files under ``dicom/<day>/...`` and the manifest tables
``tables/retrieval_instances/<day>`` and ``tables/retrieval_studies/<day>``.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.pacs import Pacs, retrieve_studies
from cadbusi_assets.stages.records import COHORT_TABLE
from cadbusi_assets.stages.report import PartitionReport, reason_counts, throttled
from cadbusi_assets.storage import Zone, read_partition_table, write_partition_table

INSTANCES_TABLE = "retrieval_instances"
STUDIES_TABLE = "retrieval_studies"


def retrieve_partition(
    pacs: Pacs,
    raw_zone: Zone,
    pseudonymizer: Pseudonymizer,
    day: str,
    *,
    concurrency: int = 4,
    progress: Callable[[str], None] | None = None,
) -> PartitionReport:
    cohort = read_partition_table(raw_zone, COHORT_TABLE, day)
    if cohort is None:
        raise FileNotFoundError(f"imaging_studies for {day} is missing; materialize it first.")
    previous = read_partition_table(raw_zone, INSTANCES_TABLE, day)
    studies = cohort.select("study_instance_uid", "accession_number")
    result = retrieve_studies(
        pacs,
        studies,
        raw_zone,
        day,
        pseudonymizer,
        previous=previous,
        concurrency=concurrency,
        progress=throttled(progress),
    )
    instances = result.instances.sort(["study_key", "instance_key"])
    study_rows = result.studies.sort("study_key")
    # The tables record the partition's state, not what this run did: a file found in place is
    # simply "stored" and attempt counts go to the metadata, so a re-run writes identical tables.
    state = instances.with_columns(
        status=pl.when(pl.col("status") == "already_present")
        .then(pl.lit("stored"))
        .otherwise(pl.col("status"))
    ).drop("attempts", strict=False)
    write_partition_table(raw_zone, INSTANCES_TABLE, day, state)
    write_partition_table(raw_zone, STUDIES_TABLE, day, study_rows)

    report = PartitionReport(day, row_count=instances.height)
    status = instances["status"] if instances.height else pl.Series([], dtype=pl.Utf8)
    report.count("studies", study_rows.height)
    report.count("studies_complete", int(study_rows["complete"].sum()) if study_rows.height else 0)
    report.count("instances_expected", instances.height)
    report.count("instances_fetched", int((status == "stored").sum()))
    report.count("instances_already_present", int((status == "already_present").sum()))
    report.count("instances_failed", int((status == "failed").sum()))
    report.count(
        "bytes_stored",
        int(instances.filter(pl.col("status") != "failed")["size_bytes"].sum())
        if instances.height
        else 0,
    )
    if "attempts" in instances.columns and instances.height:
        report.count("fetch_attempts", int(instances["attempts"].fill_null(0).sum()))
    failed = instances.filter(pl.col("status") == "failed") if instances.height else instances
    for reason, n in reason_counts(failed, "reason").items():
        report.count(f"failed: {reason}", n)
    noted = instances.filter(pl.col("status") != "failed") if instances.height else instances
    for reason, n in reason_counts(noted, "reason").items():
        report.count(f"stored with a note: {reason}", n)
    incomplete = study_rows.filter(~pl.col("complete")) if study_rows.height else study_rows
    if incomplete.height:
        report.add_problem(f"{incomplete.height} of {study_rows.height} studies are incomplete")
        report.tables["incomplete_studies"] = incomplete.select(
            "study_key", "expected", "stored", "failed", "reason"
        )
    if study_rows.height and incomplete.height == study_rows.height:
        report.failed = instances.filter(pl.col("status") != "failed").height == 0
    return report
