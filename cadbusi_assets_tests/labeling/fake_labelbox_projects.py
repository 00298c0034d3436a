"""The local fake Labelbox (with batches and ontologies), extended with project quality settings
for the labelbox SDK 7.17.

Answers what ``client.create_project(name, media_type, quality_modes=...)``
(``CreateProjectPyApi``) and ``project.update(auto_audit_number_of_labels=...,
auto_audit_percentage=...)`` (``updateProjectPyApi``) send, and returns each project's
``isConsensusEnabled`` / ``isBenchmarkEnabled`` / ``autoAuditNumberOfLabels`` /
``autoAuditPercentage`` from ``GetProjectPyApi``.

What is modelled and what is assumed:

* A project is benchmark (1 label, percentage 1.0) unless created with consensus or seeded with
  :meth:`FakeLabelboxWithProjects.add_project` ``consensus=True``.
* ``updateProjectPyApi`` refuses to switch the quality mode (``isConsensusEnabled`` /
  ``isBenchmarkEnabled``), or to give a benchmark project consensus numbers (the SDK documents
  both as invalid), and a percentage outside 0..1 or fewer than 1 label.
* ``createBatchV2PyApi`` (or ``createEmptyBatchPyApi``, the SDK's path from 1,000 rows on)
  with ``consensusSettings`` is refused on a project without consensus
  (assumed: Labelbox's documentation ties batch consensus to a consensus project), and for
  ``numberOfLabels`` < 2 or ``coveragePercentage`` outside (0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from cadbusi_assets_tests.labeling import fake_labelbox as base
from cadbusi_assets_tests.labeling.fake_labelbox import GraphQLError
from cadbusi_assets_tests.labeling.fake_labelbox_ontology import FakeLabelboxWithOntology

EXTRA_OPERATIONS = ("CreateProjectPyApi", "updateProjectPyApi")
#: project field (GraphQL name) → default of a benchmark project
QUALITY_DEFAULTS: dict[str, Any] = {
    "isConsensusEnabled": False,
    "isBenchmarkEnabled": True,
    "autoAuditNumberOfLabels": 1,
    "autoAuditPercentage": 1.0,
}
_UPDATABLE = ("name", "description", "autoAuditNumberOfLabels", "autoAuditPercentage")


class FakeLabelboxWithProjects(FakeLabelboxWithOntology):
    """Projects with quality settings (:attr:`quality`: project id → GraphQL fields)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quality: dict[str, dict[str, Any]] = {}

    def add_project(
        self,
        project_id: str,
        name: str = "BUS lesions",
        *,
        consensus: bool = False,
        number_of_labels: int | None = None,
        percentage: float | None = None,
    ) -> None:
        super().add_project(project_id, name)
        with self._lock:
            settings = dict(QUALITY_DEFAULTS)
            if consensus:
                settings |= {
                    "isConsensusEnabled": True,
                    "isBenchmarkEnabled": False,
                    "autoAuditNumberOfLabels": 3,
                    "autoAuditPercentage": 0.0,
                }
            if number_of_labels is not None:
                settings["autoAuditNumberOfLabels"] = number_of_labels
            if percentage is not None:
                settings["autoAuditPercentage"] = percentage
            self.quality[project_id] = settings

    def _project_payload(self, project_id: str) -> dict[str, Any]:
        project = self._projects[project_id]
        return (
            base._project_json(project)
            | {"uploadType": None, "description": project.get("description") or ""}
            | self.quality.get(project_id, QUALITY_DEFAULTS)
        )

    def _resolve(
        self, operation: str, query: str, variables: Mapping[str, Any], files: Mapping[str, bytes]
    ) -> dict[str, Any]:
        if operation == "GetProjectPyApi":
            result = super()._resolve(operation, query, variables, files)
            project = result.get("project")
            if project:
                result["project"] = self._project_payload(project["id"])
            return result
        if operation == "CreateProjectPyApi":
            return {"createProject": self._create_project(variables)}
        if operation == "updateProjectPyApi":
            # the SDK names the id variable after the type (``$ProjectId``)
            where = re.search(r"where: \{id: \$(\w+)\}", query)
            fields = dict(variables)
            project_id = fields.pop(where.group(1), None) if where else None
            return {"updateProject": self._update_project(project_id, fields)}
        if operation in ("createBatchV2PyApi", "createEmptyBatchPyApi"):
            self._check_batch_consensus(variables)
        return super()._resolve(operation, query, variables, files)

    def _create_project(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        name = str(variables.get("name") or "").strip()
        if not name:
            raise GraphQLError("GRAPHQL_VALIDATION_FAILED", "project name is required")
        if variables.get("allowedMediaType") != "IMAGE":
            raise GraphQLError("GRAPHQL_VALIDATION_FAILED", "fake: only IMAGE projects")
        project_id = self._new_id("cproj")
        super().add_project(project_id, name)
        self._projects[project_id]["description"] = variables.get("description") or ""
        self.quality[project_id] = {
            key: variables.get(key, default) for key, default in QUALITY_DEFAULTS.items()
        }
        return self._project_payload(project_id)

    def _update_project(
        self, project_id: str | None, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        if project_id not in self._projects:
            raise GraphQLError("RESOURCE_NOT_FOUND", "project not found")
        unknown = sorted(set(variables) - set(_UPDATABLE))
        if unknown:
            raise GraphQLError(
                "GRAPHQL_VALIDATION_FAILED",
                f"fake: cannot update {unknown} (the quality mode is fixed at creation)",
            )
        settings = self.quality.setdefault(project_id, dict(QUALITY_DEFAULTS))
        labels = variables.get("autoAuditNumberOfLabels", settings["autoAuditNumberOfLabels"])
        share = variables.get("autoAuditPercentage", settings["autoAuditPercentage"])
        if not isinstance(labels, int) or labels < 1:
            raise GraphQLError("BAD_USER_INPUT", "autoAuditNumberOfLabels must be at least 1")
        if not isinstance(share, int | float) or not 0 <= share <= 1:
            raise GraphQLError("BAD_USER_INPUT", "autoAuditPercentage must be between 0 and 1")
        if not settings["isConsensusEnabled"] and (labels, float(share)) != (1, 1.0):
            raise GraphQLError(
                "BAD_USER_INPUT", "cannot switch a benchmark project to consensus settings"
            )
        settings |= {"autoAuditNumberOfLabels": labels, "autoAuditPercentage": float(share)}
        project = self._projects[project_id]
        for key in ("name", "description"):
            if key in variables:
                project[key] = variables[key]
        project["updated_at"] = self.now()
        return self._project_payload(project_id)

    def _check_batch_consensus(self, variables: Mapping[str, Any]) -> None:
        spec = variables.get("batchInput") or variables.get("input") or {}
        consensus = spec.get("consensusSettings")
        project_id = variables.get("projectId")
        if not consensus or project_id not in self._projects:
            return
        if not self.quality.get(project_id, QUALITY_DEFAULTS)["isConsensusEnabled"]:
            raise GraphQLError("BAD_USER_INPUT", "consensus is not enabled for this project")
        labels, share = consensus.get("numberOfLabels"), consensus.get("coveragePercentage")
        if not isinstance(labels, int) or labels < 2:
            raise GraphQLError("BAD_USER_INPUT", "numberOfLabels must be at least 2")
        if not isinstance(share, int | float) or not 0 < share <= 1:
            raise GraphQLError("BAD_USER_INPUT", "coveragePercentage must be in (0, 1]")


def running_fake_with_projects(**kwargs: Any) -> Iterator[FakeLabelboxWithProjects]:
    fake = FakeLabelboxWithProjects(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.server_errors, "fake Labelbox crashed:\n" + "\n".join(fake.server_errors)
