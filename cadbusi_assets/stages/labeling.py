"""Labeling stages: send the day's usable images to the label source; ingest label exports.

Sending a day (:func:`send_data_rows`) creates the data rows, then, with a source that queues
(Labelbox, or the folder's outbox), checks the ontology, queues the rows to the project as
batches (priority from the study's BI-RADS) and imports model-assisted pre-labels for the rows
queued now: a ``lesion`` box from the image's caliper marks and the ``laterality`` and ``clock``
of its lesion. The lesion of an image comes from the lesion table (``lesions/*.parquet``) when
it links the image, else from the image's own OCR'd side and clock and caliper box.

Research-zone outputs: ``tables/labelbox_data_rows/<day>`` (with ``queued_in``: the label
source whose project has the row in a batch, e.g. ``labelbox:<project id>``; rows queued there
are not queued again; ``withdrawn``: sent earlier, no longer usable here, still in Labelbox,
kept as the record and reported); ``labels/labelbox/{labels,objects,
classifications}.parquet`` (the current label set: each label id once, newest version wins, with
a ``label_set_version``), an immutable snapshot per version under
``labels/labelbox/versions/<version>/``, and ``labels/labelbox/history/`` with every label version
that was superseded (relabelled, re-exported, or deleted at the source) — its ``label_revision``,
the ``label_set_version`` it was current in (null when it never was), ``superseded_in`` (the
label set that replaced it) and ``superseded_by`` (the revision that won; null when deleted).
``labels/labelbox/agreement_{questions,boxes}.parquet``: annotator agreement over the images
labelled more than once (consensus), also in the ingestion report.

Who labelled what: ``annotator_hash`` is a keyed pseudonym of the labeler (the pseudonym key;
:mod:`cadbusi_assets.labeling.annotators`); the label set records the key's fingerprint in
``current.json`` and another key is refused. :func:`migrate_label_store` (run first by every
ingestion) rewrites tables stored before in place: typed text and unknown classes or questions
scrubbed, unkeyed annotator hashes re-keyed, in the current set, the history and every snapshot
under ``versions/`` (recorded in ``labels/labelbox/migrations.json``).

Withdrawn data rows (``withdrawn`` in ``labelbox_data_rows``) are deleted in the label source by
:func:`delete_withdrawn_data_rows` (the ``delete_withdrawn_data_rows`` job, with a reason), each
recorded once in ``labels/labelbox/deleted_data_rows.parquet``.

Segmentation masks (Labelbox exports only their URLs) are fetched once through the label source,
checked against the image's size, reduced to the object's colour and stored under
``labels/labelbox/masks/``; the objects table gets ``mask_path`` / ``mask_sha256``. A mask that
cannot be fetched or checked is a problem naming the label id (see
:mod:`cadbusi_assets.labeling.masks`).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import polars as pl

from cadbusi_assets.exports.lesion_masks import LESION_OBJECT_NAMES, unusable_lesion_geometry
from cadbusi_assets.labeling import (
    LabelSource,
    LabelTables,
    build_data_rows,
    label_set_version,
    merge_label_tables,
)
from cadbusi_assets.labeling.agreement import annotator_agreement
from cadbusi_assets.labeling.annotators import (
    KeyedPseudonymizer,
    annotator_function,
    rekey_annotator_column,
)
from cadbusi_assets.labeling.consensus import ConsensusConfig, ensure_consensus
from cadbusi_assets.labeling.masks import (
    MAX_LISTED_PROBLEMS,
    MaskReference,
    attach_masks,
    image_sizes_from_table,
    recording_mask_references,
    with_mask_columns,
)
from cadbusi_assets.labeling.ndjson import (
    CLASSIFICATIONS_SCHEMA,
    LABELS_SCHEMA,
    OBJECTS_SCHEMA,
    concat_history,
    label_revisions,
    labels_made_by_hand,
    parse_export,
    scrub_label_fields,
    scrub_label_text,
    scrub_text_answers,
)
from cadbusi_assets.labeling.ontology import (
    ClassificationSpec,
    OntologyError,
    OntologySpec,
    ensure_ontology,
)
from cadbusi_assets.labeling.prelabels import caliper_lesion_tables, one_lesion_per_image
from cadbusi_assets.labeling.quality import (
    ClassCheck,
    QuestionCheck,
    check_object_classes,
    check_questions,
    image_disagreements,
    image_readings,
)
from cadbusi_assets.labeling.releases import ReleasePolicy, release_name
from cadbusi_assets.labeling.row_data import RowDataConfig, row_data_locator
from cadbusi_assets.records.lesions import caliper_measurement
from cadbusi_assets.stages.analysis import FEATURES_TABLE, INPAINTED_TABLE, TWINS_TABLE
from cadbusi_assets.stages.deidentification import IMAGES_TABLE, STUDIES_TABLE
from cadbusi_assets.stages.lesions import LESION_IMAGES_PATH, LESIONS_PATH, inherit_twin_calipers
from cadbusi_assets.stages.report import MissingUpstream, PartitionReport, StageFailure
from cadbusi_assets.stages.safety import (
    ALLOW_SHRINK_ENV,
    KEY_FINGERPRINTS_TABLE,
    allow_shrink_enabled,
    guard_shrink,
    is_sharp_drop,
)
from cadbusi_assets.storage import Zone, read_partition_table, write_partition_table
from cadbusi_assets.storage.tables import left_out_batches, read_all_partition_tables

DATA_ROWS_TABLE = "labelbox_data_rows"
LABELS_DIR = ("labels", "labelbox")
TABLE_NAMES = ("labels", "objects", "classifications")
HISTORY_DIR = (*LABELS_DIR, "history")
#: annotator agreement of the current label set (consensus images only)
AGREEMENT_FILE = "agreement_questions.parquet"
BOX_AGREEMENT_FILE = "agreement_boxes.parquet"


def send_data_rows(
    research_zone: Zone,
    source: LabelSource,
    batch: str,
    row_data: RowDataConfig | None = None,
    ontology: OntologySpec | None = None,
    consensus: ConsensusConfig | None = None,
    *,
    allow_shrink: bool | None = None,
    withdrawn: frozenset[str] = frozenset(),
    release: ReleasePolicy | None = None,
) -> PartitionReport:
    """Images of a batch that passed quality checks become data rows in dataset ``batch``, or,
    when ``release`` (default: ``CADBUSI_LABELBOX_RELEASE_*``) is not immediate, wait in the
    send queue for a release that mixes several dates (:mod:`cadbusi_assets.labeling.releases`;
    :func:`release_waiting`, run after the date: the rows of every date waiting go at once).

    ``row_data`` (default: from ``CADBUSI_LABELBOX_ROW_DATA`` / ``CADBUSI_SIGNED_URL_HOURS``)
    chooses what Labelbox gets: the zone path, a signed URL or uploaded bytes. The table keeps
    the zone location, the mode and the expiry, never the signed URL.

    Then, when the source queues (see the module doc), the rows go to the project as batches
    and their pre-labels are imported; ``ontology`` (default: ``CADBUSI_LABELBOX_ONTOLOGY`` or
    the built-in one) is checked first. Counts: ``rows_queued``, ``batches_created``,
    ``prelabels_imported``, ``prelabel_errors``; ontology differences and rejected pre-labels
    are problems (the pre-labels are skipped on a differing ontology). ``consensus`` (default:
    ``CADBUSI_LABELBOX_CONSENSUS*``) is compared with the project's quality settings
    (differences are problems) and given to the batches when on in both.

    The table is the record of what Labelbox holds: when the usable images drop sharply
    against it, nothing is sent or written (:class:`StageFailure`) unless ``allow_shrink``
    (default ``$CADBUSI_ALLOW_SHRINK``).

    ``withdrawn``: research pseudonyms of patients on the opt-out list
    (:func:`~cadbusi_assets.stages.safety.withdrawn_patients`); a date that still holds images
    of one of them sends nothing (:class:`StageFailure`) until it is re-run."""
    config = row_data or RowDataConfig.from_env()
    images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    features = read_partition_table(research_zone, FEATURES_TABLE, batch)
    inpainted = read_partition_table(research_zone, INPAINTED_TABLE, batch)
    if images is None or features is None:
        raise MissingUpstream("image_features for this date is missing; materialize it first.")
    usable = (
        features.filter(pl.col("exclusion_reason").is_null()).select("image_id")
        if features.height
        else pl.DataFrame(schema={"image_id": pl.Utf8})
    )
    selected = images.join(usable, on="image_id", how="semi")
    if (
        withdrawn
        and "patient_pseudo" in images.columns
        and images.filter(pl.col("patient_pseudo").is_in(sorted(withdrawn))).height
    ):
        # the message is the date's failure reason, shown beside the real date: no count
        raise StageFailure(
            "this study date holds images of patients on the opt-out list "
            "(CADBUSI_OPT_OUT_FILE) who withdrew after it was processed; nothing was sent "
            "to Labelbox. Re-run the date from raw_dicom, then send it again."
        )
    previous = read_partition_table(research_zone, DATA_ROWS_TABLE, batch)
    # rows of images that left the date upstream (their study moved to another date: behind
    # the de-identification's guard) are no surprise here; an image that is still the date's
    # and no longer usable is (global key = image id)
    held = 0
    if previous is not None:
        live = _not_withdrawn(previous)
        held = live.filter(pl.col("global_key").is_in(images["image_id"].to_list())).height
    # the message is the date's failure reason, shown beside the real date: no batch name
    guard_shrink(
        "usable images",
        "this study date",
        held,
        selected.height,
        allow_shrink=allow_shrink,
        source="image_features",
    )
    policy = release or ReleasePolicy.from_env()
    if policy.immediate:
        # every date at once (rows a date left waiting under a stricter setting go with their
        # date's next run); no release reads the other dates' tables
        return _send_now(
            research_zone,
            source,
            batch,
            config,
            selected,
            images,
            features,
            inpainted,
            previous,
            ontology,
            consensus,
        )
    report = _send_released(
        research_zone, source, batch, config, selected, images, inpainted, previous, policy
    )
    release_waiting(
        research_zone, source, policy, report, config, ontology, consensus, withdrawn=withdrawn
    )
    return report


def _send_now(
    research_zone: Zone,
    source: LabelSource,
    batch: str,
    config: RowDataConfig,
    selected: pl.DataFrame,
    images: pl.DataFrame,
    features: pl.DataFrame,
    inpainted: pl.DataFrame | None,
    previous: pl.DataFrame | None,
    ontology: OntologySpec | None,
    consensus: ConsensusConfig | None,
) -> PartitionReport:
    """The date's rows to dataset ``batch`` at once, then queued (a release of one date)."""
    with row_data_locator(research_zone, config) as locate:
        rows = build_data_rows(selected, locate, inpainted)
        sent = source.send_data_rows(batch, rows)
        stored = build_data_rows(selected, locate.location, inpainted)
    expires = locate.expires_at.isoformat(timespec="seconds") if locate.expires_at else None
    table = _stored_table(stored, config, expires)
    report = _date_report(batch, sent, images, selected, config, expires)
    queued = _queue(
        research_zone, source, batch, table, images, features, report, ontology, consensus
    )
    if queued is not None:
        table = table.with_columns(
            queued_in=pl.when(pl.col("global_key").is_in(sorted(queued)))
            .then(pl.lit(source.name))
            .otherwise(pl.lit(None, pl.Utf8))
        )
    table = _keep_withdrawn(table, previous, report)
    write_partition_table(research_zone, DATA_ROWS_TABLE, batch, table)
    return report


#: the lock a date's sending holds (a release rewrites the tables of other dates)
RELEASE_LOCK = "labelbox_release"
#: ``labelbox_data_rows`` columns of the send queue: the release (dataset) a row went to
#: Labelbox in (null: waiting), and why a row is not in Labelbox yet
RELEASED_IN = "released_in"
WAITING_REASON = "waiting_reason"


def _released(table: pl.DataFrame | None, batch: str) -> dict[str, str]:
    """global key -> the dataset its row is in, of the rows in Labelbox (a table written
    before the send queue: every row, in dataset ``batch``)."""
    if table is None or table.height == 0:
        return {}
    if RELEASED_IN not in table.columns:
        table = table.with_columns(pl.lit(batch).alias(RELEASED_IN))
    table = table.filter(pl.col(RELEASED_IN).is_not_null())
    return dict(zip(table["global_key"].to_list(), table[RELEASED_IN].to_list(), strict=True))


def _send_released(
    research_zone: Zone,
    source: LabelSource,
    batch: str,
    config: RowDataConfig,
    selected: pl.DataFrame,
    images: pl.DataFrame,
    inpainted: pl.DataFrame | None,
    previous: pl.DataFrame | None,
    policy: ReleasePolicy,
) -> PartitionReport:
    """The date's rows into the send queue: rows already in Labelbox are sent again to the
    dataset they are in (keyed by global key: row data refreshed, nothing new created); the
    others wait, listed with the reason, for :func:`release_waiting`."""
    released = _released(previous, batch)
    queued_before: dict[str, str | None] = {}
    if previous is not None and "queued_in" in previous.columns:
        queued_before = dict(
            zip(previous["global_key"].to_list(), previous["queued_in"].to_list(), strict=True)
        )
    sent = 0
    with row_data_locator(research_zone, config) as locate:
        for name in sorted(set(released.values())):
            keys = sorted(k for k, v in released.items() if v == name)
            again = selected.filter(pl.col("image_id").is_in(keys))
            if again.height:
                sent += source.send_data_rows(name, build_data_rows(again, locate, inpainted))
        stored = build_data_rows(selected, locate.location, inpainted)
    expires = locate.expires_at.isoformat(timespec="seconds") if locate.expires_at else None
    table = _stored_table(stored, config, expires)
    key = pl.col("global_key")
    table = table.with_columns(
        key.replace_strict(released, default=None, return_dtype=pl.Utf8).alias(RELEASED_IN)
    ).with_columns(
        pl.when(pl.col(RELEASED_IN).is_null())
        .then(pl.lit(policy.waiting_reason()))
        .otherwise(pl.lit(None, pl.Utf8))
        .alias(WAITING_REASON),
        pl.when(pl.col(RELEASED_IN).is_not_null())
        .then(pl.col("row_data_expires_at"))
        .otherwise(pl.lit(None, pl.Utf8))
        .alias("row_data_expires_at"),
        key.replace_strict(queued_before, default=None, return_dtype=pl.Utf8).alias("queued_in"),
    )
    report = _date_report(batch, sent, images, selected, config, expires)
    report.count("images_waiting_for_release", table[RELEASED_IN].null_count())
    table = _keep_withdrawn(table, previous, report)
    write_partition_table(research_zone, DATA_ROWS_TABLE, batch, table)
    return report


def _stored_table(
    stored: list[dict[str, Any]], config: RowDataConfig, expires: str | None
) -> pl.DataFrame:
    return pl.DataFrame(
        stored,
        schema={"global_key": pl.Utf8, "external_id": pl.Utf8, "row_data": pl.Utf8},
        orient="row",
    ).with_columns(
        row_data_mode=pl.lit(config.mode),
        row_data_expires_at=pl.lit(expires, pl.Utf8),
    )


def _date_report(
    batch: str,
    sent: int,
    images: pl.DataFrame,
    selected: pl.DataFrame,
    config: RowDataConfig,
    expires: str | None,
) -> PartitionReport:
    report = PartitionReport(batch, row_count=sent)
    report.count("data_rows_sent", sent)
    report.count("images_not_sent_excluded", images.height - selected.height)
    report.tables["row_data"] = pl.DataFrame(
        {"mode": [config.mode], "expires_at": [expires]},
        schema={"mode": pl.Utf8, "expires_at": pl.Utf8},
    )
    return report


def _waiting(table: pl.DataFrame) -> pl.DataFrame:
    """The rows of a data-rows table that wait for a release."""
    if RELEASED_IN not in table.columns:
        return table.clear()
    return _not_withdrawn(table).filter(pl.col(RELEASED_IN).is_null())


def _data_row_tables(research_zone: Zone) -> dict[str, pl.DataFrame]:
    return {
        path.name.removesuffix(".parquet"): pl.read_parquet(io.BytesIO(path.read_bytes()))
        for path in research_zone.iter_files("tables", DATA_ROWS_TABLE, suffix=".parquet")
    }


def release_waiting(
    research_zone: Zone,
    source: LabelSource,
    policy: ReleasePolicy,
    report: PartitionReport,
    row_data: RowDataConfig | None = None,
    ontology: OntologySpec | None = None,
    consensus: ConsensusConfig | None = None,
    *,
    withdrawn: frozenset[str] = frozenset(),
) -> int:
    """Send every image of the send queue (the rows of every date that wait) as one release
    when ``policy`` is met: one dataset :func:`~.releases.release_name`, rows created in the
    order of their keyed image ids, queued to the project as batches of the release, with their
    pre-labels; each date's table records the release (``released_in``). Rows in Labelbox not
    yet queued to its project are queued with the next release. Returns how many rows went.
    The caller holds the release lock (one release at a time)."""
    config = row_data or RowDataConfig.from_env()
    tables = _data_row_tables(research_zone)
    chosen: dict[str, tuple[pl.DataFrame, pl.DataFrame | None]] = {}
    for batch, table in tables.items():
        waiting = _waiting(table)
        if waiting.height == 0:
            continue
        images = read_partition_table(research_zone, IMAGES_TABLE, batch)
        features = read_partition_table(research_zone, FEATURES_TABLE, batch)
        if images is None or features is None:
            continue  # the date is being re-run upstream: its rows wait for its own run
        # only images still usable and of no patient who withdrew: the others wait until
        # their date is sent again (which drops them)
        usable = features.filter(pl.col("exclusion_reason").is_null()).select("image_id")
        images = images.join(usable, on="image_id", how="semi").filter(
            pl.col("image_id").is_in(waiting["global_key"].to_list())
        )
        if withdrawn and "patient_pseudo" in images.columns:
            images = images.filter(~pl.col("patient_pseudo").is_in(sorted(withdrawn)))
        if images.height:
            chosen[batch] = (images, read_partition_table(research_zone, INPAINTED_TABLE, batch))
    keys = sorted(k for images, _ in chosen.values() for k in images["image_id"].to_list())
    if not policy.ready(dates=len(chosen), images=len(keys)):
        return 0
    name = release_name(keys)
    rows: list[dict[str, Any]] = []
    with row_data_locator(research_zone, config) as locate:
        for images, inpainted in chosen.values():
            rows += build_data_rows(images, locate, inpainted)
        # in the order of the image ids (hashes of pseudonyms), not date after date: a label
        # source creates rows in the order it gets them
        rows.sort(key=lambda row: str(row["global_key"]))
        sent = source.send_data_rows(name, rows)
    expires = locate.expires_at.isoformat(timespec="seconds") if locate.expires_at else None
    queued = _queue_release(
        research_zone, source, name, tables, set(keys), report, ontology, consensus
    )
    for batch, table in tables.items():
        if RELEASED_IN not in table.columns:
            continue
        mine = pl.col("global_key").is_in(keys) & pl.col(RELEASED_IN).is_null()
        fresh = pl.col("global_key").is_in(sorted(queued)) if queued is not None else pl.lit(False)
        changed = table.with_columns(
            pl.when(mine)
            .then(pl.lit(expires, pl.Utf8))
            .otherwise(pl.col("row_data_expires_at"))
            .alias("row_data_expires_at"),
            pl.when(mine).then(pl.lit(name)).otherwise(pl.col(RELEASED_IN)).alias(RELEASED_IN),
            pl.when(mine)
            .then(pl.lit(None, pl.Utf8))
            .otherwise(pl.col(WAITING_REASON))
            .alias(WAITING_REASON),
            pl.when(fresh)
            .then(pl.lit(source.name))
            .otherwise(pl.col("queued_in"))
            .alias("queued_in"),
        )
        if not changed.equals(table):
            write_partition_table(research_zone, DATA_ROWS_TABLE, batch, changed)
    report.count("data_rows_released", sent)
    report.count("release_dates", len(chosen))
    return sent


def _queue_release(
    research_zone: Zone,
    source: LabelSource,
    name: str,
    tables: dict[str, pl.DataFrame],
    released: set[str],
    report: PartitionReport,
    ontology: OntologySpec | None,
    consensus: ConsensusConfig | None,
) -> set[str] | None:
    """Queue the release's rows (and rows in Labelbox not yet queued to its project) as
    batches of the release, with their pre-labels; the global keys queued (None when the
    source does not queue)."""
    if getattr(source, "queue_rows", None) is None:
        return None
    rows, lesions, links, linked = [], [], [], 0
    for batch, table in tables.items():
        if RELEASED_IN not in table.columns:
            continue
        live = _not_withdrawn(table)
        pending = live.filter(
            pl.col("global_key").is_in(sorted(released))
            | (
                pl.col(RELEASED_IN).is_not_null()
                & (pl.col("queued_in").fill_null("") != source.name)
            )
        )
        if pending.height == 0:
            continue
        images = read_partition_table(research_zone, IMAGES_TABLE, batch)
        features = read_partition_table(research_zone, FEATURES_TABLE, batch)
        if images is None or features is None:
            raise MissingUpstream("the image features of a date in the send queue are missing")
        keys = pending["global_key"].to_list()
        rows.append(
            pending.select("global_key").join(
                _birads(research_zone, batch, images), on="global_key", how="left"
            )
        )
        found = prelabel_lesions(research_zone, batch, features, keys)
        lesions.append(found[0])
        links.append(found[1])
        linked += found[2]
    if not rows:
        return set()
    return _queue_rows(
        source,
        name,
        pl.concat(rows, how="diagonal_relaxed").sort("global_key"),
        [],
        pl.concat(lesions, how="diagonal_relaxed").unique(
            "lesion_id", keep="first", maintain_order=True
        ),
        pl.concat(links, how="diagonal_relaxed"),
        linked,
        report,
        ontology,
        consensus,
    )


#: ``labelbox_data_rows`` column: the image was sent earlier and is no longer usable here
#: (quarantined, excluded, or gone from the date since); Labelbox still holds its data row
WITHDRAWN = "withdrawn"


def _not_withdrawn(table: pl.DataFrame) -> pl.DataFrame:
    if WITHDRAWN not in table.columns:
        return table
    return table.filter(~pl.col(WITHDRAWN).fill_null(False))


def _keep_withdrawn(
    table: pl.DataFrame, previous: pl.DataFrame | None, report: PartitionReport
) -> pl.DataFrame:
    """``table`` plus the rows of ``previous`` it no longer has, marked :data:`WITHDRAWN`: the
    table is the record of what Labelbox holds, and sending fewer rows deletes nothing there.
    The count is a problem (no image id: the date's report is shown beside the real date)."""
    table = table.with_columns(pl.lit(False).alias(WITHDRAWN))
    if previous is None or previous.height == 0:
        report.count("data_rows_withdrawn", 0)
        return table
    if WITHDRAWN not in previous.columns:
        previous = previous.with_columns(pl.lit(False).alias(WITHDRAWN))
    if RELEASED_IN in previous.columns:  # a row that waited was never in Labelbox: it just goes
        previous = previous.filter(pl.col(RELEASED_IN).is_not_null())
    gone = previous.join(table.select("global_key"), on="global_key", how="anti").with_columns(
        pl.lit(True).alias(WITHDRAWN)
    )
    newly = gone.join(
        previous.filter(pl.col(WITHDRAWN)).select("global_key"), on="global_key", how="anti"
    ).height
    report.count("data_rows_withdrawn", gone.height)
    if gone.height:
        report.add_problem(
            f"{gone.height} images sent to Labelbox earlier are no longer usable ({newly} since "
            "the last run: quarantined or excluded); Labelbox still holds their data rows "
            "until the delete_withdrawn_data_rows job deletes them (labelbox_data_rows, "
            "column withdrawn)"
        )
    return pl.concat([table, gone], how="diagonal_relaxed").sort("global_key")


def _queue(
    research_zone: Zone,
    source: LabelSource,
    batch: str,
    table: pl.DataFrame,
    images: pl.DataFrame,
    features: pl.DataFrame,
    report: PartitionReport,
    ontology: OntologySpec | None,
    consensus: ConsensusConfig | None = None,
) -> set[str] | None:
    """Queue the day's data rows and import their pre-labels when ``source`` can; the global
    keys in a batch of the project afterwards (None when the source does not queue)."""
    queue_rows = getattr(source, "queue_rows", None)
    if queue_rows is None or table.height == 0:
        return None
    previous = read_partition_table(research_zone, DATA_ROWS_TABLE, batch)
    already = (
        previous.filter(pl.col("queued_in") == source.name)["global_key"].to_list()
        if previous is not None and "queued_in" in previous.columns
        else []
    )
    rows = table.select("global_key").join(
        _birads(research_zone, batch, images), on="global_key", how="left"
    )
    keys = rows["global_key"].to_list()
    lesions, links, linked = prelabel_lesions(research_zone, batch, features, keys)
    return _queue_rows(
        source, batch, rows, already, lesions, links, linked, report, ontology, consensus
    )


def _queue_rows(
    source: LabelSource,
    dataset: str,
    rows: pl.DataFrame,
    already: list[str],
    lesions: pl.DataFrame,
    links: pl.DataFrame,
    linked: int,
    report: PartitionReport,
    ontology: OntologySpec | None,
    consensus: ConsensusConfig | None,
) -> set[str]:
    """Queue ``rows`` (``global_key``, ``birads``) not in ``already`` as batches named after
    ``dataset`` and import their pre-labels; the counts and problems go to ``report``."""
    queue_rows = source.queue_rows  # type: ignore[attr-defined]
    keys = rows["global_key"].to_list()
    result = queue_rows(
        dataset,
        rows,
        already_queued=already,
        lesions=lesions,
        lesion_images=links,
        ontology=ontology,
        **({"consensus": consensus} if consensus is not None else {}),
    )
    report.count("rows_queued", result.batches.rows_queued)
    report.count("rows_already_queued", len(set(already) & set(keys)))
    report.count("batches_created", len(result.batches.created))
    refused = sum(len(v) for v in result.batches.failed.values())
    report.count("rows_refused_by_batches", refused)
    if refused:
        report.add_problem(f"{refused} data rows were refused by the project's batches")
    unconfirmed = sum(getattr(result.batches, "unconfirmed", {}).values())
    if unconfirmed:
        report.count("rows_unconfirmed_in_batches", unconfirmed)
        report.add_problem(
            f"{unconfirmed} data rows sent in large batches are not in them (Labelbox names no "
            "rows for batches of 1,000 or more; see the batches in Labelbox)"
        )
    report.count("images_with_lesion_from_lesion_table", linked)
    if result.ontology is not None:
        report.count("ontology_created", int(result.ontology.status == "created"))
        report.count("ontology_differences", len(result.ontology.differences))
        for difference in result.ontology.differences:
            report.add_problem(f"ontology: {difference}")
    quality = getattr(result, "consensus", None)
    if quality is not None:
        report.count("consensus_in_batches", int(quality.batches_get_consensus))
        report.count("consensus_differences", len(quality.differences))
        for difference in quality.differences:
            report.add_problem(f"consensus: {difference}")
    if result.prelabels_skipped:
        report.add_problem("pre-labels skipped: the project's ontology differs (see above)")
    imported = result.prelabels
    report.count("prelabels_imported", imported.succeeded if imported else 0)
    report.count("prelabel_errors", imported.failed if imported else 0)
    if imported is not None:
        # No import name and no image id beside the date: both carry research keys that would
        # map a research batch to its real study date (Labelbox itself has the details).
        report.tables["prelabel_import"] = pl.DataFrame(
            {
                "state": [imported.state],
                "annotations": [imported.annotations],
                "succeeded": [imported.succeeded],
                "failed": [imported.failed],
            }
        )
        if imported.state == "FAILED":
            report.add_problem("the pre-label import failed (see the import in Labelbox)")
        if imported.errors:
            messages = [
                "; ".join(str(x.get("message")) for x in e.get("errors") or [])
                for e in imported.errors
            ]
            errors = (
                pl.DataFrame({"errors": messages}, schema={"errors": pl.Utf8})
                .group_by("errors")
                .len("rows")
                .sort(["rows", "errors"], descending=[True, False])
            )
            report.add_problem(
                f"{imported.failed} pre-labels were rejected by Labelbox; e.g. "
                + "; ".join(f"{n}x {m}" for m, n in errors.head(3).iter_rows())
            )
            report.tables["prelabel_error_messages"] = errors
    return set(already) | set(result.queued_keys)


def _birads(research_zone: Zone, batch: str, images: pl.DataFrame) -> pl.DataFrame:
    """``global_key`` (image id) → the study's BI-RADS (batch priority), when known."""
    studies = read_partition_table(research_zone, STUDIES_TABLE, batch)
    empty = pl.DataFrame(schema={"global_key": pl.Utf8, "birads": pl.Utf8})
    if studies is None or "birads" not in studies.columns or "accession_pseudo" not in images:
        return empty
    return (
        images.select(pl.col("image_id").alias("global_key"), "accession_pseudo")
        .join(
            studies.select("accession_pseudo", pl.col("birads").cast(pl.Utf8)).unique(
                "accession_pseudo", keep="first"
            ),
            on="accession_pseudo",
            how="left",
        )
        .select("global_key", "birads")
        .unique("global_key", keep="first")
    )


_BOX = ("box_x0", "box_y0", "box_x1", "box_y1")


def caliper_evidence(research_zone: Zone, batch: str, features: pl.DataFrame) -> pl.DataFrame:
    """Per image of the day: OCR'd ``laterality`` and ``clock_position`` and the caliper box
    (full-image pixels; a clean frame inherits its caliper twin's marks)."""
    schema = {
        "image_id": pl.Utf8,
        "laterality": pl.Utf8,
        "clock_position": pl.Utf8,
        **{c: pl.Int64 for c in _BOX},
    }
    needed = {"image_id", "laterality", "clock_position", "has_calipers", "caliper_points"}
    if features.height == 0 or not needed <= set(features.columns):
        return pl.DataFrame(schema=schema)
    points_type = pl.List(pl.List(pl.Int64))
    frame = features.select(
        "image_id",
        pl.col("laterality").cast(pl.Utf8),
        pl.col("clock_position").cast(pl.Utf8),
        pl.when(pl.col("has_calipers").fill_null(False))
        .then(pl.col("caliper_points"))
        .cast(points_type)
        .alias("caliper_points"),
    )
    frame = inherit_twin_calipers(frame, read_partition_table(research_zone, TWINS_TABLE, batch))
    box = (
        pl.col("caliper_points")
        .map_elements(
            lambda points: list(caliper_measurement(points.to_list(), None)["box"] or []) or None,
            return_dtype=pl.List(pl.Int64),
        )
        .alias("_box")
    )
    return frame.with_columns(box).select(
        "image_id",
        "laterality",
        "clock_position",
        *[pl.col("_box").list.get(i, null_on_oob=True).alias(c) for i, c in enumerate(_BOX)],
    )


def prelabel_lesions(
    research_zone: Zone, batch: str, features: pl.DataFrame, keys: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """``(lesions, lesion_images, n linked)`` for the pre-labels of ``keys``: an image's
    best-scored link of the lesion table (when the ``lesions`` asset has linked it), else its
    own caliper box with its OCR'd side and clock."""
    links = pl.DataFrame(schema={"lesion_id": pl.Utf8, "image_id": pl.Utf8})
    lesions = pl.DataFrame(schema={"lesion_id": pl.Utf8, "side": pl.Utf8, "clock": pl.Utf8})
    if research_zone.exists(*LESIONS_PATH) and research_zone.exists(*LESION_IMAGES_PATH):
        table_links = research_zone.read_parquet(*LESION_IMAGES_PATH).filter(
            pl.col("image_id").is_in(keys)
        )
        if table_links.height:
            links = one_lesion_per_image(table_links).select("lesion_id", "image_id", *_BOX)
            lesions = (
                research_zone.read_parquet(*LESIONS_PATH)
                .select("lesion_id", "side", "clock")
                .join(links.select("lesion_id").unique(), on="lesion_id", how="semi")
            )
    linked = links.height
    evidence = caliper_evidence(research_zone, batch, features).filter(
        pl.col("image_id").is_in(keys) & ~pl.col("image_id").is_in(links["image_id"].to_list())
    )
    own_lesions, own_links = caliper_lesion_tables(evidence)
    return (
        pl.concat([lesions, own_lesions], how="diagonal_relaxed"),
        pl.concat([links, own_links], how="diagonal_relaxed"),
        linked,
    )


def batches_to_refresh(
    research_zone: Zone, *, now: dt.datetime | None = None, margin_hours: float = 24.0
) -> list[str]:
    """Batches whose signed-URL data rows expire within ``margin_hours`` (or have expired):
    send them again (re-materialize their data rows) so that Labelbox gets fresh URLs; the
    upsert is keyed by global key, so labels and batches are kept."""
    moment = now or dt.datetime.now(dt.UTC)
    limit = (moment + dt.timedelta(hours=margin_hours)).isoformat(timespec="seconds")
    batches = []
    for path in research_zone.iter_files("tables", DATA_ROWS_TABLE, suffix=".parquet"):
        table = pl.read_parquet(io.BytesIO(path.read_bytes()))
        if "row_data_expires_at" not in table.columns:
            continue
        table = _not_withdrawn(table)  # withdrawn rows are not sent again
        expiry = table.select(
            pl.col("row_data_expires_at").str.to_datetime(time_zone="UTC").min()
        ).item()
        if expiry is not None and expiry.isoformat(timespec="seconds") <= limit:
            batches.append(path.name.removesuffix(".parquet"))
    return sorted(batches)


def _read_tables(zone: Zone, folder: tuple[str, ...]) -> dict[str, pl.DataFrame] | None:
    frames = {}
    for name in TABLE_NAMES:
        parts = (*folder, f"{name}.parquet")
        if not zone.exists(*parts):
            return None
        frames[name] = zone.read_parquet(*parts)
    return frames


def _read_current(zone: Zone) -> tuple[LabelTables, str | None]:
    """The current label tables and their ``label_set_version`` (None before the first)."""
    frames = _read_tables(zone, LABELS_DIR)
    if frames is None:
        return LabelTables.empty(), None
    versions = frames["labels"]["label_set_version"].unique().drop_nulls().to_list()
    tables = LabelTables(
        *(frames[name].drop("label_set_version", strict=False) for name in TABLE_NAMES)
    )
    # label sets written before masks were fetched have no mask columns
    tables.objects = with_mask_columns(tables.objects)
    # ... and before typed text was scrubbed: no unscrubbed answer moves on into history
    tables.classifications = scrub_text_answers(tables.classifications)
    return tables, (versions[0] if versions else None)


def _read_history(zone: Zone) -> LabelTables:
    frames = _read_tables(zone, HISTORY_DIR)
    if frames is None:
        return LabelTables.empty_history()
    tables = LabelTables(*(frames[name] for name in TABLE_NAMES))
    tables.objects = with_mask_columns(tables.objects)
    tables.classifications = scrub_text_answers(tables.classifications)
    return tables


def _with_columns(tables: LabelTables, **columns: pl.Expr) -> LabelTables:
    return LabelTables(*(getattr(tables, n).with_columns(**columns) for n in TABLE_NAMES))


def _superseded(
    previous: LabelTables,
    previous_version: str | None,
    in_export: LabelTables,
    current: LabelTables,
    version: str,
    history: LabelTables,
) -> LabelTables:
    """The history after this ingestion: earlier history, the versions of the previous label
    set that are no longer current, and the versions the export itself superseded; minus any
    revision that is current again."""
    now = label_revisions(current)
    before = label_revisions(previous)
    gone = before.join(now, on=["label_id", "label_revision"], how="anti").join(
        now.rename({"label_revision": "superseded_by"}), on="label_id", how="left"
    )

    def annotate(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(gone, on="label_id", how="inner")

    from_previous = LabelTables(
        annotate(previous.labels), annotate(previous.objects), annotate(previous.classifications)
    )
    merged = concat_history(
        [
            history,
            _with_columns(
                from_previous,
                label_set_version=pl.lit(previous_version, pl.Utf8),
                superseded_in=pl.lit(version),
            ),
            _with_columns(
                in_export,
                label_set_version=pl.lit(None, pl.Utf8),
                superseded_in=pl.lit(version),
            ),
        ]
    )
    keys = ["label_id", "label_revision"]

    def not_current(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(now, on=keys, how="anti")

    return LabelTables(
        not_current(merged.labels),
        not_current(merged.objects),
        not_current(merged.classifications),
    )


def _image_sizes(research_zone: Zone, objects: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """(width, height) of the images with a mask object, from the ``images`` tables."""
    wanted = objects.filter(pl.col("mask_url").is_not_null())["image_id"].unique()
    if wanted.len() == 0:
        return {}
    images = read_all_partition_tables(research_zone, IMAGES_TABLE)
    if images is None or "image_id" not in images.columns:
        return {}
    return image_sizes_from_table(images.filter(pl.col("image_id").is_in(wanted.to_list())))


def sent_image_ids(research_zone: Zone) -> set[str] | None:
    """The global keys of every ``labelbox_data_rows`` table (every batch, an interrupted one
    too; not the rows withdrawn since); None when no data rows were ever written (nothing to
    check against)."""
    keys: set[str] = set()
    found = False
    for path in research_zone.iter_files("tables", DATA_ROWS_TABLE, suffix=".parquet"):
        found = True
        table = _not_withdrawn(pl.read_parquet(io.BytesIO(path.read_bytes())))
        if RELEASED_IN in table.columns:  # rows waiting for a release are not in Labelbox
            table = table.filter(pl.col(RELEASED_IN).is_not_null())
        keys.update(k for k in table["global_key"].to_list() if k)
    return keys if found else None


def _only_sent_images(research_zone: Zone, tables: LabelTables) -> tuple[LabelTables, int]:
    """``tables`` without the labels of images this platform never sent (their ids, maybe an
    external id typed in Labelbox, are not kept), and how many labels were left out."""
    sent = sent_image_ids(research_zone)
    if sent is None or tables.labels.height == 0:
        return tables, 0
    keep = pl.col("image_id").is_in(sorted(sent))
    kept = LabelTables(
        tables.labels.filter(keep),
        tables.objects.filter(keep),
        tables.classifications.filter(keep),
    )
    return kept, tables.labels.height - kept.labels.height


def ingest_labels(
    research_zone: Zone,
    source: LabelSource,
    *,
    full: bool = True,
    since: str | None = None,
    allow_shrink: bool | None = None,
    ontology: OntologySpec | None = None,
    pseudonymizer: KeyedPseudonymizer | None = None,
) -> PartitionReport:
    """Export from the source and write the label tables; a new version when content changed.

    ``annotator_hash`` is the labeler's keyed pseudonym with ``pseudonymizer`` (the pseudonym
    key; without it, null). The label set records the key's fingerprint and a run with another
    key is refused. Before anything is read, :func:`migrate_label_store` brings the stored
    tables, history and snapshots up to date (typed text scrubbed, old unkeyed annotator
    hashes re-keyed); counts ``migration_*``.

    ``full``: the export is the complete truth (labels deleted at the source disappear from the
    current set). Otherwise the export is incremental and is upserted into the current tables.
    Either way each label id appears once in the current set (its newest version) and every
    version that stopped being current is kept in ``labels/labelbox/history/``.

    A source that skipped unreadable export files (``skipped_files``) gets an incremental
    merge (nothing deleted) and a problem per file. A full export that would drop the
    current label set sharply (to nothing, or below half) is refused before anything is
    written (:class:`StageFailure`) unless ``allow_shrink`` (default ``$CADBUSI_ALLOW_SHRINK``):
    an empty or cut-off export is far more often a failed download than real deletions.

    Label quality (:mod:`cadbusi_assets.labeling.quality`; reported, labels kept): an object
    class that is an ontology tool (``ontology``, default ``CADBUSI_LABELBOX_ONTOLOGY`` or the
    built-in one; or a lesion name the export reads) but for case or spacing is stored under
    the tool's name (``object_class_normalised``); objects of another class are counted
    (``label_objects_of_unknown_class``) and listed (table ``unknown_object_classes``).
    ``laterality`` / ``clock`` answers that contradict the image's own reading in
    ``image_features`` are counted (``labels_laterality_disagrees_with_image``,
    ``labels_clock_disagrees_with_image``) and listed (table ``image_disagreements``).
    """
    spec, ontology_problem = _ontology(ontology)
    known, _ = _known_object_classes(spec)
    questions = spec.classifications
    migration = migrate_label_store(research_zone, pseudonymizer, known, questions)
    previous, previous_version = _read_current(research_zone)
    # label sets stored before the class check: classes renamed and scrubbed alike, so an
    # unchanged label is not a new revision and no unscrubbed class moves on into history
    previous.objects = check_object_classes(previous.objects, known).objects
    previous.classifications = check_questions(previous.classifications, questions).classifications
    references: list[MaskReference] = []
    hand_made: set[str] = set()  # labels of data rows made by hand in Labelbox (never stored)

    def counted(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            hand_made.update(labels_made_by_hand([row]))
            yield row

    parsed = parse_export(
        recording_mask_references(counted(source.export_rows(None if full else since)), references),
        annotator_function(pseudonymizer),
    )
    fresh, unknown = _only_sent_images(research_zone, parsed.current)
    unknown += len(hand_made)
    superseded, _ = _only_sent_images(research_zone, parsed.superseded)
    parsed = type(parsed)(fresh, superseded)
    # export files the source could not read: their labels are unknown, so none is deleted
    skipped: list[tuple[str, str]] = list(getattr(source, "skipped_files", None) or [])
    # export files changed moments ago may still be being written (cut between two rows, a
    # file looks complete): their new labels are taken, none is deleted until they settle
    unsettled: list[str] = list(getattr(source, "unsettled_files", None) or [])
    reconcile = full and not skipped and not unsettled
    merged = fresh.sorted() if reconcile else merge_label_tables(previous, fresh)
    if (
        reconcile
        and is_sharp_drop(previous.labels.height, merged.labels.height)
        and not allow_shrink_enabled(allow_shrink)
    ):
        raise StageFailure(
            f"the label export holds {merged.labels.height} labels, the current label set "
            f"{previous.labels.height}; refusing to delete them (a failed or partial export?). "
            f"Set {ALLOW_SHRINK_ENV}=1 for the run to accept the deletions"
        )
    classes = check_object_classes(merged.objects, known)
    asked = check_questions(merged.classifications, questions)
    merged = LabelTables(merged.labels, classes.objects, asked.classifications)
    masks = attach_masks(
        research_zone,
        merged.objects,
        merged.labels,
        references,
        getattr(source, "fetch_mask", None),
        _image_sizes(research_zone, merged.objects),
    )
    merged = LabelTables(merged.labels, masks.objects, merged.classifications)
    version = label_set_version(merged)
    if previous.labels.height and previous_version is None:
        previous_version = label_set_version(previous)
    history = _read_history(research_zone)
    history.objects = check_object_classes(history.objects, known).objects
    history.classifications = check_questions(history.classifications, questions).classifications
    superseded_now = parsed.superseded
    superseded_now.objects = check_object_classes(superseded_now.objects, known).objects
    superseded_now.classifications = check_questions(
        superseded_now.classifications, questions
    ).classifications
    history = _superseded(previous, previous_version, superseded_now, merged, version, history)
    for name in TABLE_NAMES:
        frame = getattr(merged, name).with_columns(label_set_version=pl.lit(version))
        research_zone.write_parquet((*VERSIONS_DIR, version, f"{name}.parquet"), frame)
        research_zone.write_parquet((*LABELS_DIR, f"{name}.parquet"), frame)
        research_zone.write_parquet((*HISTORY_DIR, f"{name}.parquet"), getattr(history, name))
    research_zone.write_bytes((*VERSIONS_DIR, version, SNAPSHOT_MARKER), _SNAPSHOT_MARKER_BYTES)
    pointer: dict[str, object] = {"label_set_version": version}
    if pseudonymizer is not None:
        pointer[ANNOTATOR_KEY_FIELD] = pseudonymizer.key_fingerprint
    research_zone.write_bytes(CURRENT_POINTER, json.dumps(pointer, sort_keys=True).encode())
    report = PartitionReport("all", row_count=merged.labels.height)
    for step, changed in migration.items():
        report.count(f"migration_{step}", changed)
    if migration["files_rewritten"]:
        report.add_problem(
            f"{migration['files_rewritten']} stored label tables rewritten (typed text scrubbed, "
            "annotator hashes keyed; labels/labelbox/migrations.json)"
        )
    report.count("export_files_skipped", len(skipped))
    for _name, reason in skipped:
        report.add_problem(f"export file skipped: {reason}")
    if skipped and full:
        report.add_problem(
            "labels absent from the export were kept (not deleted) this time, because an "
            "export file was skipped"
        )
    report.count("export_files_still_changing", len(unsettled))
    deferred = (
        len(set(previous.labels["label_id"]) - set(fresh.labels["label_id"]))
        if unsettled and full and not skipped
        else 0
    )
    report.count("label_deletions_deferred", deferred)
    if deferred:
        report.add_problem(
            f"{deferred} labels absent from the export were kept (not deleted) this time: "
            f"{len(unsettled)} export file(s) changed moments ago and may still be being "
            "written; the next run after they stand still applies deletions "
            "(labelbox_labels_sensor asks for it)"
        )
    report.count("labels_for_images_not_sent", unknown)
    if unknown:
        report.add_problem(
            f"{unknown} labels name an image that no labelbox_data_rows table holds (a data row "
            "made outside this platform, or an image sent under another key or since "
            "withdrawn); left out"
        )
    report.count("labels", merged.labels.height)
    report.count(
        "labelled_images", merged.labels["image_id"].n_unique() if merged.labels.height else 0
    )
    report.count("objects", merged.objects.height)
    report.count("classification_answers", merged.classifications.height)
    report.count("labels_in_this_export", fresh.labels.height)
    report.count("label_versions_superseded_in_this_export", parsed.superseded.labels.height)
    report.count("superseded_label_versions_kept", history.labels.height)
    report.count("new_version", int(version != previous_version))
    report.count("mask_objects", int(merged.objects["mask_url"].is_not_null().sum()))
    report.count("masks_stored", int(merged.objects["mask_path"].is_not_null().sum()))
    report.count("masks_fetched", masks.fetched)
    report.count("masks_reused", masks.reused)
    report.count("mask_problems", len(masks.problems))
    for problem in masks.problems[:MAX_LISTED_PROBLEMS]:
        report.add_problem(
            f"label {problem['label_id']}: mask of object {problem['feature_id']}: "
            f"{problem['problem']}"
        )
    if len(masks.problems) > MAX_LISTED_PROBLEMS:
        report.add_problem(
            f"{len(masks.problems) - MAX_LISTED_PROBLEMS} more mask problems (table mask_problems)"
        )
    if masks.problems:
        report.tables["mask_problems"] = masks.problem_table()
    unusable = unusable_lesion_geometry(merged.objects)
    report.count("lesion_objects_left_out_of_masks", unusable.height)
    for label_id, feature_id, problem in unusable.head(MAX_LISTED_PROBLEMS).iter_rows():
        report.add_problem(f"label {label_id}: object {feature_id}: {problem}; left out")
    if unusable.height:
        report.tables["geometry_problems"] = unusable
    _report_label_quality(report, research_zone, merged, classes, ontology_problem)
    _report_questions(report, asked)
    # answers picked from the ontology, counted; typed text (scrubbed in the tables) and
    # answers to questions or with options the ontology does not have are only counted: they
    # are not a vocabulary and have no place in run metadata
    chosen = merged.classifications.filter(asked.known)
    report.count("text_answers", int((merged.classifications["answer_kind"] == "text").sum()))
    report.tables["answers"] = (
        chosen.group_by(["question", "answer"]).len().sort(["question", "answer"])
        if chosen.height
        else pl.DataFrame()
    )
    report.tables["label_set"] = pl.DataFrame({"label_set_version": [version]})
    agreement = annotator_agreement(merged)
    for name, value in agreement.counts().items():
        report.count(name, value)
    if agreement.consensus_images:
        report.tables["agreement_questions"] = agreement.questions
        report.tables["agreement_boxes"] = agreement.boxes
    research_zone.write_parquet((*LABELS_DIR, AGREEMENT_FILE), agreement.questions)
    research_zone.write_parquet((*LABELS_DIR, BOX_AGREEMENT_FILE), agreement.boxes)
    return report


def _known_object_classes(spec: OntologySpec | None) -> tuple[list[str], str | None]:
    """The object classes ingestion knows: the ontology's tools, then the lesion names the
    export's lesion masks read; and a problem when the configured ontology cannot be read."""
    spec, problem = _ontology(spec)
    tools = [t.name for t in spec.tools]
    return tools + [n for n in LESION_OBJECT_NAMES if n not in tools], problem


def _ontology(spec: OntologySpec | None) -> tuple[OntologySpec, str | None]:
    """``spec``, else the configured ontology (the built-in one, with a problem, when the
    configured one cannot be read)."""
    if spec is not None:
        return spec, None
    try:
        return OntologySpec.from_env(), None
    except (OntologyError, OSError) as exc:
        return OntologySpec.default(), f"labels checked against the built-in ontology: {exc}"


def _image_readings(research_zone: Zone, image_ids: list[str]) -> pl.DataFrame:
    """The side and clock of ``image_ids`` read from their annotations (every
    ``image_features`` table but those of an unfinished pass), only the columns needed."""
    if not image_ids:
        return image_readings(None)
    wanted = ("image_id", "laterality", "clock_position")
    left_out = left_out_batches(research_zone)
    frames = []
    for path in research_zone.iter_files("tables", FEATURES_TABLE, suffix=".parquet"):
        if path.name.removesuffix(".parquet") in left_out:
            continue
        source = io.BytesIO(path.read_bytes())
        columns = [c for c in wanted if c in pl.read_parquet_schema(source)]
        if "image_id" not in columns:
            continue
        source.seek(0)
        frame = pl.read_parquet(source, columns=columns)
        frames.append(frame.filter(pl.col("image_id").cast(pl.Utf8).is_in(image_ids)))
    frames = [f for f in frames if f.height]
    if not frames:
        return image_readings(None)
    return image_readings(pl.concat(frames, how="diagonal_relaxed"))


def _report_questions(report: PartitionReport, asked: QuestionCheck) -> None:
    """Counts, problems and the table of answers to questions (or with options) the ontology
    does not have; a question or answer as typed never appears."""
    report.count("label_answers_to_unknown_questions", asked.unknown_question_answers)
    report.count("label_answers_not_among_options", asked.answers_not_in_options)
    report.count("label_answers_normalised", asked.normalised)
    if asked.unknown_question_answers:
        report.add_problem(
            f"{asked.unknown_question_answers} label answers to questions not in the ontology; "
            "stored scrubbed, not listed among the answers (table unknown_questions)"
        )
    if asked.answers_not_in_options:
        report.add_problem(
            f"{asked.answers_not_in_options} label answers not among their question's options; "
            "stored scrubbed, not listed among the answers (table unknown_questions)"
        )
    if asked.problems.height:
        report.tables["unknown_questions"] = asked.problems


def _report_label_quality(
    report: PartitionReport,
    research_zone: Zone,
    merged: LabelTables,
    classes: ClassCheck,
    ontology_problem: str | None,
) -> None:
    """Counts, problems and tables of the label quality checks (no id in a problem's
    wording beyond the label id; a class as typed never appears)."""
    if ontology_problem:
        report.add_problem(ontology_problem)
    report.count("object_class_normalised", classes.normalised)
    report.count("label_objects_of_unknown_class", classes.problems.height)
    for reason, n in classes.counts_by_reason().items():
        report.add_problem(
            f"{n} label objects: {reason}; stored, but no lesion mask or count reads them "
            "(table unknown_object_classes)"
        )
    if classes.problems.height:
        report.tables["unknown_object_classes"] = classes.problems
    answered = merged.classifications.filter(
        pl.col("question").str.strip_chars().str.to_lowercase().is_in(["laterality", "clock"])
    )
    readings = _image_readings(research_zone, answered["image_id"].unique().to_list())
    disagreements = image_disagreements(answered, readings)
    for question, count in (
        ("laterality", "labels_laterality_disagrees_with_image"),
        ("clock", "labels_clock_disagrees_with_image"),
    ):
        rows = disagreements.filter(pl.col("question") == question)
        n = rows["label_id"].n_unique() if rows.height else 0
        report.count(count, n)
        if n:
            report.add_problem(
                f"{n} labels answer {question} otherwise than the image's own annotation "
                "(image_features); labels kept as answered: check them (table "
                "image_disagreements)"
            )
    if disagreements.height:
        report.tables["image_disagreements"] = disagreements


def check_ontology(
    source: LabelSource, spec: OntologySpec | None = None, *, create: bool = True
) -> PartitionReport:
    """Create (when the project has none) or compare the project's ontology with the configured
    one (``CADBUSI_LABELBOX_ONTOLOGY``, else the default); differences become problems."""
    report = PartitionReport("all")
    get_client = getattr(source, "_get_client", None)
    project_id = getattr(source, "project_id", None)
    if get_client is None or not project_id:
        report.count("ontology_checked", 0)
        return report
    check = ensure_ontology(get_client(), project_id, spec, create=create)
    report.count("ontology_checked", 1)
    report.count("ontology_created", int(check.status == "created"))
    report.count("ontology_differences", len(check.differences))
    for difference in check.differences:
        report.add_problem(f"ontology: {difference}")
    report.failed = not check.ok
    return report


def check_consensus_settings(
    source: LabelSource, config: ConsensusConfig | None = None
) -> PartitionReport:
    """Compare the project's consensus (quality) settings with the configured ones
    (``CADBUSI_LABELBOX_CONSENSUS*``); differences become problems, nothing is changed."""
    report = PartitionReport("all")
    get_client = getattr(source, "_get_client", None)
    project_id = getattr(source, "project_id", None)
    if get_client is None or not project_id:
        report.count("consensus_checked", 0)
        return report
    check = ensure_consensus(get_client(), project_id, config or ConsensusConfig.from_env())
    report.count("consensus_checked", 1)
    report.count("consensus_differences", len(check.differences))
    for difference in check.differences:
        report.add_problem(f"consensus: {difference}")
    report.failed = not check.ok
    return report


def current_label_set_version(research_zone: Zone) -> str | None:
    parts = (*LABELS_DIR, "current.json")
    if not research_zone.exists(*parts):
        return None
    return json.loads(research_zone.read_bytes(*parts))["label_set_version"]


# -- the stored label tables: key check and migration ------------------------------------------

VERSIONS_DIR = (*LABELS_DIR, "versions")
CURRENT_POINTER = (*LABELS_DIR, "current.json")
#: one entry per migration run that changed a stored table (append-only list)
MIGRATIONS_FILE = (*LABELS_DIR, "migrations.json")
MIGRATION_NAME = (
    "label-store: typed text scrubbed, annotator pseudonyms keyed, project names scrubbed, "
    "workflow statuses and annotation kinds closed"
)
#: the history's old → new revisions while a migration rewrites its tables (see
#: :func:`migrate_label_store`)
PENDING_REVISIONS_FILE = (*LABELS_DIR, "migration_revisions.json")
#: in a snapshot folder: its tables hold no typed text unscrubbed and no unkeyed annotator hash
SNAPSHOT_MARKER = "migrated.json"
_SNAPSHOT_MARKER_BYTES = json.dumps({"migration": MIGRATION_NAME}).encode()
#: ``current.json`` field: fingerprint of the key the annotator pseudonyms were made with
ANNOTATOR_KEY_FIELD = "annotator_key_fingerprint"


def _pointer(zone: Zone) -> dict[str, object]:
    if not zone.exists(*CURRENT_POINTER):
        return {}
    loaded = json.loads(zone.read_bytes(*CURRENT_POINTER))
    return loaded if isinstance(loaded, dict) else {}


def _zone_key_fingerprints(zone: Zone) -> set[str]:
    """The key fingerprints recorded for the research zone's dates (``key_fingerprints``)."""
    found: set[str] = set()
    for path in zone.iter_files("tables", KEY_FINGERPRINTS_TABLE, suffix=".parquet"):
        frame = pl.read_parquet(io.BytesIO(path.read_bytes()))
        if "fingerprint" in frame.columns:
            found |= {str(f) for f in frame["fingerprint"].drop_nulls().to_list()}
    return found


def check_annotator_key(zone: Zone, pseudonymizer: KeyedPseudonymizer | None) -> None:
    """:class:`StageFailure` when the stored label set's annotator pseudonyms were made with
    another pseudonym key than ``pseudonymizer``'s (or with a key, and none is given): every
    label would look relabelled and the history would fill with copies under second
    pseudonyms."""
    recorded = _pointer(zone).get(ANNOTATOR_KEY_FIELD)
    if recorded is None:
        # a label set from before keyed pseudonyms: the first key claims it, so it must be the
        # key the research zone's dates were made with
        if pseudonymizer is not None:
            zone_keys = _zone_key_fingerprints(zone)
            if zone_keys and pseudonymizer.key_fingerprint not in zone_keys:
                raise StageFailure(
                    "the research zone's dates were made with another pseudonym key than this "
                    "run's; refusing to key the label set's annotator pseudonyms with it"
                )
        return
    if pseudonymizer is None:
        raise StageFailure(
            "the stored label set's annotator pseudonyms were made with the pseudonym key; "
            "label ingestion needs that key (none was given)"
        )
    if pseudonymizer.key_fingerprint != recorded:
        raise StageFailure(
            "the stored label set's annotator pseudonyms were made with another pseudonym key "
            f"(fingerprint {recorded}, this run's {pseudonymizer.key_fingerprint}); refusing to "
            "ingest labels with it"
        )


def _scrubbed_tables(
    frames: dict[str, pl.DataFrame],
    key: KeyedPseudonymizer | None,
    known: list[str],
    questions: Sequence[ClassificationSpec],
) -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
    """The three tables with typed text scrubbed, unknown object classes and questions
    scrubbed, project names scrubbed, workflow statuses and annotation kinds closed to their
    vocabularies (:func:`scrub_label_fields`) and annotator hashes keyed
    (:func:`rekey_annotator_column`), and what changed."""
    labels, rekeyed = rekey_annotator_column(frames["labels"], key)
    labels, objects = scrub_label_fields(labels, frames["objects"])
    fields_changed = sum(
        int(
            (new[c].cast(pl.Utf8).fill_null("\x00") != old[c].cast(pl.Utf8).fill_null("\x00")).sum()
        )
        for new, old, columns in (
            (labels, frames["labels"], ("project_name", "workflow_status")),
            (objects, frames["objects"], ("kind",)),
        )
        for c in columns
        if c in old.columns and old.height
    )
    answers = scrub_text_answers(frames["classifications"])
    if answers.height and {"question", "answer_kind", "label_id"} <= set(answers.columns):
        answers = check_questions(answers, questions).classifications
    before = frames["classifications"]
    scrubbed = (
        int((before["answer"].cast(pl.Utf8) != answers["answer"].cast(pl.Utf8)).sum())
        if before.height and "answer" in before.columns
        else 0
    )
    classes_changed = 0
    if objects.height and "name" in objects.columns:
        checked = check_object_classes(objects, known).objects
        classes_changed = int(
            (checked["name"].fill_null("\x00") != objects["name"].fill_null("\x00")).sum()
        )
        objects = checked
    return (
        {"labels": labels, "objects": objects, "classifications": answers},
        {
            "annotator_values_rekeyed": rekeyed if key is not None else 0,
            "annotator_values_dropped": rekeyed if key is None else 0,
            "text_answers_scrubbed": scrubbed,
            "object_classes_changed": classes_changed,
            "label_fields_changed": fields_changed,
        },
    )


_BASE_SCHEMAS = {
    "labels": LABELS_SCHEMA,
    "objects": OBJECTS_SCHEMA,
    "classifications": CLASSIFICATIONS_SCHEMA,
}


def _history_revisions(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``label_id``, ``label_revision`` (as stored) → ``computed``: the content hash of each
    stored history version over the table columns (as :func:`label_revisions` computes it)."""
    # label_revisions() names its output label_revision, which is a key here: the stored
    # revision goes under a stand-in name
    base = LabelTables(
        *(
            frames[name].select(
                *[c for c in _BASE_SCHEMAS[name] if c in frames[name].columns and c != "label_id"],
                "label_id",
                pl.col("label_revision").alias("_stored"),
            )
            for name in TABLE_NAMES
        )
    )
    return label_revisions(base, ["label_id", "_stored"]).rename(
        {"label_revision": "computed", "_stored": "label_revision"}
    )


def _revision_map(before: pl.DataFrame, after: pl.DataFrame) -> dict[str, str]:
    """``label_id \\x1f old revision`` → new revision, for the versions whose content hash
    changed (``before`` / ``after``: ``label_id``, ``label_revision``, ``computed``)."""
    joined = before.join(after, on=["label_id", "label_revision"], suffix="_after").filter(
        pl.col("computed") != pl.col("computed_after")
    )
    return {
        f"{label_id}\x1f{stored}": new
        for label_id, stored, new in joined.select(
            "label_id", "label_revision", "computed_after"
        ).iter_rows()
    }


def _changed(old: dict[str, pl.DataFrame], new: dict[str, pl.DataFrame]) -> bool:
    return any(not new[name].equals(old[name]) for name in TABLE_NAMES)


def _apply_revision_map(frame: pl.DataFrame, column: str, mapping: dict[str, str]) -> pl.DataFrame:
    if not mapping or column not in frame.columns or frame.height == 0:
        return frame
    key = pl.concat_str(pl.col("label_id"), pl.col(column), separator="\x1f")
    return frame.with_columns(
        pl.when(key.is_in(list(mapping)))
        .then(key.replace(mapping))
        .otherwise(pl.col(column))
        .alias(column)
    )


def migrate_label_store(
    zone: Zone,
    pseudonymizer: KeyedPseudonymizer | None,
    known_classes: list[str] | None = None,
    questions: Sequence[ClassificationSpec] | None = None,
) -> dict[str, int]:
    """Rewrite in place (each file atomically, only when its content changes) the current
    label set, its history and every snapshot under ``labels/labelbox/versions/``: typed text
    scrubbed (:func:`scrub_text_answers`), object classes not in the ontology scrubbed, and
    annotator hashes keyed with ``pseudonymizer`` (old unkeyed values re-keyed to exactly the
    pseudonym a new export gives; without a key they are dropped). History versions whose
    content changed get their recomputed ``label_revision`` (and ``superseded_by`` follows),
    so a version exported again is not kept twice. A run that changed something appends an
    entry (counts, key fingerprint, time) to ``labels/labelbox/migrations.json``; a second
    run changes no byte. A run killed half-way leaves each file old or new, and the next run
    finishes the rest. Refuses another key than the label set's (:func:`check_annotator_key`).
    """
    check_annotator_key(zone, pseudonymizer)
    spec, _ = _ontology(None) if known_classes is None or questions is None else (None, None)
    known = known_classes if known_classes is not None else _known_object_classes(spec)[0]
    asked = questions if questions is not None else spec.classifications if spec else ()
    totals = {
        "files_rewritten": 0,
        "annotator_values_rekeyed": 0,
        "annotator_values_dropped": 0,
        "text_answers_scrubbed": 0,
        "object_classes_changed": 0,
        "label_fields_changed": 0,
        "history_revisions_recomputed": 0,
    }

    def write(folder: tuple[str, ...], old: dict[str, pl.DataFrame], new: dict[str, pl.DataFrame]):
        for name in TABLE_NAMES:
            if not new[name].equals(old[name]):
                zone.write_parquet((*folder, f"{name}.parquet"), new[name])
                totals["files_rewritten"] += 1

    def add(counts: dict[str, int]) -> None:
        for name, value in counts.items():
            totals[name] += value

    # The history's revisions follow its content: the map of old to new revisions is written
    # before any table, so a run killed between the history's tables (some rewritten with the
    # new revisions, some not) is finished consistently by the next one.
    pending: dict[str, str] = {}
    if zone.exists(*PENDING_REVISIONS_FILE):
        pending = json.loads(zone.read_bytes(*PENDING_REVISIONS_FILE))["revisions"]
    revision_map: dict[str, str] = dict(pending)
    current = _read_tables(zone, LABELS_DIR)
    current_new: dict[str, pl.DataFrame] | None = None
    if current is not None:
        current_new, counts = _scrubbed_tables(current, pseudonymizer, known, asked)
        add(counts)
    if current is not None and current_new is not None and _changed(current, current_new):
        strip = ["label_set_version"]
        before = label_revisions(
            LabelTables(*(current[n].drop(strip, strict=False) for n in TABLE_NAMES))
        )
        after = label_revisions(
            LabelTables(*(current_new[n].drop(strip, strict=False) for n in TABLE_NAMES))
        )
        revision_map.update(
            _revision_map(
                before.with_columns(computed=pl.col("label_revision")),
                after.with_columns(computed=pl.col("label_revision")),
            )
        )
    history = _read_tables(zone, HISTORY_DIR)
    history_new: dict[str, pl.DataFrame] | None = None
    if history is not None and "label_revision" in history["labels"].columns:
        # a killed run's map first: the three tables agree on each version's revision again
        consistent = {
            name: _apply_revision_map(
                _apply_revision_map(history[name], "label_revision", pending),
                "superseded_by",
                pending,
            )
            for name in TABLE_NAMES
        }
        history_new, counts = _scrubbed_tables(consistent, pseudonymizer, known, asked)
        add(counts)
        own = (
            _revision_map(_history_revisions(consistent), _history_revisions(history_new))
            if _changed(consistent, history_new)
            else {}
        )
        totals["history_revisions_recomputed"] += len(own)
        revision_map.update(own)
        for name in TABLE_NAMES:
            frame = _apply_revision_map(history_new[name], "label_revision", own)
            history_new[name] = _apply_revision_map(frame, "superseded_by", revision_map)
    elif history is not None:
        history_new, counts = _scrubbed_tables(history, pseudonymizer, known, asked)
        add(counts)
    rewrites = history is not None and history_new is not None and _changed(history, history_new)
    if revision_map != pending and rewrites:
        zone.write_bytes(
            PENDING_REVISIONS_FILE,
            json.dumps({"revisions": revision_map}, sort_keys=True).encode(),
        )
    if current is not None and current_new is not None:
        write(LABELS_DIR, current, current_new)
    if history is not None and history_new is not None:
        write(HISTORY_DIR, history, history_new)
    if zone.exists(*PENDING_REVISIONS_FILE):
        zone.delete(*PENDING_REVISIONS_FILE)
    snapshots = sorted(
        {path.parent.name for path in zone.iter_files(*VERSIONS_DIR, suffix=".parquet")}
    )
    for version in snapshots:
        folder = (*VERSIONS_DIR, version)
        if (
            zone.exists(*folder, SNAPSHOT_MARKER)
            and zone.read_bytes(*folder, SNAPSHOT_MARKER) == _SNAPSHOT_MARKER_BYTES
        ):
            continue  # written or migrated by this code: nothing to do (and nothing read)
        frames = _read_tables(zone, folder)
        if frames is None:
            continue
        new, counts = _scrubbed_tables(frames, pseudonymizer, known, asked)
        add(counts)
        write(folder, frames, new)
        # after the tables: a run killed before this line reads the snapshot again next time
        zone.write_bytes((*folder, SNAPSHOT_MARKER), _SNAPSHOT_MARKER_BYTES)
    if totals["files_rewritten"]:
        entries: list[object] = []
        if zone.exists(*MIGRATIONS_FILE):
            loaded = json.loads(zone.read_bytes(*MIGRATIONS_FILE))
            entries = loaded if isinstance(loaded, list) else [loaded]
        entries.append(
            {
                "migration": MIGRATION_NAME,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "key_fingerprint": None if pseudonymizer is None else pseudonymizer.key_fingerprint,
                **totals,
            }
        )
        zone.write_bytes(MIGRATIONS_FILE, json.dumps(entries, indent=1, sort_keys=True).encode())
    return totals


# -- withdrawn data rows: deleted in the label source ----------------------------------------

#: one row per withdrawn data row deleted (or found gone) in a label source
DELETIONS_PATH = (*LABELS_DIR, "deleted_data_rows.parquet")
DELETIONS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "global_key": pl.Utf8,
    "batch": pl.Utf8,
    "source": pl.Utf8,
    "outcome": pl.Utf8,
    "reason": pl.Utf8,
    "deleted_at": pl.Utf8,
}
#: ``outcome``: the source held the data row and deleted it now
DELETED = "deleted"
#: ``outcome``: the source held no data row of that key any more (deleted earlier, by hand or
#: by a run stopped before it recorded the deletion)
ALREADY_ABSENT = "absent_in_source"


def withdrawn_data_rows(research_zone: Zone) -> pl.DataFrame:
    """``global_key``, ``batch`` of every data row marked :data:`WITHDRAWN` in any
    ``labelbox_data_rows`` table, less the keys another table sends as live rows: a study the
    warehouse moved to another date leaves its old date's rows withdrawn while the new date
    sends the same images under the same keys (deleting those deleted live rows and their
    labels)."""
    frames = []
    live: set[str] = set()
    for path in research_zone.iter_files("tables", DATA_ROWS_TABLE, suffix=".parquet"):
        table = pl.read_parquet(io.BytesIO(path.read_bytes()))
        if WITHDRAWN not in table.columns:
            live.update(str(k) for k in table["global_key"].drop_nulls().to_list())
            continue
        gone = pl.col(WITHDRAWN).fill_null(False)
        live.update(str(k) for k in table.filter(~gone)["global_key"].drop_nulls().to_list())
        frames.append(
            table.filter(gone).select(
                pl.col("global_key").cast(pl.Utf8),
                pl.lit(path.name.removesuffix(".parquet")).alias("batch"),
            )
        )
    if not frames:
        return pl.DataFrame(schema={"global_key": pl.Utf8, "batch": pl.Utf8})
    withdrawn = pl.concat(frames).unique("global_key", keep="first")
    return withdrawn.filter(~pl.col("global_key").is_in(sorted(live))).sort("global_key")


def recorded_deletions(research_zone: Zone) -> pl.DataFrame:
    if not research_zone.exists(*DELETIONS_PATH):
        return pl.DataFrame(schema=DELETIONS_SCHEMA)
    return research_zone.read_parquet(*DELETIONS_PATH)


def delete_withdrawn_data_rows(
    research_zone: Zone, source: LabelSource, reason: str, *, now: dt.datetime | None = None
) -> PartitionReport:
    """Delete in the label source every data row this platform withdrew (quarantined, excluded,
    its date purged for identifiers: column ``withdrawn`` of ``labelbox_data_rows``), and
    record each with ``reason`` (scrubbed like typed text), the source and the time in
    ``labels/labelbox/deleted_data_rows.parquet`` (rewritten atomically).

    Idempotent: a key recorded as deleted is asked for again (a study that left, came back and
    left again is sent again under the same keys after its deletion: matched by key alone, its
    rows stayed in Labelbox for good), and the source answers that it holds it no more, which
    adds nothing to the record; a key the source no longer holds that was never recorded
    (deleted by a run stopped before it wrote the record, or by hand) is recorded as
    :data:`ALREADY_ABSENT`. Labelbox deletes a data row's labels with it; the label set here
    already leaves withdrawn images out. Counts: ``withdrawn_data_rows``,
    ``already_recorded`` (recorded before and not held by the source now),
    ``data_rows_deleted``, ``data_rows_absent_in_source``."""
    text = scrub_label_text(reason.strip()) if reason and reason.strip() else None
    if not text:
        raise StageFailure("say why the withdrawn data rows are deleted (a reason is required)")
    delete = getattr(source, "delete_data_rows", None)
    if delete is None:
        raise StageFailure(f"the label source {source.name} cannot delete data rows")
    withdrawn = withdrawn_data_rows(research_zone)
    record = recorded_deletions(research_zone)
    recorded = set(record.filter(pl.col("source") == source.name)["global_key"].to_list())
    report = PartitionReport("all", row_count=withdrawn.height)
    report.count("withdrawn_data_rows", withdrawn.height)
    if withdrawn.height == 0:
        for name in ("already_recorded", "data_rows_deleted", "data_rows_absent_in_source"):
            report.count(name, 0)
        return report
    result = delete(withdrawn["global_key"].to_list())
    absent_new = [k for k in result.absent if k not in recorded]
    report.count("already_recorded", len(set(result.absent) & recorded))
    moment = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    outcomes = pl.DataFrame(
        {
            "global_key": [*result.deleted, *absent_new],
            "outcome": [DELETED] * len(result.deleted) + [ALREADY_ABSENT] * len(absent_new),
        },
        schema={"global_key": pl.Utf8, "outcome": pl.Utf8},
    )
    new = withdrawn.join(outcomes, on="global_key", how="inner").select(
        "global_key",
        "batch",
        pl.lit(source.name).alias("source"),
        "outcome",
        pl.lit(text).alias("reason"),
        pl.lit(moment).alias("deleted_at"),
    )
    if new.height == 0:  # nothing deleted, nothing new to record: the record stays as it is
        report.count("data_rows_deleted", 0)
        report.count("data_rows_absent_in_source", 0)
        return report
    research_zone.write_parquet(
        DELETIONS_PATH,
        pl.concat([record, new], how="diagonal_relaxed").sort(
            ["source", "global_key"], maintain_order=True
        ),
    )
    report.count("data_rows_deleted", len(result.deleted))
    report.count("data_rows_absent_in_source", len(absent_new))
    if absent_new:
        report.add_problem(
            f"{len(absent_new)} withdrawn data rows were no longer in {source.name} "
            "(deleted earlier); recorded"
        )
    return report
