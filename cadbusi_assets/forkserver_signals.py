"""Imported first by the workers' fork server (:data:`cadbusi_assets.parallel.PRELOAD`): a
Ctrl-C while it imports ends it without a traceback.

The standard library's fork server ignores SIGINT ("protect the process from ^C") only once it
has imported its preload modules, which takes seconds with torch and the stages: a Ctrl-C at a
terminal in those seconds (SIGINT to the whole process group) printed the fork server's
KeyboardInterrupt traceback beside the command's one-line "interrupted" message. Ignoring it
instead is no better: the server then finished its imports and forked the workers the command
had asked for, after the command was gone, and each printed a traceback. So the server ends
quietly (``SystemExit``, as the interrupted command does). Its workers ignore SIGINT
(:func:`cadbusi_assets.parallel._init_worker`: the owner decides when work stops).
"""

from __future__ import annotations

import signal
from types import FrameType

#: The exit status of a process ended by Ctrl-C (128 + SIGINT), as the command's.
INTERRUPTED = 130


def _end_quietly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(INTERRUPTED)


signal.signal(signal.SIGINT, _end_quietly)
