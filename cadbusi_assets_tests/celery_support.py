"""A redis-server broker and dagster-celery workers on 127.0.0.1, started for a test or a
benchmark (``python -m cadbusi_assets_tests.celery_bench``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class CeleryStartError(RuntimeError):
    pass


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(work: Path, exe: str | None = None) -> tuple[subprocess.Popen, str]:
    """A throw-away redis-server (no persistence) on 127.0.0.1; returns (process, URL)."""
    exe = exe or shutil.which("redis-server")
    if exe is None:
        raise CeleryStartError("redis-server is not installed (apt-get install -y redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            if client.ping():
                return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise CeleryStartError("redis-server did not start")
        time.sleep(0.05)


def start_worker(name: str, broker: str, work: Path, env: dict[str, str]) -> subprocess.Popen:
    """One ``celery -A dagster_celery.app worker`` with one pool process, on queue ``dagster``
    (what ``dagster-celery worker start`` runs), its log in ``work/<name>.log``."""
    config_dir = work / "celery_config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "dagster_celery_config.py").write_text(
        f"broker_url = {broker!r}\nresult_backend = {broker!r}\nworker_hijack_root_logger = False\n"
    )
    worker_env = dict(env)
    worker_env["PYTHONPATH"] = os.pathsep.join([str(config_dir), str(ROOT)])
    log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the worker
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dagster_celery.app",
            "worker",
            "--prefetch-multiplier=1",
            "--concurrency=1",
            "--pool=prefork",
            "-Q",
            "dagster",
            "-n",
            f"{name}@%h",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def celery_app(broker: str):
    from celery import Celery

    return Celery("probe", broker=broker, backend=broker)


def wait_for_workers(
    broker: str, names: set[str], procs: list[subprocess.Popen], timeout: float = 90
) -> None:
    app = celery_app(broker)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in procs):
            raise CeleryStartError("a celery worker exited at start; see its log")
        replies = app.control.ping(timeout=1.0) or []
        answered = {next(iter(r)).split("@")[0] for r in replies}
        if names <= answered:
            return
    raise CeleryStartError("the celery workers did not answer a ping")


def tasks_per_worker(broker: str) -> dict[str, int]:
    stats = celery_app(broker).control.inspect(timeout=2.0).stats() or {}
    return {
        worker.split("@")[0]: sum(info.get("total", {}).values()) for worker, info in stats.items()
    }


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
