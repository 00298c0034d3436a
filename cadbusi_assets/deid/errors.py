"""The one error de-identification raises."""

from __future__ import annotations


class DeidentificationError(ValueError):
    """An object cannot be cleaned or verified: quarantine it.

    The message is the quarantine reason. It names the kind of problem and the element or
    location, never a header value, identifier, name or date.
    """
