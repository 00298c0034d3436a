"""Parallel map over items inside one partition (processes; serial for tiny inputs).

The worker count comes from the argument, else ``$CADBUSI_WORKERS``, else the CPU count.
Workers start with ``forkserver`` so a parent holding threads (Dagster's run process) is safe,
and the pool is kept for the life of the process: a run that processes 31 study dates starts
its workers (and imports the pipeline modules in them) once, not once per date.

>>> parallel_map(abs, [-1, -2, 3], workers=1)
[1, 2, 3]
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS_ENV_VAR = "CADBUSI_WORKERS"

#: Imported once by the fork server, so every worker starts with them loaded.
PRELOAD = ["numpy", "PIL.Image", "pydicom", "polars", "cv2", "cadbusi_assets.dicom"]

_pools: dict[int, ProcessPoolExecutor] = {}
_lock = threading.Lock()


def _init_worker() -> None:
    """One thread per worker process for the native libraries (the processes are the parallelism)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass


def resolve_workers(workers: int | None = None) -> int:
    if workers is None or workers <= 0:
        env = os.environ.get(WORKERS_ENV_VAR, "")
        workers = int(env) if env.strip().isdigit() else (os.cpu_count() or 1)
    return max(1, int(workers))


def _pool(n_workers: int) -> ProcessPoolExecutor:
    with _lock:
        pool = _pools.get(n_workers)
        if pool is None or getattr(pool, "_broken", False):
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            pool = ProcessPoolExecutor(n_workers, mp_context=context, initializer=_init_worker)
            _pools[n_workers] = pool
        return pool


def shutdown_pools() -> None:
    with _lock:
        for pool in _pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        _pools.clear()


atexit.register(shutdown_pools)


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
    size = chunksize or max(1, len(seq) // (n_workers * 4))
    pool = _pool(n_workers)
    try:
        return list(pool.map(fn, seq, chunksize=size))
    except BrokenProcessPool:
        with _lock:
            _pools.pop(n_workers, None)
        raise
