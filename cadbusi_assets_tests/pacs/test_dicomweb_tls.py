"""DICOMweb over HTTPS with client certificates (mutual TLS), as hospitals publish Orthanc:
a real Orthanc on 127.0.0.1 behind a real nginx that terminates TLS and requires a client
certificate its CA signed (``ssl_verify_client on``).

The DICOMweb PACS took the server's CA from ``REQUESTS_CA_BUNDLE`` only and could show no
client certificate: such a PACS answered every request with HTTP 400 ("No required SSL
certificate was sent"), recorded as an instance failure that says nothing of the cause. Now
``tls_ca``, ``tls_cert`` and ``tls_key`` (as for DIMSE; an encrypted key opens with
``$CADBUSI_PACS_TLS_KEY_PASSWORD``) bring a study unchanged, and a missing or refused
certificate fails with a clear reason and stores nothing.

(Orthanc's own HTTPS server, civetweb, closes every TLS connection on this Debian build: the
TLS front is nginx, as in many deployments.)
"""

from __future__ import annotations

import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cadbusi_assets.pacs import open_pacs
from cadbusi_assets.pacs.base import PacsError
from cadbusi_assets.pacs.orthanc_server import INSTALL_HINT, OrthancServer
from cadbusi_assets_tests.support import free_port, require_tool

from .conftest import OrthancStudies
from .orthanc_support import retrieve_study
from .tls_support import certificates, encrypted_copy, refuses_a_missing_or_wrong_passphrase

PARTITION = "2024-03-05"
NGINX_HINT = "apt-get install nginx-light (scripts/system-deps.sh test)"


def _nginx(folder: Path, certs: dict[str, Path], upstream: int) -> tuple[subprocess.Popen, int]:
    """nginx on 127.0.0.1:port in the foreground, one process, files in ``folder`` only."""
    exe = require_tool("nginx", NGINX_HINT)
    port = free_port()
    temp = folder / "temp"
    temp.mkdir()
    conf = folder / "nginx.conf"
    conf.write_text(
        textwrap.dedent(
            f"""
            daemon off;
            master_process off;
            pid {folder / "nginx.pid"};
            error_log {folder / "error.log"} warn;
            events {{ worker_connections 64; }}
            http {{
                access_log off;
                client_body_temp_path {temp}/body;
                proxy_temp_path {temp}/proxy;
                fastcgi_temp_path {temp}/fastcgi;
                uwsgi_temp_path {temp}/uwsgi;
                scgi_temp_path {temp}/scgi;
                server {{
                    listen 127.0.0.1:{port} ssl;
                    ssl_certificate {certs["orthanc.pem"]};
                    ssl_certificate_key {certs["orthanc.key"]};
                    ssl_client_certificate {certs["ca.pem"]};
                    ssl_verify_client on;
                    location / {{
                        proxy_pass http://127.0.0.1:{upstream};
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_buffering off;
                    }}
                }}
            }}
            """
        )
    )
    process = subprocess.Popen(
        [exe, "-c", str(conf), "-p", str(folder), "-e", str(folder / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(
                f"https://127.0.0.1:{port}/system",
                verify=str(certs["ca.pem"]),
                cert=(str(certs["cadbusi.pem"]), str(certs["cadbusi.key"])),
                timeout=1,
            ).raise_for_status()
            return process, port
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                log = (folder / "error.log").read_text() if (folder / "error.log").exists() else ""
                raise RuntimeError(f"nginx did not start: {log[-2000:]}") from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def https_orthanc(tmp_path_factory) -> Iterator[tuple[OrthancServer, int, dict[str, Path]]]:
    require_tool("Orthanc", INSTALL_HINT)
    certs = certificates(tmp_path_factory.mktemp("tls"))
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-https")).start()
    process, port = _nginx(tmp_path_factory.mktemp("nginx"), certs, server.http_port)
    try:
        yield server, port, certs
    finally:
        process.kill()
        process.wait()
        server.stop(graceful=False)


def _uri(port: int, certs, *, ca: str = "ca", client: bool = True, key: Path | None = None) -> str:
    uri = f"dicomweb+https://127.0.0.1:{port}/dicom-web?tls_ca={certs[f'{ca}.pem']}"
    if client:
        uri += f"&tls_cert={certs['cadbusi.pem']}&tls_key={key or certs['cadbusi.key']}"
    return uri


def _retrieve(uri: str, study: str, tmp_path: Path, pseudonymizer, level: str = "series"):
    return retrieve_study(uri, study, tmp_path, pseudonymizer, PARTITION, level=level)


@pytest.mark.parametrize("level", ["series", "image"])
def test_a_study_comes_over_mutual_tls_unchanged(level, https_orthanc, tmp_path, pseudonymizer):
    server, port, certs = https_orthanc
    studies = OrthancStudies(server)
    study = studies.new_study(series=2, instances=2)
    zone, result = _retrieve(_uri(port, certs), study, tmp_path, pseudonymizer, level)
    assert result.studies["complete"].to_list() == [True]
    stored = {
        r["sop_instance_uid"]: zone.read_bytes(*r["raw_path"].split("/"))
        for r in result.instances.iter_rows(named=True)
    }
    assert stored == studies.files(study)  # DICOMweb: the PACS's own bytes


def test_without_our_certificate_the_reason_is_the_certificate(
    https_orthanc, tmp_path, pseudonymizer
):
    server, port, certs = https_orthanc
    study = OrthancStudies(server).new_study(series=1, instances=1)
    with pytest.raises(PacsError, match="refused our client certificate") as caught:
        _retrieve(_uri(port, certs, client=False), study, tmp_path, pseudonymizer)
    assert "tls_cert and tls_key" in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)
    assert not list((tmp_path / "raw").rglob("*.dcm"))


def test_a_client_certificate_of_another_ca_is_refused_clearly(
    https_orthanc, tmp_path, pseudonymizer
):
    server, port, certs = https_orthanc
    study = OrthancStudies(server).new_study(series=1, instances=1)
    uri = _uri(port, certs).replace(str(certs["cadbusi.pem"]), str(certs["other-ca.pem"]))
    uri = uri.replace(str(certs["cadbusi.key"]), str(certs["other-ca.key"]))
    with pytest.raises(PacsError, match="refused our client certificate"):
        _retrieve(uri, study, tmp_path, pseudonymizer)
    assert not list((tmp_path / "raw").rglob("*.dcm"))


def test_a_server_certificate_of_another_ca_is_refused(https_orthanc, tmp_path, pseudonymizer):
    server, port, certs = https_orthanc
    study = OrthancStudies(server).new_study(series=1, instances=1)
    with pytest.raises(PacsError, match=r"TLS with the DICOMweb server failed \(.*CERTIFICATE"):
        _retrieve(_uri(port, certs, ca="other-ca"), study, tmp_path, pseudonymizer)
    assert not list((tmp_path / "raw").rglob("*.dcm"))


def test_an_encrypted_key_opens_with_its_passphrase_from_the_environment(
    https_orthanc, tmp_path, pseudonymizer, monkeypatch
):
    server, port, certs = https_orthanc
    locked = encrypted_copy(certs["cadbusi.key"], b"correct horse")
    uri = _uri(port, certs, key=locked)
    refuses_a_missing_or_wrong_passphrase(monkeypatch, uri)
    studies = OrthancStudies(server)
    study = studies.new_study(series=1, instances=1)
    _, result = _retrieve(uri, study, tmp_path, pseudonymizer)
    assert result.studies["complete"].to_list() == [True]
    assert set(result.instances["sop_instance_uid"]) == set(studies.files(study))


def test_tls_options_are_checked_when_the_pacs_is_opened(tmp_path):
    with pytest.raises(PacsError, match="need a dicomweb\\+https://"):
        open_pacs(f"dicomweb+http://127.0.0.1:9/dicom-web?tls_ca={tmp_path}/ca.pem")
    with pytest.raises(PacsError, match="tls_ca is not a readable file"):
        open_pacs(f"dicomweb+https://127.0.0.1:9/dicom-web?tls_ca={tmp_path}/missing.pem")
    (tmp_path / "cert.pem").write_text("not a certificate")
    with pytest.raises(PacsError, match="tls_cert and tls_key go together"):
        open_pacs(f"dicomweb+https://127.0.0.1:9/dicom-web?tls_cert={tmp_path}/cert.pem")
    (tmp_path / "key.pem").write_text("not a key")
    with pytest.raises(PacsError, match="The DICOMweb TLS files could not be loaded"):
        open_pacs(
            f"dicomweb+https://127.0.0.1:9/dicom-web?tls_cert={tmp_path}/cert.pem"
            f"&tls_key={tmp_path}/key.pem"
        )


def test_a_server_that_ends_the_handshake_without_our_certificate_names_the_certificate(
    tmp_path, pseudonymizer
):
    """A TLS 1.3 server that requires a client certificate (Apache, HAProxy, Orthanc's own)
    ends the connection with an alert after the handshake, before any HTTP: it read as a
    connection error, retried, with nothing about the certificate."""
    import socket
    import ssl
    import threading

    certs = certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs["ca.pem"]))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(certs["orthanc.pem"]), str(certs["orthanc.key"]))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            with context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
                try:
                    tls.do_handshake()
                    tls.recv(1024)
                except (ssl.SSLError, OSError):
                    time.sleep(0.5)  # a lingering close: the client reads the alert first

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(PacsError, match=r"refused our client certificate .*CERTIFICATE_REQ"):
            _retrieve(_uri(port, certs, client=False), "1.2.3.4", tmp_path, pseudonymizer)
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_cadbusi_doctor_queries_over_mutual_tls_and_names_the_certificate(https_orthanc):
    from cadbusi_assets.doctor import OK, PROBLEM, check_pacs

    _, port, certs = https_orthanc
    good = check_pacs(_uri(port, certs), timeout=5)
    assert good.status == OK, good.line()
    bad = check_pacs(_uri(port, certs, client=False), timeout=5)
    assert bad.status == PROBLEM
    assert "refused our client certificate" in bad.detail
    assert str(certs["ca.pem"]) not in bad.line()  # the query string is not shown
