"""What changed since the previous export, and the quantified caveats the dataset card states."""

from __future__ import annotations

import io
from typing import Any

import polars as pl

from cadbusi_assets.storage import Zone

EXPORTS_DIR = "exports"
#: Label rules that rest on imaging follow-up, not on pathology (records/labels.py).
FOLLOW_UP_RULES = ("BENIGN1", "BENIGN3")
SUMS_FILE = "SHA256SUMS"


def previous_export_key(research_zone: Zone, key: str) -> str | None:
    """The newest complete export whose key sorts before ``key`` (keys are dates or dated names)."""
    base = research_zone.path(EXPORTS_DIR)
    try:
        children = [p.name for p in base.iterdir()]
    except (FileNotFoundError, NotADirectoryError):
        return None
    keys = {
        name
        for name in children
        if name and not name.startswith(".") and research_zone.exists(EXPORTS_DIR, name, SUMS_FILE)
    }
    earlier = sorted(k for k in keys if k < key and not k.startswith("."))
    return earlier[-1] if earlier else None


def read_manifest(research_zone: Zone, key: str) -> pl.DataFrame | None:
    parts = (EXPORTS_DIR, key, "manifest.parquet")
    if not research_zone.exists(*parts):
        return None
    return pl.read_parquet(io.BytesIO(research_zone.read_bytes(*parts)))


def _count(frame: pl.DataFrame | None, column: str) -> dict[str, int]:
    if frame is None or frame.height == 0 or column not in frame.columns:
        return {}
    rows = frame.group_by(column).len().sort(column, nulls_last=True).iter_rows()
    return {("unknown" if k is None else str(k)): int(n) for k, n in rows}


def what_changed(
    manifest: pl.DataFrame, previous: pl.DataFrame | None, previous_key: str | None
) -> dict[str, Any]:
    """Counts now, before and the difference; images added/removed; patients that moved split."""
    current = {
        "images": manifest.height,
        "patients": manifest["patient_pseudo"].n_unique() if manifest.height else 0,
    }
    out: dict[str, Any] = {"previous_export": previous_key, "rows": []}
    if previous is None:
        out["rows"] = [(name, None, value, None) for name, value in current.items()]
        return out
    before = {
        "images": previous.height,
        "patients": previous["patient_pseudo"].n_unique() if previous.height else 0,
    }
    rows: list[tuple[str, int | None, int, int | None]] = [
        (name, before[name], current[name], current[name] - before[name]) for name in current
    ]
    for column, prefix in (("split", "split"), ("label", "label"), ("model", "scanner")):
        now, then = _count(manifest, column), _count(previous, column)
        for value in sorted(set(now) | set(then)):
            n_now, n_then = now.get(value, 0), then.get(value, 0)
            rows.append((f"{prefix} {value}", n_then, n_now, n_now - n_then))
    ids_now = set(manifest["image_id"].to_list()) if manifest.height else set()
    ids_then = set(previous["image_id"].to_list()) if previous.height else set()
    out["added_images"] = len(ids_now - ids_then)
    out["removed_images"] = len(ids_then - ids_now)
    moved = 0
    relabelled = 0
    if manifest.height and previous.height:
        joined = (
            manifest.select("patient_pseudo", "split")
            .unique()
            .join(
                previous.select("patient_pseudo", pl.col("split").alias("split_before")).unique(),
                on="patient_pseudo",
                how="inner",
            )
        )
        moved = joined.filter(pl.col("split") != pl.col("split_before"))[
            "patient_pseudo"
        ].n_unique()
        if "label" in previous.columns:
            labels = manifest.select("image_id", "label").join(
                previous.select("image_id", pl.col("label").alias("label_before")),
                on="image_id",
                how="inner",
            )
            relabelled = labels.filter(pl.col("label") != pl.col("label_before")).height
    out["patients_changed_split"] = moved
    out["images_relabelled"] = relabelled
    out["rows"] = rows
    return out


def caveats(
    manifest: pl.DataFrame, catalog: pl.DataFrame, twins: pl.DataFrame
) -> list[tuple[str, str]]:
    """(caveat, figure) pairs: duplicates, label noise, scanners, calipers, missing spacing."""
    n = manifest.height
    if n == 0:
        return [("empty export", "0 images")]

    def pct(k: int, total: int = n) -> str:
        return f"{k} of {total} ({100.0 * k / total:.1f} %)" if total else "0"

    out: list[tuple[str, str]] = []
    exact = n - manifest["image_sha256"].n_unique()
    out.append(("exact duplicate images (same PNG bytes)", pct(exact)))
    ids = set(manifest["image_id"].to_list())
    twin_pairs = (
        twins.filter(
            pl.col("caliper_image_id").is_in(list(ids)) & pl.col("clean_image_id").is_in(list(ids))
        ).height
        if twins.height
        else 0
    )
    out.append(("near-duplicate caliper/clean pairs both exported", f"{twin_pairs} pairs"))
    cine = int(manifest["is_cine"].fill_null(False).sum()) if "is_cine" in manifest.columns else 0
    out.append(("cine frames (highly correlated within a clip)", pct(cine)))
    unknown = manifest.filter(pl.col("label") < 0).height
    out.append(("images without a diagnosis label (label -1)", pct(unknown)))
    labelled = manifest.filter(pl.col("label") >= 0)
    if labelled.height:
        follow_up = labelled.filter(pl.col("label_rule").is_in(list(FOLLOW_UP_RULES))).height
        out.append(
            (
                "labelled images that are benign by imaging follow-up only, without pathology "
                f"({'/'.join(FOLLOW_UP_RULES)}: more label noise)",
                pct(follow_up, labelled.height),
            )
        )
    bag_mixed = (
        manifest.filter(pl.col("side").is_null()).height if "side" in manifest.columns else 0
    )
    out.append(("images whose breast side is unknown (bag label may be wrong)", pct(bag_mixed)))
    scanners = _count(manifest, "model")
    if scanners:
        top, top_n = max(scanners.items(), key=lambda kv: (kv[1], kv[0]))
        out.append((f"scanner mix: {len(scanners)} models; the largest ({top})", pct(top_n)))
    calipers = int(manifest["has_calipers"].fill_null(False).sum())
    out.append(("images with calipers burned in (inpainted where possible)", pct(calipers)))
    inpainted = manifest.filter(pl.col("source") == "inpainted").height
    out.append(("images exported from the inpainted copy", pct(inpainted)))
    if "pixel_spacing_x_cm" in manifest.columns:
        missing = manifest.filter(pl.col("pixel_spacing_x_cm").is_null()).height
        out.append(("images without pixel spacing (no sizes in cm)", pct(missing)))
    return out
