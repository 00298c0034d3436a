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

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.storage import Zone
from cadbusi_assets.storage.tables import open_batch_tokens

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
