"""Faults an adversary found in session 38 (round 4) on production-like deployments: zones on
an object store (GCS, S3) and exports to it.

Each test states what a user or a hospital did and what went wrong before the fix.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cadbusi_assets.catalog.build import inputs_digest
from cadbusi_assets.exports import ExportConfig, build_export, verify_export
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets.storage import Zone, open_zone
from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS, product_env, write_instance_yaml
from cadbusi_assets_tests.exports.conftest import memory_research_zone
from cadbusi_assets_tests.run_support import finish, kill_when, materialize_date
from cadbusi_assets_tests.storage.conftest import (  # noqa: F401
    BUCKET,
    fake_gcs,
    moto_s3,
    object_zone,
)
from cadbusi_assets_tests.support import time_limit
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = [pytest.mark.xdist_group("adversary_runs_s38b")]

LINEAGE = {
    "deidentification_profile": "research-breast-us",
    "pseudonym_key_fingerprint": "0123456789abcdef",
    "label_set_version": "ls-1",
    "code_version": "0.1.0",
}


def _cut(zone: Zone, key: str):
    return build_export(zone, ExportConfig(key=key), LINEAGE, workers=1)


# 1. an export upload cut off after its last file, before _COMPLETE ---------------------------


def test_an_export_upload_cut_off_just_before_complete_is_finished_by_the_next_build(
    tmp_path: Path, monkeypatch
):
    """On an object-store research zone an export is uploaded file by file and ``_COMPLETE``
    is written last; the README promises "An upload to an object store cut off before
    ``_COMPLETE`` is finished by the next build of the key". Here the upload is cut off after
    every file went up, while ``_COMPLETE`` is written (a killed pod, a connection reset).
    Before: the next build of the key found ``SHA256SUMS`` with no file missing, took the
    export for done (``already_existed``) and never wrote ``_COMPLETE``: the export stays
    without it for good, so whoever waits for ``_COMPLETE`` (a downloader, a data-access
    request) never takes it, and it cannot be told from an upload still going."""
    zone = memory_research_zone(tmp_path)
    real_write = Zone.write_bytes

    def reset_on_complete(self, parts, data, *args, **kwargs):
        if tuple(parts)[-1] == "_COMPLETE":
            raise ConnectionResetError("the connection to the object store was reset")
        return real_write(self, parts, data, *args, **kwargs)

    with time_limit(120):
        monkeypatch.setattr(Zone, "write_bytes", reset_on_complete)
        with pytest.raises(ConnectionResetError):
            _cut(zone, "2026-12-01")
        monkeypatch.setattr(Zone, "write_bytes", real_write)
        assert not zone.exists("exports", "2026-12-01", "_COMPLETE")

        again = _cut(zone, "2026-12-01")
        assert verify_export(zone, "2026-12-01") == []
    assert again.images > 0
    assert zone.exists("exports", "2026-12-01", "_COMPLETE"), (
        "the next build of the key left the export without _COMPLETE"
    )


# 2. a label table rewritten by another process after this one listed its folder --------------


def test_the_input_digest_follows_a_label_table_another_process_rewrote(object_zone):  # noqa: F811
    """The catalog's input digest on an object store takes each table's checksum from the
    store (``content_tags`` for the per-batch tables, ``content_tag`` for the single ones:
    the labels). ``content_tags`` drops fsspec's cached listing first; ``content_tag`` asks
    ``fs.info``, which answers from the listing cached when this process last listed the
    file's folder. Before: once a process had listed ``labels/`` (any ``iter_files`` or
    ``find`` there: a label-store migration, a clean-up), a label table rewritten afterwards by
    another process (the labels sensor's run, a ``cadbusi`` command on another host) kept its
    old tag in this process: the digest did not change, so the export's before/after check
    and the catalog's staleness check took changed labels for unchanged."""
    zone = object_zone
    zone.write_bytes(("tables", "images", "b0000.parquet"), b"table 0")
    zone.write_bytes(("labels", "diagnosis_labels.parquet"), b"labels")
    zone.write_bytes(("labels", "labelbox", "labels.parquet"), b"labelbox labels")
    assert [p.name for p in zone.iter_files("labels")] == [
        "diagnosis_labels.parquet",
        "labels.parquet",
    ]
    first = inputs_digest(zone)
    # another process (its own file system object, no shared cache) rewrites the labels
    other = type(zone.root.fs)(skip_instance_cache=True, **zone.root.storage_options)
    other.pipe_file(f"{zone.root.path}/labels/diagnosis_labels.parquet", b"labels changed")
    assert inputs_digest(zone) != first, "a rewritten diagnosis_labels kept the digest"
    second = inputs_digest(zone)
    other.pipe_file(f"{zone.root.path}/labels/labelbox/labels.parquet", b"labelbox changed")
    assert inputs_digest(zone) != second, "a rewritten labelbox labels table kept the digest"


# 3. two builds of one export key at once on an object store -----------------------------------


def test_two_builds_of_one_key_at_once_on_an_object_store_leave_one_verified_export(
    tmp_path: Path, monkeypatch
):
    """Two builds of export ``2026-12-01`` at once on an object-store research zone with
    different content (two runs of the key with different run config, here the split salt; or
    one started before and one after a catalog rebuild): on a local zone the second to finish
    compares its ``SHA256SUMS`` with the first's and is refused. On an object store each build
    asks whether ``SHA256SUMS`` is there once, before it uploads, and ``README.md`` is uploaded
    before it. Before: a build that started while the other had uploaded only its
    ``README.md`` uploaded everything and reported success; the first then overwrote it file by
    file and also reported success. What is left under the key has ``_COMPLETE`` and the
    first's ``SHA256SUMS`` but the second's ``README.md`` (``verify_export``: "changed file
    README.md"), and the second run's report (its digest, counts, splits) describes an export
    that is not stored."""
    zone = memory_research_zone(tmp_path)
    key = "2026-12-01"
    real_copy = Zone.copy_file_in
    results: dict[str, object] = {}
    state = {"inner_started": False}

    def other_build_after_the_first_file(self, path, parts, **kwargs):
        done = real_copy(self, path, parts, **kwargs)
        if not state["inner_started"]:
            state["inner_started"] = True  # the first build has uploaded README.md
            try:
                results["second"] = build_export(
                    zone, ExportConfig(key=key, split_salt="another-salt"), LINEAGE, workers=1
                )
            except Exception as error:  # a refusal is a right answer
                results["second"] = error
        return done

    with time_limit(180):
        monkeypatch.setattr(Zone, "copy_file_in", other_build_after_the_first_file)
        try:
            results["first"] = _cut(zone, key)
        except Exception as error:
            results["first"] = error
        monkeypatch.setattr(Zone, "copy_file_in", real_copy)
        assert state["inner_started"]
        problems = verify_export(zone, key)
    assert problems == [], f"the export left under the key does not verify: {problems}"
    stored = zone.read_bytes("exports", key, "_COMPLETE").decode().strip()
    reported = {
        name: getattr(result, "digest", None)
        for name, result in results.items()
        if not isinstance(result, Exception)
    }
    assert reported, results
    assert set(reported.values()) == {stored}, (
        f"runs reported success for content that is not stored: {reported}, stored {stored}"
    )


# 4. a date killed in its de-identification, then patients opt out before its re-run ---------

_COHORT = DemoConfig(start=dt.date(2026, 9, 1), days=1, studies_per_day=(3, 4), seed=11, workers=1)
_DAY = "2026-09-01"


def _pngs(research: Zone) -> list[str]:
    return [p.path for p in research.iter_files("images", suffix=".png")]


def _tail(path: str) -> str:
    """``…/images/ab/abcdef.png`` → ``ab/abcdef.png`` (the part every table names)."""
    return "/".join(path.split("/")[-2:])


def _listed_pngs(research: Zone) -> set[str]:
    """Every ``.png`` path a table of the research zone names."""
    listed: set[str] = set()
    for table in research.iter_files("tables", suffix=".parquet"):
        frame = pl.read_parquet(io.BytesIO(table.read_bytes()))
        for column in frame.columns:
            if frame[column].dtype == pl.String:
                listed |= {
                    _tail(value)
                    for value in frame[column].drop_nulls().to_list()
                    if value.endswith(".png")
                }
    return listed


@pytest.mark.integration
def test_images_a_killed_run_wrote_of_patients_who_opted_out_leave_the_research_zone(
    tmp_path: Path,
    fake_gcs,  # noqa: F811
):
    """A date on GCS zones killed while ``deidentified_images`` writes its PNGs (a pod evicted,
    a node drained), then patients of the date withdraw consent (``CADBUSI_OPT_OUT_FILE``) and
    the date is re-run from the command line (``CADBUSI_ALLOW_SHRINK=1`` to accept the smaller
    cohort, as the README says). The re-run succeeds and its tables leave the opted-out
    patients out. Before: the de-identified PNGs the killed run had written stayed in the
    research zone, named by no table: stale-file clean-up deletes only what the date's previous
    *tables* listed, and the killed run wrote none. Nothing ever removes them (no later run,
    no export, no catalog knows them): images of patients who withdrew consent kept in the
    research zone for good."""
    with time_limit(120, "a demo cohort"):
        generate_demo_cohort(tmp_path / "cohort", _COHORT)
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    opt_out = tmp_path / "opt_out.txt"
    opt_out.write_text("")
    prefix = uuid.uuid4().hex[:10]
    env = product_env(
        tmp_path / "state",
        tmp_path / "cohort",
        key,
        CADBUSI_OCR="0",
        CADBUSI_WORKERS="1",
        CADBUSI_RAW_ZONE=f"gs://{BUCKET}/{prefix}/raw",
        CADBUSI_RESEARCH_ZONE=f"gs://{BUCKET}/{prefix}/research",
        CADBUSI_STORAGE_OPTIONS=json.dumps(fake_gcs),
        CADBUSI_OPT_OUT_FILE=str(opt_out),
        STORAGE_EMULATOR_HOST=fake_gcs["endpoint_url"],
        GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false",
        NO_GCE_CHECK="true",
    )
    write_instance_yaml(env)
    research = open_zone(env["CADBUSI_RESEARCH_ZONE"], "research", **fake_gcs)

    killed = materialize_date(env, STUDY_DATE_ASSETS, _DAY)
    kill_when(killed, lambda: len(_pngs(research)) >= 3, 400, "de-identified PNGs were written")
    written = _pngs(research)
    assert written

    with duckdb.connect(str(tmp_path / "cohort" / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT patient_id FROM radiology_exams WHERE exam_date = DATE '2026-09-01'"
        ).fetchall()
    patients = sorted(row[0] for row in rows)
    assert len(patients) > 1
    opt_out.write_text("\n".join(patients[1:]) + "\n")  # all but one withdraw consent
    env_again = {**env, "CADBUSI_ALLOW_SHRINK": "1"}
    again = materialize_date(env_again, STUDY_DATE_ASSETS, _DAY)
    out = finish(again, 400, "the date's re-run")
    assert again.returncode == 0, out[-3000:]

    listed = _listed_pngs(research)
    assert listed, "the re-run's tables name no image"
    unlisted = [p for p in _pngs(research) if _tail(p) not in listed]
    assert unlisted == [], (
        f"{len(unlisted)} de-identified PNG(s) stay in the research zone listed by no table "
        f"(the killed run had written {len(written)} when it was killed; "
        f"{len(set(unlisted) & set(written))} of those are among them)"
    )
