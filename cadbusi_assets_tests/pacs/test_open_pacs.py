"""open_pacs URI forms, the folder PACS itself, retries and the time window."""

from __future__ import annotations

import datetime as dt
import doctest
import io

import pytest

import cadbusi_assets.pacs.folder
import cadbusi_assets.pacs.retry
import cadbusi_assets.pacs.synthetic
import cadbusi_assets.pacs.window
from cadbusi_assets.pacs import (
    InstanceRef,
    NotFoundError,
    PacsError,
    RetrievalError,
    RetrievalWindow,
    StudyNotFoundError,
    TransientError,
    open_pacs,
)
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.pacs.retry import RetriesExhausted, backoff_delay, call_with_retries


@pytest.mark.parametrize(
    "module",
    [
        cadbusi_assets.pacs.folder,
        cadbusi_assets.pacs.retry,
        cadbusi_assets.pacs.synthetic,
        cadbusi_assets.pacs.window,
    ],
)
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


def test_folder_uri_forms(folder_studies):
    for uri in (str(folder_studies.root), f"folder://{folder_studies.root}"):
        pacs = open_pacs(uri)
        assert isinstance(pacs, FolderPacs) and pacs.root == folder_studies.root
    assert open_pacs(str(folder_studies.root), window="20:00-06:00").window == "20:00-06:00"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "empty"),
        ("ftp://x/y", "Unsupported"),
        ("/no/such/folder", "does not exist"),
        ("dicomweb+https://user:secret@pacs.example/dicom-web", "credentials"),
        ("dimse://pacs.example:104", "CALLED_AET@host:port"),
    ],
)
def test_bad_uris_fail_with_a_clear_message(uri, message):
    with pytest.raises(PacsError, match=message) as info:
        open_pacs(uri)
    assert "secret" not in str(info.value)


def test_folder_listing_and_fetch(folder_studies):
    pacs = FolderPacs(folder_studies.root)
    (folder_studies.root / folder_studies.complete / ".DS_Store").write_bytes(b"x")
    refs = pacs.list_instances(folder_studies.complete)
    assert [r.source.split("/", 1)[1] for r in refs] == [
        "IM0001.dcm",
        "IM0002.dcm",
        "cine/IM0003.dcm",
    ]
    assert all(
        r.sop_instance_uid is None and r.study_instance_uid == folder_studies.complete for r in refs
    )
    buffer = io.BytesIO()
    written = pacs.fetch(refs[0], buffer)
    assert buffer.getvalue() == (folder_studies.root / refs[0].source).read_bytes()
    assert written == len(buffer.getvalue())
    assert pacs.list_instances(folder_studies.empty) == []
    with pytest.raises(StudyNotFoundError):
        pacs.list_instances(folder_studies.missing)
    with pytest.raises(StudyNotFoundError):
        pacs.list_instances("..")
    with pytest.raises(NotFoundError):
        pacs.fetch(InstanceRef(folder_studies.complete, None, None, "../../etc/passwd"), buffer)
    with pytest.raises(NotFoundError):
        pacs.fetch(InstanceRef(folder_studies.complete, None, None, "nope/IM.dcm"), buffer)


def test_folder_search_by_date(folder_studies):
    pacs = FolderPacs(folder_studies.root)
    found = pacs.search_studies("20240305")
    assert {m.study_instance_uid for m in found} == {
        folder_studies.complete,
        folder_studies.with_corrupt,
    }
    assert pacs.search_studies("20240306-20240310") == []
    assert pacs.search_studies("20240301-20240310", "100000-103000", limit=1)[
        0
    ].study_date == dt.date(2024, 3, 5)
    assert pacs.search_studies("20240305", "110000-120000") == []


def test_retries_stop_on_non_transient_errors():
    calls: list[int] = []

    def not_found():
        calls.append(1)
        raise NotFoundError("instance not found")

    with pytest.raises(RetriesExhausted) as info:
        call_with_retries(not_found, attempts=5, backoff_seconds=0, sleep=lambda s: None)
    assert info.value.attempts == 1 and len(calls) == 1
    assert isinstance(info.value.error, RetrievalError)


def test_retries_back_off_exponentially_and_honour_retry_after():
    slept: list[float] = []

    def always_busy():
        raise TransientError("HTTP 429", retry_after=5.0)

    with pytest.raises(RetriesExhausted) as info:
        call_with_retries(always_busy, attempts=3, backoff_seconds=0.1, sleep=slept.append)
    assert info.value.attempts == 3 and info.value.error.reason == "HTTP 429"
    assert slept == [5.0, 5.0]
    assert backoff_delay(30, 1.0) == 60.0


@pytest.mark.parametrize("text", ["", "20-06", "25:00-06:00", "08:00-08:00", "8:60-9:00"])
def test_invalid_windows_are_refused(text):
    with pytest.raises(PacsError, match="window"):
        RetrievalWindow.parse(text)


def test_day_window_and_midnight_end():
    day = RetrievalWindow.parse("08:00-18:00")
    assert day.contains(dt.time(8, 0)) and not day.contains(dt.time(18, 0))
    assert str(RetrievalWindow.parse("22:00-24:00")) == "22:00-24:00"
    assert RetrievalWindow.parse("22:00-24:00").contains(dt.time(23, 59, 59))
    assert day.seconds_until_open(dt.datetime(2026, 1, 1, 19, 0)) == 13 * 3600


def test_dimse_status_codes():
    from cadbusi_assets.pacs.dimse import _status_error

    assert isinstance(_status_error("C-MOVE", 0xA801), PacsError)
    assert "move destination" in str(_status_error("C-MOVE", 0xA801))
    assert isinstance(_status_error("C-MOVE", 0xA702), TransientError)
    assert isinstance(_status_error("C-GET", None), TransientError)
    failed = _status_error("C-MOVE", 0xC000)
    assert isinstance(failed, RetrievalError) and not failed.transient
    assert failed.reason == "C-MOVE failed (status 0xC000)"


def test_dimse_uri_options():
    pacs = open_pacs(
        "dimse://PACS@pacs.example:104?calling_aet=ME&mode=get&max_connections=2"
        "&storage_classes=1.2.3,1.2.4&window=20:00-06:00"
    )
    try:
        assert (pacs.called_aet, pacs.host, pacs.port, pacs.calling_aet) == (
            "PACS",
            "pacs.example",
            104,
            "ME",
        )
        assert pacs.mode == "get" and pacs.max_connections == 2 and pacs.window == "20:00-06:00"
        assert {"1.2.3", "1.2.4"} <= set(pacs.storage_classes)
    finally:
        pacs.close()
    with pytest.raises(PacsError, match="mode"):
        open_pacs("dimse://PACS@pacs.example:104?mode=push")
    with pytest.raises(PacsError, match="AE titles"):
        open_pacs("dimse://PACS@pacs.example:104?calling_aet=WAY_TOO_LONG_AE_TITLE")


def test_folder_check(folder_studies, tmp_path):
    pacs = FolderPacs(folder_studies.root)
    pacs.check()
    moved = tmp_path / "moved"
    folder_studies.root.rename(moved)
    with pytest.raises(PacsError, match="no longer readable"):
        pacs.check()


def test_dicomweb_uri_forms_and_google_auth_without_credentials(monkeypatch, tmp_path):
    from cadbusi_assets.pacs.dicomweb import DicomWebPacs

    pacs = open_pacs("dicomweb+https://pacs.example:8443/dicom-web/?max_connections=3&timeout=9")
    try:
        assert isinstance(pacs, DicomWebPacs)
        assert (pacs.url, pacs.max_connections, pacs.timeout) == (
            "https://pacs.example:8443/dicom-web",
            3,
            9.0,
        )
        assert "Authorization" not in pacs.session.headers and pacs.session.auth is None
    finally:
        pacs.close()
    monkeypatch.setenv("CADBUSI_PACS_TOKEN", "secret-token")
    pacs = open_pacs("dicomweb+http://127.0.0.1:1/dicom-web")
    assert pacs.session.headers["Authorization"] == "Bearer secret-token"
    assert "secret-token" not in repr(pacs)
    pacs.close()

    monkeypatch.delenv("CADBUSI_PACS_TOKEN")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    store = "healthcare.googleapis.com/v1/projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb"
    with pytest.raises(PacsError, match="gcloud auth application-default login"):
        open_pacs(f"dicomweb+https://{store}?auth=google")
    with pytest.raises(PacsError, match="auth"):
        open_pacs(f"dicomweb+https://{store}?auth=kerberos")
