"""Parallel map over items inside one partition (processes; serial for tiny inputs).

The worker count comes from the argument, else ``$CADBUSI_WORKERS``, else the CPU count.
Workers start with ``forkserver`` so a parent holding threads (Dagster's run process) is safe.

**Who owns the workers.** Worker processes never outlive the code that asked for them:

* inside ``with worker_scope():`` (a Dagster step, a CLI command) one pool per worker count is
  started on first use, reused by every ``parallel_map`` of the scope (a step that processes 31
  study dates starts its workers once), and torn down when the scope ends — normally, on an
  exception, or on an interrupt (a run terminated from the UI): workers still busy are killed;
* outside any scope, ``parallel_map`` starts a pool for the call and tears it down before it
  returns.

Every worker also watches its owner process and exits when the owner is gone (a run process
killed with SIGKILL leaves no orphans). Nothing relies on ``atexit``, which does not run in a
multiprocessing child such as a Dagster run or step process.

>>> parallel_map(abs, [-1, -2, 3], workers=1)
[1, 2, 3]
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS_ENV_VAR = "CADBUSI_WORKERS"

#: Imported once by the fork server, so every worker starts with them loaded (the image
#: plugins Pillow imports on its first ``Image.open`` and numpy.ma included: each worker
#: imported them on its first item); first, :mod:`cadbusi_assets.forkserver_signals` (a
#: Ctrl-C while the server imports the rest ends it without a traceback).
PRELOAD = [
    "cadbusi_assets.forkserver_signals",
    "numpy",
    "numpy.ma",
    "PIL.Image",
    "PIL.BmpImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.PpmImagePlugin",
    "pydicom",
    "polars",
    "cv2",
    "cadbusi_assets.dicom",
]

#: How often a worker checks that its owner process is still alive (seconds).
OWNER_POLL_SECONDS = 0.5
#: How long a busy worker gets to stop after SIGTERM before SIGKILL (seconds).
KILL_GRACE_SECONDS = 2.0


def _watch_owner(owner_pid: int) -> None:
    while True:
        time.sleep(OWNER_POLL_SECONDS)
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # pragma: no cover - pid reused by another user's process
            os._exit(1)


#: glibc's malloc settings in a worker (:func:`keep_freed_memory`): buffers up to
#: :data:`MMAP_THRESHOLD` come from the heap, and up to :data:`TRIM_THRESHOLD` of freed heap
#: stays with the process.
MMAP_THRESHOLD = 32 << 20  # glibc's largest on 64-bit systems
TRIM_THRESHOLD = 128 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
#: Whether :func:`keep_freed_memory` took effect in this process.
freed_memory_kept = False


def keep_freed_memory() -> bool:
    """Let this process reuse the memory it frees instead of handing it back (glibc).

    A worker allocates and frees the same few large buffers for every file (the file's bytes,
    each decoded frame, its pixel bytes, the written file: ~2 MB each for a 960x720 RGB
    frame). By default glibc maps each such buffer afresh and unmaps it when freed, or trims
    the heap back to the system, so each use page-faults its memory in again (zeroed by the
    kernel): ~1 ms per buffer, a third of a file's cost without OCR. Here buffers up to
    :data:`MMAP_THRESHOLD` come from the heap and freed heap up to :data:`TRIM_THRESHOLD` is
    kept for the next file. Values and bytes are unchanged; only where memory comes from.

    False where the C library has no ``mallopt`` (not glibc) or refuses the settings.
    """
    global freed_memory_kept
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    kept = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    kept = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and kept
    freed_memory_kept = freed_memory_kept or kept
    return kept


def _init_worker(owner_pid: int) -> None:
    """One native thread per worker (the processes are the parallelism); exit with the owner;
    freed memory kept for the next item (:func:`keep_freed_memory`)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    keep_freed_memory()
    # The owner decides when work stops: an interrupt of the owner's process group must not
    # print a KeyboardInterrupt traceback in every worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass
    threading.Thread(target=_watch_owner, args=(owner_pid,), daemon=True).start()


def resolve_workers(workers: int | None = None) -> int:
    if workers is None or workers <= 0:
        env = os.environ.get(WORKERS_ENV_VAR, "")
        workers = int(env) if env.strip().isdigit() else (os.cpu_count() or 1)
    return max(1, int(workers))


def prestart_workers(modules: Sequence[str] = (), workers: int | None = None) -> bool:
    """Start the fork server now, importing :data:`PRELOAD` and ``modules`` (the workers'
    code), so that its imports run on another core while this process imports its own, and
    every worker forked later starts with them loaded (no import per worker).

    Does nothing (False) when the work would run serially (one worker) or the fork server
    runs already. A command calls it before its heavy imports (``cadbusi deidentify``).
    """
    if resolve_workers(workers) <= 1:
        return False
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None) is not None:
        return False
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, *(m for m in modules if m not in PRELOAD)])
    forkserver.ensure_running()
    return True


def stop_worker_server() -> bool:
    """End this process's fork server at once, skipping its interpreter's exit; for a
    process that is about to end (a CLI command that is done).

    Left alone, the server ends when its owner does, and runs the exit of an interpreter
    that imported every module of the workers: with torch loaded (OCR, ``--analyze``) that
    costs ~1 s of CPU after the command's last file (0.35 s without torch), and whoever
    waits for the command's output waits for it. The server holds nothing to save (it only
    imports and forks), so it is sent SIGTERM and reaped; its workers are gone already
    (their :func:`worker_scope` ended) or follow their owner (:func:`_watch_owner`). A later
    pool starts a new server. False when no server runs.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if server is None or pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    # closes the server's "alive" pipe (the stop it would get at our exit: a server that
    # survived the signal ends on that) and reaps it; a command that is done never fails here
    with contextlib.suppress(OSError):
        server._stop()
    return True


def _start_pool(n_workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    # a no-op when prestart_workers started the server with more modules
    context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(
        n_workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
    )


def worker_pids(pool: ProcessPoolExecutor) -> list[int]:
    processes = getattr(pool, "_processes", None) or {}
    return [p.pid for p in list(processes.values()) if p.pid is not None]


def _skipped() -> None:
    """What a cancelled work item runs if the pool hands it out before its workers die."""


def _forget_cancelled(pool: ProcessPoolExecutor) -> None:
    """Disarm the pool's cancelled work items before its workers are killed. Python 3.11's
    management thread fails every pending item of a broken pool with ``set_exception``, which
    raises ``InvalidStateError`` on a cancelled one: an "Exception in thread" traceback on the
    user's screen after Ctrl-C or a terminated run (fixed in CPython 3.12, where it is
    ignored). Each cancelled item gets a fresh future nobody waits for and a no-op in place
    of its work. The item stays in the pool's table: its id may still wait in the pool's id
    queue, and the thread looks every queued id up there (dropping the item instead raised
    ``KeyError`` in that thread, a race seen in the suite)."""
    pending = getattr(pool, "_pending_work_items", None)
    if not pending:
        return
    with contextlib.suppress(RuntimeError):  # the dict changed under us: the thread is done
        for item in list(pending.values()):
            if item.future.cancelled():
                item.fn, item.args, item.kwargs = _skipped, (), {}
                item.future = Future()


def stop_pool(pool: ProcessPoolExecutor, *, kill: bool) -> None:
    """Shut ``pool`` down; with ``kill`` the workers are terminated instead of drained."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    if kill:
        _forget_cancelled(pool)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            with contextlib.suppress(Exception):
                if process.is_alive():
                    process.kill()
                    process.join(1.0)
    # After a kill the pool's management thread fails the pending futures itself (cancelling
    # them as well would make it raise InvalidStateError).
    pool.shutdown(wait=not kill, cancel_futures=not kill)


class WorkerScope:
    """Pools started inside one ``with worker_scope():`` block."""

    def __init__(self) -> None:
        self.pools: dict[int, ProcessPoolExecutor] = {}

    def pool(self, n_workers: int) -> ProcessPoolExecutor:
        pool = self.pools.get(n_workers)
        if pool is None or getattr(pool, "_broken", False):
            if pool is not None:
                stop_pool(pool, kill=True)
            pool = _start_pool(n_workers)
            self.pools[n_workers] = pool
        return pool

    def discard(self, n_workers: int) -> None:
        pool = self.pools.pop(n_workers, None)
        if pool is not None:
            stop_pool(pool, kill=True)

    def close(self, *, kill: bool) -> None:
        while self.pools:
            _, pool = self.pools.popitem()
            stop_pool(pool, kill=kill)

    def pids(self) -> list[int]:
        return [pid for pool in self.pools.values() for pid in worker_pids(pool)]


#: How often the waiting owner wakes up (seconds): a signal (Ctrl-C, Dagster's terminate)
#: that the kernel hands to another thread of the process is only acted on when the main
#: thread runs Python code; an untimed wait for a result would sleep through it forever.
WAIT_POLL_SECONDS = 0.25


def _run_chunk(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [fn(item) for item in chunk]


#: Guided chunks: each chunk holds the items still left divided by this many times the
#: workers (at least 1), so the first chunks are big (few hand-offs) and the last ones single
#: items (the last worker to finish waits for at most one item, not for a whole chunk).
GUIDED_SPLIT = 4


def chunk_bounds(n_items: int, n_workers: int, chunksize: int | None = None) -> list[int]:
    """Start offsets of the chunks of ``n_items`` (and ``n_items`` at the end): a fixed
    ``chunksize``, else guided (see :data:`GUIDED_SPLIT`).

    >>> chunk_bounds(20, 2)
    [0, 2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    >>> chunk_bounds(5, 2, chunksize=2)
    [0, 2, 4, 5]
    """
    bounds = [0]
    while bounds[-1] < n_items:
        left = n_items - bounds[-1]
        size = chunksize or max(1, left // (n_workers * GUIDED_SPLIT))
        bounds.append(min(n_items, bounds[-1] + size))
    return bounds


def _gather(
    pool: ProcessPoolExecutor, fn: Callable[[T], R], seq: Sequence[T], bounds: Sequence[int]
) -> list[R]:
    """``pool.map`` in order, waiting in short slices so that pending signals are handled."""
    futures = [
        pool.submit(_run_chunk, fn, seq[start:stop]) for start, stop in itertools.pairwise(bounds)
    ]
    out: list[R] = []
    try:
        for future in futures:
            while not future.done():
                wait([future], timeout=WAIT_POLL_SECONDS)
            out.extend(future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return out


_scopes: list[WorkerScope] = []
_lock = threading.Lock()


@contextlib.contextmanager
def worker_scope() -> Iterator[WorkerScope]:
    """Own the worker processes started inside the block; they are gone when it ends.

    On a normal exit idle workers are shut down; on any exception (including Dagster's
    interrupt when a run is terminated, or KeyboardInterrupt) busy workers are killed.
    """
    scope = WorkerScope()
    with _lock:
        _scopes.append(scope)
    clean = False
    try:
        yield scope
        clean = True
    finally:
        with _lock:
            if scope in _scopes:
                _scopes.remove(scope)
        scope.close(kill=not clean)


def _current_scope() -> WorkerScope | None:
    with _lock:
        return _scopes[-1] if _scopes else None


def call_in_worker(fn: Callable[[T], R], item: T) -> R:
    """``fn(item)`` in a worker of the current :func:`worker_scope` when it has one running
    (the process that owns the workers need not import what ``fn`` needs: the workers have
    it), else in this process."""
    scope = _current_scope()
    pools = (
        []
        if scope is None
        else [p for p in scope.pools.values() if not getattr(p, "_broken", False)]
    )
    if not pools:
        return fn(item)
    return _gather(pools[0], fn, [item], [0, 1])[0]


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int | None = None,
    min_items_per_worker: int = 4,
    chunksize: int | None = None,
) -> list[R]:
    """``[fn(x) for x in items]``, in order, spread over worker processes when worthwhile.

    ``fn`` and the items must be picklable (module-level functions, plain data). A worker that
    dies (out of memory, a crash in a native library) fails the call with BrokenProcessPool;
    the next call starts a fresh pool.
    """
    seq: Sequence[T] = items if isinstance(items, Sequence) else list(items)
    n_workers = min(resolve_workers(workers), max(1, len(seq) // max(1, min_items_per_worker)))
    if n_workers <= 1:
        return [fn(item) for item in seq]
    bounds = chunk_bounds(len(seq), n_workers, chunksize)
    scope = _current_scope()
    if scope is None:
        with worker_scope() as own:
            return _gather(own.pool(n_workers), fn, seq, bounds)
    try:
        return _gather(scope.pool(n_workers), fn, seq, bounds)
    except BrokenProcessPool:
        scope.discard(n_workers)
        raise
