"""A hostile DICOMweb server (or a man in the middle) on 127.0.0.1: an instance body that never
ends, one that says it is huge, a series answer of endless parts, and a server that stalls
after its headers. The retrieval ends, records the instance failed with a clear reason, stores
no part of it, and still stores the good instance of the same series.

Before ``max_instance_bytes``, an endless instance body was written to the staging file for as
long as the server sent it (3.3 GB in 20 s here, the retrieval still going) and an endless
series answer never ended either.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from cadbusi_assets.pacs import open_pacs, retrieve_studies
from cadbusi_assets.pacs.base import PacsError
from cadbusi_assets.pacs.dicomweb import DEFAULT_MAX_INSTANCE_BYTES
from cadbusi_assets.storage import open_zone

STUDY, SERIES = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.1.1"
GOOD, BAD = f"{SERIES}.1", f"{SERIES}.2"
CAP = 1 << 20  # max_instance_bytes of these tests
BOUNDARY = "hostile-boundary"
PARTITION = "2024-03-05"
LISTING_SENT = 64 << 20  # what the endless listing sends at most (a test must end)


def _instance(sop: str) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.6.1")
    meta.MediaStorageSOPInstanceUID = UID(sop)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = SERIES
    ds.Modality = "US"
    out = io.BytesIO()
    pydicom.dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def _part(data: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    return head + data + b"\r\n"


class HostileServer:
    """QIDO-RS lists GOOD and BAD; WADO-RS sends GOOD well and BAD (and the series) as
    ``mode`` says: ``endless`` (a part that never ends), ``raw`` (a non-multipart body that
    never ends), ``declared`` (Content-Length far over the cap), ``parts`` (the series: endless
    small parts; BAD alone: endless), ``stall`` (headers, then nothing), ``trickle`` (a byte
    every 0.1 s, never enough silence for the read timeout), ``header_trickle`` (the status
    line, then a header byte every 0.1 s), ``listing`` (the QIDO-RS answer
    is an endless JSON list, sent until :data:`LISTING_SENT` bytes), ``offset_ignored`` (the
    listing answers the same page whatever its ``offset``; both instances sent well)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.stop = threading.Event()
        self.sent = 0  # body bytes of hostile answers
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                server.answer(self)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.uri = f"dicomweb+http://127.0.0.1:{self.http.server_address[1]}/dicom-web"

    def close(self) -> None:
        self.stop.set()
        self.http.shutdown()
        self.http.server_close()

    def _send(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(data)
        self.sent += len(data)

    def _endless(self, handler: BaseHTTPRequestHandler, unit: bytes) -> None:
        try:
            while not self.stop.is_set():
                self._send(handler, unit)
        except OSError:  # the client hung up
            pass

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        multipart = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
        if path.endswith("/studies"):  # a study search: two matches, "more" if truncated
            body = json.dumps(
                [
                    {
                        "0020000D": {"vr": "UI", "Value": [f"{STUDY}.{n}"]},
                        "00080020": {"vr": "DA", "Value": ["20240305"]},
                    }
                    for n in (1, 2)
                ]
            ).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/dicom+json")
            handler.send_header("Content-Length", str(len(body)))
            if self.mode == "truncated_search":
                handler.send_header(
                    "Warning",
                    '299 pacs: "The number of results exceeded the maximum supported by the '
                    'server. Additional results can be requested."',
                )
            handler.end_headers()
            handler.wfile.write(body)
            return
        if path.endswith(f"/studies/{STUDY}/instances") and self.mode == "listing":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/dicom+json")
            handler.send_header("Connection", "close")
            handler.end_headers()
            item = json.dumps({"00080018": {"vr": "UI", "Value": [GOOD]}}).encode() + b","
            try:
                self._send(handler, b"[")
                while not self.stop.is_set() and self.sent < LISTING_SENT:
                    self._send(handler, item * 512)
            except OSError:  # the client hung up
                pass
            return
        if path.endswith(f"/studies/{STUDY}/instances"):
            listing = [
                {
                    "0020000E": {"vr": "UI", "Value": [SERIES]},
                    "00080018": {"vr": "UI", "Value": [sop]},
                    "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.6.1"]},
                }
                for sop in (GOOD, BAD)
                if self.mode == "offset_ignored"  # every page the same, without end
                or "offset=" not in handler.path
                or "offset=0" in handler.path  # one page
            ]
            body = json.dumps(listing).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/dicom+json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        good = path.endswith(f"/instances/{GOOD}")
        if good or (self.mode == "offset_ignored" and path.endswith(f"/instances/{BAD}")):
            sop = GOOD if good else BAD
            body = _part(_instance(sop)) + f"--{BOUNDARY}--\r\n".encode()
            handler.send_response(200)
            handler.send_header("Content-Type", multipart)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        series = path.endswith(f"/series/{SERIES}")
        if self.mode == "header_trickle":  # the status line, then a header byte every 0.1 s
            try:
                handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not self.stop.wait(0.1):
                    self._send(handler, b"a")
                    handler.wfile.flush()
            except OSError:  # the client hung up
                pass
            return
        handler.send_response(200)
        if self.mode == "raw" and not series:
            handler.send_header("Content-Type", "application/dicom")
        else:
            handler.send_header("Content-Type", multipart)
        if self.mode == "declared":
            handler.send_header("Content-Length", str(50 * (1 << 30)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if self.mode == "stall":
            self.stop.wait(120)
        elif self.mode == "trickle":
            self._send(handler, f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            try:
                while not self.stop.wait(0.1):
                    self._send(handler, b"\0")
                    handler.wfile.flush()
            except OSError:  # the client hung up
                pass
        elif self.mode == "parts" and series:
            self._endless(handler, _part(_instance(GOOD)))
        elif self.mode == "raw" and not series:
            self._endless(handler, b"\0" * 65536)
        else:
            self._send(handler, f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            self._endless(handler, b"\0" * 65536)


@pytest.fixture
def hostile(request) -> Iterator[HostileServer]:
    server = HostileServer(request.param)
    yield server
    server.close()


def _retrieve(server: HostileServer, tmp_path: Path, pseudonymizer, limit: float, **options):
    """The retrieval in a thread; fails the test when it is still going after ``limit`` s."""
    zone = open_zone(tmp_path / "raw", name="raw")
    pacs = open_pacs(server.uri, max_instance_bytes=CAP, **options)
    cohort = pl.DataFrame({"study_instance_uid": [STUDY], "accession_number": ["ACC"]})
    done: dict = {}

    def run() -> None:
        try:
            done["result"] = retrieve_studies(
                pacs, cohort, zone, PARTITION, pseudonymizer, retries=2, backoff_seconds=0.01
            )
        except BaseException as exc:  # reported by the test
            done["error"] = exc

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    elapsed = time.monotonic() - start
    if thread.is_alive():
        server.stop.set()  # let the thread end
        thread.join(30)
        pytest.fail(f"the retrieval still ran after {limit:.0f} s ({server.sent:,} bytes sent)")
    pacs.close()
    if "error" in done:
        raise done["error"]
    return done["result"], elapsed


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("hostile", "level"),
    [
        ("endless", "image"),
        ("endless", "series"),
        ("raw", "image"),
        ("declared", "image"),
        ("parts", "series"),
    ],
    indirect=["hostile"],
)
def test_an_instance_over_the_cap_is_failed_and_never_stored(
    hostile, level, tmp_path, pseudonymizer
):
    result, elapsed = _retrieve(hostile, tmp_path, pseudonymizer, 60, level=level)
    rows = {r["sop_instance_uid"]: r for r in result.instances.iter_rows(named=True)}
    assert rows[GOOD]["status"] == "stored"
    bad = rows[BAD]
    assert bad["status"] == "failed"
    assert bad["reason"] == f"instance larger than max_instance_bytes ({CAP} bytes)"
    assert bad["attempts"] == 1  # not retried
    assert bad["raw_path"] is None
    # nothing of it anywhere: the good instance is the only file of the zone
    files = _files(tmp_path / "raw")
    dicom = {name: size for name, size in files.items() if name.startswith("dicom/")}
    assert list(dicom) == [rows[GOOD]["raw_path"]]
    assert sum(files.values()) < CAP
    assert elapsed < 30


@pytest.mark.parametrize("hostile", ["stall"], indirect=True)
def test_a_server_that_stalls_after_its_headers_times_out(hostile, tmp_path, pseudonymizer):
    """Already handled before the cap: the read timeout (``timeout``) ends each attempt."""
    result, elapsed = _retrieve(hostile, tmp_path, pseudonymizer, 60, level="image", timeout=1)
    rows = {r["sop_instance_uid"]: r for r in result.instances.iter_rows(named=True)}
    assert rows[GOOD]["status"] == "stored"
    assert (rows[BAD]["status"], rows[BAD]["reason"], rows[BAD]["attempts"]) == (
        "failed",
        "timeout",
        2,
    )
    assert elapsed < 30


@pytest.mark.parametrize(
    ("hostile", "level"),
    [
        ("trickle", "image"),
        ("trickle", "series"),
        ("header_trickle", "image"),
        ("header_trickle", "series"),
    ],
    indirect=["hostile"],
)
def test_a_server_that_trickles_is_stopped_by_the_request_deadline(
    hostile, level, tmp_path, pseudonymizer
):
    """A byte every 0.1 s never lets the 1 s read timeout fire: before
    ``max_request_seconds`` the retrieval went on for as long as the server trickled (an
    instance of 2 GiB at that pace takes years). ``header_trickle``: the deadline counted from
    the answer's headers, so a server sending its headers a byte at a time held the request
    for as long as the HTTP library's header limits allow (64 KiB a line: almost two hours at
    this pace, then 99 more lines); sending and the headers now have the same deadline."""
    result, elapsed = _retrieve(
        hostile,
        tmp_path,
        pseudonymizer,
        40,
        level=level,
        timeout=1,
        max_request_seconds=2,
    )
    rows = {r["sop_instance_uid"]: r for r in result.instances.iter_rows(named=True)}
    assert rows[GOOD]["status"] == "stored"
    bad = rows[BAD]
    assert (bad["status"], bad["reason"], bad["attempts"]) == (
        "failed",
        "request took longer than max_request_seconds (2 s)",
        1,  # not retried: the same server would trickle again
    )
    assert bad["raw_path"] is None
    dicom = [name for name in _files(tmp_path / "raw") if name.startswith("dicom/")]
    assert dicom == [rows[GOOD]["raw_path"]]
    assert elapsed < 20


@pytest.mark.parametrize("hostile", ["listing"], indirect=True)
def test_an_endless_listing_is_cut_at_max_answer_bytes(hostile, tmp_path, pseudonymizer):
    """A QIDO-RS answer was read whole into memory (``dicomweb-client`` parses it at once): an
    endless one grew the process for as long as the server sent. Now the reading stops at
    ``max_answer_bytes`` and the study's listing fails with that reason."""
    result, elapsed = _retrieve(
        hostile, tmp_path, pseudonymizer, 60, level="image", max_answer_bytes=1 << 20
    )
    studies = result.studies.to_dicts()
    assert len(studies) == 1
    assert studies[0]["complete"] is False
    assert studies[0]["reason"] == (
        "instance listing failed after 1 attempt: "
        "answer larger than max_answer_bytes (1048576 bytes)"
    )
    assert hostile.sent < 16 << 20  # the client hung up soon after the cap
    assert result.instances.height == 0
    assert elapsed < 30


def test_the_deadlines_and_caps_are_pacs_uri_options():
    pacs = open_pacs("dicomweb+http://127.0.0.1:9/dicom-web")
    assert pacs.max_request_seconds == 1800.0  # type: ignore[attr-defined]
    assert pacs.max_answer_bytes == 256 * 1024**2  # type: ignore[attr-defined]
    pacs.close()
    pacs = open_pacs(
        "dicomweb+http://127.0.0.1:9/dicom-web?max_request_seconds=5&max_answer_bytes=4096"
    )
    assert (pacs.max_request_seconds, pacs.max_answer_bytes) == (5.0, 4096)  # type: ignore[attr-defined]
    pacs.close()
    with pytest.raises(PacsError, match="max_request_seconds"):
        open_pacs("dicomweb+http://127.0.0.1:9/dicom-web?max_request_seconds=0")


def test_the_cap_defaults_to_2_gib_and_is_a_pacs_uri_option():
    pacs = open_pacs("dicomweb+http://127.0.0.1:9/dicom-web")
    assert pacs.max_instance_bytes == DEFAULT_MAX_INSTANCE_BYTES == 2 * 1024**3  # type: ignore[attr-defined]
    pacs.close()
    pacs = open_pacs("dicomweb+http://127.0.0.1:9/dicom-web?max_instance_bytes=1000")
    assert pacs.max_instance_bytes == 1000  # type: ignore[attr-defined]
    pacs.close()


@pytest.mark.parametrize("hostile", ["offset_ignored"], indirect=True)
def test_a_server_that_ignores_the_listing_offset_is_listed_once(hostile, tmp_path, pseudonymizer):
    """Servers without QIDO-RS paging answer every ``offset`` with the whole list:
    ``dicomweb-client``'s ``get_remaining`` asked for the next page for good, each answer
    appended to the last (the retrieval never ended, its memory grew)."""
    result, elapsed = _retrieve(hostile, tmp_path, pseudonymizer, 30, level="image")
    rows = {r["sop_instance_uid"]: r for r in result.instances.iter_rows(named=True)}
    assert sorted(rows) == sorted([GOOD, BAD])
    assert {r["status"] for r in rows.values()} == {"stored"}
    assert result.studies["complete"].to_list() == [True]
    assert elapsed < 20


@pytest.mark.parametrize("hostile", ["truncated_search", "stall"], indirect=True)
def test_a_search_the_server_cut_short_is_marked_truncated(hostile):
    """A server whose maximum is below our ``limit`` sends its first matches and says so in a
    ``Warning: 299`` header (PS3.18): the matches were taken as all the studies of the window
    (the window is searched in halves only when the answer is marked cut short)."""
    pacs = open_pacs(hostile.uri)
    try:
        found = pacs.search_studies("20240305", limit=1000)  # type: ignore[attr-defined]
        looked_up = pacs.lookup_studies(accession_number="ACC", limit=1000)  # type: ignore[attr-defined]
    finally:
        pacs.close()
    cut = hostile.mode == "truncated_search"
    assert len(found) == 2 and len(looked_up) == 2
    assert (found.truncated, looked_up.truncated) == (cut, cut)
