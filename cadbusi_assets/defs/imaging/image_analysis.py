"""image_features and inpainted_images: analysis of the de-identified frames of a study date."""

from typing import Any

import dagster as dg

from cadbusi_assets.defs.imaging.deidentified_images import deidentified_images
from cadbusi_assets.defs.partitions import STUDY_DATE_BACKFILL, study_date_partitions
from cadbusi_assets.defs.reporting import materialize_per_day, ui_progress
from cadbusi_assets.defs.resources import ProcessingResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.stages import analysis as stage
from cadbusi_assets.stages.safety import check_partition_key

COMMON: dict[str, Any] = dict(
    partitions_def=study_date_partitions,
    backfill_policy=STUDY_DATE_BACKFILL,
    group_name="imaging",
)


@dg.asset(
    **COMMON,
    deps=[deidentified_images],
    kinds={"opencv", "parquet"},
    code_version="1",
    description="Per image: field-of-view crop and shape, burned-in annotation OCR (laterality, "
    "clock, distance, orientation), calipers, Doppler, darkness, caliper/clean twins, and the "
    "exclusion reason of every image that fails a quality rule.",
)
def image_features(
    context: dg.AssetExecutionContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    processing: ProcessingResource,
) -> dg.MaterializeResult:
    research = zones.research()
    pseudonymizer = pseudonym_key.pseudonymizer(zones)

    def one_day(day: str):
        check_partition_key(None, research, day, pseudonymizer)
        return stage.analyze_partition(
            research,
            pseudonymizer.batch_name(day),
            ocr=processing.ocr,
            workers=processing.worker_count,
            progress=ui_progress(context),
        )

    return materialize_per_day(context, one_day, zones.raw())


@dg.asset(
    **COMMON,
    deps=[image_features],
    kinds={"torch", "png"},
    code_version="1",
    description="Caliper-free versions of images with calipers and no clean twin (pixels outside "
    "the caliper mask unchanged), with before/after previews.",
)
def inpainted_images(
    context: dg.AssetExecutionContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    processing: ProcessingResource,
) -> dg.MaterializeResult:
    research = zones.research()
    pseudonymizer = pseudonym_key.pseudonymizer(zones)

    def one_day(day: str):
        check_partition_key(None, research, day, pseudonymizer)
        return stage.inpaint_partition(
            research,
            pseudonymizer.batch_name(day),
            method=processing.inpaint_method,
            workers=processing.worker_count,
            progress=ui_progress(context),
        )

    return materialize_per_day(context, one_day, zones.raw())
