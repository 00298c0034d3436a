"""DICOM TLS against a real Orthanc on 127.0.0.1 that accepts only TLS associations and only
from clients whose certificate its CA signed (``DicomTlsRemoteCertificateRequired``).

C-GET over TLS, and C-MOVE whose deliveries Orthanc makes over TLS to our Storage SCP (which
in turn requires Orthanc's certificate), bring the study's data sets unchanged; a wrong CA, a missing
client certificate or a plain association fail with a clear reason and store nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cadbusi_assets.dicom import read_dataset
from cadbusi_assets.pacs import open_pacs
from cadbusi_assets.pacs.base import PacsError
from cadbusi_assets.pacs.orthanc_server import INSTALL_HINT, OrthancServer
from cadbusi_assets_tests.support import free_port, require_tool

from .conftest import OrthancStudies
from .orthanc_support import retrieve_study, zone_files
from .tls_support import certificates as _certificates
from .tls_support import encrypted_copy as _encrypted_copy
from .tls_support import refuses_a_missing_or_wrong_passphrase

PARTITION = "2024-03-05"


@pytest.fixture(scope="module")
def tls_orthanc(tmp_path_factory):
    require_tool("Orthanc", INSTALL_HINT)
    folder = tmp_path_factory.mktemp("tls")
    certs = _certificates(folder)
    server = OrthancServer(
        tmp_path_factory.mktemp("orthanc-tls"),
        extra_config={
            "DicomTlsEnabled": True,
            "DicomTlsCertificate": str(certs["orthanc.pem"]),
            "DicomTlsPrivateKey": str(certs["orthanc.key"]),
            "DicomTlsTrustedCertificates": str(certs["ca.pem"]),
            "DicomTlsRemoteCertificateRequired": True,
        },
    )
    server.start()
    yield server, certs
    server.stop(graceful=False)


def _uri(server: OrthancServer, certs, mode: str, *, ca: str = "ca", client: bool = True) -> str:
    uri = (
        f"dimse://{server.aet}@127.0.0.1:{server.dicom_port}?calling_aet=CADBUSI&mode={mode}"
        f"&tls=1&tls_ca={certs[f'{ca}.pem']}"
    )
    if client:
        uri += f"&tls_cert={certs['cadbusi.pem']}&tls_key={certs['cadbusi.key']}"
    return uri


def _retrieve(uri: str, study: str, tmp_path: Path, pseudonymizer, **options):
    return retrieve_study(uri, study, tmp_path, pseudonymizer, PARTITION, **options)


@pytest.mark.parametrize("mode", ["get", "move"])
def test_a_study_comes_over_tls_unchanged(mode, tls_orthanc, tmp_path, pseudonymizer):
    server, certs = tls_orthanc
    studies = OrthancStudies(server)
    study = studies.new_study(series=2, instances=2)
    uri = _uri(server, certs, mode)
    if mode == "move":
        port = free_port()
        server.add_modality("cadbusi", "CADBUSI", "127.0.0.1", port, tls=True)
        uri += f"&move_destination=CADBUSI&store_port={port}&store_bind=127.0.0.1"
    zone, result = _retrieve(uri, study, tmp_path, pseudonymizer)
    assert result.studies["complete"].to_list() == [True]
    stored = {
        r["sop_instance_uid"]: zone.read_bytes(*r["raw_path"].split("/"))
        for r in result.instances.iter_rows(named=True)
    }
    held = studies.files(study)
    assert set(stored) == set(held)
    for sop, data in stored.items():  # DIMSE carries the data set; the file meta is ours
        assert read_dataset(data) == read_dataset(held[sop])


def test_a_pacs_certificate_from_another_ca_is_refused(tls_orthanc, tmp_path, pseudonymizer):
    server, certs = tls_orthanc
    study = OrthancStudies(server).new_study(series=1, instances=1)
    with pytest.raises(PacsError, match=r"TLS handshake .* failed .*certificate verify failed"):
        _retrieve(_uri(server, certs, "get", ca="other-ca"), study, tmp_path, pseudonymizer)
    assert not list((tmp_path / "raw").rglob("*.dcm"))


def test_without_our_certificate_the_pacs_refuses_us(tls_orthanc, tmp_path, pseudonymizer):
    server, certs = tls_orthanc
    study = OrthancStudies(server).new_study(series=1, instances=1)
    with pytest.raises(PacsError, match="TLS handshake"):
        _retrieve(_uri(server, certs, "get", client=False), study, tmp_path, pseudonymizer)


def test_a_plain_association_to_a_tls_pacs_fails_and_stores_nothing(
    tls_orthanc, tmp_path, pseudonymizer
):
    server, _ = tls_orthanc
    study = OrthancStudies(server).new_study(series=1, instances=1)
    uri = f"dimse://{server.aet}@127.0.0.1:{server.dicom_port}?calling_aet=CADBUSI&mode=get"
    zone, result = _retrieve(uri, study, tmp_path, pseudonymizer)
    assert result.studies["complete"].to_list() == [False]
    assert "association" in (result.studies["reason"][0] or "")
    assert zone_files(zone) == set()


def test_tls_options_are_checked_when_the_pacs_is_opened(tmp_path):
    base = "dimse://PACS@127.0.0.1:9?calling_aet=CADBUSI"
    with pytest.raises(PacsError, match="need tls=1"):
        open_pacs(base + f"&mode=get&tls_ca={tmp_path}/ca.pem")
    with pytest.raises(PacsError, match="tls_ca is not a readable file"):
        open_pacs(base + f"&mode=get&tls=1&tls_ca={tmp_path}/missing.pem")
    with pytest.raises(PacsError, match="mode=move with tls=1 needs tls_cert"):
        open_pacs(base + "&mode=move&tls=1")
    with pytest.raises(PacsError, match="tls must be 1 or 0"):
        open_pacs(base + "&mode=get&tls=maybe")
    pacs = open_pacs(base + "&mode=get&tls=1")  # the system's CAs, no client certificate
    assert pacs.tls  # type: ignore[attr-defined]


def test_cadbusi_doctor_echoes_over_tls_and_names_a_handshake_problem(tls_orthanc):
    """`cadbusi doctor`'s C-ECHO made a plain association: a TLS-only PACS looked down."""
    from cadbusi_assets.doctor import OK, PROBLEM, check_pacs

    server, certs = tls_orthanc
    good = check_pacs(_uri(server, certs, "get"), timeout=5)
    assert (good.status, good.detail.endswith("answered C-ECHO over TLS")) == (OK, True)
    bad = check_pacs(_uri(server, certs, "get", ca="other-ca"), timeout=5)
    assert bad.status == PROBLEM
    assert "TLS handshake failed (certificate verify failed" in bad.detail
    assert "tls_ca" in bad.fix
    assert str(certs["cadbusi.key"]) not in bad.line()  # the query string is not shown


def test_an_encrypted_key_opens_with_its_passphrase_from_the_environment_never_a_prompt(
    tls_orthanc, tmp_path, pseudonymizer, monkeypatch
):
    """Without a password callback OpenSSL asks on the terminal: a daemon waited on stdin."""
    server, certs = tls_orthanc
    locked = _encrypted_copy(certs["cadbusi.key"], b"correct horse")
    uri = _uri(server, certs, "get").replace(str(certs["cadbusi.key"]), str(locked))
    refuses_a_missing_or_wrong_passphrase(monkeypatch, uri)
    study = OrthancStudies(server).new_study(series=1, instances=1)
    _, result = _retrieve(uri, study, tmp_path, pseudonymizer)
    assert result.studies["complete"].to_list() == [True]
