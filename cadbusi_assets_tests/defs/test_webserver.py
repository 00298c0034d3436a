"""The UI that `make dev` opens: the webserver loads workspace.yaml and serves the whole
lineage graph, with partitions, over GraphQL (what the asset graph page renders)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from cadbusi_assets_tests.defs.lineage import EXPECTED
from cadbusi_assets_tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
QUERY = """
{ assetNodes { assetKey { path } groupName isPartitioned
    partitionDefinition { type name }
    dependencyKeys { path } } }
"""


@pytest.mark.integration
def test_webserver_serves_the_lineage_graph_with_partitions(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")}
    env.update(CADBUSI_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    webserver = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen(
        [str(webserver), "-h", "127.0.0.1", "-p", str(port), "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        nodes = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("dagster-webserver exited: " + proc.stderr.read().decode()[-2000:])
            try:
                reply = requests.post(f"{base}/graphql", json={"query": QUERY}, timeout=5)
                data = reply.json().get("data") if reply.ok else None
                if data and data.get("assetNodes"):
                    nodes = data["assetNodes"]
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        assert nodes, "the webserver did not serve the asset graph in time"
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert set(by_key) == set(EXPECTED)
        for name, (group, partitions, upstream) in EXPECTED.items():
            node = by_key[name]
            assert node["groupName"] == group
            assert node["isPartitioned"] == (partitions is not None), name
            assert {"/".join(d["path"]) for d in node["dependencyKeys"]} == upstream, name
        assert by_key["raw_dicom"]["partitionDefinition"]["type"] == "TIME_WINDOW"
        assert by_key["dataset_export"]["partitionDefinition"]["type"] == "DYNAMIC"
        assert requests.get(f"{base}/assets", timeout=10).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
