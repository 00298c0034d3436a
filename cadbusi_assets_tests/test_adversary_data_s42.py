"""Adversary, session 42 (round 3): a messy hospital's data, run in another order or after a
catch-up (rounds 1 and 2: ``test_adversary_data_s41.py``, ``test_adversary_data_s41b.py``).

1. an accession number the RIS hands out again, to another patient on a later date: the date
   that ran first kept it (a stored-cohort check), so a backfill in date order and one run
   newest-first released different studies. Now the warehouse decides (the earliest exam of the
   accession keeps it, whatever the run order); the stored-cohort check stays as the guard for
   a row the warehouse gained after the other date ran (the stored date keeps it, nothing stored
   is rewritten).
2. the nightly schedule and the late-arrival schedule after the daemon was off for days:
   Dagster evaluates each one's latest tick only, both in one iteration (in threads in the Helm
   chart). With the nightly run after the late-arrival hour (``CADBUSI_NIGHTLY_AT=06:00``) or an
   hourly late-arrival schedule, both asked for the nightly's never-processed date: two runs of
   one date queued at once. The default times never overlapped. Now the late-arrival window
   ends before the nightly's date.
3. ``cadbusi/retry_of``, the tag of ``failed_study_dates_sensor``'s re-run of a failed date,
   copied by a person's re-execution of that re-run from the UI (as ``cadbusi/failed_dates``
   was before round 9): read by nothing; dropped (the run key names the ranged run).

Everything is synthetic (the demo's invented patients); every subprocess has a timeout.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cadbusi_assets_tests.builders import DEMO_DAY
from cadbusi_assets_tests.hospital_data import (
    another_home,
    demo_date,
    exams,
    reuse_accession,
    zone_files,
)
from cadbusi_assets_tests.run_support import finish, materialize_date

pytestmark = [pytest.mark.xdist_group("adversary_data_s42")]

DEID_ASSETS = [
    "radiology_reports",
    "pathology_reports",
    "imaging_studies",
    "raw_dicom",
    "deidentified_images",
]
RECORDS = ["radiology_reports", "pathology_reports", "imaging_studies"]
SECOND_DAY = (dt.date.fromisoformat(DEMO_DAY) + dt.timedelta(days=1)).isoformat()


def _run(env: dict[str, str], selection: list[str], day: str) -> None:
    proc = materialize_date(env, selection, day)
    out = finish(proc, 400, f"the run of {day}")
    assert proc.returncode == 0, out[-3000:]


def _tables(env: dict[str, str], day: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The date's stored cohort and exclusions (raw zone)."""
    from cadbusi_assets.stages import records
    from cadbusi_assets.storage import open_zone, read_partition_table

    raw = open_zone(Path(env["CADBUSI_RAW_ZONE"]), name="raw")
    cohort = read_partition_table(raw, records.COHORT_TABLE, day)
    exclusions = read_partition_table(raw, records.COHORT_EXCLUSIONS_TABLE, day)
    assert cohort is not None and exclusions is not None
    return cohort, exclusions


def _exam(accession: str, patient: str, day: str, uid: str) -> dict:
    from cadbusi_assets_tests.builders import exam_row

    return exam_row(accession, day, uid, patient_id=patient)


def test_who_keeps_a_reused_accession_follows_the_rows_never_their_order():
    """The decision itself: the earliest exam date's patient keeps the accession (two patients
    on that one date: the date's own rule, one accession with two UIDs, leaves both out);
    reversing the rows changes nothing; a row the date's own stored cohort already holds is
    kept; a stored other date still wins over a row the warehouse gained."""
    from cadbusi_assets.records import parse_radiology_reports
    from cadbusi_assets.records.cohort import (
        EARLIER_HOLDER_REASON,
        REUSED_ACCESSION_REASON,
        accession_owners,
        select_cohort,
    )

    rows = pl.DataFrame(
        [
            _exam("A1", "SYN-P2", "2024-03-06", "1.2.3.1"),
            _exam("A1 ", "syn-p1", "2024-03-05", "1.2.3.2"),  # padded, another case: one id
            _exam("A2", "SYN-P3", "2024-03-06", "1.2.3.3"),
            _exam("A2", "SYN-P2", "2024-03-06", "1.2.3.4"),  # one date: its own rules decide
            _exam("A3", "SYN-P1", "2024-03-01", "1.2.3.5"),
            _exam("A3", "SYN-P2", "2024-03-06", "1.2.3.6"),
        ]
    )
    rows = rows.with_columns(  # an earlier BI-RADS 0 exam holds nothing (not in any cohort)
        pl.when(pl.col("study_instance_uid") == "1.2.3.5")
        .then(pl.lit("IMPRESSION: BI-RADS 0 - Incomplete"))
        .otherwise(pl.col("report_text"))
        .alias("report_text")
    )
    parsed = parse_radiology_reports(rows, lexicon=False, history=False)
    today = dt.date(2024, 3, 7)
    owners = accession_owners(parsed, today=today)
    assert owners == {"A1": ("SYN-P1",), "A2": ("SYN-P2", "SYN-P3")}
    assert accession_owners(parsed.reverse(), today=today) == owners

    later = parsed.filter(pl.col("exam_date") == dt.date(2024, 3, 6))
    selection = select_cohort(later, today=today, accession_owners=owners)
    excluded = dict(
        zip(
            selection.exclusions["study_instance_uid"],
            selection.exclusions["exclusion_reason"],
            strict=True,
        )
    )
    assert excluded["1.2.3.1"] == EARLIER_HOLDER_REASON  # A1: SYN-P1's earlier exam keeps it
    assert excluded["1.2.3.3"] == excluded["1.2.3.4"] == "duplicate accession"
    assert selection.cohort["study_instance_uid"].to_list() == ["1.2.3.6"]  # A3: BI-RADS 0 before

    # the date already released A1 for SYN-P2 (before the warehouse gained the earlier row):
    # a re-run keeps it, and the earlier date, whose stored neighbour holds it, leaves it out
    kept = select_cohort(
        later, today=today, accession_owners=owners, accessions_stored_here={"A1": {"SYN-P2"}}
    )
    assert "1.2.3.1" in kept.cohort["study_instance_uid"].to_list()
    earlier = parsed.filter(pl.col("exam_date") == dt.date(2024, 3, 5))
    guarded = select_cohort(
        earlier, today=today, accession_owners=owners, accessions_elsewhere={"A1": {"SYN-P2"}}
    )
    assert guarded.cohort.height == 0
    assert guarded.exclusions["exclusion_reason"].to_list() == [REUSED_ACCESSION_REASON]


def test_a_reused_accession_gives_the_same_research_zone_in_either_run_order(tmp_path: Path):
    """Case 1: two dates of one reused accession (the earlier date's patient, then another
    patient's exam a day later), run the way users re-run dates (``dagster asset materialize``
    per date, each in its own process) in date order in one home and newest-first in another,
    with the same sources and key. Before, the date that ran first kept the accession: the
    research zones held different studies. Now both homes' research zones are byte-identical
    and the later exam is excluded with its reason in both."""
    in_order, pseudonymizer = demo_date(tmp_path, days=2)
    newest_first = another_home(tmp_path, in_order, "newest_first")
    cohort_dir = tmp_path / "cohort"
    first_acc, first_patient, first_uid = exams(cohort_dir)[0]
    later = [e for e in exams(cohort_dir, SECOND_DAY) if e[1] != first_patient]
    reused_from, later_patient, later_uid = later[0]
    reuse_accession(cohort_dir, first_acc, reused_from)

    for day in (DEMO_DAY, SECOND_DAY):
        _run(in_order, DEID_ASSETS, day)
    for day in (SECOND_DAY, DEMO_DAY):
        _run(newest_first, DEID_ASSETS, day)

    research = [zone_files(Path(env["CADBUSI_RESEARCH_ZONE"])) for env in (in_order, newest_first)]
    assert research[0], "nothing reached the research zone"
    assert sorted(research[0]) == sorted(research[1])
    differ = [name for name in research[0] if research[0][name] != research[1][name]]
    assert not differ, f"the run order changed the research zone: {differ}"
    released = b"".join(research[0].values())
    assert pseudonymizer.uid(first_uid).encode() in released
    assert pseudonymizer.uid(later_uid).encode() not in released

    for day in (DEMO_DAY, SECOND_DAY):
        (cohort_a, excluded_a), (cohort_b, excluded_b) = (
            _tables(env, day) for env in (in_order, newest_first)
        )
        assert_frame_equal(cohort_a, cohort_b)
        assert_frame_equal(excluded_a, excluded_b)
    from cadbusi_assets.records.cohort import EARLIER_HOLDER_REASON

    cohort, _ = _tables(in_order, DEMO_DAY)
    kept = cohort.filter(pl.col("accession_number") == first_acc)
    assert kept["patient_id"].to_list() == [first_patient]
    _, excluded = _tables(in_order, SECOND_DAY)
    row = excluded.filter(pl.col("accession_number") == first_acc).row(0, named=True)
    assert row["exclusion_reason"] == EARLIER_HOLDER_REASON
    assert (row["patient_id"], row["study_instance_uid"]) == (later_patient, later_uid)


def test_a_row_the_warehouse_gained_later_leaves_the_stored_date_as_it_was(tmp_path: Path):
    """Case 1, the guard: the later date ran and released its accession; then the warehouse
    gained an earlier exam of another patient under that number (a back-dated entry). The
    earlier date's run leaves its row out with the stored-cohort reason, and a re-run of the
    later date keeps its stored cohort byte for byte (nothing released is taken back)."""
    from cadbusi_assets.records.cohort import REUSED_ACCESSION_REASON

    env, _ = demo_date(tmp_path, days=2)
    cohort_dir = tmp_path / "cohort"
    first_acc, first_patient, first_uid = exams(cohort_dir)[0]
    later = [e for e in exams(cohort_dir, SECOND_DAY) if e[1] != first_patient]
    later_acc, later_patient, _ = later[0]
    raw_zone = Path(env["CADBUSI_RAW_ZONE"])

    _run(env, RECORDS, SECOND_DAY)
    stored = zone_files(raw_zone)
    reuse_accession(cohort_dir, later_acc, first_acc)  # the earlier exam now carries it
    _run(env, RECORDS, DEMO_DAY)
    cohort, excluded = _tables(env, DEMO_DAY)
    assert later_acc not in cohort["accession_number"].to_list()
    row = excluded.filter(pl.col("accession_number") == later_acc).row(0, named=True)
    assert row["exclusion_reason"] == REUSED_ACCESSION_REASON
    assert (row["patient_id"], row["study_instance_uid"]) == (first_patient, first_uid)

    _run(env, RECORDS, SECOND_DAY)
    again = zone_files(raw_zone)
    second_files = [name for name in stored if SECOND_DAY in name]
    assert second_files
    assert {n: again[n] for n in second_files} == {n: stored[n] for n in second_files}
    cohort, _ = _tables(env, SECOND_DAY)
    kept = cohort.filter(pl.col("accession_number") == later_acc)
    assert kept["patient_id"].to_list() == [later_patient]


@pytest.fixture(scope="module")
def ten_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Ten demo dates from DEMO_DAY, one study a date, nothing processed."""
    base = tmp_path_factory.mktemp("catch_up")
    env, _ = demo_date(base, days=10, studies=(1, 1))
    return base, env


LATE, NIGHTLY = "late_arrivals_schedule", "nightly_study_date_schedule"


@pytest.mark.parametrize(
    ("settings", "back_at", "nightly_date", "order"),
    [
        ({}, "2026-09-09T06:00", "2026-09-08", (LATE, NIGHTLY)),  # defaults: 02:00 and 05:00
        ({"CADBUSI_NIGHTLY_AT": "06:00"}, "2026-09-09T05:30", "2026-09-07", (LATE, NIGHTLY)),
        ({"CADBUSI_NIGHTLY_AT": "06:00"}, "2026-09-09T05:30", "2026-09-07", (NIGHTLY, LATE)),
        (
            {"CADBUSI_LATE_ARRIVALS_SCHEDULE": "0 * * * *"},
            "2026-09-09T01:30",
            "2026-09-07",
            (LATE, NIGHTLY),
        ),
    ],
    ids=["default-times", "nightly-after-late", "nightly-after-late-nightly-first", "hourly-late"],
)
def test_a_catch_up_after_days_off_asks_for_each_date_once(
    ten_days: tuple[Path, dict[str, str]],
    settings: dict[str, str],
    back_at: str,
    nightly_date: str,
    order: tuple[str, str],
    request: pytest.FixtureRequest,
):
    """Case 2: both schedules switched on, the daemon off from 2026-09-03 to ``back_at``, then
    its first iteration (Dagster's scheduler, the code location in its own server). Each date
    is asked for once, the nightly's own date by the nightly schedule; the dates the nightly
    catch-up skipped are the late-arrival schedule's. Before, with the nightly after the
    late-arrival hour or an hourly late-arrival schedule, the nightly's date was queued twice
    when the late-arrival schedule was evaluated first (the daemon's order within an iteration
    is not fixed; the Helm chart evaluates schedules in threads, so the late-arrival schedule's
    check for a date a queued run processes can come too early)."""
    from cadbusi_assets_tests.schedule_ticks import catch_up

    base, env = ten_days
    home = another_home(base, env, request.node.callspec.id)
    home.update(settings)
    runs = catch_up(home, "2026-09-03T00:00", back_at, order)
    dates = sorted(r["partition"] for r in runs)
    assert len(dates) == len(set(dates)), f"a date asked for twice: {dates}"
    nightly = [r["partition"] for r in runs if r["schedule"] == NIGHTLY]
    late = sorted(r["partition"] for r in runs if r["schedule"] == LATE)
    assert nightly == [nightly_date], runs
    # the rest of the window: every never-processed date from the demo's first on
    first = dt.date.fromisoformat(DEMO_DAY)
    end = dt.date.fromisoformat(nightly_date)
    assert late == [(first + dt.timedelta(days=n)).isoformat() for n in range((end - first).days)]
    assert {r["status"] for r in runs} == {"QUEUED"}


def test_the_failed_dates_sensor_s_re_run_carries_no_tag_a_re_execution_copies_as_its_own():
    """Case 3: ``failed_study_dates_sensor`` tagged its re-run of a failed date
    ``cadbusi/retry_of: <ranged run>``; a person's re-execution of that re-run from the UI
    copies its parent's tags, so it claimed to be the sensor's retry of the ranged run too. Read
    by nothing: dropped. The ranged run is named by the request's run key (Dagster's own
    ``dagster/run_key``), and the re-run says why it runs (``cadbusi/reason``)."""
    import json

    import dagster as dg

    from cadbusi_assets.defs.automation.sensors import failed_date_requests
    from cadbusi_assets.defs.reporting import FAILED_DATES_TAG

    ranged = dg.DagsterRun(
        job_name="study_date_job",
        run_id="0" * 8 + "-0000-0000-0000-" + "0" * 11 + "1",
        tags={FAILED_DATES_TAG: json.dumps({SECOND_DAY: "raw_dicom"})},
    )
    (request,) = failed_date_requests(ranged)
    assert request.partition_key == SECOND_DAY
    assert request.run_key == f"{ranged.run_id}:{SECOND_DAY}"
    assert request.tags == {"cadbusi/reason": "raw_dicom failed in a ranged run"}
    assert request.asset_selection and request.asset_selection[0] == dg.AssetKey("raw_dicom")
