"""Adversarial runs, second round (session 29): the platform as users run it, attacked through
its inputs (warehouse, PACS, key file) and its runs (killed, concurrent).

Each test reproduces a finding that failed on the code before its fix, or covers an attack that
held and that no other test covered (said in its docstring). Everything is synthetic; every
stage run is bounded by :func:`time_limit`, every subprocess by a timeout.
"""

from __future__ import annotations

import pytest

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.pacs.synthetic import synthetic_uid
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.stages import imaging, retrieval
from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.builders import (
    DAY_A,
    add_imaged,
    file_digests,
    write_cohort_with_accession,
)
from cadbusi_assets_tests.support import TEST_KEY, time_limit


@pytest.fixture(autouse=True)
def _no_allow_shrink(monkeypatch):
    monkeypatch.delenv(ALLOW_SHRINK_ENV, raising=False)


def test_an_accession_changed_in_the_warehouse_only_stops_the_date_instead_of_orphaning_images(
    tmp_path,
):
    """An accession number corrected in the warehouse (the PACS keeps the old one) between two
    runs of a date. Before the fix the re-run succeeded and rewrote the date: its ``studies``
    table took the new accession while its images kept the DICOM's, so every image of the study
    lost its report in the catalog, its laterality in ``image_features`` and its labels, and
    nothing said so. Now the date stops with the reason before anything is written;
    ``allow_shrink`` accepts the change."""
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    pseudo = Pseudonymizer(TEST_KEY)
    pacs_root = tmp_path / "pacs"
    study = synthetic_uid(761)
    add_imaged(pacs_root, study, 1, day=DAY_A)
    add_imaged(pacs_root, study, 2, day=DAY_A)
    write_cohort_with_accession(raw, DAY_A, study, "SYNTH0001")  # as the DICOM says
    batch = pseudo.batch_name(DAY_A)
    with time_limit(180, "three passes over one small date"):
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
        imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)
        images = read_partition_table(research, deid.IMAGES_TABLE, batch)
        studies = read_partition_table(research, deid.STUDIES_TABLE, batch)
        assert images is not None and studies is not None and images.height == 2
        assert set(images["accession_pseudo"]) == set(studies["accession_pseudo"])
        before = file_digests(tmp_path / "research")

        write_cohort_with_accession(
            raw, DAY_A, study, "SYNTH0002"
        )  # corrected in the warehouse only
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
        with pytest.raises(StageFailure, match="different accession numbers") as refused:
            imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)
        assert "SYNTH" not in str(refused.value)
        assert file_digests(tmp_path / "research") == before, (
            "a refused date rewrote the research zone"
        )

        imaging.process_partition(
            raw, research, pseudo, DAY_A, ocr=False, workers=1, allow_shrink=True
        )
    studies = read_partition_table(research, deid.STUDIES_TABLE, batch)
    assert studies is not None
    assert studies["accession_pseudo"].to_list() == [pseudo.accession_number("SYNTH0002")]


def test_a_pass_stopped_between_its_tables_keeps_its_date_out_of_the_catalog_until_re_run(
    tmp_path, monkeypatch
):
    """The one pass replaces a date's tables one after the other (de-identification, features,
    inpainting). A run killed between them (SIGKILL during the inpainting, seen on a demo home)
    or failing there left the date half rewritten: new images and features beside the previous
    run's inpainting, nothing marking it. Before the fix ``metadata_db`` (and every export cut
    from it) loaded that mix as if whole. Now the batch stays marked open until its last table
    is written; the catalog leaves it out and says how many batches it left out, the other
    dates are unaffected, and a re-run of the date brings it back."""
    from cadbusi_assets.catalog.build import build_metadata_db, open_catalog
    from cadbusi_assets.stages import analysis
    from cadbusi_assets.stages.lesions import image_evidence
    from cadbusi_assets_tests.builders import DAY_B

    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    pseudo = Pseudonymizer(TEST_KEY)
    pacs_root = tmp_path / "pacs"
    for number, day in ((771, DAY_A), (772, DAY_B)):
        study = synthetic_uid(number)
        # other pixels per date: the same pixels on two dates are a re-sent copy, which the
        # catalog's image_catalog and the lesions leave out (session 30)
        add_imaged(pacs_root, study, number - 770, day=day)
        write_cohort_with_accession(raw, day, study, "SYNTH0001")

    def catalog_images() -> set[str]:
        build_metadata_db(research)
        con = open_catalog(research)
        try:
            return {r[0] for r in con.execute("SELECT image_id FROM images").fetchall()}
        finally:
            con.close()

    with time_limit(180, "two small dates, one interrupted and re-run"):
        for day in (DAY_A, DAY_B):
            retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, day)
        imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)
        ids_a = set(
            read_partition_table(research, deid.IMAGES_TABLE, pseudo.batch_name(DAY_A))["image_id"]
        )

        def killed(*args, **kwargs):
            raise RuntimeError("killed during the inpainting")

        with monkeypatch.context() as patch:
            patch.setattr(analysis, "finish_inpainting", killed)
            with pytest.raises(RuntimeError, match="killed"):
                imaging.process_partition(raw, research, pseudo, DAY_B, ocr=False, workers=1)
        batch_b = pseudo.batch_name(DAY_B)
        ids_b = set(read_partition_table(research, deid.IMAGES_TABLE, batch_b)["image_id"])
        assert ids_b, "the interrupted pass wrote its de-identification tables"
        assert catalog_images() == ids_a, "the half-written date reached the catalog"
        assert build_metadata_db(research).warnings["study_batches_left_out_interrupted"] == 1
        # the lesions read every batch's images and features too: the same batch left out
        assert set(image_evidence(research)["image_id"]) == ids_a, "lesions read the open batch"

        imaging.process_partition(raw, research, pseudo, DAY_B, ocr=False, workers=1)
    assert catalog_images() == ids_a | ids_b
    assert set(image_evidence(research)["image_id"]) == ids_a | ids_b
    assert "study_batches_left_out_interrupted" not in build_metadata_db(research).warnings


def test_an_instance_gone_from_the_pacs_is_deleted_with_a_recorded_reason(tmp_path):
    """The PACS drops an instance of a retrieved date (deleted as misfiled, say) and the date is
    re-run. Deleting its raw copy and its research outputs is right; before the fix nothing
    recorded that it had been there or why it went (the manifest simply listed one instance
    fewer, below the shrink guard). Now ``retrieval_removed`` (raw zone) keeps it with its
    reason across re-runs, the date's report counts it, and it leaves the table when the PACS
    lists it again."""
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    pseudo = Pseudonymizer(TEST_KEY)
    pacs_root = tmp_path / "pacs"
    study = synthetic_uid(781)
    files = [add_imaged(pacs_root, study, n, day=DAY_A) for n in (1, 2, 3)]
    write_cohort_with_accession(raw, DAY_A, study, "SYNTH0001")
    pacs = FolderPacs(pacs_root)
    with time_limit(120, "four retrievals of one small date"):
        retrieval.retrieve_partition(pacs, raw, pseudo, DAY_A)
        assert read_partition_table(raw, retrieval.REMOVED_TABLE, DAY_A).height == 0
        held = files[1].read_bytes()
        files[1].unlink()
        report = retrieval.retrieve_partition(pacs, raw, pseudo, DAY_A)
        removed = read_partition_table(raw, retrieval.REMOVED_TABLE, DAY_A)
        assert removed["sop_instance_uid"].to_list() == [f"{study}.1.2"]
        assert removed["reason"].to_list() == [retrieval.REASON_GONE_FROM_PACS]
        assert report.counts["instances_removed_since_stored"] == 1
        table = raw.read_bytes("tables", retrieval.REMOVED_TABLE, f"{DAY_A}.parquet")
        retrieval.retrieve_partition(pacs, raw, pseudo, DAY_A)  # the record stays, unchanged
        assert raw.read_bytes("tables", retrieval.REMOVED_TABLE, f"{DAY_A}.parquet") == table
        files[1].write_bytes(held)
        retrieval.retrieve_partition(pacs, raw, pseudo, DAY_A)
    assert read_partition_table(raw, retrieval.REMOVED_TABLE, DAY_A).height == 0
