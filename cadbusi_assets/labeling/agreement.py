"""Annotator agreement on images labelled more than once (Labelbox consensus).

Input: the normalized label tables (:mod:`.ndjson`). An image (data row) with two or more
labels in one project is a *consensus image*. For each global radio question (laterality,
clock, BI-RADS, ...) we report, over the consensus images where at least two labels answered
it: the share where all labels give the same answer, and the pairwise agreement (share of label
pairs that agree). For lesion boxes we pair the labels of an image, match every box of one label
to its best-overlapping box of the other (both directions) and report the mean IoU, the share
of matches with IoU >= 0.5 and how often both labels agree on whether there is a box at all.

>>> import polars as pl
>>> from cadbusi_assets.labeling.ndjson import LabelTables
>>> labels = pl.DataFrame({"label_id": ["a", "b", "c"], "image_id": ["i1", "i1", "i2"],
...     "project_id": ["p"] * 3})
>>> answers = pl.DataFrame({"label_id": ["a", "b", "a", "b"], "image_id": ["i1"] * 4,
...     "project_id": ["p"] * 4, "parent_feature_id": [None] * 4,
...     "question": ["laterality", "laterality", "birads", "birads"],
...     "answer": ["left", "left", "4a", "3"], "answer_kind": ["radio"] * 4})
>>> boxes = pl.DataFrame({"label_id": ["a", "b"], "image_id": ["i1", "i1"],
...     "project_id": ["p", "p"], "name": ["lesion_box"] * 2, "bbox_left": [0.0, 5.0],
...     "bbox_top": [0.0, 0.0], "bbox_width": [10.0, 10.0], "bbox_height": [10.0, 10.0]})
>>> report = annotator_agreement(LabelTables(labels, boxes, answers))
>>> report.questions.select("question", "images", "share_all_agree").rows()
[('birads', 1, 0.0), ('laterality', 1, 1.0)]
>>> round(report.boxes["mean_iou"][0], 3)
0.333
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from cadbusi_assets.labeling.ndjson import LabelTables

#: Lesion tools whose boxes are compared (the ontology's box tool first).
BOX_TOOLS: tuple[str, ...] = ("lesion_box", "lesion", "lesion_bbox")
IOU_MATCH = 0.5

QUESTIONS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "question": pl.Utf8,
    "images": pl.UInt32,
    "all_agree": pl.UInt32,
    "share_all_agree": pl.Float64,
    "pairwise_agreement": pl.Float64,
}
BOXES_SCHEMA = {
    "images": pl.UInt32,
    "label_pairs": pl.UInt32,
    "presence_agreement": pl.Float64,
    "matched_boxes": pl.UInt32,
    "mean_iou": pl.Float64,
    "share_iou_at_least_0_5": pl.Float64,
}


@dataclass
class AgreementReport:
    #: consensus images (two or more labels of one data row in one project)
    consensus_images: int
    #: one row per radio question
    questions: pl.DataFrame
    #: one row: box agreement over label pairs of consensus images
    boxes: pl.DataFrame
    #: one row per (image, question) where the labels disagree, with the answers seen
    disagreements: pl.DataFrame

    def counts(self) -> dict[str, float]:
        """Flat figures for a run report (``agreement_<question>`` = share all agree)."""
        out: dict[str, float] = {"consensus_images": float(self.consensus_images)}
        for question, share in self.questions.select("question", "share_all_agree").iter_rows():
            out[f"agreement_{question}"] = round(float(share), 4)
        if self.boxes.height and self.boxes["mean_iou"][0] is not None:
            out["agreement_box_mean_iou"] = round(float(self.boxes["mean_iou"][0]), 4)
        return out


def _consensus(labels: pl.DataFrame) -> pl.DataFrame:
    return (
        labels.group_by("project_id", "image_id")
        .agg(pl.col("label_id").n_unique().alias("n_labels"))
        .filter(pl.col("n_labels") >= 2)
    )


def question_agreement(
    classifications: pl.DataFrame, consensus: pl.DataFrame, questions: Sequence[str] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-question agreement, disagreements) over the consensus images."""
    answers = classifications.filter(
        pl.col("answer_kind") == "radio", pl.col("parent_feature_id").is_null()
    ).join(consensus.select("project_id", "image_id"), on=["project_id", "image_id"], how="semi")
    if questions is not None:
        answers = answers.filter(pl.col("question").is_in(list(questions)))
    answers = answers.unique(["project_id", "image_id", "label_id", "question"], keep="first")
    per_image = (
        answers.group_by("project_id", "image_id", "question")
        .agg(
            pl.len().alias("n"),
            pl.col("answer").n_unique().alias("distinct"),
            # label pairs that agree: sum over answers of C(count, 2)
            pl.col("answer").value_counts().struct.field("count").alias("_counts"),
            pl.col("answer").unique().sort().alias("answers"),
        )
        .filter(pl.col("n") >= 2)
        .with_columns(
            agreeing_pairs=pl.col("_counts")
            .list.eval(pl.element() * (pl.element() - 1) // 2)
            .list.sum(),
            pairs=pl.col("n") * (pl.col("n") - 1) // 2,
        )
    )
    table = (
        per_image.group_by("question")
        .agg(
            pl.len().cast(pl.UInt32).alias("images"),
            (pl.col("distinct") == 1).sum().cast(pl.UInt32).alias("all_agree"),
            (pl.col("agreeing_pairs").sum() / pl.col("pairs").sum()).alias("pairwise_agreement"),
        )
        .with_columns(share_all_agree=pl.col("all_agree") / pl.col("images"))
        .select(list(QUESTIONS_SCHEMA))
        .cast(pl.Schema(QUESTIONS_SCHEMA))
        .sort("question")
    )
    disagreements = (
        per_image.filter(pl.col("distinct") > 1)
        .select("image_id", "question", "answers", pl.col("n").alias("labels"))
        .sort("image_id", "question")
    )
    return table, disagreements


def box_agreement(
    objects: pl.DataFrame, labels: pl.DataFrame, consensus: pl.DataFrame, tools: Sequence[str]
) -> pl.DataFrame:
    """Mean best-match IoU and presence agreement over label pairs of the consensus images."""
    wanted = [t.lower() for t in tools]
    boxes = (
        objects.filter(
            pl.col("name").str.to_lowercase().is_in(wanted), pl.col("bbox_left").is_not_null()
        )
        .select(
            "project_id",
            "image_id",
            "label_id",
            pl.col("bbox_left").alias("x0"),
            pl.col("bbox_top").alias("y0"),
            (pl.col("bbox_left") + pl.col("bbox_width")).alias("x1"),
            (pl.col("bbox_top") + pl.col("bbox_height")).alias("y1"),
        )
        .with_row_index("box")
    )
    keys = ["project_id", "image_id"]
    label_ids = labels.select(*keys, "label_id").unique().join(consensus, on=keys, how="semi")
    pairs = (
        label_ids.join(label_ids, on=keys, suffix="_b")
        .filter(pl.col("label_id") < pl.col("label_id_b"))
        .join(boxes.group_by(*keys, "label_id").len("n_a"), on=[*keys, "label_id"], how="left")
        .join(
            boxes.group_by(*keys, "label_id").len("n_b").rename({"label_id": "label_id_b"}),
            on=[*keys, "label_id_b"],
            how="left",
        )
        .with_columns(pl.col("n_a").fill_null(0), pl.col("n_b").fill_null(0))
    )
    presence = ((pl.col("n_a") > 0) == (pl.col("n_b") > 0)).mean() if pairs.height else pl.lit(None)
    both = pairs.filter((pl.col("n_a") > 0) & (pl.col("n_b") > 0)).select(
        *keys, "label_id", "label_id_b"
    )
    # every box of one label against every box of the other, in both directions
    directed = pl.concat(
        [
            both,
            both.select(
                *keys,
                pl.col("label_id_b").alias("label_id"),
                pl.col("label_id").alias("label_id_b"),
            ),
        ]
    )
    cross = (
        directed.join(boxes, on=[*keys, "label_id"])
        .join(
            boxes.rename({c: f"{c}_o" for c in ("box", "x0", "y0", "x1", "y1")}).rename(
                {"label_id": "label_id_b"}
            ),
            on=[*keys, "label_id_b"],
        )
        .with_columns(
            inter=(
                (pl.min_horizontal("x1", "x1_o") - pl.max_horizontal("x0", "x0_o")).clip(0)
                * (pl.min_horizontal("y1", "y1_o") - pl.max_horizontal("y0", "y0_o")).clip(0)
            ),
            area=(pl.col("x1") - pl.col("x0")) * (pl.col("y1") - pl.col("y0")),
            area_o=(pl.col("x1_o") - pl.col("x0_o")) * (pl.col("y1_o") - pl.col("y0_o")),
        )
        .with_columns(
            iou=pl.when((pl.col("area") + pl.col("area_o") - pl.col("inter")) > 0)
            .then(pl.col("inter") / (pl.col("area") + pl.col("area_o") - pl.col("inter")))
            .otherwise(0.0)
        )
    )
    best = cross.group_by(*keys, "label_id", "label_id_b", "box").agg(pl.col("iou").max())
    return pl.DataFrame(
        {
            "images": [pairs.select(pl.struct(keys).n_unique()).item() if pairs.height else 0],
            "label_pairs": [pairs.height],
            "presence_agreement": [pairs.select(presence).item() if pairs.height else None],
            "matched_boxes": [best.height],
            "mean_iou": [best["iou"].mean() if best.height else None],
            "share_iou_at_least_0_5": [(best["iou"] >= IOU_MATCH).mean() if best.height else None],
        },
        schema=BOXES_SCHEMA,
    )


def annotator_agreement(
    tables: LabelTables,
    *,
    questions: Sequence[str] | None = None,
    box_tools: Sequence[str] = BOX_TOOLS,
) -> AgreementReport:
    """Agreement between the labels of each consensus image (see the module text)."""
    consensus = _consensus(tables.labels)
    question_table, disagreements = question_agreement(tables.classifications, consensus, questions)
    return AgreementReport(
        consensus_images=consensus.height,
        questions=question_table,
        boxes=box_agreement(tables.objects, tables.labels, consensus, box_tools),
        disagreements=disagreements,
    )
