"""deidentified_images: raw instances → de-identified DICOM + PNG frames in the research zone.

The blocking check ``no_patient_identifiers`` scans everything the partition wrote for the
studies' own identifiers (names, MRNs, accession numbers, birth dates from the warehouse and the
raw headers). When anything is found, the partition's research outputs are purged and the check
fails, so nothing downstream can use them.
"""

import dagster as dg

from cadbusi_assets.defs.imaging.raw_dicom import raw_dicom
from cadbusi_assets.defs.partitions import STUDY_DATE_BACKFILL, study_date_partitions
from cadbusi_assets.defs.reporting import attach, run_per_day, ui_progress
from cadbusi_assets.defs.resources import ProcessingResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.stages import StageFailure
from cadbusi_assets.stages import deidentification as stage
from cadbusi_assets.stages.purge import purge_research_batch
from cadbusi_assets.stages.safety import check_partition_key


@dg.asset(
    partitions_def=study_date_partitions,
    backfill_policy=STUDY_DATE_BACKFILL,
    deps=[raw_dicom],
    group_name="imaging",
    kinds={"dicom", "png"},
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(
            "no_patient_identifiers",
            asset="deidentified_images",
            blocking=True,
            description="No name, MRN, accession number or birth date of the day's patients in "
            "any de-identified file, file name or table. Decided per study date: a date with a "
            "finding is purged at every research stage and fails alone.",
        )
    ],
    description="De-identified DICOM (PS3.15 profile, keyed pseudonyms, UID remapping, shifted "
    "dates, burned-in text removed) and one PNG per kept frame; quarantine rows with reasons.",
)
def deidentified_images(
    context: dg.AssetExecutionContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    processing: ProcessingResource,
) -> dg.MaterializeResult:
    raw, research = zones.raw(), zones.research()
    pseudonymizer = pseudonym_key.pseudonymizer(zones)
    findings: dict[str, list[str]] = {}

    def one_day(day: str):
        check_partition_key(raw, research, day, pseudonymizer)
        result = stage.deidentify_partition(
            raw,
            research,
            pseudonymizer,
            day,
            profile=processing.deid_profile,
            frame_step=processing.cine_frame_step,
            verify_ocr=processing.ocr,
            workers=processing.worker_count,
            progress=ui_progress(context),
        )
        batch = pseudonymizer.batch_name(day)
        found = stage.scan_partition_for_identifiers(research, batch, result.identifiers)
        if found:
            findings[day] = found
            removed = purge_research_batch(research, batch)
            raise StageFailure(
                f"identifiers found in {len(found)} places ({'; '.join(found)}); this date's "
                f"research outputs at every stage were purged ({removed} files)"
            )
        check_partition_key(None, research, day, pseudonymizer, record=True)
        return result.report

    def check_result() -> dg.AssetCheckResult:
        # Decided per date: a date with findings is purged and fails alone; the dates that
        # passed the scan go on. The check is an error only when no date could be delivered.
        return dg.AssetCheckResult(
            check_name="no_patient_identifiers",
            passed=not findings,
            severity=dg.AssetCheckSeverity.WARN if delivered else dg.AssetCheckSeverity.ERROR,
            metadata={
                "dates_delivered_clean": len(delivered),
                "dates_with_findings_purged": len(findings),
                "findings": dg.MetadataValue.md(
                    "\n".join(f"- {d}: {f}" for d, fs in findings.items() for f in fs) or "none"
                ),
            },
        )

    delivered: dict = {}
    try:
        delivered = run_per_day(context, context.partition_keys, one_day)
    except dg.Failure:
        if findings:
            evaluation = check_result()
            context.log_event(
                dg.AssetCheckEvaluation(
                    asset_key=context.asset_key,
                    check_name=evaluation.check_name or "no_patient_identifiers",
                    passed=False,
                    metadata=evaluation.metadata,
                    severity=dg.AssetCheckSeverity.ERROR,
                    blocking=True,
                )
            )
        raise
    # No research batch name in the metadata: it would map each opaque batch to its real date.
    attach(context, delivered, raw)
    return dg.MaterializeResult(check_results=[check_result()])
