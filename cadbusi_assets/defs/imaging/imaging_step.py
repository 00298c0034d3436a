"""The imaging step: ``deidentified_images``, ``image_features`` and ``inpainted_images`` of a
study date in one pass per image (:func:`cadbusi_assets.stages.imaging.process_partition`).

One multi-asset: the three assets keep their keys, lineage, groups, kinds, descriptions,
per-date metadata and raw-zone partition reports, and ``deidentified_images`` its blocking
``no_patient_identifiers`` check. When all three are selected, each instance is decoded once,
its text read once, and it is cleaned, analysed, inpainted and encoded in one worker; the leak
check runs on the date's de-identification tables before any analysis table is written, and a
date with a finding is purged at every research stage and fails alone (for all three assets).
When only some are selected (``image_features`` re-materialized from the UI, say), each
selected asset runs its own stage as before.
"""

from collections.abc import Iterator

import dagster as dg

from cadbusi_assets.defs.imaging.deidentified_images import (
    SPEC_ARGS,
    LeakCheck,
    check_spec,
    deidentified_images,
    materialize_deidentified_images,
)
from cadbusi_assets.defs.imaging.image_analysis import (
    FEATURES_SPEC_ARGS,
    INPAINTED_SPEC_ARGS,
    image_features,
    inpainted_images,
    materialize_image_features,
    materialize_inpainted_images,
)
from cadbusi_assets.defs.imaging.raw_dicom import raw_dicom
from cadbusi_assets.defs.partitions import STUDY_DATE_BACKFILL, study_date_partitions
from cadbusi_assets.defs.reporting import attach, run_per_day, ui_progress
from cadbusi_assets.defs.resources import ProcessingResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.stages import PartitionReport
from cadbusi_assets.stages.imaging import process_partition
from cadbusi_assets.stages.safety import check_partition_key

#: The step's assets in lineage order (also the order of their partition locks).
IMAGING_ASSETS = (deidentified_images, image_features, inpainted_images)


@dg.multi_asset(
    name="imaging_step",
    specs=[
        dg.AssetSpec(deidentified_images, deps=[raw_dicom], **SPEC_ARGS),
        dg.AssetSpec(image_features, deps=[deidentified_images], **FEATURES_SPEC_ARGS),
        dg.AssetSpec(inpainted_images, deps=[image_features], **INPAINTED_SPEC_ARGS),
    ],
    check_specs=[check_spec()],
    partitions_def=study_date_partitions,
    backfill_policy=STUDY_DATE_BACKFILL,
    can_subset=True,
)
def imaging_step(
    context: dg.AssetExecutionContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    processing: ProcessingResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    selected = context.selected_asset_keys
    wants_check = bool(context.selected_asset_check_keys)
    if selected != set(IMAGING_ASSETS):
        if deidentified_images in selected:
            for result in materialize_deidentified_images(
                context, zones, pseudonym_key, processing
            ):
                if wants_check or not isinstance(result, dg.AssetCheckResult):
                    yield result
        if image_features in selected:
            yield materialize_image_features(context, zones, pseudonym_key, processing)
        if inpainted_images in selected:
            yield materialize_inpainted_images(context, zones, pseudonym_key, processing)
        return

    raw, research = zones.raw(), zones.research()
    pseudonymizer = pseudonym_key.pseudonymizer(zones)
    leaks = LeakCheck(research, pseudonymizer)
    analysed: dict[str, tuple[PartitionReport, PartitionReport]] = {}

    def one_day(day: str) -> PartitionReport:
        check_partition_key(raw, research, day, pseudonymizer)
        result = process_partition(
            raw,
            research,
            pseudonymizer,
            day,
            profile=processing.deid_profile,
            frame_step=processing.cine_frame_step,
            ocr=processing.ocr,
            inpaint_method=processing.inpaint_method,
            workers=processing.worker_count,
            progress=ui_progress(context),
            after_deidentification=lambda done: leaks.scan(day, done.identifiers),
        )
        analysed[day] = (result.features, result.inpainting)
        return result.deidentification.report

    try:
        delivered = run_per_day(context, context.partition_keys, one_day, assets=IMAGING_ASSETS)
    except dg.Failure:
        leaks.log_failure(context)
        raise
    # No research batch name in the metadata: it would map each opaque batch to its real date.
    attach(context, delivered, raw, asset_key=deidentified_images)
    attach(context, {d: analysed[d][0] for d in delivered}, raw, asset_key=image_features)
    attach(context, {d: analysed[d][1] for d in delivered}, raw, asset_key=inpainted_images)
    yield dg.MaterializeResult(asset_key=deidentified_images)
    if wants_check:
        yield leaks.result(len(delivered))
    yield dg.MaterializeResult(asset_key=image_features)
    yield dg.MaterializeResult(asset_key=inpainted_images)
