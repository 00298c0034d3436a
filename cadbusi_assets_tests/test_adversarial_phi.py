"""Adversarial end-to-end PHI test (issue 10): plant identifiers everywhere, run the real graph,
then scan everything that leaves the raw zone or that the Dagster UI shows.

The cohort (:mod:`cadbusi_assets_tests.adversarial_cohort`) plants non-ASCII patient names in
three scripts, third parties (relatives, staff, other patients) with phones, addresses, e-mails,
URLs, SSNs and MRNs in reports, names and a malformed birth date in DICOM headers and private
tags, burned-in text inside the ultrasound region, a duplicated warehouse row and a NULL patient
id. The graph runs in-process (backfill of both dates, labels, catalog, one export) with every
log record, warning and byte written to stdout/stderr captured. Then every planted identifier,
in every variant (:func:`cadbusi_assets.deid.name_variants.name_terms`, dates in many formats),
is searched for in:

* every file of the research zone (parquet and DuckDB values, PNG text chunks, DICOM elements,
  text files, file and folder names) — the export folder included;
* the Dagster event log of every run (messages, materialization and check metadata, errors) and
  the instance's storage folder (compute logs);
* what the process printed, logged or warned;
* the pixels of the research PNGs made from the frame with burned-in text (tesseract).

A failure lists ``(kind, place)`` pairs: the kind of identifier and where it was found, never
the value (the values are synthetic anyway).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from cadbusi_assets.deid.name_variants import compile_terms
from cadbusi_assets_tests.adversarial_cohort import CONFIG, Planted, build_adversarial_cohort
from cadbusi_assets_tests.support import time_limit as _deadline

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pipeline")]

TIMEOUT_S = 1800
EXPORT_KEY = "2026-11-22"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a broken record is still scanned raw
            text = f"{record.msg} {record.args}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@contextlib.contextmanager
def _capture_everything() -> Iterator[dict[str, list[str]]]:
    """Log records (root, any level that is emitted), warnings, Python-level and fd-level
    stdout/stderr (worker processes inherit the file descriptors)."""
    out: dict[str, list[str]] = {"log": [], "warnings": [], "stdio": []}
    handler = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    fd_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finally
    saved = [os.dup(1), os.dup(2)]
    py_out, py_err = io.StringIO(), io.StringIO()
    try:
        os.dup2(fd_file.fileno(), 1)
        os.dup2(fd_file.fileno(), 2)
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(py_out),
            contextlib.redirect_stderr(py_err),
        ):
            warnings.simplefilter("always")
            yield out
        out["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        root.removeHandler(handler)
        root.setLevel(old_level)
        fd_file.seek(0)
        out["stdio"] = [
            fd_file.read().decode("utf-8", "replace"),
            py_out.getvalue(),
            py_err.getvalue(),
        ]
        fd_file.close()
        out["log"] = handler.lines


@dataclass
class AdversarialRun:
    planted: Planted
    research: Path
    raw: Path
    instance_dir: Path
    results: dict
    events: list[str]
    captured: dict[str, list[str]]
    batch_names: set[str] = field(default_factory=set)
    labels: Path | None = None  # the Labelbox outbox (leaves the organisation)


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory) -> Iterator[AdversarialRun]:
    from cadbusi_assets.definitions import defs
    from cadbusi_assets.identity import generate_key_file, load_key
    from cadbusi_assets_tests.conftest import clear_dagster_state_storage
    from cadbusi_assets_tests.defs.conftest import PARTITIONED, make_environment, run
    from cadbusi_demo.labeler import label_sent_images

    root = tmp_path_factory.mktemp("adversarial")
    clear_dagster_state_storage()
    with _deadline(TIMEOUT_S):
        planted = build_adversarial_cohort(root / "cohort")
        key = generate_key_file(root / "secrets" / "pseudonym.key")
        env = make_environment(root / "env", root / "cohort", key)
        definitions = defs()
        instance_dir = root / "instance"
        instance_dir.mkdir()
        days = (CONFIG.start.isoformat(), CONFIG.end.isoformat())
        with (
            dg.instance_for_test(temp_dir=str(instance_dir), set_dagster_home=False) as instance,
            _capture_everything() as captured,
        ):
            results = {
                "backfill": run(
                    definitions,
                    env,
                    PARTITIONED,
                    instance,
                    partition_range=days,
                    raise_on_error=False,
                )
            }
            label_sent_images(env.labels, root / "cohort" / "ground_truth", load_key(key))
            results["labels"] = run(
                definitions, env, ["labelbox_labels"], instance, raise_on_error=False
            )
            results["catalog"] = run(
                definitions,
                env,
                ["diagnosis_labels", "metadata_db"],
                instance,
                raise_on_error=False,
            )
            instance.add_dynamic_partitions("exports", [EXPORT_KEY])
            results["export"] = run(
                definitions,
                env,
                ["dataset_export"],
                instance,
                partition_key=EXPORT_KEY,
                raise_on_error=False,
            )
            events = [_event_text(e) for r in results.values() for e in instance.all_logs(r.run_id)]
        yield AdversarialRun(
            planted,
            env.research,
            env.raw,
            instance_dir,
            results,
            events,
            captured,
            labels=env.labels,
        )
    clear_dagster_state_storage()


def _event_text(entry) -> str:
    from dagster._serdes import serialize_value

    # non-ASCII values are escaped by the serializer; decode them so CJK names are searchable.
    # Embedded images (base64 plots) are dropped: random letters there match short names.
    text = json.dumps(json.loads(serialize_value(entry)), ensure_ascii=False)
    return _BASE64.sub("<base64>", text)


_BASE64 = re.compile(r"[A-Za-z0-9+/]{80,}={0,2}")


# --------------------------------------------------------------------------------- matching


@dataclass
class Needles:
    """Compiled searches per identifier kind."""

    patterns: dict[str, re.Pattern[str]]

    def kinds_in(self, text: str) -> list[str]:
        return [kind for kind, pattern in self.patterns.items() if pattern.search(text)]


def _literal(values: list[str]) -> re.Pattern[str] | None:
    values = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)
    if not values:
        return None
    alts = "|".join(re.escape(v) for v in values)
    return re.compile(rf"(?<![0-9A-Za-z])(?:{alts})(?![0-9A-Za-z])", re.IGNORECASE)


def _needles(planted: Planted, *, dates: bool) -> Needles:
    from cadbusi_assets_tests.adversarial_cohort import THIRD_PARTY_OTHER, date_forms

    groups: dict[str, re.Pattern[str] | None] = {
        "person name": compile_terms(planted.name_needles()),
        "third-party contact/id": _literal(list(THIRD_PARTY_OTHER)),
        "patient id": _literal(planted.patient_ids),
        "accession": _literal(planted.accessions),
        "study uid": _literal(planted.study_uids),
        "birth date": _literal([f for b in planted.birth_dates for f in date_forms(b)]),
    }
    if dates:
        groups["real study date"] = _literal(planted.date_needles())
    return Needles({k: v for k, v in groups.items() if v is not None})


# --------------------------------------------------------------------------------- file texts


def _dicom_texts(path: Path) -> list[str]:
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    texts: list[str] = []

    def visit(dataset, elem) -> None:
        if elem.VR not in {"OB", "OW", "OF", "OD", "OL", "OV", "UN"} or elem.tag.is_private:
            with contextlib.suppress(Exception):
                texts.append(str(elem.value))

    ds.walk(visit)
    return texts


def _png_texts(data: bytes) -> list[str]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return [f"{k}={v}" for k, v in image.info.items() if isinstance(v, str | bytes)]


def _value_texts(value, out: list[str]) -> None:
    """Text of every value of a table (nested lists and structs too); bytes are scanned only
    through the text chunks of the images they hold (random pixel bytes match short names)."""
    if isinstance(value, dict):
        for v in value.values():
            _value_texts(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            _value_texts(v, out)
    elif isinstance(value, bytes | bytearray):
        if bytes(value[:8]) == b"\x89PNG\r\n\x1a\n":
            out.extend(_png_texts(bytes(value)))
    elif value is not None:
        out.append(str(value))


def _file_texts(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        texts: list[str] = []
        _value_texts(pl.read_parquet(path).to_dicts(), texts)
        return ["\n".join(texts)]
    if suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as con:
            tables = [
                r[0]
                for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
            ]
            texts = []
            for table in tables:
                _value_texts(con.sql(f'SELECT * FROM "{table}"').pl().to_dicts(), texts)
            return ["\n".join(texts)]
    if suffix == ".png":
        return _png_texts(path.read_bytes())
    if suffix == ".dcm":
        return _dicom_texts(path)
    data = path.read_bytes()
    return [data.decode("utf-8", "replace")]


def _scan_tree(root: Path, needles: Needles, label: str) -> set[tuple[str, str]]:
    found = set()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        place = f"{label}:{_generic(rel)}"
        for kind in needles.kinds_in(rel):
            found.add((kind, f"{place} (file name)"))
        if path.is_file():
            for text in _file_texts(path):
                for kind in needles.kinds_in(text):
                    found.add((kind, place))
    return found


def _generic(rel: str) -> str:
    """A relative path with pseudonymous ids and dates folded, to keep the report short."""
    rel = re.sub(r"\d{4}-\d{2}-\d{2}", "<date>", rel)
    return re.sub(r"[0-9a-f]{12,}|2\.25\.\d+", "<id>", rel)


# --------------------------------------------------------------------------------- tests


def _listing(found) -> str:
    """One ``(kind, place)`` per line: where a planted identifier was found, never its value."""
    return "found:\n" + "\n".join(str(f) for f in sorted(found, key=str))


def test_graph_ran_with_planted_phi(adversarial):
    """The adversarial inputs must not crash the graph (a NULL patient id, a malformed DA...)."""
    failed = {name: r.success for name, r in adversarial.results.items() if not r.success}
    assert failed == {}
    assert adversarial.planted.burned_in_sop is not None


def test_no_planted_identifier_in_research_zone_export_or_labelbox(adversarial):
    needles = _needles(adversarial.planted, dates=True)
    found = _scan_tree(adversarial.research, needles, "research")
    if adversarial.labels is not None:  # data rows, batches and pre-labels sent to Labelbox
        found |= _scan_tree(adversarial.labels, needles, "labelbox")
    assert not found, _listing(found)
    # the scan works: the raw zone is full of them
    assert _scan_tree(adversarial.raw, needles, "raw")


def test_no_identifier_in_dagster_event_log_or_metadata(adversarial):
    """What the UI shows: messages, metadata and errors of every event of every run. Partition
    keys are study dates by design, so real dates are not searched for here; see
    :func:`test_no_research_batch_name_in_dagster_metadata` for the date linkage."""
    needles = _needles(adversarial.planted, dates=False)
    found = set()
    for text in adversarial.events:
        event = json.loads(text)
        where = event.get("dagster_event", {}) or {}
        kind = where.get("event_type_value", "log message") if isinstance(where, dict) else "event"
        for hit in needles.kinds_in(text):
            found.add((hit, f"event log: {kind}"))
    assert not found, _listing(found)


def test_no_identifier_in_compute_logs_or_instance_storage(adversarial):
    needles = _needles(adversarial.planted, dates=False)
    found = set()
    logs = list(adversarial.instance_dir.rglob("compute_logs/*.err"))
    assert logs, "no compute log written: the scan below would prove nothing"
    for path in sorted(adversarial.instance_dir.rglob("*")):
        if path.is_file() and path.suffix not in {".db", ".sqlite", ".db-wal", ".db-shm"}:
            for kind in needles.kinds_in(path.read_bytes().decode("utf-8", "replace")):
                found.add((kind, f"instance:{_generic(path.name)}"))
    assert not found, _listing(found)


def test_no_identifier_in_process_logs_warnings_or_stdio(adversarial):
    needles = _needles(adversarial.planted, dates=False)
    assert "STEP_SUCCESS" in "".join(adversarial.captured["stdio"]), "stdio not captured"
    found = set()
    for channel, texts in adversarial.captured.items():
        for text in texts:
            for kind in needles.kinds_in(text):
                found.add((kind, channel))
    assert not found, _listing(found)


def _research_keys(research: Path) -> set[str]:
    """Every key a research-zone reader sees: batch names (table file stems), image ids (PNG
    stems) and the pseudonymous ids in the tables."""
    # batch names ("b" + 20 hex); unpartitioned tables are named after their asset
    keys = {
        p.stem
        for p in (research / "tables").rglob("*.parquet")
        if re.fullmatch(r"b[0-9a-f]{20}", p.stem)
    }
    keys |= {p.stem for p in research.rglob("*.png") if "exports" not in p.parts}
    for path in (research / "tables").rglob("*.parquet"):
        frame = pl.read_parquet(path)
        for column, dtype in frame.schema.items():
            if dtype == pl.String and (
                column.endswith(("_pseudo", "_id")) or column == "global_key"
            ):
                keys |= {v for v in frame[column].drop_nulls().to_list() if len(v) >= 8}
    return keys


def test_no_research_key_in_dagster_events(adversarial):
    """Dagster shows every event next to its partition key, a real study date. A research batch
    name, image id or pseudonym in an event maps research rows back to their real date, and with
    ``study_date_shifted`` gives the patient's date shift (issue 10, point 4)."""
    pattern = _literal(sorted(_research_keys(adversarial.research)))
    assert pattern is not None
    hits = set()
    for text in adversarial.events:
        if pattern.search(text):
            event = json.loads(text)
            de = event.get("dagster_event") or {}
            hits.add((de.get("event_type_value", "log message"), event.get("step_key")))
    assert not hits, _listing(hits)


def test_burned_in_third_party_text_not_in_research_pixels(adversarial):
    """The frame with a relative's name and phone burned inside the ultrasound region: no
    research PNG shows them (OCR of every research PNG made from that instance)."""
    from cadbusi_assets_tests.support import require_tool

    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    sop = adversarial.planted.burned_in_sop
    pngs = _research_pngs_of(adversarial, sop)
    if not pngs:  # quarantined by de-identification: nothing reached the research zone
        assert _quarantined(adversarial, sop), "burned-in instance neither stored nor quarantined"
        return
    needles = Needles(
        {
            k: v
            for k, v in {
                "burned-in name": compile_terms(["ZELDA", "PLIMSOLL"]),
                "burned-in phone": re.compile(r"555[-.\s]?0142"),
            }.items()
            if v is not None
        }
    )
    found = set()
    for png in pngs:
        text = subprocess.run(
            ["tesseract", str(png), "-", "--psm", "11"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ).stdout
        for kind in needles.kinds_in(text):
            found.add(
                (kind, f"research:{_generic(png.relative_to(adversarial.research).as_posix())}")
            )
    assert not found, _listing(found)


def _table(zone: Path, name: str) -> pl.DataFrame:
    files = sorted((zone / "tables" / name).glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def _quarantined(adversarial: AdversarialRun, sop: str) -> bool:
    keys = _table(adversarial.raw, "retrieval_instances").filter(pl.col("sop_instance_uid") == sop)
    quarantine = _table(adversarial.raw, "deidentification_quarantine")
    return (
        quarantine.filter(pl.col("raw_instance_key").is_in(keys["instance_key"].to_list())).height
        > 0
    )


def _research_pngs_of(adversarial: AdversarialRun, sop: str | None) -> list[Path]:
    """Research PNGs of one original instance: raw retrieval table (SOP Instance UID → raw
    instance key) → research ``instances`` (→ instance id) → ``images`` (→ image ids)."""
    if sop is None:
        return []

    keys = _table(adversarial.raw, "retrieval_instances").filter(pl.col("sop_instance_uid") == sop)
    instances = _table(adversarial.research, "instances").filter(
        pl.col("raw_instance_key").is_in(keys["instance_key"].to_list())
    )
    images = _table(adversarial.research, "images").filter(
        pl.col("instance_id").is_in(instances["instance_id"].to_list())
    )
    ids = set(images["image_id"].to_list())
    return sorted(p for p in adversarial.research.rglob("*.png") if any(i in p.name for i in ids))


def _materializations(adversarial: AdversarialRun, asset: str) -> list[tuple[str | None, dict]]:
    """(partition, {label: entry data}) of every materialization of ``asset``."""
    out = []
    for text in adversarial.events:
        event = json.loads(text).get("dagster_event") or {}
        if event.get("event_type_value") != "ASSET_MATERIALIZATION":
            continue
        materialization = event["event_specific_data"]["materialization"]
        if materialization["asset_key"]["path"] != [asset]:
            continue
        entries = {e["label"]: e["entry_data"] for e in materialization["metadata_entries"]}
        out.append((materialization.get("partition"), entries))
    return out


def test_partition_counts_in_metadata_do_not_identify_research_batches(adversarial):
    """A UI viewer sees ``images`` per study date (a real date); a research reader sees the row
    count of each batch of ``tables/images``. A count that occurs once on each side links the
    batch to its real date (and with ``study_date_shifted``, gives each patient's date shift)."""
    from collections import Counter

    per_date = Counter(
        entries["images"]["value"]
        for partition, entries in _materializations(adversarial, "deidentified_images")
        if partition and "images" in entries
    )
    batches = Counter(
        pl.read_parquet(p).height
        for p in (adversarial.research / "tables" / "images").glob("*.parquet")
    )
    linked = [n for n in batches if batches[n] == 1 and per_date.get(n) == 1]
    assert linked == [], f"{len(linked)} of {len(batches)} research batches linked to a date"
    from cadbusi_assets_tests.defs.conftest import PARTITIONED

    # no count of any kind beside a study date, for any asset (raw-side counts such as
    # instances retrieved track the research batch sizes just as well)
    numeric = sorted(
        {
            (asset, label)
            for asset in PARTITIONED
            for partition, entries in _materializations(adversarial, asset)
            if partition
            for label, data in entries.items()
            if isinstance(data, dict)
            and data.get("__class__") in {"IntMetadataEntryData", "FloatMetadataEntryData"}
        }
    )
    assert numeric == []


def test_no_research_image_preview_in_partition_metadata(adversarial):
    """Preview images in the metadata of a study-date partition show research images next to
    their real date: a viewer who also reads the research zone matches them by eye."""
    shown = sorted(
        {
            asset
            for asset in ("deidentified_images", "inpainted_images")
            for partition, entries in _materializations(adversarial, asset)
            if partition and "base64" in json.dumps(entries)
        }
    )
    assert shown == []


def test_export_lineage_does_not_link_batches_to_partitions(adversarial):
    """The export's ``lineage.json`` lists, per research batch, the data version (and run) of
    each upstream asset; Dagster shows the same data version in the materialization of a
    study-date partition. Together they give every batch's real date."""
    versions: dict[str, str] = {}
    for text in adversarial.events:
        event = json.loads(text).get("dagster_event") or {}
        if event.get("event_type_value") != "ASSET_MATERIALIZATION":
            continue
        materialization = event["event_specific_data"]["materialization"]
        version = (materialization.get("tags") or {}).get("dagster/data_version")
        if materialization.get("partition") and version:
            versions[version] = materialization["partition"]
    run_ids = {json.loads(t).get("run_id") for t in adversarial.events}
    linked = set()
    for lineage in adversarial.research.glob("exports/*/lineage.json"):
        for entry in json.loads(lineage.read_text()).get("upstream", []):
            if entry.get("partition") and entry.get("data_version") in versions:
                linked.add((entry["asset"], "lineage.json data_version"))
            if entry.get("partition") and entry.get("run_id") in run_ids:
                linked.add((entry["asset"], "lineage.json run_id"))
    assert not linked, _listing(linked)
