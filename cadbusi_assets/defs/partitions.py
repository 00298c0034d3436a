"""Partition definitions shared by the asset groups."""

import dagster as dg

from cadbusi_assets.settings import load_settings

#: One partition per DICOM StudyDate (treated as a UTC date; partition key = StudyDate).
study_date_partitions = dg.DailyPartitionsDefinition(
    start_date=load_settings().first_study_date, timezone="UTC"
)

#: Dated exports, added from the UI, the export sensor or `cadbusi export` (keys like 2026-11-22).
export_partitions = dg.DynamicPartitionsDefinition(name="exports")

#: Partitioned assets run in chunks of at most a month per run during backfills.
STUDY_DATE_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)
