"""Issue 12, one pass per image: :func:`cadbusi_assets.stages.imaging.process_partition` writes
byte-identical files and equal tables, raw-zone tables and reports to the three stages it
replaces (de-identification, analysis, inpainting run one after the other), with OCR on (the
verification's reading of a frame is the annotation reading), and decodes each instance once
and reads each frame's text at most once."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

import cadbusi_assets.deid.deidentify as deid_engine
import cadbusi_assets.ultrasound.analysis as frame_analysis
import cadbusi_assets.ultrasound.ocr as ocr_module
from cadbusi_assets.deid.ocr import verification_frame_indices
from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
from cadbusi_assets.identity.reidentify import LINKS_TABLE
from cadbusi_assets.stages import analysis, imaging
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.builders import DEMO_DAY, raw_zone_like_raw_dicom
from cadbusi_assets_tests.support import time_limit
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = pytest.mark.slow

TIMEOUT_S = 900

RESEARCH_TABLES = (
    deid.INSTANCES_TABLE,
    deid.IMAGES_TABLE,
    deid.QUARANTINE_TABLE,
    deid.STUDIES_TABLE,
    analysis.FEATURES_TABLE,
    analysis.TWINS_TABLE,
    analysis.INPAINTED_TABLE,
)
RAW_TABLES = (LINKS_TABLE, deid.RAW_QUARANTINE_TABLE)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("one_pass")
    generate_demo_cohort(
        root / "cohort",
        DemoConfig(start=dt.date.fromisoformat(DEMO_DAY), days=1, studies_per_day=(2, 2), seed=11),
    )
    key_file = generate_key_file(root / "secrets" / "pseudonym.key")
    return root, Pseudonymizer(load_key(key_file))


def _zones(root: Path, name: str, pacs: Path):
    where = root / name
    raw = raw_zone_like_raw_dicom(where, pacs)
    return raw, open_zone(where / "research", "research").ensure()


def _report(report) -> dict[str, Any]:
    return {
        "counts": report.counts,
        "previews": report.previews,
        "tables": {k: v.to_dicts() for k, v in report.tables.items()},
        "row_count": report.row_count,
    }


@pytest.fixture(scope="module")
def both(cohort):
    root, pseudonymizer = cohort
    pacs = root / "cohort" / "pacs"
    with time_limit(TIMEOUT_S, "three stages and the one pass"):
        old_raw, old = _zones(root, "stages", pacs)
        batch = pseudonymizer.batch_name(DEMO_DAY)
        reports = {
            "deid": deid.deidentify_partition(
                old_raw, old, pseudonymizer, DEMO_DAY, workers=2
            ).report,
            "features": analysis.analyze_partition(old, batch, workers=2),
            "inpainting": analysis.inpaint_partition(old, batch, workers=2),
        }
        new_raw, new = _zones(root, "one_pass", pacs)
        result = imaging.process_partition(new_raw, new, pseudonymizer, DEMO_DAY, workers=2)
    return {
        "batch": batch,
        "old": (old_raw, old, reports),
        "new": (
            new_raw,
            new,
            {
                "deid": result.deidentification.report,
                "features": result.features,
                "inpainting": result.inpainting,
            },
        ),
    }


def _files(zone) -> dict[str, bytes]:
    root = Path(zone.uri)
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".png", ".dcm")
    }


def test_the_same_files(both):
    old, new = _files(both["old"][1]), _files(both["new"][1])
    assert sorted(new) == sorted(old)
    assert sum(p.startswith("inpainted/") for p in old) > 0
    assert sum(p.startswith("dicom/") for p in old) > 10
    assert [p for p in old if old[p] != new[p]] == []


@pytest.mark.parametrize("table", RESEARCH_TABLES)
def test_the_same_research_tables(both, table):
    old = read_partition_table(both["old"][1], table, both["batch"])
    new = read_partition_table(both["new"][1], table, both["batch"])
    assert old is not None and new is not None
    assert new.equals(old)


@pytest.mark.parametrize("table", RAW_TABLES)
def test_the_same_raw_tables(both, table):
    old = read_partition_table(both["old"][0], table, DEMO_DAY)
    new = read_partition_table(both["new"][0], table, DEMO_DAY)
    assert old is not None and new is not None
    assert new.equals(old)


def test_the_annotation_was_read(both):
    features = read_partition_table(both["new"][1], analysis.FEATURES_TABLE, both["batch"])
    assert features is not None and features["clock_position"].drop_nulls().len() > 0


@pytest.mark.parametrize("stage", ["deid", "features", "inpainting"])
def test_the_same_reports(both, stage):
    assert _report(both["new"][2][stage]) == _report(both["old"][2][stage])


def test_each_instance_is_decoded_once_and_each_frame_read_at_most_once(cohort, monkeypatch):
    root, pseudonymizer = cohort
    raw, research = _zones(root, "counted", root / "cohort" / "pacs")
    counts: dict[str, int] = {}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(deid, "read_dataset", counted("read", deid.read_dataset))
    monkeypatch.setattr(
        deid_engine, "decode_all_frames", counted("decode", deid_engine.decode_all_frames)
    )
    monkeypatch.setattr(analysis, "load_png", counted("png", analysis.load_png))
    monkeypatch.setattr(analysis, "read_dataset", counted("dicom", analysis.read_dataset))
    # the verification's reading (deid.ocr.read_frame imports it on call) and the analysis's
    monkeypatch.setattr(ocr_module, "read_frame_text", counted("ocr", ocr_module.read_frame_text))
    monkeypatch.setattr(
        frame_analysis, "read_frame_text", counted("ocr", frame_analysis.read_frame_text)
    )
    per_instance: list[tuple[dict[str, int], imaging.ImagingOutcome]] = []
    worker = imaging.process_one

    def one(task):
        counts.clear()
        outcome = worker(task)
        per_instance.append((dict(counts), outcome))
        return outcome

    monkeypatch.setattr(imaging, "process_one", one)
    with time_limit(TIMEOUT_S, "the counted one pass"):
        imaging.process_partition(raw, research, pseudonymizer, DEMO_DAY, workers=1)
    kept = [(c, o) for c, o in per_instance if o.instance is not None]
    assert len(kept) > 10 and any(o.instance["n_frames"] > 1 for _, o in kept)
    for calls, _ in per_instance:
        assert calls.get("read", 0) <= 1 and calls.get("decode", 0) <= 1
        assert calls.get("png", 0) == 0 and calls.get("dicom", 0) == 0
    for calls, outcome in kept:
        assert outcome.instance is not None
        frames = {int(image["frame"]) for image in outcome.images}
        read = frames | set(verification_frame_indices(outcome.instance["n_frames"]))
        assert calls["decode"] == 1
        assert calls["ocr"] == len(read)
        assert len(outcome.features) == len(outcome.images)


def test_the_old_stages_read_twice(cohort, monkeypatch):
    """The counter above can see a second reading: the three stages read the analysed frames
    that are verification frames twice."""
    root, pseudonymizer = cohort
    raw, research = _zones(root, "counted_stages", root / "cohort" / "pacs")
    calls: list[int] = []
    for module in (ocr_module, frame_analysis):
        fn = module.read_frame_text
        monkeypatch.setattr(
            module,
            "read_frame_text",
            lambda *a, _fn=fn, **k: calls.append(1) or _fn(*a, **k),
        )
    with time_limit(TIMEOUT_S, "the counted stages"):
        deid.deidentify_partition(raw, research, pseudonymizer, DEMO_DAY, workers=1, previews=0)
        analysis.analyze_partition(research, pseudonymizer.batch_name(DEMO_DAY), workers=1)
    instances = read_partition_table(
        research, deid.INSTANCES_TABLE, pseudonymizer.batch_name(DEMO_DAY)
    )
    images = read_partition_table(research, deid.IMAGES_TABLE, pseudonymizer.batch_name(DEMO_DAY))
    assert instances is not None and images is not None
    verified = sum(len(verification_frame_indices(n)) for n in instances["n_frames"])
    assert len(calls) >= verified + images.height
    shutil.rmtree(Path(research.uri))
