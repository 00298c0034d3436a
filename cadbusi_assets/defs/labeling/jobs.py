"""Deleting withdrawn data rows in Labelbox: a job run by hand (Launchpad: the reason)."""

import dagster as dg

from cadbusi_assets.defs.reporting import report_metadata
from cadbusi_assets.defs.resources import LabelSourceResource, ZonesResource
from cadbusi_assets.stages import labeling as stage


class DeleteWithdrawnConfig(dg.Config):
    reason: str
    """Why the withdrawn data rows are deleted (recorded with each row; scrubbed)."""


@dg.op(
    description="Delete in Labelbox every data row marked withdrawn in labelbox_data_rows "
    "(quarantined, excluded, purged for identifiers) and record it with the reason in "
    "labels/labelbox/deleted_data_rows.parquet; a re-run deletes nothing twice."
)
def delete_withdrawn_data_rows_op(
    context: dg.OpExecutionContext,
    config: DeleteWithdrawnConfig,
    zones: ZonesResource,
    labelbox: LabelSourceResource,
) -> None:
    report = stage.delete_withdrawn_data_rows(zones.research(), labelbox.open(), config.reason)
    context.log_event(
        dg.AssetObservation(
            asset_key="labelbox_data_rows",
            metadata=report_metadata(report),
        )
    )


@dg.job(
    description="Delete withdrawn data rows in Labelbox (run by hand with a reason).",
    tags={"cadbusi/kind": "labelbox-deletion"},
)
def delete_withdrawn_data_rows():
    delete_withdrawn_data_rows_op()
