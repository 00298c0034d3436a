"""Labeling stages: send the day's usable images to the label source; ingest label exports.

Research-zone outputs: ``tables/labelbox_data_rows/<day>``; ``labels/labelbox/{labels,objects,
classifications}.parquet`` (current, with a ``label_set_version``) and an immutable snapshot per
version under ``labels/labelbox/versions/<version>/``.
"""

from __future__ import annotations

import json

import polars as pl

from cadbusi_assets.labeling import (
    LabelSource,
    LabelTables,
    build_data_rows,
    label_set_version,
    merge_label_tables,
    parse_export_rows,
)
from cadbusi_assets.stages.analysis import FEATURES_TABLE, INPAINTED_TABLE
from cadbusi_assets.stages.deidentification import IMAGES_TABLE
from cadbusi_assets.stages.report import PartitionReport
from cadbusi_assets.storage import Zone, read_partition_table, write_partition_table

DATA_ROWS_TABLE = "labelbox_data_rows"
LABELS_DIR = ("labels", "labelbox")
TABLE_NAMES = ("labels", "objects", "classifications")


def _locator(zone: Zone):
    def locate(path: str) -> str:
        return str(zone.local_path(path)) if zone.local else str(zone.path(path))

    return locate


def send_data_rows(research_zone: Zone, source: LabelSource, batch: str) -> PartitionReport:
    """Images of a batch that passed quality checks become data rows in dataset ``batch``."""
    images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    features = read_partition_table(research_zone, FEATURES_TABLE, batch)
    inpainted = read_partition_table(research_zone, INPAINTED_TABLE, batch)
    if images is None or features is None:
        raise FileNotFoundError("image_features for this date is missing; materialize it first.")
    usable = (
        features.filter(pl.col("exclusion_reason").is_null()).select("image_id")
        if features.height
        else pl.DataFrame(schema={"image_id": pl.Utf8})
    )
    selected = images.join(usable, on="image_id", how="semi")
    rows = build_data_rows(selected, _locator(research_zone), inpainted)
    sent = source.send_data_rows(batch, rows)
    table = pl.DataFrame(
        rows,
        schema={"global_key": pl.Utf8, "external_id": pl.Utf8, "row_data": pl.Utf8},
        orient="row",
    )
    write_partition_table(research_zone, DATA_ROWS_TABLE, batch, table)
    report = PartitionReport(batch, row_count=sent)
    report.count("data_rows_sent", sent)
    report.count("images_not_sent_excluded", images.height - selected.height)
    return report


def _read_current(zone: Zone) -> LabelTables:
    frames = {}
    for name in TABLE_NAMES:
        parts = (*LABELS_DIR, f"{name}.parquet")
        if not zone.exists(*parts):
            return LabelTables.empty()
        frames[name] = zone.read_parquet(*parts).drop("label_set_version", strict=False)
    return LabelTables(frames["labels"], frames["objects"], frames["classifications"])


def ingest_labels(
    research_zone: Zone, source: LabelSource, *, full: bool = True, since: str | None = None
) -> PartitionReport:
    """Export from the source and write the label tables; a new version when content changed.

    ``full``: the export is the complete truth (labels deleted at the source disappear).
    Otherwise the export is incremental and is upserted into the current tables.
    """
    previous = _read_current(research_zone)
    fresh = parse_export_rows(source.export_rows(None if full else since))
    merged = fresh.sorted() if full else merge_label_tables(previous, fresh)
    version = label_set_version(merged)
    previous_version = label_set_version(previous) if previous.labels.height else None
    for name in TABLE_NAMES:
        frame = getattr(merged, name).with_columns(label_set_version=pl.lit(version))
        research_zone.write_parquet((*LABELS_DIR, "versions", version, f"{name}.parquet"), frame)
        research_zone.write_parquet((*LABELS_DIR, f"{name}.parquet"), frame)
    research_zone.write_bytes(
        (*LABELS_DIR, "current.json"),
        json.dumps({"label_set_version": version}, sort_keys=True).encode(),
    )
    report = PartitionReport("all", row_count=merged.labels.height)
    report.count("labels", merged.labels.height)
    report.count(
        "labelled_images", merged.labels["image_id"].n_unique() if merged.labels.height else 0
    )
    report.count("objects", merged.objects.height)
    report.count("classification_answers", merged.classifications.height)
    report.count("labels_in_this_export", fresh.labels.height)
    report.count("new_version", int(version != previous_version))
    report.tables["answers"] = (
        merged.classifications.group_by(["question", "answer"]).len().sort(["question", "answer"])
        if merged.classifications.height
        else pl.DataFrame()
    )
    report.tables["label_set"] = pl.DataFrame({"label_set_version": [version]})
    return report


def current_label_set_version(research_zone: Zone) -> str | None:
    parts = (*LABELS_DIR, "current.json")
    if not research_zone.exists(*parts):
        return None
    return json.loads(research_zone.read_bytes(*parts))["label_set_version"]
