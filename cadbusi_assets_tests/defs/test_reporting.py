"""Per-date failure isolation in ranged runs (issue 9): any exception of one date is that
date's failure, the other dates go on downstream in the same run, and messages (which may quote
data) stay out of the log."""

import json

import dagster as dg
import pytest

from cadbusi_assets.defs.reporting import FAILED_DATES_TAG, run_per_day, safe_traceback
from cadbusi_assets.settings import OcrUnavailableError, SettingsError
from cadbusi_assets.stages import PartitionReport, StageFailure

DAYS = ["2026-09-01", "2026-09-02", "2026-09-03"]
PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-09-01", end_date="2026-09-04")
SECRET = "MUSTERMANN^ERIKA 1961-04-13"
seen: dict[str, list[str]] = {}


def _stage(asset: str, fail: dict[str, BaseException | str]):
    def stage(day: str) -> PartitionReport:
        seen.setdefault(asset, []).append(day)
        problem = fail.get(day)
        if isinstance(problem, BaseException):
            raise problem
        report = PartitionReport(day, row_count=1)
        if problem == "nothing":
            report.failed = True
            report.add_problem("nothing of the date could be retrieved")
        return report

    return stage


def _assets(fail_first: dict, fail_second: dict | None = None):
    @dg.asset(partitions_def=PARTITIONS)
    def first(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        run_per_day(context, context.partition_keys, _stage("first", fail_first))
        return dg.MaterializeResult()

    @dg.asset(partitions_def=PARTITIONS, deps=[first])
    def second(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        run_per_day(context, context.partition_keys, _stage("second", fail_second or {}))
        return dg.MaterializeResult()

    return [first, second]


def _run(assets, instance, tmp_path, monkeypatch):
    monkeypatch.setenv("CADBUSI_LOCK_DIR", str(tmp_path / "locks"))
    seen.clear()
    return dg.materialize(
        assets,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": DAYS[0],
            "dagster/asset_partition_range_end": DAYS[-1],
        },
        raise_on_error=False,
    )


def test_an_unexpected_exception_fails_only_its_date_and_the_others_go_downstream(
    tmp_path, monkeypatch, caplog
):
    with dg.instance_for_test() as instance:
        result = _run(
            _assets({DAYS[1]: TypeError(f"NoneType for {SECRET}")}), instance, tmp_path, monkeypatch
        )
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert json.loads(run.tags[FAILED_DATES_TAG]) == {DAYS[1]: "first"}
        assert seen["second"] == [DAYS[0], DAYS[2]]  # the failed date is not processed further
        logs = "\n".join(e.message for e in instance.all_logs(result.run_id) if e.message)
        assert "TypeError" in logs and SECRET not in logs


def test_a_report_marked_failed_fails_its_date(tmp_path, monkeypatch):
    with dg.instance_for_test() as instance:
        result = _run(_assets({DAYS[0]: "nothing"}), instance, tmp_path, monkeypatch)
        run = instance.get_run_by_id(result.run_id)
        assert json.loads(run.tags[FAILED_DATES_TAG]) == {DAYS[0]: "first"}
        assert seen["second"] == DAYS[1:]


def test_a_failure_downstream_is_recorded_against_that_asset(tmp_path, monkeypatch):
    with dg.instance_for_test() as instance:
        result = _run(
            _assets({}, {DAYS[2]: StageFailure("no frames")}), instance, tmp_path, monkeypatch
        )
        run = instance.get_run_by_id(result.run_id)
        assert json.loads(run.tags[FAILED_DATES_TAG]) == {DAYS[2]: "second"}


def test_when_every_date_fails_the_step_fails(tmp_path, monkeypatch):
    with dg.instance_for_test() as instance:
        result = _run(
            _assets({d: RuntimeError("boom") for d in DAYS}), instance, tmp_path, monkeypatch
        )
        assert not result.success
        assert "second" not in seen


def test_safe_traceback_keeps_frames_and_our_own_messages_only():
    try:
        raise ValueError(SECRET)
    except ValueError as exc:
        text = safe_traceback(exc)
    assert "ValueError" in text and "test_reporting.py" in text and SECRET not in text
    try:
        raise StageFailure("warehouse returned 0 studies")
    except StageFailure as exc:
        assert "warehouse returned 0 studies" in safe_traceback(exc)


def test_a_settings_error_keeps_its_fix_in_the_log_and_the_failure_reason(tmp_path, monkeypatch):
    """A wrong setting (CADBUSI_TORCH_PRECISION, a missing tesseract) stops a date with a
    message naming the variable and the fix: it was logged as the bare class name, so the UI
    said "SettingsError (traceback in the run log)" and the run log did not say which setting."""
    message = "CADBUSI_TORCH_PRECISION='fp16': use auto (the default), fp32 or bf16"
    with dg.instance_for_test() as instance:
        result = _run(
            _assets({d: SettingsError(message) for d in DAYS}), instance, tmp_path, monkeypatch
        )
        assert not result.success
        logs = "\n".join(e.message for e in instance.all_logs(result.run_id) if e.message)
        assert message in logs
        failure = next(
            e
            for e in instance.all_logs(result.run_id)
            if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"
        )
        assert message in str(failure.dagster_event.event_specific_data)
    try:
        raise OcrUnavailableError("OCR is on (CADBUSI_OCR), but tesseract is not installed")
    except OcrUnavailableError as exc:
        assert "tesseract is not installed" in safe_traceback(exc)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt()])
def test_interrupts_are_not_swallowed(tmp_path, monkeypatch, interrupt):
    with dg.instance_for_test() as instance:
        result = _run(_assets({DAYS[0]: interrupt}), instance, tmp_path, monkeypatch)
        assert not result.success
        assert "second" not in seen
