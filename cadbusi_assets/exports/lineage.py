"""``lineage.json``: where every exported image came from.

The domain side never imports Dagster: the Dagster wiring gathers, for every upstream asset
partition, its data version and the run that materialized it, and passes them in as plain dicts
(``upstream``). Partition keys that are study dates are replaced by the research zone's opaque
batch names (``partition_alias``) so that lineage never reveals real study dates; the manifest
carries the same ``batch`` per image, so a reader can go image → batch → upstream run.

>>> key_fingerprint_from_bytes(bytes(range(32))) == key_fingerprint_from_bytes(bytes(range(32)))
True
>>> len(key_fingerprint_from_bytes(bytes(range(32))))
16
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

LINEAGE_VERSION = 2
GIT_COMMIT_ENV = "CADBUSI_GIT_COMMIT"
#: Keys every upstream entry must have (extra keys are kept).
UPSTREAM_KEYS = ("asset", "partition", "data_version", "run_id")


def key_fingerprint_from_bytes(secret: bytes) -> str:
    """``sha256(HMAC-SHA256(key, b"cadbusi-fingerprint"))[:16]``: tells keys apart, reveals nothing."""
    mac = hmac.new(secret, b"cadbusi-fingerprint", hashlib.sha256).digest()
    return hashlib.sha256(mac).hexdigest()[:16]


def key_fingerprint(key: Any) -> str:
    """The pseudonym key's fingerprint for lineage.

    ``key``: a :class:`~cadbusi_assets.identity.PseudonymKey` or a
    :class:`~cadbusi_assets.identity.Pseudonymizer`. Uses ``cadbusi_assets.identity.key_fingerprint``
    when the identity package provides it (one definition for the whole project); otherwise the
    same formula locally.
    """
    if not hasattr(key, "secret_bytes") and hasattr(key, "_key"):  # a Pseudonymizer
        key = key._key
    try:
        from cadbusi_assets import identity

        shared = getattr(identity, "key_fingerprint", None)
    except ImportError:  # pragma: no cover
        shared = None
    if shared is not None:
        return str(shared(key))
    return key_fingerprint_from_bytes(key.secret_bytes())


def git_commit(repo: Path | None = None) -> str | None:
    """The commit the code runs from: ``$CADBUSI_GIT_COMMIT`` (set in images built without .git),
    else ``git rev-parse HEAD`` next to this package (with ``-dirty`` when the tree has local
    changes), else None."""
    env = os.environ.get(GIT_COMMIT_ENV, "").strip()
    if env:
        return env
    where = repo or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not head:
        return None
    return f"{head}-dirty" if dirty else head


def normalize_upstream(
    upstream: Iterable[Mapping[str, Any]],
    partition_alias: Callable[[str], str] | None = None,
) -> list[dict[str, Any]]:
    """Sorted, validated upstream entries; study-date partition keys become batch names."""
    out: list[dict[str, Any]] = []
    for entry in upstream:
        missing = [k for k in ("asset",) if not entry.get(k)]
        if missing:
            raise ValueError(f"an upstream lineage entry lacks {', '.join(missing)}")
        item = {k: entry.get(k) for k in UPSTREAM_KEYS} | {
            k: v for k, v in entry.items() if k not in UPSTREAM_KEYS
        }
        partition = item.get("partition")
        if partition is not None and partition_alias is not None:
            item["partition"] = partition_alias(str(partition))
        out.append(item)
    return sorted(out, key=lambda e: (str(e["asset"]), str(e.get("partition") or "")))


def build_lineage(
    *,
    export_key: str,
    deidentification_profile: str | None,
    key_fingerprint: str | None,
    label_set_version: str | None,
    catalog_digest: str | None,
    upstream: Iterable[Mapping[str, Any]] = (),
    partition_alias: Callable[[str], str] | None = None,
    code_version: str | None = None,
    commit: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The lineage document (JSON-ready). ``commit`` defaults to :func:`git_commit`."""
    return {
        "lineage_version": LINEAGE_VERSION,
        "export_key": export_key,
        "git_commit": commit if commit is not None else git_commit(),
        "code_version": code_version,
        "deidentification_profile": deidentification_profile,
        "pseudonym_key_fingerprint": key_fingerprint,
        "label_set_version": label_set_version,
        "catalog_digest": catalog_digest,
        "upstream": normalize_upstream(upstream, partition_alias),
        **dict(extra or {}),
    }


def runs_per_batch(lineage: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """``{batch: {asset: run_id}}`` from a lineage document (find an image's producing runs)."""
    out: dict[str, dict[str, str | None]] = {}
    for entry in lineage.get("upstream", []):
        partition = entry.get("partition")
        if partition:
            out.setdefault(str(partition), {})[str(entry["asset"])] = entry.get("run_id")
    return out
