"""Build one dated export folder ``exports/<key>/`` in the research zone.

The folder is assembled in a staging folder and appears in one step (a rename on local disk;
``_COMPLETE`` written last on object stores). An existing export is never modified: building the
same key again with the same inputs verifies that the result is byte-identical and reports so;
different content is refused with :class:`ExportExistsError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from PIL import Image, ImageDraw

from cadbusi_assets.catalog import open_catalog
from cadbusi_assets.exports.card import build_card
from cadbusi_assets.exports.splits import DEFAULT_RATIOS, assign_split
from cadbusi_assets.parallel import parallel_map
from cadbusi_assets.storage import Zone, parquet_bytes

EXPORTS_DIR = "exports"
SUMS_FILE = "SHA256SUMS"
COMPLETE_MARKER = "_COMPLETE"


class ExportExistsError(RuntimeError):
    """An export with this key exists with different content (exports are immutable)."""


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

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["split_ratios"] = dict(self.split_ratios)
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


def export_path(key: str) -> tuple[str, str]:
    return (EXPORTS_DIR, key)


def _select(
    catalog: pl.DataFrame, twins: pl.DataFrame, config: ExportConfig
) -> tuple[pl.DataFrame, dict[str, int]]:
    dropped: dict[str, int] = {}

    def drop(frame: pl.DataFrame, mask: pl.Expr, reason: str) -> pl.DataFrame:
        n = frame.filter(mask).height
        if n:
            dropped[reason] = dropped.get(reason, 0) + n
        return frame.filter(~mask)

    frame = catalog
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


def _render(job: _ImageJob) -> tuple[bytes, bytes | None, int, int]:
    with Image.open(io.BytesIO(job.zone.read_bytes(job.source_path))) as image:
        image.load()
        full = image
        if job.crop:
            x0, y0, x1, y1 = job.crop
            image = image.crop((x0, y0, x1 + 1, y1 + 1))
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=1)
        mask_bytes = None
        if job.out_mask and job.polygon and len(job.polygon) >= 3:
            mask = Image.new("L", full.size, 0)
            ImageDraw.Draw(mask).polygon([tuple(p) for p in job.polygon], fill=255)
            if job.crop:
                x0, y0, x1, y1 = job.crop
                mask = mask.crop((x0, y0, x1 + 1, y1 + 1))
            buffer = io.BytesIO()
            mask.save(buffer, format="PNG", compress_level=1)
            mask_bytes = buffer.getvalue()
        return out.getvalue(), mask_bytes, image.width, image.height


def _crop_of(row: Mapping[str, Any]) -> tuple[int, int, int, int] | None:
    values = [row.get(k) for k in ("crop_x0", "crop_y0", "crop_x1", "crop_y1")]
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


def _assemble(
    research_zone: Zone,
    config: ExportConfig,
    lineage: Mapping[str, Any],
    folder: Path,
    workers: int | None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    con = open_catalog(research_zone)
    try:
        catalog = con.sql("SELECT * FROM image_catalog ORDER BY image_id").pl()
        twins = (
            con.sql("SELECT caliper_image_id, clean_image_id FROM twins").pl()
            if _has(con, "twins")
            else pl.DataFrame(schema={"caliper_image_id": pl.Utf8, "clean_image_id": pl.Utf8})
        )
        studies = con.sql("SELECT accession_pseudo, findings, impression FROM studies").pl()
    finally:
        con.close()
    lineage = {**lineage, "catalog_digest": hashlib.sha256(parquet_bytes(catalog)).hexdigest()[:16]}
    selected, dropped = _select(catalog, twins, config)
    selected = selected.with_columns(
        split=pl.col("patient_pseudo").map_elements(
            lambda p: assign_split(p, config.split_salt, config.split_ratios), return_dtype=pl.Utf8
        ),
        side=pl.coalesce(
            pl.when(pl.col("study_laterality").is_in(["LEFT", "RIGHT"])).then(
                pl.col("study_laterality")
            ),
            pl.when(pl.col("laterality").is_in(["LEFT", "RIGHT"])).then(pl.col("laterality")),
        ),
        source=pl.when(pl.col("inpainted_path").is_not_null() & pl.lit(config.use_inpainted))
        .then(pl.lit("inpainted"))
        .otherwise(pl.lit("original")),
    )
    jobs = []
    for row in selected.iter_rows(named=True):
        source_path = row["inpainted_path"] if row["source"] == "inpainted" else row["png_path"]
        polygon = row.get("fov_polygon")
        jobs.append(
            _ImageJob(
                research_zone,
                source_path,
                _crop_of(row) if config.crop_to_field_of_view else None,
                tuple(tuple(p) for p in polygon) if polygon else None,
                f"images/{row['image_id']}.png",
                f"masks/{row['image_id']}.png" if polygon else None,
            )
        )
    rendered = parallel_map(_render, jobs, workers=workers, min_items_per_worker=8)
    image_sha, mask_paths, widths, heights = [], [], [], []
    for job, (png, mask, width, height) in zip(jobs, rendered, strict=True):
        _write(folder, job.out_image, png)
        image_sha.append(hashlib.sha256(png).hexdigest())
        if mask is not None and job.out_mask:
            _write(folder, job.out_mask, mask)
            mask_paths.append(job.out_mask)
        else:
            mask_paths.append(None)
        widths.append(width)
        heights.append(height)
    manifest = selected.with_columns(
        image_path=pl.Series([j.out_image for j in jobs], dtype=pl.Utf8),
        mask_path=pl.Series(mask_paths, dtype=pl.Utf8),
        image_sha256=pl.Series(image_sha, dtype=pl.Utf8),
        width=pl.Series(widths, dtype=pl.Int32),
        height=pl.Series(heights, dtype=pl.Int32),
    ).select(
        "image_id",
        "patient_pseudo",
        "accession_pseudo",
        "side",
        "split",
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
        "source",
        "image_path",
        "mask_path",
        "image_sha256",
        "width",
        "height",
        "study_date_shifted",
    )
    bags = (
        manifest.group_by(["accession_pseudo", "side"], maintain_order=True)
        .agg(
            pl.col("patient_pseudo").first(),
            pl.col("split").first(),
            pl.col("label").max(),
            pl.col("birads").first(),
            pl.col("image_id").sort().alias("image_ids"),
            pl.len().alias("n_images"),
        )
        .sort(["accession_pseudo", "side"], nulls_last=True)
    )
    _write(folder, "manifest.parquet", parquet_bytes(manifest))
    _write(folder, "manifest.csv", manifest.write_csv().encode())
    _write(folder, "bags.parquet", parquet_bytes(bags))
    _write(
        folder,
        "bags.csv",
        bags.with_columns(pl.col("image_ids").list.join(";")).write_csv().encode(),
    )
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
    _write(folder, "lineage.json", json.dumps(dict(lineage), sort_keys=True, indent=2).encode())
    card, plots = build_card(config.key, manifest, bags, dropped, config.to_dict(), lineage)
    _write(folder, "README.md", card.encode())
    for name, png in plots.items():
        _write(folder, f"plots/{name}.png", png)
    return manifest, bags, dropped


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


def build_export(
    research_zone: Zone,
    config: ExportConfig,
    lineage: Mapping[str, Any],
    *,
    workers: int | None = None,
) -> ExportReport:
    key_parts = export_path(config.key)
    with tempfile.TemporaryDirectory(prefix="cadbusi-export-") as tmp:
        staging = Path(tmp) / config.key
        staging.mkdir()
        manifest, bags, dropped = _assemble(research_zone, config, lineage, staging, workers)
        sums = _sums(staging)
        (staging / SUMS_FILE).write_text(sums)
        digest = hashlib.sha256(sums.encode()).hexdigest()
        already = False
        if research_zone.exists(*key_parts, SUMS_FILE):
            existing = research_zone.read_bytes(*key_parts, SUMS_FILE).decode()
            if existing != sums:
                raise ExportExistsError(
                    f"Export '{config.key}' already exists with different content. Exports are "
                    "immutable: add a new export partition (a new key) to cut a new export."
                )
            already = True
        elif research_zone.local:
            target = research_zone.local_path(*key_parts)
            if target.exists():  # an earlier interrupted build without SHA256SUMS: replace it
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            (staging / COMPLETE_MARKER).write_text(digest + "\n")
            stage_in_zone = target.with_name(f".{config.key}.staging")
            if stage_in_zone.exists():
                shutil.rmtree(stage_in_zone)
            shutil.copytree(staging, stage_in_zone)
            stage_in_zone.rename(target)
        else:
            for path in sorted(p for p in staging.rglob("*") if p.is_file()):
                rel = path.relative_to(staging).as_posix()
                research_zone.copy_file_in(path, (*key_parts, *rel.split("/")))
            research_zone.write_bytes((*key_parts, COMPLETE_MARKER), (digest + "\n").encode())
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
    )


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
    manifest = pl.read_parquet(io.BytesIO(research_zone.read_bytes(*parts, "manifest.parquet")))
    for rel in manifest["image_path"].to_list():
        if not research_zone.exists(*parts, *rel.split("/")):
            problems.append(f"manifest lists {rel} but it is not on disk")
    return problems
