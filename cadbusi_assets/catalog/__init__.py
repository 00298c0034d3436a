"""The DuckDB metadata catalog, rebuilt from the research zone's Parquet partitions."""

from cadbusi_assets.catalog.build import (
    CATALOG_PATH,
    UNIQUE_KEYS,
    CatalogInfo,
    CatalogReport,
    build_metadata_db,
    catalog_problems,
    open_catalog,
    read_catalog_info,
)

__all__ = [
    "CATALOG_PATH",
    "UNIQUE_KEYS",
    "CatalogInfo",
    "CatalogReport",
    "build_metadata_db",
    "catalog_problems",
    "open_catalog",
    "read_catalog_info",
]
