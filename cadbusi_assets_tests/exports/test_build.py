"""Exports a training team can trust: manifest fields, lineage, the card's diff and caveats."""

from __future__ import annotations

import hashlib
import hmac
import json

import polars as pl

from cadbusi_assets.exports import ExportConfig, build_export, verify_export
from cadbusi_assets.exports.lineage import (
    GIT_COMMIT_ENV,
    git_commit,
    key_fingerprint,
    lineage_seal,
    raw_lineage_document,
    resolve_lineage,
    runs_per_batch,
    write_raw_lineage,
)
from cadbusi_assets.identity import Pseudonymizer, PseudonymKey
from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone

LINEAGE = {
    "deidentification_profile": "research-breast-us",
    "pseudonym_key_fingerprint": "0123456789abcdef",
    "label_set_version": "ls-1",
    "code_version": "0.1.0",
}
UPSTREAM = [
    {"asset": "image_features", "partition": "2026-09-02", "data_version": "dv2", "run_id": "r2"},
    {"asset": "image_features", "partition": "2026-09-01", "data_version": "dv1", "run_id": "r1"},
    {"asset": "diagnosis_labels", "partition": None, "data_version": "dl", "run_id": "r3"},
]
ALIAS = {"2026-09-01": "bbatch0", "2026-09-02": "bbatch1"}
SEAL = lineage_seal(Pseudonymizer(PseudonymKey(bytes(range(32)))))


def _read(zone, key, name):
    return zone.read_bytes("exports", key, name)


def _build(zone, key="2026-10-01", **config):
    return build_export(
        zone,
        ExportConfig(key=key, **config),
        LINEAGE,
        workers=1,
        upstream=UPSTREAM,
        partition_alias=ALIAS.__getitem__,
        seal=SEAL,
    )


def test_manifest_carries_calipers_spacing_and_split_and_no_batch(zone):
    report = _build(zone, folds=3)
    assert verify_export(zone, report.key) == []
    manifest = pl.read_parquet(_read(zone, report.key, "manifest.parquet"))
    for column in (
        "caliper_points",
        "caliper_points_crop",
        "pixel_spacing_x_cm",
        "pixel_spacing_y_cm",
        "split",
        "fold",
    ):
        assert column in manifest.columns
    # the research batch (one per real date) would line up every patient of a date
    # (test_adversary_runs_s37.py): the card's lineage keeps counts per batch only
    assert "batch" not in manifest.columns
    with_calipers = manifest.filter(pl.col("has_calipers"))
    assert with_calipers.height > 0
    row = with_calipers.row(0, named=True)
    assert row["caliper_points"] == [[20, 30], [40, 32]]
    assert row["caliper_points_crop"] == [[10, 10], [30, 12]]  # crop starts at (10, 20)
    assert row["caliper_source"] == "image" and row["pixel_spacing_x_cm"] == 0.01
    assert manifest.filter(~pl.col("has_calipers"))["caliper_points"].null_count() > 0
    lineage = json.loads(_read(zone, report.key, "lineage.json"))
    assert set(lineage["images_per_batch"]) == {"bbatch0", "bbatch1"}
    assert sum(lineage["images_per_batch"].values()) == manifest.height
    # per-split label counts are reported, and no patient straddles splits
    assert sum(sum(v.values()) for v in report.split_labels.values()) == report.images
    assert manifest.group_by("patient_pseudo").agg(pl.col("split").n_unique())["split"].max() == 1
    csv = _read(zone, report.key, "manifest.csv").decode()
    assert "[[20, 30], [40, 32]]" in csv


def test_clean_twin_inherits_the_caliper_points(tmp_path):
    catalog = synthetic_catalog(6, 1)
    caliper = catalog.filter(pl.col("has_calipers"))["image_id"][0]
    patient = catalog.filter(pl.col("image_id") == caliper)["patient_pseudo"][0]
    clean = catalog.filter((pl.col("patient_pseudo") == patient) & (pl.col("image_id") != caliper))[
        "image_id"
    ]
    assert clean.len() > 0, "the synthetic patient (seed 1) must have a second image"
    twins = pl.DataFrame({"caliper_image_id": [caliper], "clean_image_id": [clean[0]]})
    zone = write_zone(tmp_path / "r", catalog, twins)
    report = _build(zone)
    manifest = pl.read_parquet(_read(zone, report.key, "manifest.parquet"))
    assert caliper not in manifest["image_id"].to_list()
    row = manifest.filter(pl.col("image_id") == clean[0]).row(0, named=True)
    assert row["caliper_points"] == [[20, 30], [40, 32]]
    assert row["caliper_source"] == "clean_twin_of"


def test_lineage_names_upstream_partitions_by_batch_never_by_date(zone, tmp_path, monkeypatch):
    from cadbusi_assets.storage import open_zone

    monkeypatch.setenv(GIT_COMMIT_ENV, "abc123")
    report = _build(zone)
    text = _read(zone, report.key, "lineage.json").decode()
    assert "2026-09-0" not in text  # real study dates never appear
    lineage = json.loads(text)
    assert lineage["git_commit"] == "abc123"
    assert lineage["deidentification_profile"] == "research-breast-us"
    assert lineage["pseudonym_key_fingerprint"] == "0123456789abcdef"
    assert lineage["label_set_version"] == "ls-1"
    assert len(lineage["catalog_digest"]) == 16
    assert [(e["asset"], e["partition"]) for e in lineage["upstream"]] == [
        ("diagnosis_labels", None),
        ("image_features", "bbatch0"),
        ("image_features", "bbatch1"),
    ]
    # a batch's data version and run are shown by the Dagster UI beside the real date: sealed
    for entry in lineage["upstream"]:
        if entry["partition"]:
            assert entry["data_version"] is None and entry["run_id"] is None
            assert len(entry["ref"]) == 32
            assert "dv1" not in text and "dv2" not in text and '"r1"' not in text
        else:
            assert (entry["data_version"], entry["run_id"]) == ("dl", "r3")
    # any exported image → its batch → the run that produced it, with raw-zone access
    raw = open_zone(str(tmp_path / "raw"), "raw")
    write_raw_lineage(raw, raw_lineage_document(report.key, UPSTREAM, ALIAS.__getitem__, SEAL))
    manifest = pl.read_parquet(_read(zone, report.key, "manifest.parquet"))
    document = json.loads(raw.read_bytes("exports", "lineage", f"{report.key}.json"))
    runs = runs_per_batch(lineage, document, SEAL)
    assert {runs[b]["image_features"] for b in ("bbatch0", "bbatch1")} == {"r1", "r2"}
    # the manifest names no batch: the research zone's tables say which holds the image
    in_batch1 = set(zone.read_parquet("tables", "images", "bbatch1.parquet")["image_id"])
    image = next(i for i in manifest["image_id"].to_list() if i in in_batch1)
    (found,) = resolve_lineage(zone, raw, report.key, image_id=image, seal=SEAL)
    assert (found["date"], found["run_id"], found["data_version"]) == ("2026-09-02", "r2", "dv2")
    assert found["verified"]
    # a raw entry whose values do not hash to the export's seal is not taken for the truth
    document["partitions"][0]["run_id"] = "forged"
    assert runs_per_batch(lineage, document, SEAL)["bbatch0"] == {}
    write_raw_lineage(raw, document)
    assert not resolve_lineage(zone, raw, report.key, batch="bbatch0", seal=SEAL)[0]["verified"]
    document["partitions"][0]["ref"] = "0" * 32
    write_raw_lineage(raw, document)
    assert not resolve_lineage(zone, raw, report.key, batch="bbatch0")[0]["verified"]


def test_git_commit_from_the_repository(monkeypatch):
    monkeypatch.delenv(GIT_COMMIT_ENV, raising=False)
    commit = git_commit()
    assert commit is None or len(commit.split("-")[0]) == 40


def test_key_fingerprint_is_the_documented_hmac():
    secret = bytes(range(1, 33))
    expected = hashlib.sha256(
        hmac.new(secret, b"cadbusi-fingerprint", hashlib.sha256).digest()
    ).hexdigest()[:16]
    from cadbusi_assets import identity

    if getattr(identity, "key_fingerprint", None) is None:
        assert key_fingerprint(PseudonymKey(secret)) == expected
    assert secret.hex() not in key_fingerprint(PseudonymKey(secret))
    assert key_fingerprint(Pseudonymizer(PseudonymKey(secret))) == key_fingerprint(
        PseudonymKey(secret)
    )


def test_card_shows_changes_since_the_previous_export_and_caveats(tmp_path):
    catalog = synthetic_catalog(20, 4)
    zone = write_zone(tmp_path / "r", catalog)
    first = _build(zone, key="2026-10-01")
    assert first.previous_key is None
    assert "This is the first export" in _read(zone, first.key, "README.md").decode()
    grown = pl.concat(
        [catalog, synthetic_catalog(24, 4).filter(pl.col("patient_pseudo") >= "P0020")],
        how="diagonal_relaxed",
    )
    zone = write_zone(tmp_path / "r", grown)
    second = _build(zone, key="2026-11-01")
    assert second.previous_key == "2026-10-01"
    card = _read(zone, second.key, "README.md").decode()
    added = grown.height - catalog.height
    assert f"Compared with export `2026-10-01`: {added} images added, 0 removed" in card
    assert f"| images | {catalog.height} | {grown.height} | +{added} |" in card
    assert "## Known caveats (measured on this export)" in card
    assert "images without a diagnosis label (label -1)" in card
    assert "benign by imaging follow-up only" in card
    assert "| test | 1 |" in card or "| test | 0 |" in card  # per split and label rows
    # rebuilding the same key with the same inputs is byte-identical
    assert _build(zone, key="2026-11-01").already_existed


def test_an_export_keeps_the_previous_exports_splits_whoever_comes_or_leaves(tmp_path):
    """Sticky splits: new patients (a new study date) and a patient who left (a withdrawal)
    move no other patient between splits or folds of the next export; with other split
    settings the next export deals afresh. Before, the stratified deal in one running order
    moved many: a researcher's test patients became training patients."""
    catalog = synthetic_catalog(40, 3)
    zone = write_zone(tmp_path / "r", catalog)
    _build(zone, key="2026-10-01", folds=3)

    def assigned(key):
        manifest = pl.read_parquet(_read(zone, key, "manifest.parquet"))
        rows = manifest.select("patient_pseudo", "split", "fold").unique("patient_pseudo")
        return {p: (s, f) for p, s, f in rows.iter_rows()}

    first = assigned("2026-10-01")
    left = sorted(first)[7]
    changed = pl.concat(
        [
            catalog.filter(pl.col("patient_pseudo") != left),
            synthetic_catalog(52, 3).filter(pl.col("patient_pseudo") >= "P0040"),
        ],
        how="diagonal_relaxed",
    )
    zone = write_zone(tmp_path / "r", changed)
    _build(zone, key="2026-11-01", folds=3)
    second = assigned("2026-11-01")
    assert left not in second and any(p not in first for p in second)
    moved = [p for p in second if p in first and second[p] != first[p]]
    assert moved == []
    # other split settings: dealt afresh (nothing to inherit from)
    _build(zone, key="2026-12-01", folds=3, split_salt="another")
    assert verify_export(zone, "2026-12-01") == []


def test_hash_method_is_still_available(zone):
    report = _build(zone, split_method="hash")
    config = _read(zone, report.key, "export_config.yaml").decode()
    assert "split_method: hash" in config


def test_lesions_reach_the_manifest_with_crop_boxes_and_a_bag_per_lesion(tmp_path):
    catalog = synthetic_catalog(6, 1)
    zone = write_zone(tmp_path / "r", catalog)
    first = catalog.filter(pl.col("has_calipers")).row(0, named=True)
    zone.write_parquet(
        ("lesions", "lesion_images.parquet"),
        pl.DataFrame(
            {
                "lesion_id": [f"{first['accession_pseudo']}-L1"],
                "image_id": [first["image_id"]],
                "box_x0": [20],
                "box_y0": [25],
                "box_x1": [40],
                "box_y1": [35],
            }
        ),
    )
    zone.write_parquet(
        ("lesions", "lesions.parquet"),
        pl.DataFrame(
            {
                "lesion_id": [f"{first['accession_pseudo']}-L1", "A9999-L1"],
                "accession_pseudo": [first["accession_pseudo"], "A9999"],
                "side": ["LEFT", "RIGHT"],
                "clock": ["2:00", "3:00"],
                "interpretation": ["MALIGNANT", None],
            }
        ),
    )
    report = _build(zone)
    manifest = pl.read_parquet(_read(zone, report.key, "manifest.parquet"))
    row = manifest.filter(pl.col("image_id") == first["image_id"]).row(0, named=True)
    assert row["lesion_ids"] == [f"{first['accession_pseudo']}-L1"]
    assert row["lesion_boxes_crop"] == [[10, 5, 30, 15]]  # crop origin (10, 20)
    bags = pl.read_parquet(_read(zone, report.key, "lesions.parquet"))
    assert bags["lesion_id"].to_list() == [f"{first['accession_pseudo']}-L1"]  # exported only
    assert bags["image_ids"][0].to_list() == [first["image_id"]]
    assert bags["interpretation"][0] == "MALIGNANT"


def test_every_count_the_catalog_leaves_out_reads_as_a_sentence_on_the_card():
    """Each of the catalog's left-out counts has a line a reader understands on the dataset card
    (a new count, ``study_batches_left_out_retired``, was shown under its raw key name)."""
    from cadbusi_assets.catalog.build import LEFT_OUT_COUNTS
    from cadbusi_assets.exports.card import _catalog_left_out_section

    for name in LEFT_OUT_COUNTS:
        lines = _catalog_left_out_section({name: 2})
        row = next(line for line in lines if line.endswith("|") and " 2 " in line)
        assert name not in row, row
        assert row.endswith(("| 2 dates |", "| 2 images |")), row
