"""Adversary, session 41: what Labelbox tells an annotator (or anyone with the project) about
the real study dates of the images sent there.

Three demo dates go through the graph the way the nightly schedule runs them (``dagster asset
materialize`` of one date at a time, in its own process), with the label source pointing at the
local fake Labelbox through the real ``labelbox`` SDK. The fake's clock is set to D+1 02:00
UTC while date D is processed (the schedule processes D on D+1), so Labelbox stamps what it
creates the way it would in production. ``CADBUSI_LABELBOX_RELEASE_DATES=2``: data rows wait in
the send queue until the queue holds images of at least two dates.

The adversary reads, knowing the real dates from the warehouse and which image is of which
date from the research zone's per-date tables: every data row through the SDK's project
export (``createdAt``, dataset name, global key, external id, row data, attachments and
metadata, the order the rows were created in), the datasets (``client.get_datasets``: names,
``createdAt``), the project's batches (names, creation times, which rows), and the Dagster
metadata of the ``labelbox_data_rows`` partitions (the UI beside the real date)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer, load_key
from cadbusi_assets.stages.labeling import DATA_ROWS_TABLE
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS, product_env, write_instance_yaml
from cadbusi_assets_tests.labeling.fake_labelbox_ontology import (
    FakeLabelboxWithOntology,
    running_fake_with_ontology,
)
from cadbusi_assets_tests.run_support import finish, materialize_date
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("adversary_dates_s41")]

START = dt.date(2026, 9, 1)
DAYS = [START + dt.timedelta(days=n) for n in range(3)]
PROJECT = "cproj-s41"
#: the release policy under test: a release holds images of at least this many dates
RELEASE_DATES = 2
STEP_TIMEOUT_S = 300


@dataclass
class Run:
    fake: FakeLabelboxWithOntology
    env: dict[str, str]
    #: image id -> its real study date
    date_of: dict[str, dt.date]
    #: date -> its keyed batch name (research-zone tables)
    batches: dict[dt.date, str]
    #: project export rows (SDK), in the order Labelbox created them
    exported: list[dict[str, Any]]
    #: datasets as the SDK lists them: name -> createdAt
    datasets: dict[str, dt.datetime]
    #: the real dates of the warehouse
    real: set[dt.date]

    def research(self):
        return open_zone(self.env["CADBUSI_RESEARCH_ZONE"], "research")


def _spellings(day: dt.date) -> set[str]:
    return {
        day.isoformat(),
        day.strftime("%Y%m%d"),
        day.strftime("%Y/%m/%d"),
        day.strftime("%m/%d/%Y"),
        day.strftime("%d.%m.%Y"),
        day.strftime("%d/%m/%Y"),
    }


def _nightly(day: dt.date) -> Iterator[dt.datetime]:
    """The fake's clock while ``day`` is processed: D+1 from 02:00 UTC, a second a call."""
    start = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(2), tzinfo=dt.UTC)
    return (start + dt.timedelta(seconds=n) for n in itertools.count())


def _client(fake: FakeLabelboxWithOntology) -> Any:
    import labelbox as lb

    return lb.Client(api_key=fake.api_key, endpoint=fake.endpoint, enable_experimental=True)


def _export(fake: FakeLabelboxWithOntology) -> list[dict[str, Any]]:
    """Every data row as the SDK shows it (``client.get_data_row``), in the order Labelbox
    created them, in the shape of an export row (the fake's project export lists labelled
    rows only)."""
    client = _client(fake)
    dataset_of = {k: v["dataset"] for k, v in fake.data_rows().items()}
    rows = []
    for key, row in fake.data_rows().items():
        found = client.get_data_row(row["id"])
        rows.append(
            {
                "data_row": {
                    "id": found.uid,
                    "global_key": found.global_key,
                    "external_id": found.external_id,
                    "row_data": found.row_data,
                    "details": {
                        "created_at": found.created_at.isoformat(),
                        "dataset_name": dataset_of[key],
                    },
                },
                "metadata_fields": list(found.metadata_fields or []),
                "attachments": [],
            }
        )
    return sorted(rows, key=lambda r: (r["data_row"]["details"]["created_at"], r["data_row"]["id"]))


def _datasets(fake: FakeLabelboxWithOntology) -> dict[str, dt.datetime]:
    return {d.name: d.created_at for d in _client(fake).get_datasets()}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("dates_s41")
    generate_demo_cohort(
        root / "cohort",
        DemoConfig(start=START, days=len(DAYS), studies_per_day=(2, 2), seed=41, workers=1),
    )
    # a fixed key: the image ids, hence the order of a release's rows, are the same every run
    key_file = root / "secrets" / "pseudonym.key"
    key_file.parent.mkdir()
    key_file.write_text(hashlib.sha256(b"adversary dates s41").hexdigest() + "\n")
    key_file.chmod(0o600)
    for fake in running_fake_with_ontology():
        fake.add_project(PROJECT)
        env = product_env(
            root / "state",
            root / "cohort",
            key_file,
            CADBUSI_WORKERS="1",
            CADBUSI_OCR="0",
            CADBUSI_LABELBOX=f"labelbox://{PROJECT}",
            CADBUSI_LABELBOX_RELEASE_DATES=str(RELEASE_DATES),
            LABELBOX_API_KEY=fake.api_key,
            LABELBOX_ENDPOINT=fake.endpoint,
        )
        env.pop("LABELBOX_REST_ENDPOINT", None)
        env.pop("LABELBOX_APP_URL", None)
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        write_instance_yaml(env)
        for day in DAYS:
            fake.clock = _nightly(day).__next__
            proc = materialize_date(env, STUDY_DATE_ASSETS, day.isoformat())
            out = finish(proc, STEP_TIMEOUT_S, f"date {day}")
            assert proc.returncode == 0, out[-3000:]
        fake.clock = _nightly(DAYS[-1] + dt.timedelta(days=30)).__next__
        pseudonymizer = Pseudonymizer(load_key(str(key_file)))
        research = open_zone(env["CADBUSI_RESEARCH_ZONE"], "research")
        batches = {day: pseudonymizer.batch_name(day.isoformat()) for day in DAYS}
        date_of: dict[str, dt.date] = {}
        for day, batch in batches.items():
            images = read_partition_table(research, "images", batch)
            assert images is not None and images.height, f"no images on {day}"
            date_of.update(dict.fromkeys(images["image_id"].to_list(), day))
        import duckdb

        with duckdb.connect(str(root / "cohort" / "warehouse.duckdb"), read_only=True) as con:
            real = {r[0] for r in con.sql("select exam_date from radiology_exams").fetchall()}
        yield Run(fake, env, date_of, batches, _export(fake), _datasets(fake), real)


def _created(row: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(row["data_row"]["details"]["created_at"])


def _released(run: Run) -> list[dict[str, Any]]:
    assert run.exported, "Labelbox holds no data row of the three dates"
    return run.exported


def test_data_row_creation_times_do_not_single_out_a_study_date(run: Run):
    """``createdAt`` of a data row is when it reached Labelbox. Sent as each date is
    materialized (D on D+1), the rows created on one day are exactly one date's images: the
    day before is their real study date. Rows that wait for a release of at least
    ``RELEASE_DATES`` dates share their creation day with images of another date."""
    by_day: dict[dt.date, set[dt.date]] = {}
    for row in _released(run):
        key = row["data_row"]["global_key"]
        by_day.setdefault(_created(row).date(), set()).add(run.date_of[key])
    told = {str(day): sorted(map(str, dates)) for day, dates in by_day.items() if len(dates) < 2}
    assert not told, f"data rows created on one day are all of one real date: {told}"
    exact = sum(
        1
        for row in run.exported
        if _created(row).date() - dt.timedelta(days=1) == run.date_of[row["data_row"]["global_key"]]
    )
    # at most the rows of the release's newest date are created on that date's next day
    assert exact < len(run.exported), f"{exact} of {len(run.exported)} rows: createdAt - 1 day"


def test_datasets_and_batches_each_mix_several_study_dates(run: Run):
    """A dataset (its name and ``createdAt`` are shown to everyone in the project) holds the
    rows of several dates, never of one date alone; so do the batches created on one day."""
    per_dataset: dict[str, set[dt.date]] = {}
    for row in _released(run):
        name = row["data_row"]["details"]["dataset_name"]
        per_dataset.setdefault(name, set()).add(run.date_of[row["data_row"]["global_key"]])
    single = {n: sorted(map(str, d)) for n, d in per_dataset.items() if len(d) < RELEASE_DATES}
    assert not single, f"datasets of one date: {single}"
    batches = run.fake.batches.get(PROJECT, [])
    assert batches, "no batch in the project"
    # a batch holds one priority (BI-RADS) of the release: with few studies, one study, so one
    # date; but every batch of a release is created with it, so the batches created on one day
    # hold several dates
    per_day: dict[dt.date, set[dt.date]] = {}
    for batch in batches:
        dates = {run.date_of[k] for k in batch["global_keys"]}
        per_day.setdefault(batch["created_at"].date(), set()).update(dates)
    one_date = {str(d): sorted(map(str, v)) for d, v in per_day.items() if len(v) < RELEASE_DATES}
    assert not one_date, f"batches created on one day are of one date: {one_date}"


def test_names_keys_row_data_and_attachments_carry_no_date(run: Run):
    """No dataset or batch name, global key, external id or row data holds a real date (six
    spellings) or a research batch name (the keyed name of one date's tables); no attachment
    or metadata field is sent."""
    needles = {s for day in run.real for s in _spellings(day)} | set(run.batches.values())
    texts = list(run.datasets) + [b["name"] for b in run.fake.batches.get(PROJECT, [])]
    for row in run.exported:
        data_row = row["data_row"]
        texts += [data_row["global_key"], data_row.get("external_id") or "", data_row["row_data"]]
        assert not row.get("attachments") and not row.get("metadata_fields"), row
    leaks = sorted({t for t in texts for n in needles if n in t})
    assert not leaks, leaks[:10]


def test_creation_order_carries_no_date(run: Run):
    """Within a release the rows are created in the order of their keyed image id, so the
    images of one date do not form one run in the order Labelbox lists them."""
    releases: dict[str, list[dt.date]] = {}
    for row in _released(run):
        name = row["data_row"]["details"]["dataset_name"]
        releases.setdefault(name, []).append(run.date_of[row["data_row"]["global_key"]])
    for name, dates in releases.items():
        runs = [day for day, _ in itertools.groupby(dates)]
        assert len(runs) > len(set(dates)), f"{name}: one run of rows per date {runs}"


def test_images_waiting_for_a_release_are_listed_with_their_reason(run: Run):
    """The third date alone is fewer than ``RELEASE_DATES`` dates: its images wait, listed in
    its data-rows table with the reason; nothing of it is in Labelbox; nothing is lost."""
    research = run.research()
    last = read_partition_table(research, DATA_ROWS_TABLE, run.batches[DAYS[-1]])
    assert last is not None and last.height
    assert last["released_in"].is_null().all()
    assert last["waiting_reason"].str.contains("release").all(), last["waiting_reason"]
    in_labelbox = {r["data_row"]["global_key"] for r in run.exported}
    assert not in_labelbox & set(last["global_key"].to_list())
    earlier = pl.concat(
        [read_partition_table(research, DATA_ROWS_TABLE, run.batches[d]) for d in DAYS[:-1]],
        how="diagonal_relaxed",
    )
    assert set(earlier["global_key"].to_list()) == in_labelbox
    assert earlier["released_in"].is_not_null().all()
    assert earlier["queued_in"].drop_nulls().len() == earlier.height


def test_a_rerun_of_a_released_date_creates_nothing_new_in_labelbox(run: Run):
    """Idempotent: the first date again sends its rows to the release they are in (keyed by
    global key): no new data row, dataset or batch, the same tables byte for byte."""
    research = run.research()
    table = ("tables", DATA_ROWS_TABLE, f"{run.batches[DAYS[0]]}.parquet")
    before = research.read_bytes(*table)
    rows, batches = len(run.fake.data_rows()), len(run.fake.batches.get(PROJECT, []))
    datasets = len(run.fake.datasets())
    proc = materialize_date(run.env, ["labelbox_data_rows"], DAYS[0].isoformat())
    out = finish(proc, STEP_TIMEOUT_S, "the re-run")
    assert proc.returncode == 0, out[-3000:]
    assert len(run.fake.data_rows()) == rows
    assert len(run.fake.batches.get(PROJECT, [])) == batches
    assert len(run.fake.datasets()) == datasets
    assert research.read_bytes(*table) == before


def test_the_ui_shows_no_count_beside_a_real_date(run: Run):
    """Dagster metadata of the ``labelbox_data_rows`` partitions (the UI, beside the real date)
    holds no count: a number of images sent or waiting beside a date tells its volume."""
    with dg.DagsterInstance.from_config(run.env["DAGSTER_HOME"]) as instance:
        events = instance.fetch_materializations(dg.AssetKey("labelbox_data_rows"), limit=100)
        told = []
        for record in events.records:
            event = record.asset_materialization
            assert event is not None and event.partition
            for name, value in event.metadata.items():
                raw = getattr(value, "value", value)
                if isinstance(raw, int | float) and not isinstance(raw, bool):
                    told.append(f"{event.partition}: {name}={raw}")
                elif isinstance(raw, str) and any(
                    c.isdigit() for c in raw.replace(event.partition, "")
                ):
                    told.append(f"{event.partition}: {name}={json.dumps(raw)[:80]}")
    assert not told, told[:10]
