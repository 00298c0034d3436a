"""Find studies: the studies of a date window (:func:`find_studies`), and the StudyInstanceUID
of warehouse rows that lack one (:func:`resolve_study_uids`).

:func:`find_studies` splits the window when the PACS caps its answers.

Many PACS stop a C-FIND (or QIDO-RS) after a fixed number of matches, often silently (some
answer ``0xFE00``, "matching terminated"). :func:`find_studies` treats an answer with
``max_results`` or more matches, or one the PACS marked as cut, as incomplete and bisects the
window (by days, then by ``StudyTime`` within a day, down to one second) until every piece
answers below the cap.

Limitation: a time-range query does not match studies without a StudyTime. Windows are only
split below one day when a single day hits the cap, and a warning is logged when a one-second
piece is still capped.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping

import polars as pl

from cadbusi_assets.pacs.base import (
    Pacs,
    PacsError,
    RetrievalError,
    StudyLookup,
    StudyMatch,
    StudySearch,
)

log = logging.getLogger(__name__)

_DAY = dt.timedelta(days=1)
_SECOND = dt.timedelta(seconds=1)

FOUND_SCHEMA = {
    "study_instance_uid": pl.String,
    "accession_number": pl.String,
    "study_date": pl.Date,
    "study_time": pl.String,
    "modalities": pl.String,
    "number_of_instances": pl.Int64,
}


class StudyMatches(list[StudyMatch]):
    """Search results; ``truncated`` is set when the PACS said it stopped early."""

    truncated: bool = False


def find_studies(
    pacs: Pacs,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime,
    *,
    max_results: int,
) -> pl.DataFrame:
    """All studies with StudyDate/StudyTime in ``[start, end)`` (a date means its midnight).

    ``max_results`` is the PACS's cap on one query (or less). Returns one row per study, sorted
    by date, time and UID (raw zone: the frame holds UIDs and accession numbers).

    >>> from cadbusi_assets.pacs.folder import FolderPacs
    >>> import tempfile
    >>> find_studies(FolderPacs(tempfile.mkdtemp()), dt.date(2024, 1, 1), dt.date(2024, 1, 2),
    ...              max_results=10).height
    0
    """
    if not isinstance(pacs, StudySearch):
        raise PacsError(f"The {pacs.name} PACS cannot search studies by date.")
    if max_results < 1:
        raise ValueError("max_results must be at least 1")
    low, high = _as_datetime(start), _as_datetime(end)
    if high <= low:
        raise ValueError("The window end must be after its start.")
    found: dict[str, StudyMatch] = {}
    for piece in _pieces(low, high):
        _collect(pacs, piece, max_results, found)
    rows = sorted(
        found.values(),
        key=lambda m: (m.study_date or dt.date.min, m.study_time or "", m.study_instance_uid),
    )
    return pl.DataFrame(
        [
            {
                "study_instance_uid": m.study_instance_uid,
                "accession_number": m.accession_number,
                "study_date": m.study_date,
                "study_time": m.study_time,
                "modalities": m.modalities,
                "number_of_instances": m.number_of_instances,
            }
            for m in rows
        ],
        schema=FOUND_SCHEMA,
        orient="row",
    )


def query_for(low: dt.datetime, high: dt.datetime) -> tuple[str, str | None]:
    """DICOM ``(StudyDate, StudyTime)`` matching ``[low, high)``, for a piece that is either
    whole days or part of one day.

    >>> query_for(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3))
    ('20240101-20240102', None)
    >>> query_for(dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 2))
    ('20240101', '120000-235959')
    """
    if _is_midnight(low) and _is_midnight(high):
        last = (high - _DAY).date()
        first = low.date()
        date = first.strftime("%Y%m%d")
        return (date if first == last else f"{date}-{last.strftime('%Y%m%d')}"), None
    if (high - _SECOND).date() != low.date():
        raise ValueError("A partial-day piece must stay within one day.")
    return low.strftime("%Y%m%d"), f"{low:%H%M%S}-{high - _SECOND:%H%M%S}"


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0, tzinfo=None)
    return dt.datetime.combine(value, dt.time())


def _is_midnight(value: dt.datetime) -> bool:
    return value.time() == dt.time()


def _pieces(low: dt.datetime, high: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Split ``[low, high)`` into a partial first day, whole days and a partial last day."""
    pieces = []
    first_midnight = dt.datetime.combine(low.date(), dt.time())
    if not _is_midnight(low):
        first_midnight += _DAY
        pieces.append((low, min(first_midnight, high)))
    last_midnight = dt.datetime.combine(high.date(), dt.time())
    if first_midnight < last_midnight:
        pieces.append((first_midnight, last_midnight))
    if not _is_midnight(high) and last_midnight >= first_midnight:
        pieces.append((max(last_midnight, low), high))
    return [(a, b) for a, b in pieces if a < b]


def _halves(low: dt.datetime, high: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]] | None:
    span = high - low
    if span <= _SECOND:
        return None
    if _is_midnight(low) and _is_midnight(high) and span >= 2 * _DAY:
        middle = low + _DAY * (span.days // 2)
    else:
        middle = low + dt.timedelta(seconds=span.total_seconds() // 2)
    return [(low, middle), (middle, high)]


def _collect(
    pacs: StudySearch,
    piece: tuple[dt.datetime, dt.datetime],
    max_results: int,
    found: dict[str, StudyMatch],
) -> None:
    stack = [piece]
    while stack:
        low, high = stack.pop()
        date, time_range = query_for(low, high)
        matches = pacs.search_studies(date, time_range, limit=max_results)
        capped = len(matches) >= max_results or bool(getattr(matches, "truncated", False))
        halves = _halves(low, high) if capped else None
        if halves:
            stack.extend(reversed(halves))
            continue
        if capped:
            log.warning(
                "a one-second window still returns %d or more studies; some may be missing",
                max_results,
            )
        for match in matches:
            found.setdefault(match.study_instance_uid, match)


# -- StudyInstanceUID lookups (warehouse rows without one) -----------------------------------

#: set to 1/true/yes/on to exclude warehouse rows without a StudyInstanceUID from the cohort
#: ("missing PACS reference") instead of looking their study up in the PACS at retrieval
REQUIRE_STUDY_UID_ENV = "CADBUSI_REQUIRE_STUDY_UID"
_TRUE = {"1", "true", "yes", "on"}


def require_study_uid(value: bool | None = None, env: Mapping[str, str] | None = None) -> bool:
    """``value`` when given, else ``$CADBUSI_REQUIRE_STUDY_UID`` (default off: rows without a
    StudyInstanceUID stay in the cohort and retrieval looks them up).

    >>> require_study_uid(env={}), require_study_uid(env={"CADBUSI_REQUIRE_STUDY_UID": "1"})
    (False, True)
    >>> require_study_uid(False, env={"CADBUSI_REQUIRE_STUDY_UID": "yes"})
    False
    """
    if value is not None:
        return bool(value)
    env = os.environ if env is None else env
    return env.get(REQUIRE_STUDY_UID_ENV, "").strip().lower() in _TRUE


#: how many matches one lookup asks for (more than one is ambiguous anyway)
LOOKUP_LIMIT = 10

#: where a resolved row's study_instance_uid came from (column ``study_uid_source``)
SOURCE_WAREHOUSE = "warehouse"
SOURCE_ACCESSION = "accession number"
SOURCE_PATIENT_DATE = "patient ID and study date"

#: why a row stays unresolved (column ``lookup_reason``); never an identifier
REASON_NO_KEYS = "no accession number, or patient ID and study date, to look up"
REASON_WILDCARD = "identifier holds DICOM wildcard characters"
REASON_NO_ACCESSION_MATCH = "no study with this accession number"
REASON_ACCESSION_AMBIGUOUS = "several studies share this accession number"
REASON_NO_PATIENT_DATE_MATCH = "no study for this patient ID and study date"
REASON_PATIENT_DATE_AMBIGUOUS = "several studies for this patient ID and study date"
REASON_TRUNCATED = "the PACS cut the answer short"
REASON_SHARED_STUDY = "several warehouse rows resolve to the same study"
REASON_NOT_SUPPORTED = "the PACS cannot look up studies by accession number or patient ID"
REASON_FAILED = "lookup failed"  # followed by the PACS error's reason in parentheses

LOOKUP_REASONS: tuple[str, ...] = (
    REASON_NO_KEYS,
    REASON_WILDCARD,
    REASON_NO_ACCESSION_MATCH,
    REASON_ACCESSION_AMBIGUOUS,
    REASON_NO_PATIENT_DATE_MATCH,
    REASON_PATIENT_DATE_AMBIGUOUS,
    REASON_TRUNCATED,
    REASON_SHARED_STUDY,
    REASON_NOT_SUPPORTED,
    REASON_FAILED,
)

_WILDCARDS = ("*", "?", "\\")
_KEY_COLUMNS = ("_acc", "_pid", "_date", "_mod")


def lookup_keys(
    accession_number: str | None,
    patient_id: str | None,
    study_date: dt.date | None,
    modality: str | None,
) -> dict[str, str]:
    """The DICOM matching keys of a lookup: exact values only, never empty (an empty key is
    universal matching) and never a wildcard (``*``, ``?``) or a multi-value ``\\``.

    >>> lookup_keys("A1", None, dt.date(2024, 3, 5), "US")
    {'AccessionNumber': 'A1', 'StudyDate': '20240305', 'ModalitiesInStudy': 'US'}
    >>> lookup_keys("A*", None, None, None)
    Traceback (most recent call last):
    ...
    ValueError: lookup values must not hold DICOM wildcard characters
    """
    keys: dict[str, str] = {}
    for keyword, value in (("AccessionNumber", accession_number), ("PatientID", patient_id)):
        if value is not None and str(value).strip():
            keys[keyword] = str(value).strip()
    if study_date is not None:
        keys["StudyDate"] = study_date.strftime("%Y%m%d")
    if modality is not None and str(modality).strip():
        keys["ModalitiesInStudy"] = str(modality).strip().upper()
    if not ({"AccessionNumber", "PatientID"} & keys.keys()):
        raise ValueError("a lookup needs an accession number or a patient ID")
    if any(w in v for v in keys.values() for w in _WILDCARDS):
        raise ValueError("lookup values must not hold DICOM wildcard characters")
    return keys


def resolve_study_uids(
    pacs: Pacs, rows: pl.DataFrame, *, limit: int = LOOKUP_LIMIT
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give every row a StudyInstanceUID: the warehouse's, else the PACS's answer to a lookup
    by ``accession_number`` (QIDO-RS ``AccessionNumber`` / C-FIND at STUDY level), else by
    ``patient_id`` + study date (``study_date`` or ``exam_date``; with ``ModalitiesInStudy``
    when the row has a ``modality``).

    Returns ``(resolved, unresolved)``, both in input order with all input columns:
    ``resolved`` has ``study_instance_uid`` filled and ``study_uid_source`` (one of
    ``SOURCE_*``); ``unresolved`` has ``lookup_reason`` (one of :data:`LOOKUP_REASONS`, the
    last one with the PACS error in parentheses). An accession that matches several studies is
    narrowed by the row's patient ID and date where it has them; every answer is checked
    again here, since some PACS ignore matching keys they do not support. One query per
    distinct key, not per row. Raw zone: both frames hold identifiers.

    A PACS without lookups but with date searches (the folder PACS) is searched per study
    date and filtered here. :class:`PacsError` (unreachable, misconfigured) propagates.
    """
    frame = rows
    for column in ("study_instance_uid", "accession_number", "patient_id", "modality"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    date_column = next((c for c in ("study_date", "exam_date") if c in frame.columns), None)
    date = pl.col(date_column).cast(pl.Date) if date_column else pl.lit(None, dtype=pl.Date)
    columns = list(frame.columns)

    def clean(name: str) -> pl.Expr:
        text = pl.col(name).cast(pl.String).str.strip_chars()
        return pl.when(text.str.len_chars() > 0).then(text)

    staged = frame.with_row_index("__row").with_columns(
        clean("study_instance_uid").alias("_uid"),
        clean("accession_number").alias("_acc"),
        clean("patient_id").alias("_pid"),
        date.alias("_date"),
        clean("modality").str.to_uppercase().alias("_mod"),
    )
    have = staged.filter(pl.col("_uid").is_not_null())
    need = staged.filter(pl.col("_uid").is_null())

    keys = need.select(_KEY_COLUMNS).unique(maintain_order=True)
    cache: dict[dt.date, tuple[list[StudyMatch], bool]] = {}
    answers = [_resolve_one(pacs, limit, *key, cache=cache) for key in keys.iter_rows()]
    answer_schema: dict[str, pl.DataType | type[pl.DataType]] = {
        **{c: keys.schema[c] for c in _KEY_COLUMNS},
        "_found": pl.String,
        "study_uid_source": pl.String,
        "lookup_reason": pl.String,
    }
    looked_up = pl.DataFrame(
        [(*key, *answer) for key, answer in zip(keys.iter_rows(), answers, strict=True)],
        schema=answer_schema,
        orient="row",
    )
    need = need.join(looked_up, on=list(_KEY_COLUMNS), how="left", nulls_equal=True)

    # a study found by patient ID and date for several different keys, or that another row
    # already names, cannot be told apart: record it rather than guess
    by_patient_date = (pl.col("study_uid_source") == SOURCE_PATIENT_DATE).any().over("_found")
    shared = pl.col("_found").is_not_null() & (
        ((pl.struct(_KEY_COLUMNS).n_unique().over("_found") > 1) & by_patient_date)
        | (
            (pl.col("study_uid_source") == SOURCE_PATIENT_DATE)
            & pl.col("_found").is_in(have["_uid"].implode())
        )
    )
    need = need.with_columns(
        pl.when(shared)
        .then(pl.lit(REASON_SHARED_STUDY))
        .otherwise("lookup_reason")
        .alias("lookup_reason"),
        pl.when(shared).then(None).otherwise("_found").alias("_found"),
    )
    resolved = pl.concat(
        [
            have.with_columns(
                pl.col("_uid").alias("study_instance_uid"),
                pl.lit(SOURCE_WAREHOUSE).alias("study_uid_source"),
            ),
            need.filter(pl.col("_found").is_not_null()).with_columns(
                pl.col("_found").alias("study_instance_uid")
            ),
        ],
        how="diagonal_relaxed",
    ).sort("__row")
    unresolved = need.filter(pl.col("_found").is_null()).sort("__row")
    return (
        resolved.select(*columns, "study_uid_source"),
        unresolved.select(*columns, "lookup_reason"),
    )


def _resolve_one(
    pacs: Pacs,
    limit: int,
    accession: str | None,
    patient_id: str | None,
    date: dt.date | None,
    modality: str | None,
    *,
    cache: dict[dt.date, tuple[list[StudyMatch], bool]],
) -> tuple[str | None, str | None, str | None]:
    """``(uid, source, None)`` or ``(None, None, reason)`` for one distinct key."""
    if accession is None and (patient_id is None or date is None):
        return None, None, REASON_NO_KEYS
    if any(w in (v or "") for v in (accession, patient_id) for w in _WILDCARDS):
        return None, None, REASON_WILDCARD
    if not isinstance(pacs, StudyLookup) and not (isinstance(pacs, StudySearch) and date):
        return None, None, REASON_NOT_SUPPORTED
    try:
        reason = None
        if accession is not None:
            matches, cut = _lookup(pacs, limit, accession=accession, date=date, cache=cache)
            matches = [m for m in matches if m.accession_number == accession]
            if len(matches) > 1:  # narrow by what else the row knows
                narrowed = [
                    m
                    for m in matches
                    if (patient_id is None or m.patient_id in (None, patient_id))
                    and (date is None or m.study_date in (None, date))
                ]
                matches = narrowed or matches
            if len(matches) == 1 and not cut:
                return matches[0].study_instance_uid, SOURCE_ACCESSION, None
            if cut:
                return None, None, REASON_TRUNCATED
            if matches:
                return None, None, REASON_ACCESSION_AMBIGUOUS
            reason = REASON_NO_ACCESSION_MATCH
        if patient_id is None or date is None:
            return None, None, reason
        matches, cut = _lookup(
            pacs, limit, patient_id=patient_id, date=date, modality=modality, cache=cache
        )
        matches = [
            m
            for m in matches
            if m.patient_id == patient_id
            and m.study_date in (None, date)
            and (modality is None or m.modalities is None or modality in m.modalities.split("\\"))
        ]
        if cut:
            return None, None, REASON_TRUNCATED
        if len(matches) == 1:
            return matches[0].study_instance_uid, SOURCE_PATIENT_DATE, None
        if matches:
            return None, None, REASON_PATIENT_DATE_AMBIGUOUS
        return None, None, REASON_NO_PATIENT_DATE_MATCH
    except RetrievalError as exc:
        return None, None, f"{REASON_FAILED} ({exc.reason})"


def _lookup(
    pacs: Pacs,
    limit: int,
    *,
    accession: str | None = None,
    patient_id: str | None = None,
    date: dt.date | None = None,
    modality: str | None = None,
    cache: dict[dt.date, tuple[list[StudyMatch], bool]],
) -> tuple[list[StudyMatch], bool]:
    """The PACS's matches and whether the answer was cut short."""
    if isinstance(pacs, StudyLookup):
        found = pacs.lookup_studies(
            accession_number=accession,
            patient_id=patient_id,
            # an accession is looked up on its own: a warehouse date may differ from the PACS's
            study_date=date if accession is None else None,
            modality=modality if accession is None else None,
            limit=limit,
        )
        return list(found), len(found) >= limit or bool(getattr(found, "truncated", False))
    # date search only (folder PACS): every study of the day, filtered by the caller
    assert isinstance(pacs, StudySearch) and date is not None
    if date not in cache:
        found = pacs.search_studies(date.strftime("%Y%m%d"))
        cache[date] = (list(found), bool(getattr(found, "truncated", False)))
    return cache[date]
