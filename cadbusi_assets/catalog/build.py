"""Build ``catalog/metadata.duckdb`` from the research zone.

The catalog is an output, never a workspace: every build starts from an empty file, loads
every partition table with a bulk insert from polars (about 200k rows/s; per-row inserts are
250x slower), adds the views, checks keys, and replaces the previous file atomically. One writer
at a time (the Dagster asset runs in the ``duckdb_catalog`` pool); readers open it read-only.

Every key that must be unique is checked (:data:`UNIQUE_KEYS`): image, instance (pseudonymous
SOP Instance UID), study (accession and Study Instance UID), diagnosis label, data row, each
label id of the current label set, and the pixel hash per pseudonymous patient (the same pixels
stored twice for one patient). The result is in :attr:`CatalogReport.duplicate_keys` and in the
catalog itself (table ``catalog_info``), so a reader can refuse a catalog that failed it.

An image a PACS re-sent on another date under new UIDs (the same pixels for the same
pseudonymous patient in two batches) is not a duplicate to fail on: the catalog keeps the copy
of the smallest instance id (a choice that depends only on what is stored, not on which date ran
last) and leaves the others out of the ``image_catalog`` view (what exports read) and of
``twins``; ``images`` keeps every stored row, the copies are listed with the reason in
``left_out_images`` (and the ``exclusions`` view), and the pixel-hash check does not count
them. Nothing stored is changed. Copies within one
date are the de-identification's to resolve (:data:`~cadbusi_assets.stages.deidentification.
RESENT_REASON`); the same pixels twice in one batch still fail the check.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from cadbusi_assets.storage import Zone, read_all_partition_tables
from cadbusi_assets.storage.tables import left_out_batches, open_batches, retired_batches
from cadbusi_assets.storage.zones import temporary_directory

CATALOG_PATH = ("catalog", "metadata.duckdb")

#: Per-partition tables (``tables/<name>/*.parquet``) loaded into the catalog under the same name.
PARTITION_TABLES = (
    "studies",
    "instances",
    "images",
    "quarantine",
    "image_features",
    "twins",
    "inpainted_images",
    "labelbox_data_rows",
)
#: Single-file tables: catalog name → zone path.
SINGLE_TABLES = {
    "diagnosis_labels": ("labels", "diagnosis_labels.parquet"),
    "label_annotations": ("labels", "labelbox", "labels.parquet"),
    "label_objects": ("labels", "labelbox", "objects.parquet"),
    "label_classifications": ("labels", "labelbox", "classifications.parquet"),
    # superseded label versions (relabelled, re-exported or deleted at the source)
    "label_history": ("labels", "labelbox", "history", "labels.parquet"),
    "label_classifications_history": ("labels", "labelbox", "history", "classifications.parquet"),
}
#: Columns too bulky or internal for the catalog.
DROP_COLUMNS = {"image_features": ["signature"]}
#: Keys that must be unique: check name → (table, columns). Rows with a NULL in the key are
#: not compared (a missing hash or UID is not a duplicate).
UNIQUE_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "image_id": ("images", ("image_id",)),
    "instance_id": ("instances", ("instance_id",)),
    "sop_instance_uid": ("instances", ("sop_uid_pseudo",)),
    "study_id": ("studies", ("accession_pseudo",)),
    "study_instance_uid": ("studies", ("study_uid_pseudo",)),
    "image_features.image_id": ("image_features", ("image_id",)),
    "inpainted_images.image_id": ("inpainted_images", ("image_id",)),
    "data_row_global_key": ("labelbox_data_rows", ("global_key",)),
    "diagnosis_label": ("diagnosis_labels", ("accession_number", "side")),
    "label_id": ("label_annotations", ("label_id",)),
    "pixel_hash_per_patient": ("images", ("patient_pseudo", "png_sha256")),
}
#: Reported, not failed: the same pixels under two pseudonymous patients (a changed key re-using
#: old images would show here; so would two identical blank frames).
PIXEL_HASH_ACROSS_PATIENTS = "pixel_hash_across_patients"
#: Reported, not failed: images left out as copies of an image of another batch (re-sent).
RESENT_LEFT_OUT = "images_left_out_resent_on_another_date"
#: Reported, not failed: study batches left out because a pass stopped between their tables.
INTERRUPTED_LEFT_OUT = "study_batches_left_out_interrupted"
#: Reported, not failed: interrupted study batches of no study date that a person retired
#: (``cadbusi open-batches --retire-unmatched``): left out for good, nothing re-runs them.
RETIRED_LEFT_OUT = "study_batches_left_out_retired"
#: What the catalog leaves out, counted in ``catalog_info.left_out`` (and so in every export).
LEFT_OUT_COUNTS = (INTERRUPTED_LEFT_OUT, RETIRED_LEFT_OUT, RESENT_LEFT_OUT)
#: Reason of an image left out of the catalog as a re-sent copy.
RESENT_REASON = "same pixels as an image of the same patient on another date (re-sent)"
LEFT_OUT_SCHEMA = {
    "image_id": pl.Utf8,
    "instance_id": pl.Utf8,
    "accession_pseudo": pl.Utf8,
    "kept_image_id": pl.Utf8,
    "reason": pl.Utf8,
}

VIEWS = {
    # One row per image with study, features, inpainting and the label of its breast (re-sent
    # copies left out).
    "image_catalog": """
        SELECT i.*, s.patient_pseudo AS study_patient_pseudo, s.age_years, s.exam_description,
               s.study_laterality, s.birads, s.is_biopsy,
               f.* EXCLUDE (image_id, instance_id, frame, accession_pseudo, is_cine, rows, columns, study_laterality),
               p.inpainted_path,
               l.has_malignant, l.label AS breast_label, l.rule AS label_rule
        FROM images i
        LEFT JOIN studies s USING (accession_pseudo)
        LEFT JOIN image_features f USING (image_id)
        LEFT JOIN inpainted_images p USING (image_id)
        LEFT JOIN diagnosis_labels l
               ON l.accession_number = i.accession_pseudo
              AND l.side = COALESCE(
                    CASE WHEN s.study_laterality IN ('LEFT', 'RIGHT') THEN s.study_laterality END,
                    CASE WHEN f.laterality IN ('LEFT', 'RIGHT') THEN f.laterality END)
        WHERE i.image_id NOT IN (SELECT image_id FROM left_out_images)
    """,
    # Everything excluded anywhere, with the stage and the reason.
    "exclusions": """
        SELECT 'instance' AS level, raw_instance_key AS item, accession_pseudo, stage, reason
        FROM quarantine
        UNION ALL
        SELECT 'image' AS level, image_id AS item, accession_pseudo, 'image_features' AS stage,
               exclusion_reason AS reason
        FROM image_features WHERE exclusion_reason IS NOT NULL
        UNION ALL
        SELECT 'image' AS level, image_id AS item, accession_pseudo, 'catalog' AS stage, reason
        FROM left_out_images
    """,
}


@dataclass
class CatalogReport:
    path: str
    tables: dict[str, int] = field(default_factory=dict)
    #: check name → number of key values that occur more than once (0: unique)
    duplicate_keys: dict[str, int] = field(default_factory=dict)
    #: check name → up to 3 duplicated key values (pseudonymous ids and hashes only)
    duplicate_examples: dict[str, list[str]] = field(default_factory=dict)
    missing_tables: list[str] = field(default_factory=list)
    label_set_version: str | None = None
    #: informational counts that do not fail the check
    warnings: dict[str, int] = field(default_factory=dict)

    @property
    def unique_keys_passed(self) -> bool:
        return not any(self.duplicate_keys.values())


#: Rows a check does not compare: the re-sent copies the catalog leaves out.
#: Rows a key check leaves out: check name → (the table or column the filter needs, the
#: filter). A data row marked ``withdrawn`` is the record of a row deleted (or to delete) in
#: Labelbox: its study's old date keeps it when the study moves to another date, which sends the
#: same image under the same global key (the check failed on every moved study, and with it
#: every export).
KEY_FILTERS = {
    "pixel_hash_per_patient": (
        "left_out_images",
        "image_id NOT IN (SELECT image_id FROM left_out_images)",
    ),
    "data_row_global_key": ("withdrawn", "NOT coalesce(withdrawn, false)"),
}


def _duplicates(
    con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], where: str = ""
) -> tuple[int, list[str]]:
    cols = ", ".join(columns)
    not_null = " AND ".join([*(f"{c} IS NOT NULL" for c in columns), *([where] if where else [])])
    rows = con.execute(
        f"SELECT concat_ws('|', {cols}) FROM {table} WHERE {not_null} "
        f"GROUP BY {cols} HAVING count(*) > 1 ORDER BY 1"
    ).fetchall()
    return len(rows), [str(r[0]) for r in rows[:3]]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    }


def check_unique_keys(con: duckdb.DuckDBPyConnection, report: CatalogReport) -> None:
    """Fill ``report.duplicate_keys`` for every key of :data:`UNIQUE_KEYS` whose table is there."""
    present = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    for name, (table, columns) in UNIQUE_KEYS.items():
        if table not in present or not set(columns) <= _columns(con, table):
            continue
        needs, where = KEY_FILTERS.get(name, ("", ""))
        if needs and needs not in present and needs not in _columns(con, table):
            where = ""
        count, examples = _duplicates(con, table, columns, where)
        report.duplicate_keys[name] = count
        if count:
            report.duplicate_examples[name] = examples
    if "images" in present and {"patient_pseudo", "png_sha256"} <= _columns(con, "images"):
        ((across,),) = con.execute(
            "SELECT count(*) FROM (SELECT png_sha256 FROM images WHERE png_sha256 IS NOT NULL "
            "GROUP BY png_sha256 HAVING count(DISTINCT patient_pseudo) > 1)"
        ).fetchall()
        report.warnings[PIXEL_HASH_ACROSS_PATIENTS] = int(across)


#: Written by label ingestion next to the label tables: ``{"label_set_version": ...}``.
LABEL_SET_POINTER = ("labels", "labelbox", "current.json")


def _label_set_version(zone: Zone) -> str | None:
    """The label set the catalog loads (read before the label tables: if an ingestion runs
    meanwhile, the catalog names the older set and an export refuses it as stale)."""
    if not zone.exists(*LABEL_SET_POINTER):
        return None
    return json.loads(zone.read_bytes(*LABEL_SET_POINTER)).get("label_set_version")


_BATCH = "__batch"


def _images_with_batch(zone: Zone) -> pl.DataFrame | None:
    """All batches' ``images`` (as :func:`read_all_partition_tables`) with a batch column."""
    left_out = left_out_batches(zone)
    frames = []
    for path in zone.iter_files("tables", "images", suffix=".parquet"):
        batch = path.name.removesuffix(".parquet")
        if batch in left_out:
            continue
        frame = (
            pl.read_parquet(path.read_bytes())
            if not zone.local
            else pl.read_parquet(str(path.path))
        )
        if frame.height or frame.width:
            frames.append(frame.with_columns(pl.lit(batch).alias(_BATCH)))
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def resent_copies(images: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``images`` (with :data:`_BATCH`) that copy an image of another batch: per
    pseudonymous patient and pixel hash the copy kept is the smallest (instance id, batch); a
    row of another batch and another instance is a re-sent copy (:data:`LEFT_OUT_SCHEMA`).
    Rows of the kept batch stay (two copies in one batch still fail the check), and so do rows
    of the kept instance itself (one instance in two batches fails the instance check)."""
    key = ["patient_pseudo", "png_sha256"]
    if not {*key, "instance_id", "image_id", _BATCH} <= set(images.columns):
        return pl.DataFrame(schema=LEFT_OUT_SCHEMA)
    keyed = images.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in key))
    kept = (
        keyed.sort("instance_id", _BATCH, "image_id")
        .group_by(key, maintain_order=True)
        .first()
        .select(
            *key,
            pl.col("instance_id").alias("kept_instance_id"),
            pl.col(_BATCH).alias("kept_batch"),
            pl.col("image_id").alias("kept_image_id"),
        )
    )
    return (
        keyed.join(kept, on=key)
        .filter(
            (pl.col(_BATCH) != pl.col("kept_batch"))
            & (pl.col("instance_id") != pl.col("kept_instance_id"))
        )
        .with_columns(pl.lit(RESENT_REASON).alias("reason"))
        .select(list(LEFT_OUT_SCHEMA))
        .cast(LEFT_OUT_SCHEMA)  # type: ignore[arg-type]
        .sort("image_id")
    )


def images_and_resent_copies(zone: Zone) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """Every batch's ``images`` (open batches left out, as :func:`read_all_partition_tables`)
    and the rows of them that are re-sent copies of an image of another batch
    (:func:`resent_copies`, :data:`LEFT_OUT_SCHEMA`): what the catalog leaves out of
    ``image_catalog`` and ``twins``, and every other reader of all batches (the lesions) alike."""
    frame = _images_with_batch(zone)
    if frame is None:
        return None, pl.DataFrame(schema=LEFT_OUT_SCHEMA)
    return frame.drop(_BATCH), resent_copies(frame)


def without_images(twins: pl.DataFrame | None, gone: pl.DataFrame) -> pl.DataFrame | None:
    """``twins`` without the pairs of which either image is in ``gone`` (``image_id``)."""
    if twins is None or not gone.height:
        return twins
    if not {"caliper_image_id", "clean_image_id"} <= set(twins.columns):
        return twins
    ids = gone["image_id"].implode()
    return twins.filter(
        ~pl.col("caliper_image_id").is_in(ids) & ~pl.col("clean_image_id").is_in(ids)
    )


def _load(zone: Zone) -> tuple[dict[str, pl.DataFrame], list[str]]:
    frames: dict[str, pl.DataFrame] = {}
    missing: list[str] = []
    left_out = pl.DataFrame(schema=LEFT_OUT_SCHEMA)
    # a batch whose one pass stopped between its tables (killed, a failed write) mixes two
    # runs: read_all_partition_tables leaves it out until its date is re-run
    for name in PARTITION_TABLES:
        if name == "images":
            frame, left_out = images_and_resent_copies(zone)
        elif name == "twins":
            frame = without_images(read_all_partition_tables(zone, name), left_out)
        else:
            frame = read_all_partition_tables(zone, name)
        if frame is None:
            missing.append(name)
            continue
        frames[name] = frame.drop(DROP_COLUMNS.get(name, []), strict=False)
    for name, parts in SINGLE_TABLES.items():
        if zone.exists(*parts):
            frames[name] = zone.read_parquet(*parts)
        else:
            missing.append(name)
    frames["left_out_images"] = left_out
    return frames, missing


def _empty_for_views(con: duckdb.DuckDBPyConnection, present: set[str]) -> None:
    """Create empty stand-ins so the views always exist (a fresh deployment has no labels yet)."""
    stand_ins = {
        "studies": "accession_pseudo VARCHAR, patient_pseudo VARCHAR, study_uid_pseudo VARCHAR, age_years INTEGER, exam_description VARCHAR, study_laterality VARCHAR, birads VARCHAR, is_biopsy BOOLEAN, findings VARCHAR, impression VARCHAR",
        "images": "image_id VARCHAR, instance_id VARCHAR, frame INTEGER, accession_pseudo VARCHAR, is_cine BOOLEAN, rows INTEGER, columns INTEGER",
        "image_features": "image_id VARCHAR, instance_id VARCHAR, frame INTEGER, accession_pseudo VARCHAR, is_cine BOOLEAN, rows INTEGER, columns INTEGER, study_laterality VARCHAR, laterality VARCHAR, exclusion_reason VARCHAR",
        "inpainted_images": "image_id VARCHAR, inpainted_path VARCHAR",
        "diagnosis_labels": "accession_number VARCHAR, side VARCHAR, has_malignant INTEGER, label VARCHAR, rule VARCHAR",
        "quarantine": "raw_instance_key VARCHAR, accession_pseudo VARCHAR, stage VARCHAR, reason VARCHAR",
    }
    for name, columns in stand_ins.items():
        if name not in present:
            con.execute(f"CREATE TABLE {name} ({columns})")


def inputs_digest(zone: Zone) -> str:
    """A digest of everything the catalog is built from: every file of its tables (the
    per-batch ones and the single ones) with its name, and the batches left out. A study date
    re-run after the catalog was built changes it, whichever Dagster instance ran it (the
    export's other staleness check reads only its own instance's materializations)."""
    digest = hashlib.sha256()
    for name in PARTITION_TABLES:
        # one listing a table on an object store (its checksums), no download
        for file_name, tag in zone.content_tags("tables", name, suffix=".parquet"):
            digest.update(f"{name}/{file_name}\0".encode())
            digest.update(tag)
    for name, parts in sorted(SINGLE_TABLES.items()):
        single = zone.content_tag(*parts)
        if single is not None:
            digest.update(f"{name}\0".encode())
            digest.update(single)
    digest.update(json.dumps(sorted(left_out_batches(zone))).encode())
    return digest.hexdigest()[:32]


def build_metadata_db(research_zone: Zone) -> CatalogReport:
    label_set = _label_set_version(research_zone)
    # before the tables are read: a date re-run meanwhile makes the catalog stale, not right
    digest = inputs_digest(research_zone)
    frames, missing = _load(research_zone)
    with temporary_directory("catalog-") as tmp:
        local = Path(tmp) / "metadata.duckdb"
        con = duckdb.connect(str(local))
        try:
            report = CatalogReport(path="/".join(CATALOG_PATH), missing_tables=missing)
            interrupted = len(open_batches(research_zone))
            if interrupted:
                report.warnings[INTERRUPTED_LEFT_OUT] = interrupted
            retired = len(retired_batches(research_zone) - open_batches(research_zone))
            if retired:
                report.warnings[RETIRED_LEFT_OUT] = retired
            if frames["left_out_images"].height:
                report.warnings[RESENT_LEFT_OUT] = frames["left_out_images"].height
            for name, frame in sorted(frames.items()):
                con.register("frame_in", frame.to_arrow())
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame_in")
                con.unregister("frame_in")
                report.tables[name] = frame.height
            _empty_for_views(con, set(frames))
            for view, sql in VIEWS.items():
                con.execute(f"CREATE VIEW {view} AS {sql}")
            check_unique_keys(con, report)
            report.label_set_version = label_set
            left_out = {k: report.warnings[k] for k in LEFT_OUT_COUNTS if report.warnings.get(k)}
            con.execute(
                "CREATE TABLE catalog_info AS SELECT ? AS label_set_version, "
                "? AS unique_keys_passed, ? AS duplicate_keys, ? AS left_out, "
                "? AS inputs_digest",
                [
                    report.label_set_version,
                    report.unique_keys_passed,
                    json.dumps(report.duplicate_keys, sort_keys=True),
                    json.dumps(left_out, sort_keys=True),
                    digest,
                ],
            )
            con.execute("CHECKPOINT")
        finally:
            con.close()
        # staged under a name of its own and renamed over the catalog (two builds at once,
        # automation and a user, each leave a whole catalog; the last one stays)
        research_zone.copy_file_in(local, CATALOG_PATH)
    return report


@dataclass(frozen=True)
class CatalogInfo:
    """What a catalog file says about itself (``catalog_info``)."""

    label_set_version: str | None
    unique_keys_passed: bool | None
    duplicate_keys: dict[str, int]
    #: what the catalog left out (:data:`LEFT_OUT_COUNTS`, counts above zero only; empty for a
    #: catalog built before it was recorded)
    left_out: dict[str, int] = field(default_factory=dict)
    #: :func:`inputs_digest` when it was built (None: a catalog built before it was recorded)
    inputs_digest: str | None = None


def read_catalog_info(con: duckdb.DuckDBPyConnection) -> CatalogInfo:
    """The catalog's own record of its label set and key check (a catalog built before
    ``catalog_info`` existed gives ``unique_keys_passed=None``: unknown)."""
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'catalog_info'"
    ).fetchall()[0][0]
    if not present:
        return CatalogInfo(None, None, {})
    columns = _columns(con, "catalog_info")
    optional = [c if c in columns else "NULL" for c in ("left_out", "inputs_digest")]
    rows = con.execute(  # every row fetched: the connection is free for the next query
        "SELECT label_set_version, unique_keys_passed, duplicate_keys, "
        f"{', '.join(optional)} FROM catalog_info"
    ).fetchall()
    if not rows:  # the table is there but empty: nothing recorded, as if absent
        return CatalogInfo(None, None, {})
    version, passed, duplicates, left_out, digest = rows[0]
    return CatalogInfo(
        version,
        bool(passed),
        json.loads(duplicates or "{}"),
        json.loads(left_out or "{}"),
        digest,
    )


def catalog_problems(research_zone: Zone, current_label_set: str | None) -> list[str]:
    """Why the catalog file itself must not be exported (empty: it may): it is missing, its
    unique-key check failed, it holds another label set than the current one (labels were
    ingested after the catalog was built), or the tables it is built from changed since
    (:func:`inputs_digest`)."""
    try:
        con = open_catalog(research_zone)
    except FileNotFoundError as exc:
        return [str(exc)]
    try:
        info = read_catalog_info(con)
    finally:
        con.close()
    problems = []
    if info.unique_keys_passed is False:
        failed = ", ".join(sorted(k for k, v in info.duplicate_keys.items() if v))
        problems.append(f"the catalog has duplicate keys ({failed})")
    if info.unique_keys_passed is not None and info.label_set_version != current_label_set:
        problems.append(
            f"the catalog holds label set {info.label_set_version or 'none'} but the current "
            f"one is {current_label_set or 'none'}"
        )
    if info.inputs_digest is not None and info.inputs_digest != inputs_digest(research_zone):
        problems.append(
            "the research zone's tables changed after the catalog was built (a study date "
            "was processed again since, perhaps through another Dagster instance)"
        )
    return problems


def open_catalog(research_zone: Zone) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog (local zones; remote ones are copied to a temp file)."""
    if research_zone.local:
        path = research_zone.local_path(*CATALOG_PATH)
        if not path.exists():
            raise FileNotFoundError(
                "The metadata catalog does not exist yet; materialize metadata_db."
            )
        return duckdb.connect(str(path), read_only=True)
    data = research_zone.read_bytes(*CATALOG_PATH)
    with tempfile.NamedTemporaryFile(
        prefix="cadbusi-catalog-", suffix=".duckdb", delete=False
    ) as handle:
        handle.write(data)
    try:
        return duckdb.connect(handle.name, read_only=True)
    finally:
        # the open connection keeps the file's data; its name goes at once, so no copy is
        # left behind by a connection nobody closes or a killed process (one a call before)
        Path(handle.name).unlink(missing_ok=True)
