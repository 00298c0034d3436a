"""Parsing accuracy against a ground truth (the demo generator writes one).

``exams_truth`` and ``specimens_truth`` are the records the demo cohort writes to
``ground_truth/records/exams.json`` and ``specimens.json`` (lists of dicts or frames):

- exams: ``accession_number, modality, kind, side, birads, concordance, findings`` where each
  finding has ``side, clock, distance_cm, size_cm [w, h, l], shape, margin, orientation, echo,
  posterior`` (posterior ``none`` = "no posterior features");
- specimens: ``specimen_accession, parts`` with ``letter, side, malignant`` per part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import polars as pl

from cadbusi_assets.records.lesions import extract_lesions
from cadbusi_assets.records.lexicon import FEATURES

_TOLERANCE_CM = 0.051


def _records(data: pl.DataFrame | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return data.to_dicts() if isinstance(data, pl.DataFrame) else [dict(d) for d in data]


def _rate(matches: pl.Series) -> float:
    return round(float(cast(float, matches.mean())), 4) if matches.len() else float("nan")


def parsing_accuracy(
    parsed_radiology: pl.DataFrame,
    parsed_pathology: pl.DataFrame,
    exams_truth: pl.DataFrame | Sequence[Mapping[str, Any]],
    specimens_truth: pl.DataFrame | Sequence[Mapping[str, Any]],
) -> dict[str, float | int]:
    """Agreement rates (0–1) and the counts they are computed over."""
    exams = _records(exams_truth)
    specimens = _records(specimens_truth)
    truth = pl.DataFrame(
        [
            {
                "accession_number": e["accession_number"],
                "t_birads": e.get("birads"),
                "t_side": e.get("side"),
                "t_concordance": e.get("concordance"),
            }
            for e in exams
        ],
        schema={
            "accession_number": pl.Utf8,
            "t_birads": pl.Utf8,
            "t_side": pl.Utf8,
            "t_concordance": pl.Boolean,
        },
    )
    parsed = parsed_radiology.unique("accession_number", keep="first")
    joined = truth.join(parsed, on="accession_number", how="inner")
    concordance = joined.filter(pl.col("t_concordance").is_not_null())
    result: dict[str, float | int] = {
        "exams": joined.height,
        "birads_accuracy": _rate(joined["birads"].eq_missing(joined["t_birads"])),
        "laterality_accuracy": _rate(joined["study_laterality"].eq_missing(joined["t_side"])),
        "concordance_exams": concordance.height,
        "concordance_accuracy": _rate(
            concordance["concordance"].eq_missing(concordance["t_concordance"])
        ),
    }

    parts_truth = pl.DataFrame(
        [
            {
                "specimen_accession": s["specimen_accession"],
                "part_letter": p["letter"],
                "t_side": p.get("side"),
                "t_malignant": bool(p.get("malignant")),
            }
            for s in specimens
            for p in s.get("parts", ())
        ],
        schema={
            "specimen_accession": pl.Utf8,
            "part_letter": pl.Utf8,
            "t_side": pl.Utf8,
            "t_malignant": pl.Boolean,
        },
    )
    parts = parts_truth.join(
        parsed_pathology, on=["specimen_accession", "part_letter"], how="inner"
    )
    result |= {
        "pathology_parts": parts_truth.height,
        "pathology_parts_found": parts.height,
        "pathology_interpretation_accuracy": _rate(
            (parts["interpretation"] == "MALIGNANT").eq_missing(parts["t_malignant"])
        ),
        "pathology_laterality_accuracy": _rate(parts["laterality"].eq_missing(parts["t_side"])),
    }

    diagnostic = {
        e["accession_number"]: e
        for e in exams
        if e.get("modality") == "US" and e.get("kind") != "biopsy" and e.get("findings")
    }
    findings_truth = pl.DataFrame(
        [
            {
                "accession_number": acc,
                "clock": f["clock"],
                "t_distance": float(f["distance_cm"]),
                "t_size": float(max(f["size_cm"])),
            }
            for acc, e in diagnostic.items()
            for f in e["findings"]
        ],
        schema={
            "accession_number": pl.Utf8,
            "clock": pl.Utf8,
            "t_distance": pl.Float64,
            "t_size": pl.Float64,
        },
    )
    lesions = extract_lesions(parsed.filter(pl.col("accession_number").is_in(list(diagnostic))))
    matched = findings_truth.join(lesions, on=["accession_number", "clock"], how="left").unique(
        ["accession_number", "clock", "t_distance", "t_size"], keep="first"
    )
    hit = ((matched["distance_cm"] - matched["t_distance"]).abs() < _TOLERANCE_CM) & (
        (matched["size_cm"] - matched["t_size"]).abs() < _TOLERANCE_CM
    )
    result |= {
        "lesions_truth": findings_truth.height,
        "lesions_extracted": lesions.height,
        "lesion_recall": _rate(hit.fill_null(False)),
    }

    single = [
        {
            "accession_number": acc,
            **{f"t_{k}": e["findings"][0].get(k) for k in FEATURES if k != "boundary"},
        }
        for acc, e in diagnostic.items()
        if len(e["findings"]) == 1
    ]
    if single:
        lexicon_truth = pl.DataFrame(single).with_columns(
            pl.col("t_posterior").replace({"none": "no posterior features"})
        )
        lexicon = lexicon_truth.join(parsed, on="accession_number", how="inner").filter(
            pl.col("study_laterality").is_in(["LEFT", "RIGHT"])
        )
        result["lexicon_exams"] = lexicon.height
        for feature in (f for f in FEATURES if f != "boundary"):
            found = (
                pl.col(feature).fill_null("").str.split(", ").list.contains(pl.col(f"t_{feature}"))
            )
            result[f"{feature}_accuracy"] = _rate(lexicon.select(found).to_series())
    return result
