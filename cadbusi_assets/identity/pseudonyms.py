"""Keyed, domain-separated pseudonyms.

Every pseudonym is ``HMAC-SHA256(key, domain || 0x00 || value)``: the same key and value give
the same pseudonym in every run and on every machine, different domains never collide, and
without the key the low-entropy originals (MRNs, accession numbers) cannot be enumerated.

>>> from cadbusi_assets.identity.keys import PseudonymKey
>>> p = Pseudonymizer(PseudonymKey(bytes(range(32))))
>>> p.patient_id("12345678") == p.patient_id("12345678")
True
>>> p.patient_id("12345678") != p.accession_number("12345678")
True
>>> p.uid("1.2.3").startswith("2.25.")
True
>>> len(p.accession_number("A1")) <= 16  # fits the SH value representation
True
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from functools import lru_cache

from cadbusi_assets.identity.keys import PseudonymKey

#: Per-patient date shifts fall in [-MAX_SHIFT_DAYS, -1]: dates move into the past, intervals
#: between a patient's dates are kept exactly.
MAX_SHIFT_DAYS = 730


def image_id_for(pseudo_sop_instance_uid: str, frame: int) -> str:
    """The stable key of one image (one frame of one de-identified instance).

    Derived only from research-zone data (the pseudonymized SOP Instance UID), so anyone holding
    the de-identified DICOM can recompute it without the key.

    >>> image_id_for("2.25.1", 0) == image_id_for("2.25.1", 0)
    True
    >>> len(image_id_for("2.25.1", 3))
    24
    """
    digest = hashlib.sha256(f"image\x00{pseudo_sop_instance_uid}\x00{int(frame)}".encode())
    return digest.hexdigest()[:24]


def instance_id_for(pseudo_sop_instance_uid: str) -> str:
    """The stable key of one de-identified DICOM instance (used for its file name)."""
    return hashlib.sha256(f"instance\x00{pseudo_sop_instance_uid}".encode()).hexdigest()[:24]


class Pseudonymizer:
    """Pseudonyms for one key. Cheap to create; safe to pickle to worker processes."""

    def __init__(self, key: PseudonymKey) -> None:
        self._key = key

    def __repr__(self) -> str:
        return f"Pseudonymizer({self._key!r})"

    def __reduce__(self):
        return (Pseudonymizer, (self._key,))

    @property
    def key_fingerprint(self) -> str:
        return self._key.fingerprint

    def digest(self, domain: str, value: str) -> bytes:
        return _digest(self._key.secret_bytes(), domain, value)

    def token(self, domain: str, value: str, length: int = 15) -> str:
        """Base32 text of the HMAC (A–Z, 2–7), ``length`` characters (5 bits each)."""
        text = base64.b32encode(self.digest(domain, value)).decode("ascii").rstrip("=")
        return text[:length]

    def hex(self, domain: str, value: str, length: int = 32) -> str:
        return self.digest(domain, value).hex()[:length]

    # -- identifiers -----------------------------------------------------------------------
    def patient_id(self, patient_id: str, issuer: str = "") -> str:
        """``P`` + 15 base32 characters (75 bits). Fits LO and SH."""
        return "P" + self.token("patient", f"{issuer}|{patient_id.strip()}")

    def accession_number(self, accession_number: str, issuer: str = "") -> str:
        """``A`` + 15 base32 characters: 16 characters, the SH maximum of AccessionNumber."""
        return "A" + self.token("accession", f"{issuer}|{accession_number.strip()}")

    def other_identifier(self, kind: str, value: str) -> str:
        """Any other identifier (study ID, specimen accession, encounter...): ``X`` + 15 chars."""
        return "X" + self.token("identifier:" + kind, value.strip())

    def uid(self, uid: str) -> str:
        """``2.25.<int of the first 128 bits>``: a valid UUID-derived UID, at most 44 characters."""
        return _uid(self._key.secret_bytes(), uid.strip().rstrip("\x00"))

    def raw_key(self, kind: str, value: str) -> str:
        """Opaque 32-hex-character name for raw-zone paths (no identifier in clear text)."""
        return self.hex("raw:" + kind, value, 32)

    def batch_name(self, partition: str) -> str:
        """Opaque name of a partition (a study date) in the research zone.

        Research-zone files must not reveal real study dates (with the shifted dates inside they
        would reveal each patient's date shift), so per-partition tables there are named by this.
        """
        return "b" + self.hex("batch", partition, 20)

    # -- dates -----------------------------------------------------------------------------
    def date_shift_days(self, patient_id: str, issuer: str = "") -> int:
        """Per-patient shift in days, in [-MAX_SHIFT_DAYS, -1]."""
        value = int.from_bytes(
            self.digest("dateshift", f"{issuer}|{patient_id.strip()}")[:8], "big"
        )
        return -(value % MAX_SHIFT_DAYS) - 1

    def shift_date(self, value: dt.date, patient_id: str, issuer: str = "") -> dt.date:
        return value + dt.timedelta(days=self.date_shift_days(patient_id, issuer))

    # -- splits ----------------------------------------------------------------------------
    def unit_interval(self, domain: str, value: str) -> float:
        """A deterministic number in [0, 1) for ``value`` (for patient-level splits)."""
        return int.from_bytes(self.digest(domain, value)[:8], "big") / 2**64


@lru_cache(maxsize=65536)
def _digest(key: bytes, domain: str, value: str) -> bytes:
    return hmac.new(key, domain.encode() + b"\x00" + value.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=65536)
def _uid(key: bytes, uid: str) -> str:
    return "2.25." + str(int.from_bytes(_digest(key, "uid", uid)[:16], "big"))
