"""De-identification profiles: PS3.15 Basic Profile plus CID 7050 options, and the resolved
action for any attribute.

Actions after resolution are single letters: ``X`` remove, ``Z`` empty, ``D`` dummy, ``K``
keep (sequences are kept *and recursed into*), ``C`` clean, ``U`` new UID; ``U*`` is the
``X/Z/U*`` sequence action (keep the sequence, remap the UIDs inside it).

>>> DEFAULT_PROFILE.action(0x00080020)  # Study Date under Retain Modified Dates
'C'
>>> DEFAULT_PROFILE.action(0x00100030)  # Patient's Birth Date: Z in every option
'Z'
>>> get_profile("basic").action(0x00081010)  # Station Name X/Z/D -> X without Device Identity
'X'
>>> DEFAULT_PROFILE.action(0x00081010)
'K'
>>> sorted(PROFILE_NAMES)
['basic', 'research-breast-us', 'research-breast-us-full-dates']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cadbusi_assets.deid.table import ConfidentialityTable, Rule, confidentiality_table


@dataclass(frozen=True)
class Code:
    """A coded concept (``CodeValue``, ``CodingSchemeDesignator``, ``CodeMeaning``): the
    CID 7050 codes below, written out (``pydicom.sr.codedict`` takes ~0.2 s to import; a
    test checks every code against it)."""

    value: str
    scheme_designator: str
    meaning: str


def _dcm(value: str, meaning: str) -> Code:
    return Code(value, "DCM", meaning)


#: Option name -> CID 7050 code.
OPTION_CODES: dict[str, Code] = {
    "clean_pixel_data": _dcm("113101", "Clean Pixel Data Option"),
    "clean_recognizable_visual_features": _dcm(
        "113102", "Clean Recognizable Visual Features Option"
    ),
    "clean_graphics": _dcm("113103", "Clean Graphics Option"),
    "clean_structured_content": _dcm("113104", "Clean Structured Content Option"),
    "clean_descriptors": _dcm("113105", "Clean Descriptors Option"),
    "retain_full_dates": _dcm(
        "113106", "Retain Longitudinal Temporal Information Full Dates Option"
    ),
    "retain_modified_dates": _dcm(
        "113107", "Retain Longitudinal Temporal Information Modified Dates Option"
    ),
    "retain_patient_characteristics": _dcm("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": _dcm("113109", "Retain Device Identity Option"),
    "retain_uids": _dcm("113110", "Retain UIDs Option"),
    "retain_safe_private": _dcm("113111", "Retain Safe Private Option"),
    "retain_institution_identity": _dcm("113112", "Retain Institution Identity Option"),
}
BASIC_PROFILE_CODE = _dcm("113100", "Basic Application Confidentiality Profile")

#: Options whose effect is not a table column (pixels, private allow-list) but code.
_ENGINE_OPTIONS = {"clean_pixel_data", "clean_recognizable_visual_features", "retain_safe_private"}

#: Compound basic actions resolved to the weaker one (the stronger one is only needed for
#: IOD conformance of Type 1/2 attributes, which the engine handles by name: PatientID,
#: AccessionNumber, StudyID get pseudonyms; dates under a dates option are shifted).
_COMPOUND = {"Z/D": "Z", "X/Z": "X", "X/D": "X", "X/Z/D": "X", "X/Z/U*": "U*"}

#: When several options name the same attribute, the most protective one wins.
_OPTION_PRECEDENCE = ("X", "Z", "D", "C", "K")

#: SOP classes we de-identify (everything else is rejected, fail closed).
US_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
        "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image Storage
        "1.2.840.10008.5.1.4.1.1.6",  # Ultrasound Image Storage (Retired)
        "1.2.840.10008.5.1.4.1.1.3",  # Ultrasound Multi-frame Image Storage (Retired)
    }
)
SC_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
        "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
        "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
    }
)


@dataclass(frozen=True)
class DeidProfile:
    """A named set of CID 7050 options on top of the Basic Profile.

    ``private_allow_list`` holds ``(group, private creator, element offset)`` triples kept
    under the Retain Safe Private option (element offset = low byte of the element number).
    """

    name: str
    options: frozenset[str]
    description: str = ""
    private_allow_list: frozenset[tuple[int, str, int]] = frozenset()
    sop_classes: frozenset[str] = field(default=US_SOP_CLASSES | SC_SOP_CLASSES)

    def __post_init__(self) -> None:
        unknown = set(self.options) - set(OPTION_CODES)
        if unknown:
            raise ValueError(f"unknown de-identification options: {sorted(unknown)}")
        if {"retain_full_dates", "retain_modified_dates"} <= set(self.options):
            raise ValueError("choose one of retain_full_dates and retain_modified_dates")

    @property
    def table(self) -> ConfidentialityTable:
        return confidentiality_table()

    def has(self, option: str) -> bool:
        return option in self.options

    def rule(self, tag: int) -> Rule | None:
        return self.table.rule(tag)

    def action_for_rule(self, rule: Rule) -> str:
        """The single action for ``rule`` under this profile's options."""
        chosen = [rule.options[o] for o in self.options if o in rule.options]
        if chosen:
            for action in _OPTION_PRECEDENCE:
                if action in chosen:
                    return action
        return _COMPOUND.get(rule.basic, rule.basic)

    def action(self, tag: int) -> str | None:
        """The action for ``tag``, or ``None`` when the table does not list it."""
        rule = self.rule(tag)
        return None if rule is None else self.action_for_rule(rule)

    @property
    def dates_policy(self) -> str:
        """``modified`` (shift), ``full`` (keep) or ``removed``."""
        if self.has("retain_modified_dates"):
            return "modified"
        if self.has("retain_full_dates"):
            return "full"
        return "removed"

    def codes(self) -> list[Code]:
        """CID 7050 codes: the Basic Profile, then each option in table order."""
        return [BASIC_PROFILE_CODE] + [OPTION_CODES[o] for o in OPTION_CODES if o in self.options]

    def method_text(self) -> list[str]:
        """``DeidentificationMethod`` values (LO: at most 64 characters each)."""
        values = [f"cadbusi_assets deid; profile {self.name}"[:64], "PS3.15 E.1-1 Basic Profile"]
        values += [OPTION_CODES[o].meaning[:64] for o in OPTION_CODES if o in self.options]
        return values


DEFAULT_PROFILE = DeidProfile(
    name="research-breast-us",
    options=frozenset(
        {
            "clean_pixel_data",
            "clean_descriptors",
            "retain_modified_dates",
            "retain_patient_characteristics",
            "retain_device_identity",
        }
    ),
    description=(
        "Research breast ultrasound: Basic Profile + Clean Pixel Data + Clean Descriptors + "
        "Retain Longitudinal Temporal Information (Modified Dates) + Retain Patient "
        "Characteristics + Retain Device Identity"
    ),
)

PROFILES: dict[str, DeidProfile] = {
    DEFAULT_PROFILE.name: DEFAULT_PROFILE,
    "basic": DeidProfile(
        name="basic",
        options=frozenset({"clean_pixel_data"}),
        description="Basic Profile + Clean Pixel Data (dates, device and descriptors removed)",
    ),
    "research-breast-us-full-dates": DeidProfile(
        name="research-breast-us-full-dates",
        options=(DEFAULT_PROFILE.options - {"retain_modified_dates"}) | {"retain_full_dates"},
        description="As research-breast-us, but dates are kept unmodified (limited data set)",
    ),
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get_profile(name: str | None = None) -> DeidProfile:
    """The built-in profile called ``name`` (default: :data:`DEFAULT_PROFILE`)."""
    if not name:
        return DEFAULT_PROFILE
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown de-identification profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}"
        ) from None
