"""Which study dates a pass left half written (no Dagster here).

A pass that replaces a date's research tables marks its batch open first and closes it after
its last table (:func:`~cadbusi_assets.storage.tables.open_batch`); a pass killed in between
(SIGKILL, out of memory, a machine restart) reports nothing and leaves the marker. The marker
is named by the opaque batch name: the research zone never says which date it is. The dates
come from the raw zone (the dates it holds retrieved instances for), each turned into its batch
name with the pseudonym key, so only a process that holds the key and reads the raw zone can
tell which dates are interrupted.
"""

from __future__ import annotations

import re

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.storage import Zone
from cadbusi_assets.storage.tables import open_batch_tokens, retire_batch

#: The raw zone's table of retrieved instances (one partition per date that has a batch):
#: the de-identification's input, so every date a pass can have opened is one of its partitions.
RETRIEVED_TABLE = "retrieval_instances"


def raw_dates(raw_zone: Zone) -> list[str]:
    """The study dates the raw zone holds retrieved instances for, sorted."""
    return sorted(
        path.name.removesuffix(".parquet")
        for path in raw_zone.iter_files("tables", RETRIEVED_TABLE, suffix=".parquet")
    )


def interrupted_dates(
    raw_zone: Zone, research_zone: Zone, pseudonymizer: Pseudonymizer
) -> dict[str, str]:
    """The study dates whose batch a pass left open, each with a token of that pass (one
    interruption: a later pass of the same date that is interrupted again leaves another).
    Open batches of no date of the raw zone (another key, a raw zone rebuilt) are not
    returned.

    The token returned is a keyed digest of the one in the marker, never the marker's own: it
    is filed under the real date in the Dagster instance (run keys, tags, the sensor's cursor),
    and the marker lies in the research zone under the batch name, so the marker's token
    there would link a batch name to its date for anyone who saw both."""
    tokens = open_batch_tokens(research_zone)
    if not tokens:
        return {}
    return {
        day: pseudonymizer.hex("interruption", tokens[batch], 16)
        for day in raw_dates(raw_zone)
        if (batch := pseudonymizer.batch_name(day)) in tokens
    }


def unmatched_open_batches(
    raw_zone: Zone, research_zone: Zone, pseudonymizer: Pseudonymizer
) -> list[str]:
    """The open batches of no study date of the raw zone (a marker left under another key, or
    before the raw zone was rebuilt): nothing re-runs them, so the catalog would leave them out
    and warn for good. Sorted batch names (opaque: no date)."""
    tokens = open_batch_tokens(research_zone)
    if not tokens:
        return []
    matched = {pseudonymizer.batch_name(day) for day in raw_dates(raw_zone)}
    return sorted(set(tokens) - matched)


#: A reason that looks like it names a date or a long number (an accession, a record number)
#: is refused: the record lies in the research zone under the batch name.
_DATE_OR_NUMBER = re.compile(r"\d{4}\D?\d{2}\D?\d{2}|\d{2}[./-]\d{2}[./-]\d{2,4}|\d{5,}")


def retire_unmatched_batches(
    raw_zone: Zone, research_zone: Zone, pseudonymizer: Pseudonymizer, reason: str
) -> list[str]:
    """Retire every open batch of no study date of the raw zone (:func:`unmatched_open_batches`)
    with ``reason``: each stays out of the catalog and the lesions, counted as retired
    (``study_batches_left_out_retired``) instead of interrupted, its tables and files are kept,
    and the marker's token and the reason are recorded in the research zone's
    ``retired_batches/``. A batch that matches a date is left open (the
    ``interrupted_study_dates_sensor`` re-runs it). Returns the batches retired."""
    reason = " ".join(reason.split())
    if len(reason) < 8:
        raise StageFailure("Give a reason of a few words for retiring the open batches.")
    if _DATE_OR_NUMBER.search(reason):
        raise StageFailure(
            "The reason must not name a date or a long number: it is kept in the research zone "
            "beside the batch name."
        )
    retired = unmatched_open_batches(raw_zone, research_zone, pseudonymizer)
    for batch in retired:
        retire_batch(research_zone, batch, reason)
    return retired
