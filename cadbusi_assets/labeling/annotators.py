"""Who labelled what, without a re-identifiable annotator column.

Labelbox exports the labeler's staff e-mail (``label_details.created_by``). The label tables
keep only ``annotator_hash``: a keyed pseudonym (HMAC with the pseudonym key, the platform's
:meth:`~cadbusi_assets.identity.Pseudonymizer.hex`), ``a-`` + 16 hex characters, the same for
one labeler in every label and revision. Without the key nobody can tell which staff e-mail it
stands for; with another key it is another value, so a label set keeps the fingerprint of the
key it was made with and a run with another key is refused.

Label tables written before stored ``sha256(e-mail)[:12]``: anyone with a staff list could
re-identify those (:func:`is_legacy_annotator_hash`). The e-mail itself was never stored, so the
keyed pseudonym is taken *of that digest*: an old value is re-keyed to exactly the value a new
export of the same labeler gets (:func:`rekey_legacy_annotator_hash`), and no label looks changed.

>>> class Key:  # stands in for a Pseudonymizer
...     def hex(self, domain, value, length=32):
...         import hashlib
...         return hashlib.sha256(f"k|{domain}|{value}".encode()).hexdigest()[:length]
>>> new = annotator_pseudonym(Key(), "radiologist1@example.org")
>>> new.startswith("a-"), len(new)
(True, 18)
>>> old = legacy_annotator_hash("radiologist1@example.org")
>>> is_legacy_annotator_hash(old), is_legacy_annotator_hash(new)
(True, False)
>>> rekey_legacy_annotator_hash(Key(), old) == new
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Protocol

import polars as pl

#: the keyed pseudonym: ``a-`` + this many hex characters (64 bits)
PSEUDONYM_HEX = 16
PSEUDONYM_PREFIX = "a-"
#: HMAC domain of the annotator pseudonym (the pseudonym key is shared with other domains)
ANNOTATOR_DOMAIN = "labelbox-annotator"
_LEGACY = re.compile(r"^[0-9a-f]{12}$")
_PSEUDONYM = re.compile(r"^a-[0-9a-f]{16}$")


class KeyedHash(Protocol):
    """What the pseudonym needs of a :class:`~cadbusi_assets.identity.Pseudonymizer`."""

    def hex(self, domain: str, value: str, length: int = 32) -> str: ...


class KeyedPseudonymizer(KeyedHash, Protocol):
    """... and the fingerprint of its key (recorded with the label set)."""

    @property
    def key_fingerprint(self) -> str: ...


def legacy_annotator_hash(created_by: str) -> str:
    """The value label tables stored before: unkeyed, so never stored any more."""
    return hashlib.sha256(str(created_by).encode()).hexdigest()[:12]


def is_legacy_annotator_hash(value: object) -> bool:
    return isinstance(value, str) and bool(_LEGACY.match(value))


def is_annotator_pseudonym(value: object) -> bool:
    return isinstance(value, str) and bool(_PSEUDONYM.match(value))


def rekey_legacy_annotator_hash(key: KeyedHash, legacy: str) -> str:
    return PSEUDONYM_PREFIX + key.hex(ANNOTATOR_DOMAIN, legacy, PSEUDONYM_HEX)


def annotator_pseudonym(key: KeyedHash, created_by: str) -> str:
    """The keyed pseudonym of the labeler ``created_by`` (a staff e-mail)."""
    return rekey_legacy_annotator_hash(key, legacy_annotator_hash(created_by))


def annotator_function(key: KeyedHash | None) -> Callable[[str], str] | None:
    """``created_by`` → pseudonym with ``key``; None without a key (no annotator is kept)."""
    if key is None:
        return None
    return lambda created_by: annotator_pseudonym(key, created_by)


def rekey_annotator_column(labels: pl.DataFrame, key: KeyedHash | None) -> tuple[pl.DataFrame, int]:
    """``labels`` with every value of ``annotator_hash`` that is not a keyed pseudonym re-keyed
    (an old unkeyed digest: exactly; anything else: its keyed hash) or, without ``key``, made
    null; and how many values changed. Pseudonyms and nulls are left alone, so a second call
    changes nothing."""
    column = "annotator_hash"
    if column not in labels.columns or labels.height == 0:
        return labels, 0
    values = labels[column].cast(pl.Utf8)
    stale = sorted(
        {v for v in values.drop_nulls().unique().to_list() if not is_annotator_pseudonym(v)}
    )
    if not stale:
        return labels, 0
    changed = int(values.is_in(stale).sum())
    if key is None:
        mapping: dict[str, str | None] = dict.fromkeys(stale)
    else:
        mapping = {v: rekey_legacy_annotator_hash(key, v) for v in stale}
    return labels.with_columns(
        pl.col(column).cast(pl.Utf8).replace(mapping).cast(pl.Utf8).alias(column)
    ), changed
