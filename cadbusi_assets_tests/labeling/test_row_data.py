"""``row_data`` that Labelbox can open: signed URLs with an expiry on S3 (moto server) and GCS
(fake-gcs-server), uploaded bytes through the real SDK (fake Labelbox), or the plain path."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlparse

import polars as pl
import pytest
import requests

from cadbusi_assets.labeling.row_data import RowDataConfig, RowDataError, row_data_locator
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.stages.analysis import FEATURES_TABLE
from cadbusi_assets.stages.deidentification import IMAGES_TABLE
from cadbusi_assets.storage import Zone, open_zone, read_partition_table, write_partition_table
from cadbusi_assets_tests.labeling.fake_labelbox_ontology import (
    running_fake_with_ontology as running_fake,  # the stage also queues batches
)
from cadbusi_assets_tests.storage.conftest import BUCKET, fake_gcs, moto_s3  # noqa: F401

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n synthetic image bytes"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


class RecordingSource:
    """A label source that keeps what it was sent (and can fetch it while it is valid)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fetched: dict[str, bytes] = {}

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        self.sent.extend(dict(r) for r in rows)
        for row in rows:
            data = row["row_data"]
            if data.startswith("http"):
                self.fetched[row["global_key"]] = requests.get(data, timeout=10).content
            elif "://" not in data:
                with open(data, "rb") as handle:
                    self.fetched[row["global_key"]] = handle.read()
        return len(rows)


def _zone(protocol: str, options: Mapping[str, Any]) -> Zone:
    return open_zone(f"{protocol}://{BUCKET}/{uuid.uuid4().hex[:12]}", name="research", **options)


def _seed(zone: Zone, batch: str = "b1") -> None:
    zone.write_bytes(("images", "img1.png"), PNG)
    zone.write_bytes(("images", "img2.png"), PNG + b"2")
    write_partition_table(
        zone,
        IMAGES_TABLE,
        batch,
        pl.DataFrame(
            {
                "image_id": ["img1", "img2", "img3"],
                "png_path": [f"images/img{i}.png" for i in (1, 2, 3)],
            }
        ),
    )
    write_partition_table(
        zone,
        FEATURES_TABLE,
        batch,
        pl.DataFrame({"image_id": ["img1", "img2", "img3"], "exclusion_reason": [None, None, "x"]}),
    )


def _service_account_key(tmp_path) -> str:
    """A throwaway service-account key (signing is local; nothing contacts Google)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "test",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "signer@test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:9/token",
    }
    path = tmp_path / "signer.json"
    path.write_text(json.dumps(info))
    return str(path)


def test_config_from_environment_and_limits():
    assert RowDataConfig.from_env({}) == RowDataConfig("path", 72.0, None)
    assert RowDataConfig.from_env({"CADBUSI_LABELBOX_ROW_DATA": " Upload "}).mode == "upload"
    with pytest.raises(RowDataError, match="at most 168"):
        RowDataConfig.from_env({"CADBUSI_SIGNED_URL_HOURS": "200"})
    with pytest.raises(RowDataError, match="number of hours"):
        RowDataConfig.from_env({"CADBUSI_SIGNED_URL_HOURS": "soon"})


def test_signed_urls_need_an_object_store_zone(tmp_path):
    zone = open_zone(tmp_path / "research", "research")
    with (
        pytest.raises(RowDataError, match="gs:// or s3://"),
        row_data_locator(zone, RowDataConfig("signed_url")),
    ):
        pass


def test_signed_s3_urls_open_without_credentials_and_expire_when_configured(moto_s3):  # noqa: F811
    zone = _zone("s3", moto_s3)
    _seed(zone)
    source = RecordingSource()
    report = stage.send_data_rows(zone, source, "b1", RowDataConfig("signed_url", hours=2))
    assert report.counts["data_rows_sent"] == 2
    urls = {r["global_key"]: r["row_data"] for r in source.sent}
    query = parse_qs(urlparse(urls["img1"]).query)
    assert query["X-Amz-Expires"] == ["7200"] and "X-Amz-Signature" in query
    assert source.fetched == {"img1": PNG, "img2": PNG + b"2"}  # opened by URL alone
    assert requests.get(urls["img1"].split("?")[0], timeout=10).status_code == 403  # unsigned

    table = read_partition_table(zone, stage.DATA_ROWS_TABLE, "b1")
    assert table["row_data"].to_list() == [str(zone.path("images", f"img{i}.png")) for i in (1, 2)]
    assert not any("Signature" in v for v in table["row_data"].to_list())  # no URL kept
    assert table["row_data_mode"].unique().to_list() == ["signed_url"]
    expires = dt.datetime.fromisoformat(table["row_data_expires_at"][0])
    assert dt.timedelta(hours=1.9) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=2)


def test_signed_gcs_urls_with_a_service_account_key(fake_gcs, tmp_path, monkeypatch):  # noqa: F811
    zone = _zone("gs", fake_gcs)
    _seed(zone)
    with (
        pytest.raises(RowDataError, match="CADBUSI_SIGNING_KEY_FILE"),  # anonymous: no key
        row_data_locator(zone, RowDataConfig("signed_url")) as locate,
    ):
        locate("images/img1.png")
    monkeypatch.setenv("CADBUSI_LABELBOX_ROW_DATA", "signed_url")
    monkeypatch.setenv("CADBUSI_SIGNED_URL_HOURS", "24")
    monkeypatch.setenv("CADBUSI_SIGNING_KEY_FILE", _service_account_key(tmp_path))
    with row_data_locator(zone, now=NOW) as locate:  # configuration from the environment
        url = locate("images/img1.png")
        assert locate.expires_at == NOW + dt.timedelta(hours=24)
    query = parse_qs(urlparse(url).query)
    assert query["X-Goog-Expires"] == ["86400"]
    assert query["X-Goog-Credential"][0].startswith("signer@test.iam.gserviceaccount.com/")
    assert requests.get(url, timeout=10).content == PNG


def test_upload_mode_sends_the_bytes_through_the_sdk(moto_s3, monkeypatch):  # noqa: F811
    """Object-store zone, upload mode: the SDK uploads the image (UploadFile) and the data row
    points at Labelbox-hosted storage, not at the bucket."""
    from cadbusi_assets.labeling import open_label_source

    zone = _zone("s3", moto_s3)
    _seed(zone)
    for fake in running_fake():
        fake.add_project("proj-1")
        monkeypatch.setenv("LABELBOX_API_KEY", fake.api_key)
        monkeypatch.setenv("LABELBOX_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        source = open_label_source("labelbox://proj-1?dataset_prefix=bus")
        stage.send_data_rows(zone, source, "b1", RowDataConfig("upload"))
        rows = fake.data_rows()
        assert sorted(rows) == ["img1", "img2"]
        for key, content in (("img1", PNG), ("img2", PNG + b"2")):
            assert rows[key]["row_data"].startswith(fake.base_url + "/files/")
            assert requests.get(rows[key]["row_data"], timeout=10).content == content
    table = read_partition_table(zone, stage.DATA_ROWS_TABLE, "b1")
    assert table["row_data_mode"].to_list() == ["upload", "upload"]
    assert table["row_data_expires_at"].null_count() == 2


def test_batches_whose_signed_urls_expire_soon_are_listed_for_refresh(moto_s3):  # noqa: F811
    zone = _zone("s3", moto_s3)
    _seed(zone, "b1")
    _seed(zone, "b2")
    _seed(zone, "b3")
    source = RecordingSource()
    stage.send_data_rows(zone, source, "b1", RowDataConfig("signed_url", hours=10))
    stage.send_data_rows(zone, source, "b2", RowDataConfig("signed_url", hours=100))
    stage.send_data_rows(zone, source, "b3", RowDataConfig("path"))
    now = dt.datetime.now(dt.UTC)
    assert stage.batches_to_refresh(zone, now=now) == ["b1"]  # within a day
    assert stage.batches_to_refresh(zone, now=now + dt.timedelta(hours=90)) == ["b1", "b2"]
    assert stage.batches_to_refresh(zone, now=now, margin_hours=1) == []


def test_path_mode_keeps_todays_rows(tmp_path):
    zone = open_zone(tmp_path / "research", "research")
    _seed(zone)
    source = RecordingSource()
    stage.send_data_rows(zone, source, "b1", RowDataConfig("path"))
    assert [r["row_data"] for r in source.sent] == [
        str(zone.local_path("images", "img1.png")),
        str(zone.local_path("images", "img2.png")),
    ]
    assert source.fetched["img1"] == PNG
