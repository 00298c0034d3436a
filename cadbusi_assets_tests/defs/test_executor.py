"""Steps run in the run's process by default (one start-up per run); k8s or Celery on request."""

import dagster as dg
import pytest

from cadbusi_assets.defs import pool_wait
from cadbusi_assets.defs.executor import executor


def test_the_default_executor_runs_steps_in_the_run_process(monkeypatch):
    monkeypatch.delenv("CADBUSI_EXECUTOR", raising=False)
    default = executor().executor
    assert default is pool_wait.in_process_executor  # dagster's, with a pool wait that stops
    assert default.name == dg.in_process_executor.name == "in_process"


def test_k8s_executor_on_request(monkeypatch):
    monkeypatch.setenv("CADBUSI_EXECUTOR", "k8s")
    assert executor().executor.name == "k8s"


def test_celery_executor_on_request_with_its_broker(monkeypatch):
    monkeypatch.setenv("CADBUSI_EXECUTOR", "celery")
    monkeypatch.setenv("CADBUSI_CELERY_BROKER", "redis://127.0.0.1:6379/3")
    monkeypatch.delenv("CADBUSI_CELERY_BACKEND", raising=False)
    chosen = executor().executor
    assert chosen.name == "celery"
    config = chosen.apply_config_mapping({}).value["config"]
    assert (config["broker"], config["backend"]) == ("redis://127.0.0.1:6379/3",) * 2
    monkeypatch.setenv("CADBUSI_CELERY_BACKEND", "redis://127.0.0.1:6379/4")
    config = executor().executor.apply_config_mapping({}).value["config"]
    assert config["backend"] == "redis://127.0.0.1:6379/4"


def test_celery_without_a_broker_and_unknown_executors_are_refused(monkeypatch):
    from cadbusi_assets.defs.executor import ExecutorSettingError

    monkeypatch.setenv("CADBUSI_EXECUTOR", "celery")
    monkeypatch.delenv("CADBUSI_CELERY_BROKER", raising=False)
    with pytest.raises(ExecutorSettingError, match="CADBUSI_CELERY_BROKER"):
        executor()
    monkeypatch.setenv("CADBUSI_EXECUTOR", "dask")
    with pytest.raises(ExecutorSettingError, match="not one of in_process, k8s, celery"):
        executor()


def test_partitions_per_run_from_configuration():
    from cadbusi_assets.defs.partitions import partitions_per_run
    from cadbusi_assets.settings import SettingsError

    assert partitions_per_run({}) == 31
    assert partitions_per_run({"CADBUSI_PARTITIONS_PER_RUN": "3"}) == 3
    for bad in ("0", "400", "two"):
        with pytest.raises(SettingsError, match="CADBUSI_PARTITIONS_PER_RUN"):
            partitions_per_run({"CADBUSI_PARTITIONS_PER_RUN": bad})
