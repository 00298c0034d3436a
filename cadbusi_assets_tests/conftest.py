"""Session-wide test setup: isolate every test from the developer's demo environment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from cadbusi_assets_tests.support import TEST_KEY

# Tests must never read the demo home, the demo key or a production setting by accident.
for _name in list(os.environ):
    if _name.startswith("CADBUSI_") or _name == "DAGSTER_HOME":
        del os.environ[_name]
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

# One stable DAGSTER_HOME for the whole session: Dagster resolves some state through the global
# instance (DagsterInstance.get()), which must never point at a test's deleted temp directory.
_SESSION_DAGSTER_HOME = tempfile.mkdtemp(prefix="cadbusi-test-dagster-home-")
Path(_SESSION_DAGSTER_HOME, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
os.environ["DAGSTER_HOME"] = _SESSION_DAGSTER_HOME
os.environ.setdefault("NO_GCE_CHECK", "true")


@pytest.fixture
def test_key():
    return TEST_KEY


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
