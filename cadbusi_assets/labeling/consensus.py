"""Consensus (quality) settings of the Labelbox project, declared in configuration.

Consensus has a share of the data rows labelled by several annotators, so that their agreement
can be measured (:mod:`.agreement`). Three settings, from the environment:

* ``CADBUSI_LABELBOX_CONSENSUS``: ``on`` / ``off`` (default ``off``);
* ``CADBUSI_LABELBOX_CONSENSUS_COVERAGE``: the share of data rows labelled more than once, in
  percent, more than 0 and at most 100 (default 10);
* ``CADBUSI_LABELBOX_CONSENSUS_LABELS``: labels per consensus data row, 2 to 20 (default 3).

How they reach Labelbox (labelbox SDK 7.17):

* a project created by :func:`create_project` gets the quality mode
  (``client.create_project(quality_modes={QualityMode.Consensus})`` or ``{Benchmark}``), then
  the configured numbers (``project.update(auto_audit_number_of_labels=...,
  auto_audit_percentage=...)``; ``create_project`` itself only takes the mode);
* an existing project is compared (``is_consensus_enabled``, ``auto_audit_number_of_labels``,
  ``auto_audit_percentage``) and the differences reported, never changed: Labelbox does not
  switch a project between benchmark and consensus after creation, and changing the quality
  of a project being labelled is a decision for a person (like the ontology);
* every batch queued carries ``consensus_settings={"number_of_labels": n,
  "coverage_percentage": share}`` when consensus is on *and* the project has consensus
  enabled (Labelbox keeps consensus settings per batch in batch-mode projects).

Labelbox takes the coverage as a fraction (``0.1`` is 10 %); configuration takes percent.

>>> config = ConsensusConfig.from_env({"CADBUSI_LABELBOX_CONSENSUS": "on",
...                                    "CADBUSI_LABELBOX_CONSENSUS_COVERAGE": "25"})
>>> config.batch_settings()
{'number_of_labels': 3, 'coverage_percentage': 0.25}
>>> ConsensusConfig.from_env({}).batch_settings() is None
True
>>> consensus_differences(config, {"is_consensus_enabled": True,
...     "auto_audit_number_of_labels": 2, "auto_audit_percentage": 0.25})
['consensus labels per data row is 2, configured 3']
>>> ConsensusConfig(True, 150)
Traceback (most recent call last):
...
cadbusi_assets.labeling.consensus.ConsensusError: CADBUSI_LABELBOX_CONSENSUS_COVERAGE must be \
more than 0 and at most 100 (percent of data rows labelled more than once); got 150.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONSENSUS_ENV = "CADBUSI_LABELBOX_CONSENSUS"
COVERAGE_ENV = "CADBUSI_LABELBOX_CONSENSUS_COVERAGE"
LABELS_ENV = "CADBUSI_LABELBOX_CONSENSUS_LABELS"
DEFAULT_COVERAGE_PERCENT = 10.0
DEFAULT_NUMBER_OF_LABELS = 3
MIN_LABELS, MAX_LABELS = 2, 20
_ON = {"1", "on", "true", "yes"}
_OFF = {"", "0", "off", "false", "no"}
#: tolerance when comparing Labelbox's float percentage with the configured one
_TOLERANCE = 1e-6


class ConsensusError(ValueError):
    """The consensus configuration is malformed (the message names the variable)."""


@dataclass(frozen=True)
class ConsensusConfig:
    enabled: bool = False
    coverage_percent: float = DEFAULT_COVERAGE_PERCENT
    number_of_labels: int = DEFAULT_NUMBER_OF_LABELS

    def __post_init__(self) -> None:
        coverage = self.coverage_percent
        if isinstance(coverage, bool) or not isinstance(coverage, int | float):
            raise ConsensusError(f"{COVERAGE_ENV} must be a number of percent; got {coverage!r}.")
        if not (math.isfinite(coverage) and 0 < coverage <= 100):
            raise ConsensusError(
                f"{COVERAGE_ENV} must be more than 0 and at most 100 (percent of data rows "
                f"labelled more than once); got {coverage:g}."
            )
        labels = self.number_of_labels
        if isinstance(labels, bool) or not isinstance(labels, int):
            raise ConsensusError(f"{LABELS_ENV} must be a whole number; got {labels!r}.")
        if not MIN_LABELS <= labels <= MAX_LABELS:
            raise ConsensusError(
                f"{LABELS_ENV} must be between {MIN_LABELS} and {MAX_LABELS} (labels per "
                f"consensus data row); got {labels}."
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsensusConfig:
        env = os.environ if env is None else env
        switch = env.get(CONSENSUS_ENV, "").strip().lower()
        if switch not in _ON | _OFF:
            raise ConsensusError(f"{CONSENSUS_ENV} must be on or off; got {switch!r}.")
        coverage_text = env.get(COVERAGE_ENV, "").strip().removesuffix("%").strip()
        try:
            coverage = float(coverage_text) if coverage_text else DEFAULT_COVERAGE_PERCENT
        except ValueError:
            raise ConsensusError(
                f"{COVERAGE_ENV} must be a number of percent, e.g. 10; got {coverage_text!r}."
            ) from None
        labels_text = env.get(LABELS_ENV, "").strip()
        if labels_text and not labels_text.isdigit():
            raise ConsensusError(f"{LABELS_ENV} must be a whole number; got {labels_text!r}.")
        labels = int(labels_text) if labels_text else DEFAULT_NUMBER_OF_LABELS
        return cls(switch in _ON, coverage, labels)

    @property
    def coverage_fraction(self) -> float:
        """The coverage as Labelbox takes it (``0.1`` is 10 %)."""
        return round(self.coverage_percent / 100, 6)

    def batch_settings(self) -> dict[str, float] | None:
        """``consensus_settings`` for ``project.create_batch`` (None when consensus is off)."""
        if not self.enabled:
            return None
        return {
            "number_of_labels": self.number_of_labels,
            "coverage_percentage": self.coverage_fraction,
        }

    def describe(self) -> str:
        if not self.enabled:
            return "consensus off"
        return (
            f"consensus on: {self.coverage_percent:g} % of data rows labelled "
            f"{self.number_of_labels} times"
        )


def _project_values(project: Any) -> dict[str, Any]:
    """The quality fields of a ``labelbox.Project`` (or a mapping with the same names)."""
    names = ("is_consensus_enabled", "auto_audit_number_of_labels", "auto_audit_percentage")
    if isinstance(project, Mapping):
        return {name: project.get(name) for name in names}
    return {name: getattr(project, name, None) for name in names}


def consensus_differences(config: ConsensusConfig, project: Any) -> list[str]:
    """How the project's quality settings differ from ``config`` (empty: they match).

    With consensus off in the configuration, only a project with consensus on differs (its
    numbers then do not matter to us)."""
    values = _project_values(project)
    enabled = bool(values["is_consensus_enabled"])
    if enabled != config.enabled:
        return [
            f"consensus is {'on' if enabled else 'off'} in the project, configured "
            f"{'on' if config.enabled else 'off'} ({CONSENSUS_ENV}); Labelbox does not switch "
            "a project's quality mode after creation"
        ]
    if not config.enabled:
        return []
    out = []
    labels = values["auto_audit_number_of_labels"]
    if labels != config.number_of_labels:
        out.append(
            f"consensus labels per data row is {labels}, configured {config.number_of_labels}"
        )
    share = values["auto_audit_percentage"]
    if share is None or abs(float(share) - config.coverage_fraction) > _TOLERANCE:
        shown = "unset" if share is None else f"{float(share) * 100:g} %"
        out.append(f"consensus coverage is {shown}, configured {config.coverage_percent:g} %")
    return out


@dataclass
class ConsensusCheck:
    #: applied (a project created with the settings), matches, differs
    status: str
    differences: list[str] = field(default_factory=list)
    #: whether batches of this project get ``consensus_settings`` (consensus on in both)
    batches_get_consensus: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("applied", "matches")


def check_consensus(project: Any, config: ConsensusConfig | None = None) -> ConsensusCheck:
    """Compare a ``labelbox.Project`` (already fetched) with ``config``; nothing is changed."""
    config = config or ConsensusConfig.from_env()
    differences = consensus_differences(config, project)
    in_project = bool(_project_values(project)["is_consensus_enabled"])
    return ConsensusCheck(
        "differs" if differences else "matches",
        differences,
        batches_get_consensus=config.enabled and in_project,
    )


def ensure_consensus(
    client: Any, project_id: str, config: ConsensusConfig | None = None
) -> ConsensusCheck:
    """Fetch project ``project_id`` with the labelbox SDK ``client`` and :func:`check_consensus`."""
    return check_consensus(client.get_project(project_id), config)


def create_project(
    client: Any,
    name: str,
    config: ConsensusConfig | None = None,
    *,
    description: str | None = None,
) -> tuple[Any, ConsensusCheck]:
    """A new image project with the configured quality settings applied, and the check of
    what Labelbox stored (``applied`` when it took them, else ``differs``)."""
    from labelbox import MediaType
    from labelbox.schema.quality_mode import QualityMode

    config = config or ConsensusConfig.from_env()
    project = client.create_project(
        name=name,
        media_type=MediaType.Image,
        description=description,
        quality_modes={QualityMode.Consensus} if config.enabled else {QualityMode.Benchmark},
    )
    if config.enabled:
        project.update(
            auto_audit_number_of_labels=config.number_of_labels,
            auto_audit_percentage=config.coverage_fraction,
        )
    check = check_consensus(project, config)
    if check.ok:
        check.status = "applied"
    return project, check


def consensus_text(check: ConsensusCheck) -> str:
    """One message for a run log or an error."""
    if not check.differences:
        return f"consensus settings {check.status}"
    return "consensus settings differ from the configuration: " + "; ".join(check.differences)
