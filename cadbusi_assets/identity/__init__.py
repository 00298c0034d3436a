"""Secret pseudonym key and keyed pseudonyms (HMAC-SHA256, domain-separated).

Everything that turns an identifier into a research identifier goes through here, so that the
same key and the same input give the same pseudonym in every package, run and machine.
"""

from cadbusi_assets.identity.keys import (
    KEY_ENV_VAR,
    KEY_FILE_ENV_VAR,
    MIN_KEY_BYTES,
    PseudonymKey,
    PseudonymKeyError,
    generate_key_file,
    key_fingerprint,
    load_key,
)
from cadbusi_assets.identity.pseudonyms import Pseudonymizer, image_id_for, instance_id_for

__all__ = [
    "KEY_ENV_VAR",
    "KEY_FILE_ENV_VAR",
    "MIN_KEY_BYTES",
    "PseudonymKey",
    "PseudonymKeyError",
    "Pseudonymizer",
    "generate_key_file",
    "image_id_for",
    "instance_id_for",
    "key_fingerprint",
    "load_key",
]
