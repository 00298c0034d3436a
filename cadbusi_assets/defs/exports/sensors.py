"""Ways to cut an export: add a partition in the UI (then this sensor runs it), or let the
monthly sensor add one on the first day of each month."""

import datetime as dt
import json

import dagster as dg

from cadbusi_assets.defs.exports.assets import dataset_export
from cadbusi_assets.defs.partitions import export_partitions

dataset_export_job = dg.define_asset_job(
    "dataset_export_job",
    selection=dg.AssetSelection.assets(dataset_export),
    description="Build one dated export (one `exports` partition).",
)


@dg.sensor(
    job=dataset_export_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a build for every export partition that was added (UI, CLI or the "
    "monthly sensor) and has never been requested.",
)
def export_partition_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    requested = set(json.loads(context.cursor)) if context.cursor else set()
    keys = export_partitions.get_partition_keys(dynamic_partitions_store=context.instance)
    materialized = context.instance.get_materialized_partitions(dataset_export.key)
    new = [k for k in keys if k not in requested and k not in materialized]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"export-{k}", partition_key=k) for k in new],
        cursor=json.dumps(sorted(requested | set(keys))),
    )


@dg.sensor(
    job=dataset_export_job,
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Adds an export partition named after the first day of each month (start it "
    "in the UI to cut monthly exports).",
)
def monthly_export_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    today = dt.datetime.now(dt.UTC).date()
    key = today.replace(day=1).isoformat()
    if context.instance.has_dynamic_partition(export_partitions.name, key):
        return dg.SensorResult(skip_reason=f"export {key} already exists")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"export-{key}", partition_key=key)],
        dynamic_partitions_requests=[export_partitions.build_add_request([key])],
    )
