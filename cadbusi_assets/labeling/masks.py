"""Annotator segmentation masks: fetched once at label ingestion, stored in the research zone.

Labelbox exports a mask only as a URL (``mask.url``, or ``composite_mask.url`` with the
object's ``color_rgb``), hosted by Labelbox and fetched with the API key. At ingestion each
mask object of the current label set is

1. fetched through the label source (:meth:`fetch_mask`: the Labelbox source sends the API key
   to Labelbox hosts only, with timeouts and retries; the folder source reads a mask file or a
   ``data:`` URL), each URL once per ingestion (a composite mask serves all its objects);
2. checked: a PNG of the image's size (the research zone's ``images`` table, else the export's
   ``media_attributes``);
3. reduced to this object's pixels (the pixels of ``color_rgb`` in a composite mask; the bright
   pixels of a single-object mask) and stored as a 0/255 grayscale PNG under
   ``labels/labelbox/masks/<label id>/<feature id>-<digest>.png`` (content-addressed, so the
   snapshot of an older label set still finds its masks);
4. recorded in the objects table: ``mask_path`` (zone-relative) and ``mask_sha256``.

A mask whose object, URL, colour and label version were stored before is not fetched again
(``labels/labelbox/masks/index.parquet``). A failed fetch or check is a problem naming the label
id; the other masks and labels are unaffected. The objects table keeps ``mask_url`` without
query string (no signed-URL tokens) and a ``data:`` URL only as its digest.

>>> safe_mask_url("https://api.labelbox.com/masks/1?token=secret")
'https://api.labelbox.com/masks/1'
>>> safe_mask_url("data:image/png;base64,iVBORw0KGgo=")
'data:sha256-e1e10747c2374f62'
>>> safe_name("ckx12abc") == "ckx12abc", safe_name("../etc") == safe_name("../etc")
(True, True)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes, urlparse, urlunparse

import numpy as np
import polars as pl
from PIL import Image

MASKS_DIR = ("labels", "labelbox", "masks")
INDEX_FILE = "index.parquet"
MASK_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "mask_path": pl.Utf8,
    "mask_sha256": pl.Utf8,
}
#: One row per fetched mask: where it is stored, or why the mask was refused (a mask that came
#: back but is not a PNG of the image's size, or has no pixels of its colour, is not fetched
#: again for the same label version; failed downloads are tried again).
INDEX_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "fetch_key": pl.Utf8,
    "mask_path": pl.Utf8,
    "mask_sha256": pl.Utf8,
    "problem": pl.Utf8,
}
PROBLEM_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "label_id": pl.Utf8,
    "feature_id": pl.Utf8,
    "problem": pl.Utf8,
}
#: Problems listed one by one in the ingestion report (all are in its ``mask_problems`` table).
MAX_LISTED_PROBLEMS = 20
_SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,79}$")


class MaskFetchError(RuntimeError):
    """A mask could not be fetched; the message names no URL and no credential."""


def safe_mask_url(url: str | None) -> str | None:
    """The URL as stored: no query string, fragment or user info (tokens); a ``data:`` URL as
    the digest of its content; a file path as is."""
    if not url:
        return None
    if url.startswith("data:"):
        return "data:sha256-" + hashlib.sha256(url.encode()).hexdigest()[:16]
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        host = parsed.hostname or ""
        netloc = f"{host}:{parsed.port}" if parsed.port else host
        return urlunparse((parsed.scheme, netloc, parsed.path, "", "", ""))
    return url


def safe_name(identifier: str) -> str:
    """``identifier`` as a file name: itself when it is a plain id, else a digest."""
    if _SAFE.match(identifier) and ".." not in identifier:
        return identifier
    return "h" + hashlib.sha256(identifier.encode()).hexdigest()[:16]


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:`` URL (base64 or percent-encoded)."""
    header, comma, payload = url.partition(",")
    if not comma:
        raise MaskFetchError("malformed data: URL (no comma)")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except ValueError:
            raise MaskFetchError("malformed data: URL (bad base64)") from None
    return unquote_to_bytes(payload)


@dataclass(frozen=True)
class MaskReference:
    """One mask object of an export row, with the URL as exported (never stored)."""

    label_id: str
    feature_id: str | None
    url: str
    safe_url: str
    width: int | None
    height: int | None


def mask_references(row: Mapping[str, Any]) -> Iterator[MaskReference]:
    """The mask objects of one export row (Labelbox export v2 shape)."""
    media = row.get("media_attributes") or {}
    width, height = media.get("width"), media.get("height")
    for project in (row.get("projects") or {}).values():
        for label in project.get("labels") or []:
            for obj in (label.get("annotations") or {}).get("objects") or []:
                mask = obj.get("composite_mask") or obj.get("mask")
                if not isinstance(mask, Mapping) or not mask.get("url") or not label.get("id"):
                    continue
                if obj.get("bounding_box") or obj.get("polygon") or obj.get("line"):
                    continue  # the parser keeps the geometry, not the mask, of such objects
                url = str(mask["url"])
                yield MaskReference(
                    str(label["id"]),
                    obj.get("feature_id"),
                    url,
                    safe_mask_url(url) or "",
                    int(width) if isinstance(width, int | float) else None,
                    int(height) if isinstance(height, int | float) else None,
                )


def recording_mask_references(
    rows: Iterable[Mapping[str, Any]], sink: list[MaskReference]
) -> Iterator[Mapping[str, Any]]:
    """``rows`` unchanged, appending each row's :func:`mask_references` to ``sink``. A row
    not in the export shape adds none: the parser that reads the rows names what is wrong
    (:class:`~cadbusi_assets.labeling.ndjson.ExportFormatError`) before anything is written."""
    for row in rows:
        if isinstance(row, Mapping):
            with contextlib.suppress(AttributeError, KeyError, TypeError, ValueError):
                sink.extend(mask_references(row))
        yield row


def object_mask(data: bytes, size: tuple[int, int], color: list[int] | None) -> np.ndarray:
    """The object's pixels (bool array, height x width) of a PNG mask of ``size`` (w, h):
    pixels of ``color`` (a composite mask), else pixels brighter than mid-grey."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise MaskFetchError(f"the mask is {image.format or 'not an image'}, not a PNG")
            if image.size != tuple(size):
                raise MaskFetchError(
                    f"the mask is {image.size[0]}x{image.size[1]} px, the image "
                    f"{size[0]}x{size[1]} px"
                )
            image.load()
            if color is not None:
                rgb = np.asarray(image.convert("RGB"))
                pixels = np.all(rgb == np.asarray(color[:3], dtype=rgb.dtype), axis=-1)
            else:
                pixels = np.asarray(image.convert("L")) >= 128
    except MaskFetchError:
        raise
    except Exception:
        raise MaskFetchError("the mask is not a readable image") from None
    if not pixels.any():
        what = f"of colour {list(color[:3])}" if color is not None else "set"
        raise MaskFetchError(f"the mask has no pixels {what}")
    return pixels


def mask_png(pixels: np.ndarray) -> bytes:
    """A 0/255 grayscale PNG of a bool array."""
    buffer = io.BytesIO()
    Image.fromarray(np.where(pixels, 255, 0).astype(np.uint8), mode="L").save(
        buffer, format="PNG", optimize=True
    )
    return buffer.getvalue()


def fetch_key(
    label_id: str, feature_id: str | None, safe_url: str, color: Any, updated_at: Any
) -> str:
    text = "\x1f".join(
        str(v) for v in (label_id, feature_id, safe_url, list(color or []), updated_at)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class MaskIngestion:
    """What :func:`attach_masks` did."""

    objects: pl.DataFrame
    fetched: int = 0
    reused: int = 0
    stored: int = 0
    problems: list[dict[str, str | None]] = field(default_factory=list)

    def problem_table(self) -> pl.DataFrame:
        return pl.DataFrame(self.problems, schema=PROBLEM_SCHEMA, orient="row")


def with_mask_columns(objects: pl.DataFrame) -> pl.DataFrame:
    """``objects`` with ``mask_path`` / ``mask_sha256`` (null when missing)."""
    missing = {k: pl.lit(None, v) for k, v in MASK_COLUMNS.items() if k not in objects.columns}
    return objects.with_columns(**missing) if missing else objects


def attach_masks(
    zone: Any,
    objects: pl.DataFrame,
    labels: pl.DataFrame,
    references: Iterable[MaskReference],
    fetch: Callable[[str], bytes] | None,
    image_sizes: Mapping[str, tuple[int, int]],
) -> MaskIngestion:
    """Fetch, check, reduce and store the masks of ``objects`` (see the module doc); returns
    the objects with ``mask_path`` / ``mask_sha256`` and what happened."""
    objects = with_mask_columns(objects)
    pending = objects.filter(pl.col("mask_url").is_not_null())
    result = MaskIngestion(objects)
    if pending.height == 0:
        return result
    by_object = {(r.label_id, r.feature_id, r.safe_url): r for r in references}
    index_parts = (*MASKS_DIR, INDEX_FILE)
    index = (
        zone.read_parquet(*index_parts)
        if zone.exists(*index_parts)
        else pl.DataFrame(schema=INDEX_SCHEMA)
    )
    if "problem" not in index.columns:
        index = index.with_columns(problem=pl.lit(None, pl.Utf8))
    known = {k: (p, s, q) for k, p, s, q in index.select(list(INDEX_SCHEMA)).iter_rows()}
    updated = dict(
        labels.select("label_id", pl.col("updated_at").cast(pl.Utf8)).iter_rows()
        if labels.height
        else []
    )
    downloads: dict[str, bytes | MaskFetchError] = {}
    found: dict[tuple[str, str | None], tuple[str, str]] = {}
    new_index: dict[str, tuple[str | None, str | None, str | None]] = {}
    for row in pending.select(
        "label_id", "feature_id", "image_id", "mask_url", "mask_color"
    ).iter_rows(named=True):
        label_id, feature_id = row["label_id"], row["feature_id"]
        color = list(row["mask_color"]) if row["mask_color"] is not None else None
        key = fetch_key(label_id, feature_id, row["mask_url"], color, updated.get(label_id))

        def problem(text: str, label_id: str = label_id, feature_id: str | None = feature_id):
            result.problems.append(
                {"label_id": label_id, "feature_id": feature_id, "problem": text}
            )

        if key in known:
            path, digest, refused = known[key]
            if refused is not None:
                new_index[key] = known[key]
                problem(refused)
                continue
            if path is not None and digest is not None and zone.exists(*path.split("/")):
                found[(label_id, feature_id)] = (path, digest)
                new_index[key] = known[key]
                result.reused += 1
                continue
        reference = by_object.get((label_id, feature_id, row["mask_url"]))
        url = reference.url if reference is not None else row["mask_url"]
        if url.startswith("data:sha256-"):
            problem("the mask's data: URL is not in this export; re-export the label")
            continue
        size = image_sizes.get(row["image_id"])
        if size is None and reference is not None and reference.width and reference.height:
            size = (reference.width, reference.height)
        if size is None:
            problem("the image's size is unknown, so its mask cannot be checked")
            continue
        if fetch is None:
            problem("this label source cannot fetch masks")
            continue
        if url not in downloads:
            try:
                downloads[url] = fetch(url)
                result.fetched += 1
            except MaskFetchError as exc:
                downloads[url] = exc
        data = downloads[url]
        if isinstance(data, MaskFetchError):
            problem(f"mask not fetched: {data}")
            continue
        try:
            pixels = object_mask(data, size, color)
        except MaskFetchError as exc:
            problem(str(exc))
            new_index[key] = (None, None, str(exc))
            continue
        png = mask_png(pixels)
        digest = hashlib.sha256(png).hexdigest()
        name = f"{safe_name(feature_id or 'mask')}-{digest[:12]}.png"
        parts = (*MASKS_DIR, safe_name(label_id), name)
        if not zone.exists(*parts):
            zone.write_bytes(parts, png)
        result.stored += 1
        found[(label_id, feature_id)] = ("/".join(parts), digest)
        new_index[key] = ("/".join(parts), digest, None)
    if found:
        attached = pl.DataFrame(
            [(lid, fid, p, s) for (lid, fid), (p, s) in found.items()],
            schema={"label_id": pl.Utf8, "feature_id": pl.Utf8, **MASK_COLUMNS},
            orient="row",
        )
        result.objects = (
            objects.drop(*MASK_COLUMNS)
            .join(attached, on=["label_id", "feature_id"], how="left", nulls_equal=True)
            .select(objects.columns)
        )
    else:
        result.objects = objects.with_columns(
            **{k: pl.lit(None, v) for k, v in MASK_COLUMNS.items()}
        )
    merged_index = {**known, **new_index}
    zone.write_parquet(
        index_parts,
        pl.DataFrame(
            [(k, *entry) for k, entry in sorted(merged_index.items())],
            schema=INDEX_SCHEMA,
            orient="row",
        ),
    )
    return result


def image_sizes_from_table(images: pl.DataFrame | None) -> dict[str, tuple[int, int]]:
    """image id → (width, height) from the research zone's ``images`` table."""
    if images is None or images.height == 0 or not {"rows", "columns"} <= set(images.columns):
        return {}
    frame = images.select("image_id", "columns", "rows").drop_nulls().unique("image_id")
    return {i: (int(w), int(h)) for i, w, h in frame.iter_rows()}


__all__ = [
    "MASKS_DIR",
    "MASK_COLUMNS",
    "MaskFetchError",
    "MaskIngestion",
    "MaskReference",
    "attach_masks",
    "decode_data_url",
    "image_sizes_from_table",
    "mask_png",
    "mask_references",
    "object_mask",
    "recording_mask_references",
    "safe_mask_url",
    "safe_name",
]
