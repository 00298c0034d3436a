"""Per-image lesion geometry for label-derived masks in an export.

Two sources, in order of trust:

1. **Labelbox labels** (``labels/labelbox/objects.parquet``): lesion boxes, polygons and
   segmentation masks drawn by annotators. When an image has several labels (consensus), the
   most recently updated label that has a lesion object is used (one annotator's consistent
   reading, never a union across labels); within that label its masks, polygons and boxes are
   united. A label whose data row a reviewer sent back for rework (``workflow_status``
   ``IN_REWORK``) is never used: the newest other label is, else the calipers
   (:func:`rejected_lesion_labels` says which images lost their newest label so). A mask
   counts when the label ingestion stored it (``mask_path``, a full-image 0/255 PNG in the
   research zone; see :mod:`cadbusi_assets.labeling.masks`): masks are never fetched at
   export time.
2. **Calipers** (``lesions/lesion_images.parquet``): the box spanned by a caliper pair, for
   images without a labelled lesion.

Coordinates are full-image pixels (the geometry of the PNG sent to Labelbox, which is the same
for the inpainted twin); the export shifts them into the crop.

>>> objects = pl.DataFrame({"label_id": ["l1", "l2"], "image_id": ["a", "a"],
...     "name": ["lesion_box", "lesion_box"], "bbox_left": [1.0, 5.0], "bbox_top": [2.0, 5.0],
...     "bbox_width": [3.0, 2.0], "bbox_height": [4.0, 2.0], "points": [None, None]})
>>> labels = pl.DataFrame({"label_id": ["l1", "l2"],
...     "updated_at": ["2026-01-01T00:00:00", "2026-01-02T00:00:00"]})
>>> label_lesion_geometry(objects, labels).select("image_id", "label_id", "boxes").row(0)
('a', 'l2', [[5, 5, 7, 7]])
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cadbusi_assets.labeling.ndjson import REJECTED_WORKFLOW_STATUSES

#: Object names (case-insensitive) that count as a lesion; the ontology's tools come first.
LESION_OBJECT_NAMES: tuple[str, ...] = (
    "lesion_box",
    "lesion_mask",
    "lesion",
    "mass",
    "lesion_bbox",
)
LABELBOX_OBJECTS_PATH = ("labels", "labelbox", "objects.parquet")
LABELBOX_LABELS_PATH = ("labels", "labelbox", "labels.parquet")

BOXES_TYPE = pl.List(pl.List(pl.Int64))
POLYGONS_TYPE = pl.List(pl.List(pl.List(pl.Float64)))
GEOMETRY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "image_id": pl.Utf8,
    "label_id": pl.Utf8,
    "source": pl.Utf8,
    "boxes": BOXES_TYPE,
    "polygons": POLYGONS_TYPE,
    #: research-zone paths of the annotator's stored masks (full-image 0/255 PNGs)
    "mask_paths": pl.List(pl.Utf8),
}


#: a coordinate beyond this many pixels is not a drawing on an ultrasound image (and would
#: overflow the pixel grid); such a box or polygon is left out
MAX_COORDINATE = 100_000.0


def _usable(value: pl.Expr) -> pl.Expr:
    return value.is_finite() & (value.abs() <= MAX_COORDINATE)


def usable_box() -> pl.Expr:
    """A box that can be drawn: four finite coordinates within :data:`MAX_COORDINATE`, a
    positive width and height (a NaN, negative or absurd box from an export is not)."""
    sides = ("bbox_left", "bbox_top", "bbox_width", "bbox_height")
    return (
        pl.all_horizontal([_usable(pl.col(c)).fill_null(False) for c in sides])
        & (pl.col("bbox_width") > 0)
        & (pl.col("bbox_height") > 0)
    )


def usable_polygon() -> pl.Expr:
    """A polygon that can be drawn: at least three points, every coordinate finite and within
    :data:`MAX_COORDINATE`."""
    points = pl.col("points")
    finite = points.list.eval(
        pl.element().list.eval(_usable(pl.element())).list.all() & (pl.element().list.len() == 2)
    ).list.all()
    return (points.list.len().fill_null(0) >= 3) & finite.fill_null(False)


def unusable_lesion_geometry(
    objects: pl.DataFrame, names: Sequence[str] = LESION_OBJECT_NAMES
) -> pl.DataFrame:
    """``label_id``, ``feature_id``, ``problem`` for each lesion object with a box or points
    that :func:`label_lesion_geometry` leaves out (the reason, no coordinates)."""
    schema = {"label_id": pl.Utf8, "feature_id": pl.Utf8, "problem": pl.Utf8}
    if objects.height == 0:
        return pl.DataFrame(schema=schema)
    wanted = [n.lower() for n in names]
    lesion = objects.filter(pl.col("name").str.to_lowercase().is_in(wanted))
    has_box = pl.any_horizontal(
        [pl.col(c).is_not_null() for c in ("bbox_left", "bbox_top", "bbox_width", "bbox_height")]
    )
    has_points = pl.col("points").is_not_null()
    return lesion.select(
        "label_id",
        "feature_id",
        pl.when(has_box & ~usable_box())
        .then(pl.lit("lesion box not finite, not of positive size, or beyond the pixel range"))
        .when(~has_box & has_points & ~usable_polygon())
        .then(pl.lit("lesion polygon of fewer than 3 points, or a point not finite"))
        .alias("problem"),
    ).filter(pl.col("problem").is_not_null())


def _rejected(labels: pl.DataFrame | None) -> list[str]:
    """Label ids whose data row a reviewer sent back (:data:`REJECTED_WORKFLOW_STATUSES`)."""
    if labels is None or labels.height == 0 or "workflow_status" not in labels.columns:
        return []
    status = pl.col("workflow_status").cast(pl.Utf8)
    return labels.filter(status.is_in(list(REJECTED_WORKFLOW_STATUSES)))["label_id"].to_list()


#: ``lesion_mask_left_out`` of an image whose newest lesion label is rejected
REJECTED_LABEL_REASON = "newest lesion label sent back for rework (IN_REWORK), not drawn"


def rejected_lesion_labels(
    objects: pl.DataFrame,
    labels: pl.DataFrame | None,
    names: Sequence[str] = LESION_OBJECT_NAMES,
) -> pl.DataFrame:
    """``image_id``, ``reason`` for each image whose newest label with a lesion object is one
    :func:`label_lesion_geometry` does not draw because a reviewer sent it back for rework."""
    schema = {"image_id": pl.Utf8, "reason": pl.Utf8}
    rejected = _rejected(labels)
    if not rejected:
        return pl.DataFrame(schema=schema)
    everything = label_lesion_geometry(objects, labels, names, drop_rejected=False)
    return (
        everything.filter(pl.col("label_id").is_in(rejected))
        .select("image_id", reason=pl.lit(REJECTED_LABEL_REASON))
        .cast(pl.Schema(schema))
    )


def label_lesion_geometry(
    objects: pl.DataFrame,
    labels: pl.DataFrame | None = None,
    names: Sequence[str] = LESION_OBJECT_NAMES,
    *,
    drop_rejected: bool = True,
) -> pl.DataFrame:
    """One row per image with a labelled lesion: the chosen ``label_id``, its lesion ``boxes``
    (``[x0, y0, x1, y1]``, rounded to pixels), ``polygons`` (``[[x, y], ...]``) and
    ``mask_paths`` (the stored annotator masks). Labels a reviewer sent back for rework
    (``labels.workflow_status``) are not drawn unless ``drop_rejected`` is false."""
    wanted = [n.lower() for n in names]
    if "mask_path" not in objects.columns:
        objects = objects.with_columns(mask_path=pl.lit(None, pl.Utf8))
    lesion = objects.cast(
        {
            "points": pl.List(pl.List(pl.Float64)),
            "mask_path": pl.Utf8,
            **{c: pl.Float64 for c in ("bbox_left", "bbox_top", "bbox_width", "bbox_height")},
        }
    )
    lesion = lesion.filter(pl.col("name").str.to_lowercase().is_in(wanted))
    if drop_rejected and (rejected := _rejected(labels)):
        lesion = lesion.filter(~pl.col("label_id").is_in(rejected))
    has_box = usable_box()
    has_polygon = usable_polygon()
    has_mask = pl.col("mask_path").is_not_null()
    lesion = lesion.filter(has_box | has_polygon | has_mask)
    if lesion.height == 0:
        return pl.DataFrame(schema=GEOMETRY_SCHEMA)
    if labels is not None and "updated_at" in labels.columns and labels.height:
        order = labels.select("label_id", pl.col("updated_at").cast(pl.Utf8).alias("_updated"))
        lesion = lesion.join(order, on="label_id", how="left")
    else:
        lesion = lesion.with_columns(_updated=pl.lit(None, pl.Utf8))
    chosen = (
        lesion.select("image_id", "label_id", "_updated")
        .unique()
        .sort(["image_id", "_updated", "label_id"], nulls_last=False)
        .group_by("image_id", maintain_order=True)
        .agg(pl.col("label_id").last())
    )
    picked = lesion.join(chosen, on=["image_id", "label_id"], how="inner").sort(
        "image_id", "label_id", "bbox_left", "bbox_top", nulls_last=True
    )
    box = pl.concat_list(
        pl.col("bbox_left").round(0).cast(pl.Int64),
        pl.col("bbox_top").round(0).cast(pl.Int64),
        (pl.col("bbox_left") + pl.col("bbox_width")).round(0).cast(pl.Int64),
        (pl.col("bbox_top") + pl.col("bbox_height")).round(0).cast(pl.Int64),
    )
    return (
        picked.group_by("image_id", "label_id", maintain_order=True)
        .agg(
            pl.when(has_box).then(box).drop_nulls().alias("boxes"),
            pl.when(has_box.not_() & has_polygon)
            .then(pl.col("points"))
            .drop_nulls()
            .alias("polygons"),
            pl.when(has_box.not_() & has_polygon.not_() & has_mask)
            .then(pl.col("mask_path"))
            .drop_nulls()
            .sort()
            .alias("mask_paths"),
        )
        .with_columns(source=pl.lit("labelbox"))
        .select(list(GEOMETRY_SCHEMA))
        .cast(pl.Schema(GEOMETRY_SCHEMA))
        .sort("image_id")
    )


def caliper_lesion_geometry(links: pl.DataFrame) -> pl.DataFrame:
    """Caliper-derived boxes per image from the ``lesion_images`` table (rows with a box)."""
    needed = {"image_id", "box_x0", "box_y0", "box_x1", "box_y1"}
    if links.height == 0 or not needed <= set(links.columns):
        return pl.DataFrame(schema=GEOMETRY_SCHEMA)
    return (
        links.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in sorted(needed)]))
        .sort("image_id", *(["lesion_id"] if "lesion_id" in links.columns else []))
        .group_by("image_id", maintain_order=True)
        .agg(
            pl.concat_list(
                *(pl.col(c).cast(pl.Int64) for c in ("box_x0", "box_y0", "box_x1", "box_y1"))
            ).alias("boxes")
        )
        .with_columns(
            label_id=pl.lit(None, pl.Utf8),
            source=pl.lit("calipers"),
            polygons=pl.lit(None, POLYGONS_TYPE),
            mask_paths=pl.lit(None, pl.List(pl.Utf8)),
        )
        .select(list(GEOMETRY_SCHEMA))
        .cast(pl.Schema(GEOMETRY_SCHEMA))
    )


def mask_source(source: pl.Expr | str = "source") -> pl.Expr:
    """What a lesion mask is drawn from: ``annotator_mask``, ``polygons``, ``boxes`` joined by
    ``+`` for a Labelbox label (e.g. ``annotator_mask+boxes``), ``caliper_boxes`` for calipers,
    null without geometry. Needs ``boxes``, ``polygons`` and ``mask_paths``."""
    origin = pl.col(source) if isinstance(source, str) else source

    def part(column: str, name: str) -> pl.Expr:
        return pl.when(pl.col(column).list.len().fill_null(0) > 0).then(pl.lit(name))

    drawn = pl.concat_str(
        part("mask_paths", "annotator_mask"),
        part("polygons", "polygons"),
        part("boxes", "boxes"),
        separator="+",
        ignore_nulls=True,
    )
    return (
        pl.when(origin == "calipers")
        .then(pl.lit("caliper_boxes"))
        .when(origin.is_not_null() & (drawn != ""))
        .then(drawn)
        .otherwise(pl.lit(None, pl.Utf8))
    )


def lesion_geometry(labelled: pl.DataFrame, calipers: pl.DataFrame) -> pl.DataFrame:
    """Labelbox geometry where an image has it, else the caliper boxes."""
    fallback = calipers.join(labelled.select("image_id"), on="image_id", how="anti")
    return pl.concat([labelled, fallback]).sort("image_id")
