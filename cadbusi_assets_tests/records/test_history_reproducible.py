"""History columns of radiology_reports do not depend on the run's window (issue 14, item 4):
a study date gives identical rows alone, inside a 31-date backfill, or nightly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cadbusi_assets.records import open_warehouse, parse_radiology_reports
from cadbusi_assets.records.history_context import radiology_reports_for_window
from cadbusi_assets.records.schemas import RADIOLOGY_SCHEMA
from cadbusi_assets.records.windows import HistoryWindows
from cadbusi_assets.stages.records import RADIOLOGY_TABLE, load_radiology_reports
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.records import synthetic
from cadbusi_assets_tests.records.conftest import synthetic_tables, write_duckdb_warehouse

D = dt.date
DAY = D(2024, 3, 10)

US_4B = "FINDINGS: Irregular mass.\nIMPRESSION: BI-RADS 4B: Suspicious"
MG_5 = "FINDINGS: Spiculated mass.\nIMPRESSION: BI-RADS 5: Highly suggestive"
MG_3 = "FINDINGS: Asymmetry.\nIMPRESSION: BI-RADS 3: Probably benign"
BX = "PROCEDURE: US guided core biopsy left 2:00.\nIMPRESSION: BI-RADS 4B"


def _exam(accession: str, day: dt.date, description: str, text: str, **extra) -> dict:
    modality = "MG" if description.startswith("MG") else "US"
    return dict(
        accession_number=accession,
        patient_id=extra.pop("patient_id", "MRN0100"),
        exam_date=day,
        exam_datetime=dt.datetime.combine(day, dt.time(9)),
        modality=modality,
        exam_description=description,
        laterality=extra.pop("laterality", "LEFT"),
        report_text=text,
        report_status="FINAL",
        study_instance_uid=f"1.2.826.0.1.3680043.8.498.{accession[3:]}",
        site="MAIN",
        radiologist="RAD1",
        **extra,
    )


def history_rows() -> pl.DataFrame:
    """One invented patient: a mammogram beyond the 3-year lookback, one inside it, a prior
    biopsy 2 years back, the exam of DAY, a biopsy 20 days later; and a second patient with
    nothing but the exam of DAY."""
    rows = [
        _exam("ACC9001", DAY - dt.timedelta(days=1200), "MG DIAG LEFT", MG_5),  # too old
        _exam("ACC9002", DAY - dt.timedelta(days=700), "MG DIAG LEFT", MG_3),
        _exam("ACC9003", DAY - dt.timedelta(days=730), "US GUIDED CORE BIOPSY LEFT BREAST", BX),
        _exam("ACC9004", DAY, "US BREAST LEFT", US_4B),
        _exam("ACC9005", DAY + dt.timedelta(days=20), "US GUIDED CORE BIOPSY LEFT BREAST", BX),
        _exam("ACC9006", DAY, "US BREAST LEFT", US_4B, patient_id="MRN0101"),
    ]
    return pl.DataFrame(
        [{c: r.get(c) for c in RADIOLOGY_SCHEMA} for r in rows],
        schema=RADIOLOGY_SCHEMA,
        orient="row",
    )


@pytest.fixture(scope="module")
def warehouse_path(tmp_path_factory) -> Path:
    tables = synthetic_tables()
    tables["radiology_exams"] = pl.concat([synthetic.radiology_rows(), history_rows()])
    return write_duckdb_warehouse(tmp_path_factory.mktemp("history") / "wh.duckdb", tables)


def _load(warehouse_path: Path, root: Path, days: list[dt.date]) -> object:
    zone = open_zone(root, "raw")
    with open_warehouse(str(warehouse_path)) as warehouse:
        load_radiology_reports(warehouse, zone, [d.isoformat() for d in days])
    return zone


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def test_history_reads_the_lookback_and_forward_span(warehouse_path):
    with open_warehouse(str(warehouse_path)) as warehouse:
        parsed = radiology_reports_for_window(warehouse, DAY, DAY)
    row = parsed.filter(pl.col("accession_number") == "ACC9004").row(0, named=True)
    assert row["days_to_biopsy"] == 20  # the biopsy after the window
    assert row["biopsy_guidance"] == "US"  # inherited from it (within +120 days)
    assert row["left_prior_breast_biopsies"] == 1  # the biopsy 2 years back
    # the BI-RADS 5 mammogram is 1200 days old (beyond 3 years); the BI-RADS 3 one counts
    assert (row["previous_worst_mg"], row["previous_worst_mg_accession"]) == ("3", "ACC9002")
    other = parsed.filter(pl.col("accession_number") == "ACC9006").row(0, named=True)
    assert other["days_to_biopsy"] is None and other["previous_worst_mg"] is None
    assert other["left_prior_breast_biopsies"] == 0


def test_same_date_alone_in_a_backfill_and_nightly_gives_identical_rows(warehouse_path, tmp_path):
    alone = _load(warehouse_path, tmp_path / "alone", [DAY])
    # a 31-date backfill that holds DAY and the later biopsy
    backfill = _load(
        warehouse_path,
        tmp_path / "backfill",
        _days(DAY - dt.timedelta(days=5), DAY + dt.timedelta(days=25)),
    )
    # nightly: one run per date, in order
    nightly_root = tmp_path / "nightly"
    for day in _days(DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1)):
        nightly = _load(warehouse_path, nightly_root, [day])
    key = DAY.isoformat()
    a = read_partition_table(alone, RADIOLOGY_TABLE, key)
    b = read_partition_table(backfill, RADIOLOGY_TABLE, key)
    n = read_partition_table(nightly, RADIOLOGY_TABLE, key)
    assert a is not None and b is not None and n is not None
    assert a.height == 2
    assert_frame_equal(a, b)
    assert_frame_equal(a, n)
    assert a.filter(pl.col("accession_number") == "ACC9004")["days_to_biopsy"].to_list() == [20]


def test_synthetic_dates_alone_equal_the_four_day_window(tmp_path, duckdb_warehouse_path):
    """The shared synthetic warehouse: a US exam on 03-01 whose biopsy is on 03-04."""
    days = _days(D(2024, 3, 1), D(2024, 3, 4))
    together = _load(duckdb_warehouse_path, tmp_path / "together", days)
    for day in days:
        alone = _load(duckdb_warehouse_path, tmp_path / f"alone-{day}", [day])
        a = read_partition_table(alone, RADIOLOGY_TABLE, day.isoformat())
        b = read_partition_table(together, RADIOLOGY_TABLE, day.isoformat())
        assert a is not None and b is not None
        assert_frame_equal(a, b)
    first = read_partition_table(together, RADIOLOGY_TABLE, "2024-03-01")
    assert first is not None
    assert first.filter(pl.col("accession_number") == "ACC0001")["days_to_biopsy"].to_list() == [3]


def test_windowed_history_equals_parsing_the_whole_warehouse(warehouse_path):
    """Reading only the span gives what parsing every exam of the warehouse at once gives."""
    with open_warehouse(str(warehouse_path)) as warehouse:
        everything = warehouse.radiology_exams(D(2000, 1, 1), D(2100, 1, 1))
        windowed = radiology_reports_for_window(warehouse, DAY, DAY)
        unbounded = radiology_reports_for_window(
            warehouse, DAY, DAY, windows=HistoryWindows(lookback_days=9000, forward_days=9000)
        )
    full = parse_radiology_reports(everything).filter(pl.col("exam_date") == DAY)
    assert_frame_equal(
        windowed.sort("accession_number"), full.select(windowed.columns).sort("accession_number")
    )
    # the 3-year lookback is what leaves out the BI-RADS 5 mammogram of 1200 days ago
    worst = unbounded.filter(pl.col("accession_number") == "ACC9004")["previous_worst_mg"]
    assert worst.to_list() == ["5"]


def test_history_windows_are_validated():
    with pytest.raises(ValueError):
        HistoryWindows(lookback_days=-1)
    with pytest.raises(ValueError):
        HistoryWindows(forward_days=60, guidance_after_days=120)
    assert HistoryWindows().context(DAY, DAY) == (
        DAY - dt.timedelta(days=1095),
        DAY + dt.timedelta(days=365),
    )


POSTGRES = pytest.param(
    "postgres", marks=[pytest.mark.integration, pytest.mark.xdist_group("records-postgres")]
)


@pytest.mark.parametrize("kind", ["duckdb", "bigquery-on-duckdb", POSTGRES])
def test_radiology_history_query_on_every_adapter(
    kind, request, duckdb_warehouse_path, monkeypatch
):
    if kind == "duckdb":
        warehouse = open_warehouse(f"duckdb://{duckdb_warehouse_path}")
    elif kind == "postgres":
        uri, password = request.getfixturevalue("postgres_records")
        monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", password)
        warehouse = open_warehouse(uri)
    else:
        client = request.getfixturevalue("bigquery_on_duckdb")
        warehouse = open_warehouse("bigquery://demo-project/clinical", client=client)
    with warehouse:
        rows = warehouse.radiology_history(["MRN0001", "NOT-THERE"], D(2024, 3, 1), D(2024, 3, 3))
        assert rows.schema == RADIOLOGY_SCHEMA
        assert rows["accession_number"].to_list() == ["ACC0001"]  # 03-04 is outside
        both = warehouse.radiology_history(["MRN0001"], D(2024, 3, 1), D(2024, 3, 4))
        assert both["accession_number"].to_list() == ["ACC0001", "ACC0006"]
        assert warehouse.radiology_history([], D(2024, 3, 1), D(2024, 3, 4)).height == 0
        with pytest.raises(TypeError):
            warehouse.radiology_history("MRN0001", D(2024, 3, 1), D(2024, 3, 4))


@pytest.mark.integration
def test_every_demo_date_alone_equals_the_31_date_window(tmp_path):
    """The demo warehouse (prior mammograms and biopsies before the demo's first date)."""
    from cadbusi_demo import DemoConfig
    from cadbusi_demo.plan import plan_cohort
    from cadbusi_demo.warehouse import write_warehouse

    config = DemoConfig(days=31)
    write_warehouse(tmp_path / "demo.duckdb", plan_cohort(config))
    with open_warehouse(str(tmp_path / "demo.duckdb")) as warehouse:
        together = radiology_reports_for_window(warehouse, config.start, config.end)
        assert together["previous_worst_mg"].is_not_null().any()
        assert together["days_to_biopsy"].is_not_null().any()
        for day in config.dates():
            alone = radiology_reports_for_window(warehouse, day, day)
            assert_frame_equal(
                alone.sort("accession_number"),
                together.filter(pl.col("exam_date") == day).sort("accession_number"),
            )
