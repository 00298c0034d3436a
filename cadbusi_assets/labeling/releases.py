"""Labelbox releases: data rows wait in a send queue and reach Labelbox in releases that mix
several study dates.

Whoever sees the Labelbox project (annotators, reviewers, the vendor) sees when each data row,
dataset and batch was created. A nightly schedule processes date D on D+1: sent as each date
is processed, the rows created on one day are exactly one date's images, and the day before
is their real study date. So a date's usable images wait (listed in its ``labelbox_data_rows``
table with ``released_in`` null and a ``waiting_reason``) until the queue holds images of at
least ``CADBUSI_LABELBOX_RELEASE_DATES`` dates and at least ``CADBUSI_LABELBOX_RELEASE_IMAGES``
images; then all of them go at once, in one dataset and one set of batches named by a digest
of the release's image ids (:func:`release_name`: no date, no research batch name), created in
the order of their keyed image ids. An image is then known to be of one of the release's dates
(at least that many dates), no better.

Defaults: 7 dates in a production deployment (a weekly release under the nightly schedule), 1
(every date at once, as before) in the demo, whose data is invented.

>>> ReleasePolicy.from_env({"CADBUSI_DEPLOYMENT": "production"})
ReleasePolicy(min_dates=7, min_images=0)
>>> ReleasePolicy.from_env({}).immediate
True
>>> ReleasePolicy(min_dates=2).ready(dates=1, images=40)
False
>>> release_name(["b", "a"]) == release_name(["a", "b"])
True
>>> ReleasePolicy.from_env({"CADBUSI_LABELBOX_RELEASE_DATES": "0"})
Traceback (most recent call last):
...
cadbusi_assets.labeling.releases.ReleaseError: CADBUSI_LABELBOX_RELEASE_DATES must be at least 1, not 0.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cadbusi_assets.settings import SettingsError

RELEASE_DATES_ENV = "CADBUSI_LABELBOX_RELEASE_DATES"
RELEASE_IMAGES_ENV = "CADBUSI_LABELBOX_RELEASE_IMAGES"
#: dates a release holds at least, by deployment (``CADBUSI_DEPLOYMENT``)
DEFAULT_RELEASE_DATES = {"production": 7, "demo": 1}


class ReleaseError(SettingsError):
    """A malformed release setting (the message names the variable; shown as a date's failure
    reason)."""


def _number(env: Mapping[str, str], name: str, default: int, least: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ReleaseError(f"{name} must be a whole number, not {text!r}.") from None
    if value < least:
        raise ReleaseError(f"{name} must be at least {least}, not {value}.")
    return value


@dataclass(frozen=True)
class ReleasePolicy:
    """When the send queue goes to Labelbox: images of at least ``min_dates`` study dates and
    at least ``min_images`` images."""

    min_dates: int = DEFAULT_RELEASE_DATES["production"]
    min_images: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReleasePolicy:
        env = os.environ if env is None else env
        deployment = env.get("CADBUSI_DEPLOYMENT", "demo").strip().lower() or "demo"
        default = DEFAULT_RELEASE_DATES.get(deployment, DEFAULT_RELEASE_DATES["production"])
        return cls(
            min_dates=_number(env, RELEASE_DATES_ENV, default, 1),
            min_images=_number(env, RELEASE_IMAGES_ENV, 0, 0),
        )

    @property
    def immediate(self) -> bool:
        """Every date is sent when it is processed (its rows tell its processing day)."""
        return self.min_dates <= 1 and self.min_images <= 0

    def ready(self, *, dates: int, images: int) -> bool:
        return images > 0 and dates >= self.min_dates and images >= self.min_images

    def waiting_reason(self) -> str:
        """Why an image is not in Labelbox yet (no count, no date: stored beside each row)."""
        return (
            f"waiting for a Labelbox release of images of at least {self.min_dates} study "
            f"dates and at least {self.min_images} images ({RELEASE_DATES_ENV}, "
            f"{RELEASE_IMAGES_ENV})"
        )


def release_name(global_keys: Iterable[str]) -> str:
    """The release's dataset name (the label source adds its prefix): a digest of its image
    ids, the same for the same images whatever the order."""
    digest = hashlib.sha256("\n".join(sorted(set(global_keys))).encode()).hexdigest()[:16]
    return f"release-{digest}"
