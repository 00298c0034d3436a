"""pseudonymize_labels: research-zone labels without raw identifiers."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.records import LABELS_SCHEMA, pseudonymize_labels
from cadbusi_assets_tests.support import TEST_KEY


def labels() -> pl.DataFrame:
    rows = [
        ("MRN1", "ACC1", dt.date(2021, 1, 1), "LEFT", "SP1"),
        ("MRN1", "ACC2", dt.date(2021, 3, 1), "LEFT", None),
        ("MRN2", "ACC3", dt.date(2021, 1, 1), "RIGHT", "SP2"),
    ]
    frame = pl.DataFrame(
        [
            {
                **{c: None for c in LABELS_SCHEMA},
                "patient_id": p,
                "accession_number": a,
                "exam_date": d,
                "side": s,
                "specimen_accession": sp,
                "has_malignant": -1,
                "source": "text",
            }
            for p, a, d, s, sp in rows
        ],
        schema=LABELS_SCHEMA,
        orient="row",
    )
    return frame


def test_identifiers_replaced_and_dates_shifted_per_patient():
    pseudonymizer = Pseudonymizer(TEST_KEY)
    original = labels()
    out = pseudonymize_labels(original, pseudonymizer)
    assert out.schema == original.schema
    assert out["patient_id"].to_list() == [
        pseudonymizer.patient_id(p) for p in original["patient_id"]
    ]
    assert out["accession_number"].to_list() == [
        pseudonymizer.accession_number(a) for a in original["accession_number"]
    ]
    assert out["specimen_accession"].to_list() == [
        pseudonymizer.other_identifier("specimen", "SP1"),
        None,
        pseudonymizer.other_identifier("specimen", "SP2"),
    ]
    for before, after in zip(
        original.iter_rows(named=True), out.iter_rows(named=True), strict=True
    ):
        shift = pseudonymizer.date_shift_days(before["patient_id"])
        assert after["exam_date"] == before["exam_date"] + dt.timedelta(days=shift)
    assert (out["exam_date"][1] - out["exam_date"][0]).days == 59  # intervals kept


def test_no_raw_identifier_left_anywhere():
    out = pseudonymize_labels(labels(), Pseudonymizer(TEST_KEY))
    text = out.write_csv()
    for raw in ("MRN1", "MRN2", "ACC1", "ACC2", "ACC3", "SP1", "SP2"):
        assert raw not in text


def test_deterministic():
    assert pseudonymize_labels(labels(), Pseudonymizer(TEST_KEY)).equals(
        pseudonymize_labels(labels(), Pseudonymizer(TEST_KEY))
    )


def test_columns_outside_the_label_schema_are_dropped():
    extra = labels().with_columns(
        study_instance_uid=pl.lit("1.2.840.99"), report_text=pl.lit("MRN1")
    )
    out = pseudonymize_labels(extra, Pseudonymizer(TEST_KEY))
    assert out.columns == list(LABELS_SCHEMA)
