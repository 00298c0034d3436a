"""A study the warehouse moves to another date, the two dates run as separate runs, the new date
first: the way the late-arrival schedule runs them (both dates' counts changed, one run each,
in any order).

The new date skipped the study as held by the old date (whose stored cohort still listed it);
then the old date's run released it (its study left the cohort: files deleted, recorded in
``retrieval_removed``). The study's images were then on neither date, every run green, and
nothing asked for the new date again (its warehouse count no longer changes): the study was
lost to the dataset until a person guessed to re-run the new date. Now the old date records
who waits (``retrieval_handovers``) and ``handed_over_studies_sensor`` re-runs that date
through the daemon until it holds the study. Every wait is bounded.
"""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.stages.retrieval import HANDOVERS_TABLE, INSTANCES_TABLE, waiting_dates
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
from cadbusi_assets.storage import read_partition_table
from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS, dagster_services, wait_for
from cadbusi_assets_tests.run_support import (
    FIRST,
    SECOND,
    finish,
    materialize_date,
    move_exam,
    two_dates_run,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("moved_study_handover")]


def _stored(raw, day: str) -> set[str]:
    table = read_partition_table(raw, INSTANCES_TABLE, day)
    if table is None or not table.height:
        return set()
    rows = table.filter((pl.col("partition") == day) & (pl.col("status") != "failed"))
    return set(rows["instance_key"].to_list())


def test_a_study_moved_to_a_date_run_first_reaches_it_through_the_daemon(tmp_path):
    env, _research, raw, _pseudonymizer = two_dates_run(tmp_path)
    moved = _stored(raw, FIRST)
    assert moved, "the first date stored nothing"
    (accession,) = read_partition_table(raw, "imaging_studies", FIRST)["accession_number"]
    move_exam(tmp_path / "cohort", accession)
    # the new date first (it skips the study: the old date holds it), then the old date (its
    # only study left: the shrink guard asks for the setting)
    # (the old date twice: a re-run before the sensor saw the handover keeps it)
    for day, extra in ((SECOND, {}), (FIRST, {ALLOW_SHRINK_ENV: "1"}), (FIRST, {})):
        proc = materialize_date({**env, **extra}, STUDY_DATE_ASSETS, day)
        out = finish(proc, 300, f"the re-run of {day}")
        assert proc.returncode == 0, out[-3000:]
    assert not _stored(raw, FIRST) & moved, "the old date kept the moved study"
    assert not _stored(raw, SECOND) & moved, "the new date took the study in its first run"
    handovers = read_partition_table(raw, HANDOVERS_TABLE, FIRST)
    assert handovers is not None
    assert set(handovers["to_partition"].to_list()) == {SECOND}
    assert set(handovers["instance_key"].to_list()) == moved
    assert waiting_dates(raw, FIRST) == {SECOND: sorted(moved)}

    with dagster_services(env, webserver=False) as services:
        instance = services.instance()

        def handover_run():
            runs = [
                r
                for r in instance.get_runs()
                if "cadbusi/handover" in r.tags and r.tags.get("dagster/partition") == SECOND
            ]
            return runs if runs and all(r.is_finished for r in runs) else None

        runs = wait_for(
            handover_run, timeout=400, what="the handover re-run of the new date", services=services
        )
        assert len(runs) == 1, [r.run_id for r in runs]
        assert runs[0].is_success, services.log_tail("daemon")
        assert moved <= _stored(raw, SECOND), "the new date still lacks the moved study"
        assert waiting_dates(raw, FIRST) == {}
        instance.dispose()
