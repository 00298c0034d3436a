"""``lineage.json``: where every exported image came from.

The domain side never imports Dagster: the Dagster wiring gathers, for every upstream asset
partition, its data version and the run that materialized it, and passes them in as plain dicts
(``upstream``). Partition keys that are study dates are replaced by the research zone's opaque
batch names (``partition_alias``) so that lineage never reveals real study dates; the manifest
carries the same ``batch`` per image.

A study-date partition's data version and run id are shown by the Dagster UI next to the real
date, so in the research zone's ``lineage.json`` they are **sealed**: each batch entry carries
``ref``, a keyed hash (``seal``) of asset, date, data version and run id, and no data version or
run id. The full entries (real date, batch, data version, run id, ``ref``) are written to the
raw zone (:func:`write_raw_lineage`); ``cadbusi lineage`` answers image → batch → date and run
for those with raw-zone access, and anyone can check that a raw entry matches its sealed ``ref``.
Unpartitioned assets (labels, catalog) keep their data version and run id in clear.

>>> key_fingerprint_from_bytes(bytes(range(32))) == key_fingerprint_from_bytes(bytes(range(32)))
True
>>> len(key_fingerprint_from_bytes(bytes(range(32))))
16
"""

from __future__ import annotations

import hashlib
import hmac
import json
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


def seal_text(entry: Mapping[str, Any]) -> str:
    """What ``ref`` seals: ``asset|partition|data_version|run_id`` (the real partition key)."""
    return "|".join(
        str(entry.get(k) or "") for k in ("asset", "partition", "data_version", "run_id")
    )


def normalize_upstream(
    upstream: Iterable[Mapping[str, Any]],
    partition_alias: Callable[[str], str] | None = None,
    seal: Callable[[str], str] | None = None,
) -> list[dict[str, Any]]:
    """Sorted, validated upstream entries; study-date partition keys become batch names, and
    with ``seal`` their data version and run id are replaced by ``ref`` (see the module)."""
    out: list[dict[str, Any]] = []
    for entry in upstream:
        missing = [k for k in ("asset",) if not entry.get(k)]
        if missing:
            raise ValueError(f"an upstream lineage entry lacks {', '.join(missing)}")
        item = {k: entry.get(k) for k in UPSTREAM_KEYS} | {
            k: v for k, v in entry.items() if k not in UPSTREAM_KEYS
        }
        partition = item.get("partition")
        if partition is not None and seal is not None:
            item["ref"] = seal(seal_text(entry))
            item["data_version"] = item["run_id"] = None
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
    seal: Callable[[str], str] | None = None,
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
        "upstream": normalize_upstream(upstream, partition_alias, seal),
        **dict(extra or {}),
    }


RAW_LINEAGE = ("exports", "lineage")


def lineage_seal(pseudonymizer: Any) -> Callable[[str], str]:
    """The keyed hash behind ``ref`` (32 hex digits; needs the pseudonym key)."""
    return lambda text: str(pseudonymizer.hex("lineage", text, 32))


def raw_lineage_document(
    export_key: str,
    upstream: Iterable[Mapping[str, Any]],
    partition_alias: Callable[[str], str],
    seal: Callable[[str], str],
) -> dict[str, Any]:
    """The raw zone's copy of an export's partition lineage: per upstream study-date partition
    the real date, the batch name, the data version, the run id and the ``ref`` that the
    research zone's ``lineage.json`` carries for it."""
    entries = []
    for entry in upstream:
        partition = entry.get("partition")
        if partition is None:
            continue
        entries.append(
            {
                "asset": entry.get("asset"),
                "date": str(partition),
                "batch": partition_alias(str(partition)),
                "data_version": entry.get("data_version"),
                "run_id": entry.get("run_id"),
                "ref": seal(seal_text(entry)),
            }
        )
    entries.sort(key=lambda e: (str(e["asset"]), e["date"]))
    return {"lineage_version": LINEAGE_VERSION, "export_key": export_key, "partitions": entries}


def write_raw_lineage(raw_zone: Any, document: Mapping[str, Any]) -> None:
    """Keep :func:`raw_lineage_document` in the raw zone: ``exports/lineage/<export>.json``
    (rewritten identically when the export is rebuilt; an export key never changes content)."""
    raw_zone.write_bytes(
        (*RAW_LINEAGE, f"{document['export_key']}.json"),
        json.dumps(document, sort_keys=True, indent=1).encode(),
    )


def read_raw_lineage(raw_zone: Any, export_key: str) -> dict[str, Any] | None:
    parts = (*RAW_LINEAGE, f"{export_key}.json")
    if not raw_zone.exists(*parts):
        return None
    return json.loads(raw_zone.read_bytes(*parts))


def _matches(
    entry: Mapping[str, Any], sealed: Mapping[Any, Any], seal: Callable[[str], str] | None
) -> bool:
    """A raw entry is the truth when its ``ref`` is the one the export sealed and, with the key
    (``seal``), when its date, data version and run id hash to that ``ref``."""
    ref = sealed.get((entry.get("asset"), entry.get("batch")))
    if ref is None or ref != entry.get("ref"):
        return False
    if seal is None:
        return True
    clear = {
        "asset": entry.get("asset"),
        "partition": entry.get("date"),
        "data_version": entry.get("data_version"),
        "run_id": entry.get("run_id"),
    }
    return hmac.compare_digest(seal(seal_text(clear)), str(ref))


def _sealed_refs(lineage: Mapping[str, Any]) -> dict[tuple[Any, Any], Any]:
    return {(e.get("asset"), e.get("partition")): e.get("ref") for e in lineage.get("upstream", [])}


def runs_per_batch(
    lineage: Mapping[str, Any],
    raw: Mapping[str, Any] | None = None,
    seal: Callable[[str], str] | None = None,
) -> dict[str, dict[str, str | None]]:
    """``{batch: {asset: run_id}}``: an image's producing runs. From the raw zone's document
    (``raw``) when given, for the entries that match the research ``lineage``'s sealed ``ref``
    (recomputed when ``seal`` is given); else from clear entries of ``lineage`` (exports built
    without a seal)."""
    out: dict[str, dict[str, str | None]] = {}
    if raw is not None:
        sealed = _sealed_refs(lineage)
        for entry in raw.get("partitions", []):
            batch = out.setdefault(str(entry["batch"]), {})
            if _matches(entry, sealed, seal):
                batch[str(entry["asset"])] = entry["run_id"]
        return out
    for entry in lineage.get("upstream", []):
        partition = entry.get("partition")
        if partition:
            out.setdefault(str(partition), {})[str(entry["asset"])] = entry.get("run_id")
    return out


class LineageError(RuntimeError):
    """An export or image that the raw zone's lineage cannot answer for."""


def resolve_lineage(
    research_zone: Any,
    raw_zone: Any,
    export_key: str,
    image_id: str | None = None,
    batch: str | None = None,
    seal: Callable[[str], str] | None = None,
) -> list[dict[str, Any]]:
    """For an export (optionally one image or one batch): per upstream study-date partition the
    asset, batch, real date, data version and run id, each checked against the sealed ``ref``
    in the research zone's ``lineage.json`` (``verified``; recomputed from the clear values
    when ``seal``, the pseudonym key's, is given). Needs both zones."""
    from cadbusi_assets.exports.build import _image_batches, export_path
    from cadbusi_assets.exports.compare import read_manifest

    parts = (*export_path(export_key), "lineage.json")
    if not research_zone.exists(*parts):
        raise LineageError(f"export {export_key!r} has no lineage.json in the research zone")
    sealed = _sealed_refs(json.loads(research_zone.read_bytes(*parts)))
    raw = read_raw_lineage(raw_zone, export_key)
    if raw is None:
        raise LineageError(f"export {export_key!r} has no raw-zone lineage (built before it?)")
    wanted: set[str] | None = None
    if image_id is not None:
        manifest = read_manifest(research_zone, export_key)
        if manifest is None or image_id not in set(manifest["image_id"].to_list()):
            raise LineageError(f"image {image_id!r} is not in export {export_key!r}")
        if "batch" in manifest.columns:  # an export cut before the batch left the manifest
            batches = manifest.filter(manifest["image_id"] == image_id)["batch"].to_list()
        else:  # the research zone's tables say which batch holds the image
            found = _image_batches(research_zone)
            batches = found.filter(found["image_id"] == image_id)["batch"].to_list()
        if not batches:
            raise LineageError(
                f"image {image_id!r} of export {export_key!r} is in no batch of the research "
                "zone any more"
            )
        wanted = {str(b) for b in batches}
    elif batch is not None:
        wanted = {batch}
    out = []
    for entry in raw.get("partitions", []):
        if wanted is not None and entry["batch"] not in wanted:
            continue
        out.append(dict(entry) | {"verified": _matches(entry, sealed, seal)})
    return out


def data_dates(research: Any, dates: Iterable[str], batch_name: Callable[[str], str]) -> list[str]:
    """The study dates (of ``dates``) whose batch has an ``images`` table in the research zone
    and is not left out of the catalog (the dates an export cut now holds images of)."""
    from cadbusi_assets.storage.tables import left_out_batches

    present = {
        path.name.removesuffix(".parquet")
        for path in research.iter_files("tables", "images", suffix=".parquet")
    } - left_out_batches(research)
    return sorted(day for day in dates if batch_name(day) in present)
