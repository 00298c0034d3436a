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
