"""Synthetic people and places. No name part is a word used in reports or on screen.

Patient names are upper case (DICOM PN ``LAST^FIRST``); staff lists never share a word with the
patient lists, so a PHI scan for patient names does not trip on a signature line.
"""

from __future__ import annotations

from dataclasses import dataclass

FEMALE_FIRST_NAMES = (
    "ABIGAIL", "ADELINE", "AGNES", "ALICIA", "AMELIA", "ANGELA", "BEATRICE", "BERNADETTE",
    "BRENDA", "CAMILLE", "CAROLINE", "CECILIA", "CHARLOTTE", "CLAUDIA", "CORINNE", "DAPHNE",
    "DEBORAH", "DELPHINE", "DOLORES", "EDITH", "ELEANOR", "ELOISE", "EVELYN", "FLORENCE",
    "FRANCINE", "GEORGINA", "GLORIA", "GWENDOLYN", "HARRIET", "HELOISE", "IMOGEN", "INGRID",
    "ISADORA", "JOSEPHINE", "JULIANA", "KATHLEEN", "LAVINIA", "LORRAINE", "LUCINDA",
    "MADELINE", "MARGUERITE", "MATILDA", "MAUREEN", "MIRANDA", "NADINE", "OLIVIA", "PENELOPE",
    "PRISCILLA", "ROSALIND", "SABRINA", "SERAPHINA", "SYLVIA", "THEODORA", "URSULA",
    "VERONICA", "WILHELMINA", "WINIFRED", "YOLANDA", "ZENOBIA", "ANNEMARIE", "CONSUELO",
    "FUMIKO", "GUADALUPE", "MAGDALENA", "NKECHI", "SVETLANA", "XIOMARA", "YESENIA",
)  # fmt: skip

MALE_FIRST_NAMES = (
    "ALBERT", "BERNARD", "CORNELIUS", "DESMOND", "EUGENE", "FREDERICK", "GILBERT", "HORACE",
    "IGNATIUS", "LEOPOLD", "MORTIMER", "NATHANIEL", "OSWALD", "PERCIVAL", "RUPERT",
)  # fmt: skip

LAST_NAMES = (
    "ABERNATHY", "ALDRIDGE", "BALLANTYNE", "BARTHOLOMEW", "BECKWITH", "BLACKWOOD", "BRADSHAW",
    "CALLOWAY", "CARMICHAEL", "CHADWICK", "DELACROIX", "DRUMMOND", "DUNSMORE", "ELLINGTON",
    "FAIRWEATHER", "FITZGERALD", "GALLOWAY", "GRANTHAM", "HALLORAN", "HARGREAVES", "HATHAWAY",
    "HOLLOWAY", "KINCAID", "LANGFORD", "LOCKHART", "MACALLISTER", "MERRIWEATHER",
    "MONTGOMERY", "NORTHCOTT", "OAKSHOTT", "PEMBERTON", "PENDLETON", "QUIMBY", "RADCLIFFE",
    "RAVENSCROFT", "SALTONSTALL", "SINCLAIR", "STANHOPE", "THORNBURY", "TREMAINE",
    "VANDERMEER", "WAINWRIGHT", "WESTBROOK", "WHITTAKER", "WINSLOW", "YARBOROUGH",
    "ZIMMERMANN", "OKONKWO", "NAKAMURA", "HASHIMOTO", "CASTELLANOS", "VILLANUEVA", "QUINTERO",
    "ADEYEMI", "BALASUBRAMANIAN", "CHAKRABORTY", "GUTIERREZ", "IBARRA", "JANKOWSKI",
    "KOVACEVIC", "LACHAPELLE", "MARCHETTI", "NWOSU", "OSTROWSKI", "PAPADOPOULOS", "RASMUSSEN",
    "SORENSEN", "THIBODEAUX", "UCHIDA", "VASQUEZ", "WOJCIK", "XIONG", "YAMAGUCHI", "ZUBERI",
)  # fmt: skip

#: Radiologists as (first, last); they sign reports ("Dictated by: Dr. First Last").
RADIOLOGISTS = (
    ("Helena", "Voss"), ("Marcus", "Adebisi"), ("Priya", "Raman"), ("Tobias", "Kellerman"),
    ("Ingeborg", "Lund"), ("Samuel", "Ortega"),
)  # fmt: skip

#: Referring physicians and sonographers as DICOM PN values.
REFERRING_PHYSICIANS = (
    "FROST^DOUGLAS", "ESPINOZA^REBECA", "MOREAU^LUCIEN", "BHATT^ANIKA", "OSEI^KWAME",
    "LINDGREN^HALVARD",
)  # fmt: skip
SONOGRAPHERS = ("TJ", "KMR", "ALB", "SPW", "RDN", "JLQ")


@dataclass(frozen=True)
class Site:
    """An imaging site: one ultrasound device layout per site."""

    name: str
    address: str
    layout: str
    station: str


SITES = (
    Site("SAINT BRIDGET BREAST CENTER", "1200 HARBOR VIEW RD SPRINGFIELD", "logiq_e10", "SBBC-US1"),
    Site("LAKESIDE WOMENS IMAGING", "45 QUARRY LN UNIT 3 EASTON", "epiq_7g", "LWI-EPIQ2"),
    Site("NORTHFIELD MEDICAL CENTER", "9 COLLEGE AVE NORTHFIELD", "acuson_s2000", "NMC-USR4"),
)
#: Where outside films come from (their images were imported into our PACS).
OUTSIDE_SITE = Site(
    "RIVERBEND RADIOLOGY ASSOCIATES", "300 MILL ST RIVERBEND", "logiq_e10", "RRA-US"
)


def radiologist_label(first: str, last: str) -> str:
    """The warehouse ``radiologist`` value, e.g. ``VOSS, HELENA MD``."""
    return f"{last.upper()}, {first.upper()} MD"


def radiologist_pn(first: str, last: str) -> str:
    return f"{last.upper()}^{first.upper()}"
