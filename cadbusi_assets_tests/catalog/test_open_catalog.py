"""Opening the catalog of an object-store research zone copies it to a temporary file: the
copy's name must not stay in the temporary folder (one 2.6 MB file was left per call, by every
export, sensor tick and ``cadbusi`` command reading a remote catalog)."""

from __future__ import annotations

import tempfile
import uuid

import duckdb

from cadbusi_assets.catalog.build import CATALOG_PATH, open_catalog
from cadbusi_assets.storage import open_zone


def test_a_remote_catalog_is_read_and_leaves_no_copy(tmp_path, monkeypatch):
    made = tmp_path / "catalog.duckdb"
    con = duckdb.connect(str(made))
    con.execute("CREATE TABLE images AS SELECT range AS n FROM range(1000)")
    con.close()
    zone = open_zone(f"memory://catalog-{uuid.uuid4().hex}/research", name="research")
    assert not zone.local
    zone.write_bytes(CATALOG_PATH, made.read_bytes())
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    for _ in range(3):
        con = open_catalog(zone)
        try:
            assert con.execute("SELECT count(*), sum(n) FROM images").fetchone() == (1000, 499500)
        finally:
            con.close()
    assert list(temp.iterdir()) == []
    # a connection nobody closes leaves nothing either
    assert open_catalog(zone).execute("SELECT count(*) FROM images").fetchone() == (1000,)
    assert list(temp.iterdir()) == []
