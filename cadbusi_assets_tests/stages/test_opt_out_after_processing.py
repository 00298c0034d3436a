"""A patient who withdraws consent after their dates were processed (``CADBUSI_OPT_OUT_FILE``
changed since): the de-identification reads the list itself, so a re-run that starts after
the cohort (the sensors' re-runs of interrupted dates start at ``deidentified_images``) drops
the patient; the stages that hand research images out (Labelbox, exports) leave them out
before any re-run (round 5 of the adversary, ``test_adversary_runs_s39.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
from cadbusi_assets.identity.optout import OPT_OUT_ENV_VAR, OPT_OUT_REASON
from cadbusi_assets.identity.reidentify import LINKS_TABLE, withdrawn_patient_pseudonyms
from cadbusi_assets.stages import StageFailure, imaging, records
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.stages import labeling as labeling_stage
from cadbusi_assets.stages.analysis import FEATURES_TABLE
from cadbusi_assets.stages.safety import withdrawn_patients
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table
from cadbusi_assets_tests.builders import DEMO_DAY, one_day_demo, raw_zone_like_raw_dicom
from cadbusi_assets_tests.support import time_limit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return one_day_demo(tmp_path_factory.mktemp("opt_out_after"), seed=7)


def _patients(raw) -> list[str]:
    table = read_partition_table(raw, records.COHORT_TABLE, DEMO_DAY)
    assert table is not None
    return sorted(set(table["patient_id"].drop_nulls().to_list()))


def test_a_re_run_from_the_de_identification_drops_a_patient_who_withdrew_since(
    tmp_path, cohort, monkeypatch
):
    pacs, pseudonymizer = cohort
    raw = raw_zone_like_raw_dicom(tmp_path, pacs)
    research = open_zone(str(tmp_path / "research"), "research").ensure()
    batch = pseudonymizer.batch_name(DEMO_DAY)
    with time_limit(600, "a first pass"):
        imaging.process_partition(
            raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1, previews=0
        )
    first = read_partition_table(research, deid.IMAGES_TABLE, batch)
    assert first is not None
    patients = _patients(raw)
    withdrawn = patients[0]
    pseudo = pseudonymizer.patient_id(withdrawn)
    theirs = first.filter(pl.col("patient_pseudo") == pseudo)["png_path"].to_list()
    assert theirs
    opt_out = tmp_path / "opt_out.txt"
    opt_out.write_text(f"# withdrew after processing\n00{withdrawn}\n")  # zeros: the same id
    monkeypatch.setenv(OPT_OUT_ENV_VAR, str(opt_out))
    monkeypatch.delenv("CADBUSI_ALLOW_SHRINK", raising=False)

    # no CADBUSI_ALLOW_SHRINK: a withdrawal is a drop with its reason, not a surprise
    with time_limit(600, "the re-run"):
        result = imaging.process_partition(
            raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1, previews=0
        )
    now = read_partition_table(research, deid.IMAGES_TABLE, batch)
    studies = read_partition_table(research, deid.STUDIES_TABLE, batch)
    assert now is not None and studies is not None and now.height
    assert pseudo not in set(now["patient_pseudo"].to_list())
    assert not any(research.exists(*p.split("/")) for p in theirs)
    counts = result.deidentification.report.counts
    assert counts[f"instances_left_out: {OPT_OUT_REASON}"] > 0
    # the other patients are untouched
    kept = first.filter(pl.col("patient_pseudo") != pseudo)
    assert sorted(kept["png_sha256"].to_list()) == sorted(now["png_sha256"].to_list())


def test_an_unreadable_opt_out_list_stops_the_date_with_its_reason(tmp_path, cohort, monkeypatch):
    pacs, _ = cohort
    raw = raw_zone_like_raw_dicom(tmp_path, pacs)
    monkeypatch.setenv(OPT_OUT_ENV_VAR, str(tmp_path / "missing.txt"))
    with pytest.raises(StageFailure, match=f"{OPT_OUT_ENV_VAR} does not exist"):
        deid.partition_inputs(raw, DEMO_DAY)


def test_withdrawn_pseudonyms_follow_the_links_ids_as_the_warehouse_writes_them(tmp_path):
    raw = open_zone(str(tmp_path / "raw"), "raw").ensure()
    pseudonymizer = Pseudonymizer(load_key(generate_key_file(tmp_path / "k.key")))
    links = pl.DataFrame(
        {
            "pseudonym": [pseudonymizer.patient_id("0004815"), pseudonymizer.patient_id("77")],
            "kind": ["patient", "patient"],
            "original": ["0004815", "77"],
            "partition": [DEMO_DAY, DEMO_DAY],
        }
    )
    write_partition_table(raw, LINKS_TABLE, DEMO_DAY, links)
    found = withdrawn_patient_pseudonyms(raw, pseudonymizer, frozenset({"4815"}))
    assert pseudonymizer.patient_id("0004815") in found  # the warehouse's zeros
    assert pseudonymizer.patient_id("4815") in found  # the list's own form
    assert pseudonymizer.patient_id("77") not in found
    assert withdrawn_patient_pseudonyms(raw, pseudonymizer, frozenset()) == frozenset()


class _Recording:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[Mapping[str, Any]] = []

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        self.sent += rows
        return len(rows)


def test_labelbox_gets_nothing_of_a_date_that_still_holds_a_withdrawn_patient(
    tmp_path: Path, monkeypatch
):
    research = open_zone(str(tmp_path / "research"), "research").ensure()
    raw = open_zone(str(tmp_path / "raw"), "raw").ensure()
    pseudonymizer = Pseudonymizer(load_key(generate_key_file(tmp_path / "k.key")))
    for i in (1, 2):
        research.write_bytes(("images", f"img{i}.png"), b"\x89PNG synthetic")
    write_partition_table(
        research,
        deid.IMAGES_TABLE,
        "b1",
        pl.DataFrame(
            {
                "image_id": ["img1", "img2"],
                "png_path": ["images/img1.png", "images/img2.png"],
                "patient_pseudo": [pseudonymizer.patient_id("4815"), pseudonymizer.patient_id("9")],
            }
        ),
    )
    write_partition_table(
        research,
        FEATURES_TABLE,
        "b1",
        pl.DataFrame({"image_id": ["img1", "img2"], "exclusion_reason": [None, None]}),
    )
    opt_out = tmp_path / "opt_out.txt"
    opt_out.write_text("4815\n")
    monkeypatch.setenv(OPT_OUT_ENV_VAR, str(opt_out))
    withdrawn = withdrawn_patients(raw, pseudonymizer)
    source = _Recording()
    with pytest.raises(StageFailure, match="opt-out list"):
        labeling_stage.send_data_rows(research, source, "b1", withdrawn=withdrawn)  # type: ignore[arg-type]
    assert source.sent == []
    assert read_partition_table(research, labeling_stage.DATA_ROWS_TABLE, "b1") is None
    opt_out.write_text("")  # nobody withdrawn: the date goes
    report = labeling_stage.send_data_rows(
        research,
        source,  # type: ignore[arg-type]
        "b1",
        withdrawn=withdrawn_patients(raw, pseudonymizer),
    )
    assert len(source.sent) == 2 and report.counts
