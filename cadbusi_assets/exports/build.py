"""Build one dated export folder ``exports/<key>/`` in the research zone.

The folder is assembled in a staging folder and appears in one step (a rename on local disk;
``_COMPLETE`` written last on object stores). An existing export is never modified: building the
same key again with the same inputs verifies that the result is byte-identical and reports so;
different content is refused with :class:`ExportExistsError`. An export whose ``_COMPLETE`` is
missing (an upload to an object store cut off) is finished by the next build of its key, once
what it holds is checked against the new build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl
import yaml
from PIL import Image, ImageChops, ImageDraw

from cadbusi_assets.catalog import open_catalog, read_catalog_info
from cadbusi_assets.exports.card import build_card
from cadbusi_assets.exports.compare import caveats, previous_export_key, read_manifest, what_changed
from cadbusi_assets.exports.lesion_masks import (
    GEOMETRY_SCHEMA,
    LABELBOX_LABELS_PATH,
    LABELBOX_OBJECTS_PATH,
    LESION_OBJECT_NAMES,
    caliper_lesion_geometry,
    label_lesion_geometry,
    lesion_geometry,
    mask_source,
    rejected_lesion_labels,
)
from cadbusi_assets.exports.lineage import build_lineage
from cadbusi_assets.exports.shards import DEFAULT_SHARD_MAX_BYTES, write_shards
from cadbusi_assets.exports.splits import (
    DEFAULT_RATIOS,
    balance_table,
    patients_in_several_splits,
    stratified_splits,
)
from cadbusi_assets.parallel import parallel_map
from cadbusi_assets.storage import Zone, parquet_bytes
from cadbusi_assets.storage.zones import temporary_directory

EXPORTS_DIR = "exports"
SUMS_FILE = "SHA256SUMS"
COMPLETE_MARKER = "_COMPLETE"


class ExportExistsError(RuntimeError):
    """An export with this key exists with different content (exports are immutable)."""


class ExportRefusedError(RuntimeError):
    """Nothing to export, or the inputs changed while the export was cut: nothing written."""


@dataclass(frozen=True)
class ExportConfig:
    key: str
    include_excluded: bool = False
    include_unlabeled: bool = True
    include_cine_frames: bool = True
    crop_to_field_of_view: bool = True
    use_inpainted: bool = True
    prefer_clean_twin: bool = True
    split_salt: str = "cadbusi-v1"
    split_ratios: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATIOS))
    #: "stratified" (label x scanner, balanced by images) or "hash" (the plain patient hash)
    split_method: str = "stratified"
    #: k cross-validation folds over the non-test patients (0: none)
    folds: int = 0
    #: lesion masks (``lesion_masks/``) from Labelbox lesion objects, then caliper boxes
    lesion_masks_from_labels: bool = True
    lesion_masks_from_calipers: bool = True
    lesion_object_names: tuple[str, ...] = LESION_OBJECT_NAMES
    #: Parquet shards under ``data/`` (Hugging Face ``datasets`` layout, PNG bytes inside)
    parquet_shards: bool = True
    shard_max_bytes: int = DEFAULT_SHARD_MAX_BYTES

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["split_ratios"] = dict(self.split_ratios)
        out["lesion_object_names"] = list(self.lesion_object_names)
        return out


@dataclass
class ExportReport:
    key: str
    path: str
    images: int
    bags: int
    patients: int
    digest: str
    already_existed: bool
    dropped: dict[str, int]
    splits: dict[str, int]
    labels: dict[str, int]
    #: images per split and label, e.g. {"test": {"0": 12, "1": 9}}
    split_labels: dict[str, dict[str, int]] = field(default_factory=dict)
    previous_key: str | None = None
    #: what the catalog left out before the export chose (counts: interrupted dates, re-sent
    #: copies; :data:`~cadbusi_assets.catalog.build.LEFT_OUT_COUNTS`)
    left_out_of_catalog: dict[str, int] = field(default_factory=dict)


def export_path(key: str) -> tuple[str, str]:
    return (EXPORTS_DIR, key)


#: the reason an image of a patient on the opt-out list is left out of an export
WITHDRAWN_REASON = "patient opted out (their study dates not re-run yet)"


def _select(
    catalog: pl.DataFrame,
    twins: pl.DataFrame,
    config: ExportConfig,
    withdrawn: frozenset[str] = frozenset(),
) -> tuple[pl.DataFrame, dict[str, int]]:
    dropped: dict[str, int] = {}

    def drop(frame: pl.DataFrame, mask: pl.Expr, reason: str) -> pl.DataFrame:
        n = frame.filter(mask).height
        if n:
            dropped[reason] = dropped.get(reason, 0) + n
        return frame.filter(~mask)

    frame = catalog
    if withdrawn:  # whatever include_excluded says: their consent is gone
        frame = drop(frame, pl.col("patient_pseudo").is_in(sorted(withdrawn)), WITHDRAWN_REASON)
    if not config.include_excluded:
        excluded = frame.filter(pl.col("exclusion_reason").is_not_null())
        for reason, n in (
            excluded.group_by("exclusion_reason").len().sort("exclusion_reason").iter_rows()
        ):
            dropped[f"excluded: {reason}"] = int(n)
        frame = frame.filter(pl.col("exclusion_reason").is_null())
    if config.prefer_clean_twin and twins.height:
        frame = drop(
            frame,
            pl.col("image_id").is_in(twins["caliper_image_id"].to_list()),
            "caliper image whose clean twin is exported instead",
        )
    if not config.include_cine_frames:
        frame = drop(
            frame, pl.col("is_cine").fill_null(False), "cine frame (include_cine_frames: false)"
        )
    frame = frame.with_columns(label=pl.col("has_malignant").fill_null(-1).cast(pl.Int32))
    if not config.include_unlabeled:
        frame = drop(frame, pl.col("label") < 0, "no diagnosis label (include_unlabeled: false)")
    return frame.sort("image_id"), dropped


@dataclass(frozen=True)
class _ImageJob:
    zone: Zone
    source_path: str
    crop: tuple[int, int, int, int] | None
    polygon: tuple[tuple[float, float], ...] | None
    out_image: str
    out_mask: str | None
    #: lesion geometry in full-image pixels (boxes x0, y0, x1, y1; polygons of (x, y))
    lesion_boxes: tuple[tuple[int, int, int, int], ...] = ()
    lesion_polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    out_lesion_mask: str | None = None
    #: research-zone paths of the annotator's masks (full-image 0/255 PNGs), united with the rest
    lesion_mask_files: tuple[str, ...] = ()


class _MaskDoesNotFit(ValueError):
    """A stored annotator mask is not of its image's size (the image changed since)."""


#: ``lesion_mask_left_out`` of an image whose annotator mask no longer fits it
MASK_DOES_NOT_FIT = (
    "annotator mask not of the image's size (the image changed since the label was "
    "ingested), no lesion mask written"
)


def _mask_png(
    size: tuple[int, int],
    crop: tuple[int, int, int, int] | None,
    polygons: Sequence[Sequence[Sequence[float]]] = (),
    boxes: Sequence[Sequence[int]] = (),
    masks: Sequence[Image.Image] = (),
) -> bytes:
    """A binary (0/255) mask of the full image: ``masks`` (full-image, nonzero = lesion) united
    with the drawn polygons and boxes, then cropped like the image. :class:`_MaskDoesNotFit`
    when a mask is not of ``size`` (never a mask drawn without it)."""
    mask = Image.new("L", size, 0)
    for annotated in masks:
        if annotated.size != size:
            raise _MaskDoesNotFit(f"a {annotated.size} mask on a {size} image")
        mask = ImageChops.lighter(mask, annotated.convert("L").point(lambda v: 255 * (v > 0)))
    draw = ImageDraw.Draw(mask)
    for polygon in polygons:
        if len(polygon) >= 3:
            draw.polygon([(float(x), float(y)) for x, y in polygon], fill=255)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), fill=255)
    if crop:
        x0, y0, x1, y1 = crop
        mask = mask.crop((x0, y0, x1 + 1, y1 + 1))
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _annotator_mask(zone: Zone, path: str) -> Image.Image:
    """A stored annotator mask (checked against the image's size at label ingestion)."""
    with Image.open(io.BytesIO(zone.read_bytes(*path.split("/")))) as image:
        image.load()
        return image.convert("L")


def _render(job: _ImageJob) -> tuple[bytes, bytes | None, bytes | None, int, int]:
    with Image.open(io.BytesIO(job.zone.read_bytes(job.source_path))) as image:
        image.load()
        full = image
        shown: Image.Image = image
        if job.crop:
            x0, y0, x1, y1 = job.crop
            shown = image.crop((x0, y0, x1 + 1, y1 + 1))
        out = io.BytesIO()
        shown.save(out, format="PNG", compress_level=1)
        mask_bytes = None
        if job.out_mask and job.polygon and len(job.polygon) >= 3:
            mask_bytes = _mask_png(full.size, job.crop, polygons=[job.polygon])
        lesion_bytes = None
        if job.out_lesion_mask and (
            job.lesion_boxes or job.lesion_polygons or job.lesion_mask_files
        ):
            annotated = [_annotator_mask(job.zone, path) for path in job.lesion_mask_files]
            try:
                lesion_bytes = _mask_png(
                    full.size, job.crop, job.lesion_polygons, job.lesion_boxes, annotated
                )
            except _MaskDoesNotFit:
                lesion_bytes = None  # left out, with its reason (see _assemble)
        return out.getvalue(), mask_bytes, lesion_bytes, shown.width, shown.height


def _valid_crop(config: ExportConfig) -> pl.Expr:
    """The same test as :func:`_crop_of`, as an expression (when the image is really cropped)."""
    corners = [pl.col(c).is_not_null() for c in ("crop_x0", "crop_y0", "crop_x1", "crop_y1")]
    return (
        pl.lit(config.crop_to_field_of_view)
        & pl.all_horizontal(corners)
        & (pl.col("crop_x1") > pl.col("crop_x0"))
        & (pl.col("crop_y1") > pl.col("crop_y0"))
    ).fill_null(False)


def _crop_of(row: Mapping[str, Any]) -> tuple[int, int, int, int] | None:
    values: list[Any] = [row.get(k) for k in ("crop_x0", "crop_y0", "crop_x1", "crop_y1")]
    if any(v is None for v in values):
        return None
    x0, y0, x1, y1 = (int(v) for v in values)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _write(folder: Path, relative: str, data: bytes) -> None:
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _sums(folder: Path) -> str:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in (SUMS_FILE, COMPLETE_MARKER):
            continue
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {rel}")
    return "\n".join(lines) + "\n"


def _image_batches(research_zone: Zone) -> pl.DataFrame:
    """image_id → the research-zone batch (opaque partition name) its row came from."""
    frames = []
    for path in research_zone.iter_files("tables", "images", suffix=".parquet"):
        name = path.name.removesuffix(".parquet")
        ids = pl.read_parquet(io.BytesIO(path.read_bytes()), columns=["image_id"])
        frames.append(ids.with_columns(batch=pl.lit(name)))
    if not frames:
        return pl.DataFrame(schema={"image_id": pl.Utf8, "batch": pl.Utf8})
    return pl.concat(frames).unique("image_id", keep="first")


def _with_calipers(
    selected: pl.DataFrame, catalog: pl.DataFrame, twins: pl.DataFrame
) -> pl.DataFrame:
    """``caliper_points`` (full-image px) per image: its own, or for a clean twin exported in
    place of a caliper image, the twin's (same geometry); ``caliper_points_crop`` relative to the
    exported crop; ``caliper_source`` says which."""
    points_type = pl.List(pl.List(pl.Int64))
    own = catalog.select(
        "image_id",
        pl.when(pl.col("has_calipers").fill_null(False))
        .then(pl.col("caliper_points"))
        .cast(points_type)
        .alias("_own"),
    )
    from_twin = (
        twins.join(own, left_on="caliper_image_id", right_on="image_id", how="inner")
        .filter(pl.col("_own").list.len() > 0)
        .group_by("clean_image_id")
        .agg(pl.col("_own").sort_by("caliper_image_id").first().alias("_twin"))
        .rename({"clean_image_id": "image_id"})
        if twins.height
        else pl.DataFrame(schema={"image_id": pl.Utf8, "_twin": points_type})
    )
    frame = (
        selected.join(own, on="image_id", how="left")
        .join(from_twin, on="image_id", how="left")
        .with_columns(
            pl.when(pl.col("_own").list.len() > 0)
            .then(pl.col("_own"))
            .when(pl.col("_twin").list.len() > 0)
            .then(pl.col("_twin"))
            .alias("caliper_points"),
            pl.when(pl.col("_own").list.len() > 0)
            .then(pl.lit("image"))
            .when(pl.col("_twin").list.len() > 0)
            .then(pl.lit("clean_twin_of"))
            .alias("caliper_source"),
        )
        .drop("_own", "_twin")
    )
    # crop-relative points: explode, shift, gather back (no Python loop over rows)
    shifted = (
        frame.select("image_id", "caliper_points", "_cx", "_cy")
        .explode("caliper_points")
        .filter(pl.col("caliper_points").is_not_null())
        .with_columns(
            pl.concat_list(
                pl.col("caliper_points").list.get(0) - pl.col("_cx"),
                pl.col("caliper_points").list.get(1) - pl.col("_cy"),
            ).alias("caliper_points_crop")
        )
        .group_by("image_id", maintain_order=True)
        .agg(pl.col("caliper_points_crop"))
    )
    return frame.join(shifted, on="image_id", how="left")


def _assemble(
    research_zone: Zone,
    config: ExportConfig,
    lineage: Mapping[str, Any],
    folder: Path,
    workers: int | None,
    upstream: Sequence[Mapping[str, Any]] = (),
    partition_alias: Callable[[str], str] | None = None,
    seal: Callable[[str], str] | None = None,
    withdrawn: frozenset[str] = frozenset(),
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int], str | None, dict[str, int]]:
    con = open_catalog(research_zone)
    try:
        left_out = read_catalog_info(con).left_out
        catalog = con.sql("SELECT * FROM image_catalog ORDER BY image_id").pl()
        twins = (
            con.sql("SELECT caliper_image_id, clean_image_id FROM twins").pl()
            if _has(con, "twins")
            else pl.DataFrame(schema={"caliper_image_id": pl.Utf8, "clean_image_id": pl.Utf8})
        )
        studies = con.sql("SELECT accession_pseudo, findings, impression FROM studies").pl()
    finally:
        con.close()
    if catalog.height == 0 and "patient_pseudo" not in catalog.columns:
        raise ExportRefusedError(
            f"export {config.key}: the catalog holds no image yet (no study date has been "
            "processed); nothing was written. Process study dates (a backfill of raw_dicom and "
            "what follows it) and build metadata_db first."
        )
    catalog_digest = hashlib.sha256(parquet_bytes(catalog)).hexdigest()[:16]
    lineage_doc = build_lineage(
        export_key=config.key,
        deidentification_profile=lineage.get("deidentification_profile"),
        key_fingerprint=lineage.get("pseudonym_key_fingerprint"),
        label_set_version=lineage.get("label_set_version"),
        catalog_digest=catalog_digest,
        upstream=upstream,
        partition_alias=partition_alias,
        seal=seal,
        code_version=lineage.get("code_version"),
        commit=lineage.get("git_commit"),
        extra={
            k: v
            for k, v in lineage.items()
            if k
            not in {
                "export_key",
                "deidentification_profile",
                "pseudonym_key_fingerprint",
                "label_set_version",
                "code_version",
                "git_commit",
                "catalog_digest",
                "upstream",
            }
        },
    )
    selected, dropped = _select(catalog, twins, config, withdrawn)
    # the export this one is compared with on its card (and inherits its splits from): for a
    # key cut before, the one its first build named (a key sorting earlier, cut later,
    # changes nothing of it)
    recorded = _recorded_previous(research_zone, config.key)
    previous_key = (
        recorded[0] if recorded is not None else previous_export_key(research_zone, config.key)
    )
    previous = read_manifest(research_zone, previous_key) if previous_key else None
    for column in ("physical_delta_x_cm", "physical_delta_y_cm", "caliper_points"):
        if column not in catalog.columns:
            catalog = catalog.with_columns(pl.lit(None).alias(column))
            selected = selected.with_columns(pl.lit(None).alias(column))
    assignment = stratified_splits(
        selected.select(
            "patient_pseudo", "label", *(["model"] if "model" in selected.columns else [])
        ),
        salt=config.split_salt,
        ratios=config.split_ratios,
        folds=config.folds,
        method=config.split_method,
        previous=_previous_splits(research_zone, previous_key, previous, config),
    )
    selected = selected.join(
        assignment.select("patient_pseudo", "split", "fold"), on="patient_pseudo", how="left"
    ).with_columns(
        side=pl.coalesce(
            pl.when(pl.col("study_laterality").is_in(["LEFT", "RIGHT"])).then(
                pl.col("study_laterality")
            ),
            pl.when(pl.col("laterality").is_in(["LEFT", "RIGHT"])).then(pl.col("laterality")),
        ),
        source=pl.when(pl.col("inpainted_path").is_not_null() & pl.lit(config.use_inpainted))
        .then(pl.lit("inpainted"))
        .otherwise(pl.lit("original")),
        _cx=pl.when(_valid_crop(config)).then(pl.col("crop_x0")).otherwise(0).cast(pl.Int64),
        _cy=pl.when(_valid_crop(config)).then(pl.col("crop_y0")).otherwise(0).cast(pl.Int64),
    )
    selected = (
        _with_calipers(selected, catalog, twins)
        .join(_image_batches(research_zone), on="image_id", how="left")
        .join(_lesion_geometry(research_zone, config), on="image_id", how="left")
        .sort("image_id")
    )
    jobs = []
    for row in selected.iter_rows(named=True):
        source_path = row["inpainted_path"] if row["source"] == "inpainted" else row["png_path"]
        polygon = row.get("fov_polygon")
        boxes = cast(
            tuple[tuple[int, int, int, int], ...],
            tuple(tuple(int(v) for v in b) for b in (row["_lesion_boxes"] or ())),
        )
        polygons = tuple(
            tuple((float(x), float(y)) for x, y in p) for p in (row["_lesion_polygons"] or ())
        )
        mask_files = tuple(row["_lesion_mask_files"] or ())
        jobs.append(
            _ImageJob(
                research_zone,
                source_path,
                _crop_of(row) if config.crop_to_field_of_view else None,
                tuple(tuple(p) for p in polygon) if polygon else None,
                f"images/{row['image_id']}.png",
                f"fov_masks/{row['image_id']}.png" if polygon else None,
                boxes,
                polygons,
                f"lesion_masks/{row['image_id']}.png" if boxes or polygons or mask_files else None,
                mask_files,
            )
        )
    rendered = parallel_map(_render, jobs, workers=workers, min_items_per_worker=8)
    image_sha: list[str] = []
    mask_paths: list[str | None] = []
    lesion_paths: list[str | None] = []
    not_drawn: list[str | None] = []
    widths: list[int] = []
    heights: list[int] = []
    for job, (png, mask, lesion_mask, width, height) in zip(jobs, rendered, strict=True):
        _write(folder, job.out_image, png)
        image_sha.append(hashlib.sha256(png).hexdigest())
        if mask is not None and job.out_mask:
            _write(folder, job.out_mask, mask)
            mask_paths.append(job.out_mask)
        else:
            mask_paths.append(None)
        if lesion_mask is not None and job.out_lesion_mask:
            _write(folder, job.out_lesion_mask, lesion_mask)
            lesion_paths.append(job.out_lesion_mask)
        else:
            lesion_paths.append(None)
        not_drawn.append(MASK_DOES_NOT_FIT if job.out_lesion_mask and lesion_mask is None else None)
        widths.append(width)
        heights.append(height)
    lesion_columns = _lesion_columns(research_zone, selected)
    manifest = (
        selected.with_columns(
            image_path=pl.Series([j.out_image for j in jobs], dtype=pl.Utf8),
            fov_mask_path=pl.Series(mask_paths, dtype=pl.Utf8),
            lesion_mask_path=pl.Series(lesion_paths, dtype=pl.Utf8),
            image_sha256=pl.Series(image_sha, dtype=pl.Utf8),
            width=pl.Series(widths, dtype=pl.Int32),
            height=pl.Series(heights, dtype=pl.Int32),
            pixel_spacing_x_cm=pl.col("physical_delta_x_cm").cast(pl.Float64),
            pixel_spacing_y_cm=pl.col("physical_delta_y_cm").cast(pl.Float64),
            _not_drawn=pl.Series(not_drawn, dtype=pl.Utf8),
        )
        .join(lesion_columns, on="image_id", how="left")
        .join(_boxes_in_crop(selected), on="image_id", how="left")
        .with_columns(  # a lesion mask not drawn: nothing of its geometry is exported
            lesion_mask_left_out=pl.coalesce("_not_drawn", "lesion_mask_left_out"),
            **{
                c: pl.when(pl.col("_not_drawn").is_null()).then(pl.col(c))
                for c in ("mask_source", "lesion_mask_source", "lesion_mask_boxes_crop")
            },
        )
        .select(
            "image_id",
            "patient_pseudo",
            "accession_pseudo",
            "side",
            "split",
            "fold",
            "label",
            "label_rule",
            "birads",
            "age_years",
            "manufacturer",
            "model",
            "is_cine",
            "frame",
            "crop_x0",
            "crop_y0",
            "crop_x1",
            "crop_y1",
            "fov_shape",
            "has_calipers",
            "caliper_points",
            "caliper_points_crop",
            "caliper_source",
            "pixel_spacing_x_cm",
            "pixel_spacing_y_cm",
            "lesion_ids",
            "lesion_boxes_crop",
            "lesion_mask_source",
            "lesion_mask_label_id",
            "mask_source",
            "lesion_mask_boxes_crop",
            "lesion_mask_left_out",
            "source",
            "image_path",
            "fov_mask_path",
            "lesion_mask_path",
            "image_sha256",
            "width",
            "height",
            "study_date_shifted",
            "batch",
        )
        .sort("image_id")
    )
    # The research batch (one per real study date) stays out of the export: every patient
    # of one real date shares it, so one known exam date would give the date shift of them
    # all (``cadbusi lineage --image`` finds an image's batch in the research zone).
    images_per_batch = (
        {
            str(k): int(n)
            for k, n in manifest.group_by("batch").len().sort("batch", nulls_last=True).iter_rows()
        }
        if manifest.height
        else {}
    )
    manifest = manifest.drop("batch")
    bags = (
        manifest.group_by(["accession_pseudo", "side"], maintain_order=True)
        .agg(
            pl.col("patient_pseudo").first(),
            pl.col("split").first(),
            pl.col("fold").first(),
            pl.col("label").max(),
            pl.col("birads").first(),
            pl.col("image_id").sort().alias("image_ids"),
            pl.len().alias("n_images"),
        )
        .sort(["accession_pseudo", "side"], nulls_last=True)
    )
    _write(folder, "manifest.parquet", parquet_bytes(manifest))
    if config.parquet_shards:
        write_shards(folder, manifest, config.shard_max_bytes)
    _write(folder, "manifest.csv", _csv_safe(manifest).write_csv().encode())
    _write(folder, "bags.parquet", parquet_bytes(bags))
    _write(
        folder,
        "bags.csv",
        bags.with_columns(pl.col("image_ids").list.join(";")).write_csv().encode(),
    )
    lesion_bags = _lesion_bags(research_zone, manifest)
    if lesion_bags is not None:
        _write(folder, "lesions.parquet", parquet_bytes(lesion_bags))
    texts = dict((a, " ".join(t for t in (f, i) if t)) for a, f, i in studies.iter_rows())
    vlm_lines = [
        json.dumps(
            {"image": path, "image_id": image_id, "text": texts.get(acc, ""), "label": label},
            sort_keys=True,
        )
        for image_id, path, acc, label in manifest.select(
            "image_id", "image_path", "accession_pseudo", "label"
        ).iter_rows()
        if texts.get(acc)
    ]
    _write(folder, "vlm.jsonl", ("\n".join(vlm_lines) + "\n" if vlm_lines else "").encode())
    _write(folder, "export_config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=True).encode())
    changes = what_changed(manifest, previous, previous_key)
    lineage_doc["previous_export"] = previous_key
    lineage_doc["images_per_batch"] = images_per_batch
    if left_out:  # counts only; absent when nothing was left out (older exports read alike)
        lineage_doc["left_out_of_catalog"] = dict(sorted(left_out.items()))
    _write(folder, "lineage.json", json.dumps(lineage_doc, sort_keys=True, indent=2).encode())
    card, plots = build_card(
        config.key,
        manifest,
        bags,
        dropped,
        config.to_dict(),
        lineage_doc,
        changes=changes,
        caveats=caveats(manifest, catalog, twins) + _agreement_caveats(research_zone),
        balance=balance_table(manifest),
        left_out=left_out,
    )
    _write(folder, "README.md", card.encode())
    for name, png in plots.items():
        _write(folder, f"plots/{name}.png", png)
    return manifest, bags, dropped, previous_key, left_out


#: the settings two exports must share for the later one to keep the earlier one's splits
SPLIT_SETTINGS = ("split_salt", "split_ratios", "split_method", "folds")


def _previous_splits(
    research_zone: Zone,
    previous_key: str | None,
    previous: pl.DataFrame | None,
    config: ExportConfig,
) -> dict[str, tuple[str, int | None]] | None:
    """Patient → (split, fold) of the previous export when it was cut with the same split
    settings (:data:`SPLIT_SETTINGS`; sticky splits, :func:`~.splits.stratified_splits`), else
    ``None`` (a first export, or other settings: dealt afresh)."""
    if previous_key is None or previous is None or previous.height == 0:
        return None
    if "split" not in previous.columns or "patient_pseudo" not in previous.columns:
        return None
    try:
        settings = yaml.safe_load(
            research_zone.read_bytes(*export_path(previous_key), "export_config.yaml")
        )
    except (OSError, yaml.YAMLError):
        return None
    ours = config.to_dict()
    if not isinstance(settings, dict) or any(
        settings.get(name) != ours.get(name) for name in SPLIT_SETTINGS
    ):
        return None
    fold = pl.col("fold") if "fold" in previous.columns else pl.lit(None, dtype=pl.Int32)
    rows = previous.select("patient_pseudo", "split", fold.alias("fold")).unique("patient_pseudo")
    return {
        p: (s, None if f is None else int(f))
        for p, s, f in rows.iter_rows()
        if p is not None and s is not None
    }


def _csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns as JSON text (CSV has no lists)."""
    nested = [c for c, t in frame.schema.items() if isinstance(t, pl.List | pl.Struct | pl.Array)]
    return frame.with_columns(
        [
            pl.col(c).map_elements(
                lambda v: json.dumps(v.to_list() if hasattr(v, "to_list") else v),
                return_dtype=pl.Utf8,
                skip_nulls=True,
            )
            for c in nested
        ]
    )


LESION_IMAGES_PATH = ("lesions", "lesion_images.parquet")
LESIONS_PATH = ("lesions", "lesions.parquet")


def _lesion_bags(research_zone: Zone, manifest: pl.DataFrame) -> pl.DataFrame | None:
    """One row per report lesion of an exported study: its location, size, descriptors,
    pathology and the exported images that show it (a bag per lesion)."""
    if not research_zone.exists(*LESIONS_PATH):
        return None
    lesions = research_zone.read_parquet(*LESIONS_PATH)
    exported = manifest.select("accession_pseudo", "split", "fold").unique("accession_pseudo")
    images = (
        manifest.select("image_id", "lesion_ids")
        .explode("lesion_ids")
        .filter(pl.col("lesion_ids").is_not_null())
        .group_by("lesion_ids")
        .agg(pl.col("image_id").sort().alias("image_ids"))
        .rename({"lesion_ids": "lesion_id"})
    )
    keep = [
        c
        for c in (
            "lesion_id",
            "accession_pseudo",
            "patient_pseudo",
            "lesion_index",
            "side",
            "clock",
            "distance_cm",
            "size_cm",
            "descriptors",
            "lesion_type",
            "part_letter",
            "interpretation",
            "cancer_type",
            "pathology_score",
        )
        if c in lesions.columns
    ]
    return (
        lesions.select(keep)
        .join(exported, on="accession_pseudo", how="inner")
        .join(images, on="lesion_id", how="left")
        .with_columns(pl.col("image_ids").list.len().fill_null(0).alias("n_images"))
        .sort("lesion_id")
    )


def _lesion_columns(research_zone: Zone, selected: pl.DataFrame) -> pl.DataFrame:
    """Per image: ids of the report lesions it shows and their boxes in crop coordinates, from
    the ``lesions`` asset when it has been materialized."""
    box_type = pl.List(pl.List(pl.Int64))
    empty = pl.DataFrame(
        schema={"image_id": pl.Utf8, "lesion_ids": pl.List(pl.Utf8), "lesion_boxes_crop": box_type}
    )
    if not research_zone.exists(*LESION_IMAGES_PATH):
        return empty
    links = research_zone.read_parquet(*LESION_IMAGES_PATH)
    if links.height == 0 or not {"image_id", "lesion_id"} <= set(links.columns):
        return empty
    if "box_x0" not in links.columns:
        links = links.with_columns(
            [
                pl.lit(None, dtype=pl.Int64).alias(c)
                for c in ("box_x0", "box_y0", "box_x1", "box_y1")
            ]
        )
    return (
        links.join(selected.select("image_id", "_cx", "_cy"), on="image_id", how="inner")
        .sort("image_id", "lesion_id")
        .group_by("image_id", maintain_order=True)
        .agg(
            pl.col("lesion_id").alias("lesion_ids"),
            pl.when(pl.col("box_x0").is_not_null())
            .then(
                pl.concat_list(
                    (pl.col("box_x0") - pl.col("_cx")).cast(pl.Int64),
                    (pl.col("box_y0") - pl.col("_cy")).cast(pl.Int64),
                    (pl.col("box_x1") - pl.col("_cx")).cast(pl.Int64),
                    (pl.col("box_y1") - pl.col("_cy")).cast(pl.Int64),
                )
            )
            .alias("lesion_boxes_crop"),
        )
    )


def _lesion_geometry(research_zone: Zone, config: ExportConfig) -> pl.DataFrame:
    """``_lesion_boxes`` / ``_lesion_polygons`` (full-image px) and ``_lesion_mask_files`` (the
    annotator's stored masks) per image for its lesion mask, with ``lesion_mask_source``
    (labelbox, calipers), ``lesion_mask_label_id``, ``mask_source`` (what the mask is drawn
    from: ``annotator_mask``, ``polygons``, ``boxes`` joined by ``+``, or ``caliper_boxes``) and
    ``lesion_mask_left_out`` (why the image's newest lesion label is not drawn)."""
    labelled = pl.DataFrame(schema=GEOMETRY_SCHEMA)
    rejected = pl.DataFrame(schema={"image_id": pl.Utf8, "reason": pl.Utf8})
    if config.lesion_masks_from_labels and research_zone.exists(*LABELBOX_OBJECTS_PATH):
        objects = research_zone.read_parquet(*LABELBOX_OBJECTS_PATH)
        labels = (
            research_zone.read_parquet(*LABELBOX_LABELS_PATH)
            if research_zone.exists(*LABELBOX_LABELS_PATH)
            else None
        )
        labelled = label_lesion_geometry(objects, labels, config.lesion_object_names)
        rejected = rejected_lesion_labels(objects, labels, config.lesion_object_names)
    calipers = pl.DataFrame(schema=GEOMETRY_SCHEMA)
    if config.lesion_masks_from_calipers and research_zone.exists(*LESION_IMAGES_PATH):
        calipers = caliper_lesion_geometry(research_zone.read_parquet(*LESION_IMAGES_PATH))
    return (
        lesion_geometry(labelled, calipers)
        .with_columns(mask_source=mask_source("source"))
        .rename(
            {
                "boxes": "_lesion_boxes",
                "polygons": "_lesion_polygons",
                "mask_paths": "_lesion_mask_files",
                "source": "lesion_mask_source",
                "label_id": "lesion_mask_label_id",
            }
        )
        .join(
            rejected.rename({"reason": "lesion_mask_left_out"}),
            on="image_id",
            how="full",
            coalesce=True,
        )
        .sort("image_id")
    )


AGREEMENT_QUESTIONS_PATH = ("labels", "labelbox", "agreement_questions.parquet")
AGREEMENT_BOXES_PATH = ("labels", "labelbox", "agreement_boxes.parquet")


def _agreement_caveats(research_zone: Zone) -> list[tuple[str, str]]:
    """Annotator agreement of the current label set (consensus images), when ingested."""
    out: list[tuple[str, str]] = []
    if research_zone.exists(*AGREEMENT_QUESTIONS_PATH):
        table = research_zone.read_parquet(*AGREEMENT_QUESTIONS_PATH)
        for question, images, share in table.select(
            "question", "images", "share_all_agree"
        ).iter_rows():
            out.append(
                (
                    f"Labelbox annotators all agree on {question} (images labelled more than once)",
                    f"{100.0 * share:.1f} % of {images}",
                )
            )
    if research_zone.exists(*AGREEMENT_BOXES_PATH):
        boxes = research_zone.read_parquet(*AGREEMENT_BOXES_PATH)
        if boxes.height and boxes["mean_iou"][0] is not None:
            out.append(
                (
                    "mean IoU of lesion boxes between annotators of one image",
                    f"{boxes['mean_iou'][0]:.2f} over {boxes['label_pairs'][0]} label pairs",
                )
            )
    return out


def _boxes_in_crop(selected: pl.DataFrame) -> pl.DataFrame:
    """``lesion_mask_boxes_crop``: the lesion-mask boxes moved into the crop (``_cx``, ``_cy``)."""
    box = pl.col("_lesion_boxes")
    return (
        selected.select("image_id", "_lesion_boxes", "_cx", "_cy")
        .explode("_lesion_boxes")
        .filter(box.is_not_null())
        .with_columns(
            pl.concat_list(
                box.list.get(0) - pl.col("_cx"),
                box.list.get(1) - pl.col("_cy"),
                box.list.get(2) - pl.col("_cx"),
                box.list.get(3) - pl.col("_cy"),
            ).alias("lesion_mask_boxes_crop")
        )
        .group_by("image_id", maintain_order=True)
        .agg(pl.col("lesion_mask_boxes_crop"))
    )


def _has(con, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchall()[0][0]
    )


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.height == 0:
        return {}
    return {str(k): int(n) for k, n in frame.group_by(column).len().sort(column).iter_rows()}


def _split_labels(manifest: pl.DataFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for split, label, n in balance_table(manifest).select("split", "label", "images").iter_rows():
        out.setdefault(str(split), {})[str(label)] = int(n)
    return out


def build_export(
    research_zone: Zone,
    config: ExportConfig,
    lineage: Mapping[str, Any],
    *,
    workers: int | None = None,
    upstream: Sequence[Mapping[str, Any]] = (),
    partition_alias: Callable[[str], str] | None = None,
    seal: Callable[[str], str] | None = None,
    same_label_set: bool = False,
    withdrawn: frozenset[str] = frozenset(),
) -> ExportReport:
    """Build (or verify the identical re-build of) export ``config.key``.

    ``lineage``: plain facts from the caller (``deidentification_profile``,
    ``pseudonym_key_fingerprint``, ``label_set_version``, ``code_version``, optionally
    ``git_commit``). ``upstream``: one dict per upstream asset partition (``asset``,
    ``partition``, ``data_version``, ``run_id``, anything else) gathered by the orchestrator;
    ``partition_alias`` maps a study-date partition key to the research zone's batch name so
    that ``lineage.json`` never shows real dates; ``seal`` (a keyed hash) replaces the data
    version and run id of those partitions by a ``ref`` (see :mod:`.lineage`).
    ``same_label_set``: refuse (:class:`ExportRefusedError`) unless the current label set is
    ``lineage["label_set_version"]`` (the catalog's). Labels ingested while the export is cut
    are refused either way: its lesion masks would not be the label set its lineage names.
    ``withdrawn``: patient pseudonyms whose images are left out whatever the configuration
    (patients on the opt-out list whose dates the research zone still holds).
    """
    from cadbusi_assets.stages.labeling import current_label_set_version

    key_parts = export_path(config.key)
    labels_before = current_label_set_version(research_zone)
    tables_before = _tables_state(research_zone)
    if same_label_set and labels_before != lineage.get("label_set_version"):
        raise ExportRefusedError(
            f"export {config.key}: labels were ingested after the catalog was built (the "
            "current label set is not the catalog's); nothing was written. Build metadata_db "
            "again, then cut the export."
        )
    if research_zone.local:
        _remove_stale_staging(research_zone.local_path(*key_parts))
    with temporary_directory("export-") as tmp:
        staging = Path(tmp) / config.key
        staging.mkdir()
        manifest, bags, dropped, previous_key, left_out = _assemble(
            research_zone,
            config,
            lineage,
            staging,
            workers,
            upstream,
            partition_alias,
            seal,
            withdrawn,
        )
        if current_label_set_version(research_zone) != labels_before:
            raise ExportRefusedError(
                f"export {config.key}: labels were ingested while it was cut (the label set "
                "changed), so its lesion masks and its lineage could name different label "
                "sets; nothing was written. Build metadata_db again, then cut the export."
            )
        if _tables_state(research_zone) != tables_before:
            raise ExportRefusedError(
                f"export {config.key}: the research zone's tables or lesions changed while it "
                "was cut (a study date processed again meanwhile), so it could mix two states; "
                "nothing was written. Build metadata_db again, then cut the export."
            )
        sums = _sums(staging)
        (staging / SUMS_FILE).write_text(sums)
        digest = hashlib.sha256(sums.encode()).hexdigest()
        already = False
        complete = research_zone.exists(*key_parts, COMPLETE_MARKER)
        had_sums = research_zone.exists(*key_parts, SUMS_FILE)
        if not research_zone.local:
            already = _publish_objects(
                research_zone, config.key, staging, sums, digest, previous_key, complete
            )
        elif had_sums and (complete or not _partial_upload(research_zone, config.key)):
            existing = research_zone.read_bytes(*key_parts, SUMS_FILE).decode()
            _same_as_existing(research_zone, config.key, existing, sums, previous_key)
            already = True
        else:
            target = research_zone.local_path(*key_parts)
            # an earlier interrupted build (no SHA256SUMS, or a file it lists missing): replace
            # it; an export with SHA256SUMS only now is another build's, finished meanwhile
            if target.exists() and (had_sums or not (target / SUMS_FILE).exists()):
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            (staging / COMPLETE_MARKER).write_text(digest + "\n")
            already = _publish_local(research_zone, config.key, staging, target, sums, previous_key)
    return ExportReport(
        key=config.key,
        path="/".join(key_parts),
        images=manifest.height,
        bags=bags.height,
        patients=manifest["patient_pseudo"].n_unique() if manifest.height else 0,
        digest=digest,
        already_existed=already,
        dropped=dropped,
        splits=_counts(manifest, "split"),
        labels=_counts(manifest, "label"),
        split_labels=_split_labels(manifest),
        previous_key=previous_key,
        left_out_of_catalog=dict(left_out),
    )


def _tables_state(zone: Zone) -> str:
    """A digest of what a build reads besides the catalog file and the labels: the catalog's
    input tables (:func:`~cadbusi_assets.catalog.build.inputs_digest`) and the lesions."""
    from cadbusi_assets.catalog.build import inputs_digest

    digest = hashlib.sha256(inputs_digest(zone).encode())
    for parts in (LESION_IMAGES_PATH, LESIONS_PATH):
        tag = zone.content_tag(*parts)
        if tag is not None:
            digest.update(tag)
    return digest.hexdigest()


#: a staging folder of a build of the same key untouched this long is a killed build's leftover
STALE_STAGING_SECONDS = 3600


def _staging_folders(target: Path) -> list[Path]:
    """The staging folders of builds of export ``target`` (``.<key>.staging-<id>``; also
    ``.<key>.staging``, the one shared name of earlier versions) beside it."""
    if not target.parent.is_dir():
        return []
    name = f".{target.name}.staging"
    return sorted(
        p for p in target.parent.iterdir() if p.name == name or p.name.startswith(name + "-")
    )


def _touched_since(folder: Path, since: float) -> bool:
    """Whether ``folder`` or anything in it was modified after ``since`` (stops at the first)."""
    try:
        if folder.stat().st_mtime >= since:
            return True
        for root, dirs, files in os.walk(folder):
            for name in (*dirs, *files):
                if (Path(root) / name).lstat().st_mtime >= since:
                    return True
    except FileNotFoundError:  # removed meanwhile (its build finished or gave up)
        return True
    return False


def _remove_stale_staging(target: Path) -> None:
    """Remove the staging folders of killed builds of export ``target``: those nothing in
    was modified for :data:`STALE_STAGING_SECONDS`. A fresher one may be another build's, in
    use now: it is left alone."""
    since = time.time() - STALE_STAGING_SECONDS
    for folder in _staging_folders(target):
        if folder.is_dir() and not _touched_since(folder, since):
            shutil.rmtree(folder, ignore_errors=True)


def _same_as_existing(
    zone: Zone, key: str, existing: str, sums: str, previous_key: str | None
) -> None:
    """Raise :class:`ExportExistsError` unless the existing export's ``SHA256SUMS``
    (``existing``) is this build's (``sums``)."""
    if existing != sums and not _only_the_card_compares_a_deleted_export(
        zone, existing, sums, previous_key
    ):
        raise ExportExistsError(
            f"Export '{key}' already exists with different content. Exports are "
            "immutable: add a new export partition (a new key) to cut a new export."
        )


def _publish_local(
    zone: Zone, key: str, staging: Path, target: Path, sums: str, previous_key: str | None
) -> bool:
    """Copy ``staging`` beside ``target`` (a staging folder of this build's own, so that two
    builds of the same key never share one) and rename it to ``target`` in one step. When
    another build of the key renamed its export there first, that export is the existing
    one: identical ``SHA256SUMS`` give True (already existed), different ones
    :class:`ExportExistsError`. False when this build's export was put in place."""
    stage_in_zone = target.with_name(f".{key}.staging-{uuid.uuid4().hex}")
    try:
        shutil.copytree(staging, stage_in_zone)
        try:
            stage_in_zone.rename(target)
            return False
        except OSError:
            sums_file = target / SUMS_FILE
            if not sums_file.is_file():
                raise
            _same_as_existing(zone, key, sums_file.read_text(), sums, previous_key)
            return True
    finally:
        shutil.rmtree(stage_in_zone, ignore_errors=True)


def _only_the_card_compares_a_deleted_export(
    zone: Zone, existing: str, sums: str, previous_key: str | None
) -> bool:
    """Whether two ``SHA256SUMS`` differ in ``README.md`` alone while the export its card
    compares with (``previous_key``) was deleted since: its "what changed" section cannot be
    made again, every data file is the same."""
    if previous_key is None or zone.exists(*export_path(previous_key), "manifest.parquet"):
        return False

    def files(text: str) -> dict[str, str]:
        return {
            rel: digest
            for digest, rel in (line.split("  ", 1) for line in text.splitlines() if line.strip())
        }

    before, now = files(existing), files(sums)
    return before.keys() == now.keys() and all(
        before[rel] == now[rel] for rel in before if rel != "README.md"
    )


def _publish_objects(
    zone: Zone,
    key: str,
    staging: Path,
    sums: str,
    digest: str,
    previous_key: str | None,
    complete: bool,
) -> bool:
    """Upload export ``key`` from ``staging`` to an object-store zone; True when it already
    existed whole (``_COMPLETE``) with this build's content.

    The build claims the key by creating ``SHA256SUMS`` first, create-only: of two builds of
    one key at once only one creates it, and the other compares it with its own before it
    uploads a byte (different content: :class:`ExportExistsError`; the same: it uploads the
    same bytes too). Then every file, then ``_COMPLETE``. An export without ``_COMPLETE`` (an
    upload cut off, by a missing file or before ``_COMPLETE`` itself) is finished by the next
    build of the same content. Before, ``SHA256SUMS`` came last: a second build that started
    while the first uploaded wrote over it file by file, both reported success and the key held
    a mix; and a cut-off before ``_COMPLETE`` with every file up was taken for done for good."""
    key_parts = export_path(key)
    claimed = False
    try:
        zone.write_bytes((*key_parts, SUMS_FILE), sums.encode(), create_only=True)
        claimed = True
    except FileExistsError:
        existing = zone.read_bytes(*key_parts, SUMS_FILE).decode()
        if not complete and existing != sums:
            raise ExportExistsError(
                f"Export '{key}' is being uploaded, or was left half uploaded, with other "
                "content than this build gives; nothing was written. Compare it with its "
                "SHA256SUMS, then delete it or cut a new key."
            ) from None
        _same_as_existing(zone, key, existing, sums, previous_key)
        if complete:
            return True
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        rel = path.relative_to(staging).as_posix()
        if rel != SUMS_FILE or not claimed:
            zone.copy_file_in(path, (*key_parts, *rel.split("/")))
    zone.write_bytes((*key_parts, COMPLETE_MARKER), (digest + "\n").encode())
    return False


def _partial_upload(zone: Zone, key: str) -> bool:
    """Whether export ``key`` has ``SHA256SUMS`` but misses a file it lists (an upload cut
    off; an export of a local zone appears in one rename, and one written before
    ``_COMPLETE`` existed has every file)."""
    return any(problem.startswith("missing file") for problem in verify_export(zone, key))


def _recorded_previous(zone: Zone, key: str) -> tuple[str | None] | None:
    """``(previous export key,)`` that the existing export ``key`` names in its
    ``lineage.json``; None when it has none."""
    parts = (*export_path(key), "lineage.json")
    if not zone.exists(*export_path(key), SUMS_FILE) or not zone.exists(*parts):
        return None
    try:
        document = json.loads(zone.read_bytes(*parts))
    except ValueError:
        return None
    if not isinstance(document, dict) or "previous_export" not in document:
        return None
    previous = document["previous_export"]
    return (str(previous) if previous else None,)


def verify_export(research_zone: Zone, key: str) -> list[str]:
    """Problems with an export on disk: missing or changed files, manifest rows without images."""
    parts = export_path(key)
    problems: list[str] = []
    if not research_zone.exists(*parts, SUMS_FILE):
        return [f"export {key} has no {SUMS_FILE} (incomplete or missing)"]
    for line in research_zone.read_bytes(*parts, SUMS_FILE).decode().splitlines():
        if not line.strip():
            continue
        digest, rel = line.split("  ", 1)
        if not research_zone.exists(*parts, *rel.split("/")):
            problems.append(f"missing file {rel}")
            continue
        if hashlib.sha256(research_zone.read_bytes(*parts, *rel.split("/"))).hexdigest() != digest:
            problems.append(f"changed file {rel}")
    if not research_zone.exists(*parts, "manifest.parquet"):
        return [*problems, "no manifest.parquet"]
    manifest = pl.read_parquet(io.BytesIO(research_zone.read_bytes(*parts, "manifest.parquet")))
    for rel in manifest["image_path"].to_list():
        if not research_zone.exists(*parts, *rel.split("/")):
            problems.append(f"manifest lists {rel} but it is not on disk")
    if "split" in manifest.columns:
        mixed = patients_in_several_splits(manifest)
        if mixed:
            problems.append(f"{len(mixed)} patient(s) have images in more than one split")
    return problems
