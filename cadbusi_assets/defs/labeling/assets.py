"""Labeling group: de-identified images out to Labelbox, labels back in (sensor-driven)."""

import contextlib

import dagster as dg

from cadbusi_assets.defs.imaging.image_analysis import image_features, inpainted_images
from cadbusi_assets.defs.partitions import STUDY_DATE_BACKFILL, study_date_partitions
from cadbusi_assets.defs.reporting import materialize_per_day, report_metadata, step_lock_dirs
from cadbusi_assets.defs.resources import LabelSourceResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.labeling.releases import ReleasePolicy
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.stages.locks import partition_lock
from cadbusi_assets.stages.safety import check_partition_key, withdrawn_patients


@dg.asset(
    partitions_def=study_date_partitions,
    backfill_policy=STUDY_DATE_BACKFILL,
    deps=[image_features, inpainted_images],
    group_name="labeling",
    kinds={"labelbox"},
    code_version="1",
    description="The day's usable de-identified images as Labelbox data rows (global key = "
    "image id; inpainted version when the image had calipers), sent in releases that mix "
    "several dates (CADBUSI_LABELBOX_RELEASE_DATES / _IMAGES); until then listed as waiting.",
)
def labelbox_data_rows(
    context: dg.AssetExecutionContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    labelbox: LabelSourceResource,
) -> dg.MaterializeResult:
    research = zones.research()
    pseudonymizer = pseudonym_key.pseudonymizer(zones)
    source = labelbox.open()

    withdrawn: list[frozenset[str]] = []  # read once a run (a failure: each date's reason)

    def one_day(day: str):
        check_partition_key(None, research, day, pseudonymizer)
        if not withdrawn:
            withdrawn.append(withdrawn_patients(zones.raw(), pseudonymizer))
        # a release writes the tables of every date it holds: one date's sending at a time
        # (each date at once, the dates' runs send side by side as before)
        release = (
            contextlib.nullcontext()
            if ReleasePolicy.from_env().immediate
            else partition_lock(stage.RELEASE_LOCK, "release", lock_dirs=step_lock_dirs(context))
        )
        with release:
            return stage.send_data_rows(
                research, source, pseudonymizer.batch_name(day), withdrawn=withdrawn[0]
            )

    return materialize_per_day(context, one_day, zones.raw())


class LabelIngestConfig(dg.Config):
    full_reconciliation: bool = True
    """Re-read the whole export and drop labels deleted at the source (else: incremental)."""


@dg.asset(
    group_name="labeling",
    kinds={"labelbox", "parquet"},
    code_version="1",
    description="Normalized, versioned label tables (labels, objects, classification answers) "
    "from Labelbox exports; a new label_set_version whenever the content changes.",
)
def labelbox_labels(
    config: LabelIngestConfig,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    labelbox: LabelSourceResource,
) -> dg.MaterializeResult:
    report = stage.ingest_labels(
        zones.research(),
        labelbox.open(),
        full=config.full_reconciliation,
        pseudonymizer=pseudonym_key.pseudonymizer(zones),
    )
    version = report.tables["label_set"]["label_set_version"][0]
    return dg.MaterializeResult(
        metadata=report_metadata(report) | {"label_set_version": version},
        data_version=dg.DataVersion(version),
    )
