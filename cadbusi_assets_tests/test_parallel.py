"""Worker processes belong to the code that started them (issue 9: a Dagster step process hung
at exit on idle pool workers, and terminated runs leaked busy workers)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from cadbusi_assets.parallel import parallel_map, worker_scope
from cadbusi_assets_tests.support import process_running, time_limit


def _children() -> set[int]:
    """Child processes other than multiprocessing's fork server and resource tracker (one of
    each per process, idle, and gone with their owner)."""
    helpers = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")
    out = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if not any(h in " ".join(child.cmdline()) for h in helpers):
                out.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_gone(pids, timeout=10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if process_running(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def _slow_square(x: int) -> int:
    time.sleep(0.05)
    return x * x


def _sleep_forever(x: int) -> int:
    time.sleep(3600)
    return x


def test_parallel_map_outside_a_scope_leaves_no_worker_behind():
    before = _children()
    assert parallel_map(_slow_square, list(range(16)), workers=2) == [x * x for x in range(16)]
    assert not _wait_gone(_children() - before)


def test_a_scope_reuses_one_pool_and_stops_it_at_the_end():
    with worker_scope() as scope:
        parallel_map(_slow_square, list(range(16)), workers=2)
        first = set(scope.pids())
        parallel_map(_slow_square, list(range(16)), workers=2)
        assert set(scope.pids()) == first and len(first) == 2
    assert not _wait_gone(first)


def test_an_exception_in_the_scope_kills_busy_workers_at_once():
    started = time.monotonic()
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt), worker_scope() as scope:
        import threading

        def interrupt_soon():
            while not scope.pids():
                time.sleep(0.05)
            pids.extend(scope.pids())
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_soon, daemon=True).start()
        parallel_map(_sleep_forever, list(range(8)), workers=2)
    assert pids
    assert not _wait_gone(pids, timeout=5)
    assert time.monotonic() - started < 30


def test_workers_exit_when_their_owner_is_killed(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from cadbusi_assets_tests.test_parallel import _sleep_forever
        from cadbusi_assets.parallel import parallel_map, worker_scope
        with worker_scope() as scope:
            import threading
            def report():
                while len(scope.pids()) < 2:
                    time.sleep(0.05)
                print(" ".join(map(str, scope.pids())), flush=True)
            threading.Thread(target=report, daemon=True).start()
            parallel_map(_sleep_forever, list(range(8)), workers=2)
        """
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        line = owner.stdout.readline()
        workers = [int(p) for p in line.split()]
        assert len(workers) == 2, line
        owner.kill()  # SIGKILL: no cleanup code runs in the owner
        owner.wait(10)
        assert not _wait_gone(workers, timeout=10), "workers outlived their owner"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(owner.pid, signal.SIGKILL)


def test_an_interrupt_with_work_pending_leaves_no_thread_traceback(monkeypatch):
    """Ctrl-C while chunks wait in the queue: their futures are cancelled, then the workers
    killed; Python 3.11's pool thread then raised InvalidStateError on each cancelled one,
    printed as an "Exception in thread" traceback after the user's interrupt."""
    import threading

    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    managers: list[threading.Thread] = []
    with pytest.raises(KeyboardInterrupt), worker_scope() as scope:

        def interrupt_soon():
            while not scope.pids():
                time.sleep(0.05)
            time.sleep(0.3)
            # the pool's own thread, which fails the pending work once the workers are killed
            managers.extend(p._executor_manager_thread for p in scope.pools.values())
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_soon, daemon=True).start()
        with time_limit(60, "waiting for the interrupt"):
            parallel_map(_sleep_forever, list(range(40)), workers=2, chunksize=1)
    assert managers
    for thread in managers:
        thread.join(10)
        assert not thread.is_alive()
    assert raised == []


def test_an_interrupt_handed_to_another_thread_still_stops_the_owner():
    """The kernel hands a process-directed SIGINT (Ctrl-C, Dagster's terminate) to any thread;
    when it was not the main thread, the owner slept on in an untimed wait for its workers'
    results and never saw the interrupt (a hang seen in the suite, and a terminated run that
    would never end)."""
    import threading

    started = time.monotonic()
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt), worker_scope() as scope:

        def interrupt_from_here():
            while not scope.pids():
                time.sleep(0.05)
            pids.extend(scope.pids())
            time.sleep(0.5)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # delivered to this thread

        threading.Thread(target=interrupt_from_here, daemon=True).start()
        with time_limit(60, "waiting for the interrupt"):
            parallel_map(_sleep_forever, list(range(8)), workers=2)
    assert pids
    assert not _wait_gone(pids, timeout=5)
    assert time.monotonic() - started < 30


def _page_faults_of_reused_buffers(_: int) -> tuple[bool, int]:
    """Minor page faults of allocating, filling and freeing an 8 MiB buffer five times (after
    a first time): the memory is faulted in again each time unless freed memory is kept."""
    import resource

    from cadbusi_assets import parallel

    size = 8 << 20
    buffer = b"x" * size
    del buffer
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        buffer = b"x" * size
        del buffer
    return parallel.freed_memory_kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_workers_keep_freed_memory_for_the_next_item():
    """A worker reuses the large buffers it frees (the file's bytes, frames, pixel bytes)
    instead of page-faulting them in for every file (glibc: CI and the images)."""
    pages = (8 << 20) // 4096
    results = parallel_map(
        _page_faults_of_reused_buffers, [0, 1], workers=2, min_items_per_worker=1
    )
    for kept, faults in results:
        assert kept
        assert faults < pages // 4  # 5 x 2048 pages faulted in without it


def test_the_fork_server_can_be_ended_without_its_interpreters_exit(tmp_path):
    """``stop_worker_server`` (what a CLI command does once it is done) ends the fork server
    and reaps it without the exit of the interpreter that imported the workers' modules (~1 s
    of CPU with torch loaded); pools started afterwards get a new server. The control: the
    same server stopped the ordinary way runs its exit."""
    probe = tmp_path / "exits.txt"
    script = textwrap.dedent(
        """
        import json, os
        from multiprocessing import forkserver
        from cadbusi_assets.parallel import (
            parallel_map, prestart_workers, stop_worker_server, worker_scope)

        def run():
            prestart_workers(["cadbusi_assets_tests.exit_probe"], 2)
            pid = forkserver._forkserver._forkserver_pid
            with worker_scope():
                squares = parallel_map(abs, list(range(-8, 0)), workers=2)
            return pid, squares

        first, squares = run()
        stopped = stop_worker_server()
        try:
            os.waitpid(first, os.WNOHANG)
            reaped = False
        except ChildProcessError:
            reaped = True
        second, again = run()
        forkserver._forkserver._stop()  # the ordinary stop: the server runs its exit
        print(json.dumps({"first": first, "second": second, "stopped": stopped,
                          "reaped": reaped, "squares": squares, "again": again,
                          "nothing_left": stop_worker_server()}))
        """
    )
    env = dict(os.environ, CADBUSI_EXIT_PROBE=str(probe))
    with time_limit(120, "two fork servers"):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=110
        )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["stopped"] and found["reaped"] and not found["nothing_left"]
    assert found["squares"] == found["again"] == list(range(8, 0, -1))
    assert found["first"] != found["second"]
    exits = [int(line) for line in probe.read_text().split()]
    assert exits == [found["second"]]  # the stopped server ran no exit; the control did


def test_cancelled_work_is_disarmed_not_dropped_before_a_kill(monkeypatch):
    """The pool's management thread looks up every work id still queued in the pool's table.
    Dropping the cancelled items from it (the first fix of the InvalidStateError traceback)
    raised ``KeyError`` in that thread when it reached their ids (seen in the suite after a
    Ctrl-C): the items stay, with a fresh future and no work, so the thread neither fails
    them nor runs them, and the user's futures stay cancelled."""
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from cadbusi_assets.parallel import _forget_cancelled, _skipped, stop_pool

    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    pool = ProcessPoolExecutor(max_workers=1)
    futures = [pool.submit(_sleep_forever, i) for i in range(12)]
    with time_limit(60, "waiting for the worker"):
        while not futures[0].running():
            time.sleep(0.05)
    for future in futures[1:]:
        future.cancel()
    cancelled = [f for f in futures if f.cancelled()]
    assert cancelled  # the ones still queued behind the running one
    queued = list(pool._work_ids.queue)  # ids the management thread has yet to look up
    assert queued
    _forget_cancelled(pool)
    pending = pool._pending_work_items
    assert all(work_id in pending for work_id in queued)
    assert not any(item.future.cancelled() for item in pending.values())
    assert all(item.fn is _skipped for item in pending.values() if item.future not in futures)
    assert all(f.cancelled() for f in cancelled)
    manager = pool._executor_manager_thread
    stop_pool(pool, kill=True)
    assert manager is not None
    manager.join(10)
    assert not manager.is_alive()
    assert raised == []
