"""Retrieval stage: the day's cohort from the PACS into the raw zone, with a manifest.

Outputs (raw zone): the instance files under ``dicom/<day>/...`` and the manifest tables
``tables/retrieval_instances/<day>``, ``tables/retrieval_studies/<day>`` and
``tables/retrieval_conflicts/<day>`` (instances held by another study or study date, skipped
here with a reason), and the key fingerprint ``tables/key_fingerprints/<day>``.

Cohort rows without a StudyInstanceUID (warehouses that hold only accession numbers) are looked
up in the PACS first (:func:`~cadbusi_assets.pacs.find.resolve_study_uids`: by accession
number, else patient ID + study date). The rows retrieval works from, with the UID found and
``study_uid_source``, are written to ``tables/retrieval_cohort/<day>`` (what later stages read
through :func:`resolved_cohort`); rows no lookup could resolve -- no match, an ambiguous
accession, a lookup that failed -- go to ``tables/retrieval_unresolved/<day>`` with their
``lookup_reason`` and are never guessed. The report counts them per reason.

Safety (see :mod:`cadbusi_assets.stages.safety`): the stage fails with
:class:`~cadbusi_assets.stages.report.StageFailure` and deletes nothing when the cohort or the
PACS answer drops sharply against what the date already holds (``allow_shrink=True`` or
``CADBUSI_ALLOW_SHRINK=1`` accepts it), or when the date was retrieved with another pseudonym
key. A date with a non-empty cohort of which nothing could be retrieved is reported with
``report.failed = True``.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.pacs import Pacs, retrieve_studies
from cadbusi_assets.pacs.find import (
    REASON_NO_ACCESSION_MATCH,
    REASON_NO_KEYS,
    REASON_NO_PATIENT_DATE_MATCH,
    SOURCE_WAREHOUSE,
    resolve_study_uids,
)
from cadbusi_assets.pacs.retrieve import REFETCH_REPLACED, REFETCH_SCHEMA
from cadbusi_assets.stages.records import COHORT_TABLE
from cadbusi_assets.stages.report import MissingUpstream, PartitionReport, reason_counts, throttled
from cadbusi_assets.stages.safety import check_key_fingerprint, guard_shrink, record_key_fingerprint
from cadbusi_assets.storage import (
    Zone,
    read_all_partition_tables,
    read_partition_table,
    write_partition_table,
)

INSTANCES_TABLE = "retrieval_instances"
STUDIES_TABLE = "retrieval_studies"
CONFLICTS_TABLE = "retrieval_conflicts"
RESOLVED_TABLE = "retrieval_cohort"
#: instances the date once stored that a later run no longer keeps (their files deleted), each
#: with its reason; kept across runs (an instance that comes back leaves it)
REMOVED_TABLE = "retrieval_removed"
#: instances an explicit refetch (``refetch=True``) replaced because the PACS sent other bytes
#: under the same SOP Instance UID, each with the hashes, the reason and where the replaced copy
#: is kept (``dicom_replaced/`` in the raw zone); kept across runs
REFETCHED_TABLE = "retrieval_refetched"
REASON_GONE_FROM_PACS = "no longer listed by the PACS for its study"
REASON_STUDY_LEFT_COHORT = "its study is no longer in the date's cohort"
REMOVED_SCHEMA = {
    "partition": pl.Utf8,
    "study_key": pl.Utf8,
    "study_instance_uid": pl.Utf8,
    "sop_instance_uid": pl.Utf8,
    "instance_key": pl.Utf8,
    "reason": pl.Utf8,
}
#: instances this date's run released because their study left its cohort (the warehouse moved
#: the exam) that another date recorded as held by this one and skipped: that date has to run
#: again to take them (``handed_over_studies_sensor``); kept across the date's runs until the
#: waiting date holds them
HANDOVERS_TABLE = "retrieval_handovers"
HANDOVER_SCHEMA = {
    "partition": pl.Utf8,
    "to_partition": pl.Utf8,
    "study_key": pl.Utf8,
    "instance_key": pl.Utf8,
}
UNRESOLVED_TABLE = "retrieval_unresolved"
#: Lookup outcomes meaning "the PACS has no such study" (recorded, not an incomplete retrieval).
NOT_IN_PACS_REASONS = (REASON_NO_KEYS, REASON_NO_ACCESSION_MATCH, REASON_NO_PATIENT_DATE_MATCH)
#: the columns of ``retrieval_unresolved`` (enough to follow a row up; no names or birth dates)
UNRESOLVED_COLUMNS = (
    "accession_number",
    "patient_id",
    "exam_date",
    "modality",
    "exam_description",
    "study_instance_uid",
    "lookup_reason",
)


def retrieve_partition(
    pacs: Pacs,
    raw_zone: Zone,
    pseudonymizer: Pseudonymizer,
    day: str,
    *,
    concurrency: int = 4,
    progress: Callable[[str], None] | None = None,
    allow_shrink: bool | None = None,
    refetch: bool = False,
) -> PartitionReport:
    """Retrieve the day's cohort. ``allow_shrink`` (default ``$CADBUSI_ALLOW_SHRINK``) accepts a
    sharp drop of the studies the date holds (otherwise :class:`StageFailure`).

    ``refetch``: fetch every stored instance again and compare its SHA-256 (a correction sent
    under the same SOP Instance UID is otherwise never seen: a PACS search gives no size or
    hash): an unchanged one stays byte-identical, a changed one is replaced, the replaced copy
    kept in the raw zone's ``dicom_replaced/`` and recorded in ``tables/retrieval_refetched/
    <day>`` with its reason. Twice the PACS traffic of the date: ask for it, never by default."""
    fingerprint = pseudonymizer.key_fingerprint
    check_key_fingerprint(raw_zone, day, fingerprint)
    cohort = read_partition_table(raw_zone, COHORT_TABLE, day)
    if cohort is None:
        raise MissingUpstream(f"imaging_studies for {day} is missing; materialize it first.")
    resolved, unresolved = resolve_study_uids(pacs, cohort)
    previous = read_partition_table(raw_zone, INSTANCES_TABLE, day)
    studies = resolved.select("study_instance_uid", "accession_number")
    held_before = _studies_with_files(previous, day)
    if held_before:
        wanted = {
            pseudonymizer.raw_key("study", uid.strip())
            for uid in studies["study_instance_uid"].drop_nulls().to_list()
            if uid.strip()
        }
        guard_shrink(
            "studies",
            day,
            len(held_before),
            len(held_before & wanted),
            allow_shrink=allow_shrink,
            source="the cohort (warehouse)",
        )

    def before_delete(before: int, kept: int) -> None:
        guard_shrink(
            "studies with files",
            day,
            before,
            kept,
            allow_shrink=allow_shrink,
            source="the PACS",
        )

    result = retrieve_studies(
        pacs,
        studies,
        raw_zone,
        day,
        pseudonymizer,
        previous=previous,
        concurrency=concurrency,
        progress=throttled(progress),
        before_delete=before_delete,
        refetch=refetch,
        owner_wants=_cohort_lists(raw_zone),
    )
    instances = result.instances.sort(["study_key", "instance_key"])
    study_rows = result.studies.sort("study_key")
    # The tables record the partition's state, not what this run did: a file found in place is
    # simply "stored" and attempt counts go to the metadata, so a re-run writes identical tables.
    state = instances.with_columns(
        status=pl.when(pl.col("status") == "already_present")
        .then(pl.lit("stored"))
        .otherwise(pl.col("status"))
    ).drop("attempts", strict=False)
    removed = removed_instances(
        read_partition_table(raw_zone, REMOVED_TABLE, day),
        previous,
        state,
        result.studies,
        result.conflicts,
        day,
    )
    write_partition_table(raw_zone, REMOVED_TABLE, day, removed)
    handovers = handed_over(raw_zone, day, previous, state, removed)
    if handovers.height or read_partition_table(raw_zone, HANDOVERS_TABLE, day) is not None:
        write_partition_table(raw_zone, HANDOVERS_TABLE, day, handovers)
    replaced = result.refetched.filter(pl.col("outcome") == REFETCH_REPLACED)
    recorded = read_partition_table(raw_zone, REFETCHED_TABLE, day)
    if replaced.height or recorded is not None:
        frames = [f for f in (recorded, replaced) if f is not None and f.height]
        write_partition_table(
            raw_zone,
            REFETCHED_TABLE,
            day,
            pl.concat(frames, how="diagonal_relaxed")
            if frames
            else pl.DataFrame(schema=REFETCH_SCHEMA),
        )
    write_partition_table(raw_zone, INSTANCES_TABLE, day, state)
    write_partition_table(raw_zone, STUDIES_TABLE, day, study_rows)
    conflicts = result.conflicts
    write_partition_table(raw_zone, CONFLICTS_TABLE, day, conflicts)
    write_partition_table(raw_zone, RESOLVED_TABLE, day, resolved)
    write_partition_table(
        raw_zone,
        UNRESOLVED_TABLE,
        day,
        unresolved.select([c for c in UNRESOLVED_COLUMNS if c in unresolved.columns]),
    )
    record_key_fingerprint(raw_zone, day, fingerprint)

    report = PartitionReport(day, row_count=instances.height)
    status = instances["status"] if instances.height else pl.Series([], dtype=pl.Utf8)
    report.count("cohort_rows", cohort.height)
    sources = resolved["study_uid_source"] if resolved.height else pl.Series([], dtype=pl.Utf8)
    report.count("study_uids_from_warehouse", int((sources == SOURCE_WAREHOUSE).sum()))
    report.count("study_uids_looked_up", int((sources != SOURCE_WAREHOUSE).sum()))
    report.count("cohort_rows_unresolved", unresolved.height)
    for reason, n in reason_counts(unresolved, "lookup_reason").items():
        report.count(f"unresolved: {reason}", n)
    report.count("studies", study_rows.height)
    report.count("studies_complete", int(study_rows["complete"].sum()) if study_rows.height else 0)
    report.count("instances_expected", instances.height)
    report.count("instances_fetched", int((status == "stored").sum()))
    report.count("instances_already_present", int((status == "already_present").sum()))
    report.count("instances_failed", int((status == "failed").sum()))
    report.count("instances_held_by_another_study", conflicts.height)
    report.count("instances_removed_since_stored", removed.height)
    report.count("instances_handed_over_to_another_date", handovers.height)
    if refetch:
        outcomes = result.refetched["outcome"]
        for outcome in ("unchanged", "replaced", "failed"):
            report.count(f"instances_refetched_{outcome}", int((outcomes == outcome).sum()))
    for reason, n in reason_counts(removed, "reason").items():
        report.count(f"removed: {reason}", n)
    for reason, n in reason_counts(conflicts, "reason").items():
        report.count(f"skipped: {reason}", n)
    report.count(
        "bytes_stored",
        int(instances.filter(pl.col("status") != "failed")["size_bytes"].sum())
        if instances.height
        else 0,
    )
    if "attempts" in instances.columns and instances.height:
        report.count("fetch_attempts", int(instances["attempts"].fill_null(0).sum()))
    failed = instances.filter(pl.col("status") == "failed") if instances.height else instances
    for reason, n in reason_counts(failed, "reason").items():
        report.count(f"failed: {reason}", n)
    noted = instances.filter(pl.col("status") != "failed") if instances.height else instances
    for reason, n in reason_counts(noted, "reason").items():
        report.count(f"stored with a note: {reason}", n)
    incomplete = study_rows.filter(~pl.col("complete")) if study_rows.height else study_rows
    if incomplete.height:
        report.add_problem(f"{incomplete.height} of {study_rows.height} studies are incomplete")
    # A row the PACS has no study for was never imaged there (an outside read, a cancelled
    # exam): recorded with its reason, not an incomplete retrieval. Ambiguous answers and
    # failed lookups are: somebody has to look.
    not_in_pacs = pl.col("lookup_reason").is_in(list(NOT_IN_PACS_REASONS))
    absent = unresolved.filter(not_in_pacs) if unresolved.height else unresolved
    unsure = unresolved.filter(~not_in_pacs) if unresolved.height else unresolved
    report.count("cohort_rows_not_in_pacs", absent.height)
    if unsure.height:
        report.add_problem(
            f"{unsure.height} of {cohort.height} cohort rows could not be matched to one study "
            f"in the PACS (see {UNRESOLVED_TABLE})"
        )
    if incomplete.height or unsure.height:
        # an ambiguous or failed lookup is a study the cohort wants and the raw zone lacks
        report.tables["incomplete_studies"] = pl.concat(
            [
                incomplete.select("study_key", "expected", "stored", "failed", "reason"),
                unsure.select(
                    pl.lit(None, dtype=pl.Utf8).alias("study_key"),
                    pl.lit(0, dtype=pl.Int64).alias("expected"),
                    pl.lit(0, dtype=pl.Int64).alias("stored"),
                    pl.lit(0, dtype=pl.Int64).alias("failed"),
                    ("StudyInstanceUID lookup: " + pl.col("lookup_reason")).alias("reason"),
                ),
            ],
            how="vertical_relaxed",
        )
    present = instances.filter(pl.col("status") != "failed").height if instances.height else 0
    if cohort.height and present == 0 and conflicts.height == 0:
        report.failed = True
        reasons = {
            **reason_counts(study_rows, "reason"),
            **{f"lookup: {r}": n for r, n in reason_counts(unresolved, "lookup_reason").items()},
        }
        report.problems.insert(
            0,
            f"nothing could be retrieved for the {cohort.height} studies of the cohort"
            + (f" ({'; '.join(f'{n}× {r}' for r, n in reasons.items())})" if reasons else ""),
        )
    return report


def removed_instances(
    recorded: pl.DataFrame | None,
    previous: pl.DataFrame | None,
    current: pl.DataFrame,
    studies: pl.DataFrame,
    conflicts: pl.DataFrame,
    day: str,
) -> pl.DataFrame:
    """The ``retrieval_removed`` table of ``day``: what it ``recorded`` before, plus every
    instance the ``previous`` manifest stored that the ``current`` one does not keep (its file
    was deleted), with the reason; less the instances the date holds again. An instance now
    held by another date is recorded in ``retrieval_conflicts`` instead. A re-run that removes
    nothing writes the same table."""
    empty = pl.DataFrame(schema=REMOVED_SCHEMA)
    columns = list(REMOVED_SCHEMA)
    kept = set(current["instance_key"].drop_nulls().to_list()) if current.height else set()
    elsewhere = (
        set(conflicts["instance_key"].drop_nulls().to_list())
        if conflicts.height and "instance_key" in conflicts.columns
        else set()
    )
    frames = [recorded.select(columns)] if recorded is not None and recorded.height else []
    if previous is not None and previous.height:
        gone = previous.filter(
            (pl.col("partition") == day)
            & (pl.col("status") != "failed")
            & pl.col("raw_path").is_not_null()
            & ~pl.col("instance_key").is_in(list(kept | elsewhere))
        )
        listed = set(studies["study_key"].to_list()) if studies.height else set()
        frames.append(
            gone.with_columns(
                pl.when(pl.col("study_key").is_in(list(listed)))
                .then(pl.lit(REASON_GONE_FROM_PACS))
                .otherwise(pl.lit(REASON_STUDY_LEFT_COHORT))
                .alias("reason")
            ).select([pl.col(c).cast(t) for c, t in REMOVED_SCHEMA.items()])
        )
    if not frames:
        return empty
    return (
        pl.concat(frames, how="vertical_relaxed")
        .filter(~pl.col("instance_key").is_in(list(kept)))
        .unique("instance_key", keep="first")
        .sort("instance_key")
    )


def handed_over(
    raw_zone: Zone,
    day: str,
    previous: pl.DataFrame | None,
    current: pl.DataFrame,
    removed: pl.DataFrame,
) -> pl.DataFrame:
    """The ``retrieval_handovers`` table of ``day`` after its run: each instance it held before
    the run (``previous``) and released because its study left the date's cohort (``removed``)
    that another date's ``retrieval_conflicts`` records as held by ``day`` (that date skipped
    it: its run came first), plus the rows recorded before, less those the waiting date holds
    by now or ``day`` holds again (``current``): kept until taken, so that a handover the
    sensor did not see before a re-run of ``day`` is not lost. Every date's conflicts are read
    only when the run released such an instance (a study the warehouse moved: rare)."""
    frames = []
    recorded = read_partition_table(raw_zone, HANDOVERS_TABLE, day)
    if recorded is not None and recorded.height:
        frames.append(recorded.select(list(HANDOVER_SCHEMA)))
    if previous is not None and previous.height and removed.height:
        held = previous.filter((pl.col("partition") == day) & (pl.col("status") != "failed"))
        released = set(
            removed.filter(
                (pl.col("reason") == REASON_STUDY_LEFT_COHORT)
                & pl.col("instance_key").is_in(held["instance_key"].drop_nulls().to_list())
            )["instance_key"].to_list()
        )
        conflicts = read_all_partition_tables(raw_zone, CONFLICTS_TABLE) if released else None
        if conflicts is not None and conflicts.height:
            frames.append(
                conflicts.filter(
                    (pl.col("owner_partition") == day)
                    & (pl.col("partition") != day)
                    & pl.col("instance_key").is_in(list(released))
                ).select(
                    pl.lit(day, dtype=pl.Utf8).alias("partition"),
                    pl.col("partition").cast(pl.Utf8).alias("to_partition"),
                    pl.col("study_key").cast(pl.Utf8),
                    pl.col("instance_key").cast(pl.Utf8),
                )
            )
    if not frames:
        return pl.DataFrame(schema=HANDOVER_SCHEMA)
    kept = current["instance_key"].drop_nulls().to_list() if current.height else []
    rows = (
        pl.concat(frames, how="vertical_relaxed")
        .filter(~pl.col("instance_key").is_in(kept))
        .unique(["to_partition", "instance_key"])
        .sort(["to_partition", "study_key", "instance_key"])
    )
    return _still_waiting(raw_zone, rows)


def _still_waiting(raw_zone: Zone, handovers: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``handovers`` whose waiting date (``to_partition``) does not store the
    instance yet (its ``retrieval_instances``)."""
    if not handovers.height:
        return handovers
    frames = []
    for (to_day,), rows in handovers.group_by("to_partition", maintain_order=True):
        held = read_partition_table(raw_zone, INSTANCES_TABLE, str(to_day))
        stored = (
            held.filter((pl.col("partition") == to_day) & (pl.col("status") != "failed"))[
                "instance_key"
            ].to_list()
            if held is not None and held.height
            else []
        )
        frames.append(rows.filter(~pl.col("instance_key").is_in(stored)))
    return pl.concat(frames, how="vertical_relaxed").sort(
        ["to_partition", "study_key", "instance_key"]
    )


def waiting_dates(raw_zone: Zone, day: str) -> dict[str, list[str]]:
    """The dates that still wait for instances ``day`` handed over (its
    ``retrieval_handovers`` table), each with the instance keys it does not hold yet (its
    ``retrieval_instances`` stores none of them): the dates to run again."""
    handovers = read_partition_table(raw_zone, HANDOVERS_TABLE, day)
    if handovers is None or not handovers.height:
        return {}
    waiting: dict[str, list[str]] = {}
    for row in _still_waiting(raw_zone, handovers).iter_rows(named=True):
        waiting.setdefault(str(row["to_partition"]), []).append(str(row["instance_key"]))
    return {day: sorted(keys) for day, keys in sorted(waiting.items())}


def _cohort_lists(raw_zone: Zone) -> Callable[[str, str | None, str | None], bool]:
    """Whether a date's stored cohort (``imaging_studies``, made again from the warehouse by
    that date's last run: in a ranged run, before any retrieval) lists a study, by its
    StudyInstanceUID or its accession number; a date with no cohort table, or one that cannot
    be read, is taken to want it (a claim is never taken on a guess)."""
    cohorts: dict[str, tuple[set[str], set[str]] | None] = {}

    def lists(day: str, uid: str | None, accession: str | None) -> bool:
        if day not in cohorts:
            try:
                table = read_partition_table(raw_zone, COHORT_TABLE, day)
            except Exception:
                table = None
            cohorts[day] = (
                None
                if table is None
                else (
                    {str(u).strip() for u in table["study_instance_uid"].drop_nulls()},
                    {str(a).strip() for a in table["accession_number"].drop_nulls()},
                )
            )
        known = cohorts[day]
        if known is None:
            return True
        uids, accessions = known
        return bool(uid and uid.strip() in uids) or bool(
            accession and accession.strip() in accessions
        )

    return lists


def resolved_cohort(raw_zone: Zone, day: str) -> pl.DataFrame | None:
    """The cohort rows retrieval worked from, each with its StudyInstanceUID (the warehouse's
    or the PACS lookup's); the stored cohort for dates retrieved before lookups existed."""
    resolved = read_partition_table(raw_zone, RESOLVED_TABLE, day)
    return resolved if resolved is not None else read_partition_table(raw_zone, COHORT_TABLE, day)


def _studies_with_files(previous: pl.DataFrame | None, day: str) -> set[str]:
    """Study keys for which the previous manifest of ``day`` lists stored files."""
    if previous is None or previous.height == 0 or "study_key" not in previous.columns:
        return set()
    held = previous.filter(
        (pl.col("partition") == day)
        & (pl.col("status") != "failed")
        & pl.col("raw_path").is_not_null()
        & pl.col("study_key").is_not_null()
    )
    return set(held["study_key"].to_list())
