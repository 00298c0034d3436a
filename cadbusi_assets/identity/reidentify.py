"""The re-identification link: pseudonym → original, kept in the raw zone only.

Where pseudonyms are minted for the research zone (the de-identification stage), one row per
pseudonym is written to the raw-zone table :data:`LINKS_TABLE` (one Parquet file per study
date): ``pseudonym``, ``kind`` (``patient``, ``accession``, ``study_uid``, ``instance``,
``raw_instance``, ``batch``), ``original`` (the MRN, accession number, Study Instance UID,
raw-zone path or study date) and ``partition``. Nothing in the research zone points back.

:func:`reidentify` looks a pseudonym up, and only answers to a holder of the pseudonym key:
every link it returns is re-derived from its original with the caller's key and must give
the same pseudonym (a wrong key, or a table edited by hand, is refused). Reading the raw zone
is the other half of the gate. ``cadbusi reidentify <pseudonym>`` is the one command.

>>> from cadbusi_assets.identity.keys import PseudonymKey
>>> from cadbusi_assets.identity.pseudonyms import Pseudonymizer
>>> p = Pseudonymizer(PseudonymKey(bytes(range(32))))
>>> links = pseudonym_links(p, "2026-09-25", patients=["MRN1"], accessions=["ACC1"])
>>> sorted(links["kind"].to_list())
['accession', 'batch', 'patient']
>>> derive(p, "patient", "MRN1") == p.patient_id("MRN1")
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from cadbusi_assets.identity.pseudonyms import Pseudonymizer, instance_id_for

#: Raw-zone table (per study date) holding the pseudonym → original links.
LINKS_TABLE = "reidentification_links"
LINKS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "pseudonym": pl.Utf8,
    "kind": pl.Utf8,
    "original": pl.Utf8,
    "partition": pl.Utf8,
}
KINDS = ("patient", "accession", "study_uid", "instance", "raw_instance", "batch")


class ReidentificationError(RuntimeError):
    """The lookup is refused or impossible. The message never holds an original value."""


@dataclass(frozen=True)
class Link:
    pseudonym: str
    kind: str
    original: str
    partition: str

    def __repr__(self) -> str:  # the original stays out of logs and tracebacks
        return f"Link(kind={self.kind!r}, pseudonym={self.pseudonym!r}, partition=…)"


def derive(pseudonymizer: Pseudonymizer, kind: str, original: str, extra: str = "") -> str:
    """The pseudonym of ``original`` as ``kind`` under ``pseudonymizer``'s key.

    ``instance`` needs the raw SOP Instance UID (``extra``), since the instance id is
    derived from its pseudonymized UID; ``raw_instance`` likewise.
    """
    if kind == "patient":
        return pseudonymizer.patient_id(original)
    if kind == "accession":
        return pseudonymizer.accession_number(original)
    if kind == "study_uid":
        return pseudonymizer.uid(original)
    if kind == "batch":
        return pseudonymizer.batch_name(original)
    if kind == "instance":
        return instance_id_for(pseudonymizer.uid(extra)) if extra else ""
    if kind == "raw_instance":
        return pseudonymizer.raw_key("instance", extra) if extra else ""
    raise ValueError(f"unknown link kind {kind!r}")


def pseudonym_links(
    pseudonymizer: Pseudonymizer,
    partition: str,
    *,
    patients: Iterable[str] = (),
    accessions: Iterable[str] = (),
    study_uids: Iterable[str] = (),
    instances: Iterable[tuple[str, str | None]] = (),
    raw_instances: Iterable[tuple[str, str]] = (),
) -> pl.DataFrame:
    """The link rows of one partition (raw zone only).

    ``instances`` are ``(instance_id, raw_path)`` pairs of de-identified instances;
    ``raw_instances`` are ``(raw_instance_key, raw_path)`` pairs (quarantined ones included).
    The partition's own batch name → study date is always included.
    """
    rows: list[tuple[str, str, str]] = [(pseudonymizer.batch_name(partition), "batch", partition)]
    rows += [(pseudonymizer.patient_id(v), "patient", v) for v in dict.fromkeys(patients) if v]
    rows += [
        (pseudonymizer.accession_number(v), "accession", v) for v in dict.fromkeys(accessions) if v
    ]
    rows += [(pseudonymizer.uid(v), "study_uid", v) for v in dict.fromkeys(study_uids) if v]
    rows += [(key, "instance", path) for key, path in instances if key and path]
    rows += [(key, "raw_instance", path) for key, path in raw_instances if key and path]
    frame = pl.DataFrame(
        [(p, k, o, partition) for p, k, o in rows], schema=LINKS_SCHEMA, orient="row"
    )
    return frame.unique(["pseudonym", "kind"], keep="first").sort(["kind", "pseudonym"])


def _verified(link: Link, pseudonymizer: Pseudonymizer) -> bool:
    if link.kind in ("instance", "raw_instance"):
        return True  # derived from the raw SOP UID, not stored: checked through the key probe
    return derive(pseudonymizer, link.kind, link.original) == link.pseudonym


def withdrawn_patient_pseudonyms(
    raw_zone, pseudonymizer: Pseudonymizer, withdrawn: frozenset[str]
) -> frozenset[str]:
    """The research pseudonyms of the patients on the opt-out list ``withdrawn`` (normalized
    ids, :func:`~cadbusi_assets.identity.optout.load_opt_out`): each id's own pseudonym, and
    that of every patient id the raw zone's links hold that normalizes to one on the list
    (``0012345`` in the warehouse, ``12345`` on the list). For the stages after the research
    zone (an export), which must leave out a patient who withdrew before the dates are re-run.
    """
    from cadbusi_assets.identity.optout import normalize_patient_id
    from cadbusi_assets.storage import read_all_partition_tables

    if not withdrawn:
        return frozenset()
    found = {pseudonymizer.patient_id(patient) for patient in withdrawn}
    links = read_all_partition_tables(raw_zone, LINKS_TABLE)
    if links is not None and links.height:
        for pseudonym, original in (
            links.filter(pl.col("kind") == "patient").select("pseudonym", "original").iter_rows()
        ):
            if original and normalize_patient_id(original) in withdrawn:
                found.add(pseudonym)
    return frozenset(found)


def reidentify(
    raw_zone, pseudonym: str, pseudonymizer: Pseudonymizer, *, table: str = LINKS_TABLE
) -> list[Link]:
    """The originals behind ``pseudonym`` (usually one link), for holders of the key.

    Raises :class:`ReidentificationError` when the raw zone holds no link table, when the
    pseudonym is unknown, or when the caller's key does not reproduce the stored pseudonyms
    (the key is not the one that minted them).
    """
    from cadbusi_assets.storage import read_all_partition_tables

    pseudonym = str(pseudonym).strip()
    if not pseudonym:
        raise ReidentificationError("give a pseudonym to look up")
    links = read_all_partition_tables(raw_zone, table)
    if links is None or links.height == 0:
        raise ReidentificationError(
            f"no re-identification links in this raw zone (table {table!r}); they are written "
            "when images are de-identified"
        )
    # Key probe: the caller's key must reproduce the batch names stored in the table.
    probe = links.filter(pl.col("kind") == "batch").head(3)
    for row in probe.iter_rows(named=True):
        if pseudonymizer.batch_name(row["original"]) != row["pseudonym"]:
            raise ReidentificationError(
                "this pseudonym key did not mint the pseudonyms in the raw zone: re-identification "
                "needs the key that was used for de-identification"
            )
    found = [Link(**row) for row in links.filter(pl.col("pseudonym") == pseudonym).to_dicts()]
    if not found:
        raise ReidentificationError("unknown pseudonym (no link in the raw zone)")
    verified = [link for link in found if _verified(link, pseudonymizer)]
    if not verified:
        raise ReidentificationError(
            "the stored link does not match this key: the link table or the key is wrong"
        )
    return sorted(verified, key=lambda link: (link.kind, link.partition))


def reidentify_command(
    pseudonym: str,
    *,
    raw_zone_uri: str,
    key_file: str | None,
    storage_options: str = "",
    purpose: str = "",
    run_id: str | None = None,
    echo=print,
) -> int:
    """``cadbusi reidentify <pseudonym>``: print the originals behind a pseudonym.

    Needs read access to the raw zone and the pseudonym key that minted the pseudonyms
    (``key_file``, else ``CADBUSI_PSEUDONYM_KEY_FILE`` / ``CADBUSI_PSEUDONYM_KEY``). Every
    lookup, answered or not, is appended to the raw-zone re-identification audit. Exit codes:
    0 found, 1 refused or unknown, 2 configuration problem.
    """
    import json

    from cadbusi_assets.identity.audit import record_reidentification
    from cadbusi_assets.identity.keys import PseudonymKeyError, load_key
    from cadbusi_assets.storage import ZoneError, open_zone

    try:
        options = json.loads(storage_options) if storage_options else {}
        zone = open_zone(raw_zone_uri, "raw", **options)
        local_root = raw_zone_uri if "://" not in raw_zone_uri else ""
        key = load_key(key_file or None, forbidden_roots=(local_root,) if local_root else ())
    except (PseudonymKeyError, ZoneError, ValueError) as exc:
        echo(f"cannot re-identify: {exc}")
        return 2
    pseudonymizer = Pseudonymizer(key)
    try:
        links = reidentify(zone, pseudonym, pseudonymizer)
    except ReidentificationError as exc:
        record_reidentification(zone, pseudonym, [], run_id=run_id, purpose=purpose or None)
        echo(f"refused: {exc}")
        return 1
    record_reidentification(
        zone, pseudonym, [link.kind for link in links], run_id=run_id, purpose=purpose or None
    )
    for link in links:
        echo(f"{link.kind}\t{link.original}\t(study date partition {link.partition})")
    return 0
