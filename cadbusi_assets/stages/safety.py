"""Guards that keep a re-run from destroying data (no Dagster here).

**Sharp drops.** A stage that replaces a partition compares what it is about to keep with what
the partition held before. When the new answer drops sharply -- to nothing, or to less than
half and by at least :data:`MIN_DROP` -- the stage raises :class:`StageFailure` *before* it
writes or deletes anything: a reachable warehouse that answers nothing for a processed date, or
a PACS that suddenly knows none of the studies, is far more often an outage or a wrong view
than real deletions. To accept a real shrink, pass ``allow_shrink=True`` to the stage
function, or set ``CADBUSI_ALLOW_SHRINK=1`` for the run.

**Key fingerprints.** Every partition records the fingerprint of the pseudonym key it was
processed with (``tables/key_fingerprints/<partition>.parquet``: one row ``partition,
fingerprint``; the fingerprint is keyed and never reveals the key). A run with another key
fails (:func:`check_key_fingerprint`) instead of writing the same images under second
pseudonyms.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import polars as pl

from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.storage import (
    Zone,
    read_all_partition_tables,
    read_partition_table,
    write_partition_table,
)

ALLOW_SHRINK_ENV = "CADBUSI_ALLOW_SHRINK"
#: a drop counts as sharp when the new count is below this share of the previous one ...
MAX_SHRINK_RATIO = 0.5
#: ... and at least this many fewer (a drop to zero is always sharp)
MIN_DROP = 3

KEY_FINGERPRINTS_TABLE = "key_fingerprints"
_TRUE = {"1", "true", "yes", "on"}


def allow_shrink_enabled(
    allow_shrink: bool | None = None, env: Mapping[str, str] | None = None
) -> bool:
    """``allow_shrink`` when given, else ``$CADBUSI_ALLOW_SHRINK`` (1/true/yes/on)."""
    if allow_shrink is not None:
        return bool(allow_shrink)
    env = os.environ if env is None else env
    return env.get(ALLOW_SHRINK_ENV, "").strip().lower() in _TRUE


def is_sharp_drop(previous: int, current: int) -> bool:
    """``True`` when ``current`` is a sharp drop from ``previous`` (see the module doc).

    >>> is_sharp_drop(7, 0), is_sharp_drop(1, 0), is_sharp_drop(10, 6), is_sharp_drop(10, 4)
    (True, True, False, True)
    >>> is_sharp_drop(4, 1), is_sharp_drop(0, 0)
    (True, False)
    """
    if previous <= 0 or current >= previous:
        return False
    if current == 0:
        return True
    return current < previous * MAX_SHRINK_RATIO and previous - current >= MIN_DROP


def guard_shrink(
    what: str,
    partition: str,
    previous: int,
    current: int,
    *,
    allow_shrink: bool | None = None,
    source: str = "the input",
) -> None:
    """Raise :class:`StageFailure` when ``current`` drops sharply from ``previous``.

    ``what`` names the counted things ("studies"), ``source`` where the new answer came from
    ("the warehouse"). The message holds counts only (no identifiers).
    """
    if not is_sharp_drop(previous, current) or allow_shrink_enabled(allow_shrink):
        return
    raise StageFailure(
        f"{partition}: {source} returned {current} {what} for a date that has {previous} "
        f"processed; refusing to delete. Set {ALLOW_SHRINK_ENV}=1 / pass allow_shrink=True "
        "to accept"
    )


# -- key fingerprints ------------------------------------------------------------------------
def recorded_key_fingerprint(zone: Zone, partition: str) -> str | None:
    """The fingerprint ``partition`` of ``zone`` was processed with (``None``: not recorded)."""
    frame = read_partition_table(zone, KEY_FINGERPRINTS_TABLE, partition)
    if frame is None or frame.height == 0 or "fingerprint" not in frame.columns:
        return None
    return frame["fingerprint"][0]


#: The zone's fingerprints, one empty file each (``key_fingerprint_index/keys/<fingerprint>``),
#: and ``key_fingerprint_index/complete`` once every recorded fingerprint has one: the zone-wide
#: check of a date's first run reads this folder instead of every date's table (3,650 dates:
#: 1.6-2.0 s a check on local disk, several checks a date, in a backfill of ten years of new
#: dates; one request per table on object storage).
KEY_INDEX = "key_fingerprint_index"
_INDEX_COMPLETE = "complete"


def _scanned_fingerprints(zone: Zone) -> set[str]:
    """The fingerprints of every partition's ``key_fingerprints`` table (all of them read)."""
    everything = read_all_partition_tables(zone, KEY_FINGERPRINTS_TABLE)
    if everything is None or everything.height == 0 or "fingerprint" not in everything.columns:
        return set()
    return {str(f) for f in everything["fingerprint"].drop_nulls().to_list()}


def _write_index(zone: Zone, fingerprints: set[str], stale: Iterable[str] = ()) -> None:
    for fingerprint in sorted(set(stale) - fingerprints):
        zone.delete(KEY_INDEX, "keys", fingerprint)
    for fingerprint in sorted(fingerprints):
        zone.write_bytes((KEY_INDEX, "keys", fingerprint), b"")
    zone.write_bytes((KEY_INDEX, _INDEX_COMPLETE), b"")


def zone_fingerprints(zone: Zone) -> set[str]:
    """The pseudonym-key fingerprints recorded in ``zone`` (read from its index; a zone written
    before the index is scanned once and indexed). The index may hold a fingerprint whose dates
    were deleted since: :func:`check_key_fingerprint` never refuses on the index alone."""
    if zone.exists(KEY_INDEX, _INDEX_COMPLETE):
        return {path.name for path in zone.iter_files(KEY_INDEX, "keys")}
    found = _scanned_fingerprints(zone)
    _write_index(zone, found)
    return found


def check_key_fingerprint(zone: Zone, partition: str, fingerprint: str) -> None:
    """Raise :class:`StageFailure` if ``partition`` (or, where it has no record yet, any other
    partition of ``zone``) was processed with a different pseudonym key.

    The zone-wide check matters in the research zone, whose batch names are derived from the
    key: a new key gives new batch names, so only the other batches' records can tell. It reads
    the zone's index of fingerprints (:func:`zone_fingerprints`); only when that names another
    key is every partition's record read, which decides (and mends the index).
    """
    recorded = recorded_key_fingerprint(zone, partition)
    if recorded is not None:
        if recorded != fingerprint:
            raise StageFailure(
                f"{partition} was processed with the pseudonym key {recorded} but this run uses "
                f"the key {fingerprint}; refusing to write second pseudonyms into the "
                f"{zone.name} zone. Restore the original key file (check it for a byte-order "
                "mark or changed whitespace), or rebuild the zone from scratch on purpose."
            )
        return
    indexed = zone_fingerprints(zone)
    if not indexed - {fingerprint}:
        return
    scanned = _scanned_fingerprints(zone)
    others = sorted(scanned - {fingerprint})
    if not others:
        _write_index(zone, scanned, stale=indexed)
        return
    raise StageFailure(
        f"the {zone.name} zone holds partitions processed with the pseudonym key "
        f"{', '.join(others)} but this run uses the key {fingerprint}; refusing to mix "
        "pseudonyms of two keys in one zone. Restore the original key file (check it for a "
        "byte-order mark or changed whitespace)."
    )


def record_key_fingerprint(zone: Zone, partition: str, fingerprint: str) -> None:
    """Record that ``partition`` of ``zone`` was (re)written with the key ``fingerprint`` (and
    the fingerprint in the zone's index: first, so that the index never misses a key a table
    records)."""
    if recorded_key_fingerprint(zone, partition) == fingerprint:
        return
    if not zone.exists(KEY_INDEX, "keys", fingerprint):
        zone_fingerprints(zone)  # a zone written before the index: indexed first
        zone.write_bytes((KEY_INDEX, "keys", fingerprint), b"")
    write_partition_table(
        zone,
        KEY_FINGERPRINTS_TABLE,
        partition,
        pl.DataFrame(
            {"partition": [partition], "fingerprint": [fingerprint]},
            schema={"partition": pl.Utf8, "fingerprint": pl.Utf8},
        ),
    )


def check_partition_key(
    raw_zone: Zone | None,
    research_zone: Zone | None,
    day: str,
    pseudonymizer,
    *,
    record: bool = False,
) -> str:
    """The key check of one study date for any stage: the raw zone's record of ``day`` and the
    research zone's record of the date's batch (``pseudonymizer.batch_name(day)``) must name
    this key (zone-wide where the partition has none yet). ``record=True`` records the key for
    the batch in the research zone (call it after the stage wrote the batch). Returns the
    fingerprint. Raises :class:`StageFailure` on a different key."""
    fingerprint = pseudonymizer.key_fingerprint
    if raw_zone is not None:
        check_key_fingerprint(raw_zone, day, fingerprint)
    if research_zone is not None:
        batch = pseudonymizer.batch_name(day)
        check_key_fingerprint(research_zone, batch, fingerprint)
        if record:
            record_key_fingerprint(research_zone, batch, fingerprint)
    return fingerprint


# -- accessions ------------------------------------------------------------------------------
def accession_conflicts(images: pl.DataFrame | None, studies: pl.DataFrame | None) -> set[str]:
    """The studies (``study_uid_pseudo``) of a date that have images whose pseudonymized
    accession number is none of those the warehouse gives that study (same StudyInstanceUID).

    The images take their accession from the DICOM header, the ``studies`` table from the
    warehouse; the features' laterality, the catalog and the labels join them on it. A missing
    accession or study on either side is no conflict.

    >>> images = pl.DataFrame({"study_uid_pseudo": ["s1", "s1", "s2"],
    ...                        "accession_pseudo": ["a1", "a1", "a2"]})
    >>> accession_conflicts(images, pl.DataFrame({"study_uid_pseudo": ["s1", "s2"],
    ...                                           "accession_pseudo": ["a1", "a2"]}))
    set()
    >>> accession_conflicts(images, pl.DataFrame({"study_uid_pseudo": ["s1", "s2"],
    ...                                           "accession_pseudo": ["a1", "a9"]}))
    {'s2'}
    """
    needed = {"study_uid_pseudo", "accession_pseudo"}
    if images is None or studies is None or not images.height or not studies.height:
        return set()
    if not needed <= set(images.columns) or not needed <= set(studies.columns):
        return set()
    known = (
        studies.select("study_uid_pseudo", "accession_pseudo")
        .drop_nulls()
        .group_by("study_uid_pseudo")
        .agg(pl.col("accession_pseudo").alias("known"))
    )
    pairs = images.select("study_uid_pseudo", "accession_pseudo").drop_nulls().unique()
    joined = pairs.join(known, on="study_uid_pseudo", how="inner").filter(
        ~pl.col("accession_pseudo").is_in(pl.col("known"))
    )
    return set(joined["study_uid_pseudo"].to_list())


def guard_accessions(
    partition: str,
    images: pl.DataFrame,
    studies: pl.DataFrame,
    stored_images: pl.DataFrame | None,
    stored_studies: pl.DataFrame | None,
    *,
    allow_shrink: bool | None = None,
) -> None:
    """Raise :class:`StageFailure` when a re-run would part a study's images from its report:
    the warehouse and the PACS now disagree on the accession number of a study whose stored
    images and report agreed (an accession corrected on one side only). Runs before anything
    of the date is written; the message holds a count only. A disagreement the date already
    had is left as it was (it is no change); ``allow_shrink`` (or ``$CADBUSI_ALLOW_SHRINK``)
    accepts the loss."""
    new = accession_conflicts(images, studies) - accession_conflicts(stored_images, stored_studies)
    if not new or stored_studies is None or allow_shrink_enabled(allow_shrink):
        return
    raise StageFailure(
        f"{partition}: the warehouse and the PACS now give {len(new)} study(ies) of this date "
        "different accession numbers (same StudyInstanceUID) where the stored images and "
        "reports agreed; their images would lose their report, laterality and labels, so "
        "nothing of the date was replaced. Correct the accession number in the warehouse or "
        f"the PACS, or set {ALLOW_SHRINK_ENV}=1 / pass allow_shrink=True to accept"
    )


def withdrawn_patients(raw_zone: Zone, pseudonymizer) -> frozenset[str]:
    """The research pseudonyms of the patients on the opt-out list (``$CADBUSI_OPT_OUT_FILE``,
    read now; :func:`~cadbusi_assets.identity.reidentify.withdrawn_patient_pseudonyms`), for the
    stages that hand research images out (exports, Labelbox): a patient who withdrew after
    their dates were processed is in the research zone until those dates are re-run. A list
    that is configured and unreadable stops the stage (never a silent run without it)."""
    from cadbusi_assets.identity.optout import OptOutError, load_opt_out_from_env
    from cadbusi_assets.identity.reidentify import withdrawn_patient_pseudonyms

    try:
        withdrawn = load_opt_out_from_env()
    except OptOutError as exc:  # its message names the setting, never an id
        raise StageFailure(f"{exc}; nothing was sent or written") from None
    return withdrawn_patient_pseudonyms(raw_zone, pseudonymizer, withdrawn)
