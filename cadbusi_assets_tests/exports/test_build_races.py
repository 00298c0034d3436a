"""A study date processed again while an export is cut: the export is refused, never a mix."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import cadbusi_assets.exports.build as export_build
from cadbusi_assets.exports import ExportConfig, build_export
from cadbusi_assets.exports.build import ExportRefusedError
from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone

LINEAGE = {"label_set_version": None, "code_version": "0.1.0"}


def test_tables_rewritten_while_an_export_is_cut_refuse_it(tmp_path: Path, monkeypatch):
    """The adversary of session 37 found labels ingested mid-build going into an export whose
    lineage named the set before; the same held for the per-date tables and the lesions the
    build reads after the catalog (a date re-run meanwhile)."""
    zone = write_zone(tmp_path / "research", synthetic_catalog())
    real = export_build._with_calipers
    (batch,) = sorted(zone.iter_files("tables", "images", suffix=".parquet"), key=str)[:1]

    def date_rerun_meanwhile(*args, **kwargs):
        images = pl.read_parquet(batch.read_bytes())
        zone.write_parquet(("tables", "images", batch.name), images.head(images.height - 1))
        return real(*args, **kwargs)

    monkeypatch.setattr(export_build, "_with_calipers", date_rerun_meanwhile)
    with pytest.raises(ExportRefusedError, match="changed while it was cut"):
        build_export(zone, ExportConfig(key="2026-12-01"), LINEAGE, workers=1)
    assert not zone.exists("exports", "2026-12-01")


def test_an_untouched_zone_builds_and_re_verifies(tmp_path: Path):
    zone = write_zone(tmp_path / "research", synthetic_catalog())
    first = build_export(zone, ExportConfig(key="2026-12-01"), LINEAGE, workers=1)
    again = build_export(zone, ExportConfig(key="2026-12-01"), LINEAGE, workers=1)
    assert again.already_existed and again.digest == first.digest
