"""Audit trail, opt-out list and the re-identification command (issue 10, item 7).

All ids are synthetic.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.identity.audit import (
    EXPORT_AUDIT_TABLE,
    REIDENTIFICATION_AUDIT_TABLE,
    current_user,
    read_audit,
    record_export_audit,
)
from cadbusi_assets.identity.optout import (
    OPT_OUT_ENV_VAR,
    OPT_OUT_REASON,
    OptOutError,
    load_opt_out,
    load_opt_out_from_env,
    split_opted_out,
)
from cadbusi_assets.identity.reidentify import LINKS_TABLE, pseudonym_links, reidentify_command
from cadbusi_assets.records.cohort import select_cohort
from cadbusi_assets.storage import open_zone, write_partition_table
from cadbusi_assets_tests.support import TEST_KEY


def test_every_export_is_appended_with_user_run_and_partitions(tmp_path):
    raw = open_zone(tmp_path / "raw", "raw")
    first = record_export_audit(
        raw, "2026-10-01", run_id="run-1", partitions=["2026-09-25", "2026-09-24", "2026-09-25"]
    )
    record_export_audit(
        raw,
        "2026-10-02",
        user="bob",
        run_id=None,
        partitions=["2026-09-26"],
        key_fingerprint="abc123",
        row_count=42,
        destination="gs://bucket/exports/2026-10-02",
    )
    audit = read_audit(raw)
    assert audit.height == 2
    assert audit["export_key"].to_list() == ["2026-10-01", "2026-10-02"]
    assert audit["user"].to_list() == [current_user(), "bob"]
    assert audit["run_id"].to_list() == ["run-1", None]
    assert audit["partitions"].to_list() == [["2026-09-24", "2026-09-25"], ["2026-09-26"]]
    assert audit["partition_count"].to_list() == [2, 1]
    assert first["recorded_at"].tzinfo is not None
    files = list((tmp_path / "raw" / "tables" / EXPORT_AUDIT_TABLE).glob("*.parquet"))
    assert len(files) == 2  # one create-only file per event: nothing is ever rewritten


def test_opt_out_file_formats(tmp_path, monkeypatch):
    text = tmp_path / "optout.txt"
    text.write_text("# withdrawn consents\n0012345\n  777 # by phone\n\n")
    assert load_opt_out(text) == {"12345", "777"}
    csv = tmp_path / "optout.csv"
    pl.DataFrame({"patient_id": ["00042", "9"]}).write_csv(csv)
    assert load_opt_out(csv) == {"42", "9"}
    parquet = tmp_path / "optout.parquet"
    pl.DataFrame({"patient_id": ["5"]}).write_parquet(parquet)
    assert load_opt_out(parquet) == {"5"}
    assert load_opt_out(None) == frozenset() and load_opt_out("") == frozenset()
    with pytest.raises(OptOutError, match="does not exist"):
        load_opt_out(tmp_path / "missing.txt")  # configured but absent: never silently ignored
    monkeypatch.setenv(OPT_OUT_ENV_VAR, str(text))
    assert load_opt_out_from_env() == {"12345", "777"}


def _radiology() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "patient_id": ["0012345", "888", "12345"],
            "accession_number": ["ACC1", "ACC2", "ACC3"],
            "exam_date": [dt.date(2026, 9, 25)] * 3,
            "modality": ["US"] * 3,
            "exam_description": ["US BREAST LT"] * 3,
            "study_instance_uid": ["2.25.1", "2.25.2", "2.25.3"],
            "report_status": ["FINAL"] * 3,
            "birads": ["4"] * 3,
        }
    )


def test_opted_out_patients_leave_the_cohort_with_the_reason():
    selection = select_cohort(_radiology(), today=dt.date(2026, 10, 1))
    kept, excluded = split_opted_out(selection.cohort, frozenset({"12345"}))
    assert kept["accession_number"].to_list() == ["ACC2"]
    assert sorted(excluded["accession_number"].to_list()) == ["ACC1", "ACC3"]
    assert set(excluded["exclusion_reason"].to_list()) == {OPT_OUT_REASON}
    exclusions = pl.concat([selection.exclusions, excluded], how="diagonal_relaxed")
    assert exclusions.filter(pl.col("exclusion_reason") == OPT_OUT_REASON).height == 2
    same, none = split_opted_out(selection.cohort, frozenset())
    assert same.equals(selection.cohort) and none.height == 0


def test_reidentify_command_prints_for_key_holders_and_audits(tmp_path):
    raw = open_zone(tmp_path / "raw", "raw")
    pseudo = Pseudonymizer(TEST_KEY)
    links = pseudonym_links(pseudo, "2026-09-25", patients=["MRN-0001"], accessions=["ACC-9"])
    write_partition_table(raw, LINKS_TABLE, "2026-09-25", links)
    key_file = tmp_path / "secrets" / "key"
    key_file.parent.mkdir()
    key_file.write_text(TEST_KEY.secret_bytes().hex())
    lines: list[str] = []
    code = reidentify_command(
        pseudo.patient_id("MRN-0001"),
        raw_zone_uri=str(tmp_path / "raw"),
        key_file=str(key_file),
        purpose="incidental finding follow-up",
        echo=lines.append,
    )
    assert code == 0 and lines == ["patient\tMRN-0001\t(study date partition 2026-09-25)"]
    lines.clear()
    code = reidentify_command(
        "PUNKNOWN", raw_zone_uri=str(tmp_path / "raw"), key_file=str(key_file), echo=lines.append
    )
    assert code == 1 and lines[0].startswith("refused: unknown pseudonym")
    code = reidentify_command(
        "P1", raw_zone_uri=str(tmp_path / "raw"), key_file=str(tmp_path / "nokey"), echo=print
    )
    assert code == 2
    audit = read_audit(raw, REIDENTIFICATION_AUDIT_TABLE)
    assert audit["links_found"].to_list() == [1, 0]
    assert audit["purpose"].to_list() == ["incidental finding follow-up", None]
    assert "MRN-0001" not in str(audit.to_dicts())  # the audit never holds originals
