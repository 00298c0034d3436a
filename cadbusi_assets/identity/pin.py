"""The pseudonym key a demo home is pinned to.

A demo deployment falls back to the home's own key file (``<home>/secrets/pseudonym.key``)
when a process has neither ``CADBUSI_PSEUDONYM_KEY_FILE`` nor ``CADBUSI_PSEUDONYM_KEY`` in its
environment. A daemon started without the variable beside a webserver or a shell that has it
would then write with the home's key; on empty zones the first writer's key won (the zones'
fingerprint check only compares with what is already written).

The home therefore records the fingerprint of its key (``<home>/secrets/pseudonym.key.pin``:
the fingerprint only, never the key). ``cadbusi demo`` writes it when it sets the home up, a
process given the key in its environment writes it when none exists, and every writer checks
it (:func:`check_key_pin`). A process that only has the home's fallback key, in a home with no
pin, is refused (it cannot tell whether it is the one that forgot the variable), unless the
zones hold data of that key and of no other: a home set up before pins existed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from cadbusi_assets.identity.keys import (
    KEY_ENV_VAR,
    KEY_FILE_ENV_VAR,
    PseudonymKey,
    PseudonymKeyError,
)

PIN_SUFFIX = ".pin"


def pin_path(home_key_file: Path) -> Path:
    """Where the pin of a home whose own key file is ``home_key_file`` lives (beside it)."""
    return home_key_file.with_name(home_key_file.name + PIN_SUFFIX)


def read_pin(pin: Path) -> str | None:
    """The pinned fingerprint (``None``: no pin)."""
    try:
        text = pin.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PseudonymKeyError(
            f"The key pin of the demo home ({pin}) cannot be read ({type(exc).__name__})."
        ) from None
    return text or None


def _source(explicit: bool) -> str:
    if explicit:
        return f"the key its environment names ({KEY_FILE_ENV_VAR} or {KEY_ENV_VAR})"
    return (
        f"the demo home's own key file (its environment has neither {KEY_FILE_ENV_VAR} "
        f"nor {KEY_ENV_VAR})"
    )


def write_pin(pin: Path, key: PseudonymKey) -> bool:
    """Pin ``key`` when no pin exists (atomically: one of two processes at once wins).
    ``True`` when this call wrote the pin."""
    pin.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(pin, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.fingerprint + "\n")
    return True


def check_key_pin(
    pin: Path,
    key: PseudonymKey,
    *,
    explicit: bool,
    recorded: Callable[[], set[str]] | None = None,
) -> None:
    """Raise :class:`PseudonymKeyError` unless ``key`` is the key the home is pinned to.

    ``explicit``: the process was given the key in its environment (or its run config); such
    a process pins its key when the home has no pin yet. A process on the home's fallback key
    file is refused where no pin exists, unless the zones already hold data of that key and
    of no other (``recorded``: the fingerprints the zones record; a home written before pins
    existed). The message holds fingerprints only.
    """
    pinned = read_pin(pin)
    if pinned is None and explicit and write_pin(pin, key):
        return
    if pinned is None and recorded is not None and recorded() == {key.fingerprint}:
        write_pin(pin, key)
        pinned = read_pin(pin)
    if pinned is None:
        pinned = read_pin(pin)
    if pinned is None:
        raise PseudonymKeyError(
            f"This process would write with {_source(explicit)}, but the demo home has no key "
            f"pin ({pin.name} beside that key file), so nothing tells whether that is the key "
            "the deployment's other processes (webserver, daemon, shells) use. Set "
            f"{KEY_FILE_ENV_VAR} in this process's environment (the first process with a key "
            "in its environment pins it), or run `cadbusi demo` once (it pins the key it uses)."
        )
    if pinned != key.fingerprint:
        raise PseudonymKeyError(
            f"This demo home is pinned to the pseudonym key {pinned}, but this process would "
            f"write with the key {key.fingerprint}, from {_source(explicit)}. Give every process "
            f"of the deployment (webserver, daemon, `dagster`, `cadbusi`) the same "
            f"{KEY_FILE_ENV_VAR}; nothing was written. To change the key on purpose, start a new "
            f"home (or delete its zones and {pin.name})."
        )
