"""The command-line runner says why a step failed (its code's own error, not the engine's
wrapper), on screen and in the run's summary: ``cadbusi demo`` names it, and uses it to tell
an export key that already holds other content from any other failure. Only this package's
errors (written to carry no PHI) show their message."""

from __future__ import annotations

import dagster as dg

from cadbusi_assets import runner
from cadbusi_assets.cli import _export_exists_elsewise
from cadbusi_assets.exports.build import ExportExistsError


def _failing(error: Exception) -> dg.Definitions:
    @dg.asset(name="boom")
    def boom() -> None:
        raise error

    @dg.asset(name="fine")
    def fine() -> int:
        return 1

    return dg.Definitions(assets=[boom, fine])


def test_a_failed_step_names_its_own_error_class_and_never_another_librarys_message(capsys):
    """Another library's message may quote the value it choked on (a made-up patient name
    here): only its class reaches the screen and the summary; the UI's run log keeps it."""
    defs = _failing(ValueError("invalid PN value 'HARGREAVE^MARIA' in (0010,0010)\nmore"))
    with dg.instance_for_test() as instance:
        summary = runner.materialize(defs, ["boom"], instance)
    assert not summary.ok
    assert summary.failed_steps == ["boom: ValueError (its message is in the run's log in the UI)"]
    shown = capsys.readouterr().out
    assert "reason: ValueError (its message is in the run's log in the UI)" in shown
    assert "HARGREAVE" not in shown and "HARGREAVE" not in " ".join(summary.failed_steps)
    assert not _export_exists_elsewise(summary)


def test_an_export_key_holding_other_content_is_told_apart():
    defs = _failing(ExportExistsError("Export '2026-12-04' already exists with different content."))
    with dg.instance_for_test() as instance:
        summary = runner.materialize(defs, ["boom"], instance)
        fine = runner.materialize(defs, ["fine"], instance)
    assert summary.failed_steps == [
        "boom: ExportExistsError: Export '2026-12-04' already exists with different content."
    ]
    assert _export_exists_elsewise(summary)
    assert fine.ok and fine.failed_steps == [] and not _export_exists_elsewise(fine)


def test_a_failure_this_package_raises_says_its_reason():
    """An export refused on a stale catalog raises Dagster's ``Failure`` with this package's
    words: the reason line said "Failure (its message is in the run's log in the UI)" while
    the reason was one line above (adversary s35). A ``Failure`` raised elsewhere still shows
    its class only."""
    from cadbusi_assets.defs.exports.assets import _refuse

    @dg.asset(name="export")
    def export(context) -> None:
        _refuse(context, "The catalog is older than the label set; rebuild metadata_db first.")

    @dg.asset(name="other")
    def other() -> None:
        raise dg.Failure(description="value 'HARGREAVE^MARIA' rejected")

    defs = dg.Definitions(assets=[export, other])
    with dg.instance_for_test() as instance:
        refused = runner.materialize(defs, ["export"], instance)
        elsewhere = runner.materialize(defs, ["other"], instance)
    assert refused.failed_steps == [
        "export: Failure: The catalog is older than the label set; rebuild metadata_db first."
    ]
    assert elsewhere.failed_steps == ["other: Failure (its message is in the run's log in the UI)"]
