"""Study-date partitions that match the data (issue 14, item 6): the demo's dates exactly in the
demo deployment; in production the first date from configuration and the last one yesterday."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.defs.partitions import study_date_partitions_for, study_date_range
from cadbusi_assets.settings import SettingsError

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def _demo_home(tmp_path: Path, start: str = "2026-09-01", days: int = 30) -> Path:
    home = tmp_path / "home"
    (home / "sources").mkdir(parents=True)
    (home / "sources" / "cohort.json").write_text(
        json.dumps({"config": {"start": start, "days": days, "seed": 1}, "summary": {}})
    )
    return home


def _keys(env: dict[str, str]) -> list[str]:
    return study_date_partitions_for(env).get_partition_keys(current_time=NOW)


def test_demo_partitions_are_exactly_the_demo_dates(tmp_path):
    keys = _keys({"CADBUSI_HOME": str(_demo_home(tmp_path))})
    assert len(keys) == 30
    assert (keys[0], keys[-1]) == ("2026-09-01", "2026-09-30")


def test_demo_with_another_start_follows_the_cohort(tmp_path):
    keys = _keys({"CADBUSI_HOME": str(_demo_home(tmp_path, "2025-01-30", 3))})
    assert keys == ["2025-01-30", "2025-01-31", "2025-02-01"]
    # an explicit first date still wins
    env = {"CADBUSI_HOME": str(_demo_home(tmp_path / "b", "2025-01-30", 3))}
    env["CADBUSI_FIRST_STUDY_DATE"] = "2025-01-31"
    assert _keys(env) == ["2025-01-31", "2025-02-01"]


def test_demo_without_a_cohort_runs_to_yesterday(tmp_path):
    (tmp_path / "empty").mkdir()
    keys = _keys({"CADBUSI_HOME": str(tmp_path / "empty")})
    assert (keys[0], keys[-1]) == ("2026-09-01", "2026-12-01")
    broken = _demo_home(tmp_path / "broken")
    (broken / "sources" / "cohort.json").write_text("{not json")
    assert _keys({"CADBUSI_HOME": str(broken)})[-1] == "2026-12-01"


def test_demo_home_is_only_read_when_named(tmp_path, monkeypatch):
    """Without CADBUSI_HOME (the test suite, a bare import) no ./.demo cohort is read."""
    home = _demo_home(tmp_path)
    monkeypatch.chdir(home.parent)
    (home.parent / ".demo").symlink_to(home)
    assert study_date_range({}) == ("2026-09-01", None)


def test_production_runs_from_configuration_to_yesterday():
    env = {"CADBUSI_DEPLOYMENT": "production", "CADBUSI_FIRST_STUDY_DATE": "2016-12-02"}
    keys = _keys(env)
    assert (keys[0], keys[-1]) == ("2016-12-02", "2026-12-01")
    assert len(keys) == 3652  # ten years of study dates
    later = study_date_partitions_for(env).get_partition_keys(
        current_time=NOW + dt.timedelta(days=1)
    )
    assert later[-1] == "2026-12-02"  # a new partition every day, never today's


def test_explicit_last_study_date(tmp_path):
    env = {"CADBUSI_DEPLOYMENT": "production", "CADBUSI_FIRST_STUDY_DATE": "2026-01-01"}
    assert _keys({**env, "CADBUSI_LAST_STUDY_DATE": "2026-01-03"})[-1] == "2026-01-03"
    demo = {"CADBUSI_HOME": str(_demo_home(tmp_path)), "CADBUSI_LAST_STUDY_DATE": "2026-09-02"}
    assert _keys(demo) == ["2026-09-01", "2026-09-02"]
    with pytest.raises(SettingsError, match="CADBUSI_LAST_STUDY_DATE"):
        study_date_range({**env, "CADBUSI_LAST_STUDY_DATE": "yesterday"})
    with pytest.raises(SettingsError, match="before the first"):
        study_date_range({**env, "CADBUSI_LAST_STUDY_DATE": "2025-12-31"})


def test_every_demo_partition_materialized_is_complete(tmp_path):
    """What the UI shows: all partitions of the demo definition materialized = 100 %."""
    partitions = study_date_partitions_for({"CADBUSI_HOME": str(_demo_home(tmp_path, days=3))})

    @dg.asset(partitions_def=partitions)
    def per_day() -> None:
        return None

    with dg.instance_for_test() as instance:
        for key in partitions.get_partition_keys():
            assert dg.materialize([per_day], instance=instance, partition_key=key).success
        done = instance.get_materialized_partitions(per_day.key)
        assert done == set(partitions.get_partition_keys())
        assert len(done) == partitions.get_num_partitions() == 3


def test_definitions_module_reads_the_demo_home(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")}
    env["CADBUSI_HOME"] = str(_demo_home(tmp_path, days=7))
    code = (
        "from cadbusi_assets.defs.partitions import study_date_partitions as p;"
        "k = p.get_partition_keys(); print(len(k), k[0], k[-1])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["7", "2026-09-01", "2026-09-07"]
