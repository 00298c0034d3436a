"""The local fake Labelbox (with batches), extended with ontologies for the labelbox SDK 7.17.

Answers what ``client.get_project(id).ontology()``, ``client.get_ontologies(name)``,
``client.create_ontology(name, normalized, media_type=MediaType.Image)`` and
``project.connect_ontology(ontology)`` send: ``GetProjectOntologyPyApi``,
``getOntologiesPyApi`` (one page, substring search), ``upsertRootSchemaNodePyApi`` (stores the
normalized JSON; new ids), ``LabelCountPyApi`` (the project's labels), the
``GetProjectLabelingFrontendPyApi`` relationship (every project has the image editor, so the
SDK skips its default-editor setup) and ``ConnectOntologyPyApi``. Seed a project's ontology
with :meth:`FakeLabelboxWithOntology.set_project_ontology`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from cadbusi_assets_tests.labeling import fake_labelbox as base
from cadbusi_assets_tests.labeling.fake_labelbox import GraphQLError
from cadbusi_assets_tests.labeling.fake_labelbox_batches import FakeLabelboxWithBatches

EXTRA_OPERATIONS = (
    "GetProjectOntologyPyApi",
    "getOntologiesPyApi",
    "upsertRootSchemaNodePyApi",
    "LabelCountPyApi",
    "GetProjectLabelingFrontendPyApi",
    "ConnectOntologyPyApi",
)


class FakeLabelboxWithOntology(FakeLabelboxWithBatches):
    """Ontologies by id (:attr:`ontologies`) and the ontology of each project
    (:attr:`project_ontology`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ontologies: dict[str, dict[str, Any]] = {}
        self.project_ontology: dict[str, str] = {}

    def set_project_ontology(
        self, project_id: str, normalized: Mapping[str, Any], name: str = "existing"
    ) -> str:
        with self._lock:
            ontology = self._new_ontology(name, normalized)
            self.project_ontology[project_id] = ontology["id"]
            return ontology["id"]

    def _new_ontology(self, name: str, normalized: Mapping[str, Any]) -> dict[str, Any]:
        ontology = {
            "id": self._new_id("contology"),
            "name": name,
            "normalized": json.loads(json.dumps(normalized)),
            "created_at": self.now(),
        }
        self.ontologies[ontology["id"]] = ontology
        return ontology

    def _ontology_json(self, ontology: Mapping[str, Any]) -> dict[str, Any]:
        stamp = base._orm_time(ontology["created_at"])
        normalized = ontology["normalized"]
        return {
            "id": ontology["id"],
            "name": ontology["name"],
            "description": None,
            "updatedAt": stamp,
            "createdAt": stamp,
            "normalized": normalized,
            "objectSchemaCount": len(normalized.get("tools", [])),
            "classificationSchemaCount": len(normalized.get("classifications", [])),
            "mediaType": "IMAGE",
        }

    def _resolve(
        self, operation: str, query: str, variables: Mapping[str, Any], files: Mapping[str, bytes]
    ) -> dict[str, Any]:
        if operation == "GetProjectOntologyPyApi":
            project_id = next(iter(variables.values()))
            ontology_id = self.project_ontology.get(project_id)
            ontology = self.ontologies.get(ontology_id) if ontology_id else None
            return {"project": {"ontology": self._ontology_json(ontology) if ontology else None}}
        if operation == "getOntologiesPyApi":
            search = str(variables.get("search") or "")
            nodes = [
                self._ontology_json(o) for o in self.ontologies.values() if search in o["name"]
            ]
            return {"ontologies": {"nodes": nodes, "nextCursor": None}}
        if operation == "upsertRootSchemaNodePyApi":
            data = variables["data"]
            if data.get("mediaType") != "IMAGE":
                raise GraphQLError("GRAPHQL_VALIDATION_FAILED", "fake: only IMAGE ontologies")
            normalized = json.loads(data["normalized"])
            for tool in normalized.get("tools", []):
                if tool.get("tool") not in (
                    "rectangle",
                    "raster-segmentation",
                    "polygon",
                    "point",
                    "line",
                ):
                    raise GraphQLError("INVALID_ONTOLOGY", f"unknown tool {tool.get('tool')!r}")
            ontology = self._new_ontology(data["name"], normalized)
            return {"upsertOntology": self._ontology_json(ontology)}
        if operation == "LabelCountPyApi":
            project_id = variables["projectId"]
            count = sum(len(entry["labels"]) for entry in self._project_rows[project_id].values())
            return {"project": {"labelCount": count}}
        if operation == "GetProjectLabelingFrontendPyApi":
            return {
                "project": {
                    "labelingFrontend": {
                        "id": "cfrontend01",
                        "name": "Editor",
                        "description": "Image editor",
                        "iframeUrlPath": "https://editor.invalid",
                    }
                }
            }
        if operation == "ConnectOntologyPyApi":
            project_id, ontology_id = variables["projectId"], variables["ontologyId"]
            if project_id not in self._projects or ontology_id not in self.ontologies:
                raise GraphQLError("RESOURCE_NOT_FOUND", "fake: no such project or ontology")
            self.project_ontology[project_id] = ontology_id
            return {"project": {"connectOntology": {"id": project_id}}}
        return super()._resolve(operation, query, variables, files)


def running_fake_with_ontology(**kwargs: Any) -> Iterator[FakeLabelboxWithOntology]:
    fake = FakeLabelboxWithOntology(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.server_errors, "fake Labelbox crashed:\n" + "\n".join(fake.server_errors)
