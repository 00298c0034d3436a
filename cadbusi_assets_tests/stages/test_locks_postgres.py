"""Write locks across machines: a PostgreSQL advisory lock per (stage, partition).

The file locks (``flock``) serialize the runs of one machine; two workers on two machines
(the Kubernetes or Celery executor) writing one bucket each had a lock folder of their own
and wrote the same date at once. Here each "machine" is a process with its own lock folder,
and both reach one real PostgreSQL server started by the test.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from cadbusi_assets.stages.locks import (
    LOCK_URL_ENV_VAR,
    PartitionBusy,
    advisory_key,
    lock_database,
    partition_lock,
)
from cadbusi_assets.stages.report import StageFailure

STAGE, DAY = "deidentified_images", "2026-09-01"


@pytest.fixture
def lock_url(postgres, monkeypatch) -> str:
    monkeypatch.setenv(LOCK_URL_ENV_VAR, postgres.dsn)  # inherited by spawned processes
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER"):
        monkeypatch.delenv(name, raising=False)
    return postgres.dsn


def _hold(lock_dir: str, seconds: float, started, log) -> None:
    with partition_lock(STAGE, DAY, lock_dir=lock_dir):
        started.set()
        log.put(("a-start", time.monotonic()))
        time.sleep(seconds)
        log.put(("a-end", time.monotonic()))


def _machine(tmp_path, name: str) -> str:
    folder = tmp_path / name
    folder.mkdir()
    return str(folder)


def _holder(tmp_path, seconds: float):
    """Machine "a": a process that holds the date for ``seconds`` (started and holding)."""
    ctx = multiprocessing.get_context("spawn")
    started, log = ctx.Event(), ctx.Queue()
    process = ctx.Process(target=_hold, args=(_machine(tmp_path, "a"), seconds, started, log))
    process.start()
    assert started.wait(60)
    return process, log


def test_a_writer_on_another_machine_waits_for_the_first(lock_url, tmp_path):
    first, log = _holder(tmp_path, 1.5)
    waited: list[str] = []
    with partition_lock(STAGE, DAY, lock_dir=_machine(tmp_path, "b"), on_wait=waited.append):
        entered = time.monotonic()
    first.join(20)
    events = dict(log.get(timeout=5) for _ in range(2))
    assert entered >= events["a-end"]
    assert waited and "waiting for another run" in waited[0]


def test_other_dates_and_stages_do_not_wait(lock_url, tmp_path):
    with partition_lock(STAGE, DAY, lock_dir=_machine(tmp_path, "a")):
        b = _machine(tmp_path, "b")
        with partition_lock(STAGE, "2026-09-02", lock_dir=b, timeout=0.5):
            pass
        with partition_lock("image_features", DAY, lock_dir=b, timeout=0.5):
            pass


def test_a_killed_holder_releases_the_date(lock_url, tmp_path):
    holder, _ = _holder(tmp_path, 600)
    with (
        pytest.raises(PartitionBusy, match="another run held this partition"),
        partition_lock(STAGE, DAY, lock_dir=_machine(tmp_path, "b"), timeout=0.5),
    ):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    start = time.monotonic()
    with partition_lock(STAGE, DAY, lock_dir=_machine(tmp_path, "c"), timeout=20):
        took = time.monotonic() - start
    assert took < 10


def test_an_unreachable_lock_database_fails_the_date_without_its_password(monkeypatch, tmp_path):
    from cadbusi_assets_tests.support import free_port

    monkeypatch.setenv(
        LOCK_URL_ENV_VAR, f"postgresql://cadbusi:s3cretpw@127.0.0.1:{free_port()}/locks"
    )
    with pytest.raises(StageFailure) as raised, partition_lock(STAGE, DAY, lock_dir=tmp_path):
        pytest.fail("the lock was taken without its database")
    text = str(raised.value)
    assert "lock database" in text and "cannot be reached" in text
    assert "s3cretpw" not in text and DAY in text


def test_the_dagster_instance_database_is_the_default(postgres, monkeypatch):
    monkeypatch.delenv(LOCK_URL_ENV_VAR, raising=False)
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER"):
        monkeypatch.delenv(name, raising=False)
    assert lock_database() is None  # the embedded default: file locks only
    monkeypatch.setenv("DAGSTER_PG_HOST", postgres.host)
    monkeypatch.setenv("DAGSTER_PG_PORT", str(postgres.port))
    monkeypatch.setenv("DAGSTER_PG_USER", postgres.user)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", postgres.password)
    monkeypatch.setenv("DAGSTER_PG_DB", "postgres")
    import psycopg2

    url = lock_database()
    assert url is not None
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    monkeypatch.setenv(LOCK_URL_ENV_VAR, "none")
    assert lock_database() is None
    monkeypatch.setenv(LOCK_URL_ENV_VAR, "mysql://x@y/z")
    with pytest.raises(StageFailure, match="postgresql://"):
        lock_database()


def test_the_lock_keys_hold_no_date(lock_url, tmp_path):
    """What ``pg_locks`` shows is a hash: neither the date nor the stage."""
    import psycopg2

    with (
        partition_lock(STAGE, DAY, lock_dir=tmp_path),
        psycopg2.connect(lock_url) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = 'cadbusi-lock')"
        )
        rows = cursor.fetchall()
    key = advisory_key(STAGE, DAY)
    assert [((hi << 32) | lo) for hi, lo in rows] == [key & 0xFFFFFFFFFFFFFFFF]
    assert "2026" not in str(rows) and "20260901" not in str(key)


def test_cadbusi_doctor_checks_the_lock_database(postgres, monkeypatch):
    from cadbusi_assets.doctor import OK, PROBLEM, check_locks
    from cadbusi_assets_tests.support import free_port

    monkeypatch.setenv(LOCK_URL_ENV_VAR, postgres.dsn)
    good = check_locks()
    assert good.status == OK and "PostgreSQL advisory locks" in good.detail
    assert postgres.password not in good.line()
    monkeypatch.setenv(
        LOCK_URL_ENV_VAR, f"postgresql://cadbusi:s3cretpw@127.0.0.1:{free_port()}/locks"
    )
    bad = check_locks()
    assert bad.status == PROBLEM and "every run would fail" in bad.detail
    assert "s3cretpw" not in bad.line()
    monkeypatch.setenv(LOCK_URL_ENV_VAR, "none")
    assert check_locks().status == OK


def test_a_lock_session_is_dropped_soon_after_its_machine_dies(lock_url):
    """The server probes a lock's session after 60 s idle (not the OS default of 2 h): the
    locks of a machine that lost power go within about 90 s."""
    from cadbusi_assets.stages.locks import LOCK_KEEPALIVE, lock_connection

    connection = lock_connection(lock_url)
    try:
        with connection.cursor() as cursor:
            shown = []
            for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count"):
                cursor.execute(f"SHOW {name}")
                shown.append(int(cursor.fetchone()[0]))
    finally:
        connection.close()
    assert tuple(shown) == LOCK_KEEPALIVE == (60, 10, 3)


@pytest.mark.parametrize("when", ["while writing", "at the end"])
def test_a_lock_lost_while_writing_fails_the_date(when, lock_url, tmp_path, monkeypatch):
    """The lock database ends the lock's session (a restart, an administrator): PostgreSQL
    drops the lock and another run may enter. The run that held it went on as if nothing
    happened; now its date fails with the reason (and is re-run) instead of a silent success."""
    import psycopg2

    from cadbusi_assets.stages import locks

    monkeypatch.setattr(locks, "LOCK_CHECK_SECONDS", 0.1 if when == "while writing" else 60)
    with (
        pytest.raises(StageFailure, match="lock of this partition was lost while it was written"),
        partition_lock(STAGE, DAY, lock_dir=tmp_path),
    ):
        with psycopg2.connect(lock_url) as admin, admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'cadbusi-lock'"
            )
            assert cursor.fetchall() == [(True,)]
        time.sleep(0.5)
        # another machine can take the date now
        with partition_lock(STAGE, DAY, lock_dir=_machine(tmp_path, "b"), timeout=2):
            pass
