"""Find the studies of a date window, splitting the window when the PACS caps its answers.

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

import polars as pl

from cadbusi_assets.pacs.base import Pacs, PacsError, StudyMatch, StudySearch

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
