"""The Labelbox sensor: new or changed label exports trigger `labelbox_labels`."""

import dagster as dg

from cadbusi_assets.defs.labeling.assets import labelbox_labels
from cadbusi_assets.defs.resources import LabelSourceResource

labelbox_labels_job = dg.define_asset_job(
    "labelbox_labels_job",
    selection=dg.AssetSelection.assets(labelbox_labels),
    description="Ingest label exports (run by the Labelbox sensor).",
)


@dg.sensor(
    job=labelbox_labels_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls the label source; the cursor is the export fingerprint (folder) or the "
    "last activity time (Labelbox). A change requests one labelbox_labels run.",
)
def labelbox_labels_sensor(
    context: dg.SensorEvaluationContext, labelbox: LabelSourceResource
) -> dg.SensorResult:
    changed, cursor = labelbox.open().changes_since(context.cursor)
    if not changed:
        return dg.SensorResult(skip_reason="no new or changed label exports", cursor=cursor)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"labels-{cursor}")], cursor=cursor)
