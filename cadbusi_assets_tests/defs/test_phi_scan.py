"""The research-zone leak scan itself: it must find what leaked and nothing by chance."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cadbusi_assets_tests.defs.phi_scan import find_identifiers


def test_a_birth_date_inside_a_pseudonymous_uid_is_chance_not_a_leak(tmp_path: Path) -> None:
    # CI failed once on this: a 2.25 UID's 39 digits held a demo patient's birth date
    uid = "2.25.31415926535" + "19600728" + "8979323846"
    pl.DataFrame({"sop_instance_uid": [uid]}).write_parquet(tmp_path / "instances.parquet")
    (tmp_path / "a.dcm").write_bytes(b"DICM\x00" + uid.encode() + b"\x00")
    assert find_identifiers(tmp_path, ["19600728", "QUIMBY"]) == []


def test_an_identifier_beside_letters_or_punctuation_is_found(tmp_path: Path) -> None:
    pl.DataFrame({"note": ["DOB:19600728."]}).write_parquet(tmp_path / "t.parquet")
    (tmp_path / "a.dcm").write_bytes(b"\x00MRN19600728\x00")
    (tmp_path / "b.txt").write_text("seen by quimby")
    (tmp_path / "1960-07-28.txt").write_text("")
    assert find_identifiers(tmp_path, ["19600728", "1960-07-28", "QUIMBY"]) == [
        "1960-07-28.txt: 1960-07-28",
        "a.dcm: 19600728",
        "b.txt: quimby",
        "t.parquet: 19600728",
    ]
