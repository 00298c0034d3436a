"""Declarative automation conditions used by the unpartitioned roll-up assets."""

import dagster as dg


def after_upstream_updates() -> dg.AutomationCondition:
    """Like ``eager()`` but for an unpartitioned roll-up of many daily partitions.

    Runs once after any upstream partition updated (a nightly run, a backfill chunk, a label
    ingest), waiting until nothing upstream is still in progress. Unlike ``eager()`` it does
    not wait for *every* upstream day to exist (days without studies never materialize).
    """
    return (
        (
            dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()
        ).since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("after upstream updates")
