"""Freshness policy of the nightly study-date assets (shown in the UI's asset health).

The nightly schedule starts at 02:00 (``CADBUSI_NIGHTLY_AT``, in the hospital's time zone
``CADBUSI_TIMEZONE``, default UTC); every study-date asset is
expected to have been materialized within 4 hours of it each day, by 06:00 by default
(``CADBUSI_FRESHNESS_DEADLINE`` sets that deadline's cron, else it follows the nightly run;
``CADBUSI_FRESHNESS_HOURS`` the 4-hour window). The daemon's freshness evaluation
(on by default, ``freshness: enabled`` in dagster.yaml) turns an asset *stale* when that
window passes without a materialization.

Apply it to the code location with :func:`with_freshness` (``definitions.py``).
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import warnings
from collections.abc import Mapping

import dagster as dg

from cadbusi_assets.defs.automation.times import nightly_time, site_timezone

#: the study-date assets the nightly job materializes (same list as the schedules')
NIGHTLY_ASSETS = (
    "radiology_reports",
    "pathology_reports",
    "imaging_studies",
    "raw_dicom",
    "deidentified_images",
    "image_features",
    "inpainted_images",
    "labelbox_data_rows",
)


def nightly_freshness_policy(env: Mapping[str, str] | None = None) -> dg.FreshnessPolicy:
    env = os.environ if env is None else env
    hours_text = env.get("CADBUSI_FRESHNESS_HOURS", "").strip() or "4"
    try:
        hours = float(hours_text)
    except ValueError:
        raise ValueError("CADBUSI_FRESHNESS_HOURS must be a number of hours, e.g. 4") from None
    deadline = env.get("CADBUSI_FRESHNESS_DEADLINE", "").strip()
    if not deadline:  # the window's end: the nightly run's time plus the window
        hour, minute = nightly_time(env)
        end = dt.datetime(2000, 1, 1, hour, minute) + dt.timedelta(hours=hours)
        deadline = f"{end.minute} {end.hour} * * *"
    return dg.FreshnessPolicy.cron(
        deadline_cron=deadline,
        lower_bound_delta=dt.timedelta(hours=hours),
        timezone=site_timezone(env),
    )


def with_freshness(
    defs: dg.Definitions, policy: dg.FreshnessPolicy | None = None
) -> dg.Definitions:
    """``defs`` with the nightly freshness policy on every nightly asset that has none."""
    policy = policy or nightly_freshness_policy()
    defs = _without_repeated_assets(defs)
    present = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    keys = [dg.AssetKey(name) for name in NIGHTLY_ASSETS if name in present]
    with warnings.catch_warnings():
        # a preview API of the pinned Dagster release (1.13.27), used on purpose: its warning
        # reached every command that loads the definitions
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_resolved_asset_specs(
            func=lambda spec: dg.apply_freshness_policy(spec, policy, overwrite_existing=False),
            selection=keys,
        )


def _without_repeated_assets(defs: dg.Definitions) -> dg.Definitions:
    """The same Definitions with each asset object once: ``load_from_defs_folder`` lists an
    asset once per module that imports it, which is harmless until a mapping turns the repeats
    into distinct objects with the same key."""
    unique = list({id(a): a for a in defs.assets or []}.values())
    if len(unique) == len(list(defs.assets or [])):
        return defs
    fields = inspect.signature(dg.Definitions).parameters
    return dg.Definitions(**{**{name: getattr(defs, name) for name in fields}, "assets": unique})
