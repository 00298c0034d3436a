"""Catalog group: the DuckDB metadata database rebuilt from the research-zone partitions."""

import dagster as dg

from cadbusi_assets.catalog import UNIQUE_KEYS, build_metadata_db
from cadbusi_assets.defs.automation.conditions import after_upstream_updates
from cadbusi_assets.defs.imaging.deidentified_images import deidentified_images
from cadbusi_assets.defs.imaging.image_analysis import image_features, inpainted_images
from cadbusi_assets.defs.labeling.assets import labelbox_data_rows, labelbox_labels
from cadbusi_assets.defs.records.assets import diagnosis_labels
from cadbusi_assets.defs.resources import ZonesResource


@dg.asset(
    deps=[
        deidentified_images,
        image_features,
        inpainted_images,
        labelbox_data_rows,
        diagnosis_labels,
        labelbox_labels,
    ],
    group_name="catalog",
    kinds={"duckdb"},
    pool="duckdb_catalog",
    code_version="1",
    automation_condition=after_upstream_updates(),
    check_specs=[
        dg.AssetCheckSpec(
            "unique_keys",
            asset="metadata_db",
            blocking=True,
            description="Every key that must be unique is: image id, instance id and SOP "
            "Instance UID, study id and Study Instance UID, data row, diagnosis label, label id "
            "in the current label set, and pixel hash per pseudonymous patient. An export "
            "refuses a catalog whose latest check failed.",
        )
    ],
    description="DuckDB catalog (research zone): studies, instances, images, features, twins, "
    "inpainted images, exclusions, diagnosis labels and Labelbox labels, plus the image_catalog "
    "and exclusions views. Rebuilt from scratch each time; replaced atomically.",
)
def metadata_db(zones: ZonesResource) -> dg.MaterializeResult:
    report = build_metadata_db(zones.research())
    duplicates = {k: v for k, v in report.duplicate_keys.items() if v}
    table_md = "\n".join(
        ["| table | rows |", "|---|---|"]
        + [f"| {k} | {v} |" for k, v in sorted(report.tables.items())]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.tables.get("images", 0),
            "tables": dg.MetadataValue.md(table_md),
            "path": report.path,
            "tables_not_yet_available": ", ".join(report.missing_tables) or "none",
            "label_set_version": report.label_set_version or "none",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="unique_keys",
                passed=report.unique_keys_passed,
                metadata={
                    "duplicates": dg.MetadataValue.json(duplicates or {}),
                    "examples": dg.MetadataValue.json(report.duplicate_examples),
                    "keys_checked": dg.MetadataValue.json(
                        {
                            name: f"{UNIQUE_KEYS[name][0]}({', '.join(UNIQUE_KEYS[name][1])})"
                            for name in sorted(report.duplicate_keys)
                        }
                    ),
                    **{name: count for name, count in sorted(report.warnings.items())},
                },
            )
        ],
    )
