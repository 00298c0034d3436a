"""image_features and inpainted_images: analysis of the de-identified frames of a study date.

Both are specs of the imaging step (:mod:`.imaging_step`); this module holds their keys and
their bodies when one of them is materialized without the de-identification (a subset).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from cadbusi_assets.defs.reporting import attach, run_per_day, ui_progress
from cadbusi_assets.defs.resources import ProcessingResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.stages import analysis as stage
from cadbusi_assets.stages.safety import check_partition_key

#: The assets' keys (their specs are the imaging step's, :mod:`.imaging_step`).
image_features = dg.AssetKey("image_features")
inpainted_images = dg.AssetKey("inpainted_images")

FEATURES_SPEC_ARGS: dict[str, Any] = dict(
    group_name="imaging",
    kinds={"opencv", "parquet"},
    code_version="1",
    description="Per image: field-of-view crop and shape, burned-in annotation OCR (laterality, "
    "clock, distance, orientation), calipers, Doppler, darkness, caliper/clean twins, and the "
    "exclusion reason of every image that fails a quality rule.",
)
INPAINTED_SPEC_ARGS: dict[str, Any] = dict(
    group_name="imaging",
    kinds={"torch", "png"},
    code_version="1",
    description="Caliper-free versions of images with calipers and no clean twin (pixels outside "
    "the caliper mask unchanged), with before/after previews.",
)


def materialize_image_features(
    context: dg.AssetExecutionContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    processing: ProcessingResource,
) -> dg.MaterializeResult:
    """``image_features`` alone: :func:`~cadbusi_assets.stages.analysis.analyze_partition`."""
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

    reports = run_per_day(context, context.partition_keys, one_day, assets=[image_features])
    attach(context, reports, zones.raw(), asset_key=image_features)
    return dg.MaterializeResult(asset_key=image_features)


def materialize_inpainted_images(
    context: dg.AssetExecutionContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    processing: ProcessingResource,
) -> dg.MaterializeResult:
    """``inpainted_images`` alone: :func:`~cadbusi_assets.stages.analysis.inpaint_partition`."""
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

    reports = run_per_day(context, context.partition_keys, one_day, assets=[inpainted_images])
    attach(context, reports, zones.raw(), asset_key=inpainted_images)
    return dg.MaterializeResult(asset_key=inpainted_images)
