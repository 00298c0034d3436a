"""Records stages: warehouse rows per study date → parsed reports → cohort → labels.

Raw-zone outputs (PHI): ``tables/radiology_reports``, ``tables/pathology_reports``,
``tables/imaging_studies``, ``tables/imaging_study_exclusions`` (one Parquet per day) and
``labels/diagnosis_labels.parquet``. Research-zone output: the pseudonymized
``labels/diagnosis_labels.parquet``. Reports carry counts only (no identifiers).

Data safety: exact duplicate warehouse rows are dropped (counted); a row without a patient id
or with a missing or future date never fails the run -- it is excluded from the cohort with a
reason. A day whose warehouse answer drops sharply against what the raw zone holds for it (to
nothing, or below half and by at least a few rows; see :mod:`cadbusi_assets.stages.safety`) is
not overwritten: its report has ``failed = True`` and the reason as its first problem, and the
other days of the run are written. ``allow_shrink=True`` or ``CADBUSI_ALLOW_SHRINK=1`` accepts
the drop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.identity.optout import load_opt_out_from_env
from cadbusi_assets.pacs.find import require_study_uid as _require_study_uid
from cadbusi_assets.records import (
    LabelWindows,
    Warehouse,
    diagnosis_labels,
    parse_pathology_reports,
    pseudonymize_labels,
    select_cohort,
)
from cadbusi_assets.records.cohort import accession_owners
from cadbusi_assets.records.history_context import radiology_reports_for_window
from cadbusi_assets.records.pathology import collapse_fanout
from cadbusi_assets.records.radiology import parse_radiology_reports
from cadbusi_assets.records.schemas import PATHOLOGY_SCHEMA
from cadbusi_assets.stages.report import (
    MissingUpstream,
    PartitionReport,
    StageFailure,
    reason_counts,
)
from cadbusi_assets.stages.safety import guard_shrink
from cadbusi_assets.storage import (
    Zone,
    read_all_partition_tables,
    read_partition_table,
    write_partition_table,
)

RADIOLOGY_TABLE = "radiology_reports"
PATHOLOGY_TABLE = "pathology_reports"
COHORT_TABLE = "imaging_studies"
COHORT_EXCLUSIONS_TABLE = "imaging_study_exclusions"
LABELS_PATH = ("labels", "diagnosis_labels.parquet")


def _window(days: Sequence[str]) -> tuple[dt.date, dt.date]:
    parsed = sorted(dt.date.fromisoformat(d) for d in days)
    return parsed[0], parsed[-1]


#: The pathology_reports count of the warehouse's distinct specimens of the date (as read).
WAREHOUSE_SPECIMENS = "warehouse_specimens"


def _warehouse_specimens(fetched: pl.DataFrame, day: str) -> int:
    """Distinct non-empty specimen accessions of ``day`` in the warehouse's answer."""
    if fetched.height == 0:
        return 0
    ids = _per_day(fetched, "specimen_date", day)["specimen_accession"].cast(pl.Utf8)
    return ids.str.strip_chars().replace("", None).drop_nulls().n_unique()


def _per_day(frame: pl.DataFrame, column: str, day: str) -> pl.DataFrame:
    return frame.filter(pl.col(column) == dt.date.fromisoformat(day))


def _value_counts(frame: pl.DataFrame, column: str, prefix: str) -> dict[str, int]:
    if column not in frame.columns or frame.height == 0:
        return {}
    out: dict[str, int] = {}
    for value, n in frame.group_by(column).len().sort(column, nulls_last=True).iter_rows():
        out[f"{prefix}{'none' if value is None else value}"] = int(n)
    return out


def _deduplicated(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """``frame`` without exact duplicate rows (the first of each kept), and how many went."""
    if frame.height == 0:
        return frame, 0
    unique = frame.unique(maintain_order=True)
    return unique, frame.height - unique.height


def _content_order(frame: pl.DataFrame, first: Sequence[str]) -> pl.DataFrame:
    """Rows ordered by ``first`` and then every other scalar column: the same rows give the
    same table whatever order the warehouse returned them in."""
    rest = [
        c
        for c, t in frame.schema.items()
        if c not in first and not isinstance(t, pl.List | pl.Array | pl.Struct | pl.Object)
    ]
    return frame.sort([c for c in first if c in frame.columns] + rest, nulls_last=True)


def _refuse_shrink(
    raw_zone: Zone,
    table: str,
    day: str,
    rows: pl.DataFrame,
    what: str,
    allow_shrink: bool | None,
) -> str | None:
    """The reason a day must not be overwritten (a sharp drop), or ``None``."""
    previous = read_partition_table(raw_zone, table, day)
    try:
        guard_shrink(
            what,
            day,
            0 if previous is None else previous.height,
            rows.height,
            allow_shrink=allow_shrink,
            source="the warehouse",
        )
    except StageFailure as exc:
        return str(exc)
    return None


def _ambiguous_patients(patients: pl.DataFrame) -> int:
    """How many patients the warehouse answered with several different rows (exact repeats
    are harmless; a name or birth date that differs would repeat every study of the patient
    in the cohort)."""
    if patients.height == 0:
        return 0
    rows = patients.unique().group_by("patient_id").len()
    return rows.filter(pl.col("len") > 1).height


def _refused_report(day: str, reason: str) -> PartitionReport:
    report = PartitionReport(day)
    report.failed = True
    report.add_problem(reason)
    return report


def _undated_rows(frame: pl.DataFrame, column: str, days: Sequence[str]) -> int:
    """Rows of the window's answer that belong to none of ``days`` (no or another date)."""
    if frame.height == 0 or column not in frame.columns:
        return 0
    wanted = [dt.date.fromisoformat(d) for d in days]
    return frame.filter(pl.col(column).is_null() | ~pl.col(column).is_in(wanted)).height


def load_radiology_reports(
    warehouse: Warehouse,
    raw_zone: Zone,
    days: Sequence[str],
    *,
    allow_shrink: bool | None = None,
) -> dict[str, PartitionReport]:
    """One warehouse query for the whole window, parsed, written per day (history columns from
    the warehouse span around the window, so a day's rows never depend on the window).

    Exact duplicate rows are dropped; a day whose exams drop sharply against its stored table
    is left as it was and reported with ``failed = True`` (see the module doc)."""
    start, end = _window(days)
    parsed, duplicates = _deduplicated(radiology_reports_for_window(warehouse, start, end))
    undated = _undated_rows(parsed, "exam_date", days)
    reports: dict[str, PartitionReport] = {}
    for day in days:
        rows = _content_order(_per_day(parsed, "exam_date", day), ["accession_number"])
        refused = _refuse_shrink(raw_zone, RADIOLOGY_TABLE, day, rows, "exams", allow_shrink)
        if refused:
            reports[day] = _refused_report(day, refused)
            continue
        write_partition_table(raw_zone, RADIOLOGY_TABLE, day, rows)
        report = PartitionReport(day, row_count=rows.height)
        report.count("exams", rows.height)
        report.count("duplicate_warehouse_rows_dropped_in_window", duplicates)
        if undated:
            report.count("warehouse_rows_without_a_date_of_the_window", undated)
        # the same figure as Warehouse.exam_counts (the late-arrival schedule compares them)
        report.count(
            "us_with_pacs_reference",
            rows.filter(
                (pl.col("modality").str.to_uppercase() == "US")
                & (pl.col("study_instance_uid").str.strip_chars().fill_null("") != "")
            )["accession_number"].n_unique(),
        )
        report.counts.update(_value_counts(rows, "modality", "modality_"))
        report.counts.update(_value_counts(rows, "birads", "birads_"))
        if "is_biopsy" in rows.columns:
            report.count("biopsies", int(rows["is_biopsy"].fill_null(False).sum()))
        reports[day] = report
    return reports


#: the texts of a specimen of which the parser keeps one per specimen (the longest)
FOLDED_TEXTS = {"final_diagnosis_text": "final-diagnosis", "synoptic_report": "synoptic"}


def fanout_conflicts(frame: pl.DataFrame) -> pl.DataFrame:
    """Specimens whose warehouse rows disagree on a text the parser keeps only once.

    The warehouse gives one row per (specimen, diagnosis name); an amended or corrected report
    can leave a specimen's rows with different final-diagnosis (or synoptic) texts. The parser
    keeps the longest (:func:`~cadbusi_assets.records.pathology.collapse_fanout`) and folds
    the others away. One row per such specimen: ``specimen_date`` and, per text, how many of
    its rows held a text other than the one kept (counts only: the texts are PHI).
    ``frame``: the warehouse rows in the order the parser reads them.
    """
    if not frame.height or "specimen_accession" not in frame.columns:
        return pl.DataFrame(schema={"specimen_accession": pl.Utf8, "specimen_date": pl.Date})
    typed = frame.select(  # as the parser reads them
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in PATHOLOGY_SCHEMA.items()
        ]
    )
    kept = collapse_fanout(typed).select(
        "specimen_accession",
        pl.col("specimen_date").alias("_date"),
        *[pl.col(c).alias(f"_kept_{c}") for c in FOLDED_TEXTS],
    )
    rows = (
        typed.filter(pl.col("specimen_accession").is_not_null())
        .unique(maintain_order=True)
        .join(kept, on="specimen_accession", how="left")
    )
    folded = rows.group_by("specimen_accession", maintain_order=True).agg(
        pl.col("_date").first().alias("specimen_date"),
        *[
            (pl.col(c).is_not_null() & (pl.col(c) != pl.col(f"_kept_{c}").fill_null("")))
            .sum()
            .alias(f"{name}_rows_folded")
            for c, name in FOLDED_TEXTS.items()
        ],
    )
    counts = [f"{name}_rows_folded" for name in FOLDED_TEXTS.values()]
    return folded.filter(pl.sum_horizontal(counts) > 0)


def _report_fanout_conflicts(report: PartitionReport, conflicts: pl.DataFrame) -> None:
    """Counts and a problem for the specimens of a date whose fan-out rows disagreed."""
    if not conflicts.height:
        return
    report.count("specimens_with_conflicting_fanout_texts", conflicts.height)
    said = []
    for name in FOLDED_TEXTS.values():
        rows = int(conflicts[f"{name}_rows_folded"].sum())
        report.count(f"fanout_rows_folded_{name.replace('-', '_')}_text", rows)
        if rows:
            said.append(f"{rows} with another {name} text")
    report.add_problem(
        f"{conflicts.height} specimen(s) came from the warehouse as several rows with "
        f"differing texts (an amended report, a join fan-out): the longest text of each was "
        f"kept and {', '.join(said)} folded away; the warehouse keeps them (check its "
        "pathology view)"
    )


def load_pathology_reports(
    warehouse: Warehouse,
    raw_zone: Zone,
    days: Sequence[str],
    *,
    allow_shrink: bool | None = None,
) -> dict[str, PartitionReport]:
    start, end = _window(days)
    fetched, duplicates = _deduplicated(warehouse.pathology_specimens(start, end))
    # the parser keeps one of a specimen's fan-out rows (the longest text, ties by position):
    # rows in content order make that choice independent of the warehouse's row order
    ordered = _content_order(fetched, ["specimen_accession"])
    parts = parse_pathology_reports(ordered)
    # what the fan-out collapse folded away, counted (never the texts: PHI)
    conflicts = fanout_conflicts(ordered)
    reports: dict[str, PartitionReport] = {}
    for day in days:
        rows = _content_order(
            _per_day(parts, "specimen_date", day), ["specimen_accession", "part_letter"]
        )
        refused = _refuse_shrink(
            raw_zone, PATHOLOGY_TABLE, day, rows, "specimen parts", allow_shrink
        )
        if refused:
            reports[day] = _refused_report(day, refused)
            continue
        write_partition_table(raw_zone, PATHOLOGY_TABLE, day, rows)
        report = PartitionReport(day, row_count=rows.height)
        report.count("duplicate_warehouse_rows_dropped_in_window", duplicates)
        report.count("specimen_parts", rows.height)
        # the same figure as Warehouse.specimen_counts (the late-arrival schedule compares them)
        report.count(WAREHOUSE_SPECIMENS, _warehouse_specimens(fetched, day))
        if "specimen_accession" in rows.columns:
            report.count("specimens", rows["specimen_accession"].n_unique())
        report.counts.update(_value_counts(rows, "interpretation", "interpretation_"))
        _report_fanout_conflicts(report, _per_day(conflicts, "specimen_date", day))
        reports[day] = report
    return reports


def select_imaging_studies(
    warehouse: Warehouse,
    raw_zone: Zone,
    days: Sequence[str],
    *,
    allow_shrink: bool | None = None,
    require_study_uid: bool | None = None,
) -> dict[str, PartitionReport]:
    """The cohort per day (studies to retrieve) with recorded exclusion reasons.

    Rows without a StudyInstanceUID stay in the cohort (retrieval looks their study up in the
    PACS by accession number, else patient ID + date) unless ``require_study_uid`` (default
    ``$CADBUSI_REQUIRE_STUDY_UID``) excludes them as "missing PACS reference".

    The cohort rows carry the patient's name and birth date (raw zone only) so that later
    stages can scrub and check for the study's own identifiers. A day whose cohort drops
    sharply against the stored one is left as it was and reported with ``failed = True``.
    """
    reports: dict[str, PartitionReport] = {}
    for day in days:
        parsed = read_partition_table(raw_zone, RADIOLOGY_TABLE, day)
        if parsed is None:
            raise MissingUpstream(
                f"radiology_reports for {day} is missing in the raw zone; materialize it first."
            )
        require_uid = _require_study_uid(require_study_uid)
        opt_out = load_opt_out_from_env()
        elsewhere, here = _accessions_stored(
            raw_zone,
            day,
            parsed["accession_number"]
            if "accession_number" in parsed.columns
            else pl.Series([], dtype=pl.Utf8),
        )
        selection = select_cohort(
            parsed,
            require_pacs_reference=require_uid,
            opt_out=opt_out,
            accessions_elsewhere=elsewhere,
            accessions_stored_here=here,
            accession_owners=_accession_owners(
                warehouse, parsed, require_pacs_reference=require_uid, opt_out=opt_out
            ),
        )
        cohort = selection.cohort
        if cohort.height:
            ids = cohort["patient_id"].drop_nulls().unique().sort().to_list()
            patients = warehouse.patients(ids).select(
                "patient_id", "patient_name", "birth_date", "sex"
            )
            if _ambiguous_patients(patients):
                reports[day] = _refused_report(
                    day,
                    f"{day}: the warehouse returned several different rows (name, birth date "
                    "or sex) for a patient of this date; refusing to write a cohort with each "
                    "study once per patient row. Make the patients view give one row per "
                    "patient, then re-run the date",
                )
                continue
            cohort = cohort.join(
                patients.unique(),
                on="patient_id",
                how="left",
            )
        cohort = cohort.sort("accession_number")
        exclusions = selection.exclusions.sort("accession_number", nulls_last=True)
        refused = _refuse_shrink(raw_zone, COHORT_TABLE, day, cohort, "studies", allow_shrink)
        if refused:
            reports[day] = _refused_report(day, refused)
            continue
        write_partition_table(raw_zone, COHORT_TABLE, day, cohort)
        write_partition_table(raw_zone, COHORT_EXCLUSIONS_TABLE, day, exclusions)
        report = PartitionReport(day, row_count=cohort.height)
        report.count("studies", cohort.height)
        report.count("excluded", exclusions.height)
        for reason, n in reason_counts(exclusions).items():
            report.count(f"excluded: {reason}", n)
        reports[day] = report
    return reports


def _accessions_stored(
    raw_zone: Zone, day: str, accessions: pl.Series
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Accession number → the patient ids the stored cohorts hold it for: other dates', and
    ``day``'s own; only for ``accessions`` (the date's rows', the only ones asked about). Reads
    the three columns of every stored cohort (a backfill of years reads them on every date)."""
    columns = ["accession_number", "patient_id", "exam_date"]
    stored = read_all_partition_tables(raw_zone, COHORT_TABLE, columns=columns)
    if stored is None or not set(columns) <= set(stored.columns):
        return {}, {}
    wanted = accessions.cast(pl.Utf8).str.strip_chars().drop_nulls().unique()
    stored = stored.select(columns).drop_nulls().filter(pl.col("accession_number").is_in(wanted))
    elsewhere: dict[str, set[str]] = {}
    here: dict[str, set[str]] = {}
    this_day = dt.date.fromisoformat(day)
    for accession, patient, exam_date in stored.iter_rows():
        held = here if _as_date(exam_date) == this_day else elsewhere
        held.setdefault(accession, set()).add(patient)
    return elsewhere, here


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def _accession_owners(
    warehouse: Warehouse,
    parsed: pl.DataFrame,
    *,
    require_pacs_reference: bool,
    opt_out: frozenset[str],
) -> dict[str, tuple[str, ...]]:
    """Accession number → the patients that keep it, for the date's accessions the warehouse
    gives to several patients (one query for the date's accessions; the date's own rows
    count as they were parsed)."""
    if "accession_number" not in parsed.columns or not parsed.height:
        return {}
    accessions = (
        parsed["accession_number"].cast(pl.Utf8).str.strip_chars().drop_nulls().unique().sort()
    )
    accessions = accessions.filter(accessions != "")
    if not accessions.len():
        return {}
    exams = warehouse.accession_exams(accessions.to_list())
    if not _shared_accessions(exams, parsed):
        return {}  # the usual answer: no accession of the date has another patient
    others = parse_radiology_reports(exams, lexicon=False, history=False)
    columns = [c for c in parsed.columns if c in others.columns]
    together = pl.concat([parsed.select(columns), others.select(columns)], how="vertical_relaxed")
    return accession_owners(
        together, require_pacs_reference=require_pacs_reference, opt_out=opt_out
    )


def _shared_accessions(*frames: pl.DataFrame) -> bool:
    """Whether an accession number of ``frames`` has rows of several patients (ids compared
    without padding or letter case)."""
    ids = pl.concat(
        [
            f.select(
                pl.col("accession_number").cast(pl.Utf8).str.strip_chars(),
                pl.col("patient_id").cast(pl.Utf8).str.strip_chars().str.to_uppercase(),
            )
            for f in frames
            if {"accession_number", "patient_id"} <= set(f.columns)
        ]
    ).drop_nulls()
    patients = ids.group_by("accession_number").agg(pl.col("patient_id").n_unique())
    return bool((patients["patient_id"] > 1).any())


def _attributable(frame: pl.DataFrame, columns: Sequence[str]) -> tuple[pl.DataFrame, int]:
    """Rows whose ``columns`` are all present and not blank, and how many were dropped."""
    present = [c for c in columns if c in frame.columns]
    if not present or frame.height == 0:
        return frame, 0
    ok = pl.all_horizontal(
        [pl.col(c).cast(pl.Utf8).str.strip_chars().fill_null("") != "" for c in present]
    )
    kept = frame.filter(ok)
    return kept, frame.height - kept.height


def relabelled_breasts(previous: pl.DataFrame | None, labels: pl.DataFrame) -> pl.DataFrame:
    """``before, after, rule, n``: breasts (exam and side) of the previous labels whose label
    changed, by the new label's rule (the evidence: a pathology row that came late, a
    follow-up); counts only (no id or date: the operator sees why labels moved).

    >>> old = pl.DataFrame({"accession_number": ["A", "A"], "side": ["LEFT", "RIGHT"],
    ...                     "label": ["unknown", "benign"], "rule": ["none", "birads_2"]})
    >>> new = old.with_columns(label=pl.Series(["malignant", "benign"]),
    ...                        rule=pl.Series(["pathology", "birads_2"]))
    >>> relabelled_breasts(old, new).rows()
    [('unknown', 'malignant', 'pathology', 1)]
    """
    schema = pl.Schema({"before": pl.Utf8, "after": pl.Utf8, "rule": pl.Utf8, "n": pl.UInt32})
    keys = ["accession_number", "side"]
    if previous is None or not {*keys, "label"} <= set(previous.columns):
        return pl.DataFrame(schema=schema)
    joined = labels.select(*keys, "label", "rule").join(
        previous.select(*keys, pl.col("label").alias("before")), on=keys, how="inner"
    )
    changed = joined.filter(pl.col("label").ne_missing(pl.col("before")))
    return (
        changed.group_by(
            pl.col("before").fill_null("none"),
            pl.col("label").fill_null("none").alias("after"),
            pl.col("rule").fill_null("none"),
        )
        .len(name="n")
        .sort("before", "after", "rule")
        .cast(schema)
    )


def build_diagnosis_labels(
    raw_zone: Zone,
    research_zone: Zone,
    pseudonymizer: Pseudonymizer,
    windows: LabelWindows | None = None,
) -> PartitionReport:
    """Per-breast labels over every materialized date (windows need history across dates)."""
    radiology = read_all_partition_tables(raw_zone, RADIOLOGY_TABLE)
    pathology = read_all_partition_tables(raw_zone, PATHOLOGY_TABLE)
    if radiology is None:
        raise MissingUpstream("No radiology_reports partitions exist yet; materialize them first.")
    if pathology is None:
        pathology = parse_pathology_reports(pl.DataFrame(schema=PATHOLOGY_SCHEMA))
    # rows that cannot be attributed to a patient or an exam never get a label (they are
    # excluded from the cohort with a reason; here they are counted)
    radiology, unusable_exams = _attributable(radiology, ["patient_id", "accession_number"])
    pathology, unusable_specimens = _attributable(pathology, ["patient_id"])
    labels = diagnosis_labels(radiology, pathology, windows or LabelWindows())
    labels = labels.sort(["accession_number", "side"])
    previous = raw_zone.read_parquet(*LABELS_PATH) if raw_zone.exists(*LABELS_PATH) else None
    raw_zone.write_parquet(LABELS_PATH, labels)
    research = pseudonymize_labels(labels, pseudonymizer).sort(["accession_number", "side"])
    research_zone.write_parquet(LABELS_PATH, research)
    report = PartitionReport("all", row_count=research.height)
    report.count("breast_exams", research.height)
    report.count("exams_skipped_without_patient_or_accession", unusable_exams)
    report.count("specimens_skipped_without_patient", unusable_specimens)
    report.counts.update(_value_counts(research, "has_malignant", "has_malignant_"))
    if "rule" in research.columns:
        report.counts.update(_value_counts(research, "rule", "rule_"))
    relabelled = relabelled_breasts(previous, labels)
    report.count("breasts_relabelled", int(relabelled["n"].sum()) if relabelled.height else 0)
    for before, after, rule, n in relabelled.iter_rows():
        report.count(f"relabelled {before} -> {after} ({rule})", n)
    report.tables["relabelled"] = relabelled
    report.tables["labels_by_rule"] = (
        research.group_by(["rule", "has_malignant"]).len().sort(["rule", "has_malignant"])
        if {"rule", "has_malignant"} <= set(research.columns)
        else pl.DataFrame()
    )
    return report
