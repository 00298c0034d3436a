"""Labelbox round trips: data rows out, labels in (no Dagster).

* :mod:`.ndjson` parses Labelbox export rows (export v2 NDJSON shape) into normalized tables.
* :mod:`.sources` holds the label sources: a folder of NDJSON exports (embedded default) and
  the Labelbox SDK (production), behind one :class:`LabelSource` interface.
* :mod:`.data_rows` builds the data rows for de-identified images (global key = image id).
"""

from cadbusi_assets.labeling.data_rows import build_data_rows
from cadbusi_assets.labeling.ndjson import (
    LabelTables,
    label_set_version,
    merge_label_tables,
    parse_export_rows,
)
from cadbusi_assets.labeling.sources import (
    FolderLabelSource,
    LabelboxSdkSource,
    LabelSource,
    LabelSourceError,
    open_label_source,
)

__all__ = [
    "FolderLabelSource",
    "LabelSource",
    "LabelSourceError",
    "LabelTables",
    "LabelboxSdkSource",
    "build_data_rows",
    "label_set_version",
    "merge_label_tables",
    "open_label_source",
    "parse_export_rows",
]
