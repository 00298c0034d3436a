"""The retrieval benchmark runs end to end (tiny size; `make bench` runs the real one)."""

from __future__ import annotations

import pytest

from benchmarks.pacs import PROTOCOLS, run_benchmark

pytestmark = pytest.mark.integration


def test_benchmark_reports_every_protocol(orthanc, tmp_path):
    report = run_benchmark(n_instances=3, concurrency=2, server=orthanc, work_dir=tmp_path)
    assert report["n_instances"] == 3 and report["concurrency"] == 2
    assert report["instance_bytes"] > 1024 * 768 * 3
    assert set(report["results"]) == set(PROTOCOLS)
    for figures in report["results"].values():
        assert figures["complete"] is True and figures["stored"] == 3
        assert figures["instances_per_s"] > 0 and figures["mb_per_s"] > 0
    assert not any(tmp_path.glob("zone-*"))  # retrieved copies are cleaned up
    results = report["results"]
    for protocol in ("dicomweb", "dimse-move", "dimse-get"):  # 3 instances in one series
        assert results[protocol]["requests"] == {"series": 1, "image": 0}
        assert results[f"{protocol}-image"]["requests"] == {"series": 0, "image": 3}
