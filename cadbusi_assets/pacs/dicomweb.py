"""DICOMweb PACS: QIDO-RS to list a study's instances, WADO-RS to stream each instance.

``level=series`` (the default): a series a run fetches whole comes in one WADO-RS series
request (a multipart answer, each part streamed into the raw zone's staging until its own
fetch takes it; :mod:`cadbusi_assets.pacs.series`); what it did not bring is asked for alone.
``level=image``: one request per instance.

Works with any DICOMweb server (Orthanc, dcm4chee, Google Cloud Healthcare, Azure, AWS
HealthImaging's DICOMweb proxy...). QIDO-RS goes through ``dicomweb-client``; WADO-RS instance
retrieval uses the same authenticated ``requests`` session with streaming, so an instance is
never held whole in memory. The original transfer syntax is requested (``transfer-syntax=*``),
so the stored file is the PACS's own bytes.

``max_instance_bytes`` (default :data:`DEFAULT_MAX_INSTANCE_BYTES`, 2 GiB) caps one instance:
a body (or a series part) that says or proves to be larger stops being read, what arrived is
removed and the instance is recorded failed ("instance larger than max_instance_bytes"), not
retried. A series answer of more than ``2 × its listed instances + 16`` parts is cut there
(an endless multipart); what it did not bring is asked for alone.

``max_request_seconds`` (default :data:`DEFAULT_MAX_REQUEST_SECONDS`, 30 minutes) bounds the
time one answer's body may take: a server that sends a byte now and then never lets the read
timeout (``timeout``, the longest silence) fire. When it passes, the connection is shut, what
arrived is removed and the instance is recorded failed ("request took longer than
max_request_seconds (N s)"), not retried; a series answer is cut there. Listings and searches
(QIDO-RS, parsed whole) are read up to ``max_answer_bytes`` (default 256 MiB) and within the
same deadline; a larger answer fails the listing ("answer larger than max_answer_bytes").
A study's listing is read page by page (``offset``) until a page brings nothing new (a
server without paging answers every offset with the whole list), at most
``max_find_results`` (default 100,000) matches. Sending a request and receiving its answer's
headers have the same deadline (:class:`_Adapter`: a server trickling its headers is cut too),
and the body then has its own.

``tls_ca``, ``tls_cert``, ``tls_key`` (``https`` only): the CA of the server's certificate and
our client certificate and key (:mod:`cadbusi_assets.pacs.tls`; an encrypted key opens with
``$CADBUSI_PACS_TLS_KEY_PASSWORD``). A server that refuses our certificate (a TLS alert, or the
HTTP 400 a TLS front such as nginx answers) stops the run with a :class:`PacsError` that says
so; a failed verification of the server's certificate names what TLS said.

Credentials come from the caller (see :mod:`cadbusi_assets.pacs.uri` for the environment
variables) and never appear in messages or ``repr``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
import requests
import urllib3
from dicomweb_client.api import DICOMwebClient
from requests import Response
from requests.adapters import HTTPAdapter

from cadbusi_assets.pacs.base import (
    DEFAULT_MAX_FIND_RESULTS,
    DEFAULT_MAX_INSTANCE_BYTES,
    FRAMING_BYTES,
    AnswerTooLargeError,
    InstanceRef,
    NotFoundError,
    PacsError,
    RetrievalError,
    StudyMatch,
    StudyNotFoundError,
    TooLargeError,
    TooSlowError,
    TransientError,
    positive,
)
from cadbusi_assets.pacs.find import StudyMatches, lookup_keys
from cadbusi_assets.pacs.multipart import boundary_of, copy_parts, copy_single_part
from cadbusi_assets.pacs.series import LEVELS, SeriesBatch, SeriesBatches
from cadbusi_assets.pacs.tls import tls_contexts

log = logging.getLogger(__name__)

_INSTANCE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_CHUNK = 1 << 20
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
#: The longest one answer's body may take (2 GiB at ~1.2 MB/s).
DEFAULT_MAX_REQUEST_SECONDS = 1800.0
#: The largest listing or search answer read (a study of 100,000 instances is ~50 MB of JSON).
DEFAULT_MAX_ANSWER_BYTES = 256 * 1024**2
_AUTH_HELP = (
    "Set CADBUSI_PACS_TOKEN (bearer token) or CADBUSI_PACS_USER and CADBUSI_PACS_PASSWORD, or "
    "use auth=google for a Google Cloud Healthcare DICOM store."
)


class DicomWebPacs:
    """A DICOMweb service at ``url`` (the base that holds ``/studies``)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        google_credentials: bool = False,
        timeout: float = 60.0,
        max_connections: int = 4,
        window: str | None = None,
        headers: dict[str, str] | None = None,
        level: str = "series",
        max_instance_bytes: int = DEFAULT_MAX_INSTANCE_BYTES,
        max_request_seconds: float = DEFAULT_MAX_REQUEST_SECONDS,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        max_find_results: int = DEFAULT_MAX_FIND_RESULTS,
        tls_ca: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        if level not in LEVELS:
            raise PacsError(
                f"Unknown DICOMweb retrieval level {level!r}: use level=series or image."
            )
        self._series = SeriesBatches(level)
        self.url = url.rstrip("/")
        self.name = "dicomweb"
        self.window = window or None
        self.timeout = float(timeout)
        self.max_connections = max(1, int(max_connections))
        self.max_instance_bytes = int(positive(max_instance_bytes, "max_instance_bytes", "bytes"))
        self.max_request_seconds = positive(
            max_request_seconds, "max_request_seconds", "seconds", whole=False
        )
        self.max_answer_bytes = int(positive(max_answer_bytes, "max_answer_bytes", "bytes"))
        self.max_find_results = int(positive(max_find_results, "max_find_results"))
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self.session = _session(token, username, password, google_credentials, headers)
        self._local = threading.local()  # per search: did the server say it stopped early?
        self.session.hooks["response"].append(self._read_answer)
        tls: ssl.SSLContext | None = None
        if tls_ca or tls_cert or tls_key:
            if not self.url.startswith("https://"):
                raise PacsError("tls_ca, tls_cert and tls_key need a dicomweb+https:// PACS URI.")
            tls, _ = tls_contexts(tls_ca, tls_cert, tls_key, needs_server=False, what="DICOMweb")
            if tls_ca:  # (else REQUESTS_CA_BUNDLE or the system's CAs, as requests does)
                self.session.verify = tls_ca
        adapter = _Adapter(
            tls,
            self.max_request_seconds,
            pool_connections=1,
            pool_maxsize=self.max_connections + 2,
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        try:
            self.client = DICOMwebClient(self.url, session=self.session, timeout=self.timeout)
        except ValueError:
            raise PacsError(
                "The DICOMweb URL is malformed; expected dicomweb+https://host[:port]/path."
            ) from None
        self.client.set_http_retry_params(retry=False)  # retries are ours, with backoff
        _quiet_library_loggers()

    def __repr__(self) -> str:
        return f"DicomWebPacs({self.url})"

    @property
    def requests(self) -> dict[str, int]:
        """Retrieval requests sent so far, by level (``series``, ``image``)."""
        return self._series.requests

    def _read_answer(
        self, response: Response, *args: Any, stream: bool = False, **kwargs: Any
    ) -> Response:
        """A response hook: an answer requested whole (QIDO-RS listings and searches through
        ``dicomweb-client``) is read here, up to ``max_answer_bytes`` and within
        ``max_request_seconds``, before requests would read it all into memory."""
        if _more_results(response):
            self._local.more = True  # the search's matches are marked truncated
        if stream:
            return response
        limit = self.max_answer_bytes
        body = bytearray()
        try:
            with _deadline(response, self.max_request_seconds):
                if _declared_length(response) > limit:
                    raise AnswerTooLargeError(limit)
                for chunk in response.iter_content(chunk_size=_CHUNK):
                    body += chunk
                    if len(body) > limit:
                        raise AnswerTooLargeError(limit)
        except BaseException:
            response.close()
            raise
        response._content = bytes(body)
        return response

    @contextmanager
    def _slot(self) -> Iterator[None]:
        with self._slots:
            yield

    # -- Pacs --------------------------------------------------------------------------------
    def list_instances(self, study_instance_uid: str) -> list[InstanceRef]:
        found = self._all_pages(study_instance_uid)
        refs = []
        for item in found:
            series = _value(item, "0020000E")
            sop = _value(item, "00080018")
            if not sop or not series:
                continue
            refs.append(
                InstanceRef(
                    study_instance_uid=study_instance_uid,
                    series_instance_uid=series,
                    sop_instance_uid=sop,
                    source=f"studies/{study_instance_uid}/series/{series}/instances/{sop}",
                )
            )
        if not refs:
            raise StudyNotFoundError()
        self._series.listed(refs)
        return sorted(refs, key=lambda r: (r.series_instance_uid or "", r.sop_instance_uid or ""))

    def _all_pages(self, study_instance_uid: str) -> list[dict[str, Any]]:
        """A study's QIDO-RS instance listing, page after page (``offset``) until a page is
        empty or brings nothing new: a server without paging answers every offset with the
        whole list (``dicomweb-client``'s ``get_remaining`` then asked again for good).
        More than ``max_find_results`` matches fail the listing."""
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            with self._slot(), _translated():
                page = self.client.search_for_instances(
                    study_instance_uid=study_instance_uid,
                    fields=["SOPClassUID"],
                    offset=len(found) or None,
                )
            fresh = []
            for item in page:
                key = _value(item, "00080018") or repr(sorted(item.items()))
                if key not in seen:
                    seen.add(key)
                    fresh.append(item)
            if not fresh:
                return found
            found += fresh
            if len(found) > self.max_find_results:
                raise RetrievalError(
                    f"the listing answered more than max_find_results ({self.max_find_results})"
                    " matches"
                )

    def fetch(self, ref: InstanceRef, dest: BinaryIO) -> int:
        if not (ref.series_instance_uid and ref.sop_instance_uid):
            raise NotFoundError("instance reference without series or SOP Instance UID")
        size = self._series.take(ref, dest, self._retrieve_series)
        if size is not None:
            return size
        self._series.count("image")
        url = (
            f"{self.url}/studies/{ref.study_instance_uid}/series/{ref.series_instance_uid}"
            f"/instances/{ref.sop_instance_uid}"
        )
        with self._slot(), _translated():
            response = self.session.get(
                url, headers={"Accept": _INSTANCE_ACCEPT}, stream=True, timeout=self.timeout
            )
            try:
                with _deadline(response, self.max_request_seconds):
                    _raise_for_status(response)
                    limit = self.max_instance_bytes
                    if _declared_length(response) > limit + FRAMING_BYTES:
                        raise TooLargeError(limit)
                    content_type = response.headers.get("Content-Type", "")
                    chunks = response.iter_content(chunk_size=_CHUNK)
                    if content_type.lower().startswith("multipart/"):
                        boundary = boundary_of(content_type)
                        if not boundary:
                            raise RetrievalError("multipart response without boundary")
                        return copy_single_part(chunks, boundary, dest, limit)
                    written = 0
                    for chunk in chunks:
                        written += len(chunk)
                        if written > limit:
                            raise TooLargeError(limit)
                        dest.write(chunk)
                    return written
            finally:
                response.close()

    def plan_fetches(
        self, refs: Sequence[InstanceRef], spool: Callable[[], Path] | None = None
    ) -> None:
        """The instances a run is about to fetch: a series it fetches whole comes in one
        request (``level=series``); ``spool`` gives a fresh folder path for its instances until
        they are taken (default: the system's temporary folder)."""
        self._series.plan(refs, spool)

    def _retrieve_series(self, batch: SeriesBatch) -> None:
        """One WADO-RS series request, each part held for its instance's fetch (read from its
        header). A failed or cut request leaves what it did not bring to be asked for alone."""
        url = f"{self.url}/studies/{batch.study_instance_uid}/series/{batch.series_instance_uid}"
        files: dict[int, Path] = {}

        def open_part() -> BinaryIO:
            out, path = batch.new_file()
            files[id(out)] = path
            return out

        def close_part(out: BinaryIO, complete: bool) -> None:
            out.close()
            path = files.pop(id(out))
            found = _part_identity(path) if complete else None
            asked = (batch.study_instance_uid, batch.series_instance_uid)
            if found is None or found[:2] != asked:  # unreadable, or of another series
                path.unlink(missing_ok=True)
            else:
                self._series.hold(batch, found[2], path)

        try:
            with self._slot(), _translated():
                response = self.session.get(
                    url, headers={"Accept": _INSTANCE_ACCEPT}, stream=True, timeout=self.timeout
                )
                try:
                    with _deadline(response, self.max_request_seconds):
                        _raise_for_status(response)
                        boundary = boundary_of(response.headers.get("Content-Type", ""))
                        if not boundary:
                            raise RetrievalError("series response is not multipart")
                        copy_parts(
                            response.iter_content(chunk_size=_CHUNK),
                            boundary,
                            open_part,
                            close_part,
                            max_bytes=self.max_instance_bytes,
                            max_parts=2 * len(batch.wanted) + 16,
                        )
                finally:
                    response.close()
        except RetrievalError as exc:  # a PacsError (credentials refused...) stops the run
            log.info("series retrieval failed (%s); its instances asked for one by one", exc.reason)
        except OSError as exc:  # a held part could not be written (disk full, folder gone)
            log.warning(
                "keeping a series' instances failed (%s); they are asked for one by one",
                type(exc).__name__,
            )

    def close(self) -> None:
        self._series.close()
        self.session.close()

    # -- extras ------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise :class:`PacsError` unless the service answers a one-result QIDO-RS query."""
        try:
            with _translated():
                self.client.search_for_studies(limit=1)
        except RetrievalError as exc:
            raise PacsError(
                f"The DICOMweb service at {self.url} does not answer ({exc.reason}). Check the "
                "URL, the network path and the credentials."
            ) from None

    def search_studies(
        self, study_date: str, study_time: str | None = None, *, limit: int | None = None
    ) -> StudyMatches:
        filters = {"StudyDate": study_date}
        if study_time:
            filters["StudyTime"] = study_time
        self._local.more = False
        with self._slot(), _translated():
            found = self.client.search_for_studies(
                search_filters=filters,
                limit=limit,
                fields=[
                    "AccessionNumber",
                    "StudyDate",
                    "StudyTime",
                    "ModalitiesInStudy",
                    "NumberOfStudyRelatedInstances",
                ],
            )
        matches = StudyMatches()
        matches.truncated = bool(getattr(self._local, "more", False))
        for item in found:
            uid = _value(item, "0020000D")
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
        """QIDO-RS ``/studies`` with exact-match keys (see :class:`StudyLookup`)."""
        filters = lookup_keys(accession_number, patient_id, study_date, modality)
        self._local.more = False
        with self._slot(), _translated():
            found = self.client.search_for_studies(
                search_filters=filters,
                limit=limit,
                fields=[
                    "AccessionNumber",
                    "PatientID",
                    "StudyDate",
                    "StudyTime",
                    "ModalitiesInStudy",
                    "NumberOfStudyRelatedInstances",
                ],
            )
        matches = StudyMatches()
        matches.truncated = bool(getattr(self._local, "more", False))
        for item in found:
            uid = _value(item, "0020000D")
            if uid:
                matches.append(_study_match(item, uid))
        return matches


#: Per thread, the connection its request is being sent and answered on (for
#: :class:`_Adapter`'s header deadline).
_IN_FLIGHT: dict[int, Any] = {}


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _IN_FLIGHT[threading.get_ident()] = self
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _IN_FLIGHT[threading.get_ident()] = self
        super().request(*args, **kwargs)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _Adapter(HTTPAdapter):
    """requests' adapter with two additions.

    - ``context``: its connections' TLS (``tls_ca``, our client certificate and its key, an
      encrypted key opened with its passphrase: :mod:`cadbusi_assets.pacs.tls`); requests'
      own TLS settings when None.
    - A deadline (``seconds``, the PACS's ``max_request_seconds``) on sending a request and
      receiving the answer's headers: a server trickling its headers (a byte now and then,
      never the read timeout's silence) held a request for as long as the HTTP library's
      header limits allow (64 KiB a line, 100 lines: months at a byte a second). When it
      passes, the connection is shut and :class:`TooSlowError` raised (the body has its own
      deadline, :func:`_deadline`)."""

    def __init__(self, context: ssl.SSLContext | None, seconds: float, **kwargs: Any) -> None:
        self._context = context
        self._seconds = seconds
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._context is not None:
            kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        if self._context is not None:
            kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        thread = threading.get_ident()
        fired = threading.Event()

        def expire() -> None:
            fired.set()
            sock = getattr(_IN_FLIGHT.get(thread), "sock", None)
            if isinstance(sock, socket.socket):
                with suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(self._seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            response = super().send(request, *args, **kwargs)
        except Exception:
            if fired.is_set():
                raise TooSlowError(self._seconds) from None
            raise
        finally:
            timer.cancel()
            _IN_FLIGHT.pop(thread, None)
        if fired.is_set():
            response.close()
            raise TooSlowError(self._seconds)
        return response


def _quiet_library_loggers() -> None:
    """dicomweb-client logs study UIDs at INFO and urllib3 logs URLs (with UIDs) at DEBUG. Unless
    someone configured those loggers on purpose, keep them to warnings: no identifier in logs."""
    for name in ("dicomweb_client", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def _session(
    token: str | None,
    username: str | None,
    password: str | None,
    google_credentials: bool,
    headers: dict[str, str] | None,
) -> requests.Session:
    if google_credentials:
        try:
            from dicomweb_client.ext.gcp.session_utils import create_session_from_gcp_credentials

            session = create_session_from_gcp_credentials()
        except Exception as exc:  # google.auth raises several kinds
            raise PacsError(
                f"Google application-default credentials are not available ({type(exc).__name__})"
                ". Run `gcloud auth application-default login` or set "
                "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file."
            ) from None
    else:
        session = requests.Session()
    if headers:
        session.headers.update(headers)
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    elif username:
        session.auth = (username, password or "")
    return session


@contextmanager
def _deadline(response: requests.Response, seconds: float) -> Iterator[None]:
    """Shut ``response``'s connection when its body is still being read after ``seconds``:
    the blocked read then ends (an error or a short body), and :class:`TooSlowError` replaces
    whatever it gave. The read timeout cannot do this: it bounds one silence, not the whole."""
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        sock = _socket_of(response)
        if sock is not None:
            with suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception:
        if fired.is_set():
            raise TooSlowError(seconds) from None
        raise
    finally:
        timer.cancel()
    if fired.is_set():
        raise TooSlowError(seconds)


def _more_results(response: requests.Response) -> bool:
    """The server's QIDO-RS ``Warning: 299`` (PS3.18 8.3.4.5): the number of results exceeded
    its maximum and more can be requested; what it sent is not all."""
    for value in response.headers.get("Warning", "").split(","):
        words = value.strip().lower()
        if words.startswith("299") and ("exceed" in words or "additional" in words):
            return True
    return False


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket an answer is read from (urllib3 2's connection, else http.client's file)."""
    raw = getattr(response, "raw", None)
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


@contextmanager
def _translated() -> Iterator[None]:
    """Turn requests/HTTP errors into PHI-free RetrievalError/PacsError (no URL in messages)."""
    try:
        yield
    except requests.HTTPError as exc:
        _raise_for_status(exc.response)
        raise RetrievalError("HTTP error") from None
    except requests.exceptions.SSLError as exc:
        raise PacsError(_tls_failure(exc)) from None
    except requests.exceptions.ChunkedEncodingError:
        raise TransientError("connection dropped mid-response") from None
    except requests.exceptions.Timeout:
        raise TransientError("timeout") from None
    except requests.ConnectionError as exc:
        if exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError):
            raise TransientError("timeout") from None  # no data mid-body (requests' wrapping)
        raise TransientError("connection error") from None
    except requests.RequestException as exc:
        raise RetrievalError(f"request failed ({type(exc).__name__})") from None


#: OpenSSL's reason in a message: ``[SSL: NAME] words (_ssl.c:N)``
_OPENSSL_SAID = re.compile(r"\[SSL: ([A-Z0-9_]+)\]([^(\[]*)")


def _tls_failure(exc: BaseException) -> str:
    """What a failed TLS exchange with the server means, in words (the TLS library's reason
    only: no URL, no host)."""
    reason = ""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo and not reason:  # requests -> urllib3 (MaxRetryError.reason) -> ssl
        error = todo.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ssl.SSLEOFError) or "EOF occurred in violation" in str(error):
            reason = "the server closed the connection during TLS"
        elif isinstance(error, ssl.SSLError) and getattr(error, "reason", None):
            reason = str(error.reason)
            verify = getattr(error, "verify_message", "")
            reason = f"{reason}: {verify}" if verify else reason
        for text in (str(a) for a in error.args if isinstance(a, str)):
            found = _OPENSSL_SAID.search(text)  # (urllib3 keeps the message of some only)
            if found and not reason:
                name, words = found.group(1), found.group(2).strip()
                reason = f"{name}: {words.split(': ', 1)[-1]}" if "VERIFY" in name else name
        nested: list[object] = [*error.args, getattr(error, "reason", None)]
        nested += [error.__cause__, error.__context__]
        todo += [e for e in nested if isinstance(e, BaseException)]
    said = f" ({reason})" if reason else ""
    if "CERTIFICATE_REQUIRED" in reason.upper() or "UNKNOWN_CA" in reason.upper():
        return (
            f"The DICOMweb server refused our client certificate{said}. Set tls_cert and "
            "tls_key in the PACS URI to a certificate signed by a CA the server trusts."
        )
    return (
        f"TLS with the DICOMweb server failed{said}. Set tls_ca in the PACS URI (or "
        "REQUESTS_CA_BUNDLE) to the PEM file of the CA that signed the server's certificate; "
        "tls_cert and tls_key where the server requires a client certificate."
    )


#: What a TLS front (nginx) answers, HTTP 400, to a client without an accepted certificate.
_CLIENT_CERTIFICATE_REFUSED = (b"no required ssl certificate was sent", b"ssl certificate error")


def _client_certificate_refused(response: requests.Response) -> bool:
    """Whether an HTTP 400 says that our client certificate is missing or was refused (its
    first 4 KiB read, however long the body)."""
    if not response.url.startswith("https://"):
        return False
    try:
        if response._content_consumed:  # type: ignore[attr-defined]
            head = (response.content or b"")[:4096]
        else:
            head = response.raw.read(4096, decode_content=True) or b""
    except Exception:  # a body that cannot be read says nothing
        return False
    return any(words in head.lower() for words in _CLIENT_CERTIFICATE_REFUSED)


def _raise_for_status(response: requests.Response | None) -> None:
    if response is None:
        raise TransientError("no response")
    status = response.status_code
    if status < 400:
        return
    if status == 400 and _client_certificate_refused(response):
        raise PacsError(
            "The DICOMweb server refused our client certificate (HTTP 400: none was sent, or "
            "it was not accepted). Set tls_cert and tls_key in the PACS URI to a certificate "
            "signed by a CA the server trusts."
        )
    if status in (401, 403):
        raise PacsError(
            f"The DICOMweb server refused our credentials (HTTP {status}). {_AUTH_HELP}"
        )
    if status == 404:
        raise NotFoundError("HTTP 404")
    if status in _TRANSIENT_STATUS:
        raise TransientError(f"HTTP {status}", retry_after=_retry_after(response))
    raise RetrievalError(f"HTTP {status}")


def _declared_length(response: requests.Response) -> int:
    """The body's Content-Length (0 when absent or not a number)."""
    try:
        return max(0, int(response.headers.get("Content-Length") or 0))
    except ValueError:
        return 0


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(when.tzinfo)).total_seconds())


def _part_identity(path: Path) -> tuple[str, str, str] | None:
    """(Study, Series, SOP Instance UID) of a received Part-10 file; None when unreadable or
    incomplete (the instance is then asked for alone, and stored and recorded as any file)."""
    try:
        ds = pydicom.dcmread(
            path, stop_before_pixels=True, specific_tags=[0x0020000D, 0x0020000E, 0x00080018]
        )
    except Exception:  # not DICOM, cut short: never let one part stop the others
        return None
    found = tuple(
        str(ds.get(keyword, "") or "").strip()
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
    )
    return (found[0], found[1], found[2]) if all(found) else None


def _value(item: dict[str, Any], tag: str) -> str | None:
    values = (item.get(tag) or {}).get("Value") or []
    if not values:
        return None
    first = values[0]
    if isinstance(first, dict):  # PN
        first = first.get("Alphabetic", "")
    text = str(first).strip()
    return text or None


def _study_match(item: dict[str, Any], uid: str) -> StudyMatch:
    date_text = _value(item, "00080020")
    try:
        date = dt.datetime.strptime(date_text[:8], "%Y%m%d").date() if date_text else None
    except ValueError:
        date = None
    modalities = (item.get("00080061") or {}).get("Value") or []
    count = _value(item, "00201208")
    return StudyMatch(
        study_instance_uid=uid,
        accession_number=_value(item, "00080050"),
        study_date=date,
        study_time=_value(item, "00080030"),
        modalities="\\".join(str(m) for m in modalities) or None,
        number_of_instances=int(count) if count and count.isdigit() else None,
        patient_id=_value(item, "00100020"),
    )
