"""Loading the secret pseudonym key.

The key is read from a file (``CADBUSI_PSEUDONYM_KEY_FILE``) or from an environment variable
(``CADBUSI_PSEUDONYM_KEY``, hex or base64). It is never written next to data, never logged and
never put into an exception message or a ``repr``. A missing or weak key is a clear error.

The key is read **byte-exact**; nothing is silently normalised (a changed key changes every
pseudonym, so an editor that adds a byte-order mark must not give a second, silent key):

- a byte-order mark (UTF-8 ``EF BB BF``, UTF-16 or UTF-32) at the start of the file is
  rejected with an error;
- a file that is UTF-8 text is a *text key*: hex or base64 in ASCII, with at most one line
  ending (``\n`` or ``\r\n``) at the very end, which is removed. Any other whitespace
  (leading, trailing or inside, a second newline) and any non-ASCII character are rejected;
- a file that is not UTF-8 text is a *binary key*: its bytes are the key, unchanged;
- ``CADBUSI_PSEUDONYM_KEY`` follows the text-key rules.

:attr:`PseudonymKey.fingerprint` tells keys apart without revealing them: the first 16 hex
characters of SHA-256 over ``HMAC-SHA256(key, b"cadbusi-fingerprint")``. Stages record it per
partition, and a run with another key fails.

>>> key = PseudonymKey(bytes(range(32)))
>>> "00010203" in repr(key)
False
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

KEY_FILE_ENV_VAR = "CADBUSI_PSEUDONYM_KEY_FILE"
KEY_ENV_VAR = "CADBUSI_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32

_HOW_TO_FIX = (
    f"Create a key once with `cadbusi keygen PATH` (32 random bytes, stored outside the data "
    f"zones, readable only by the pipeline) and set {KEY_FILE_ENV_VAR}=PATH, or put the key "
    f"(hex or base64, at least {MIN_KEY_BYTES} bytes) in {KEY_ENV_VAR}. Losing or changing the "
    "key changes every pseudonym, date shift and split: back it up in your secret manager."
)


class PseudonymKeyError(RuntimeError):
    """The pseudonym key is missing, unreadable or too weak. The message never holds the key."""


class PseudonymKey:
    """An opaque secret. Its bytes are only reachable through :meth:`secret_bytes`."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray):
            raise PseudonymKeyError("The pseudonym key must be bytes. " + _HOW_TO_FIX)
        if len(key) < MIN_KEY_BYTES:
            raise PseudonymKeyError(
                f"The pseudonym key is too short ({len(key)} bytes; at least {MIN_KEY_BYTES} "
                "are needed). " + _HOW_TO_FIX
            )
        if len(set(key)) < 8:
            raise PseudonymKeyError(
                "The pseudonym key looks weak (almost all bytes are the same). " + _HOW_TO_FIX
            )
        self._key = bytes(key)

    def secret_bytes(self) -> bytes:
        return self._key

    @property
    def fingerprint(self) -> str:
        """A short, non-reversible tag that tells two keys apart (safe to log and store):
        the first 16 hex characters of ``SHA-256(HMAC-SHA256(key, b"cadbusi-fingerprint"))``."""
        tag = hmac.new(self._key, b"cadbusi-fingerprint", hashlib.sha256).digest()
        return hashlib.sha256(tag).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"PseudonymKey(fingerprint={self.fingerprint})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PseudonymKey) and secrets.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __reduce__(self):  # pickling is needed to hand the key to worker processes
        return (PseudonymKey, (self._key,))


def key_fingerprint(key: PseudonymKey | object) -> str:
    """The fingerprint of a :class:`PseudonymKey` or of a ``Pseudonymizer``'s key (one
    definition for the whole project: see :attr:`PseudonymKey.fingerprint`)."""
    if isinstance(key, PseudonymKey):
        return key.fingerprint
    fingerprint = getattr(key, "key_fingerprint", None)
    if isinstance(fingerprint, str):
        return fingerprint
    raise TypeError("key_fingerprint takes a PseudonymKey or a Pseudonymizer")


_BOMS = (
    (b"\xef\xbb\xbf", "UTF-8"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)
_TEXT_KEY_CHARS = frozenset("0123456789abcdefABCDEFghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ+/=")


def _decode_text_key(text: str, source: str) -> bytes:
    """Hex or base64 text, with at most one trailing line ending (removed); nothing else is
    stripped: any other whitespace or a non-ASCII character is an error."""
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text.strip():
        raise PseudonymKeyError(f"The pseudonym key in {source} is empty. " + _HOW_TO_FIX)
    if any(c.isspace() for c in text):
        raise PseudonymKeyError(
            f"The pseudonym key in {source} contains whitespace other than one final newline "
            "(leading or trailing spaces, tabs, blank lines or a second newline). Keys are read "
            "byte-exact: write the key as one line of hex or base64, optionally followed by one "
            "newline."
        )
    if not text.isascii() or not set(text) <= _TEXT_KEY_CHARS:
        raise PseudonymKeyError(
            f"The pseudonym key in {source} contains characters that are neither hex nor "
            "base64 (a non-ASCII or invisible character?). Keys are read byte-exact. " + _HOW_TO_FIX
        )
    try:
        if len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text):
            return bytes.fromhex(text)
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise PseudonymKeyError(
            f"The pseudonym key in {source} is neither hex nor base64. " + _HOW_TO_FIX
        ) from None


def key_from_file_bytes(raw: bytes) -> PseudonymKey:
    """The key of a key file's bytes, by the byte-exact rules of the module doc."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raise PseudonymKeyError(
                f"The pseudonym key file starts with a {encoding} byte-order mark (an editor "
                "added it?). Keys are read byte-exact, so it would silently change the key: "
                "save the file without a byte-order mark (plain ASCII hex, as `cadbusi keygen` "
                "writes it)."
            )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return PseudonymKey(raw)  # a binary key: the bytes as they are
    return PseudonymKey(_decode_text_key(text, "the key file"))


def load_key(
    key_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    forbidden_roots: tuple[str | os.PathLike[str], ...] = (),
) -> PseudonymKey:
    """Load the key from ``key_file``, else ``$CADBUSI_PSEUDONYM_KEY_FILE``, else ``$CADBUSI_PSEUDONYM_KEY``.

    ``forbidden_roots`` are data zones (local folders) the key file must not live in.
    Raises :class:`PseudonymKeyError` with instructions when no usable key is found.
    """
    env = os.environ if env is None else env
    path_text = str(key_file) if key_file else env.get(KEY_FILE_ENV_VAR, "")
    if path_text:
        path = Path(path_text).expanduser()
        for root in forbidden_roots:
            root_path = Path(str(root).removeprefix("file://")).expanduser()
            try:
                path.resolve().relative_to(root_path.resolve())
            except ValueError:
                continue
            raise PseudonymKeyError(
                "The pseudonym key file lies inside a data zone; keys must never be stored next "
                "to data. Move it out of the zone and update " + KEY_FILE_ENV_VAR + "."
            )
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise PseudonymKeyError(
                f"The pseudonym key file named by {KEY_FILE_ENV_VAR} does not exist. " + _HOW_TO_FIX
            ) from None
        except OSError as exc:
            raise PseudonymKeyError(
                f"The pseudonym key file cannot be read ({exc.strerror}). " + _HOW_TO_FIX
            ) from None
        return key_from_file_bytes(raw)
    text = env.get(KEY_ENV_VAR, "")
    if text:
        return PseudonymKey(_decode_text_key(text, KEY_ENV_VAR))
    raise PseudonymKeyError("No pseudonym key is configured. " + _HOW_TO_FIX)


def generate_key_file(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write 32 random bytes (hex) to ``path`` with mode 0600. Refuses to overwrite by default."""
    target = Path(path).expanduser()
    if target.exists() and not overwrite:
        raise PseudonymKeyError(
            "A key file already exists there; refusing to overwrite it (a new key would change "
            "every pseudonym). Pass overwrite=True only if you really mean to rotate the key."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(MIN_KEY_BYTES) + "\n")
    os.chmod(target, stat.S_IRUSR | stat.S_IWUSR)
    return target
