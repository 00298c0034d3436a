"""Ways to cut an export: add a partition in the UI and launch it, add one elsewhere (then
``export_partition_sensor`` runs it), or let the monthly sensor add one on the first day of each
month. One export run per added partition: the sensor launches only partitions that nobody has
launched — no materialization, no queued, running or failed run of ``dataset_export`` for it."""

import json

import dagster as dg

from cadbusi_assets.defs.automation.times import site_today
from cadbusi_assets.defs.exports.assets import dataset_export
from cadbusi_assets.defs.exports.guards import EXPORT_JOB_NAME, launched_export_partitions
from cadbusi_assets.defs.partitions import export_partitions

dataset_export_job = dg.define_asset_job(
    EXPORT_JOB_NAME,
    selection=dg.AssetSelection.assets(dataset_export),
    description="Build one dated export (one `exports` partition).",
)


@dg.sensor(
    job=dataset_export_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a build for every export partition that was added (API, CLI) and "
    "that nobody launched: a partition added and launched in the UI, or by the monthly sensor, "
    "already has its run and is left alone.",
)
def export_partition_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    requested = set(json.loads(context.cursor)) if context.cursor else set()
    keys = export_partitions.get_partition_keys(dynamic_partitions_store=context.instance)
    candidates = [k for k in keys if k not in requested]
    launched = launched_export_partitions(context.instance, candidates, export_partitions)
    new = [k for k in candidates if k not in launched]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"export-{k}", partition_key=k) for k in new],
        cursor=json.dumps(sorted(requested | set(keys))),
        skip_reason=None if new else "no export partition waiting for a run",
    )


@dg.sensor(
    job=dataset_export_job,
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Adds an export partition named after the first day of each month (start it "
    "in the UI to cut monthly exports).",
)
def monthly_export_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    today = site_today()  # the hospital's month
    key = today.replace(day=1).isoformat()
    if context.instance.has_dynamic_partition(str(export_partitions.name), key):
        return dg.SensorResult(skip_reason=f"export {key} already exists")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"export-{key}", partition_key=key)],
        dynamic_partitions_requests=[export_partitions.build_add_request([key])],
    )
