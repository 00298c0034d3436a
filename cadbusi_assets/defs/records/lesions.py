"""lesions: report lesions linked to images (OCR'd location, calipers) and pathology parts."""

import dagster as dg

from cadbusi_assets.defs.automation.conditions import after_upstream_updates
from cadbusi_assets.defs.imaging.image_analysis import image_features
from cadbusi_assets.defs.records.assets import diagnosis_labels, pathology_reports
from cadbusi_assets.defs.reporting import report_metadata
from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
from cadbusi_assets.stages.lesions import build_lesions
from cadbusi_assets.stages.safety import check_key_fingerprint, record_key_fingerprint


@dg.asset(
    deps=[
        dg.AssetDep(image_features, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(pathology_reports, partition_mapping=dg.AllPartitionMapping()),
        diagnosis_labels,
    ],
    group_name="records",
    kinds={"polars", "parquet"},
    code_version="1",
    automation_condition=after_upstream_updates(needs=image_features),
    description="One row per lesion described in a report (side, clock, distance from the "
    "nipple, size, descriptors) with the pathology part it was sampled in, and one row per image "
    "showing it (match score, evidence, lesion box from the calipers); research zone, "
    "lesions/lesions.parquet and lesions/lesion_images.parquet.",
)
def lesions(zones: ZonesResource, pseudonym_key: PseudonymKeyResource) -> dg.MaterializeResult:
    pseudonymizer = pseudonym_key.pseudonymizer(zones)
    research = zones.research()
    # the raw reports and pathology are pseudonymized here to meet the research images: with
    # another key nothing would match, and the lesions would be rewritten without them
    check_key_fingerprint(research, "lesions", pseudonymizer.key_fingerprint)
    report = build_lesions(zones.raw(), research, pseudonymizer)
    record_key_fingerprint(research, "lesions", pseudonymizer.key_fingerprint)
    return dg.MaterializeResult(metadata=report_metadata(report))
