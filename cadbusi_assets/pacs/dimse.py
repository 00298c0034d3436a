"""DIMSE PACS (pynetdicom): C-FIND to list, then C-MOVE to our own Storage SCP, or C-GET.

- Listing is hierarchical (Study Root): C-FIND SERIES for the study, then C-FIND IMAGE per
  series. A listing cut short by the PACS (status ``0xFE00``) is an error, never a short list.
- ``mode="move"`` (what almost every PACS offers): the PACS must know our AE title
  (``move_destination``), host and ``store_port``; we run a Storage SCP on that port and route
  each incoming C-STORE to the request waiting for that SOP Instance UID.
- ``mode="get"``: instances come back on the same association (no inbound port), where the PACS
  offers C-GET; we propose SCP roles for the usual ultrasound-related storage classes.
- Received data sets are written by pynetdicom to a temporary file while they arrive
  (``STORE_RECV_CHUNKED_DATASET``), then copied to the caller's stream: never whole in memory.
- At most ``max_connections`` associations are open at once; idle ones are reused.
- ``level=series`` (the default): where a run fetches every instance the listing found in a
  series (:meth:`DimsePacs.plan_fetches`), one SERIES-level C-MOVE / C-GET brings the whole
  series (what PACS administrators prefer to one request per image); each instance is held in
  a temporary file until its own fetch takes it. An instance the series request did not bring
  is asked for alone, as with ``level=image`` (one IMAGE-level request per instance).
- ``max_find_results`` (default 100,000): a C-FIND answering more matches is aborted and
  fails (a PACS answering without end would fill our memory).
- ``tls=1``: DICOM TLS (PS3.15 Annex B) on every association, ours and the PACS's C-MOVE
  deliveries to our Storage SCP: the PACS's certificate is verified against ``tls_ca`` (a PEM
  file; default: the system's CAs) and its name (``tls_hostname``, default the host);
  ``tls_cert`` / ``tls_key`` (PEM files) are our certificate, shown to the PACS and served by
  the Storage SCP, which requires the PACS's certificate in turn (signed by ``tls_ca``).
  A handshake that fails is a :class:`PacsError` naming what the TLS library said. An
  encrypted key's passphrase comes from ``$CADBUSI_PACS_TLS_KEY_PASSWORD`` (never a prompt).
- ``max_instance_bytes`` (default 2 GiB, as for DICOMweb): a data set still arriving past it
  is cut (the association is aborted, its partial file removed) and the instance recorded
  failed ("instance larger than max_instance_bytes"), not retried. The partial file of any
  data set whose association ends before it is complete (the PACS dropped, an abort) is
  removed too: pynetdicom leaves it in the system temporary folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    DEFAULT_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    _config,
    build_role,
    evt,
)
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind as FIND_MODEL,
)
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelGet as GET_MODEL,
)
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelMove as MOVE_MODEL,
)
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from cadbusi_assets.pacs.base import (
    DEFAULT_MAX_FIND_RESULTS,
    DEFAULT_MAX_INSTANCE_BYTES,
    FRAMING_BYTES,
    InstanceRef,
    NotFoundError,
    PacsError,
    RetrievalError,
    StudyMatch,
    StudyNotFoundError,
    TooLargeError,
    TransientError,
    positive,
)
from cadbusi_assets.pacs.find import StudyMatches, lookup_keys
from cadbusi_assets.pacs.series import LEVELS, SeriesBatch, SeriesBatches
from cadbusi_assets.pacs.tls import tls_contexts

log = logging.getLogger(__name__)

#: Storage classes accepted in every transfer syntax (ultrasound exams and what travels with
#: them): proposed with the SCP role for C-GET, and accepted by our C-MOVE Storage SCP (which
#: accepts every other storage class uncompressed only: negotiating all classes in all
#: transfer syntaxes costs pynetdicom tens of ms per association). Extend with
#: ``storage_classes=[...]``.
#: The classes whose objects must arrive as stored (no transcoding) with C-GET.
ULTRASOUND_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.6.1",
        "1.2.840.10008.5.1.4.1.1.3.1",
        "1.2.840.10008.5.1.4.1.1.6",
        "1.2.840.10008.5.1.4.1.1.3",
    }
)
#: Transfer syntaxes proposed one per context for those classes (4 x 11 = 44 contexts, well
#: under the 128-context limit of an association).
ORIGINAL_SYNTAXES = (
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
)

STORAGE_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
    "1.2.840.10008.5.1.4.1.1.6",  # Ultrasound Image (retired)
    "1.2.840.10008.5.1.4.1.1.3",  # Ultrasound Multi-frame Image (retired)
    "1.2.840.10008.5.1.4.1.1.6.2",  # Enhanced US Volume
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit SC
    "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
    "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
    "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
    "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic Image
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
    "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.59",  # Key Object Selection
    "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
    "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray (for presentation)
    "1.2.840.10008.5.1.4.1.1.13.1.3",  # Breast Tomosynthesis
)

_STUDY_UID_TAG = 0x0020000D
_SERIES_UID_TAG = 0x0020000E
_PENDING = (0xFF00, 0xFF01)
_OUT_OF_RESOURCES = (0xA700, 0xA701, 0xA702)
_MODES = ("move", "get")


@dataclass
class _Waiting:
    dest: BinaryIO
    #: (Study, Series Instance UID) asked for: a data set of another study or series with the
    #: same SOP Instance UID (a concurrent series retrieval of another study) is not this one
    identity: tuple[str, str] | None = None
    size: int = 0
    received: bool = False
    error: RetrievalError | None = None
    done: threading.Event = field(default_factory=threading.Event)


class DimsePacs:
    """A DICOM Query/Retrieve SCP at ``host:port`` called ``called_aet``."""

    def __init__(
        self,
        called_aet: str,
        host: str,
        port: int,
        *,
        calling_aet: str = "CADBUSI",
        mode: str = "move",
        move_destination: str | None = None,
        store_port: int = 11113,
        store_bind: str = "0.0.0.0",
        timeout: float = 60.0,
        max_connections: int = 4,
        max_pdu: int = 262144,
        window: str | None = None,
        storage_classes: tuple[str, ...] | list[str] = (),
        level: str = "series",
        max_instance_bytes: int = DEFAULT_MAX_INSTANCE_BYTES,
        max_find_results: int = DEFAULT_MAX_FIND_RESULTS,
        tls: bool | str = False,
        tls_ca: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        tls_hostname: str | None = None,
    ) -> None:
        if mode not in _MODES:
            raise PacsError(f"Unknown DIMSE mode {mode!r}: use mode=move or mode=get.")
        if level not in LEVELS:
            raise PacsError(f"Unknown DIMSE retrieval level {level!r}: use level=series or image.")
        for title in (called_aet, calling_aet, move_destination or calling_aet):
            if not 0 < len(title) <= 16:
                raise PacsError("DICOM AE titles must be 1 to 16 characters long.")
        self.name = f"dimse-{mode}"
        self.called_aet = called_aet
        self.host = host
        self.port = int(port)
        self.calling_aet = calling_aet
        self.mode = mode
        self.move_destination = move_destination or calling_aet
        self.store_port = int(store_port)
        self.store_bind = store_bind
        self.timeout = float(timeout)
        self.max_connections = max(1, int(max_connections))
        self.max_pdu = int(max_pdu)
        self.window = window or None
        self.level = level
        self.max_instance_bytes = int(positive(max_instance_bytes, "max_instance_bytes", "bytes"))
        self.max_find_results = int(positive(max_find_results, "max_find_results"))
        self._too_large: set[str] = set()  # SOP Instance UIDs cut at the cap (never retried)
        self.tls = _flag(tls, "tls")
        self.tls_hostname = tls_hostname or host
        self._tls_client: ssl.SSLContext | None = None
        self._tls_server: ssl.SSLContext | None = None
        if self.tls:
            self._tls_client, self._tls_server = _tls_contexts(
                tls_ca, tls_cert, tls_key, needs_server=mode == "move"
            )
        elif tls_ca or tls_cert or tls_key:
            raise PacsError("tls_ca, tls_cert and tls_key need tls=1 in the DIMSE PACS URI.")
        # received data sets go to a temporary file while they arrive, not into memory
        _config.STORE_RECV_CHUNKED_DATASET = True
        _quiet_pynetdicom()

        self.storage_classes = tuple(dict.fromkeys((*STORAGE_CLASSES, *storage_classes)))
        self._ae = self._requestor(self.storage_classes)
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self._idle: list[Association] = []
        self._idle_lock = threading.Lock()
        self._waiting: dict[str, _Waiting] = {}
        self._waiting_lock = threading.Lock()
        self._server: Any = None
        self._server_lock = threading.Lock()
        self._series = SeriesBatches(level)

    @property
    def requests(self) -> dict[str, int]:
        """Retrieval requests sent so far, by level (``series``, ``image``)."""
        return self._series.requests

    def __repr__(self) -> str:
        return f"DimsePacs({self.called_aet}@{self.host}:{self.port}, mode={self.mode})"

    # -- associations ------------------------------------------------------------------------
    def _requestor(self, storage_classes: tuple[str, ...]) -> AE:
        ae = AE(ae_title=self.calling_aet)
        for value in ("acse_timeout", "dimse_timeout", "network_timeout"):
            setattr(ae, value, self.timeout)
        ae.maximum_pdu_size = self.max_pdu
        ae.add_requested_context(Verification)
        ae.add_requested_context(FIND_MODEL)
        if self.mode == "move":
            ae.add_requested_context(MOVE_MODEL)
        else:
            ae.add_requested_context(GET_MODEL)
            self._roles = []
            for uid in dict.fromkeys(storage_classes):
                if uid in ULTRASOUND_CLASSES:
                    # One context per transfer syntax: the PACS accepts a single syntax per
                    # context, so a context listing all of them makes it transcode (JPEG comes
                    # back decompressed). Separate contexts let it send every object as stored.
                    for syntax in ORIGINAL_SYNTAXES:
                        ae.add_requested_context(uid, [syntax])
                else:
                    ae.add_requested_context(uid, ALL_TRANSFER_SYNTAXES)
                self._roles.append(build_role(uid, scp_role=True))
        return ae

    def _connect(self) -> Association:
        handlers: list[Any] = [(evt.EVT_CONN_OPEN, _no_delay)]
        kwargs: dict[str, Any] = {"ae_title": self.called_aet, "max_pdu": self.max_pdu}
        if self.mode == "get":
            kwargs["ext_neg"] = self._roles
            handlers += [(evt.EVT_C_STORE, self._on_store), *self._receiving_handlers()]
        kwargs["evt_handlers"] = handlers
        if self._tls_client is not None:
            kwargs["tls_args"] = (self._tls_client, self.tls_hostname)
        assoc = self._ae.associate(self.host, self.port, **kwargs)
        if assoc.is_established:
            if self.mode == "get" and not any(
                cx.abstract_syntax == GET_MODEL for cx in assoc.accepted_contexts
            ):
                assoc.release()
                raise PacsError(
                    "The PACS does not accept C-GET from us; use mode=move (and register our AE "
                    "title, host and store_port as a move destination in the PACS)."
                )
            return assoc
        if assoc.is_rejected:
            result = getattr(getattr(assoc.acceptor, "primitive", None), "result", None)
            if result == 0x02:
                raise TransientError("association rejected (transient)")
            raise PacsError(
                f"The PACS rejected our association (calling AE {self.calling_aet!r}, called AE "
                f"{self.called_aet!r}). Ask the PACS administrators to allow our AE title, or "
                "fix the called AE title in the PACS URI."
            )
        if self._tls_client is not None:
            problem = tls_problem(self._tls_client, self.host, self.port, self.tls_hostname)
            if problem is not None:
                raise PacsError(
                    f"The TLS handshake with the DIMSE PACS failed ({problem}). Check tls_ca "
                    "(the CA that signed the PACS's certificate), tls_hostname, and tls_cert / "
                    "tls_key (our certificate, which the PACS must trust)."
                )
        raise TransientError("association failed (connection refused, timed out or aborted)")

    @contextmanager
    def _association(self) -> Iterator[Association]:
        with self._slots:
            assoc = None
            with self._idle_lock:
                while self._idle and assoc is None:
                    candidate = self._idle.pop()
                    if candidate.is_established:
                        assoc = candidate
            if assoc is None:
                assoc = self._connect()
            try:
                yield assoc
            finally:
                if assoc.is_established:
                    with self._idle_lock:
                        self._idle.append(assoc)

    # -- storage SCP (C-MOVE destination) ------------------------------------------------------
    def _ensure_server(self) -> None:
        with self._server_lock:
            if self._server is not None:
                return
            ae = AE(ae_title=self.move_destination)
            ae.maximum_pdu_size = self.max_pdu
            for value in ("acse_timeout", "dimse_timeout", "network_timeout"):
                setattr(ae, value, self.timeout)
            ae.require_called_aet = True
            for uid in self.storage_classes:
                ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
            for context in AllStoragePresentationContexts:
                syntax = context.abstract_syntax
                if syntax is not None and syntax not in self.storage_classes:
                    ae.add_supported_context(syntax, DEFAULT_TRANSFER_SYNTAXES)
            ae.add_supported_context(Verification)
            try:
                self._server = ae.start_server(
                    (self.store_bind, self.store_port),
                    block=False,
                    ssl_context=self._tls_server,
                    evt_handlers=[
                        (evt.EVT_C_STORE, self._on_store),
                        (evt.EVT_CONN_OPEN, _no_delay),
                        *self._receiving_handlers(),
                    ],
                )
            except OSError as exc:
                raise PacsError(
                    f"Cannot listen for C-MOVE deliveries on port {self.store_port} "
                    f"({exc.strerror}). Choose a free store_port and register it in the PACS."
                ) from None

    def _receiving_handlers(self) -> list[Any]:
        """Handlers of an association that receives data sets: the size cap on each P-DATA,
        the partial file removed when the association ends mid data set."""
        return [
            (evt.EVT_DATA_RECV, self._check_size),
            (evt.EVT_ABORTED, _remove_partial_file),
            (evt.EVT_CONN_CLOSE, _remove_partial_file),
        ]

    def _check_size(self, event: evt.Event) -> None:
        """Cut a data set that grows past ``max_instance_bytes`` while it arrives (pynetdicom
        writes it to a temporary file with no limit): abort the association (non-blocking in
        a handler), remove the file, and make the instance's fetch fail without retries."""
        message = getattr(getattr(event.assoc, "dimse", None), "message", None)
        received = getattr(message, "_data_set_file", None)
        if received is None:
            return
        try:
            size = received.tell()
        except (OSError, ValueError):  # closed already
            return
        if size <= self.max_instance_bytes + FRAMING_BYTES:
            return
        command = getattr(message, "command_set", None)
        sop = str(getattr(command, "AffectedSOPInstanceUID", "") or "")
        error = TooLargeError(self.max_instance_bytes)
        with self._waiting_lock:
            self._too_large.add(sop)
            waiting = self._waiting.get(sop)
        if waiting is not None and not waiting.received:
            waiting.error = error
            waiting.done.set()
        event.assoc.abort()
        _remove_partial_file(event)

    def _on_store(self, event: evt.Event) -> int:
        try:
            return self._store(event)
        finally:
            # pynetdicom (3.0) removes the temporary file of a received data set after a C-STORE
            # on its Storage SCP (C-MOVE), never after one on our own association (C-GET): each
            # instance received by C-GET would stay whole (raw PHI) in the system temp folder
            _remove_received_file(event)

    def _store(self, event: evt.Event) -> int:
        sop = str(cast(C_STORE, event.request).AffectedSOPInstanceUID or "")
        with self._waiting_lock:
            waiting = self._waiting.get(sop)
        candidates: list[_Waiting | SeriesBatch] = [waiting] if waiting is not None else []
        candidates += self._series.expecting(sop)
        identity = _identity(event) if len(candidates) != 1 else None
        if len(candidates) > 1 and identity is not None:
            # C-STOREs are routed by SOP Instance UID, and the same UID can be in two studies
            # of a cohort whose retrievals go at once: the data set's own study and series
            # decide (read only then: a PACS may send a header that differs from its C-FIND)
            candidates = [c for c in candidates if _asked_identity(c) == identity]
        if len(candidates) != 1:
            if identity is not None and not candidates and self._series.drop_extra(identity):
                # an instance of a series being retrieved that the listing did not find (added
                # since): accepted and dropped, never kept; refusing it makes some PACS
                # (Orthanc) stop the whole C-MOVE there. The next run lists and fetches it.
                return 0x0000
            return 0xA700  # nobody (or no single request) asked for this instance
        target = candidates[0]
        if isinstance(target, SeriesBatch):
            return self._keep_for_batch(target, sop, event)
        waiting = target
        if waiting.received:
            return 0xA700  # received already
        try:
            try:
                path = event.dataset_path
            except AttributeError:
                data = event.encoded_dataset()
                waiting.dest.write(data)
                waiting.size = len(data)
            else:
                with open(path, "rb") as source:
                    waiting.size = _copy(source, waiting.dest)
            waiting.received = True
            waiting.done.set()
            return 0x0000
        except Exception as exc:  # never let a write error kill the association thread
            waiting.error = TransientError(
                f"writing a received instance failed ({type(exc).__name__})"
            )
            return 0xA700

    # -- queries -----------------------------------------------------------------------------
    def _find(self, identifier: Dataset) -> tuple[list[Dataset], bool]:
        found: list[Dataset] = []
        final: int | None = None
        with self._association() as assoc:
            try:
                _pause_reactor(assoc)
                for status, result in assoc.send_c_find(identifier, FIND_MODEL):
                    if "Status" not in status:
                        assoc.abort()
                        raise TransientError("association aborted")
                    code = int(status.Status)
                    if code in _PENDING:
                        if result is None:
                            assoc.abort()
                            raise TransientError("undecodable C-FIND response")
                        found.append(result)
                        if len(found) > self.max_find_results:
                            assoc.abort()  # an endless answer would fill our memory
                            raise RetrievalError(
                                "C-FIND answered more than max_find_results "
                                f"({self.max_find_results}) matches"
                            )
                    else:
                        final = code
            except RuntimeError:
                raise TransientError("association lost") from None
        if final == 0x0000:
            return found, False
        if final == 0xFE00:  # "matching terminated": the PACS cut the answer short
            return found, True
        raise _status_error("C-FIND", final)

    def list_instances(self, study_instance_uid: str) -> list[InstanceRef]:
        """Series then images (hierarchical C-FIND), checked against the study's
        NumberOfStudyRelatedInstances where the PACS reports it: a short listing is queried
        again (union of the answers) and, if still short, is an error, never a silent gap."""
        reported = self._study_instance_count(study_instance_uid)
        found: dict[str, str] = {}  # SOP Instance UID -> Series Instance UID
        for _ in range(3):
            found.update(self._list_once(study_instance_uid))
            if reported is None or len(found) >= reported:
                break
        if not found:
            raise StudyNotFoundError()
        if reported is not None and len(found) < reported:
            raise TransientError(
                f"C-FIND listed {len(found)} of the {reported} instances the PACS reports"
            )
        refs = [
            InstanceRef(
                study_instance_uid=study_instance_uid,
                series_instance_uid=series,
                sop_instance_uid=sop,
                source=f"{study_instance_uid}/{series}/{sop}",
            )
            for sop, series in sorted(found.items(), key=lambda item: (item[1], item[0]))
        ]
        self._series.listed(refs)
        return refs

    def _study_instance_count(self, study_instance_uid: str) -> int | None:
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = study_instance_uid
        query.NumberOfStudyRelatedInstances = ""
        studies, _ = self._find(query)
        counts = {str(s.get("NumberOfStudyRelatedInstances", "") or "").strip() for s in studies}
        counts.discard("")
        if len(counts) != 1:
            return None
        value = counts.pop()
        return int(value) if value.isdigit() else None

    def _list_once(self, study_instance_uid: str) -> dict[str, str]:
        series_query = Dataset()
        series_query.QueryRetrieveLevel = "SERIES"
        series_query.StudyInstanceUID = study_instance_uid
        series_query.SeriesInstanceUID = ""
        series, cut = self._find(series_query)
        if cut:
            raise RetrievalError("C-FIND result limit reached while listing series")
        found: dict[str, str] = {}
        for series_uid in sorted({str(s.get("SeriesInstanceUID", "")) for s in series} - {""}):
            image_query = Dataset()
            image_query.QueryRetrieveLevel = "IMAGE"
            image_query.StudyInstanceUID = study_instance_uid
            image_query.SeriesInstanceUID = series_uid
            image_query.SOPInstanceUID = ""
            images, cut = self._find(image_query)
            if cut:
                raise RetrievalError("C-FIND result limit reached while listing instances")
            for image in images:
                sop = str(image.get("SOPInstanceUID", "") or "").strip()
                if sop:
                    found[sop] = series_uid
        return found

    def search_studies(
        self, study_date: str, study_time: str | None = None, *, limit: int | None = None
    ) -> StudyMatches:
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        query.StudyDate = study_date
        query.StudyTime = study_time or ""
        query.AccessionNumber = ""
        query.ModalitiesInStudy = ""
        query.NumberOfStudyRelatedInstances = ""
        found, cut = self._find(query)
        matches = StudyMatches()
        matches.truncated = cut
        for item in found:
            uid = str(item.get("StudyInstanceUID", "") or "").strip()
            if uid:
                matches.append(_study_match(item, uid))
        return matches

    def lookup_studies(
        self,
        *,
        accession_number: str | None = None,
        patient_id: str | None = None,
        study_date: dt.date | None = None,
        modality: str | None = None,
        limit: int | None = None,
    ) -> StudyMatches:
        """C-FIND at STUDY level (Study Root) with exact-match keys (see StudyLookup);
        ``limit`` is left to the PACS (C-FIND has no limit key)."""
        keys = lookup_keys(accession_number, patient_id, study_date, modality)
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        query.AccessionNumber = keys.get("AccessionNumber", "")
        query.PatientID = keys.get("PatientID", "")
        query.StudyDate = keys.get("StudyDate", "")
        query.StudyTime = ""
        query.ModalitiesInStudy = keys.get("ModalitiesInStudy", "")
        query.NumberOfStudyRelatedInstances = ""
        found, cut = self._find(query)
        matches = StudyMatches()
        matches.truncated = cut
        for item in found:
            uid = str(item.get("StudyInstanceUID", "") or "").strip()
            if uid:
                matches.append(_study_match(item, uid))
        return matches

    def check(self) -> None:
        """C-ECHO; raises :class:`PacsError` when the PACS does not answer."""
        try:
            with self._association() as assoc:
                status = assoc.send_c_echo()
        except RetrievalError as exc:
            raise PacsError(
                f"The DIMSE PACS {self.called_aet}@{self.host}:{self.port} does not answer "
                f"({exc.reason}). Check host, port and AE titles."
            ) from None
        if "Status" not in status or int(status.Status) != 0:
            raise PacsError("The DIMSE PACS did not answer C-ECHO with success.")

    # -- retrieval ---------------------------------------------------------------------------
    def fetch(self, ref: InstanceRef, dest: BinaryIO) -> int:
        if not (ref.series_instance_uid and ref.sop_instance_uid):
            raise NotFoundError("instance reference without series or SOP Instance UID")
        if self.mode == "move":
            self._ensure_server()
        size = self._series.take(ref, dest, self._retrieve_series)
        if size is not None:
            return size
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "IMAGE"
        identifier.StudyInstanceUID = ref.study_instance_uid
        identifier.SeriesInstanceUID = ref.series_instance_uid
        identifier.SOPInstanceUID = ref.sop_instance_uid
        waiting = _Waiting(dest, (ref.study_instance_uid, ref.series_instance_uid))
        with self._waiting_lock:
            if ref.sop_instance_uid in self._waiting:
                raise TransientError("the same instance is already being retrieved")
            self._waiting[ref.sop_instance_uid] = waiting
        try:
            try:
                final, completed = self._retrieve(identifier, "image")
            except RetrievalError:
                if isinstance(waiting.error, TooLargeError):  # we aborted the association
                    raise waiting.error from None
                raise
            if completed and not waiting.received:
                # a PACS that answers the C-MOVE before its C-STORE finished: wait a little
                waiting.done.wait(timeout=min(self.timeout, 10.0))
        finally:
            with self._waiting_lock:
                self._waiting.pop(ref.sop_instance_uid, None)
        if waiting.error is not None:
            raise waiting.error
        if waiting.received:  # pynetdicom only hands over complete data sets
            return waiting.size
        if final == 0x0000:
            raise NotFoundError("instance not found in PACS")
        raise _status_error("C-MOVE" if self.mode == "move" else "C-GET", final)

    def _retrieve(self, identifier: Dataset, level: str) -> tuple[int | None, int]:
        """(final status, completed sub-operations) of one C-MOVE or C-GET."""
        final: int | None = None
        completed = 0
        if level == "image":
            self._series.count(level)
        with self._association() as assoc:
            try:
                _pause_reactor(assoc)
                if self.mode == "move":
                    responses = assoc.send_c_move(identifier, self.move_destination, MOVE_MODEL)
                else:
                    responses = assoc.send_c_get(identifier, GET_MODEL)
                for status, _ in responses:
                    if "Status" not in status:
                        assoc.abort()
                        raise TransientError("association aborted")
                    code = int(status.Status)
                    if code not in _PENDING:
                        final = code
                        completed = int(status.get("NumberOfCompletedSuboperations", 0) or 0)
            except RuntimeError:
                raise TransientError("association lost") from None
        return final, completed

    # -- series-level retrieval ---------------------------------------------------------------
    def plan_fetches(
        self, refs: Sequence[InstanceRef], spool: Callable[[], Path] | None = None
    ) -> None:
        """The instances a run is about to fetch: a series it fetches whole comes in one
        SERIES-level request (``level=series``; :mod:`cadbusi_assets.pacs.series`). ``spool``
        gives a fresh folder path for its instances until they are taken (the raw zone's
        staging, where a killed run's leftovers are cleaned by the next run of the date);
        default: the system's temporary folder."""
        self._series.plan(refs, spool)

    def _retrieve_series(self, batch: SeriesBatch) -> None:
        """One SERIES-level C-MOVE / C-GET; the instances arrive through :meth:`_on_store`. A
        failed request leaves its instances to be asked for alone."""
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "SERIES"
        identifier.StudyInstanceUID = batch.study_instance_uid
        identifier.SeriesInstanceUID = batch.series_instance_uid
        try:
            _, completed = self._retrieve(identifier, "series")
        except RetrievalError as exc:  # a PacsError (our AE refused...) stops the run
            log.info("series retrieval failed (%s); its instances asked for one by one", exc.reason)
            return
        # a PACS may answer before its last C-STOREs arrived: wait a little for them
        deadline = time.monotonic() + min(self.timeout, 10.0)
        while time.monotonic() < deadline:
            if self._series.arrived(batch, completed):
                return
            time.sleep(0.02)

    def _keep_for_batch(self, batch: SeriesBatch, sop: str, event: evt.Event) -> int:
        """Hold an instance a series retrieval brought until its own fetch takes it."""
        try:
            out, target = batch.new_file()
        except OSError as exc:  # the folder is gone or the disk full: asked for alone later
            log.warning("keeping a received instance failed (%s)", type(exc).__name__)
            return 0xA700
        try:
            with out:
                try:
                    path = event.dataset_path
                except AttributeError:
                    out.write(event.encoded_dataset())
                else:
                    with open(path, "rb") as source:
                        _copy(source, out)
        except Exception as exc:  # never let a write error kill the association thread
            target.unlink(missing_ok=True)
            log.warning("keeping a received instance failed (%s)", type(exc).__name__)
            return 0xA700
        self._series.hold(batch, sop, target)
        return 0x0000

    def close(self) -> None:
        self._series.close()
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for assoc in idle:
            try:
                assoc.release()
            except Exception:  # the peer may already be gone
                assoc.abort()
        with self._server_lock:
            if self._server is not None:
                self._server.shutdown()
                self._server = None


def _flag(value: bool | str, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"", "0", "false", "no", "off"}:
        return False
    raise PacsError(f"{name} must be 1 or 0 in the DIMSE PACS URI, not {value!r}.")


def _tls_contexts(
    ca: str | None, cert: str | None, key: str | None, *, needs_server: bool
) -> tuple[ssl.SSLContext, ssl.SSLContext | None]:
    """(client, server) TLS contexts of ``tls=1`` (:func:`~cadbusi_assets.pacs.tls.tls_contexts`)."""
    if needs_server and not cert:
        raise PacsError(
            "mode=move with tls=1 needs tls_cert and tls_key: the PACS delivers to our Storage "
            "SCP over TLS, which must present a certificate."
        )
    return tls_contexts(ca, cert, key, needs_server=needs_server, what="DIMSE")


def tls_problem(context: ssl.SSLContext, host: str, port: int, hostname: str) -> str | None:
    """What a TLS handshake with the PACS says, or None when it succeeds or the PACS cannot
    be reached at all (a connection problem, not a TLS one)."""
    try:
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            # TLS 1.3: a server that refuses our certificate says so after the handshake
            tls.settimeout(2)
            tls.recv(1)
        return None  # closed or answered without a TLS complaint
    except TimeoutError:
        return None  # the handshake held: the server waits for a request
    except ssl.SSLCertVerificationError as exc:
        return f"certificate verify failed: {exc.verify_message}"
    except ssl.SSLError as exc:
        return exc.reason or type(exc).__name__
    except OSError:
        return None


def _remove_partial_file(event: evt.Event) -> None:
    """Remove the temporary file of a data set still arriving when its association ends (an
    abort, the connection dropped): pynetdicom leaves it (raw PHI) in the temporary folder.
    Unlinked, not closed: the association's reactor thread may still write fragments it had
    queued (a closed file would kill that thread); the open handle goes with the message."""
    message = getattr(getattr(event.assoc, "dimse", None), "message", None)
    name = getattr(getattr(message, "_data_set_file", None), "name", None)
    if isinstance(name, str):
        with contextlib.suppress(OSError):
            os.unlink(name)


def _remove_received_file(event: evt.Event) -> None:
    request = cast(C_STORE, event.request)
    received = getattr(request, "_dataset_file", None)
    name = getattr(received, "name", None)
    if not isinstance(name, str):
        return
    with contextlib.suppress(OSError):
        received.close()  # type: ignore[union-attr]
    with contextlib.suppress(OSError):
        os.unlink(name)


def _asked_identity(asked: _Waiting | SeriesBatch) -> tuple[str, str] | None:
    if isinstance(asked, SeriesBatch):
        return (asked.study_instance_uid, asked.series_instance_uid)
    return asked.identity


def _identity(event: evt.Event) -> tuple[str, str] | None:
    """(Study, Series Instance UID) of a received data set, read from its header; None where
    it cannot be read (the instance is then routed by its SOP Instance UID alone)."""
    try:
        try:
            path = event.dataset_path
        except AttributeError:
            ds = event.dataset
        else:
            ds = dcmread(
                path, stop_before_pixels=True, specific_tags=[_STUDY_UID_TAG, _SERIES_UID_TAG]
            )
        study = str(ds.get("StudyInstanceUID", "") or "").strip()
        series = str(ds.get("SeriesInstanceUID", "") or "").strip()
    except Exception:  # unreadable header: never let it kill the association thread
        return None
    return (study, series) if study and series else None


def _pause_reactor(assoc: Association) -> None:
    """Make sure the association's reactor thread is parked before we send a request.

    pynetdicom's ``send_c_*`` clear the reactor checkpoint and wait for ``_is_paused``, but the
    reactor sets ``_is_paused = False`` only after it has passed the checkpoint, so for a moment
    a stale ``True`` lets the request go out while the reactor is about to read the message
    queue: it then takes the first response as an "unexpected C-FIND service message" and drops
    it (seen here as one image missing from a 30-image listing, about once per 300 requests
    against a fast local PACS). Giving the reactor one loop (it sleeps 1 ms per turn) to reach
    the checkpoint closes that window.
    """
    checkpoint = getattr(assoc, "_reactor_checkpoint", None)
    if checkpoint is None or not hasattr(assoc, "_is_paused"):
        return
    checkpoint.clear()
    time.sleep(0.003)
    deadline = time.monotonic() + 1.0
    while not assoc._is_paused and time.monotonic() < deadline:
        time.sleep(0.0002)


def _no_delay(event: evt.Event) -> None:
    """Disable Nagle's algorithm: DIMSE sends a command and its data set as separate writes, and
    Nagle plus delayed ACKs add about 40 ms to every request otherwise."""
    # AttributeError: pynetdicom internals moved; OSError: the socket is already gone
    with contextlib.suppress(AttributeError, OSError):
        event.assoc.dul.socket.socket.setsockopt(  # type: ignore[union-attr]
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )


def _quiet_pynetdicom() -> None:
    """pynetdicom logs whole query identifiers (UIDs, accession numbers) at INFO level. Unless
    someone configured its logger on purpose, keep it to warnings so no identifier reaches logs.
    """
    logger = logging.getLogger("pynetdicom")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False


def _copy(source: BinaryIO, dest: BinaryIO) -> int:
    written = 0
    while block := source.read(1 << 20):
        dest.write(block)
        written += len(block)
    return written


def _status_error(operation: str, code: int | None) -> RetrievalError | PacsError:
    if code is None:
        return TransientError(f"{operation}: no final status (association aborted)")
    text = f"{operation} failed (status 0x{code:04X})"
    if code == 0xA801:
        return PacsError(
            "The PACS does not know our move destination. Register our AE title, host and "
            "store_port with the PACS (or use mode=get if it offers C-GET)."
        )
    if code in _OUT_OF_RESOURCES or code == 0xB000:
        return TransientError(text)
    return RetrievalError(text)


def _study_match(item: Dataset, uid: str) -> StudyMatch:
    date_text = str(item.get("StudyDate", "") or "")
    try:
        date = dt.datetime.strptime(date_text[:8], "%Y%m%d").date() if date_text else None
    except ValueError:
        date = None
    count = str(item.get("NumberOfStudyRelatedInstances", "") or "").strip()
    modalities = item.get("ModalitiesInStudy", "")
    if not isinstance(modalities, str):
        modalities = "\\".join(str(m) for m in modalities)
    return StudyMatch(
        study_instance_uid=uid,
        accession_number=str(item.get("AccessionNumber", "") or "").strip() or None,
        study_date=date,
        study_time=str(item.get("StudyTime", "") or "").strip() or None,
        modalities=modalities or None,
        number_of_instances=int(count) if count.isdigit() else None,
        patient_id=str(item.get("PatientID", "") or "").strip() or None,
    )
