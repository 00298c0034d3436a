"""Declarative automation conditions used by the unpartitioned roll-up assets."""

import dagster as dg


def after_upstream_updates(needs: dg.AssetKey | None = None) -> dg.AutomationCondition:
    """Like ``eager()`` but for an unpartitioned roll-up of many daily partitions.

    Runs once after any upstream partition updated (a nightly run, a backfill chunk, a label
    ingest), waiting until nothing upstream is still in progress. Unlike ``eager()`` it does
    not wait for *every* upstream day to exist (days without studies never materialize).

    ``needs``: an upstream asset of which at least one partition must exist first. ``lesions``
    needs ``image_features``: a first date stopped after its records (its PACS down, a run
    terminated in ``raw_dicom``) updated the pathology it also reads, and the sensor launched
    it to fail at once for want of any image table (a red run, an alert, nobody asked).
    """
    condition = (
        (
            dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()
        ).since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    )
    if needs is None:
        return condition.with_label("after upstream updates")
    name = needs.to_user_string()
    has_some = dg.AutomationCondition.any_deps_match(~dg.AutomationCondition.missing()).allow(
        dg.AssetSelection.assets(needs)
    )
    return (condition & has_some.with_label(f"{name} has a partition")).with_label(
        f"after upstream updates, once {name} has a partition"
    )
