"""The send queue's release policy (``CADBUSI_LABELBOX_RELEASE_*``) and release names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cadbusi_assets.labeling.releases import ReleaseError, ReleasePolicy, release_name
from cadbusi_assets.settings import SettingsError
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.stages.analysis import FEATURES_TABLE
from cadbusi_assets.stages.deidentification import IMAGES_TABLE
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table


def test_production_waits_for_a_week_of_dates_and_the_demo_sends_each_date():
    assert ReleasePolicy.from_env({"CADBUSI_DEPLOYMENT": "production"}) == ReleasePolicy(7, 0)
    assert not ReleasePolicy.from_env({"CADBUSI_DEPLOYMENT": "production"}).immediate
    assert ReleasePolicy.from_env({}).immediate
    assert ReleasePolicy.from_env({"CADBUSI_DEPLOYMENT": "demo"}) == ReleasePolicy(1, 0)
    configured = ReleasePolicy.from_env(
        {"CADBUSI_LABELBOX_RELEASE_DATES": " 3 ", "CADBUSI_LABELBOX_RELEASE_IMAGES": "500"}
    )
    assert configured == ReleasePolicy(3, 500) and not configured.immediate
    assert not ReleasePolicy.from_env({"CADBUSI_LABELBOX_RELEASE_IMAGES": "1"}).immediate


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CADBUSI_LABELBOX_RELEASE_DATES", "0", "at least 1"),
        ("CADBUSI_LABELBOX_RELEASE_DATES", "weekly", "whole number"),
        ("CADBUSI_LABELBOX_RELEASE_IMAGES", "-1", "at least 0"),
    ],
)
def test_a_malformed_setting_names_its_variable(name: str, value: str, says: str):
    with pytest.raises(ReleaseError, match=f"{name} must be .*{says}") as caught:
        ReleasePolicy.from_env({name: value})
    assert isinstance(caught.value, SettingsError)  # shown as the date's failure reason


def test_a_release_needs_both_the_dates_and_the_images():
    policy = ReleasePolicy(min_dates=2, min_images=10)
    assert not policy.ready(dates=1, images=100)
    assert not policy.ready(dates=3, images=9)
    assert policy.ready(dates=2, images=10)
    assert not ReleasePolicy(1, 0).ready(dates=0, images=0)  # nothing to send
    reason = policy.waiting_reason()
    assert "2 study dates" in reason and "10 images" in reason
    assert "CADBUSI_LABELBOX_RELEASE_DATES" in reason


def test_a_release_name_is_a_digest_of_its_images_whatever_their_order():
    keys = ["i0b3", "i9f1", "i45c"]
    name = release_name(keys)
    assert name == release_name(reversed(keys)) == release_name([*keys, keys[0]])
    assert name != release_name(keys[:2])
    assert name.startswith("release-") and len(name) == len("release-") + 16


class _Recording:
    """A label source that records what it is sent (no project queue)."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        self.sent.append((dataset, [str(r["global_key"]) for r in rows]))
        return len(rows)


def _date(research, batch: str, images: dict[str, str]) -> None:
    """A processed date: ``images`` (image id -> patient pseudonym), all usable."""
    for image in images:
        research.write_bytes(("images", f"{image}.png"), b"\x89PNG synthetic")
    write_partition_table(
        research,
        IMAGES_TABLE,
        batch,
        pl.DataFrame(
            {
                "image_id": list(images),
                "png_path": [f"images/{i}.png" for i in images],
                "patient_pseudo": list(images.values()),
            }
        ),
    )
    frame = pl.DataFrame(
        {"image_id": list(images), "exclusion_reason": [None] * len(images)},
        schema={"image_id": pl.Utf8, "exclusion_reason": pl.Utf8},
    )
    write_partition_table(research, FEATURES_TABLE, batch, frame)


def test_dates_wait_then_go_as_one_release_without_a_withdrawn_patient(tmp_path: Path):
    """The first date waits (listed with the reason); the second makes a release of both dates,
    in the order of the image ids, without the image of a patient who withdrew meanwhile (it
    waits until its date is sent again); a re-run sends the released rows to their release
    only and changes no table."""
    research = open_zone(str(tmp_path / "research"), "research").ensure()
    policy = ReleasePolicy(min_dates=2)
    source = _Recording()
    _date(research, "b1", {"i9": "P1", "i2": "P2"})
    _date(research, "b2", {"i5": "P3"})
    stage.send_data_rows(research, source, "b1", release=policy)  # type: ignore[arg-type]
    assert source.sent == []
    first = read_partition_table(research, stage.DATA_ROWS_TABLE, "b1")
    assert first is not None and first["released_in"].is_null().all()
    assert first["waiting_reason"].to_list() == [policy.waiting_reason()] * 2
    report = stage.send_data_rows(
        research,
        source,  # type: ignore[arg-type]
        "b2",
        release=policy,
        withdrawn=frozenset({"P1"}),
    )
    [(name, keys)] = source.sent
    assert name == release_name(["i2", "i5"]) and keys == ["i2", "i5"]
    assert report.counts["data_rows_released"] == 2 and report.counts["release_dates"] == 2
    tables = {b: read_partition_table(research, stage.DATA_ROWS_TABLE, b) for b in ("b1", "b2")}
    released = {
        k: v
        for t in tables.values()
        if t is not None
        for k, v in zip(t["global_key"], t["released_in"], strict=True)
    }
    assert released == {"i2": name, "i5": name, "i9": None}
    before = {
        b: research.read_bytes("tables", stage.DATA_ROWS_TABLE, f"{b}.parquet") for b in tables
    }
    source.sent.clear()
    stage.send_data_rows(research, source, "b2", release=policy)  # type: ignore[arg-type]
    assert source.sent == [(name, ["i5"])]
    after = {
        b: research.read_bytes("tables", stage.DATA_ROWS_TABLE, f"{b}.parquet") for b in tables
    }
    assert after == before
    assert stage.sent_image_ids(research) == {"i2", "i5"}  # a waiting image is not in Labelbox


def test_a_purged_date_whose_images_waited_tells_no_labelbox_deletion(tmp_path: Path):
    """Images that waited were never in Labelbox: a purge of their date drops their rows
    instead of marking them withdrawn (which would ask for deletions in Labelbox and say that
    Labelbox holds images of the date); rows already released stay, withdrawn."""
    from cadbusi_assets.stages.purge import purge_research_batch

    research = open_zone(str(tmp_path / "research"), "research").ensure()
    policy = ReleasePolicy(min_dates=2)
    source = _Recording()
    _date(research, "b1", {"i9": "P1"})
    _date(research, "b2", {"i5": "P3"})
    _date(research, "b3", {"i7": "P4"})
    stage.send_data_rows(research, source, "b1", release=policy)  # type: ignore[arg-type]
    stage.send_data_rows(research, source, "b2", release=policy)  # type: ignore[arg-type]
    stage.send_data_rows(research, source, "b3", release=policy)  # type: ignore[arg-type]
    assert [keys for _, keys in source.sent] == [["i5", "i9"]]  # b3 waits
    assert not purge_research_batch(research, "b3").in_labelbox
    assert read_partition_table(research, stage.DATA_ROWS_TABLE, "b3") is None
    assert purge_research_batch(research, "b1").in_labelbox
    assert stage.withdrawn_data_rows(research)["global_key"].to_list() == ["i9"]


def test_a_rerun_keeps_the_whole_release_in_the_folder_outbox(tmp_path: Path):
    """The folder source (the demo labeler reads its outbox) creates or updates rows by global
    key, as Labelbox does: a date sent again to its release leaves the other dates' rows of
    the release in the release's file."""
    from cadbusi_assets.labeling.sources import FolderLabelSource

    research = open_zone(str(tmp_path / "research"), "research").ensure()
    policy = ReleasePolicy(min_dates=2)
    source = FolderLabelSource(tmp_path / "labelbox")
    _date(research, "b1", {"i9": "P1", "i2": "P2"})
    _date(research, "b2", {"i5": "P3"})
    stage.send_data_rows(research, source, "b1", release=policy)
    stage.send_data_rows(research, source, "b2", release=policy)
    release = release_name(["i2", "i5", "i9"])
    outbox = source.outbox_dir / f"{release}.ndjson"
    before = outbox.read_bytes()
    assert [row["global_key"] for row in source.sent_data_rows()] == ["i2", "i5", "i9"]
    stage.send_data_rows(research, source, "b1", release=policy)
    assert outbox.read_bytes() == before
