"""The one interface every PACS implementation offers, and the errors they raise.

Error messages never carry an identifier (no UID, accession number, patient name or URL with
a UID in it): they are written to manifests and logs. Implementations translate their library
errors into these classes with a short, PHI-free ``reason`` such as ``"HTTP 503"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


class PacsError(RuntimeError):
    """The PACS is unreachable or misconfigured (fatal for a run): says what to do, no secrets."""


#: The largest instance fetched by default, by DICOMweb and DIMSE alike (a cine clip is
#: hundreds of MB at most).
DEFAULT_MAX_INSTANCE_BYTES = 2 * 1024**3
#: The most matches one listing or search may answer.
DEFAULT_MAX_FIND_RESULTS = 100_000
#: Bytes of framing (multipart boundaries, part headers, file meta) allowed around an instance.
FRAMING_BYTES = 64 * 1024


def positive(value: float, name: str, unit: str = "", *, whole: bool = True) -> float:
    """``value`` as a number above 0 (an ``int`` where ``whole``), else a :class:`PacsError`
    naming the option."""
    number = int(value) if whole else float(value)
    if not number > 0:
        raise PacsError(f"{name} must be a positive number{' of ' + unit if unit else ''}.")
    return number


class RetrievalError(Exception):
    """One request failed. ``reason`` is short and free of identifiers; ``transient`` errors are
    worth retrying (HTTP 429/5xx, dropped connections, aborted associations, timeouts)."""

    transient = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(RetrievalError):
    """A failure that may go away on its own (retry with backoff). ``retry_after`` is the
    server's ``Retry-After`` hint in seconds, where it sent one."""

    transient = True

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class TooLargeError(RetrievalError):
    """An instance larger than the PACS's ``max_instance_bytes``: not retried, never stored
    (what arrived is removed). The reason names the cap, never the instance."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"instance larger than max_instance_bytes ({limit} bytes)")
        self.limit = limit


class TooSlowError(RetrievalError):
    """A request (an instance, a series answer, a listing) still going after the PACS's
    ``max_request_seconds``: a server sending a byte now and then never lets the read timeout
    fire. Not retried (the same server would do it again); what arrived is removed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"request took longer than max_request_seconds ({seconds:g} s)")
        self.seconds = seconds


class AnswerTooLargeError(RetrievalError):
    """A listing or search answer (read whole to be parsed) over the PACS's
    ``max_answer_bytes``: its reading stops there. Not retried."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than max_answer_bytes ({limit} bytes)")
        self.limit = limit


class NotFoundError(RetrievalError):
    """The PACS does not hold the requested study or instance."""


class StudyNotFoundError(NotFoundError):
    """The PACS does not know the study at all (as opposed to a study without instances)."""

    def __init__(self, reason: str = "study not found in PACS") -> None:
        super().__init__(reason)


@dataclass(frozen=True)
class InstanceRef:
    """One instance the PACS says belongs to a study.

    ``series_instance_uid`` and ``sop_instance_uid`` are ``None`` where the listing cannot know
    them without downloading (folder files). ``source`` is an opaque locator that only the PACS
    that produced the reference understands (a path, a URL, a UID triple).
    """

    study_instance_uid: str
    series_instance_uid: str | None
    sop_instance_uid: str | None
    source: str


@dataclass(frozen=True)
class StudyMatch:
    """One study found by a date-window query (raw zone only: it holds identifiers)."""

    study_instance_uid: str
    accession_number: str | None = None
    study_date: dt.date | None = None
    study_time: str | None = None
    modalities: str | None = None
    number_of_instances: int | None = None
    patient_id: str | None = None


@runtime_checkable
class Pacs(Protocol):
    """List the instances of a study and stream one instance at a time."""

    name: str

    def list_instances(self, study_instance_uid: str) -> list[InstanceRef]:
        """The expected instance list. Raises :class:`StudyNotFoundError` where the PACS can tell
        a missing study apart, :class:`RetrievalError` on request failures."""
        ...

    def fetch(self, ref: InstanceRef, dest: BinaryIO) -> int:
        """Stream one instance (a DICOM Part-10 file) into ``dest``; return the bytes written."""
        ...

    def check(self) -> None:
        """Raise :class:`PacsError` unless the PACS answers (a cheap query or C-ECHO)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class PlansFetches(Protocol):
    """Optional: PACS implementations that retrieve better knowing what a run will fetch (DIMSE:
    one SERIES-level request for a series fetched whole)."""

    def plan_fetches(
        self, refs: Sequence[InstanceRef], spool: Callable[[], Path] | None = None
    ) -> None:
        """``refs`` are about to be fetched (each still through :meth:`Pacs.fetch`); ``spool``
        gives a fresh local folder path where instances may wait until they are taken."""
        ...


@runtime_checkable
class StudySearch(Protocol):
    """Optional: PACS implementations that can query studies by date (QIDO-RS, C-FIND)."""

    def search_studies(
        self, study_date: str, study_time: str | None = None, *, limit: int | None = None
    ) -> list[StudyMatch]:
        """Studies matching a DICOM ``StudyDate`` (``YYYYMMDD`` or ``YYYYMMDD-YYYYMMDD``) and,
        optionally, a ``StudyTime`` range (``HHMMSS-HHMMSS``). ``limit`` asks for at most that
        many results; the PACS may also cap results on its own."""
        ...


@runtime_checkable
class StudyLookup(Protocol):
    """Optional: PACS implementations that can find a study by its identifiers (QIDO-RS,
    C-FIND at STUDY level) when the warehouse holds no StudyInstanceUID."""

    def lookup_studies(
        self,
        *,
        accession_number: str | None = None,
        patient_id: str | None = None,
        study_date: dt.date | None = None,
        modality: str | None = None,
        limit: int | None = None,
    ) -> list[StudyMatch]:
        """Studies whose ``AccessionNumber``, ``PatientID``, ``StudyDate`` and
        ``ModalitiesInStudy`` match every given value exactly (values never hold wildcards;
        the caller checks the answers again, since some PACS ignore keys they do not support).
        The result carries ``truncated`` when the PACS says it cut the answer short."""
        ...
