"""Retrieval benchmark: instances/s and MB/s from a local Orthanc over DICOMweb and DIMSE.

Starts a throwaway Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) on loopback, loads
``n_instances`` synthetic 1024×768 RGB ultrasound instances (uncompressed, about 2.4 MB each,
30 per study), then runs :func:`~cadbusi_assets.pacs.retrieve.retrieve_studies` into a fresh
local raw zone once per protocol and reports the rates. MB = 10^6 bytes.

The rates are end to end, so they include the server: on a small machine Orthanc 1.10's
DICOMweb plugin spends about 50 ms of CPU per 2.4 MB instance, which caps the DICOMweb figure;
``client_cpu_ms_per_instance`` is what the retrieval costs on our side.

Run: ``python -m benchmarks.pacs [n_instances]`` (prints JSON).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from cadbusi_assets.dicom import dataset_to_bytes, read_dataset
from cadbusi_assets.identity import Pseudonymizer, PseudonymKey
from cadbusi_assets.pacs.orthanc_server import OrthancServer, free_port
from cadbusi_assets.pacs.retrieve import retrieve_studies
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
from cadbusi_assets.pacs.uri import open_pacs
from cadbusi_assets.storage import open_zone

ROWS, COLUMNS = 768, 1024
INSTANCES_PER_STUDY = 30
#: ``-image``: one IMAGE-level request per instance (``level=image``) instead of one
#: SERIES-level request per series fetched whole (the default).
PROTOCOLS = (
    "dicomweb",
    "dimse-move",
    "dimse-get",
    "dicomweb-image",
    "dimse-move-image",
    "dimse-get-image",
)
#: A fixed, throwaway key: the benchmark only handles synthetic data.
_BENCH_KEY = PseudonymKey(bytes(range(7, 39)))


def _instances(n_instances: int) -> tuple[list[str], list[bytes]]:
    """Study UIDs and the Part-10 bytes of ``n_instances`` synthetic instances (one pixel
    buffer, different UIDs)."""
    template = read_dataset(
        synthetic_us_instance("1.2", "1.2.1", "1.2.1.1", rows=ROWS, columns=COLUMNS, seed=1)
    )
    studies: list[str] = []
    files: list[bytes] = []
    for index in range(n_instances):
        study_number, number = divmod(index, INSTANCES_PER_STUDY)
        study = synthetic_uid(900_000, study_number)
        if not studies or studies[-1] != study:
            studies.append(study)
        template.StudyInstanceUID = study
        template.SeriesInstanceUID = f"{study}.1"
        template.SOPInstanceUID = f"{study}.1.{number + 1}"
        template.InstanceNumber = number + 1
        files.append(dataset_to_bytes(template))
    return studies, files


def run_benchmark(
    n_instances: int = 300,
    *,
    concurrency: int = 4,
    protocols: tuple[str, ...] = PROTOCOLS,
    work_dir: str | os.PathLike[str] | None = None,
    server: OrthancServer | None = None,
) -> dict[str, Any]:
    """Load ``n_instances`` into a local Orthanc and time their retrieval per protocol.

    Returns ``{"n_instances", "instance_bytes", "rows", "columns", "concurrency", "cpus",
    "load_seconds", "results": {protocol: {"seconds", "instances_per_s", "mb_per_s",
    "complete", "stored", "client_cpu_ms_per_instance"}}}``. ``server``: an Orthanc already running (left running).
    """
    if server is None and OrthancServer.executable() is None:
        raise RuntimeError("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb).")
    base = Path(work_dir or tempfile.mkdtemp(prefix="cadbusi-bench-"))
    pseudonymizer = Pseudonymizer(_BENCH_KEY)
    results: dict[str, Any] = {}
    own_server = server is None
    if server is None:
        server = OrthancServer(base / "orthanc")
        server.start()
    try:
        studies, files = _instances(n_instances)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(server.upload, files))
        load_seconds = time.perf_counter() - started
        total_bytes = sum(len(f) for f in files)
        del files
        cohort = pl.DataFrame(
            {"study_instance_uid": studies, "accession_number": ["BENCH"] * len(studies)}
        )
        for protocol in protocols:
            uri = _uri(server, protocol)
            pacs = open_pacs(uri, max_connections=concurrency)
            zone_dir = base / f"zone-{protocol}"
            try:
                started = time.perf_counter()
                cpu_started = time.process_time()
                result = retrieve_studies(
                    pacs,
                    cohort,
                    open_zone(zone_dir, name="raw"),
                    "bench",
                    pseudonymizer,
                    concurrency=concurrency,
                )
                seconds = time.perf_counter() - started
                client_cpu = time.process_time() - cpu_started
            finally:
                pacs.close()
                shutil.rmtree(zone_dir, ignore_errors=True)
            stored = int((result.instances["status"] == "stored").sum())
            requests = getattr(pacs, "requests", None)
            stored_bytes = int(result.instances["size_bytes"].sum() or 0)
            results[protocol] = {
                "seconds": round(seconds, 2),
                "instances_per_s": round(stored / seconds, 1),
                "mb_per_s": round(stored_bytes / seconds / 1e6, 1),
                "stored": stored,
                "complete": result.complete,
                # CPU of this process (all threads): what retrieval costs us, whatever the PACS
                "client_cpu_ms_per_instance": round(1000 * client_cpu / max(1, stored), 1),
            }
            if requests is not None:  # retrieval requests sent, by level
                results[protocol]["requests"] = dict(requests)
    finally:
        if own_server:
            server.stop(graceful=False)
        if work_dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return {
        "n_instances": n_instances,
        "instance_bytes": total_bytes // max(1, n_instances),
        "rows": ROWS,
        "columns": COLUMNS,
        "concurrency": concurrency,
        "cpus": os.cpu_count(),
        "load_seconds": round(load_seconds, 2),
        "results": results,
    }


def _uri(server: OrthancServer, protocol: str) -> str:
    if protocol.endswith("-image"):
        uri = _uri(server, protocol.removesuffix("-image"))
        return uri + ("&" if "?" in uri else "?") + "level=image"
    if protocol == "dicomweb":
        return "dicomweb+" + server.dicomweb_url
    if protocol == "dimse-get":
        return f"dimse://{server.aet}@127.0.0.1:{server.dicom_port}?mode=get"
    if protocol == "dimse-move":
        port = free_port()
        server.add_modality("cadbusi-bench", "CADBUSIBENCH", "127.0.0.1", port)
        return (
            f"dimse://{server.aet}@127.0.0.1:{server.dicom_port}?mode=move"
            f"&move_destination=CADBUSIBENCH&store_port={port}&store_bind=127.0.0.1"
        )
    raise ValueError(f"Unknown protocol {protocol!r}; use one of {PROTOCOLS}.")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    n_instances = int(args[0]) if args else 300
    print(json.dumps(run_benchmark(n_instances), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
