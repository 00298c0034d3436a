"""The code location: everything under ``cadbusi_assets/defs``."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    from cadbusi_assets.defs.alerts.freshness import with_freshness

    return with_freshness(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
