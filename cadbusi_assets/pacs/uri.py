"""``open_pacs``: pick the PACS implementation from a URI; secrets come from the environment.

URI forms:

- ``folder:///abs/path`` or a plain path: the demo folder PACS
  (``<root>/<StudyInstanceUID>/**/<file>``);
- ``dicomweb+http://host:port/dicom-web``, ``dicomweb+https://...``: DICOMweb (QIDO-RS listing,
  WADO-RS retrieval). Credentials: ``CADBUSI_PACS_TOKEN`` (bearer token) or
  ``CADBUSI_PACS_USER`` / ``CADBUSI_PACS_PASSWORD`` (basic auth); ``auth=google`` (query or
  option) uses Google application-default credentials (Cloud Healthcare DICOM stores);
- ``dimse://CALLED_AET@host:port?calling_aet=CADBUSI&move_destination=CADBUSI&store_port=11113&mode=move``
  (or ``mode=get``): DIMSE C-FIND then C-MOVE to our own Storage SCP, or C-GET; a series a
  run fetches whole in one SERIES-level request (``level=series``, the default) or every
  instance alone (``level=image``).

Query parameters and keyword options are merged (keyword options win). Common options:
``max_connections`` (requests in flight to this PACS, across all threads of the process),
``window`` (``"20:00-06:00"``: time of day when retrieval may run), ``timeout`` (seconds).
DICOMweb: ``max_instance_bytes`` (largest instance fetched, default 2 GiB; a larger one is
recorded failed and never stored), ``max_request_seconds`` (longest one answer's body may
take, default 1800; a server trickling bytes is cut there), ``max_answer_bytes`` (largest
listing or search answer read, default 256 MiB), ``tls_ca``, ``tls_cert``, ``tls_key`` (HTTPS
with a client certificate; :mod:`cadbusi_assets.pacs.tls`). DIMSE: ``tls=1`` with ``tls_ca``,
``tls_cert``, ``tls_key``, ``tls_hostname`` (DICOM TLS; see :mod:`cadbusi_assets.pacs.dimse`),
``max_find_results`` (default 100,000), ``max_instance_bytes`` too (a data
set arriving larger is cut: the association is aborted and its partial file removed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cadbusi_assets.pacs.base import Pacs, PacsError

TOKEN_ENV = "CADBUSI_PACS_TOKEN"
USER_ENV = "CADBUSI_PACS_USER"
PASSWORD_ENV = "CADBUSI_PACS_PASSWORD"

_URI_HELP = (
    "Use folder:///abs/path, dicomweb+https://host/path/dicom-web or "
    "dimse://CALLED_AET@host:port?calling_aet=CADBUSI&store_port=11113&mode=move."
)


def open_pacs(uri: str, **options: Any) -> Pacs:
    """Open the PACS named by ``uri`` (see the module docstring for the forms)."""
    text = str(uri or "").strip()
    if not text:
        raise PacsError("The PACS URI is empty. " + _URI_HELP)
    if "://" not in text:
        return _open_folder(text, options)
    scheme = text.split("://", 1)[0].lower()
    if scheme in {"folder", "file"}:
        return _open_folder(unquote(urlsplit(text).path), options)
    if scheme in {"dicomweb+http", "dicomweb+https"}:
        parts = urlsplit(text)
        merged = {**dict(parse_qsl(parts.query)), **options}
        if parts.username or parts.password:
            raise PacsError(
                "Do not put credentials in the PACS URI; set "
                f"{TOKEN_ENV} or {USER_ENV}/{PASSWORD_ENV} in the environment instead."
            )
        from cadbusi_assets.pacs.dicomweb import DicomWebPacs

        url = f"{scheme.removeprefix('dicomweb+')}://{parts.netloc}{parts.path}".rstrip("/")
        return DicomWebPacs(url, **_dicomweb_options(merged, os.environ))
    if scheme == "dimse":
        parts = urlsplit(text)
        if not parts.username or not parts.hostname or not parts.port:
            raise PacsError("A DIMSE PACS URI needs CALLED_AET@host:port. " + _URI_HELP)
        from cadbusi_assets.pacs.dimse import DimsePacs

        merged = {**dict(parse_qsl(parts.query)), **options}
        if isinstance(merged.get("storage_classes"), str):
            merged["storage_classes"] = [u for u in merged["storage_classes"].split(",") if u]
        return DimsePacs(
            called_aet=unquote(parts.username),
            host=parts.hostname,
            port=parts.port,
            **_typed(
                merged,
                ints=(
                    "store_port",
                    "max_connections",
                    "max_pdu",
                    "max_instance_bytes",
                    "max_find_results",
                ),
                floats=("timeout",),
            ),
        )
    raise PacsError(f"Unsupported PACS URI scheme {scheme!r}. " + _URI_HELP)


def _open_folder(path: str, options: Mapping[str, Any]) -> Pacs:
    from cadbusi_assets.pacs.folder import FolderPacs

    unknown = set(options) - {"window"}
    if unknown:
        raise PacsError(f"The folder PACS takes no options {sorted(unknown)}.")
    return FolderPacs(path, window=options.get("window"))


def _typed(
    options: Mapping[str, Any], ints: tuple[str, ...] = (), floats: tuple[str, ...] = ()
) -> dict[str, Any]:
    typed = dict(options)
    try:
        for name in ints:
            if name in typed and typed[name] is not None:
                typed[name] = int(typed[name])
        for name in floats:
            if name in typed and typed[name] is not None:
                typed[name] = float(typed[name])
    except (TypeError, ValueError):
        raise PacsError(
            f"Invalid number in the PACS options ({', '.join(ints + floats)})."
        ) from None
    return typed


def _dicomweb_options(options: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    typed = _typed(
        options,
        ints=("max_connections", "max_instance_bytes", "max_answer_bytes", "max_find_results"),
        floats=("timeout", "max_request_seconds"),
    )
    auth = str(typed.pop("auth", "") or "").lower()
    if "token" not in typed and env.get(TOKEN_ENV):
        typed["token"] = env[TOKEN_ENV]
    if "username" not in typed and env.get(USER_ENV):
        typed["username"] = env[USER_ENV]
        typed["password"] = env.get(PASSWORD_ENV, "")
    if auth == "google":
        typed["google_credentials"] = True
    elif auth not in {"", "none", "token", "basic"}:
        raise PacsError(f"Unknown DICOMweb auth {auth!r}: use token, basic or google.")
    return typed
