"""The dataset card (README.md) and its plots, written into every export."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl


def _bar_png(title: str, counts: Mapping[str, int], xlabel: str = "") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.0), dpi=100)
    labels = [str(k) for k in counts]
    ax.bar(labels, list(counts.values()), color="#4C72B0")
    ax.set_title(title)
    ax.set_ylabel("count")
    if xlabel:
        ax.set_xlabel(xlabel)
    for tick in ax.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    plt.close(fig)
    return out.getvalue()


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.height == 0 or column not in frame.columns:
        return {}
    rows = frame.group_by(column).len().sort(column, nulls_last=True).iter_rows()
    return {("unknown" if k is None else str(k)): int(n) for k, n in rows}


def _lesion_mask_summary(manifest: pl.DataFrame) -> str:
    if "lesion_mask_source" not in manifest.columns or manifest.height == 0:
        return "none"
    counts = _counts(
        manifest.filter(pl.col("lesion_mask_source").is_not_null()), "lesion_mask_source"
    )
    left_out = _counts(
        manifest.filter(pl.col("lesion_mask_left_out").is_not_null())
        if "lesion_mask_left_out" in manifest.columns
        else manifest.clear(),
        "lesion_mask_left_out",
    )
    not_drawn = (
        "; lesion labels not drawn (manifest `lesion_mask_left_out`): "
        + "; ".join(f"{n} {reason}" for reason, n in left_out.items())
        if left_out
        else ""
    )
    if not counts:
        if not_drawn:
            return "none drawn" + not_drawn
        return "none (no Labelbox lesion labels or caliper boxes for these images)"
    described = {
        "labelbox": "from Labelbox lesion labels",
        "calipers": "caliper boxes (fallback, a box, not an outline)",
    }
    summary = "; ".join(f"{n} {described.get(k, k)}" for k, n in counts.items())
    if "mask_source" in manifest.columns:
        drawn = _counts(
            manifest.filter(pl.col("mask_source").str.contains("annotator_mask").fill_null(False)),
            "mask_source",
        )
        if drawn:
            summary += f"; {sum(drawn.values())} drawn by annotators as masks"
    return summary + not_drawn


def _md_table(counts: Mapping[str, Any], header: tuple[str, str]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in counts.items()]
    return "\n".join(lines)


def build_card(
    key: str,
    manifest: pl.DataFrame,
    bags: pl.DataFrame,
    dropped: Mapping[str, int],
    config: Mapping[str, Any],
    lineage: Mapping[str, Any],
    *,
    changes: Mapping[str, Any] | None = None,
    caveats: Sequence[tuple[str, str]] = (),
    balance: pl.DataFrame | None = None,
    left_out: Mapping[str, int] | None = None,
) -> tuple[str, dict[str, bytes]]:
    """Markdown text and the plots it links (``plots/<name>.png``). ``left_out``: what the
    catalog left out before the export chose its images (counts only)."""
    plots = {
        "splits": _bar_png("Images per split", _counts(manifest, "split")),
        "labels": _bar_png("Images per label (has_malignant)", _counts(manifest, "label")),
        "scanners": _bar_png("Images per scanner model", _counts(manifest, "model")),
        "birads": _bar_png("Images per BI-RADS", _counts(manifest, "birads")),
    }
    split_label = (
        manifest.group_by(["split", "label"]).len().sort(["split", "label"], nulls_last=True)
        if manifest.height
        else pl.DataFrame()
    )
    lines = [
        f"# Dataset card: breast-ultrasound export `{key}`",
        "",
        "Built by cadbusi_assets from de-identified research-zone data. Images are PNG crops of "
        "the ultrasound field of view; identifiers are keyed pseudonyms, dates are shifted per "
        "patient, report text is scrubbed. This folder never changes after it is written; "
        "`SHA256SUMS` lists every file.",
        "",
        "## Contents",
        "",
        f"- images: {manifest.height} (patients: {manifest['patient_pseudo'].n_unique() if manifest.height else 0}, "
        f"breast exams / bags: {bags.height})",
        "- `manifest.parquet` / `.csv`: one row per image (ids, split, fold, label, crop, scanner, "
        "caliper points in full-image and crop pixels, pixel spacing in cm, report lesions and "
        "their boxes, paths, checksums, batch)",
        "- `bags.parquet` / `.csv`: one row per breast exam (image list, label, split) for multiple-instance learning",
        "- `lesions.parquet` (when the lesions asset exists): one row per report lesion (side, "
        "clock, distance, size, descriptors, pathology part) with the images that show it, a bag "
        "per lesion",
        "- `vlm.jsonl`: image and report-text pairs",
        "- `export_config.yaml`, `lineage.json`",
        "- `fov_masks/`: field-of-view masks (the scanner's imaging area; manifest "
        "`fov_mask_path`)",
        f"- `lesion_masks/`: {_lesion_mask_summary(manifest)} (manifest `lesion_mask_path`, "
        "`lesion_mask_source`, `mask_source`, `lesion_mask_boxes_crop`)",
        *(
            [
                "- `data/<split>-NNNNN-of-NNNNN.parquet`: Parquet shards with the manifest fields "
                "and the PNG bytes of `image`, `fov_mask` and `lesion_mask` (Hugging Face "
                "`datasets` Image features)"
            ]
            if config.get("parquet_shards", False)
            else []
        ),
        "",
        "## Loading",
        "",
        "```python",
        "import datasets  # Hugging Face: splits train / validation / test",
        'ds = datasets.load_dataset("parquet", data_dir="<this folder>/data")',
        "",
        "from torch.utils.data import DataLoader  # PyTorch",
        "from cadbusi_assets.exports.torch_dataset import CadbusiExportDataset, collate",
        'train = CadbusiExportDataset("<this folder>", split="train")',
        "loader = DataLoader(train, batch_size=16, shuffle=True, collate_fn=collate)",
        "```",
        "",
        "## Splits (patient level, deterministic)",
        "",
        f"Method: `{config.get('split_method', 'hash')}` (salt `{config.get('split_salt')}`). "
        "Stratified splits group patients by label and main scanner and deal them out so that "
        "each split gets its share of every stratum, counted in images; no patient has images "
        "in two splits (checked when the export is verified)."
        + (
            f" `fold` holds {config.get('folds')} cross-validation folds over the non-test patients."
            if config.get("folds")
            else ""
        ),
        "",
        _md_table(_counts(manifest, "split"), ("split", "images")),
        "",
        "![splits](plots/splits.png)",
        "",
        "## Labels",
        "",
        "`label` is the per-breast diagnosis (1 malignant, 0 benign, -1 unknown) from pathology, "
        "BI-RADS 6 or benign follow-up rules; `label_rule` names the evidence.",
        "",
        _md_table(_counts(manifest, "label"), ("label", "images")),
        "",
        "![labels](plots/labels.png)",
        "",
    ]
    if balance is not None and balance.height:
        lines += [
            "Per split and label (1 malignant, 0 benign, -1 unknown):",
            "",
            "| split | label | images | patients |",
            "|---|---|---|---|",
        ]
        lines += [f"| {s} | {lab} | {n} | {p} |" for s, lab, n, p in balance.iter_rows()]
        lines.append("")
    elif split_label.height:
        lines += ["| split | label | images |", "|---|---|---|"]
        lines += [f"| {s} | {lab} | {n} |" for s, lab, n in split_label.iter_rows()]
        lines.append("")
    lines += [
        "## Scanners and BI-RADS",
        "",
        _md_table(_counts(manifest, "model"), ("scanner model", "images")),
        "",
        "![scanners](plots/scanners.png) ![birads](plots/birads.png)",
        "",
        *_changes_section(changes),
        *_caveats_section(caveats),
        "## What was left out, and why",
        "",
        _md_table(dict(dropped) or {"(nothing)": 0}, ("reason", "images")),
        "",
        *_catalog_left_out_section(left_out),
        "## Provenance",
        "",
        f"- de-identification profile: `{lineage.get('deidentification_profile')}`",
        f"- label set version: `{lineage.get('label_set_version')}`",
        f"- catalog digest: `{lineage.get('catalog_digest')}`",
        f"- code version: `{lineage.get('code_version')}`",
        f"- git commit: `{lineage.get('git_commit')}`",
        f"- pseudonym key fingerprint: `{lineage.get('pseudonym_key_fingerprint')}`",
        f"- upstream asset partitions: {len(lineage.get('upstream') or [])} (asset and batch in "
        "`lineage.json`, each batch's data version and run sealed in `ref`: `cadbusi lineage` "
        "resolves them with raw-zone access; the manifest's `batch` column names each image's)",
        "",
        "## Configuration",
        "",
        "```yaml",
        *[f"{k}: {v}" for k, v in sorted(config.items())],
        "```",
        "",
    ]
    return "\n".join(lines), plots


def _changes_section(changes: Mapping[str, Any] | None) -> list[str]:
    lines = ["## What changed since the previous export", ""]
    if not changes or not changes.get("previous_export"):
        return [*lines, "This is the first export (nothing to compare with).", ""]
    lines += [
        f"Compared with export `{changes['previous_export']}`: "
        f"{changes.get('added_images', 0)} images added, "
        f"{changes.get('removed_images', 0)} removed, "
        f"{changes.get('images_relabelled', 0)} relabelled, "
        f"{changes.get('patients_changed_split', 0)} patients changed split.",
        "",
        "| count | before | now | change |",
        "|---|---|---|---|",
    ]
    for name, before, now, delta in changes.get("rows", []):
        sign = "" if delta is None else (f"+{delta}" if delta > 0 else str(delta))
        lines.append(f"| {name} | {'' if before is None else before} | {now} | {sign} |")
    return [*lines, ""]


def _caveats_section(caveats: Sequence[tuple[str, str]]) -> list[str]:
    if not caveats:
        return []
    lines = ["## Known caveats (measured on this export)", "", "| caveat | figure |", "|---|---|"]
    lines += [f"| {name} | {figure} |" for name, figure in caveats]
    return [*lines, ""]


#: How the card names what the catalog left out (:data:`~cadbusi_assets.catalog.build.
#: LEFT_OUT_COUNTS`).
CATALOG_LEFT_OUT = {
    "study_batches_left_out_interrupted": (
        "study dates whose last run stopped in the middle (killed): all their images are out "
        "until the date is re-run",
        "dates",
    ),
    "images_left_out_resent_on_another_date": (
        "images the PACS sent again on another date (same pixels, same patient): the copy is "
        "out, the first image kept",
        "images",
    ),
    "study_batches_left_out_retired": (
        "study dates whose interrupted batch a person retired (no study date matches it any "
        "more): left out for good",
        "dates",
    ),
}


def _catalog_left_out_section(left_out: Mapping[str, int] | None) -> list[str]:
    """Counts only (no date, no batch, no id); nothing when the catalog left nothing out (an
    export of a whole catalog reads as before)."""
    counts = {k: int(v) for k, v in (left_out or {}).items() if v}
    if not counts:
        return []
    lines = [
        "Left out by the catalog before this export chose its images (not in the table above):",
        "",
        "| what | count |",
        "|---|---|",
    ]
    for name, n in sorted(counts.items()):
        text, unit = CATALOG_LEFT_OUT.get(name, (name, ""))
        lines.append(f"| {text} | {n}{' ' + unit if unit else ''} |")
    return [*lines, ""]
