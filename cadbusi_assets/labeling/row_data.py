"""``row_data`` that Labelbox can open, chosen by configuration.

Modes (``CADBUSI_LABELBOX_ROW_DATA``):

* ``path`` (default): the research-zone location as is: a local path (the Labelbox SDK uploads
  an existing local file itself) or a ``gs://`` / ``s3://`` URI, which Labelbox opens only
  when the bucket is connected to Labelbox with an IAM (delegated access) integration.
* ``signed_url``: an HTTPS URL signed for ``CADBUSI_SIGNED_URL_HOURS`` hours (default 72, at
  most 168, the V4 limit of both clouds) for ``gs://`` and ``s3://`` zones, made with fsspec's
  ``sign`` (gcsfs / s3fs). GCS signs with a private key: the zone's service-account
  credentials, or the key file named by ``CADBUSI_SIGNING_KEY_FILE``. Re-sending a batch
  (re-materializing its data rows) refreshes the URLs, keyed by global key, before they
  expire.
* ``upload``: the image bytes go to Labelbox-hosted storage: the file is copied to a local
  temporary folder (object-store zones) and the SDK uploads it.

The URL itself is never stored: the data-rows table keeps the zone location, the mode and the
expiry time.

>>> RowDataConfig.from_env({"CADBUSI_LABELBOX_ROW_DATA": "signed_url",
...                         "CADBUSI_SIGNED_URL_HOURS": "24"})
RowDataConfig(mode='signed_url', hours=24.0, signing_key_file=None)
>>> RowDataConfig.from_env({"CADBUSI_LABELBOX_ROW_DATA": "ftp"})
Traceback (most recent call last):
...
cadbusi_assets.labeling.row_data.RowDataError: CADBUSI_LABELBOX_ROW_DATA must be one of \
path, signed_url, upload (got 'ftp').
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadbusi_assets.storage import Zone
from cadbusi_assets.storage.zones import temporary_directory

ROW_DATA_ENV = "CADBUSI_LABELBOX_ROW_DATA"
SIGNED_URL_HOURS_ENV = "CADBUSI_SIGNED_URL_HOURS"
SIGNING_KEY_FILE_ENV = "CADBUSI_SIGNING_KEY_FILE"
MODES = ("path", "signed_url", "upload")
DEFAULT_HOURS = 72.0
#: V4 signed URLs (GCS and S3 SigV4) live at most 7 days.
MAX_HOURS = 168.0
SIGNABLE_PROTOCOLS = ("gs", "gcs", "s3", "s3a")


class RowDataError(ValueError):
    """The row-data configuration cannot work for this zone (the message says why)."""


@dataclass(frozen=True)
class RowDataConfig:
    mode: str = "path"
    hours: float = DEFAULT_HOURS
    signing_key_file: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RowDataError(
                f"{ROW_DATA_ENV} must be one of {', '.join(MODES)} (got {self.mode!r})."
            )
        if not 0 < self.hours <= MAX_HOURS:
            raise RowDataError(
                f"{SIGNED_URL_HOURS_ENV} must be more than 0 and at most {MAX_HOURS:.0f} hours "
                f"(the signed-URL limit of GCS and S3); got {self.hours}."
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RowDataConfig:
        env = os.environ if env is None else env
        hours_text = env.get(SIGNED_URL_HOURS_ENV) or str(DEFAULT_HOURS)
        try:
            hours = float(hours_text)
        except ValueError:
            raise RowDataError(
                f"{SIGNED_URL_HOURS_ENV} must be a number of hours (got {hours_text!r})."
            ) from None
        return cls(
            mode=(env.get(ROW_DATA_ENV) or "path").strip().lower(),
            hours=hours,
            signing_key_file=env.get(SIGNING_KEY_FILE_ENV) or None,
        )


@dataclass
class RowDataLocator:
    """Callable ``zone-relative path → row_data``; ``location`` gives what is stored instead."""

    zone: Zone
    config: RowDataConfig
    expires_at: dt.datetime | None = None
    _folder: Path | None = None
    _sign_kwargs: dict[str, Any] = field(default_factory=dict)
    #: a filesystem to sign with instead of the zone's (S3: one that presigns with SigV4)
    _signer: Any = None

    def location(self, relative: str) -> str:
        """The zone location (local path or bucket URI), never a signed URL."""
        if self.zone.local:
            return str(self.zone.local_path(*relative.split("/")))
        return str(self.zone.path(*relative.split("/")))

    def __call__(self, relative: str) -> str:
        if self.config.mode == "path" or (self.config.mode == "upload" and self.zone.local):
            return self.location(relative)
        if self.config.mode == "upload":
            assert self._folder is not None
            target = self._folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.zone.read_bytes(*relative.split("/")))
            return str(target)
        upath = self.zone.path(*relative.split("/"))
        seconds = round(self.config.hours * 3600)
        try:
            fs = self._signer if self._signer is not None else upath.fs
            return str(fs.sign(upath.path, expiration=seconds, **self._sign_kwargs))
        except (AttributeError, NotImplementedError, ValueError) as exc:
            raise RowDataError(
                f"Cannot sign URLs for the {self.zone.name} zone ({type(exc).__name__}). GCS "
                f"needs credentials with a private key: a service-account zone credential or "
                f"{SIGNING_KEY_FILE_ENV}; S3 needs access keys."
            ) from None


def _gcs_sign_kwargs(config: RowDataConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"version": "v4"}
    if config.signing_key_file:
        from google.oauth2 import service_account

        kwargs["credentials"] = service_account.Credentials.from_service_account_file(
            config.signing_key_file
        )
    return kwargs


def _s3_sigv4_signer(zone: Zone) -> Any:
    """The zone's S3 filesystem options with SigV4 presigning (botocore presigns with the
    legacy SigV2 query string unless told otherwise; SigV4 is what KMS buckets and newer
    regions accept, valid up to 7 days)."""
    fs = zone.root.fs
    options = dict(fs.storage_options)
    config_kwargs = dict(options.get("config_kwargs") or {})
    config_kwargs["signature_version"] = "s3v4"
    options["config_kwargs"] = config_kwargs
    return type(fs)(**options)


@contextmanager
def row_data_locator(
    zone: Zone, config: RowDataConfig | None = None, *, now: dt.datetime | None = None
) -> Iterator[RowDataLocator]:
    """A locator for ``zone`` valid inside the ``with`` block (upload copies live there)."""
    config = config or RowDataConfig.from_env()
    protocol = "" if zone.local else str(zone.root.protocol or "")
    if config.mode == "signed_url":
        if zone.local or protocol not in SIGNABLE_PROTOCOLS:
            raise RowDataError(
                f"{ROW_DATA_ENV}=signed_url needs the research zone on gs:// or s3:// (this "
                f"zone is {'local' if zone.local else protocol}); use 'upload' or 'path'."
            )
        start = now or dt.datetime.now(dt.UTC)
        is_gcs = protocol in ("gs", "gcs")
        yield RowDataLocator(
            zone,
            config,
            start + dt.timedelta(hours=config.hours),
            _sign_kwargs=_gcs_sign_kwargs(config) if is_gcs else {},
            _signer=None if is_gcs else _s3_sigv4_signer(zone),
        )
        return
    if config.mode == "upload" and not zone.local:
        with temporary_directory("row-data-") as folder:
            yield RowDataLocator(zone, config, _folder=Path(folder))
        return
    yield RowDataLocator(zone, config)
