"""The DuckDB metadata catalog, rebuilt from the research zone's Parquet partitions."""

from cadbusi_assets.catalog.build import (
    CATALOG_PATH,
    CatalogReport,
    build_metadata_db,
    open_catalog,
)

__all__ = ["CATALOG_PATH", "CatalogReport", "build_metadata_db", "open_catalog"]
