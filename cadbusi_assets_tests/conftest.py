"""Session-wide test setup: isolate every test from the developer's demo environment."""

from __future__ import annotations

import atexit
import contextvars
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# (the package's __init__, imported before this module and before numpy, puts numpy on its
# AVX2 code paths: _numpy_on_avx2_paths)
from cadbusi_assets_tests.support import TEST_KEY

if TYPE_CHECKING:
    from cadbusi_assets.identity import Pseudonymizer

# Tests must never read the demo home, the demo key or a production setting by accident.
# (DAGSTER_PG_*: the write locks would take the production instance's database for theirs)
for _name in list(os.environ):
    if _name.startswith(("CADBUSI_", "DAGSTER_PG_")) or _name == "DAGSTER_HOME":
        del os.environ[_name]
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
# The caliper networks run in float32, as on a CPU without native bfloat16 (CI machines
# without AMX): the recorded fixtures (caliper_equivalence.json's scores) and the bitwise
# tests hold float32 outputs, and a test's figures do not depend on the machine. The
# bfloat16 path is tested on its own (test_torch_precision.py: the same points and styles).
os.environ["CADBUSI_TORCH_PRECISION"] = "fp32"

# One stable DAGSTER_HOME for the whole session: Dagster resolves some state through the global
# instance (DagsterInstance.get()), which must never point at a test's deleted temp directory.
_SESSION_DAGSTER_HOME = tempfile.mkdtemp(prefix="cadbusi-test-dagster-home-")
Path(_SESSION_DAGSTER_HOME, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
os.environ["DAGSTER_HOME"] = _SESSION_DAGSTER_HOME
# removed when this test process ends (each xdist worker has its own): a thousand were left
atexit.register(shutil.rmtree, _SESSION_DAGSTER_HOME, ignore_errors=True)
os.environ.setdefault("NO_GCE_CHECK", "true")


@pytest.fixture(scope="session")
def pseudonymizer() -> Pseudonymizer:
    """The pseudonymizer of the tests' fixed key (:data:`TEST_KEY`), shared by every test."""
    from cadbusi_assets.identity import Pseudonymizer

    return Pseudonymizer(TEST_KEY)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server started for this test session (``.dsn`` with its password)."""
    from cadbusi_assets_tests.records.postgres_server import start_postgres

    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def test_key():
    return TEST_KEY


def _install_no_late_state_storage_restore() -> None:
    """Dagster's ``set_defs_state_storage`` (entered by every ``DagsterInstance.__enter__``)
    restores the value it replaced when it is left, and also when the garbage collector
    finalizes a context that nobody left (a schedule context built from an instance reference,
    a result holding its run context), at some later moment. In a test session that moment can
    be in the middle of another test, and the restored value a temporary instance deleted long
    ago (see ``test_dagster_state_storage.py``). This version restores on a real exit, normal
    or by an exception, as before, and does nothing when it is only finalized."""
    from contextlib import contextmanager

    import dagster._core.storage.defs_state.base as state_base

    current = state_base._current_storage

    @contextmanager
    def set_defs_state_storage(storage: state_base.DefsStateStorage | None) -> Iterator[None]:
        token = current.set(storage)
        try:
            yield
        except GeneratorExit:  # finalized, never left: restore nothing
            raise
        except BaseException:
            _restore(token)
            raise
        _restore(token)

    def _restore(token: contextvars.Token) -> None:
        try:
            current.reset(token)
        except ValueError:  # left in another context than the one that entered it
            current.set(None)

    state_base.set_defs_state_storage = set_defs_state_storage


_install_no_late_state_storage_restore()


def clear_dagster_state_storage() -> None:
    """Dagster keeps the "defs state storage" of the last instance it touched in a context
    variable (schedule ticks and definitions loading set it and never reset it). A later run
    would then read a deleted temporary instance. Tests clear it before using an instance."""
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)


@pytest.fixture(autouse=True)
def _no_stale_dagster_state_storage():
    clear_dagster_state_storage()
    yield
    clear_dagster_state_storage()
