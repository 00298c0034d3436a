"""Steps run in the run's process by default (one start-up per run); k8s on request."""

import dagster as dg

from cadbusi_assets.defs.executor import executor


def test_the_default_executor_runs_steps_in_the_run_process(monkeypatch):
    monkeypatch.delenv("CADBUSI_EXECUTOR", raising=False)
    assert executor().executor is dg.in_process_executor


def test_k8s_executor_on_request(monkeypatch):
    monkeypatch.setenv("CADBUSI_EXECUTOR", "k8s")
    assert executor().executor.name == "k8s"
