"""Adversarial tests of the labels path: what labelers type, what export files look like, and
what geometry reaches the export (the labels half of the brief of 2026-12-06)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.stages.labeling import ingest_labels
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.labeling.test_ndjson import export_row

#: synthetic identifiers a labeler might type into a comment (three scripts, phone, MRN, date,
#: address)
TYPED_PHI = (
    "Hortensia Quackenbush",
    "Иванова Мария",
    "فاطمة الزهراء",
    "555-867-5309",
    "48213377",
    "03/14/2021",
    "42 Baker Street",
)


def _with_comment(row: dict, text: str) -> dict:
    answers = row["projects"]["proj-1"]["labels"][0]["annotations"]["classifications"]
    for answer in answers:
        if "text_answer" in answer:
            answer["text_answer"]["content"] = text
    return row


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / "exports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _ndjson(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _strings_under(folder: Path) -> str:
    """Every string value of every Parquet table under ``folder``, one per line."""
    out: list[str] = []
    for path in sorted(folder.rglob("*.parquet")):
        frame = pl.read_parquet(path)
        for name, dtype in frame.schema.items():
            if dtype == pl.Utf8:
                out += [v for v in frame[name].to_list() if v]
    return "\n".join(out)


def test_typed_identifiers_in_a_comment_never_reach_the_label_tables_or_metadata(tmp_path):
    """Before: a labeler's comment was stored verbatim in ``classifications`` (and so in the
    catalog's ``label_classifications``) and listed in the run's ``answers`` metadata table."""
    comment = (
        "compare with Mrs Hortensia Quackenbush (Иванова Мария, فاطمة الزهراء) MRN 48213377, "
        "tel 555-867-5309, seen 03/14/2021, lives at 42 Baker Street"
    )
    first = _with_comment(export_row("img-a", "lb-1"), comment)
    relabelled = _with_comment(
        export_row("img-a", "lb-1", updated="2026-03-03T10:00:00.000+00:00"),
        "oval mass; Hortensia Quackenbush called on 555-867-5309",
    )
    _write(tmp_path / "lb", "a.ndjson", _ndjson([first, relabelled]))
    zone = open_zone(tmp_path / "research", "research")
    report = ingest_labels(zone, FolderLabelSource(tmp_path / "lb"))
    stored = _strings_under(tmp_path / "research" / "labels")
    metadata = "\n".join([*report.problems, *(str(t.to_dicts()) for t in report.tables.values())])
    for value in TYPED_PHI:
        assert value not in stored, value
        assert value not in metadata, value
    answers = pl.read_parquet(
        tmp_path / "research" / "labels" / "labelbox" / "classifications.parquet"
    )
    text = answers.filter(pl.col("answer_kind") == "text")["answer"].to_list()
    assert text and "oval mass" in text[0]  # the clinical words stay
    assert report.counts["text_answers"] == 1
