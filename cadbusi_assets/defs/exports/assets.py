"""Exports group: a dated, immutable training export per `exports` partition."""

from collections.abc import Sequence
from typing import NoReturn

import dagster as dg
from dagster_shared.check import CheckError

from cadbusi_assets import __version__
from cadbusi_assets.catalog import catalog_problems, open_catalog, read_catalog_info
from cadbusi_assets.defs.catalog.assets import metadata_db
from cadbusi_assets.defs.exports.guards import (
    catalog_refusals,
    earlier_export_run,
    refusal_message,
)
from cadbusi_assets.defs.exports.lineage import upstream_lineage, with_data_dates
from cadbusi_assets.defs.partitions import ExportKeyError, check_export_key, export_partitions
from cadbusi_assets.defs.records.lesions import lesions
from cadbusi_assets.defs.resources import ProcessingResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.exports import ExportConfig, build_export, verify_export
from cadbusi_assets.exports.build import WITHDRAWN_REASON, ExportRefusedError
from cadbusi_assets.exports.lineage import (
    data_dates,
    lineage_seal,
    raw_lineage_document,
    write_raw_lineage,
)
from cadbusi_assets.identity.audit import read_audit, record_export_audit
from cadbusi_assets.identity.optout import OPT_OUT_ENV_VAR
from cadbusi_assets.stages.labeling import current_label_set_version
from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.stages.safety import check_key_fingerprint, withdrawn_patients

#: The asset whose partitions are the study dates an export's images come from.
STUDY_DATE_ASSET = dg.AssetKey("deidentified_images")


def _refuse(
    context: dg.AssetExecutionContext, message: str, reasons: Sequence[str] = ()
) -> NoReturn:
    """Fail the step with ``message`` (also logged, so `cadbusi export` prints it)."""
    context.log.error(message)
    raise dg.Failure(
        description=message,
        metadata={"reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in reasons) or message)},
        allow_retries=False,
    )


def _asset_graph(context: dg.AssetExecutionContext):
    """The whole asset graph: the code location's (runs launched from the UI, daemon or CLI),
    else the one the job was cut from (``source_asset_graph``; a job's own graph holds only its assets and their direct
    parents, without their checks)."""
    try:
        return context.repository_def.asset_graph
    except CheckError:  # "No repository definition was set on the step context"
        return context.job_def.asset_layer.asset_graph.source_asset_graph


def _catalog_label_set(research) -> str | None:
    """The label set the catalog was built from (what the export really contains); for a
    catalog built before it recorded one, the current label set."""
    con = open_catalog(research)
    try:
        info = read_catalog_info(con)
    finally:
        con.close()
    if info.unique_keys_passed is None:
        return current_label_set_version(research)
    return info.label_set_version


class ExportRunConfig(dg.Config):
    include_unlabeled: bool = True
    include_cine_frames: bool = True
    include_excluded: bool = False
    crop_to_field_of_view: bool = True
    use_inpainted: bool = True
    prefer_clean_twin: bool = True
    split_salt: str = "cadbusi-v1"
    split_method: str = "stratified"
    """stratified (patients by label x scanner, balanced in images) or hash (the original CADBUSI
    patient hash)."""
    folds: int = 0
    """k cross-validation folds over the non-test patients (0: none)."""


@dg.asset(
    partitions_def=export_partitions,
    deps=[metadata_db, lesions],
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
    "config, lineage and a dataset card with plots. Add a partition (e.g. today's date) to cut one. "
    "Refuses (writes nothing) when the catalog's latest blocking check failed or the catalog is "
    "older than its inputs.",
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
    try:  # a partition added by hand (UI, API) with a key that cannot name a folder
        check_export_key(key)
    except ExportKeyError as exc:
        _refuse(context, f"{exc}. Nothing was written; add a partition with a valid key.")
    other = earlier_export_run(context.instance, key, context.run.run_id)
    if other is not None:
        _refuse(
            context,
            f"Export {key} is already being built by run {other[:8]} (launched first); this "
            "duplicate launch wrote nothing. If that run is dead, terminate it and launch again.",
        )
    pseudonymizer = pseudonym_key.pseudonymizer(zones)
    try:  # another key: batch names, seals and the recorded fingerprint would not be the data's
        check_key_fingerprint(research, "dataset_export", pseudonymizer.key_fingerprint)
    except StageFailure as exc:
        _refuse(context, f"Refusing to cut export {key}: {exc} Nothing was written.")
    # Refuse before writing anything: a catalog whose blocking checks failed, or that is older
    # than its inputs (instance), or whose file says so itself (duplicates, another label set).
    graph = _asset_graph(context)
    problems = catalog_refusals(
        context.instance,
        graph,
        extra_checks=[spec.key for spec in metadata_db.check_specs if spec.blocking],
    )
    problems += catalog_problems(research, current_label_set_version(research))
    if problems:
        _refuse(context, refusal_message(problems), problems)
    export_config = ExportConfig(key=key, **config.model_dump())
    lineage = {
        "export_key": key,
        "code_version": __version__,
        "deidentification_profile": processing.deid_profile,
        "label_set_version": _catalog_label_set(research),
        "pseudonym_key_fingerprint": pseudonymizer.key_fingerprint,
    }
    # the dates whose images the research zone holds, whichever instance processed them
    study_dates = graph.get(STUDY_DATE_ASSET).partitions_def
    assert study_dates is not None
    held = data_dates(
        research,
        study_dates.get_partition_keys(dynamic_partitions_store=context.instance),
        pseudonymizer.batch_name,
    )
    upstream = with_data_dates(upstream_lineage(context.instance, graph), graph, held)
    seal = lineage_seal(pseudonymizer)
    try:  # patients who withdrew after their dates were processed: left out here too
        withdrawn = withdrawn_patients(zones.raw(), pseudonymizer)
    except StageFailure as exc:
        _refuse(context, f"Refusing to cut export {key}: {exc}.")
    try:
        report = build_export(
            research,
            export_config,
            lineage,
            workers=processing.worker_count,
            # every partition of every asset the catalog holds: study dates appear as the
            # research zone's opaque batch names, their data versions and runs sealed (the UI
            # shows them beside the real date); the clear mapping goes to the raw zone
            upstream=upstream,
            partition_alias=pseudonymizer.batch_name,
            seal=seal,
            same_label_set=True,
            withdrawn=withdrawn,
        )
    except ExportRefusedError as exc:
        _refuse(context, f"Refusing to cut export {key}: {exc}")
    if report.dropped.get(WITHDRAWN_REASON):
        context.log.warning(
            f"Export {key} leaves out the images of patients on the opt-out list "
            f"({OPT_OUT_ENV_VAR}) that the research zone still holds: re-run those patients' "
            "study dates (from raw_dicom) so the research zone drops them too."
        )
    write_raw_lineage(
        zones.raw(), raw_lineage_document(key, upstream, pseudonymizer.batch_name, seal)
    )
    problems = verify_export(research, key)
    audited = read_audit(zones.raw())
    recorded = audited.height > 0 and key in set(audited["export_key"].to_list())
    if not report.already_existed or not recorded:
        # Who cut it and from which study dates: appended to the raw zone (PHI side) only;
        # also when an earlier run built the export and failed before this row (the export
        # would be out there with nobody accounting for it)
        record_export_audit(
            zones.raw(),
            key,
            run_id=context.run.run_id,
            partitions=sorted(
                set(context.instance.get_materialized_partitions(STUDY_DATE_ASSET)) | set(held)
            ),
            key_fingerprint=pseudonymizer.key_fingerprint,
            row_count=report.images,
            destination=report.path,
            details={"launched_by": context.run.tags.get("cadbusi/user"), "digest": report.digest},
        )
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
            # what the catalog left out before the export chose (counts, no dates or ids)
            "left_out_of_catalog": dg.MetadataValue.json(report.left_out_of_catalog),
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
