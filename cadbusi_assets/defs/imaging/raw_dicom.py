"""raw_dicom: the day's cohort retrieved from the PACS into the raw zone, with a manifest."""

from typing import Any

import dagster as dg
from pydantic import Field

from cadbusi_assets.defs.partitions import STUDY_DATE_BACKFILL, study_date_partitions
from cadbusi_assets.defs.records.assets import imaging_studies
from cadbusi_assets.defs.reporting import attach, run_per_day, ui_progress
from cadbusi_assets.defs.resources import PacsResource, PseudonymKeyResource, ZonesResource
from cadbusi_assets.stages import retrieval


class RawDicomConfig(dg.Config):
    """Run config of ``raw_dicom`` (all optional)."""

    refetch: bool = Field(
        default=False,
        description="Fetch every stored instance of the date again and compare its SHA-256: a "
        "correction the PACS sent under the same SOP Instance UID replaces the stored copy (kept "
        "in the raw zone's dicom_replaced/, recorded in retrieval_refetched); an unchanged "
        "instance stays byte-identical. Doubles the date's PACS traffic.",
    )


@dg.asset(
    partitions_def=study_date_partitions,
    backfill_policy=STUDY_DATE_BACKFILL,
    deps=[imaging_studies],
    group_name="imaging",
    kinds={"dicom"},
    pool="pacs",
    code_version="1",
    check_specs=[dg.AssetCheckSpec("retrieval_complete", asset="raw_dicom", blocking=False)],
    description="Instances of the day's cohort, stored once in the raw zone under opaque names, "
    "with a retrieval manifest per instance and per study (expected, stored, failed, reasons).",
)
def raw_dicom(
    context: dg.AssetExecutionContext,
    config: RawDicomConfig,
    pacs: PacsResource,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
) -> dg.MaterializeResult:
    raw = zones.raw()
    pseudonymizer = pseudonym_key.pseudonymizer(zones)
    with pacs.open() as source:
        reports = run_per_day(
            context,
            context.partition_keys,
            lambda day: retrieval.retrieve_partition(
                source,
                raw,
                pseudonymizer,
                day,
                concurrency=pacs.concurrency,
                progress=ui_progress(context),
                refetch=config.refetch,
            ),
        )
    attach(context, reports, zones.raw())
    incomplete = sorted(day for day, r in reports.items() if "incomplete_studies" in r.tables)
    # Dates only: the study keys and counts of the incomplete studies stay in the raw zone's
    # report (next to a real date they would link research rows to it).
    metadata: dict[str, Any] = {"dates_with_incomplete_studies": len(incomplete)}
    if incomplete:
        metadata["details"] = dg.MetadataValue.md(
            "\n".join(f"- {day}" for day in incomplete)
            + "\n\nThe studies and what is missing: `cadbusi partition-report --asset raw_dicom "
            "--date <date>` (raw-zone access needed)."
        )
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="retrieval_complete",
                passed=not incomplete,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=metadata,
                description="Every cohort study has all expected instances stored. Re-running "
                "the partition fetches only what is missing.",
            )
        ]
    )
