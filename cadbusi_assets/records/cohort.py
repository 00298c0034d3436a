"""Cohort selection for ``imaging_studies``: the ultrasound breast studies to retrieve.

Every input row ends up either in the cohort or in the exclusions with one
``exclusion_reason`` (the first rule that applies, in this order):

1. ``missing patient id`` — no (or a blank) ``patient_id``: nothing can be pseudonymized;
2. ``missing exam date`` — no ``exam_date``;
3. ``exam date in the future`` — ``exam_date`` after ``today`` (a data-entry error);
4. ``missing accession number`` — no (or a blank) ``accession_number``;
5. ``not ultrasound`` — modality is not US;
6. ``axilla only`` — the description names the axilla and not the breast;
7. ``outside read`` — an outside-film read or second opinion (images are not ours);
8. ``report not final`` — report status is cancelled/deleted (configurable);
9. ``BI-RADS 0`` — incomplete assessment (configurable);
10. ``missing PACS reference`` — no study_instance_uid to retrieve;
11. ``superseded by addendum`` — a report of an accession and study UID that an addendum
    of the same exam replaces (status ``ADDENDED``, ``AMENDED``, ``CORRECTED``, ``REVISED``:
    the radiologist's later word, its assessment included); before, the ``FINAL`` row was kept
    and the addendum dropped as a duplicate, its changed BI-RADS with it;
12. ``duplicate row`` — the same accession and study UID again (warehouse fan-out or a
    duplicated row). Which row stays in the cohort does not depend on the warehouse's row
    order: the rows are ranked by their content (addenda first, then final reports, then every
    column in order), and the first one stays;
13. ``duplicate accession`` — one accession with several different study UIDs: all its rows
    are excluded, since the images cannot be attributed.

An accession number the RIS handed out again, to another patient (rules 11a and 11b, after
rule 10; both studies would share one accession pseudonym, and the catalog refuses every
export over such a duplicate):

- :data:`EARLIER_HOLDER_REASON` — the warehouse decides, whatever the run order or window:
  among the warehouse's exams of the accession that pass rules 1–10, the earliest exam date's
  patient keeps it (decided by the rows' content, never by their order or the run's;
  :func:`accession_owners`); the other patients' rows are excluded. A row the date's own stored cohort already holds is
  kept (nothing released is taken back);
- :data:`REUSED_ACCESSION_REASON` — the guard for a row the warehouse gained after another
  date ran: another date's *stored* cohort holds the accession for another patient; that date
  keeps it and this row is excluded (nothing stored is rewritten).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import polars as pl

from cadbusi_assets.identity.optout import OPT_OUT_REASON, opted_out_expr

#: A row whose PACS study another accession of the date's cohort already has.
SHARED_STUDY_REASON = "same PACS study as another accession of the date"
#: A row whose accession number another date's cohort holds for another patient.
REUSED_ACCESSION_REASON = (
    "accession number reused: another date's cohort holds it for another patient"
)
#: A row whose accession number the warehouse's earliest exam of it gives another patient.
EARLIER_HOLDER_REASON = (
    "accession number reused: the warehouse's earliest exam of it is another patient's"
)

EXCLUSION_REASONS: tuple[str, ...] = (
    "missing patient id",
    OPT_OUT_REASON,
    "missing exam date",
    "exam date in the future",
    "missing accession number",
    "not ultrasound",
    "axilla only",
    "outside read",
    "report not final",
    "BI-RADS 0",
    "missing PACS reference",
    "superseded by addendum",
    "duplicate row",
    "duplicate accession",
    EARLIER_HOLDER_REASON,
    REUSED_ACCESSION_REASON,
    SHARED_STUDY_REASON,
)

#: Report statuses of an addendum: the exam's later report, which replaces its final one.
ADDENDUM_STATUSES: tuple[str, ...] = (
    "ADDENDED",
    "ADDENDUM",
    "AMENDED",
    "CORRECTED",
    "REVISED",
    "FINAL ADDENDED",
    "FINAL AMENDED",
)

DEFAULT_EXCLUDED_STATUSES: tuple[str, ...] = (
    "CANCELLED",
    "CANCELED",
    "DELETED",
    "VOID",
    "ENTERED IN ERROR",
)


@dataclass(frozen=True)
class CohortSelection:
    """``cohort``: one row per accession to retrieve; ``exclusions``: every excluded input row
    with ``exclusion_reason``."""

    cohort: pl.DataFrame
    exclusions: pl.DataFrame


def select_cohort(
    parsed_radiology: pl.DataFrame,
    *,
    exclude_outside_reads: bool = True,
    exclude_axilla_only: bool = True,
    exclude_birads_0: bool = True,
    require_pacs_reference: bool = True,
    excluded_report_statuses: tuple[str, ...] = DEFAULT_EXCLUDED_STATUSES,
    today: dt.date | None = None,
    opt_out: frozenset[str] = frozenset(),
    accessions_elsewhere: Mapping[str, Collection[str]] | None = None,
    accession_owners: Mapping[str, Collection[str]] | None = None,
    accessions_stored_here: Mapping[str, Collection[str]] | None = None,
) -> CohortSelection:
    """Split parsed radiology rows (output of ``parse_radiology_reports``) into the cohort and
        the recorded exclusions. Both keep all input columns (patient id, accession number and
    study UID without surrounding whitespace); exclusions add ``exclusion_reason``.

        ``today`` (default: today's UTC date) is the last valid exam date. Patients in ``opt_out``
        (withdrew consent) are excluded with the reason ``patient opted out``.

    A reused accession (the RIS handed the number out again, to another patient):

    - ``accession_owners`` (accession number → the patients the warehouse gives it, from
      :func:`accession_owners`): a row of another patient is excluded with
      :data:`EARLIER_HOLDER_REASON`, unless ``accessions_stored_here`` (accession number → the
      patient ids the date's own stored cohort holds it for) already holds it for the row's
      patient;
    - ``accessions_elsewhere`` (accession number → the patient ids other dates' stored cohorts
      hold it for): a row whose accession another date holds for another patient is excluded
      with :data:`REUSED_ACCESSION_REASON` (the stored date keeps it)."""
    frame = _with_cohort_columns(parsed_radiology)
    rules = _CohortRules(
        exclude_outside_reads=exclude_outside_reads,
        exclude_axilla_only=exclude_axilla_only,
        exclude_birads_0=exclude_birads_0,
        require_pacs_reference=require_pacs_reference,
        excluded_report_statuses=excluded_report_statuses,
        today=today or dt.datetime.now(dt.UTC).date(),
        opt_out=opt_out,
    )
    patient, accession, uid, status = _PATIENT, _ACCESSION, _UID, _STATUS
    reason = (
        _row_reason(rules)
        .when(
            _owned_by_another_patient(accession, patient, accession_owners or {})
            & ~_held_for_patient(accession, patient, accessions_stored_here or {})
        )
        .then(pl.lit(EARLIER_HOLDER_REASON))
        .when(_held_for_another_patient(accession, patient, accessions_elsewhere or {}))
        .then(pl.lit(REUSED_ACCESSION_REASON))
    )
    staged = frame.with_row_index("__order").with_columns(
        reason.alias("exclusion_reason"),
        # the ids as the PACS and the patients table spell them: a padded warehouse id (a CHAR
        # column, a hand-keyed row) matched no patient row and no DICOM header
        patient.alias("patient_id"),
        accession.alias("accession_number"),
        uid.alias("study_instance_uid"),
    )
    candidates = _content_rank(staged.filter(pl.col("exclusion_reason").is_null()), status)
    uid_count = pl.col("study_instance_uid").n_unique().over("accession_number")
    first_of_uid = pl.col("__rank") == pl.col("__rank").min().over(
        "accession_number", "study_instance_uid"
    )
    addendum = status.is_in(list(ADDENDUM_STATUSES))
    kept_is_addendum = (
        addendum.sort_by("__rank").first().over("accession_number", "study_instance_uid")
    )
    # one PACS study under several accessions (grouped orders): its images once, under the
    # accession first in content order; two study rows of one UID fail the catalog's keys
    has_uid = pl.col("study_instance_uid").is_not_null()
    kept_accession = pl.col("accession_number").sort_by("__rank").first().over("study_instance_uid")
    shared_study = (
        has_uid
        & (pl.col("accession_number").n_unique().over("study_instance_uid") > 1)
        & (pl.col("accession_number") != kept_accession)
    )
    candidates = candidates.with_columns(
        pl.when(uid_count > 1)
        .then(pl.lit("duplicate accession"))
        .when(shared_study)
        .then(pl.lit(SHARED_STUDY_REASON))
        .when(~first_of_uid & kept_is_addendum & ~addendum)
        .then(pl.lit("superseded by addendum"))
        .when(~first_of_uid)
        .then(pl.lit("duplicate row"))
        .alias("exclusion_reason")
    ).drop("__rank")
    decided = pl.concat([staged.filter(pl.col("exclusion_reason").is_not_null()), candidates]).sort(
        "__order"
    )
    cohort = decided.filter(pl.col("exclusion_reason").is_null()).drop(
        "__order", "exclusion_reason"
    )
    exclusions = decided.filter(pl.col("exclusion_reason").is_not_null()).drop("__order")
    return CohortSelection(cohort=cohort, exclusions=exclusions)


_PATIENT = pl.col("patient_id").cast(pl.Utf8).str.strip_chars()
_ACCESSION = pl.col("accession_number").cast(pl.Utf8).str.strip_chars()
_UID = pl.col("study_instance_uid").str.strip_chars()
_STATUS = pl.col("report_status").fill_null("").str.strip_chars().str.to_uppercase()


@dataclass(frozen=True)
class _CohortRules:
    """The settings of the row rules (1–10)."""

    exclude_outside_reads: bool
    exclude_axilla_only: bool
    exclude_birads_0: bool
    require_pacs_reference: bool
    excluded_report_statuses: tuple[str, ...]
    today: dt.date
    opt_out: frozenset[str]


def _with_cohort_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every column the rules read (absent ones as nulls)."""
    for column in (
        "modality",
        "study_instance_uid",
        "report_status",
        "birads",
        "patient_id",
        "accession_number",
        "exam_description",
    ):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(column))
    if "exam_date" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Date).alias("exam_date"))
    return frame


def _row_reason(rules: _CohortRules):  # -> a polars when/then chain
    """The first of rules 1–10 that applies to a row (each row on its own)."""
    patient, accession, uid, status = _PATIENT, _ACCESSION, _UID, _STATUS
    description = pl.col("exam_description").fill_null("").str.to_uppercase()
    modality = pl.col("modality").fill_null("").str.strip_chars().str.to_uppercase()
    statuses = [s.upper() for s in rules.excluded_report_statuses]
    return (
        pl.when(patient.is_null() | (patient.str.len_chars() == 0))
        .then(pl.lit("missing patient id"))
        .when(opted_out_expr(rules.opt_out))
        .then(pl.lit(OPT_OUT_REASON))
        .when(pl.col("exam_date").is_null())
        .then(pl.lit("missing exam date"))
        .when(pl.col("exam_date") > pl.lit(rules.today))
        .then(pl.lit("exam date in the future"))
        .when(accession.is_null() | (accession.str.len_chars() == 0))
        .then(pl.lit("missing accession number"))
        .when(modality != "US")
        .then(pl.lit("not ultrasound"))
        .when(
            pl.lit(rules.exclude_axilla_only)
            & description.str.contains(r"\bAXILL\w*")
            & ~description.str.contains(r"\bBREASTS?\b")
        )
        .then(pl.lit("axilla only"))
        .when(
            pl.lit(rules.exclude_outside_reads)
            & description.str.contains(r"\bOUTSIDE\b|\bSECOND OPINION\b|\bOUTSIDE FILMS?\b|\bOSH\b")
        )
        .then(pl.lit("outside read"))
        .when(status.is_in(statuses))
        .then(pl.lit("report not final"))
        .when(pl.lit(rules.exclude_birads_0) & (pl.col("birads") == "0").fill_null(False))
        .then(pl.lit("BI-RADS 0"))
        .when(pl.lit(rules.require_pacs_reference) & (uid.is_null() | (uid.str.len_chars() == 0)))
        .then(pl.lit("missing PACS reference"))
    )


def accession_owners(
    parsed_exams: pl.DataFrame,
    *,
    exclude_outside_reads: bool = True,
    exclude_axilla_only: bool = True,
    exclude_birads_0: bool = True,
    require_pacs_reference: bool = True,
    excluded_report_statuses: tuple[str, ...] = DEFAULT_EXCLUDED_STATUSES,
    today: dt.date | None = None,
    opt_out: frozenset[str] = frozenset(),
) -> dict[str, tuple[str, ...]]:
    """Accession number → the patient ids (without padding, upper case, sorted) that keep it,
    for the accessions that ``parsed_exams`` (parsed radiology rows of any dates: the
    warehouse's exams of a date's accessions) give to several patients: among the rows that
    pass rules 1–10 (the same settings as :func:`select_cohort`), the patients of the earliest
    exam date (several only when that date has several: the date's own rules, ``duplicate
    accession``, then decide). It depends on the rows' content only, never on their order or on
    which date runs first.

    >>> rows = pl.DataFrame({"accession_number": ["A1", "A1 ", "A2"],
    ...     "patient_id": ["P2", "p1", "P3"], "modality": "US", "exam_description": "US BREAST",
    ...     "report_status": "FINAL", "birads": "2", "study_instance_uid": ["1.2", "1.3", "1.4"],
    ...     "exam_date": [dt.date(2024, 3, 6), dt.date(2024, 3, 5), dt.date(2024, 3, 5)]})
    >>> accession_owners(rows, today=dt.date(2024, 3, 7))
    {'A1': ('P1',)}
    """
    frame = _with_cohort_columns(parsed_exams)
    rules = _CohortRules(
        exclude_outside_reads=exclude_outside_reads,
        exclude_axilla_only=exclude_axilla_only,
        exclude_birads_0=exclude_birads_0,
        require_pacs_reference=require_pacs_reference,
        excluded_report_statuses=excluded_report_statuses,
        today=today or dt.datetime.now(dt.UTC).date(),
        opt_out=opt_out,
    )
    eligible = frame.select(
        _row_reason(rules).alias("reason"),
        _ACCESSION.alias("accession"),
        _PATIENT.str.to_uppercase().alias("patient"),
        pl.col("exam_date").cast(pl.Date),
    ).filter(pl.col("reason").is_null())
    shared = eligible.filter(pl.col("patient").n_unique().over("accession") > 1)
    owners = (
        shared.filter(pl.col("exam_date") == pl.col("exam_date").min().over("accession"))
        .group_by("accession")
        .agg(pl.col("patient").unique().sort())
        .sort("accession")
    )
    return {a: tuple(ps) for a, ps in owners.iter_rows()}


def _owned_by_another_patient(
    accession: pl.Expr, patient: pl.Expr, owners: Mapping[str, Collection[str]]
) -> pl.Expr:
    """Whether ``owners`` gives the row's accession to other patients only."""
    known = {str(a).strip() for a, ps in owners.items() if a and any(ps)}
    if not known:
        return pl.lit(False)
    return accession.is_in(sorted(known)).fill_null(False) & ~_held_for_patient(
        accession, patient, owners
    )


def _held_for_patient(
    accession: pl.Expr, patient: pl.Expr, held: Mapping[str, Collection[str]]
) -> pl.Expr:
    """Whether ``held`` holds the row's accession for the row's patient."""
    holders = {
        str(a).strip(): "|" + "|".join(sorted({str(p).strip().upper() for p in ps if p})) + "|"
        for a, ps in held.items()
        if a and any(ps)
    }
    if not holders:
        return pl.lit(False)
    held_by = accession.replace_strict(holders, default=None, return_dtype=pl.Utf8)
    this = pl.lit("|") + patient.str.to_uppercase() + pl.lit("|")
    return held_by.str.contains(this, literal=True).fill_null(False)


def _held_for_another_patient(
    accession: pl.Expr, patient: pl.Expr, elsewhere: Mapping[str, Collection[str]]
) -> pl.Expr:
    """Whether ``elsewhere`` holds the row's accession for another patient (ids compared
    without padding or letter case)."""
    holders = {
        str(a).strip(): "|" + "|".join(sorted({str(p).strip().upper() for p in ps if p})) + "|"
        for a, ps in elsewhere.items()
        if a and any(ps)
    }
    if not holders:
        return pl.lit(False)
    held_by = accession.replace_strict(holders, default=None, return_dtype=pl.Utf8)
    alone = pl.lit("|") + patient.str.to_uppercase() + pl.lit("|")  # held for this one only
    return (held_by.is_not_null() & (held_by != alone)).fill_null(False)


_SORTABLE = (pl.Utf8, pl.String, pl.Boolean, pl.Date, pl.Datetime, pl.Time, pl.Duration)


def _content_rank(frame: pl.DataFrame, status: pl.Expr) -> pl.DataFrame:
    """``frame`` with ``__rank``: the position of each row when rows are ordered by content
    (addenda first, then final reports, then every scalar column in order), never by input order, so that
    the row kept among duplicates does not depend on how the warehouse ordered them."""
    columns = [
        name
        for name, dtype in frame.schema.items()
        if not name.startswith("__")
        and name != "exclusion_reason"
        and (dtype.is_numeric() or isinstance(dtype, _SORTABLE) or dtype in _SORTABLE)
    ]
    order = (
        pl.when(status.is_in(list(ADDENDUM_STATUSES)))
        .then(0)
        .when(status == "FINAL")
        .then(1)
        .otherwise(2)
    )
    ranked = frame.with_columns(order.alias("__status_order")).sort(
        ["__status_order", *columns], nulls_last=True, maintain_order=True
    )
    return ranked.with_row_index("__rank").drop("__status_order")


def exclusion_counts(selection: CohortSelection) -> dict[str, int]:
    """Excluded rows per reason (every known reason present, zero when unused), for asset
    metadata."""
    counts = {reason: 0 for reason in EXCLUSION_REASONS}
    if selection.exclusions.height:
        for reason, n in selection.exclusions.group_by("exclusion_reason").len().iter_rows():
            counts[reason] = int(n)
    return counts
