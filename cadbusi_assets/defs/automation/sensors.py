"""Sensors that keep runs honest without a person watching.

* ``default_automation_condition_sensor`` — declared here so it is **running by default**:
  it evaluates the automation conditions of ``metadata_db`` and ``diagnosis_labels`` (rebuild
  after upstream updates) every 30 s while the daemon runs.
* ``failed_study_dates_sensor`` — a ranged run in which some study dates failed finishes the
  other dates; this sensor then re-runs each failed date on its own, from the asset where it
  failed, so the failure is recorded against that date (red in the UI, with its traceback) and
  "re-execute" retries exactly that date.
* ``dead_run_sensor`` — a run whose process died (killed, out of memory, machine restart) would
  stay STARTED forever under the default run launcher; this sensor marks it failed: a run of
  this host once its process is gone, a run of another host once its heartbeat stopped
  (:mod:`cadbusi_assets.defs.run_process`).
* ``interrupted_study_dates_sensor`` — a run killed in the middle of a date's imaging pass
  reports no failed date; the date's batch stays marked open (the catalog and the lesions leave
  it out). This sensor finds those dates (:func:`~cadbusi_assets.stages.batches.
  interrupted_dates`: the raw zone's dates, matched to the open batches with the key) and
  re-runs each once per interruption, from ``deidentified_images``, never while a run of that
  date is queued or going, nor when a person terminated its last run (a terminated run never
  resumes), nor after its last 3 re-runs failed. It also re-runs every date of a killed run
  (one date or a range: a UI backfill, ``make demo``) that the run did not finish
  (:func:`killed_run_dates`): a killed ranged run leaves a marker only on the date it was in,
  and its other dates are whole but not updated. A date both ways is requested once.
* ``handed_over_studies_sensor`` — a study the warehouse moved from one date to another, the
  two dates run as separate runs (the late-arrival schedule asks for each), the new date first:
  the new date skipped the study as held by the old one, then the old date released it. The
  old date's run records who waits (``retrieval_handovers``); this sensor re-runs the waiting
  date from ``raw_dicom`` until it holds the study.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

from cadbusi_assets.defs.automation.schedules import STUDY_DATE_ASSETS, study_date_job
from cadbusi_assets.defs.partitions import study_date_partitions
from cadbusi_assets.defs.reporting import FAILED_DATES_TAG
from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
from cadbusi_assets.defs.run_process import release_dead_runs, run_process_alive
from cadbusi_assets.stages.batches import interrupted_dates, unmatched_open_batches
from cadbusi_assets.stages.retrieval import waiting_dates
from cadbusi_assets.storage.zones import Zone

#: Tag of a re-run of an interrupted date: the token of the interruption (no date, no id), or
#: ``killed run`` for a date a killed run did not finish and left no marker on.
INTERRUPTED_TAG = "cadbusi/rerun_of_interrupted"
#: Tag of a re-run of a date that a killed run did not finish: the killed run's id.
KILLED_RUN_TAG = "cadbusi/rerun_of_killed_run"
#: An interrupted date whose last re-runs by the sensor all failed is left to a person.
MAX_INTERRUPTED_RERUNS = 3
#: Runs that are queued or going (a run whose process is gone is not: see dates_being_run).
GOING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

default_automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds metadata_db and diagnosis_labels after upstream updates (their "
    "automation conditions); on by default.",
)

_ORDER = [key.to_user_string() for key in STUDY_DATE_ASSETS]
_STUDY_DATE_KEYS = frozenset(STUDY_DATE_ASSETS)


def downstream_from(asset: str) -> list[dg.AssetKey]:
    """The study-date assets from ``asset`` on, in lineage order."""
    start = _ORDER.index(asset) if asset in _ORDER else 0
    return [dg.AssetKey(name) for name in _ORDER[start:]]


def failed_date_requests(run: dg.DagsterRun) -> list[dg.RunRequest]:
    """One run per date that failed inside ``run``, from the asset where it failed. Its run key
    (``<run id>:<date>``, Dagster's ``dagster/run_key`` tag) names the ranged run; no tag of
    ours does: a re-execution from the UI copies its parent's tags, and a ``cadbusi/retry_of``
    tag (read by nothing) called a person's re-execution a retry of the ranged run."""
    failed = json.loads(run.tags.get(FAILED_DATES_TAG, "") or "{}")
    return [
        dg.RunRequest(
            run_key=f"{run.run_id}:{day}",
            partition_key=day,
            asset_selection=downstream_from(asset),
            tags={"cadbusi/reason": f"{asset} failed in a ranged run"},
        )
        for day, asset in sorted(failed.items())
    ]


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=study_date_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    name="failed_study_dates_sensor",
    description="Re-runs, one by one, the study dates that failed inside a ranged run whose "
    "other dates succeeded, so each failure is recorded against its own date.",
)
def failed_study_dates_sensor(context: dg.RunStatusSensorContext):
    return failed_date_requests(context.dagster_run) or dg.SkipReason("no failed study dates")


@dg.sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    name="dead_run_sensor",
    description="Marks runs failed whose process is gone (killed, out of memory) instead of "
    "leaving them STARTED forever; a run of another host once its heartbeat stops.",
)
def dead_run_sensor(context: dg.SensorEvaluationContext):
    # the cursor: when the sensor saw each heartbeat of a run of another host change
    try:
        memory = json.loads(context.cursor) if context.cursor else {}
    except ValueError:
        memory = {}
    if not isinstance(memory, dict):
        memory = {}
    dead = release_dead_runs(context.instance, heartbeats=memory)
    context.update_cursor(json.dumps(memory, sort_keys=True))
    return dg.SkipReason(
        f"marked {len(dead)} dead runs: {', '.join(dead)}" if dead else "no dead runs"
    )


def _covers(run: dg.DagsterRun, day: str) -> bool:
    """Whether ``run`` processes the study date ``day`` (one date, or a range of dates) of a
    study-date asset (an export partition may be named like a date)."""
    selected = run.asset_selection
    if run.job_name != study_date_job.name and not (selected and selected & _STUDY_DATE_KEYS):
        return False
    tags = run.tags
    if tags.get("dagster/partition") == day:
        return True
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    return bool(start and end and start <= day <= end)  # ISO dates sort as dates


def dates_being_run(instance: dg.DagsterInstance, days: list[str]) -> set[str]:
    """The dates of ``days`` that a queued or going run processes (a run whose process is
    gone, killed before ``dead_run_sensor`` marked it, goes nowhere)."""
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=GOING))
    going = [r.dagster_run for r in records if run_process_alive(r.dagster_run) is not False]
    return {day for day in days if any(_covers(run, day) for run in going)}


#: How many of the newest failed or started runs the sensor looks through for killed runs (a
#: killed run is hidden only by this many newer failures, not by any number of other runs).
RECENT_RUNS = 1000

_PARTITION_TAG = "dagster/partition"
_RANGE_START_TAG = "dagster/asset_partition_range_start"


def _runs_covering(
    instance: dg.DagsterInstance, days: Sequence[str]
) -> dict[str, list[dg.DagsterRun]]:
    """Per date of ``days``, every run that processed it (one date or a range), newest first,
    however many other runs came since: the runs tagged with the date, and the ranged runs
    (a UI backfill's, :data:`~cadbusi_assets.defs.partitions.STUDY_DATE_BACKFILL`: one per
    31 dates at most) whose range holds it; both found by their tags, not among the newest."""
    if not days:
        return {}
    records = list(
        instance.get_run_records(filters=dg.RunsFilter(tags={_PARTITION_TAG: list(days)}))
    )
    starts = sorted(
        value
        for key, values in instance.get_run_tags(tag_keys=[_RANGE_START_TAG])
        if key == _RANGE_START_TAG
        for value in values
        if value <= max(days)  # ISO dates sort as dates
    )
    if starts:
        records += instance.get_run_records(filters=dg.RunsFilter(tags={_RANGE_START_TAG: starts}))
    unique = {r.dagster_run.run_id: r for r in records}
    newest_first = sorted(unique.values(), key=lambda r: r.storage_id, reverse=True)
    return {
        day: [r.dagster_run for r in newest_first if _covers(r.dagster_run, day)] for day in days
    }


def _terminated(runs: list[dg.DagsterRun]) -> bool:
    """The date's last run was terminated by a person (CANCELED): it never resumes by itself."""
    return bool(runs) and runs[0].status == dg.DagsterRunStatus.CANCELED


def sensors_rerun(run: dg.DagsterRun) -> bool:
    """Whether ``run`` is a re-run this sensor requested: tagged :data:`INTERRUPTED_TAG` and no
    re-execution. A re-execution from the UI copies its parent's tags, this one included, but
    a person launched it; a sensor's request never re-executes a run."""
    return INTERRUPTED_TAG in run.tags and not run.parent_run_id


def _given_up(runs: list[dg.DagsterRun]) -> bool:
    """The date's last :data:`MAX_INTERRUPTED_RERUNS` runs were this sensor's and all failed
    (a date that kills its run every time, out of memory say: a person must look). A person's
    re-execution of one of them is not the sensor's (:func:`sensors_rerun`)."""
    last = runs[:MAX_INTERRUPTED_RERUNS]
    return len(last) == MAX_INTERRUPTED_RERUNS and all(
        sensors_rerun(run) and run.status == dg.DagsterRunStatus.FAILURE for run in last
    )


def _run_dates(run: dg.DagsterRun) -> list[str]:
    """The study dates ``run`` processes (its partition, or every date of its range)."""
    tags = run.tags
    try:
        if tags.get("dagster/partition"):
            return [dt.date.fromisoformat(tags["dagster/partition"]).isoformat()]
        start = tags.get("dagster/asset_partition_range_start")
        end = tags.get("dagster/asset_partition_range_end")
        if not (start and end):
            return []
        day, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:  # not a study date (an export key, say)
        return []
    days = []
    while day <= last:
        days.append(day.isoformat())
        day += dt.timedelta(days=1)
    return days


def _study_date_selection(run: dg.DagsterRun) -> list[dg.AssetKey]:
    """The study-date assets ``run`` materializes, in lineage order."""
    selected = run.asset_selection
    if not selected:
        return list(STUDY_DATE_ASSETS) if run.job_name == study_date_job.name else []
    return [key for key in STUDY_DATE_ASSETS if key in selected]


def _events(
    instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType, limit: int | None = None
) -> list:
    records = instance.get_records_for_run(run_id, of_type=kind, limit=limit).records
    return [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event]


@dataclass(frozen=True)
class KilledDate:
    """A study date that a killed run did not finish: the run, and the study-date assets to
    re-run for it (from the first the run did not materialize for it, up to the run's last);
    ``unstarted`` when the run failed before it started (:func:`unstarted_run_dates`)."""

    run_id: str
    assets: tuple[dg.AssetKey, ...]
    unstarted: bool = False


def _killed(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether ``run`` died while processing: its process is gone (failed by
    ``dead_run_sensor`` or Dagster's run monitoring, or not yet marked), a step had started, and
    no step failed (a step that fails reports it: the run failed as usual, every date of it
    with a reason, which is not an interruption)."""
    if run.status == dg.DagsterRunStatus.STARTED:
        if run_process_alive(run) is not False:
            return False
    elif run.status != dg.DagsterRunStatus.FAILURE:
        return False  # going, succeeded, or terminated by a person (CANCELED)
    started = _events(instance, run.run_id, dg.DagsterEventType.STEP_START, limit=1)
    return bool(started) and not _events(
        instance, run.run_id, dg.DagsterEventType.STEP_FAILURE, limit=1
    )


def _unfinished(
    instance: dg.DagsterInstance, run: dg.DagsterRun, days: list[str]
) -> dict[str, tuple[dg.AssetKey, ...]]:
    """The ``days`` of ``run`` that it did not finish, each with the assets to re-run: what
    the instance records as materialized by this run, per asset and date (a ranged step
    records its dates when it ends, so a date is finished once every selected asset of it is),
    and the dates the run itself recorded as failed (from the asset where they failed)."""
    selection = _study_date_selection(run)
    done = {
        (event.asset_key, event.partition)
        for event in _events(instance, run.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)
    }
    failed = json.loads(run.tags.get(FAILED_DATES_TAG, "") or "{}")
    out = {}
    for day in days:
        missing = [key for key in selection if (key, day) not in done]
        if day in failed and dg.AssetKey(failed[day]) in selection:
            missing = selection[selection.index(dg.AssetKey(failed[day])) :]
        if missing:
            out[day] = tuple(selection[selection.index(missing[0]) :])
    return out


def _failed_before_starting(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether ``run`` failed before it started (no ``RUN_START``): its run worker could not
    load the job (the code location broken when it started: "Could not load job definition")
    or never started; nothing of its dates ran. A run that started and was stopped before its
    first step (Ctrl-C while it waited for a pool slot) is not one."""
    return run.status == dg.DagsterRunStatus.FAILURE and not _events(
        instance, run.run_id, dg.DagsterEventType.RUN_START, limit=1
    )


def unstarted_run_dates(instance: dg.DagsterInstance) -> dict[str, KilledDate]:
    """The study dates whose newest run failed before it started (:func:`_failed_before_starting`),
    each with the run's whole study-date selection: looked for as :func:`killed_run_dates`
    looks. The sensor that asks for them ticks only while the code location loads, so they
    are re-run once it loads again (a date whose re-runs keep failing is given up as a killed
    date is)."""
    return killed_run_dates(instance, _failed_before_starting, unstarted=True)


def killed_run_dates(
    instance: dg.DagsterInstance,
    judge: Callable[[dg.DagsterInstance, dg.DagsterRun], bool] | None = None,
    unstarted: bool = False,
) -> dict[str, KilledDate]:
    """The study dates whose newest run was killed before it finished them (SIGKILL, out of
    memory, a machine restart: the run reports nothing), with what to re-run. A ranged run
    (a UI backfill, ``make demo``) killed in its first date leaves its other dates whole but
    not updated, and the interruption marker only on the date it was in: these dates come from
    the Dagster instance (the run's partition range, matched to the materializations it
    recorded), never from the research zone. A date a later run covers (going, succeeded,
    failed with a reason, or terminated) is that run's. The killed runs are looked for among
    the newest :data:`RECENT_RUNS` failed or started runs, and each date's newest run among
    all runs of that date: a backfill of thousands of dates queued after the kill hides
    nothing."""
    candidates = [
        run
        for run in instance.get_runs(
            filters=dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.STARTED]
            ),
            limit=RECENT_RUNS,
        )  # newest first
        if _study_date_selection(run) and _run_dates(run)
    ]
    covering = _runs_covering(instance, sorted({d for run in candidates for d in _run_dates(run)}))
    newest = {
        day: next((run.run_id for run in runs if _study_date_selection(run)), None)
        for day, runs in covering.items()
    }
    out: dict[str, KilledDate] = {}
    for run in candidates:
        days = [d for d in _run_dates(run) if newest.get(d) == run.run_id]
        if not days or not (judge or _killed)(instance, run):
            continue
        for day, assets in _unfinished(instance, run, days).items():
            out[day] = KilledDate(run.run_id, assets, unstarted)
    return out


def unmatched_note(count: int) -> str:
    """What the sensor says of open batches that match no study date (it cannot re-run them)."""
    return (
        f"{count} open batch marker(s) match no study date of the raw zone (a marker of another "
        "pseudonym key, or of a raw zone since rebuilt): nothing can re-run them and the catalog "
        "leaves them out. If the key and the raw zone are the right ones, retire them: "
        "`cadbusi open-batches --retire-unmatched --reason '<why>'` (kept, left out for good, "
        "recorded with the reason)"
    )


def _cursor(text: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """The sensor's cursor: the interruptions already requested (date → token) and the killed
    runs already requested (date → run id). A cursor of before killed runs holds the first."""
    data = json.loads(text) if text else {}
    if isinstance(data.get("open"), dict) or isinstance(data.get("killed"), dict):
        return dict(data.get("open") or {}), dict(data.get("killed") or {})
    return dict(data), {}


def interrupted_date_requests(
    instance: dg.DagsterInstance,
    interrupted: dict[str, str],
    cursor: str | None,
    killed: dict[str, KilledDate] | None = None,
) -> tuple[list[dg.RunRequest], str, str]:
    """Run requests for the ``interrupted`` dates (date → token of the interruption) and the
    ``killed`` ones (:func:`killed_run_dates`), the new cursor (the interruptions and killed
    runs already requested, of the dates still open) and a line saying what was left alone.
    One request per date and interruption or killed run, whichever way the date was found
    (the run key and the cursor name them), none for a date a run is processing, whose last
    run a person terminated, or that the sensor gave up on."""
    killed = killed or {}
    requested, requested_killed = _cursor(cursor)
    new = {d: t for d, t in interrupted.items() if requested.get(d) != t}
    new_killed = {d: k for d, k in killed.items() if requested_killed.get(d) != k.run_id}
    days = sorted(set(new) | set(new_killed))
    busy = dates_being_run(instance, days)
    last = _runs_covering(instance, sorted(set(days) - busy))
    terminated = {d for d, runs in last.items() if _terminated(runs)}
    given_up = {d for d, runs in last.items() if d not in terminated and _given_up(runs)}
    requests = []
    for day in days:
        if day in busy | terminated | given_up:
            continue
        assets = set(new_killed[day].assets) if day in new_killed else set()
        if day in new:
            assets |= set(downstream_from("deidentified_images"))
        unstarted = day not in new and new_killed[day].unstarted
        tags = {
            INTERRUPTED_TAG: (new.get(day) or "unknown")
            if day in new
            else ("run failed before it started" if unstarted else "killed run"),
            "cadbusi/reason": "a run stopped in the middle of this date (killed)"
            if day in new
            else (
                "its last run failed before it started (the code location did not load, or its "
                "run worker never started)"
                if unstarted
                else "a killed run did not finish this date"
            ),
        }
        key = f"interrupted:{day}:{new[day]}" if day in new else f"killed:{day}"
        if day in new_killed:
            tags[KILLED_RUN_TAG] = new_killed[day].run_id
            key += f":{new_killed[day].run_id}"
        requests.append(
            dg.RunRequest(
                run_key=key,
                partition_key=day,
                asset_selection=[k for k in STUDY_DATE_ASSETS if k in assets],
                tags=tags,
            )
        )
    done = {r.partition_key for r in requests if r.partition_key}
    opened = {
        **{d: t for d, t in requested.items() if d in interrupted},
        **{d: interrupted[d] for d in done if d in interrupted},
    }
    stopped = {
        **{d: r for d, r in requested_killed.items() if d in killed},
        **{d: killed[d].run_id for d in done if d in killed},
    }
    notes = []
    if busy:
        notes.append(f"{len(busy)} interrupted date(s) have a run going")
    if terminated:
        notes.append(
            f"{len(terminated)} interrupted date(s) whose last run was terminated: "
            f"{', '.join(sorted(terminated))}; re-run them by hand"
        )
    if given_up:
        notes.append(
            f"{len(given_up)} interrupted date(s) failed their last {MAX_INTERRUPTED_RERUNS} "
            f"re-runs: {', '.join(sorted(given_up))}; re-run them by hand once fixed"
        )
    new_cursor = {"killed": stopped, "open": opened} if stopped or requested_killed else opened
    return requests, json.dumps(new_cursor, sort_keys=True), "; ".join(notes)


@dg.sensor(
    job=study_date_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    name="interrupted_study_dates_sensor",
    description="Re-runs, once per interruption, each study date whose imaging pass was killed "
    "between its tables (its batch stays out of the catalog until then), and every date a "
    "killed run (one date or a range) did not finish or whose last run failed before it started "
    "(the code location did not load), unless a run of that date is queued or "
    "going or a person terminated its last run.",
)
def interrupted_study_dates_sensor(
    context: dg.SensorEvaluationContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
) -> dg.SensorResult:
    raw, research, pseudonymizer = zones.raw(), zones.research(), pseudonym_key.pseudonymizer(zones)
    interrupted = interrupted_dates(raw, research, pseudonymizer)
    # a run that failed before it started (the location broken when it started) is re-run
    # once the location loads again: this sensor ticks only then
    killed = {**unstarted_run_dates(context.instance), **killed_run_dates(context.instance)}
    requests, cursor, notes = interrupted_date_requests(
        context.instance, interrupted, context.cursor, killed
    )
    unmatched = unmatched_open_batches(raw, research, pseudonymizer)
    if unmatched:
        notes = "; ".join([*([notes] if notes else []), unmatched_note(len(unmatched))])
    skip = None if requests else (notes or "no interrupted study dates")
    if requests and notes:
        context.log.info(notes)
    return dg.SensorResult(run_requests=requests, cursor=cursor, skip_reason=skip)


#: Materialization events of ``raw_dicom`` the handover sensor reads per tick.
HANDOVER_PAGE = 200
HANDOVER_TAG = "cadbusi/handover"


def handover_requests(
    instance: dg.DagsterInstance, raw: Zone, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None, list[str]]:
    """Run requests for the study dates waiting for instances another date released (its
    ``raw_dicom`` materializations after ``cursor``, a storage id, with a
    ``retrieval_handovers`` table): a date is asked to run again (from ``raw_dicom``) while it
    does not hold every instance handed over to it. Returns the requests, the new cursor and
    the dates whose record could not be read (each named with the error's type: skipped, never
    blocking the others)."""
    after = int(cursor) if cursor and cursor.isdigit() else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_dicom"), after_storage_id=after),
        limit=HANDOVER_PAGE,
        ascending=True,
    ).records
    requests: list[dg.RunRequest] = []
    asked: set[str] = set()
    unreadable: list[str] = []
    last = after
    known: set[str] | None = None
    for record in records:
        last = record.storage_id
        released_by = record.partition_key
        if released_by is None:
            continue
        try:
            waiting = waiting_dates(raw, released_by)
        except Exception as exc:  # one date's record never blocks the others' handovers
            unreadable.append(f"{released_by} ({type(exc).__name__})")
            continue
        for day in waiting:
            if known is None:
                known = set(study_date_partitions.get_partition_keys())
            if day in asked or day not in known:  # (a date the partitions no longer have)
                continue
            asked.add(day)
            requests.append(
                dg.RunRequest(
                    run_key=f"handover:{record.storage_id}:{day}",
                    partition_key=day,
                    asset_selection=downstream_from("raw_dicom"),
                    tags={
                        HANDOVER_TAG: "raw_dicom",  # (no count beside a real date)
                        "cadbusi/reason": "instances another study date released (a moved "
                        "exam) that this date skipped",
                    },
                )
            )
    return requests, (str(last) if last is not None else cursor), unreadable


@dg.sensor(
    job=study_date_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    name="handed_over_studies_sensor",
    description="Re-runs a study date (from raw_dicom) that skipped a study as held by another "
    "date once that date released it (the warehouse moved the exam; the two dates ran as "
    "separate runs, the new one first): without it the study's images were on neither date.",
)
def handed_over_studies_sensor(
    context: dg.SensorEvaluationContext, zones: ZonesResource
) -> dg.SensorResult:
    requests, cursor, unreadable = handover_requests(context.instance, zones.raw(), context.cursor)
    if unreadable:
        context.log.warning(
            "the handover record of these dates could not be read (the raw zone's "
            "tables/retrieval_handovers/<date>.parquet; a date waiting for their studies is not "
            f"asked for until it is mended): {', '.join(unreadable)}"
        )
    skip = None if requests else "no study handed over"
    return dg.SensorResult(run_requests=requests, cursor=cursor, skip_reason=skip)
