"""Dated, immutable training exports built from the metadata catalog (no Dagster)."""

from cadbusi_assets.exports.build import (
    ExportConfig,
    ExportExistsError,
    ExportReport,
    build_export,
    export_path,
    verify_export,
)
from cadbusi_assets.exports.lineage import build_lineage, key_fingerprint
from cadbusi_assets.exports.splits import assign_split, stratified_splits

__all__ = [
    "ExportConfig",
    "ExportExistsError",
    "ExportReport",
    "assign_split",
    "build_export",
    "build_lineage",
    "export_path",
    "key_fingerprint",
    "stratified_splits",
    "verify_export",
]
