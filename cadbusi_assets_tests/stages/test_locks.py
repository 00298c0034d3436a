"""Concurrent runs of one partition are serialized (issue 9: two runs of one date left tables
listing PNGs that were not on disk)."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from cadbusi_assets.stages.locks import PartitionBusy, lock_path, partition_lock


def _hold(lock_dir: str, seconds: float, started, log) -> None:
    with partition_lock("deidentified_images", "2026-09-01", lock_dir=lock_dir):
        started.set()
        log.put(("a-start", time.monotonic()))
        time.sleep(seconds)
        log.put(("a-end", time.monotonic()))


def test_a_second_writer_of_the_same_partition_waits_for_the_first(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    started, log = ctx.Event(), ctx.Queue()
    first = ctx.Process(target=_hold, args=(str(tmp_path), 1.0, started, log))
    first.start()
    assert started.wait(30)
    waited = []
    with partition_lock(
        "deidentified_images", "2026-09-01", lock_dir=tmp_path, on_wait=waited.append
    ):
        entered = time.monotonic()
    first.join(10)
    events = dict(log.get(timeout=5) for _ in range(2))
    assert entered >= events["a-end"]
    assert waited and "waiting for another run" in waited[0]


def test_other_partitions_and_stages_do_not_wait(tmp_path):
    with partition_lock("deidentified_images", "2026-09-01", lock_dir=tmp_path):
        with partition_lock("deidentified_images", "2026-09-02", lock_dir=tmp_path, timeout=0.5):
            pass
        with partition_lock("image_features", "2026-09-01", lock_dir=tmp_path, timeout=0.5):
            pass


def test_a_partition_held_too_long_fails_with_a_clear_reason(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    started, log = ctx.Event(), ctx.Queue()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), 3.0, started, log))
    holder.start()
    assert started.wait(30)
    with (
        pytest.raises(PartitionBusy, match="another run held this partition"),
        partition_lock("deidentified_images", "2026-09-01", lock_dir=tmp_path, timeout=0.5),
    ):
        pass
    holder.join(10)


def test_lock_file_names_reveal_no_date(tmp_path):
    path = lock_path("deidentified_images", "2026-09-01", tmp_path)
    assert "2026" not in path.name and "deidentified" not in path.name


def test_locks_live_beside_the_zones_they_guard(tmp_path, monkeypatch):
    """A local zone's locks are in ``.cadbusi-locks`` at its root (whatever ``$DAGSTER_HOME``);
    an object-store zone's in a local folder named after its URI; ``$CADBUSI_LOCK_DIR``
    replaces both."""
    from cadbusi_assets.stages.locks import ZONE_LOCKS_FOLDER, lock_dirs, zone_lock_dirs

    monkeypatch.delenv("CADBUSI_LOCK_DIR", raising=False)
    raw, research = tmp_path / "raw", f"file://{tmp_path / 'research'}"
    bucket = lock_dirs(["gs://bucket-a/research"])
    assert lock_dirs([str(raw), research]) == [
        raw / ZONE_LOCKS_FOLDER,
        tmp_path / "research" / ZONE_LOCKS_FOLDER,
    ]
    assert bucket == lock_dirs(["gs://bucket-a/research/"]) != lock_dirs(["gs://bucket-b/x"])
    assert "bucket" not in str(bucket[0])
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    assert lock_dirs([str(raw)]) == [raw / ZONE_LOCKS_FOLDER]
    # a deployment's locks are in its raw (PHI) zone only: a lock's name follows from a real
    # date, and the research zone reveals none; the research zone's only without a raw zone
    assert zone_lock_dirs(str(raw), research) == [raw / ZONE_LOCKS_FOLDER]
    assert zone_lock_dirs("", research) == [tmp_path / "research" / ZONE_LOCKS_FOLDER]
    monkeypatch.setenv("CADBUSI_LOCK_DIR", str(tmp_path / "shared"))
    assert lock_dirs([str(raw), research]) == [tmp_path / "shared"]


def test_a_partition_is_held_in_every_zone_it_guards(tmp_path):
    """A run holding the date in the raw and the research zone blocks a run that shares only
    one of them."""
    raw, research, other = tmp_path / "raw", tmp_path / "research", tmp_path / "other"
    with (
        partition_lock("deidentified_images", "2026-09-01", lock_dirs=[raw, research]),
        pytest.raises(PartitionBusy),
        partition_lock(
            "deidentified_images", "2026-09-01", lock_dirs=[other, research], timeout=0.3
        ),
    ):
        pass
    with partition_lock(
        "deidentified_images", "2026-09-01", lock_dirs=[other, research], timeout=0.3
    ):
        pass


def test_lock_timeout_from_the_environment(monkeypatch):
    from cadbusi_assets.stages.locks import DEFAULT_TIMEOUT_SECONDS, lock_timeout
    from cadbusi_assets.stages.report import StageFailure

    monkeypatch.delenv("CADBUSI_LOCK_TIMEOUT", raising=False)
    assert lock_timeout() == DEFAULT_TIMEOUT_SECONDS
    monkeypatch.setenv("CADBUSI_LOCK_TIMEOUT", "2.5")
    assert lock_timeout() == 2.5
    monkeypatch.setenv("CADBUSI_LOCK_TIMEOUT", "soon")
    with pytest.raises(StageFailure, match="CADBUSI_LOCK_TIMEOUT"):
        lock_timeout()


def test_a_lock_is_not_the_first_to_open_the_raw_zone_to_every_user(tmp_path, monkeypatch):
    """A deployment's locks live in its raw zone (``.cadbusi-locks``), and a run's first lock
    came before any file: it made the raw zone's root with the umask's mode (0755 on the demo),
    open to every account of the machine although the root the zone makes itself is 0700."""
    import stat

    from cadbusi_assets.stages.locks import zone_lock_dirs

    monkeypatch.delenv("CADBUSI_LOCK_DIR", raising=False)
    monkeypatch.setenv("CADBUSI_LOCK_URL", "none")
    raw = tmp_path / "deploy" / "raw"
    with partition_lock(
        "raw_dicom", "2026-09-01", lock_dirs=zone_lock_dirs(str(raw), str(tmp_path / "research"))
    ):
        assert stat.S_IMODE(raw.stat().st_mode) == 0o700
    shared = tmp_path / "shared-raw"
    shared.mkdir()
    shared.chmod(0o750)
    with partition_lock("raw_dicom", "2026-09-01", lock_dirs=zone_lock_dirs(str(shared), "")):
        assert stat.S_IMODE(shared.stat().st_mode) == 0o750  # an existing root is left alone
