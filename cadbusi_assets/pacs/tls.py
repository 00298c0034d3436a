"""TLS settings shared by the DIMSE and DICOMweb PACS: ``tls_ca``, ``tls_cert``, ``tls_key``.

``tls_ca``: the PEM file of the CA that signed the PACS's certificate (default: the system's
CAs). ``tls_cert`` / ``tls_key``: our own certificate and its key (PEM files), for a PACS that
requires clients to show one. An encrypted key's passphrase comes from
``$CADBUSI_PACS_TLS_KEY_PASSWORD``, never from OpenSSL's prompt on the terminal (a daemon would
wait on it for good). TLS 1.2 or later; certificates and host names verified.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from cadbusi_assets.pacs.base import PacsError

#: The passphrase of an encrypted ``tls_key`` (never prompted for).
TLS_KEY_PASSWORD_ENV = "CADBUSI_PACS_TLS_KEY_PASSWORD"


def tls_contexts(
    ca: str | None, cert: str | None, key: str | None, *, needs_server: bool, what: str
) -> tuple[ssl.SSLContext, ssl.SSLContext | None]:
    """(client, server) TLS contexts: TLS 1.2 or later, certificates verified; the server
    context (``needs_server``: our C-MOVE Storage SCP) requires the peer's certificate.
    ``what`` names the PACS in messages (``DIMSE``, ``DICOMweb``)."""
    for name, path in (("tls_ca", ca), ("tls_cert", cert), ("tls_key", key)):
        if path and not Path(path).is_file():
            raise PacsError(f"{name} is not a readable file ({name} must be a PEM file path).")
    if bool(cert) != bool(key):
        raise PacsError("tls_cert and tls_key go together (our certificate and its key).")
    secret = os.environ.get(TLS_KEY_PASSWORD_ENV, "")

    def password() -> str:
        # never OpenSSL's prompt on the terminal (a daemon would wait on it for good)
        return secret

    try:
        client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca or None)
        client.minimum_version = ssl.TLSVersion.TLSv1_2
        server: ssl.SSLContext | None = None
        if cert and key:
            client.load_cert_chain(cert, key, password=password)
        if needs_server and cert and key:
            server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca or None)
            server.minimum_version = ssl.TLSVersion.TLSv1_2
            server.verify_mode = ssl.CERT_REQUIRED  # only a PACS with a trusted certificate
            server.load_cert_chain(cert, key, password=password)
    except (ssl.SSLError, OSError) as exc:
        if key and b"ENCRYPTED" in Path(key).read_bytes()[:4096]:
            raise PacsError(
                f"tls_key is encrypted and {TLS_KEY_PASSWORD_ENV} "
                + ("does not open it." if secret else "is not set.")
            ) from None
        raise PacsError(
            f"The {what} TLS files could not be loaded ({type(exc).__name__}: "
            f"{getattr(exc, 'reason', None) or 'unreadable'}). Check tls_ca, tls_cert, tls_key."
        ) from None
    return client, server
