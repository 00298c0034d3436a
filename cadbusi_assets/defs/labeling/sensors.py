"""The Labelbox sensor: new or changed label exports trigger `labelbox_labels`."""

import hashlib
import json

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
    "last activity time (Labelbox), with the number of changes seen. A change requests one "
    "labelbox_labels run (run key labels-<change number>-<cursor digest>).",
)
def labelbox_labels_sensor(
    context: dg.SensorEvaluationContext, labelbox: LabelSourceResource
) -> dg.SensorResult:
    source_cursor, changes = _read_cursor(context.cursor)
    changed, cursor = labelbox.open().changes_since(source_cursor)
    if not changed:
        return dg.SensorResult(
            skip_reason="no new or changed label exports", cursor=_cursor(cursor, changes)
        )
    # the run key counts the changes: a folder brought back to an earlier state (a file added
    # by mistake, then taken out) has an earlier fingerprint, and Dagster skips a run key it
    # launched once, so a key of the fingerprint alone left the removed file's labels in
    changes += 1
    digest = hashlib.sha256(cursor.encode()).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"labels-{changes}-{digest}")],
        cursor=_cursor(cursor, changes),
    )


def _cursor(source: str, changes: int) -> str:
    return json.dumps({"source": source, "changes": changes}, sort_keys=True)


def _read_cursor(text: str | None) -> tuple[str | None, int]:
    """(the label source's cursor, the changes counted so far); a cursor of the label source
    alone (a sensor from before the count) is read as such, with no change counted."""
    if not text:
        return None, 0
    try:
        value = json.loads(text)
    except ValueError:
        return text, 0
    if isinstance(value, dict) and set(value) == {"source", "changes"}:
        return value["source"], int(value["changes"])
    return text, 0
