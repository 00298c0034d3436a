"""A throwaway local Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) for tests and benchmarks.

Orthanc listens on all interfaces (it has no bind option); ``RemoteAccessAllowed: false`` only
guards HTTP. Use it on loopback, with random ports, on a machine that is not exposed.

>>> OrthancServer.executable() is None or OrthancServer.executable().endswith("Orthanc")
True
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

#: Debian packages that ship the server and its plugins.
INSTALL_HINT = "apt-get install orthanc orthanc-dicomweb"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def orthanc_plugins() -> list[str]:
    """The DICOMweb (and GDCM, where installed) plugin files, located with ``dpkg -L``."""
    found: list[str] = []
    for package in ("orthanc-dicomweb", "orthanc-gdcm"):
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
        found += [
            line
            for line in listing.stdout.splitlines()
            if "/plugins/" in line and line.endswith(".so")
        ]
    return found


class OrthancServer:
    """Start with :meth:`start` (or as a context manager), stop with :meth:`stop`."""

    def __init__(
        self,
        work_dir: str | Path | None = None,
        *,
        aet: str = "ORTHANC",
        limit_find_results: int = 0,
        extra_config: dict[str, Any] | None = None,
        tcp_nodelay: bool = True,
    ) -> None:
        self.tcp_nodelay = tcp_nodelay
        self._own_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="orthanc-"))
        self.aet = aet
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.limit_find_results = limit_find_results
        self.extra_config = extra_config or {}
        self.process: subprocess.Popen | None = None
        self.session = requests.Session()

    @staticmethod
    def executable() -> str | None:
        return shutil.which("Orthanc")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return self.base_url + "/dicom-web"

    def config(self) -> dict[str, Any]:
        return {
            "Name": "cadbusi-test-orthanc",
            "StorageDirectory": str(self.work_dir / "db"),
            "IndexDirectory": str(self.work_dir / "db"),
            "Plugins": orthanc_plugins(),
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": True,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            "DicomModalities": {},
            "DicomModalitiesInDatabase": False,
            "SaveJobs": False,
            "StableAge": 1,
            "OverwriteInstances": True,
            "LimitFindResults": self.limit_find_results,
            "LimitFindInstances": 0,
            "HttpThreadsCount": 16,
            "DicomWeb": {
                "Enable": True,
                "Root": "/dicom-web/",
                "EnableWado": True,
                "WadoRoot": "/wado",
                "Host": f"127.0.0.1:{self.http_port}",
                "Ssl": False,
                "StudiesMetadata": "Full",
                "SeriesMetadata": "Full",
            },
            **self.extra_config,
        }

    def start(self, timeout: float = 30.0) -> OrthancServer:
        exe = self.executable()
        if exe is None:
            raise RuntimeError(f"Orthanc is not installed ({INSTALL_HINT}).")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.work_dir / "orthanc.json"
        config_path.write_text(json.dumps(self.config(), indent=1))
        # DCMTK (Orthanc's DICOM stack) keeps Nagle's algorithm on unless TCP_NODELAY=1; with it
        # on, every DIMSE request waits ~40 ms for a delayed ACK.
        env = {**os.environ, "TCP_NODELAY": "1" if self.tcp_nodelay else "0"}
        self.process = subprocess.Popen(
            [exe, f"--logfile={self.work_dir / 'orthanc.log'}", str(config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.session.get(self.base_url + "/system", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Orthanc did not start; see {self.work_dir / 'orthanc.log'}")
            time.sleep(0.05)

    def stop(self, *, graceful: bool = True) -> None:
        """SIGTERM and wait (about 3.5 s), or kill at once (``graceful=False``, fine for a
        throwaway database)."""
        if self.process is not None and self.process.poll() is None and not graceful:
            self.process.kill()
            self.process.wait()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.session.close()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- REST helpers ------------------------------------------------------------------------
    def upload(self, data: bytes) -> str:
        """Store one Part-10 file; returns Orthanc's instance id."""
        response = self.session.post(self.base_url + "/instances", data=data, timeout=60)
        response.raise_for_status()
        return response.json()["ID"]

    def add_modality(self, name: str, aet: str, host: str, port: int, *, tls: bool = False) -> None:
        """Register a C-MOVE destination (our Storage SCP) at runtime; ``tls``: Orthanc sends
        to it over DICOM TLS (``UseDicomTls``)."""
        response = self.session.put(
            f"{self.base_url}/modalities/{name}",
            json={"AET": aet, "Host": host, "Port": port, "UseDicomTls": tls},
            timeout=10,
        )
        response.raise_for_status()

    def find_instances(self, study_instance_uid: str) -> list[str]:
        """Orthanc ids of the instances of one study."""
        response = self.session.post(
            self.base_url + "/tools/find",
            json={"Level": "Instance", "Query": {"StudyInstanceUID": study_instance_uid}},
            timeout=30,
        )
        response.raise_for_status()
        return list(response.json())

    def instance_file(self, orthanc_id: str) -> bytes:
        response = self.session.get(f"{self.base_url}/instances/{orthanc_id}/file", timeout=60)
        response.raise_for_status()
        return response.content

    def delete_instance(self, orthanc_id: str) -> None:
        self.session.delete(
            f"{self.base_url}/instances/{orthanc_id}", timeout=30
        ).raise_for_status()

    def delete_all(self) -> None:
        for patient in self.session.get(self.base_url + "/patients", timeout=30).json():
            self.session.delete(f"{self.base_url}/patients/{patient}", timeout=30)
