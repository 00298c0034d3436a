"""Exports group: a dated, immutable training export per `exports` partition."""

import dagster as dg

from cadbusi_assets import __version__
from cadbusi_assets.defs.catalog.assets import metadata_db
from cadbusi_assets.defs.partitions import export_partitions
from cadbusi_assets.defs.resources import ProcessingResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.exports import ExportConfig, build_export, verify_export
from cadbusi_assets.stages.labeling import current_label_set_version


class ExportRunConfig(dg.Config):
    include_unlabeled: bool = True
    include_cine_frames: bool = True
    include_excluded: bool = False
    crop_to_field_of_view: bool = True
    use_inpainted: bool = True
    prefer_clean_twin: bool = True
    split_salt: str = "cadbusi-v1"


@dg.asset(
    partitions_def=export_partitions,
    deps=[metadata_db],
    group_name="exports",
    kinds={"parquet", "png"},
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(
            "export_files_verified",
            asset="dataset_export",
            blocking=True,
            description="Every file in SHA256SUMS is present and unchanged and every "
            "manifest row points at an image on disk.",
        )
    ],
    description="Immutable dated export: cropped images, masks, manifest, MIL bags, VLM pairs, "
    "config, lineage and a dataset card with plots. Add a partition (e.g. today's date) to cut one.",
)
def dataset_export(
    context: dg.AssetExecutionContext,
    config: ExportRunConfig,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    processing: ProcessingResource,
) -> dg.MaterializeResult:
    research = zones.research()
    key = context.partition_key
    export_config = ExportConfig(key=key, **config.model_dump())
    lineage = {
        "export_key": key,
        "code_version": __version__,
        "deidentification_profile": processing.deid_profile,
        "label_set_version": current_label_set_version(research),
        "pseudonym_key_fingerprint": pseudonym_key.pseudonymizer(zones).key_fingerprint,
    }
    report = build_export(research, export_config, lineage, workers=processing.worker_count)
    problems = verify_export(research, key)
    location = (
        research.local_path(*report.path.split("/"))
        if research.local
        else research.path(report.path)
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.images,
            "path": dg.MetadataValue.path(str(location)),
            "images": report.images,
            "bags": report.bags,
            "patients": report.patients,
            "digest": report.digest,
            "already_existed": report.already_existed,
            "splits": dg.MetadataValue.json(report.splits),
            "labels": dg.MetadataValue.json(report.labels),
            "left_out": dg.MetadataValue.md(
                "\n".join(f"- {k}: {v}" for k, v in report.dropped.items()) or "nothing"
            ),
        },
        data_version=dg.DataVersion(report.digest),
        check_results=[
            dg.AssetCheckResult(
                check_name="export_files_verified",
                passed=not problems,
                metadata={
                    "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")
                },
            )
        ],
    )
