"""Certificates for the TLS tests: a CA, certificates it signed for the server and for us
(127.0.0.1, localhost), a second CA that signed nothing, and an encrypted copy of a key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def encrypted_copy(key_file: Path, passphrase: bytes) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    out = key_file.with_name("encrypted-" + key_file.name)
    out.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )
    return out


def certificates(folder: Path) -> dict[str, Path]:
    """A CA, and certificates it signed for Orthanc and for us (127.0.0.1, localhost); a second
    CA that signed nothing here."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    files: dict[str, Path] = {}

    def write(name: str, cert, key) -> None:
        files[f"{name}.pem"] = folder / f"{name}.pem"
        files[f"{name}.key"] = folder / f"{name}.key"
        files[f"{name}.pem"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{name}.key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def ca(name: str):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        write(name, cert, key)
        return cert, key

    authority, authority_key = ca("ca")
    ca("other-ca")
    for name in ("orthanc", "cadbusi"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(authority.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
                critical=False,
            )
            .sign(authority_key, hashes.SHA256())
        )
        write(name, cert, key)
    return files


def refuses_a_missing_or_wrong_passphrase(monkeypatch, uri: str) -> None:
    """``open_pacs(uri)`` with an encrypted ``tls_key``: no passphrase and a wrong one are
    refused with the variable's name (never OpenSSL's prompt); afterwards the right one,
    ``correct horse``, is set."""
    import pytest

    from cadbusi_assets.pacs import open_pacs
    from cadbusi_assets.pacs.base import PacsError
    from cadbusi_assets.pacs.tls import TLS_KEY_PASSWORD_ENV

    monkeypatch.delenv(TLS_KEY_PASSWORD_ENV, raising=False)
    with pytest.raises(PacsError, match=f"tls_key is encrypted and {TLS_KEY_PASSWORD_ENV} is not"):
        open_pacs(uri)
    monkeypatch.setenv(TLS_KEY_PASSWORD_ENV, "wrong")
    with pytest.raises(PacsError, match="does not open it"):
        open_pacs(uri)
    monkeypatch.setenv(TLS_KEY_PASSWORD_ENV, "correct horse")
