"""Session-wide test setup: isolate every test from the developer's demo environment."""

from __future__ import annotations

import os

import pytest

from cadbusi_assets_tests.support import TEST_KEY

# Tests must never read the demo home, the demo key or a production setting by accident.
for _name in list(os.environ):
    if _name.startswith("CADBUSI_") or _name == "DAGSTER_HOME":
        del os.environ[_name]
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
os.environ.setdefault("NO_GCE_CHECK", "true")


@pytest.fixture
def test_key():
    return TEST_KEY
