"""Adversary, session 37: what a demanding user or a messy hospital does to the runs.

Each test reproduces a finding on the code as it was (said in its docstring). Everything is
synthetic; every subprocess has a timeout.
"""

from __future__ import annotations

from pathlib import Path

from cadbusi_assets.exports import ExportConfig, build_export, verify_export
from cadbusi_assets.storage import Zone
from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone
from cadbusi_assets_tests.support import time_limit

LINEAGE = {
    "deidentification_profile": "research-breast-us",
    "pseudonym_key_fingerprint": "0123456789abcdef",
    "label_set_version": "ls-1",
    "code_version": "0.1.0",
}


def _cut(zone: Zone, key: str):
    return build_export(zone, ExportConfig(key=key), LINEAGE, workers=1)


def test_an_export_cut_again_from_the_same_state_is_verified_whatever_other_exports_exist(
    tmp_path: Path,
):
    """Re-cutting a key "verifies it is byte-identical" (README, Cutting an
    export). An export's ``README.md`` and ``lineage.json`` name the previous export (the
    newest complete one whose key sorts before it) and what changed since. Before the fix,
    cutting a key that sorts earlier (``2026-11-20``, an export for November cut after the
    December one) changed what ``2026-12-01`` would contain: materializing ``2026-12-01`` again
    from the very same catalog, files and labels failed with ``ExportExistsError`` ("already
    exists with different content ... cut a new key"), a false alarm that also blocks the
    verification a user asks for. The same happens when an older export folder is deleted to
    free space. The data did not change, so the re-build must verify as identical."""
    with time_limit(120):
        zone = write_zone(tmp_path / "research", synthetic_catalog())
        first = _cut(zone, "2026-12-01")
        assert not first.already_existed
        _cut(zone, "2026-11-20")  # a later cut of a key that sorts before the first
        again = _cut(zone, "2026-12-01")
        assert again.already_existed
        assert again.digest == first.digest
        assert verify_export(zone, "2026-12-01") == []
