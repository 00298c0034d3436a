"""Storage fixtures: zones on local disk (here); GCS and S3 emulators for integration tests."""

from __future__ import annotations

import pytest

from cadbusi_assets.storage import Zone, open_zone


@pytest.fixture
def local_zone(tmp_path) -> Zone:
    return open_zone(tmp_path / "zone", name="research")
