"""Adversarial tests of the labels path, round 2: who labelled what (the annotator column),
snapshots written before typed text was scrubbed, questions the ontology does not have, and
data rows withdrawn here but still held by Labelbox."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer, PseudonymKey
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.labeling.annotators import annotator_pseudonym, legacy_annotator_hash
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.stages.labeling import ingest_labels, migrate_label_store
from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.builders import export_row
from cadbusi_assets_tests.support import TEST_KEY

#: synthetic staff e-mails (the staff list an attacker would hash)
STAFF = ("radiologist1@example.org", "dr.quackenbush@example.org", "fellow7@example.org")
#: synthetic identifiers typed by a labeler: names in three scripts, a phone, a staff e-mail
TYPED = (
    "Hortensia Quackenbush",
    "Иванова Мария",
    "فاطمة الزهراء",
    "555-867-5309",
    "dr.quackenbush@example.org",
)
COMMENT = (
    "Hortensia Quackenbush (Иванова Мария / فاطمة الزهراء) called 555-867-5309, "
    "ask dr.quackenbush@example.org"
)
OTHER_KEY = PseudonymKey(bytes(range(7, 39)))


def _key() -> Pseudonymizer:
    return Pseudonymizer(TEST_KEY)


def _labelled(image: str, label: str, by: str, updated: str, comment: str = "oval") -> dict:
    row = export_row(image, label, updated=updated)
    entry = row["projects"]["proj-1"]["labels"][0]
    entry["label_details"]["created_by"] = by
    for answer in entry["annotations"]["classifications"]:
        if "text_answer" in answer:
            answer["text_answer"]["content"] = comment
    return row


def _write_export(folder: Path, name: str, rows: list[dict]) -> None:
    path = folder / "exports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _strings(root: Path) -> str:
    """Every string value of every Parquet table and every JSON file under ``root``."""
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            out += [
                str(v)
                for name, kind in frame.schema.items()
                if kind == pl.Utf8
                for v in frame[name]
                if v
            ]
        elif path.suffix == ".json":
            out.append(path.read_text(encoding="utf-8"))
    return "\n".join(out)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _labels(root: Path, part: str = "") -> pl.DataFrame:
    return pl.read_parquet(root / "labels" / "labelbox" / part / "labels.parquet")


T1, T2, T3 = (
    "2026-03-02T10:15:07.000+00:00",
    "2026-03-03T10:15:07.000+00:00",
    "2026-03-04T10:15:07.000+00:00",
)


# -- 1. the annotator column -------------------------------------------------------------------


def test_the_annotator_column_cannot_be_matched_to_a_staff_list(tmp_path):
    """Before: ``annotator_hash`` was ``sha256(e-mail)[:12]``, unkeyed: hashing the staff list
    named the labeler of every label. Now a keyed pseudonym, stable across a label's revisions,
    distinct per labeler, and another under another key."""
    folder, root = tmp_path / "lb", tmp_path / "research"
    zone = open_zone(root, "research")
    _write_export(
        folder,
        "a.ndjson",
        [_labelled("img-a", "lb-a", STAFF[0], T1), _labelled("img-b", "lb-b", STAFF[1], T1)],
    )
    ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=_key())
    _write_export(folder, "b.ndjson", [_labelled("img-a", "lb-a", STAFF[0], T2, "relabelled")])
    ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=_key())

    stored = _strings(root / "labels")
    for email in STAFF:
        assert email not in stored
        for unkeyed in (legacy_annotator_hash(email), hashlib.sha256(email.encode()).hexdigest()):
            assert unkeyed[:12] not in stored, "an unkeyed hash of a staff e-mail is stored"
    current = dict(_labels(root).select("label_id", "annotator_hash").iter_rows())
    history = _labels(root, "history")
    assert history["label_id"].to_list() == ["lb-a"]  # the relabel kept the first version
    assert history["annotator_hash"][0] == current["lb-a"]  # the same labeler, both revisions
    assert current["lb-a"] != current["lb-b"]
    assert current["lb-a"] == annotator_pseudonym(_key(), STAFF[0])
    assert current["lb-a"] != annotator_pseudonym(Pseudonymizer(OTHER_KEY), STAFF[0])


def test_another_key_or_no_key_is_refused_and_changes_nothing(tmp_path):
    """Before: nothing tied the label set to a key (there was none). A keyed pseudonym made
    with a second key would make every label look relabelled and copy the whole set into
    history under second pseudonyms: refused, no byte written."""
    folder, root = tmp_path / "lb", tmp_path / "research"
    zone = open_zone(root, "research")
    _write_export(folder, "a.ndjson", [_labelled("img-a", "lb-a", STAFF[0], T1)])
    ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=_key())
    _write_export(folder, "b.ndjson", [_labelled("img-a", "lb-a", STAFF[0], T2, "again")])
    before = _files(root)
    with pytest.raises(StageFailure, match="another pseudonym key") as caught:
        ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=Pseudonymizer(OTHER_KEY))
    assert STAFF[0] not in str(caught.value)
    with pytest.raises(StageFailure, match="needs that key"):
        ingest_labels(zone, FolderLabelSource(folder))
    assert _files(root) == before
    report = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=_key())
    assert report.counts["label_versions_superseded_in_this_export"] == 1


def _legacy_store(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A research zone as the code before this round wrote it: unkeyed annotator hashes and
    typed text as typed in the current set, its history and every snapshot under
    ``versions/`` (no key recorded, no snapshot marker)."""
    from cadbusi_assets.labeling import ndjson

    folder, root = tmp_path / "lb", tmp_path / "research"
    zone = open_zone(root, "research")
    with monkeypatch.context() as legacy:
        legacy.setattr(ndjson, "scrub_label_text", lambda text: text)
        legacy.setattr(stage, "scrub_text_answers", lambda frame: frame)
        legacy.setattr(stage, "annotator_function", lambda key: legacy_annotator_hash)
        legacy.setattr(stage, "migrate_label_store", lambda *a, **k: {"files_rewritten": 0})
        _write_export(
            folder,
            "a.ndjson",
            [
                _labelled("img-a", "lb-a", STAFF[0], T1, COMMENT),
                _labelled("img-b", "lb-b", STAFF[1], T1, "fine"),
            ],
        )
        ingest_labels(zone, FolderLabelSource(folder))
        _write_export(folder, "b.ndjson", [_labelled("img-a", "lb-a", STAFF[0], T2, COMMENT)])
        ingest_labels(zone, FolderLabelSource(folder))
    for marker in (root / "labels" / "labelbox" / "versions").rglob(stage.SNAPSHOT_MARKER):
        marker.unlink()
    legacy_text = _strings(root / "labels")
    assert "Quackenbush" in legacy_text and legacy_annotator_hash(STAFF[0]) in legacy_text
    assert len(list((root / "labels" / "labelbox" / "versions").iterdir())) == 2
    return folder, root


def test_a_legacy_store_is_rekeyed_exactly_and_its_snapshots_scrubbed_in_place(
    tmp_path, monkeypatch
):
    """Before: old label tables, their history and the snapshots under
    ``labels/labelbox/versions/`` kept the unkeyed hashes, and the snapshots kept typed names,
    phones and e-mails (README: "remove them by hand"). Now the first ingestion rewrites them
    in place: the old hash re-keyed to exactly the pseudonym a new export gives (so no label
    looks relabelled and history gets no copy), typed text scrubbed, a migration recorded."""
    folder, root = _legacy_store(tmp_path, monkeypatch)
    zone = open_zone(root, "research")
    history_before = _labels(root, "history").height
    report = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=_key())

    stored = _strings(root / "labels")
    for value in (*TYPED, *(legacy_annotator_hash(e) for e in STAFF)):
        assert value not in stored, value
    for version in (root / "labels" / "labelbox" / "versions").iterdir():
        answers = pl.read_parquet(version / "classifications.parquet")
        assert "Quackenbush" not in "".join(answers["answer"].drop_nulls().to_list())
        assert (version / stage.SNAPSHOT_MARKER).exists()
    current = dict(_labels(root).select("label_id", "annotator_hash").iter_rows())
    assert current["lb-a"] == annotator_pseudonym(_key(), STAFF[0])
    # the scrubbed text is new content (a new label_set_version), but no label moved to history
    assert report.counts["label_versions_superseded_in_this_export"] == 1
    assert _labels(root, "history").height == history_before  # no copy of the old version
    assert report.counts["migration_annotator_values_rekeyed"] > 0
    assert report.counts["migration_text_answers_scrubbed"] > 0
    record = json.loads((root / "labels" / "labelbox" / "migrations.json").read_text())
    assert record[-1]["key_fingerprint"] == _key().key_fingerprint
    assert record[-1]["files_rewritten"] == report.counts["migration_files_rewritten"]

    files = _files(root)
    again = migrate_label_store(zone, _key())
    assert again["files_rewritten"] == 0
    assert _files(root) == files  # a second run: byte-identical


def test_a_migration_killed_half_way_finishes_on_the_next_run(tmp_path, monkeypatch):
    """A run killed between two files leaves each file old or new (atomic rewrites); the next
    run finishes the rest and ends where an uninterrupted run ends."""
    import shutil

    _, root = _legacy_store(tmp_path / "one", monkeypatch)
    copy = tmp_path / "two"
    shutil.copytree(root, copy)
    migrate_label_store(open_zone(copy, "research"), _key())

    zone = open_zone(root, "research")
    writes = 0
    original = type(zone).write_parquet

    def killed_after_three(self, parts, frame):
        nonlocal writes
        writes += 1
        if writes > 3:
            raise KeyboardInterrupt  # the process is gone
        return original(self, parts, frame)

    with monkeypatch.context() as dying:
        dying.setattr(type(zone), "write_parquet", killed_after_three)
        with pytest.raises(KeyboardInterrupt):
            migrate_label_store(zone, _key())
    assert not list(root.rglob("*.tmp"))
    migrate_label_store(zone, _key())
    done, expected = _files(root), _files(copy)
    done.pop("labels/labelbox/migrations.json")
    expected.pop("labels/labelbox/migrations.json")
    assert done == expected


def test_a_legacy_store_is_not_claimed_by_a_key_the_zone_was_not_made_with(tmp_path, monkeypatch):
    """The first key to re-key a legacy store claims it: a wrong key (one the research zone's
    dates were not made with) is refused before any byte is rewritten."""
    from cadbusi_assets.stages.safety import record_key_fingerprint

    folder, root = _legacy_store(tmp_path, monkeypatch)
    zone = open_zone(root, "research")
    record_key_fingerprint(zone, "b1", _key().key_fingerprint)
    before = _files(root)
    with pytest.raises(StageFailure, match="another pseudonym key"):
        ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=Pseudonymizer(OTHER_KEY))
    assert _files(root) == before
    report = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=_key())
    assert report.counts["migration_annotator_values_rekeyed"] > 0


def test_a_legacy_store_without_the_key_loses_its_unkeyed_hashes(tmp_path, monkeypatch):
    """Without the key the old unkeyed hashes cannot be re-keyed: they are dropped (null), not
    kept, and the record says so."""
    folder, root = _legacy_store(tmp_path, monkeypatch)
    report = ingest_labels(open_zone(root, "research"), FolderLabelSource(folder))
    stored = _strings(root / "labels")
    assert not any(legacy_annotator_hash(e) in stored for e in STAFF)
    assert _labels(root)["annotator_hash"].null_count() == 2
    assert report.counts["migration_annotator_values_dropped"] > 0


# -- 3. questions the ontology does not have -------------------------------------------------


def _with_questions(row: dict, extra: list[dict]) -> dict:
    row["projects"]["proj-1"]["labels"][0]["annotations"]["classifications"] += extra
    return row


def test_questions_and_options_not_in_the_ontology_are_counted_listed_and_scrubbed(tmp_path):
    """Before: a question someone added to the project's ontology in Labelbox (named after a
    patient, with options holding a phone) was stored as typed in ``classifications`` and
    listed word for word in the run's ``answers`` metadata; so was an option that is not one
    of an ontology question's (a laterality answered with a name)."""
    folder, root = tmp_path / "lb", tmp_path / "research"
    zone = open_zone(root, "research")
    extra: list[dict] = [
        {
            "name": "Prior of Hortensia Quackenbush?",
            "radio_answer": {"name": "call 555-867-5309"},
        },
        {
            "name": "Иванова Мария",
            "checklist_answers": [{"name": "فاطمة الزهراء"}, {"name": "seen"}],
        },
        {"name": "dr.quackenbush@example.org", "text_answer": {"content": COMMENT}},
        {"name": "laterality", "radio_answer": {"name": "Hortensia Quackenbush"}},
        {"name": "Clock", "radio_answer": {"name": "2:00"}},
    ]
    _write_export(folder, "a.ndjson", [_with_questions(export_row("img-a", "lb-a"), extra)])
    report = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=_key())

    stored = _strings(root / "labels")
    metadata = "\n".join([*report.problems, *(str(t.to_dicts()) for t in report.tables.values())])
    for value in TYPED:
        assert value not in stored, value
        assert value not in metadata, value
    # export_row's own has_calipers, features (2 answers) and the nested margin are not in
    # the ontology either
    assert report.counts["label_answers_to_unknown_questions"] == 8
    assert report.counts["label_answers_not_among_options"] == 1
    listed = report.tables["unknown_questions"]
    assert set(listed["question"]) == {"[unknown question]", "laterality"}
    assert listed["answers"].sum() == 9
    answers = report.tables["answers"]
    assert answers.rows() == [("clock", "2:00", 1)]  # the one ontology answer, name normalised
    assert any("questions not in the ontology" in p for p in report.problems)
    # a second ingestion of the same export: nothing looks changed
    again = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=_key())
    assert again.counts["new_version"] == 0
    assert again.counts["migration_files_rewritten"] == 0


# -- 4. withdrawn data rows deleted in Labelbox ----------------------------------------------


def _withdrawn_table(zone, batch: str, withdrawn: dict[str, bool]) -> None:
    from cadbusi_assets.storage import write_partition_table

    keys = sorted(withdrawn)
    write_partition_table(
        zone,
        stage.DATA_ROWS_TABLE,
        batch,
        pl.DataFrame(
            {
                "global_key": keys,
                "external_id": keys,
                "row_data": [f"images/{k}.png" for k in keys],
                stage.WITHDRAWN: [withdrawn[k] for k in keys],
            }
        ),
    )


@pytest.fixture
def labelbox(monkeypatch):
    """The real labelbox SDK against the local fake endpoint (as production opens it)."""
    from cadbusi_assets.labeling import open_label_source
    from cadbusi_assets_tests.labeling.fake_labelbox import running_fake

    for fake in running_fake():
        fake.add_project("proj-1")
        monkeypatch.setenv("LABELBOX_API_KEY", fake.api_key)
        monkeypatch.setenv("LABELBOX_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        source = open_label_source("labelbox://proj-1?dataset_prefix=bus")
        source.rate_limit_backoff_s = 0.0  # type: ignore[attr-defined]
        yield fake, source


def test_withdrawn_data_rows_are_deleted_in_labelbox_once_with_a_recorded_reason(
    tmp_path, labelbox
):
    """Before: an image quarantined or purged after it was sent stayed in Labelbox for good
    (with its labels): no step deleted it, the run only said "delete them there". Now
    ``delete_withdrawn_data_rows`` deletes them through the SDK, records each with the reason
    (scrubbed), and a re-run deletes and records nothing (it looks the recorded keys up once:
    a key sent again after its deletion must be deleted again, adversary s35)."""
    fake, source = labelbox
    for image in ("img-a", "img-b", "img-c"):
        fake.label_row("proj-1", export_row(image, f"lb-{image}"), T1)
    root = tmp_path / "research"
    zone = open_zone(root, "research")
    _withdrawn_table(zone, "b1", {"img-a": False, "img-b": True})
    _withdrawn_table(zone, "b2", {"img-c": True})
    with pytest.raises(StageFailure, match="reason"):
        stage.delete_withdrawn_data_rows(zone, source, "  ")
    assert fake.deleted == []

    reason = "quarantined: Hortensia Quackenbush burned in, tel 555-867-5309"
    report = stage.delete_withdrawn_data_rows(zone, source, reason)
    assert sorted(fake.data_rows()) == ["img-a"]  # the withdrawn rows are gone from Labelbox
    assert len(fake.deleted) == 2
    assert report.counts["data_rows_deleted"] == 2
    record = stage.recorded_deletions(zone)
    assert record.select("global_key", "batch", "outcome").rows() == [
        ("img-b", "b1", "deleted"),
        ("img-c", "b2", "deleted"),
    ]
    assert set(record["source"]) == {source.name}
    stored = record["reason"][0]
    assert "quarantined" in stored and "Quackenbush" not in stored and "867" not in stored
    # the labels of the deleted rows leave Labelbox's export with them
    exported = {r["data_row"]["global_key"] for r in source.export_rows()}
    assert exported == {"img-a"}

    files = _files(root)
    calls = len(fake.calls("deleteDataRowsPyApi"))
    again = stage.delete_withdrawn_data_rows(zone, source, reason)
    assert again.counts["already_recorded"] == 2 and again.counts["data_rows_deleted"] == 0
    assert len(fake.calls("deleteDataRowsPyApi")) == calls
    assert len(fake.calls("getDataRowsForGlobalKeysPyApi")) == 2  # one lookup, nothing deleted
    assert stage.recorded_deletions(zone).height == 2
    assert _files(root) == files


def test_a_deletion_killed_before_its_record_is_finished_by_the_next_run(
    tmp_path, labelbox, monkeypatch
):
    """Labelbox deleted the rows but the run died before writing the record: the next run finds
    them gone, records them as absent (no error, nothing deleted twice)."""
    fake, source = labelbox
    fake.label_row("proj-1", export_row("img-b", "lb-b"), T1)
    zone = open_zone(tmp_path / "research", "research")
    _withdrawn_table(zone, "b1", {"img-a": False, "img-b": True})
    with monkeypatch.context() as dying:

        def killed(self, parts, frame):
            raise KeyboardInterrupt

        dying.setattr(type(zone), "write_parquet", killed)
        with pytest.raises(KeyboardInterrupt):
            stage.delete_withdrawn_data_rows(zone, source, "purged for identifiers")
    assert fake.data_rows() == {} and len(fake.deleted) == 1
    report = stage.delete_withdrawn_data_rows(zone, source, "purged for identifiers")
    assert report.counts["data_rows_absent_in_source"] == 1
    assert stage.recorded_deletions(zone)["outcome"].to_list() == ["absent_in_source"]
    assert len(fake.deleted) == 1


def test_a_wrong_api_key_deletes_nothing_records_nothing_and_names_no_key(
    tmp_path, labelbox, monkeypatch
):
    from cadbusi_assets.labeling import LabelSourceError, open_label_source

    fake, _ = labelbox
    fake.label_row("proj-1", export_row("img-b", "lb-b"), T1)
    zone = open_zone(tmp_path / "research", "research")
    _withdrawn_table(zone, "b1", {"img-b": True})
    monkeypatch.setenv("LABELBOX_API_KEY", "wrong-key-0123456789")
    wrong = open_label_source("labelbox://proj-1?dataset_prefix=bus")
    wrong.rate_limit_backoff_s = 0.0  # type: ignore[attr-defined]
    with pytest.raises(LabelSourceError) as caught:
        stage.delete_withdrawn_data_rows(zone, wrong, "quarantined")
    assert "wrong-key-0123456789" not in str(caught.value)
    assert fake.deleted == [] and sorted(fake.data_rows()) == ["img-b"]
    assert stage.recorded_deletions(zone).height == 0


def test_the_folder_source_deletes_withdrawn_rows_from_its_outbox(tmp_path):
    """The demo's folder source: the withdrawn rows leave the outbox (what the demo labeler
    labels) and are listed in ``deleted/data_rows.ndjson``."""
    source = FolderLabelSource(tmp_path / "lb")
    source.send_data_rows("b1", [{"global_key": k, "row_data": k} for k in ("img-a", "img-b")])
    zone = open_zone(tmp_path / "research", "research")
    _withdrawn_table(zone, "b1", {"img-a": False, "img-b": True})
    report = stage.delete_withdrawn_data_rows(zone, source, "excluded")
    assert report.counts["data_rows_deleted"] == 1
    assert [r["global_key"] for r in source.sent_data_rows()] == ["img-a"]
    listed = (tmp_path / "lb" / "deleted" / "data_rows.ndjson").read_text().splitlines()
    assert [json.loads(line)["global_key"] for line in listed] == ["img-b"]


def test_the_deletion_job_runs_in_dagster(tmp_path):
    """The wiring: the job named in the withdrawn-rows problem runs with a reason."""
    import cadbusi_assets  # noqa: F401
    from cadbusi_assets.defs.labeling.jobs import delete_withdrawn_data_rows
    from cadbusi_assets.defs.resources import LabelSourceResource, ZonesResource

    source = FolderLabelSource(tmp_path / "lb")
    source.send_data_rows("b1", [{"global_key": "img-b", "row_data": "img-b"}])
    zone = open_zone(tmp_path / "research", "research")
    _withdrawn_table(zone, "b1", {"img-b": True})
    result = delete_withdrawn_data_rows.execute_in_process(
        run_config={"ops": {"delete_withdrawn_data_rows_op": {"config": {"reason": "excluded"}}}},
        resources={
            "zones": ZonesResource(
                raw_uri=str(tmp_path / "raw"), research_uri=str(tmp_path / "research")
            ),
            "labelbox": LabelSourceResource(uri=f"folder://{tmp_path / 'lb'}"),
        },
    )
    assert result.success
    assert stage.recorded_deletions(zone)["global_key"].to_list() == ["img-b"]


def test_the_deletion_command_counts_then_deletes_with_a_reason(tmp_path):
    """``cadbusi delete-withdrawn`` in its own process runs the job's stage: without a reason
    it counts and deletes nothing (exit 1 while rows are left); a blank reason is refused; with
    a reason it deletes, records the reason scrubbed, and a second run has nothing left
    (exit 0)."""
    source = FolderLabelSource(tmp_path / "lb")
    source.send_data_rows("b1", [{"global_key": k, "row_data": k} for k in ("img-a", "img-b")])
    zone = open_zone(tmp_path / "research", "research")
    _withdrawn_table(zone, "b1", {"img-a": False, "img-b": True})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    env.update(
        CADBUSI_DEPLOYMENT="demo",
        CADBUSI_HOME=str(tmp_path / "home"),
        CADBUSI_RAW_ZONE=str(tmp_path / "raw"),
        CADBUSI_RESEARCH_ZONE=str(tmp_path / "research"),
        CADBUSI_LABELBOX=f"folder://{tmp_path / 'lb'}",
    )

    def cadbusi(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "cadbusi_assets.cli", "delete-withdrawn", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    counted = cadbusi()
    assert counted.returncode == 1, counted.stdout + counted.stderr
    assert "1 withdrawn data row(s); 0 already deleted" in counted.stdout
    assert [r["global_key"] for r in source.sent_data_rows()] == ["img-a", "img-b"]
    refused = cadbusi("--reason", "   ")
    assert refused.returncode == 2 and "reason is required" in refused.stdout
    assert stage.recorded_deletions(zone).height == 0
    done = cadbusi("--reason", "excluded after review on 2024-03-05")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deleted 1" in done.stdout
    assert [r["global_key"] for r in source.sent_data_rows()] == ["img-a"]
    record = stage.recorded_deletions(zone)
    assert record["global_key"].to_list() == ["img-b"]
    assert "2024-03-05" not in record["reason"][0]  # scrubbed as typed text is
    again = cadbusi()
    assert again.returncode == 0 and "1 already deleted" in again.stdout
