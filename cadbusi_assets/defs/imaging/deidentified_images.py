"""deidentified_images: raw instances → de-identified DICOM + PNG frames in the research zone.

The asset is one of the three specs of the imaging step (:mod:`.imaging_step`); this module
holds its key, its blocking check and its body when it is materialized alone.

The blocking check ``no_patient_identifiers`` scans everything the partition wrote for the
studies' own identifiers (names, MRNs, accession numbers, birth dates from the warehouse and the
raw headers). When anything is found, the partition's research outputs are purged and the check
fails, so nothing downstream can use them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from cadbusi_assets.defs.reporting import attach, run_per_day, ui_progress
from cadbusi_assets.defs.resources import ProcessingResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.deid import OriginalIdentifiers
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.stages import StageFailure
from cadbusi_assets.stages import deidentification as stage
from cadbusi_assets.stages.purge import purge_research_batch
from cadbusi_assets.stages.safety import check_partition_key
from cadbusi_assets.storage import Zone

#: The asset's key (its spec is the imaging step's, :mod:`.imaging_step`).
deidentified_images = dg.AssetKey("deidentified_images")
NO_PATIENT_IDENTIFIERS = "no_patient_identifiers"

SPEC_ARGS: dict[str, Any] = dict(
    group_name="imaging",
    kinds={"dicom", "png"},
    code_version="1",
    description="De-identified DICOM (PS3.15 profile, keyed pseudonyms, UID remapping, shifted "
    "dates, burned-in text removed) and one PNG per kept frame; quarantine rows with reasons.",
)


def check_spec() -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        NO_PATIENT_IDENTIFIERS,
        asset=deidentified_images,
        blocking=True,
        description="No name, MRN, accession number or birth date of the day's patients in "
        "any de-identified file, file name or table. Decided per study date: a date with a "
        "finding is purged at every research stage and fails alone.",
    )


class LeakCheck:
    """The blocking ``no_patient_identifiers`` check over the dates of one step."""

    def __init__(self, research: Zone, pseudonymizer: Pseudonymizer) -> None:
        self.research = research
        self.pseudonymizer = pseudonymizer
        self.findings: dict[str, list[str]] = {}

    def scan(self, day: str, identifiers: OriginalIdentifiers) -> None:
        """Scan the date's research batch; on a finding purge it at every research stage and
        fail the date (:class:`StageFailure`); else record the key for the batch."""
        batch = self.pseudonymizer.batch_name(day)
        found = stage.scan_partition_for_identifiers(self.research, batch, identifiers)
        if found:
            self.findings[day] = found
            purged = purge_research_batch(self.research, batch)
            raise StageFailure(
                f"identifiers found in {len(found)} places ({'; '.join(found)}); "
                + purged.summary()
            )
        check_partition_key(None, self.research, day, self.pseudonymizer, record=True)

    def result(self, delivered: int) -> dg.AssetCheckResult:
        # Decided per date: a date with findings is purged and fails alone; the dates that
        # passed the scan go on. The check is an error only when no date could be delivered.
        return dg.AssetCheckResult(
            asset_key=deidentified_images,
            check_name=NO_PATIENT_IDENTIFIERS,
            passed=not self.findings,
            severity=dg.AssetCheckSeverity.WARN if delivered else dg.AssetCheckSeverity.ERROR,
            metadata={
                "dates_delivered_clean": delivered,
                "dates_with_findings_purged": len(self.findings),
                "findings": dg.MetadataValue.md(
                    "\n".join(f"- {d}: {f}" for d, fs in self.findings.items() for f in fs)
                    or "none"
                ),
            },
        )

    def log_failure(self, context: dg.AssetExecutionContext) -> None:
        """The check's failed evaluation when the step fails (every date failed)."""
        if not self.findings:
            return
        evaluation = self.result(0)
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=deidentified_images,
                check_name=NO_PATIENT_IDENTIFIERS,
                passed=False,
                metadata=evaluation.metadata,
                severity=dg.AssetCheckSeverity.ERROR,
                blocking=True,
            )
        )


def materialize_deidentified_images(
    context: dg.AssetExecutionContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
    processing: ProcessingResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """``deidentified_images`` alone (:func:`~cadbusi_assets.stages.deidentification.
    deidentify_partition` per date) and its check."""
    raw, research = zones.raw(), zones.research()
    pseudonymizer = pseudonym_key.pseudonymizer(zones)
    leaks = LeakCheck(research, pseudonymizer)

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
            # inside the date's open-batch window, as in the one pass
            after_deidentification=lambda done: leaks.scan(day, done.identifiers),
        )
        return result.report

    try:
        delivered = run_per_day(
            context, context.partition_keys, one_day, assets=[deidentified_images]
        )
    except dg.Failure:
        leaks.log_failure(context)
        raise
    # No research batch name in the metadata: it would map each opaque batch to its real date.
    attach(context, delivered, raw, asset_key=deidentified_images)
    yield dg.MaterializeResult(asset_key=deidentified_images)
    yield leaks.result(len(delivered))
