"""Model-assisted labelling (MAL) pre-labels from the lesion table, as Labelbox import NDJSON.

Per image linked to a report lesion: a ``lesion`` bounding box from its caliper marks (in the
pixel coordinates of the data row's image, i.e. the full de-identified frame), and the
``laterality`` and ``clock`` radio classifications of the lesion. MAL does not take confidence
scores, so none are written. Every line has a deterministic ``uuid`` (the same pre-label gets
the same id on a re-run) and ``dataRow: {"globalKey": image_id}``.

:func:`import_prelabels` uploads them with ``MALPredictionImport.create_from_objects``, waits
for the import and returns per-annotation failures (the rows must already be in a batch of the
project).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

_NAMESPACE = uuid.UUID("5b0c6c8e-6c0e-4f4e-9a43-2f1f7cc0b7a1")


@dataclass(frozen=True)
class PrelabelNames:
    """Ontology feature names the pre-labels use (must match the project's ontology)."""

    box: str = "lesion"
    laterality: str = "laterality"
    left: str = "left"
    right: str = "right"
    clock: str = "clock"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x00".join(parts)))


def clock_answer(clock: str | None) -> str | None:
    """The clock option for ``H:MM`` rounded to the nearest half hour (``"10:30"``, ``"2:00"``)."""
    if not clock:
        return None
    hour_text, _, minute_text = clock.partition(":")
    try:
        minutes = int(hour_text) % 12 * 60 + int(minute_text or 0)
    except ValueError:
        return None
    minutes = round(minutes / 30) * 30 % 720
    hour = minutes // 60 or 12
    return f"{hour}:{minutes % 60:02d}"


def build_prelabels(
    lesion_images: pl.DataFrame,
    lesions: pl.DataFrame,
    names: PrelabelNames = PrelabelNames(),
    *,
    global_keys: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Import NDJSON lines (dicts) for the linked images (only ``global_keys`` when given)."""
    joined = lesion_images.join(
        lesions.select("lesion_id", "side", "clock"), on="lesion_id", how="left"
    )
    if global_keys is not None:
        joined = joined.filter(pl.col("image_id").is_in(list(global_keys)))
    lines: list[dict[str, Any]] = []
    # one classification set per image (an image shows one lesion in the lesion table)
    for row in joined.sort("image_id", "lesion_id").iter_rows(named=True):
        key = row["image_id"]
        data_row = {"globalKey": key}
        if row.get("box_x0") is not None:
            left, top = int(row["box_x0"]), int(row["box_y0"])
            lines.append(
                {
                    "uuid": _uuid(key, row["lesion_id"], "box"),
                    "name": names.box,
                    "dataRow": data_row,
                    "bbox": {
                        "top": top,
                        "left": left,
                        "height": max(1, int(row["box_y1"]) - top),
                        "width": max(1, int(row["box_x1"]) - left),
                    },
                }
            )
        side = {"LEFT": names.left, "RIGHT": names.right}.get(row.get("side") or "")
        if side:
            lines.append(
                {
                    "uuid": _uuid(key, "laterality"),
                    "name": names.laterality,
                    "dataRow": data_row,
                    "answer": {"name": side},
                }
            )
        clock = clock_answer(row.get("clock"))
        if clock:
            lines.append(
                {
                    "uuid": _uuid(key, "clock"),
                    "name": names.clock,
                    "dataRow": data_row,
                    "answer": {"name": clock},
                }
            )
    return lines


@dataclass
class ImportReport:
    name: str
    state: str
    annotations: int
    succeeded: int
    failed: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def import_prelabels(
    client: Any,
    project_id: str,
    name: str,
    lines: Sequence[dict[str, Any]],
    *,
    poll_seconds: int = 10,
) -> ImportReport:
    """Upload ``lines`` as an MAL import, wait until it finishes, report the failures.

    Error rows keep only the annotation uuid, the data row and the messages (never URLs).
    """
    import labelbox as lb

    if not lines:
        return ImportReport(name, "SKIPPED", 0, 0, 0)
    job = lb.MALPredictionImport.create_from_objects(client, project_id, name, list(lines))
    job.wait_till_done(sleep_time_seconds=poll_seconds)
    state = getattr(job.state, "value", str(job.state))
    if state == "FAILED":
        return ImportReport(name, state, len(lines), 0, len(lines))
    statuses = job.statuses
    failures = [s for s in statuses if str(s.get("status", "")).upper() != "SUCCESS"]
    errors = [
        {
            "uuid": s.get("uuid"),
            "dataRow": s.get("dataRow"),
            "errors": [
                {"name": e.get("name"), "message": e.get("message")}
                for e in (s.get("errors") or [])
            ],
        }
        for s in failures
    ]
    return ImportReport(
        name, state, len(lines), len(statuses) - len(failures), len(failures), errors
    )


def caliper_lesion_tables(evidence: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(lesions, lesion_images)`` for :func:`build_prelabels` from per-image evidence alone,
    for when the lesion table (report lesions linked to images) is not built yet.

    ``evidence``: ``image_id``, ``laterality`` (LEFT/RIGHT), ``clock_position`` (``H:MM``) and
    the caliper box ``box_x0``/``box_y0``/``box_x1``/``box_y1`` (null without calipers). Each image
    becomes its own lesion ``<image_id>-calipers`` with the image's OCR'd side and clock; images
    with neither a box nor a side nor a clock are left out.

    >>> ev = pl.DataFrame({"image_id": ["a", "b"], "laterality": ["LEFT", None],
    ...     "clock_position": ["2:10", None], "box_x0": [1, None], "box_y0": [2, None],
    ...     "box_x1": [9, None], "box_y1": [8, None]})
    >>> lesions, links = caliper_lesion_tables(ev)
    >>> lesions.rows(), links["image_id"].to_list()
    ([('a-calipers', 'LEFT', '2:10')], ['a'])
    """
    box = ("box_x0", "box_y0", "box_x1", "box_y1")
    side = pl.col("laterality").cast(pl.Utf8).str.to_uppercase()
    frame = evidence.select(
        pl.col("image_id").cast(pl.Utf8),
        (pl.col("image_id").cast(pl.Utf8) + "-calipers").alias("lesion_id"),
        pl.when(side.is_in(["LEFT", "RIGHT"])).then(side).alias("side"),
        pl.col("clock_position").cast(pl.Utf8).alias("clock"),
        *[pl.col(c).cast(pl.Int64) for c in box],
    ).filter(
        pl.all_horizontal(pl.col(c).is_not_null() for c in box)
        | pl.col("side").is_not_null()
        | pl.col("clock").is_not_null()
    )
    lesions = frame.select("lesion_id", "side", "clock").sort("lesion_id")
    links = frame.select("lesion_id", "image_id", *box).sort("image_id")
    return lesions, links


def one_lesion_per_image(lesion_images: pl.DataFrame) -> pl.DataFrame:
    """The best-scored lesion link of each image (highest ``score``, then ``lesion_id``), so an
    image gets one set of classifications; links without a box come after those with one."""
    ordered = lesion_images.sort(
        [
            pl.col("score") if "score" in lesion_images.columns else pl.lit(0.0),
            pl.col("box_x0").is_not_null() if "box_x0" in lesion_images.columns else pl.lit(True),
            "lesion_id",
        ],
        descending=[True, True, False],
        nulls_last=True,
    )
    return ordered.unique("image_id", keep="first", maintain_order=True).sort("image_id")
