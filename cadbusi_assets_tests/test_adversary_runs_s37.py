"""Adversary, session 37: what a demanding user or a messy hospital does to the runs.

Each test reproduces a finding on the code as it was (said in its docstring). Everything is
synthetic; every subprocess has a timeout.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from cadbusi_assets.catalog.build import CATALOG_PATH, build_metadata_db
from cadbusi_assets.exports import ExportConfig, build_export, verify_export
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.stages.labeling import ingest_labels
from cadbusi_assets.storage import Zone, open_zone
from cadbusi_assets_tests.builders import export_row
from cadbusi_assets_tests.defs.phi_scan import find_identifiers
from cadbusi_assets_tests.exports.conftest import (
    memory_research_zone,
    synthetic_catalog,
    write_zone,
)
from cadbusi_assets_tests.support import time_limit

LINEAGE = {
    "deidentification_profile": "research-breast-us",
    "pseudonym_key_fingerprint": "0123456789abcdef",
    "label_set_version": "ls-1",
    "code_version": "0.1.0",
}


def _environment_on(tmp_path: Path, variables: dict[str, str]):
    """Resources for in-process runs on the zones of a :func:`two_dates_run`."""
    from cadbusi_assets.defs.resources import ZonesResource
    from cadbusi_assets_tests.defs.conftest import make_environment

    zones = ZonesResource(
        raw_uri=variables["CADBUSI_RAW_ZONE"], research_uri=variables["CADBUSI_RESEARCH_ZONE"]
    )
    return make_environment(
        tmp_path / "env", tmp_path / "cohort", tmp_path / "secrets" / "pseudonym.key", zones=zones
    )


def _export_run(definitions, env, instance, key: str = "2026-12-01"):
    """One in-process run of ``dataset_export`` for ``key`` (its result, failed or not)."""
    from cadbusi_assets_tests.defs.conftest import run

    return run(
        definitions, env, ["dataset_export"], instance, partition_key=key, raise_on_error=False
    )


def _cut(zone: Zone, key: str):
    return build_export(zone, ExportConfig(key=key), LINEAGE, workers=1)


def test_an_export_cut_again_from_the_same_state_is_verified_whatever_other_exports_exist(
    tmp_path: Path,
):
    """Re-cutting a key "verifies it is byte-identical" (README, Cutting an
    export). An export's ``README.md`` and ``lineage.json`` name the previous export (the
    newest complete one whose key sorts before it) and what changed since. Before the fix,
    cutting a key that sorts earlier (``2026-11-20``, an export for November cut after the
    December one) changed what ``2026-12-01`` would contain: materializing ``2026-12-01`` again
    from the very same catalog, files and labels failed with ``ExportExistsError`` ("already
    exists with different content ... cut a new key"), a false alarm that also blocks the
    verification a user asks for. The same happens when an older export folder is deleted to
    free space. The data did not change, so the re-build must verify as identical."""
    with time_limit(120):
        zone = write_zone(tmp_path / "research", synthetic_catalog())
        first = _cut(zone, "2026-12-01")
        assert not first.already_existed
        _cut(zone, "2026-11-20")  # a later cut of a key that sorts before the first
        again = _cut(zone, "2026-12-01")
        assert again.already_existed
        assert again.digest == first.digest
        assert verify_export(zone, "2026-12-01") == []


def test_one_known_exam_date_gives_away_no_other_patients_date_shift(tmp_path: Path):
    """Each patient's dates are shifted by a keyed per-patient number of days, so that an
    export's ``study_date_shifted`` cannot be put back on the calendar, nor two patients' exams
    be lined up (README, Privacy model; a global shift would have kept intervals too). The
    manifest also carries ``batch``: the research zone's name of the real study date each image
    came from, the same for every patient seen that day. Before the fix, whoever knew one
    patient's real exam date (their own, a relative's, one from a case report) read off the real
    exam date, and so the date shift, of every other patient of that batch, and from their
    other exams the dates of the batches those fall in, and so on: the per-patient shifts
    collapsed into one. Here two real dates with two patients each: the real date of one exam
    must tell nothing about another patient's."""
    import datetime as dt

    from cadbusi_assets_tests.run_support import FIRST, SECOND, two_dates_run

    _env, research, _raw, pseudo = two_dates_run(tmp_path, studies_per_day=(2, 2))
    with time_limit(300):
        build_metadata_db(research)
        _cut(research, "2026-12-01")
    manifest = pl.read_parquet(research.local_path("exports", "2026-12-01", "manifest.parquet"))
    # the truth (the test holds the key): each accession's real exam date, from the research
    # zone's per-date tables (not from the manifest)
    real_of_accession = {
        accession: dt.date.fromisoformat(day)
        for day in (FIRST, SECOND)
        for accession in research.read_parquet(
            "tables", "studies", f"{pseudo.batch_name(day)}.parquet"
        )["accession_pseudo"].to_list()
    }
    rows = manifest.unique("accession_pseudo").sort("accession_pseudo").to_dicts()
    assert len({r["patient_pseudo"] for r in rows}) >= 3, rows  # several patients exported
    patients_on = {
        day: {r["patient_pseudo"] for r in rows if real_of_accession[r["accession_pseudo"]] == day}
        for day in set(real_of_accession.values())
    }
    # an exam of a day on which another patient was seen too (the test knows the days)
    anchor = next(r for r in rows if len(patients_on[real_of_accession[r["accession_pseudo"]]]) > 1)

    # the attack: the export alone, plus the real date of one exam of one patient
    anchor_real = real_of_accession[anchor["accession_pseudo"]]
    same_day_as = {
        r["patient_pseudo"]: r["study_date_shifted"]
        for r in rows
        if r.get("batch") is not None and r.get("batch") == anchor.get("batch")
    }
    learned_shift = {p: shifted - anchor_real for p, shifted in same_day_as.items()}
    found = {
        r["patient_pseudo"]
        for r in rows
        if r["patient_pseudo"] != anchor["patient_pseudo"]
        and r["patient_pseudo"] in learned_shift
        and r["study_date_shifted"] - learned_shift[r["patient_pseudo"]]
        == real_of_accession[r["accession_pseudo"]]
    }
    assert not found, (
        f"one patient's real exam date gave away the real dates of {len(found)} other "
        "patients through the manifest's batch column"
    )


#: synthetic identifiers someone types into a Labelbox field (a name, an MRN, a phone)
TYPED = ("Hortensia Quackenbush", "48213377", "555-867-5309")


def test_text_typed_into_a_labelbox_project_or_label_field_never_reaches_the_research_zone(
    tmp_path: Path,
):
    """Labelers' comments, text answers, unknown questions, options and object classes are
    scrubbed before they are stored (README, Labels flow in by themselves). Three other fields
    of an export row are text a person types or a hand-made export carries, and were stored as
    they came into ``labels/labelbox/labels.parquet`` / ``objects.parquet``, every snapshot under
    ``versions/`` and the catalog's ``label_annotations`` / ``label_objects``: the project's
    name (named in Labelbox by whoever set the project up, e.g. a second-read project named
    after the patient it was opened for), the project's ``workflow_status`` and an object's
    ``annotation_kind``."""
    row = export_row("img-a", "lb-1")
    project = row["projects"]["proj-1"]
    project["name"] = "Second read for Hortensia Quackenbush MRN 48213377 tel 555-867-5309"
    project["project_details"] = {"workflow_status": "DONE - called Hortensia Quackenbush"}
    box = project["labels"][0]["annotations"]["objects"][0]
    box["annotation_kind"] = "ImageBoundingBox 555-867-5309"
    exports = tmp_path / "lb" / "exports"
    exports.mkdir(parents=True)
    (exports / "a.ndjson").write_text(json.dumps(row) + "\n", encoding="utf-8")
    research = open_zone(tmp_path / "research", "research")
    with time_limit(120):
        report = ingest_labels(research, FolderLabelSource(tmp_path / "lb"))
        assert report.counts["labels"] == 1  # the label itself is kept
        build_metadata_db(research)
    assert research.local_path(*CATALOG_PATH).exists()
    assert find_identifiers(tmp_path / "research", list(TYPED)) == []
    labels = pl.read_parquet(tmp_path / "research" / "labels" / "labelbox" / "labels.parquet")
    assert labels["label_id"].to_list() == ["lb-1"]


def test_an_export_upload_cut_off_on_an_object_store_is_finished_by_the_next_build(
    tmp_path: Path, monkeypatch
):
    """On an object-store research zone (``gs://``, ``s3://``) an export is uploaded file by
    file, in sorted order, and ``_COMPLETE`` is written last ("written last on object stores",
    the module's doc). ``SHA256SUMS`` sorts second (after ``README.md``), and whether an export
    exists is decided by ``SHA256SUMS`` alone; ``_COMPLETE`` is never read. Before the fix, an
    upload cut off after ``SHA256SUMS`` (a connection reset, a killed pod, Ctrl-C) left an
    export that every later build of the key took for done: ``already_existed`` true (nothing
    uploaded again), then ``verify_export`` raised ``FileNotFoundError`` for the missing
    ``manifest.parquet``, on every run of that key, for good."""
    import contextlib

    zone = memory_research_zone(tmp_path)

    real_copy = Zone.copy_file_in
    uploads: list[tuple[str, ...]] = []

    def connection_reset_on_the_fifth_file(self, path, parts):
        uploads.append(tuple(parts))
        if len(uploads) == 5:
            raise ConnectionResetError("the connection to the object store was reset")
        return real_copy(self, path, parts)

    with time_limit(120):
        monkeypatch.setattr(Zone, "copy_file_in", connection_reset_on_the_fifth_file)
        with contextlib.suppress(ConnectionResetError):
            _cut(zone, "2026-12-01")
        monkeypatch.setattr(Zone, "copy_file_in", real_copy)

        again = _cut(zone, "2026-12-01")
        assert verify_export(zone, "2026-12-01") == []
    assert zone.exists("exports", "2026-12-01", "manifest.parquet")
    assert zone.exists("exports", "2026-12-01", "_COMPLETE")
    assert again.images > 0


def test_a_label_a_reviewer_sent_back_for_rework_is_not_an_exported_lesion_mask(tmp_path: Path):
    """An export's ``lesion_masks/<image>.png`` is drawn from "the newest label of an image"
    (README, Segmentation masks), a training target. Labelbox's review workflow sends a label a
    reviewer rejected back to the labeler: its data row's ``workflow_status`` is ``IN_REWORK``
    (``IN_REVIEW`` while nobody has checked it, ``DONE`` once approved). Ingestion stores the
    status, and nothing reads it: before the fix a box the reviewer had rejected became the
    exported lesion mask exactly like an approved one (``lesion_mask_source`` ``labelbox``), and
    nothing in the manifest or on the card told them apart."""
    zone = write_zone(tmp_path / "research", synthetic_catalog())
    rows = []
    for image, label, status in (
        ("img0000", "lb-approved", "DONE"),
        ("img0010", "lb-rejected", "IN_REWORK"),
    ):
        row = export_row(image, label)
        row["projects"]["proj-1"]["project_details"] = {"workflow_status": status}
        box = row["projects"]["proj-1"]["labels"][0]["annotations"]["objects"][0]
        box["bounding_box"] = {"top": 25.0, "left": 15.0, "height": 10.0, "width": 12.0}
        rows.append(row)
    exports = tmp_path / "lb" / "exports"
    exports.mkdir(parents=True)
    (exports / "a.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with time_limit(120):
        ingest_labels(zone, FolderLabelSource(tmp_path / "lb"))
        _cut(zone, "2026-12-01")
    manifest = pl.read_parquet(
        tmp_path / "research" / "exports" / "2026-12-01" / "manifest.parquet"
    )
    source = dict(manifest.select("image_id", "lesion_mask_label_id").iter_rows())
    assert source["img0000"] == "lb-approved"  # an approved label is drawn
    assert source["img0010"] != "lb-rejected"


def test_an_export_cut_before_any_study_date_was_processed_is_not_a_library_error(
    tmp_path: Path,
):
    """A fresh deployment: labels were ingested (the label source had exports) and the catalog
    was built, but no study date has been processed yet, so the catalog's image tables are its
    empty stand-ins. Before the fix cutting an export (``cadbusi export``, a partition added in
    the UI, the monthly sensor on its first day) failed inside the build with polars'
    ``ColumnNotFoundError: unable to find column "patient_pseudo"`` (the stand-in ``images``
    table has no ``patient_pseudo``, ``png_path`` or crop columns), a library error that the
    command shows by its class only. An export of nothing is either an empty export or refused
    with a reason that says so."""
    import dagster as dg

    from cadbusi_assets.definitions import defs
    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets_tests.defs.conftest import make_environment, run

    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    (tmp_path / "cohort").mkdir()
    env = make_environment(tmp_path / "run", tmp_path / "cohort", key_file)
    exports = env.labels / "exports"
    exports.mkdir(parents=True)
    (exports / "a.ndjson").write_text(json.dumps(export_row("img-1", "lb-1")) + "\n")
    definitions = defs()
    with time_limit(180), dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(definitions, env, ["labelbox_labels", "metadata_db"], instance).success
        instance.add_dynamic_partitions("exports", ["2026-12-01"])
        result = _export_run(definitions, env, instance)
    if not result.success:
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        error = failure.step_failure_data.error
        # the package's own refusal (dg.Failure, its message shown), not another library's
        assert error.cls_name == "Failure", (error.cls_name, error.message[:300])


def test_an_export_whose_first_run_failed_after_writing_it_is_still_audited(
    tmp_path: Path, monkeypatch
):
    """Who cut an export and from which study dates is appended to the raw zone's
    ``export_audit`` (the record of a disclosure). The asset builds the export (it appears in
    the research zone in one step), then writes the raw-zone lineage, then the audit row, and
    only when the export did not exist before. Before the fix a run that failed between the two
    (the raw zone full or unreachable for a moment, the run terminated or killed) left an
    export in the research zone, ready for the training team, with no audit row; the next run
    of the key found the export "already existed", verified it, succeeded, and never wrote the
    row: an export nobody could account for."""
    import dagster as dg

    import cadbusi_assets.defs.exports.assets as export_assets
    from cadbusi_assets.definitions import defs
    from cadbusi_assets.identity.audit import read_audit
    from cadbusi_assets_tests.defs.conftest import run
    from cadbusi_assets_tests.run_support import two_dates_run

    variables, research, raw, _pseudo = two_dates_run(tmp_path)
    env = _environment_on(tmp_path, variables)
    real_write = export_assets.write_raw_lineage
    writes: list[int] = []

    def raw_zone_full_once(*args, **kwargs):
        writes.append(1)
        if len(writes) == 1:
            raise OSError(28, "No space left on device")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(export_assets, "write_raw_lineage", raw_zone_full_once)
    definitions = defs()
    with time_limit(300), dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(definitions, env, ["metadata_db"], instance).success
        instance.add_dynamic_partitions("exports", ["2026-12-01"])
        for _attempt in range(2):  # the failed run, then the user's re-run of the key
            result = _export_run(definitions, env, instance)
    assert result.success
    assert verify_export(research, "2026-12-01") == []
    audited = read_audit(raw)["export_key"].to_list()
    assert "2026-12-01" in audited, audited


def test_deidentify_again_after_an_input_left_keeps_no_output_of_it(tmp_path: Path):
    """``cadbusi deidentify IN OUT`` run again into the same OUT after a study was taken out of
    IN (the patient opted out, or the study was the wrong patient's): before the fix the first
    run's de-identified DICOM and PNG files of that study stayed in OUT, listed by no table
    (``images.parquet`` / ``instances.parquet`` name only the second run's) and by no line of
    ``OUT.report.csv`` (rewritten), so nothing traced them any more, and whoever shipped OUT
    shipped them. The same leftovers stay when the second run quarantines an input the first
    run let through (OCR verification switched on, a stricter profile). Every file of OUT must
    be one the last run's tables list (or a table itself)."""
    import os
    import subprocess
    import sys

    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets.pacs.synthetic import synthetic_uid
    from cadbusi_assets_tests.builders import add_imaged

    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    inputs = tmp_path / "in"
    kept, leaving = synthetic_uid(1), synthetic_uid(2)
    for study in (kept, leaving):
        for number in (1, 2):
            add_imaged(inputs, study, number, day="2026-09-01")
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "cadbusi_assets.cli", "deidentify", str(inputs), str(out),
        "--key-file", str(key_file), "--no-ocr", "--jobs", "1",
    ]  # fmt: skip
    environment = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))

    def deidentify() -> subprocess.CompletedProcess:
        return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)

    done = deidentify()
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    first = {p for p in out.rglob("*") if p.is_file()}
    for path in sorted(p for p in inputs.rglob("*") if p.is_file()):
        if leaving in path.as_posix():
            path.unlink()
    done = deidentify()
    said = done.stdout + done.stderr
    if done.returncode != 0:  # a refusal of an OUT that holds another run's files will do
        assert "Traceback" not in said and "error:" in said, said[-2000:]
        return
    listed = {
        out / relative
        for table, column in (("images.parquet", "png_path"), ("instances.parquet", "dicom_path"))
        for relative in pl.read_parquet(out / table)[column].drop_nulls().to_list()
    }
    assert listed and listed < first  # the second run wrote fewer files than the first
    tables = {out / "images.parquet", out / "instances.parquet"}
    left_over = sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p not in listed and p not in tables
    )
    assert left_over == [], f"{len(left_over)} files of OUT listed by nothing"


def test_an_annotator_mask_that_no_longer_fits_its_image_is_never_exported_as_an_empty_mask(
    tmp_path: Path,
):
    """A mask is checked against its image's size once, at label ingestion. The image can
    change size under the same id afterwards: the PACS corrects an instance under the same UIDs
    and the date is re-run with ``refetch: true`` (README, Re-runs never destroy data). Before
    the fix the export's lesion-mask drawing skipped a stored mask of another size without a
    word (``_mask_png``: ``if annotated.size == size``), and shipped ``lesion_masks/<image>.png``
    all black (a training target that says "no lesion" where the annotator drew one) with
    ``mask_source`` ``annotator_mask``, counted on the card as drawn by annotators. A lesion
    mask that is written holds the lesion; one that cannot be drawn is left out."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    from cadbusi_assets_tests.builders import annotator_export_row

    catalog = synthetic_catalog(8, 2)
    zone = write_zone(tmp_path / "research", catalog)
    image_id = catalog["image_id"][0]
    drawn = np.zeros((64, 64), np.uint8)
    drawn[30:50, 20:40] = 255  # inside the image's crop (10, 20)-(49, 59)
    buffer = io.BytesIO()
    Image.fromarray(drawn, mode="L").save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    row = annotator_export_row(
        image_id, "lb-1", [{"feature_id": "f-mask", "name": "lesion_mask", "mask": {"url": url}}]
    )
    (tmp_path / "labels" / "exports").mkdir(parents=True)
    (tmp_path / "labels" / "exports" / "e.ndjson").write_text(json.dumps(row) + "\n")
    with time_limit(120):
        assert (
            ingest_labels(zone, FolderLabelSource(tmp_path / "labels")).counts["masks_stored"] == 1
        )
        corrected = io.BytesIO()  # the corrected instance, re-fetched: 80 x 80 now
        Image.fromarray(np.full((80, 80), 7, np.uint8)).save(corrected, "PNG")
        zone.write_bytes(("images", f"{image_id}.png"), corrected.getvalue())
        _cut(zone, "2026-12-01")
    folder = zone.local_path("exports", "2026-12-01")
    row = (
        pl.read_parquet(folder / "manifest.parquet")
        .filter(pl.col("image_id") == image_id)
        .row(0, named=True)
    )
    if row["lesion_mask_path"] is not None:
        mask = np.asarray(Image.open(folder / row["lesion_mask_path"]))
        assert (mask > 0).sum() > 0, f"an empty lesion mask exported as {row['mask_source']}"


def test_labels_ingested_while_an_export_is_cut_never_reach_it_under_the_old_label_set(
    tmp_path: Path, monkeypatch
):
    """An export's ``lineage.json`` names the label set its catalog was built from, and the
    asset refuses a catalog older than its labels, checked when the step starts. The lesion
    boxes, polygons and masks are then read from the current label files
    (``labels/labelbox/objects.parquet``), not from that set's snapshot
    (``labels/labelbox/versions/<set>/``). ``labelbox_labels_sensor`` ingests every 5 minutes
    while annotators work; before the fix a relabel ingested between the step's start and that
    read (the instance's lineage query, the catalog read and the splits lie between) went into
    the export's lesion masks while its lineage named the label set before it: an immutable
    export that is not what its lineage says."""
    import cadbusi_assets.exports.build as export_build
    from cadbusi_assets.stages.labeling import current_label_set_version

    zone = write_zone(tmp_path / "research", synthetic_catalog())
    exports = tmp_path / "lb" / "exports"
    exports.mkdir(parents=True)

    def label_file(name: str, left: float, updated: str) -> None:
        row = export_row("img0000", "lb-1", updated=updated)
        box = row["projects"]["proj-1"]["labels"][0]["annotations"]["objects"][0]
        box["bounding_box"] = {"top": 25.0, "left": left, "height": 10.0, "width": 12.0}
        (exports / name).write_text(json.dumps(row) + "\n")

    label_file("a.ndjson", 15.0, "2026-03-02T10:15:07.000+00:00")
    with time_limit(120):
        ingest_labels(zone, FolderLabelSource(tmp_path / "lb"))
        catalog_set = current_label_set_version(zone)  # the set the catalog was built from
        real = export_build._with_calipers

        relabelled: list[str | None] = []

        def relabel_meanwhile(*args, **kwargs):
            label_file("b.ndjson", 30.0, "2026-03-03T10:15:07.000+00:00")  # the box moved
            ingest_labels(zone, FolderLabelSource(tmp_path / "lb"))
            relabelled.append(current_label_set_version(zone))
            return real(*args, **kwargs)

        monkeypatch.setattr(export_build, "_with_calipers", relabel_meanwhile)
        try:
            build_export(
                zone,
                ExportConfig(key="2026-12-01"),
                {**LINEAGE, "label_set_version": catalog_set},
                workers=1,
            )
        except Exception:  # a refusal of labels that changed meanwhile will do
            assert relabelled and relabelled[0] != catalog_set  # (not a failure of the test's)
            assert not zone.exists("exports", "2026-12-01", "SHA256SUMS")
            return
    assert current_label_set_version(zone) != catalog_set
    lineage = json.loads(zone.read_bytes("exports", "2026-12-01", "lineage.json"))
    manifest = pl.read_parquet(zone.local_path("exports", "2026-12-01", "manifest.parquet"))
    boxes = manifest.filter(pl.col("image_id") == "img0000")["lesion_mask_boxes_crop"].to_list()
    # the crop starts at x 10: the named set's box (left 15) is at 5, the newer one's at 20
    assert lineage["label_set_version"] == catalog_set
    assert boxes == [[[5, 5, 17, 15]]], boxes


def test_a_date_re_run_by_another_dagster_instance_makes_the_catalog_too_old_to_export(
    tmp_path: Path,
):
    """Two shells on one ``$CADBUSI_HOME`` with different ``$DAGSTER_HOME``s (a ``cadbusi demo``
    beside a ``dagster dev``, or a shell where ``DAGSTER_HOME`` is unset: ``dagster asset
    materialize`` then runs on a temporary instance) write the same zones; the write locks take
    care of that. The export's refusal of a catalog "older than its inputs" reads the order of
    materializations from its own instance only, and the catalog file is checked for its label
    set only. Here the warehouse cancels the first date's exam and that date is re-run (with
    ``CADBUSI_ALLOW_SHRINK=1``) through the other instance: its images leave the research zone.
    Before the fix the next export on the first instance went ahead from the catalog built
    before, and failed inside the build with ``FileNotFoundError`` on the first PNG that had
    gone (a library error, shown by its class only), instead of the refusal that names the
    stale catalog and says to rebuild it; had the re-run changed features or labels instead
    of removing files, the export would have been cut from the old catalog without a word."""
    import subprocess

    import dagster as dg
    import duckdb

    from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
    from cadbusi_assets.storage import read_partition_table
    from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS, write_instance_yaml
    from cadbusi_assets_tests.run_support import FIRST, MATERIALIZE, finish, two_dates_run

    env, research, raw, _pseudo = two_dates_run(tmp_path)

    def materialize(variables: dict[str, str], selection: list[str], day: str | None = None):
        args = [*MATERIALIZE, "--select", ",".join(selection)]
        args += ["--partition", day] if day else []
        proc = subprocess.Popen(
            args,
            cwd=Path(__file__).resolve().parents[1],
            env=variables,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out = finish(proc, 300, " ".join(selection))
        return proc.returncode, out

    assert materialize(env, ["metadata_db"])[0] == 0  # the catalog, on the first instance
    (accession,) = read_partition_table(raw, "imaging_studies", FIRST)["accession_number"]
    with duckdb.connect(str(tmp_path / "cohort" / "warehouse.duckdb")) as con:
        con.execute(
            "UPDATE radiology_exams SET report_status = 'CANCELLED' WHERE accession_number = ?",
            [accession],
        )
    other = {**env, "DAGSTER_HOME": str(tmp_path / "other_dagster_home"), ALLOW_SHRINK_ENV: "1"}
    Path(other["DAGSTER_HOME"]).mkdir()
    write_instance_yaml(other)
    returncode, out = materialize(other, STUDY_DATE_ASSETS, FIRST)
    assert returncode == 0, out[-3000:]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        instance.add_dynamic_partitions("exports", ["2026-12-01"])
    returncode, out = materialize(env, ["dataset_export"], "2026-12-01")
    if returncode != 0:
        assert not research.exists("exports", "2026-12-01", "SHA256SUMS")
        assert "FileNotFoundError" not in out
        assert "Refusing to cut an export" in out, out[-3000:]
        return
    # it went ahead: then it must hold what a catalog of the zone as it is now holds
    build_metadata_db(research)
    _cut(research, "2026-12-02")
    manifests = [
        pl.read_parquet(research.local_path("exports", key, "manifest.parquet"))
        for key in ("2026-12-01", "2026-12-02")
    ]
    assert manifests[0].equals(manifests[1])


def test_an_export_cut_on_an_instance_that_did_not_process_its_dates_still_names_them(
    tmp_path: Path,
):
    """The export audit records "from which study dates" an export was cut, ``lineage.json``
    names every upstream partition by batch with its sealed ``ref``, and the raw zone's lineage
    lets a key holder follow any exported image to its date (``cadbusi lineage KEY --batch``).
    All three were read from the Dagster instance's materializations, not from the data. An
    export cut on an instance that did not process the dates (a second ``$DAGSTER_HOME`` on the
    same ``$CADBUSI_HOME``, an instance moved from SQLite to PostgreSQL, a wiped event log)
    held the images of two dates, yet before the fix its audit row listed no date
    (``partitions: []``), its lineage named no batch (only ``metadata_db``), and
    ``cadbusi lineage`` answered "no study-date partitions match": an export that nobody could
    account for or trace."""
    import dagster as dg

    from cadbusi_assets.definitions import defs
    from cadbusi_assets.identity.audit import read_audit
    from cadbusi_assets_tests.defs.conftest import run
    from cadbusi_assets_tests.run_support import FIRST, SECOND, two_dates_run

    variables, research, raw, pseudo = two_dates_run(tmp_path)  # on the demo's own instance
    env = _environment_on(tmp_path, variables)
    definitions = defs()
    with time_limit(300), dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(definitions, env, ["metadata_db"], instance).success
        instance.add_dynamic_partitions("exports", ["2026-12-01"])
        assert _export_run(definitions, env, instance).success
    lineage = json.loads(research.read_bytes("exports", "2026-12-01", "lineage.json"))
    batches = set(lineage["images_per_batch"])
    assert batches == {pseudo.batch_name(FIRST), pseudo.batch_name(SECOND)}  # both dates' images
    audit = read_audit(raw).filter(pl.col("export_key") == "2026-12-01")
    assert audit.height == 1
    assert set(audit["partitions"][0].to_list()) >= {FIRST, SECOND}
    named = {entry["partition"] for entry in lineage["upstream"]}
    assert batches <= named, "lineage.json names none of the batches its images came from"


def test_label_exports_back_to_an_earlier_state_are_ingested_again(tmp_path: Path):
    """``labelbox_labels_sensor`` asks for a run with the run key ``labels-<cursor>``, and for
    a folder of exports the cursor is a fingerprint of the files. Dagster launches a run key
    once per sensor: a request with a key used before is skipped. Before the fix an export
    file dropped into the folder by mistake (another project's export, a file of the wrong
    week) and then taken out again brought the fingerprint back to an earlier value: the sensor
    asked for ``labels-<that fingerprint>`` again, Dagster skipped it, and the current label
    set kept the removed file's labels until some other change came."""
    import dagster as dg

    from cadbusi_assets.defs.labeling.sensors import labelbox_labels_sensor
    from cadbusi_assets.defs.resources import LabelSourceResource

    folder = tmp_path / "lb"
    (folder / "exports").mkdir(parents=True)
    (folder / "exports" / "a.ndjson").write_text(json.dumps(export_row("img-1", "lb-1")) + "\n")
    resource = LabelSourceResource(uri=f"folder://{folder}")
    launched: list[str] = []
    cursor = None
    with dg.instance_for_test(set_dagster_home=False) as instance:

        def tick() -> None:
            nonlocal cursor
            context = dg.build_sensor_context(
                instance=instance, cursor=cursor, resources={"labelbox": resource}
            )
            result = labelbox_labels_sensor(context)
            assert isinstance(result, dg.SensorResult)
            cursor = result.cursor
            for request in result.run_requests or []:
                assert request.run_key not in launched, (
                    "the sensor asked again for a run key it used before: Dagster skips it"
                )
                launched.append(request.run_key)

        tick()  # the first export
        (folder / "exports" / "b.ndjson").write_text(json.dumps(export_row("img-2", "lb-2")) + "\n")
        tick()  # a second file: its labels are ingested
        (folder / "exports" / "b.ndjson").unlink()
        tick()  # taken out again: the labels must follow
    assert len(launched) == 3


def test_a_label_of_a_hand_made_data_row_named_after_the_patient_is_never_stored(
    tmp_path: Path,
):
    """Labels of images this platform never sent (a data row made by hand in Labelbox: no
    global key, its external id a file name) are left out and counted, but only "once any
    data rows exist" (README). On a new deployment the labels sensor (on by default, every 5
    minutes) ingests before the first study date has sent anything. Before the fix a label of a
    hand-made data row (a Labelbox project reused from a pilot, its files named after the
    patient) was stored then with the file name as its ``image_id``, in the label tables, the
    snapshot under ``versions/`` and the catalog; when data rows arrived later the label left
    the current set into ``history/``, the name with it, for good."""
    row = export_row("unused", "lb-1")
    row["data_row"] = {"id": "dr-1", "external_id": "QUACKENBUSH^HORTENSIA 48213377.png"}
    exports = tmp_path / "lb" / "exports"
    exports.mkdir(parents=True)
    (exports / "a.ndjson").write_text(json.dumps(row) + "\n")
    research = open_zone(tmp_path / "research", "research")
    with time_limit(120):
        ingest_labels(research, FolderLabelSource(tmp_path / "lb"))
        build_metadata_db(research)
    assert find_identifiers(tmp_path / "research", ["QUACKENBUSH", "48213377"]) == []
