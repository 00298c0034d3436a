"""Preloaded by a fork server in tests: records (in the file named by ``$CADBUSI_EXIT_PROBE``)
whether that server ran its interpreter's exit (atexit handlers, module teardown)."""

from __future__ import annotations

import atexit
import os
from pathlib import Path

PROBE_ENV_VAR = "CADBUSI_EXIT_PROBE"


def _record_exit() -> None:
    with Path(os.environ[PROBE_ENV_VAR]).open("a") as handle:
        handle.write(f"{os.getpid()}\n")


if os.environ.get(PROBE_ENV_VAR):
    atexit.register(_record_exit)
