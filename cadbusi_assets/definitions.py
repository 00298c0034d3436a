"""The code location: everything under ``cadbusi_assets/defs``."""

import logging
from pathlib import Path

import dagster as dg


class _SameLocationTwoNames(logging.Filter):
    """Drops Dagster's warning that the project's ``code_location_name`` (``cadbusi_assets``,
    the name ``workspace.yaml`` gives the location in the UI) differs from the name a command
    loads it under (``cadbusi_assets.definitions`` for ``dagster … -m``). Both are these same
    definitions, and the warning concerns app-managed components, which this project has none
    of; ``dagster sensor preview -m`` printed it 85 times."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "configured on this project does not match the name" not in record.getMessage()


logging.getLogger("dagster.components.core.component_tree").addFilter(_SameLocationTwoNames())


@dg.definitions
def defs() -> dg.Definitions:
    from cadbusi_assets.defs.alerts.freshness import with_freshness

    return with_freshness(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
