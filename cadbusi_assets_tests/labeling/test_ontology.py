"""The ontology from configuration: created and connected with the real labelbox SDK when the
project has none, compared (never changed) when it has one; against the local fake endpoint."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.labeling.ontology import (
    OntologyError,
    OntologySpec,
    ensure_ontology,
    ontology_differences,
)
from cadbusi_assets.labeling.prelabels import PrelabelNames, clock_answer
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets_tests.labeling.fake_labelbox_ontology import running_fake_with_ontology

pytestmark = pytest.mark.integration

PROJECT = "proj-ontology"


@pytest.fixture
def fake():
    for server in running_fake_with_ontology():
        server.add_project(PROJECT)
        yield server


@pytest.fixture
def client(fake, monkeypatch):
    import labelbox as lb

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return lb.Client(
        api_key=fake.api_key,
        endpoint=fake.endpoint,
        rest_endpoint=fake.rest_endpoint,
        app_url=fake.app_url,
    )


def test_default_ontology_is_what_the_sdk_builds_and_what_prelabels_use():
    from labelbox import OntologyBuilder

    spec = OntologySpec.default()
    assert OntologyBuilder.from_dict(spec.normalized()).asdict() == spec.normalized()
    names = PrelabelNames()
    tools = {t.name: t.tool for t in spec.tools}
    radios = {c.name: c.options for c in spec.classifications if c.type == "radio"}
    assert tools[names.box] == "rectangle" and tools["lesion_mask"] == "raster-segmentation"
    assert {names.left, names.right} <= set(radios[names.laterality])
    every_clock = {clock_answer(f"{h}:{m:02d}") for h in range(1, 13) for m in range(0, 60, 5)}
    assert every_clock <= set(radios[names.clock])  # every pre-label clock answer is an option
    assert {"3", "4A", "4B", "4C", "5"} <= set(radios["birads"])
    assert [c.type for c in spec.classifications if c.name == "comment"] == ["text"]


def test_created_and_connected_when_the_project_has_none_then_matches(fake, client):
    spec = OntologySpec.default()
    first = ensure_ontology(client, PROJECT, spec)
    assert first.status == "created" and first.ok and first.differences == []
    assert fake.project_ontology[PROJECT] == first.ontology_id
    stored = fake.ontologies[first.ontology_id]
    assert stored["name"] == spec.name and stored["normalized"] == spec.normalized()
    again = ensure_ontology(client, PROJECT, spec)
    assert (again.status, again.ontology_id) == ("matches", first.ontology_id)
    assert len(fake.calls("upsertRootSchemaNodePyApi")) == 1
    assert len(fake.calls("ConnectOntologyPyApi")) == 1


def test_a_matching_ontology_of_the_same_name_is_reused(fake, client):
    spec = OntologySpec.default()
    other_project = "proj-other"
    fake.add_project(other_project)
    created = ensure_ontology(client, other_project, spec)
    reused = ensure_ontology(client, PROJECT, spec)
    assert reused.status == "created" and reused.ontology_id == created.ontology_id
    assert len(fake.calls("upsertRootSchemaNodePyApi")) == 1


def test_differences_are_reported_and_the_project_is_not_changed(fake, client):
    spec = OntologySpec.default()
    theirs = spec.normalized()
    theirs["tools"] = [
        dict(theirs["tools"][0], tool="polygon"),
        {"tool": "point", "name": "nipple"},
    ]
    birads = next(c for c in theirs["classifications"] if c["name"] == "birads")
    birads["options"] = [o for o in birads["options"] if o["value"] != "4C"]
    theirs["classifications"] = [c for c in theirs["classifications"] if c["name"] != "comment"]
    existing = fake.set_project_ontology(PROJECT, theirs)
    check = ensure_ontology(client, PROJECT, spec)
    assert check.status == "differs" and not check.ok and check.ontology_id == existing
    assert check.differences == [
        "tool lesion is polygon, configured rectangle",
        "tool lesion_mask (raster-segmentation) is missing",
        "radio birads lacks option(s) 4C",
        "text comment is missing",
        "extra tool nipple (not configured)",
    ]
    assert (
        fake.calls("upsertRootSchemaNodePyApi") == [] and fake.calls("ConnectOntologyPyApi") == []
    )
    assert fake.project_ontology[PROJECT] == existing


def test_check_only_reports_a_missing_ontology(fake, client):
    assert (
        ensure_ontology(client, PROJECT, OntologySpec.default(), create=False).status == "missing"
    )
    assert fake.calls("upsertRootSchemaNodePyApi") == []


def test_configuration_file_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "ontology.yaml"
    path.write_text(
        "name: small\n"
        "tools: [{name: lesion, tool: bbox}]\n"
        "classifications:\n"
        "  - {name: laterality, type: radio, options: [left, right]}\n"
        "  - {name: note, type: text}\n"
    )
    monkeypatch.setenv("CADBUSI_LABELBOX_ONTOLOGY", str(path))
    spec = OntologySpec.from_env()
    assert spec.name == "small" and [t.tool for t in spec.tools] == ["rectangle"]
    assert ontology_differences(spec, spec.normalized()) == []
    for bad, message in (
        ({"tools": [{"name": "x", "tool": "brush"}]}, "tool 1 needs"),
        ({"classifications": [{"name": "x", "type": "radio"}]}, "needs options"),
        ({"tools": [{"name": "x", "tool": "bbox"}, {"name": "x", "tool": "mask"}]}, "unique"),
    ):
        with pytest.raises(OntologyError, match=message):
            OntologySpec.from_mapping(bad)


def test_stage_check_and_queue_skip_prelabels_when_the_ontology_differs(fake, client, monkeypatch):
    from cadbusi_assets.labeling import open_label_source
    from cadbusi_assets.labeling.project_queue import queue_for_labeling

    spec = OntologySpec.default()
    theirs = spec.normalized()
    theirs["tools"] = theirs["tools"][1:]  # no lesion box tool: box pre-labels would fail
    fake.set_project_ontology(PROJECT, theirs)

    monkeypatch.setenv("LABELBOX_API_KEY", fake.api_key)
    monkeypatch.setenv("LABELBOX_ENDPOINT", fake.endpoint)
    source = open_label_source(f"labelbox://{PROJECT}?dataset_prefix=bus")
    report = stage.check_ontology(source, spec)
    assert report.failed and report.problems == ["ontology: tool lesion (rectangle) is missing"]

    keys = ["img-000", "img-001"]
    fake.add_data_rows(keys)
    lesions = pl.DataFrame({"lesion_id": ["L1"], "side": ["LEFT"], "clock": ["2:00"]})
    links = pl.DataFrame(
        {
            "lesion_id": ["L1"],
            "image_id": ["img-000"],
            "box_x0": [1],
            "box_y0": [2],
            "box_x1": [30],
            "box_y1": [40],
        }
    )
    queued = queue_for_labeling(
        client,
        PROJECT,
        pl.DataFrame({"global_key": keys}),
        "2026-09-01",
        lesions=lesions,
        lesion_images=links,
        ontology=spec,
        poll_seconds=0,
    )
    assert sorted(queued.queued_keys) == keys  # annotators still get the rows
    assert queued.prelabels is None and "tool lesion (rectangle) is missing" in (
        queued.prelabels_skipped or ""
    )
    assert queued.ontology is not None and queued.ontology.status == "differs"
