"""Lesion stage: report lesions linked to images and pathology parts (no Dagster).

Inputs: the research zone's ``studies`` (scrubbed findings), ``images`` (pixel spacing),
``image_features`` (OCR'd laterality, clock and distance; caliper marks) and ``twins`` (a clean
frame inherits its caliper twin's marks); from the raw zone, the diagnosis labels (which
specimen belongs to which breast exam) and the parsed pathology parts. Outputs, research zone:
``lesions/lesions.parquet`` (one row per report lesion, with its pathology part) and
``lesions/lesion_images.parquet`` (one row per image linked to a lesion: score, evidence and the
lesion box from the calipers). Identifiers are pseudonymized before anything is written;
pathology text never leaves the raw zone (only the part letter, clock, distance and
interpretation do).
"""

from __future__ import annotations

from typing import cast

import polars as pl

from cadbusi_assets.catalog.build import images_and_resent_copies, without_images
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.records.lesions import (
    LESION_IMAGES_SCHEMA,
    caliper_measurement,
    extract_lesions,
    lesion_table,
    part_locations,
)
from cadbusi_assets.stages.report import MissingUpstream, PartitionReport
from cadbusi_assets.storage import Zone, read_all_partition_tables

LESIONS_PATH = ("lesions", "lesions.parquet")
LESION_IMAGES_PATH = ("lesions", "lesion_images.parquet")
RAW_LABELS_PATH = ("labels", "diagnosis_labels.parquet")
PATHOLOGY_TABLE = "pathology_reports"

_MEASUREMENT = pl.Struct(
    {
        "box": pl.List(pl.Int64),
        "size_cm": pl.Float64,
    }
)


def _measure(row: dict) -> dict:
    m = caliper_measurement(
        row["caliper_points"], row["physical_delta_x_cm"], row["physical_delta_y_cm"]
    )
    return {"box": list(m["box"]) if m["box"] else None, "size_cm": m["size_cm"]}


def image_evidence(research_zone: Zone) -> pl.DataFrame:
    """Per image: accession, OCR'd side/clock/distance, caliper size (cm) and caliper box.

    The images the catalog leaves out are left out here too: the batches a pass left open
    and the copies of an image re-sent on another date (one lesion, one image, however often
    the PACS sent it)."""
    images, resent = images_and_resent_copies(research_zone)
    if images is not None and resent.height:
        images = images.filter(~pl.col("image_id").is_in(resent["image_id"].implode()))
    return evidence_of_images(
        images,
        read_all_partition_tables(research_zone, "image_features"),
        without_images(read_all_partition_tables(research_zone, "twins"), resent),
    )


def evidence_of_images(
    images: pl.DataFrame | None, features: pl.DataFrame | None, twins: pl.DataFrame | None
) -> pl.DataFrame:
    """:func:`image_evidence` on tables already read: ``images`` (``image_id,
    accession_pseudo, physical_delta_x_cm, physical_delta_y_cm``), ``features`` (the
    ``image_features`` columns ``image_id, laterality, clock_position, nipple_distance_cm,
    has_calipers, caliper_points``) and ``twins`` (``clean_image_id, caliper_image_id``)."""
    if images is None or features is None or features.height == 0:
        return pl.DataFrame(
            schema={
                "image_id": pl.Utf8,
                "accession_pseudo": pl.Utf8,
                "laterality": pl.Utf8,
                "clock_position": pl.Utf8,
                "nipple_distance_cm": pl.Float64,
                "caliper_size_cm": pl.Float64,
                **{c: pl.Int64 for c in ("box_x0", "box_y0", "box_x1", "box_y1")},
            }
        )
    points_type = pl.List(pl.List(pl.Int64))
    frame = features.select(
        "image_id",
        "laterality",
        "clock_position",
        pl.col("nipple_distance_cm").cast(pl.Float64),
        pl.when(pl.col("has_calipers").fill_null(False))
        .then(pl.col("caliper_points"))
        .cast(points_type)
        .alias("caliper_points"),
    ).join(
        images.select(
            "image_id",
            "accession_pseudo",
            pl.col("physical_delta_x_cm").cast(pl.Float64),
            pl.col("physical_delta_y_cm").cast(pl.Float64),
        ),
        on="image_id",
        how="inner",
    )
    frame = inherit_twin_calipers(frame, twins)
    measured = frame.with_columns(
        pl.struct("caliper_points", "physical_delta_x_cm", "physical_delta_y_cm")
        .map_elements(_measure, return_dtype=_MEASUREMENT)
        .alias("_m")
    )
    box = pl.col("_m").struct.field("box")
    return measured.select(
        "image_id",
        "accession_pseudo",
        "laterality",
        "clock_position",
        "nipple_distance_cm",
        pl.col("_m").struct.field("size_cm").alias("caliper_size_cm"),
        box.list.get(0, null_on_oob=True).alias("box_x0"),
        box.list.get(1, null_on_oob=True).alias("box_y0"),
        box.list.get(2, null_on_oob=True).alias("box_x1"),
        box.list.get(3, null_on_oob=True).alias("box_y1"),
    ).sort("image_id")


def pathology_parts(raw_zone: Zone, pseudonymizer: Pseudonymizer) -> pl.DataFrame:
    """Parts of the specimens linked to breast exams, pseudonymized, located (clock/distance)."""
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "accession_pseudo": pl.Utf8,
        "side": pl.Utf8,
        "specimen_pseudo": pl.Utf8,
        "part_letter": pl.Utf8,
        "laterality": pl.Utf8,
        "part_clock": pl.Utf8,
        "part_distance_cm": pl.Float64,
        "interpretation": pl.Utf8,
        "cancer_type": pl.Utf8,
    }
    parts = read_all_partition_tables(raw_zone, PATHOLOGY_TABLE)
    if parts is None or parts.height == 0 or not raw_zone.exists(*RAW_LABELS_PATH):
        return pl.DataFrame(schema=schema)
    labels = raw_zone.read_parquet(*RAW_LABELS_PATH).filter(
        pl.col("specimen_accession").is_not_null()
    )
    if labels.height == 0:
        return pl.DataFrame(schema=schema)
    linked = labels.select("accession_number", "side", "specimen_accession").join(
        part_locations(parts), on="specimen_accession", how="inner"
    )
    accessions = {
        a: pseudonymizer.accession_number(a)
        for a in linked["accession_number"].drop_nulls().unique().to_list()
    }
    specimens = {
        s: pseudonymizer.other_identifier("specimen", s)
        for s in linked["specimen_accession"].drop_nulls().unique().to_list()
    }
    return linked.select(
        pl.col("accession_number")
        .replace_strict(accessions, default=None, return_dtype=pl.Utf8)
        .alias("accession_pseudo"),
        "side",
        pl.col("specimen_accession")
        .replace_strict(specimens, default=None, return_dtype=pl.Utf8)
        .alias("specimen_pseudo"),
        "part_letter",
        "laterality",
        "part_clock",
        "part_distance_cm",
        "interpretation",
        "cancer_type",
    ).cast(pl.Schema(schema))


RADIOLOGY_TABLE = "radiology_reports"
_HISTORY = r"(?im)^[ \t]*(?:HISTORY|INDICATION|CLINICAL HISTORY)[ \t]*:[ \t]*(.+)$"


def history_lesions(
    raw_zone: Zone, studies: pl.DataFrame, pseudonymizer: Pseudonymizer
) -> pl.DataFrame:
    """Lesions of studies without a findings section (biopsy notes), read from the report's
    HISTORY/INDICATION line in the raw zone ("Suspicious finding: right breast 8:30, 2 cm from
    the nipple"). Only the structured fields leave the raw zone: ``text`` is dropped."""
    missing = studies.filter(pl.col("findings").is_null())
    reports = read_all_partition_tables(raw_zone, RADIOLOGY_TABLE)
    empty = extract_lesions(
        pl.DataFrame(
            schema={"patient_pseudo": pl.Utf8, "accession_pseudo": pl.Utf8, "findings": pl.Utf8}
        ),
        key_columns=("patient_pseudo", "accession_pseudo"),
    )
    if missing.height == 0 or reports is None or "report_text" not in reports.columns:
        return empty
    accessions = reports["accession_number"].drop_nulls().unique().to_list()
    pseudo = {a: pseudonymizer.accession_number(a) for a in accessions}
    wanted = missing.select("accession_pseudo", "patient_pseudo", "study_laterality")
    history = (
        reports.select(
            pl.col("accession_number")
            .replace_strict(pseudo, default=None, return_dtype=pl.Utf8)
            .alias("accession_pseudo"),
            # each ';' clause of the indication names one finding ("...: left breast 6:00, 6 cm
            # from the nipple; right breast 10:00, 6.5 cm FN")
            pl.col("report_text")
            .str.extract(_HISTORY, 1)
            .str.replace_all(";", "; finding:", literal=True)
            .alias("findings"),
        )
        .filter(pl.col("findings").is_not_null())
        .unique("accession_pseudo", keep="first")
        .join(wanted, on="accession_pseudo", how="inner")
    )
    if history.height == 0:
        return empty
    found = extract_lesions(history, key_columns=("patient_pseudo", "accession_pseudo"))
    return found.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("text"), pl.lit("rules-history").alias("method")
    )


def build_lesions(
    raw_zone: Zone, research_zone: Zone, pseudonymizer: Pseudonymizer
) -> PartitionReport:
    studies = read_all_partition_tables(research_zone, "studies")
    if studies is None:
        raise MissingUpstream("No deidentified_images partitions yet (no studies table).")
    report_lesions = pl.concat(
        [
            extract_lesions(
                studies.filter(pl.col("findings").is_not_null()),
                key_columns=("patient_pseudo", "accession_pseudo"),
            ),
            history_lesions(raw_zone, studies, pseudonymizer),
        ],
        how="vertical_relaxed",
    )
    images = image_evidence(research_zone)
    parts = pathology_parts(raw_zone, pseudonymizer)
    lesions, links = lesion_table(report_lesions, images, parts)
    research_zone.write_parquet(LESIONS_PATH, lesions)
    research_zone.write_parquet(LESION_IMAGES_PATH, links.cast(LESION_IMAGES_SCHEMA))

    report = PartitionReport("all", row_count=lesions.height)
    report.count("report_lesions", lesions.height)
    report.count("lesions_with_images", int((lesions["n_images"] > 0).sum()))
    report.count("lesions_with_pathology", int(lesions["part_letter"].is_not_null().sum()))
    report.count("linked_images", links.height)
    report.count("linked_images_with_box", int(links["box_x0"].is_not_null().sum()))
    located = images.filter(
        pl.col("clock_position").is_not_null() | pl.col("nipple_distance_cm").is_not_null()
    ).height
    report.count("images_with_ocr_location", located)
    if links.height:
        report.count(
            "median_match_score", float(cast("float | None", links["score"].median()) or 0.0)
        )
    return report


def inherit_twin_calipers(frame: pl.DataFrame, twins: pl.DataFrame | None) -> pl.DataFrame:
    """A clean frame without marks of its own takes the ``caliper_points`` of its caliper twin
    (the first twin by image id when there are several)."""
    if twins is None or not twins.height:
        return frame
    inherited = (
        twins.join(
            frame.select(pl.col("image_id").alias("caliper_image_id"), "caliper_points"),
            on="caliper_image_id",
        )
        .filter(pl.col("caliper_points").list.len() > 0)
        .group_by("clean_image_id")
        .agg(pl.col("caliper_points").sort_by("caliper_image_id").first().alias("_twin"))
        .rename({"clean_image_id": "image_id"})
    )
    return (
        frame.join(inherited, on="image_id", how="left")
        .with_columns(
            pl.when(pl.col("caliper_points").list.len() > 0)
            .then(pl.col("caliper_points"))
            .otherwise(pl.col("_twin"))
            .alias("caliper_points")
        )
        .drop("_twin")
    )
