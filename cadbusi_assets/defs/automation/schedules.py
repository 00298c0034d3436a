"""Schedules: yesterday's study date every night, and a trailing window for late arrivals;
the sensor that goes through older dates for changes.

Their times are settings, so they can match the PACS's quiet hours, in the hospital's time zone
(``CADBUSI_TIMEZONE``, default UTC; daylight saving followed, each date asked for once):
``CADBUSI_NIGHTLY_AT`` (``HH:MM``, default ``02:00``: the daily partitions' schedule runs once a
day) and ``CADBUSI_LATE_ARRIVALS_SCHEDULE`` (cron, default ``0 5 * * *``; it may come more
often, ``0 * * * *`` every hour: it asks for a date only when that date's study count changed,
once per count). Older dates: ``history_drift_sensor`` goes through the history a quarter of a
year an hour and re-runs a processed date whose count changed since.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from cadbusi_assets.defs.automation.times import (
    DEFAULT_LATE_ARRIVALS,
    LATE_ARRIVALS_ENV_VAR,
    NIGHTLY_ENV_VAR,
    TIMEZONE_ENV_VAR,
    nightly_time,
    schedule_cron,
    site_timezone,
    site_today,
)
from cadbusi_assets.defs.imaging.deidentified_images import deidentified_images
from cadbusi_assets.defs.imaging.image_analysis import image_features, inpainted_images
from cadbusi_assets.defs.imaging.raw_dicom import raw_dicom
from cadbusi_assets.defs.labeling.assets import labelbox_data_rows
from cadbusi_assets.defs.partitions import study_date_partitions
from cadbusi_assets.defs.records.assets import imaging_studies, pathology_reports, radiology_reports
from cadbusi_assets.defs.resources import WarehouseResource, ZonesResource
from cadbusi_assets.settings import load_settings
from cadbusi_assets.stages.records import WAREHOUSE_SPECIMENS
from cadbusi_assets.stages.report import read_partition_reports
from cadbusi_assets.stages.safety import is_sharp_drop
from cadbusi_assets.storage.zones import Zone

#: The assets partitioned by study date, in lineage order (keys).
STUDY_DATE_ASSETS: list[dg.AssetKey] = [
    radiology_reports.key,
    pathology_reports.key,
    imaging_studies.key,
    raw_dicom.key,
    deidentified_images,
    image_features,
    inpainted_images,
    labelbox_data_rows.key,
]

#: How many days back the late-arrival schedule looks (yesterday is the nightly run's).
LATE_ARRIVAL_DAYS = 7

study_date_job = dg.define_asset_job(
    "study_date_job",
    selection=dg.AssetSelection.assets(*STUDY_DATE_ASSETS),
    description="Everything partitioned by study date, for one date (or a range in backfills).",
)

_status = (
    dg.DefaultScheduleStatus.STOPPED
    if load_settings().is_demo
    else dg.DefaultScheduleStatus.RUNNING
)

_hour, _minute = nightly_time()
#: the hospital's time zone: the partitions' (the nightly schedule follows it) and the schedules'
_timezone = site_timezone()
nightly_study_date_schedule = dg.build_schedule_from_partitioned_job(
    study_date_job,
    hour_of_day=_hour,
    minute_of_hour=_minute,
    name="nightly_study_date_schedule",
    default_status=_status,
    description=f"Every night at {_hour:02d}:{_minute:02d} {_timezone} ({NIGHTLY_ENV_VAR}, "
    f"{TIMEZONE_ENV_VAR}): yesterday's study date, records to Labelbox data rows.",
)


def nightly_date(at: dt.datetime) -> dt.date:
    """The study date that the nightly schedule's latest tick at or before ``at`` asks for (the
    day before that tick's: yesterday's, the last one that is over), ``CADBUSI_NIGHTLY_AT``
    being the tick's time of day in the hospital's time zone (``CADBUSI_TIMEZONE``); a naive
    ``at`` is taken to be in that zone already."""
    at = at.astimezone(ZoneInfo(_timezone)) if at.tzinfo is not None else at
    tick_day = at.date()
    if (at.hour, at.minute) < (_hour, _minute):  # today's tick is still to come
        tick_day -= dt.timedelta(days=1)
    return tick_day - dt.timedelta(days=1)


def _studies_seen(raw: Zone, day: str) -> int | None:
    """US exams with a PACS reference seen by the latest radiology_reports run of ``day``, from
    the raw zone's partition report (the UI shows no counts beside a date); ``None`` when the
    date has none, or one that cannot be read (the date is then run again: it rewrites it)."""
    return _count_seen(raw, radiology_reports.key, day, "us_with_pacs_reference")


def _specimens_seen(raw: Zone, day: str) -> int | None:
    """The warehouse's pathology specimens of ``day`` seen by its latest pathology_reports run;
    ``None`` when unknown (no report, or one written before the count existed: not compared)."""
    return _count_seen(raw, pathology_reports.key, day, WAREHOUSE_SPECIMENS)


def _count_seen(raw: Zone, asset: dg.AssetKey, day: str, name: str) -> int | None:
    try:
        reports = read_partition_reports(raw, asset.to_user_string(), day)
    except (ValueError, OSError):
        return None
    if not reports:
        return None
    value = reports[-1].get("counts", {}).get(name)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _window(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """[start, end] clipped to the study-date partitions (the demo's end too); ``None`` when
    nothing is left."""
    first = dt.date.fromisoformat(study_date_partitions.start.strftime("%Y-%m-%d"))
    start = max(start, first)
    if study_date_partitions.end is not None:  # the demo: never past its last date
        end = min(end, (study_date_partitions.end - dt.timedelta(days=1)).date())
    return (start, end) if start <= end else None


def changed_dates(
    warehouse: WarehouseResource,
    raw: Zone,
    start: dt.date,
    end: dt.date,
    *,
    processed_only: bool = False,
    missed_after: dt.date | None = None,
) -> list[tuple[str, int, bool]]:
    """(date, warehouse count, never run) of each date in [start, end] whose warehouse count of ultrasound
    studies differs from what its last run saw (a date never run counts when the warehouse has
    studies for it, unless ``processed_only``: then only a date after ``missed_after``), or
    whose count of pathology specimens does (a specimen signed out after its date was processed
    changes no study count), oldest first: two queries, two reports per date."""
    with warehouse.open() as wh:
        counts = {
            d.isoformat(): int(n)
            for d, n in wh.exam_counts(start, end).select("exam_date", "n_us_studies").iter_rows()
        }
        specimens = {
            d.isoformat(): int(n)
            for d, n in wh.specimen_counts(start, end)
            .select("specimen_date", "n_specimens")
            .iter_rows()
        }
    changed = []
    processed = answered = 0
    day = start
    while day <= end:
        key = day.isoformat()
        expected = counts.get(key, 0)
        seen = _studies_seen(raw, key)
        if seen is None:
            missed = missed_after is not None and day > missed_after
            if expected > 0 and (missed or not processed_only):
                changed.append((key, expected, True))
        else:
            processed, answered = processed + seen, answered + expected
            pathology = _specimens_seen(raw, key)
            if seen != expected or pathology not in (None, specimens.get(key, 0)):
                changed.append((key, expected, False))
        day += dt.timedelta(days=1)
    if is_sharp_drop(processed, answered):
        raise WarehouseDrop(
            f"the warehouse answers far fewer ultrasound studies for the processed dates of "
            f"{start} .. {end} than they hold: an outage or a wrong view rather than deletions; "
            "no date is asked for (each run would refuse the drop). Re-run the dates by hand if "
            "the studies are really gone (`cadbusi partition-report` has the counts)."
        )
    return changed


class WarehouseDrop(RuntimeError):
    """The warehouse's answer for a window dropped sharply against what was processed."""


def date_requests(
    context: dg.ScheduleEvaluationContext | dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    raw: Zone,
    start: dt.date,
    end: dt.date,
    prefix: str,
    reason: str,
    *,
    processed_only: bool = False,
    missed_after: dt.date | None = None,
    missed_reason: str = "",
) -> list[dg.RunRequest] | str:
    """One run request per date of :func:`changed_dates`, or, when the warehouse's answer
    dropped sharply, the reason (logged as a warning) and no request.

    The run key is ``<prefix>-<date>-<mark>``, ``mark`` the storage id of the date's latest
    ``radiology_reports`` materialization on this instance (0: none): once per date and
    processing. A key of the warehouse's count (as before) showed a count beside a real date
    in the UI, and a count that came back (an exam cancelled, then reinstated) asked for a
    key Dagster had launched once and skips: the date was never run again. After a run the
    date's count is the warehouse's, so a date is asked for again only when it changes again.
    A date that a queued or going run processes (a UI backfill) is not asked for."""
    # (a sensors' helper: sensors.py imports this module)
    from cadbusi_assets.defs.automation.sensors import dates_being_run

    try:
        changed = changed_dates(
            warehouse, raw, start, end, processed_only=processed_only, missed_after=missed_after
        )
    except WarehouseDrop as drop:
        context.log.warning(str(drop))
        return str(drop)
    # a date a queued or going run processes (a UI backfill) is left to it: a second run would
    # wait for its partition locks and then do the date again; a count that still differs
    # after that run is found by a later tick
    busy = dates_being_run(context.instance, [key for key, _expected, _never in changed])
    if busy:
        context.log.info(f"left {len(busy)} changed date(s) to the runs processing them")
    requests = []
    for key, _expected, never_run in changed:
        if key in busy:
            continue
        said = missed_reason if missed_reason and never_run and processed_only else reason
        requests.append(
            dg.RunRequest(
                run_key=f"{prefix}-{key}-{_processed_mark(context.instance, key)}",
                partition_key=key,
                tags={"cadbusi/reason": said},
            )
        )
    return requests


#: the tag Dagster gives a run a schedule launched
_SCHEDULE_TAG = "dagster/schedule_name"


def automation_began(instance: dg.DagsterInstance) -> dt.date | None:
    """The study date of the first run the nightly schedule launched on this instance
    (``None``: it never ran). Dates after it that were never processed were missed while the
    schedules were off (the daemon down for longer than the late-arrival window); dates before
    it are history, for a person to backfill."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={_SCHEDULE_TAG: nightly_study_date_schedule.name}),
        limit=1,
        ascending=True,
    )
    if not records:
        return None
    day = records[0].dagster_run.tags.get("dagster/partition", "")
    try:
        return dt.date.fromisoformat(day)
    except ValueError:
        return None


def _processed_mark(instance: dg.DagsterInstance, day: str) -> int:
    """The storage id of ``day``'s latest ``radiology_reports`` materialization (0: none)."""
    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=radiology_reports.key, asset_partitions=[day]), limit=1
    )
    return found.records[0].storage_id if found.records else 0


_late = schedule_cron(LATE_ARRIVALS_ENV_VAR, DEFAULT_LATE_ARRIVALS)


@dg.schedule(
    cron_schedule=_late,
    job=study_date_job,
    default_status=_status,
    execution_timezone=_timezone,
    description=f"On `{_late}` ({_timezone}; {LATE_ARRIVALS_ENV_VAR}): re-run the "
    f"{LATE_ARRIVAL_DAYS} days before yesterday whose warehouse study count differs from what "
    "was processed (late arrivals), and only those; never the date of the nightly schedule's "
    "latest tick (its own).",
)
def late_arrivals_schedule(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource, zones: ZonesResource
):
    run_day = context.scheduled_execution_time.date()
    # the nightly schedule's date is its own: after days off, the daemon evaluates both
    # schedules' latest ticks in one iteration (in threads in the Helm chart), and a nightly run
    # after this one's hour (or an hourly late-arrival schedule) had both ask for that date
    end = min(
        run_day - dt.timedelta(days=2),
        nightly_date(context.scheduled_execution_time) - dt.timedelta(days=1),
    )
    window = _window(run_day - dt.timedelta(days=LATE_ARRIVAL_DAYS + 1), end)
    if window is None:
        return dg.SkipReason("the late-arrival window is before the first study date")
    requests = date_requests(context, warehouse, zones.raw(), *window, "late", "late arrivals")
    if isinstance(requests, str):
        return dg.SkipReason(requests)
    return requests or dg.SkipReason("no study date in the window changed")


#: The reason tag of a date the drift sensor asks for because the schedules missed it.
MISSED_REASON = "a date missed while the schedules were off"
#: Dates of the history the drift sensor compares per tick (a quarter of a year: a tick reads
#: one warehouse count query and at most this many reports).
DRIFT_DATES_PER_TICK = 92


@dg.sensor(
    job=study_date_job,
    default_status=dg.DefaultSensorStatus(_status.value),
    minimum_interval_seconds=3600,
    name="history_drift_sensor",
    description="Re-runs processed study dates older than the late-arrival window whose "
    "warehouse study count changed since (an exam date corrected, a study cancelled or added "
    f"long after), going through the history {DRIFT_DATES_PER_TICK} dates an hour, oldest "
    "first, once per date and count; and runs the dates after the nightly schedule's first "
    "date that were never processed though the warehouse has studies (missed while the "
    "daemon was off for longer than the late-arrival window).",
)
def history_drift_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, zones: ZonesResource
) -> dg.SensorResult:
    today = site_today()
    window = _window(dt.date.min, today - dt.timedelta(days=LATE_ARRIVAL_DAYS + 2))
    if window is None:
        return dg.SensorResult(skip_reason="no study date is older than the late-arrival window")
    first, last = window
    try:
        start = dt.date.fromisoformat(context.cursor) if context.cursor else first
    except ValueError:
        start = first
    if not first <= start <= last:
        start = first  # a pass ended (or the history moved): begin again
    end = min(last, start + dt.timedelta(days=DRIFT_DATES_PER_TICK - 1))
    requests = date_requests(
        context,
        warehouse,
        zones.raw(),
        start,
        end,
        "drift",
        "the warehouse changed an older date",
        processed_only=True,
        missed_after=automation_began(context.instance),
        missed_reason=MISSED_REASON,
    )
    if isinstance(requests, str):  # the same slice again on the next tick
        return dg.SensorResult(skip_reason=requests, cursor=context.cursor)
    following = end + dt.timedelta(days=1)
    cursor = (following if following <= last else first).isoformat()
    skip = None if requests else f"no processed study date of {start} .. {end} changed"
    return dg.SensorResult(run_requests=requests, cursor=cursor, skip_reason=skip)
