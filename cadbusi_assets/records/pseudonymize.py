"""Research-zone version of the label table: pseudonymized keys, per-patient shifted dates."""

from __future__ import annotations

from typing import Any

import polars as pl

from cadbusi_assets.records.labels import LABELS_SCHEMA

#: identifier columns and how they are pseudonymized
_DATE_COLUMNS = ("exam_date", "specimen_date", "biopsy_date")


def pseudonymize_labels(labels: pl.DataFrame, pseudonymizer: Any) -> pl.DataFrame:
    """``labels`` (output of :func:`diagnosis_labels`) for the research zone.

    ``patient_id`` and ``accession_number`` become keyed pseudonyms, ``specimen_accession`` an
    ``other_identifier("specimen", …)`` pseudonym, and every date is shifted by the patient's
    own shift (the one image de-identification uses, so intervals and image dates agree). The
    other label columns carry no identifiers (``source`` is generated text); columns that are
    not label columns (:data:`LABELS_SCHEMA`) are dropped, so nothing joined on by accident
    reaches the research zone.
    """
    patients = labels.get_column("patient_id").drop_nulls().unique().to_list()
    accessions = labels.get_column("accession_number").drop_nulls().unique().to_list()
    specimens = (
        labels.get_column("specimen_accession").drop_nulls().unique().to_list()
        if "specimen_accession" in labels.columns
        else []
    )
    # one keyed hash per distinct identifier (HMAC needs Python; the table itself is not looped)
    patient_map = {p: pseudonymizer.patient_id(p) for p in patients}
    shift_map = {p: pseudonymizer.date_shift_days(p) for p in patients}
    accession_map = {a: pseudonymizer.accession_number(a) for a in accessions}
    specimen_map = {s: pseudonymizer.other_identifier("specimen", s) for s in specimens}

    shift = pl.duration(
        days=pl.col("patient_id").replace_strict(shift_map, default=None, return_dtype=pl.Int64)
    )
    out = labels.with_columns(
        [pl.col(c) + shift for c in _DATE_COLUMNS if c in labels.columns]
    ).with_columns(
        pl.col("patient_id").replace_strict(patient_map, default=None, return_dtype=pl.Utf8),
        pl.col("accession_number").replace_strict(
            accession_map, default=None, return_dtype=pl.Utf8
        ),
    )
    if "specimen_accession" in out.columns:
        out = out.with_columns(
            pl.col("specimen_accession").replace_strict(
                specimen_map, default=None, return_dtype=pl.Utf8
            )
        )
    return out.select([c for c in LABELS_SCHEMA if c in out.columns])
