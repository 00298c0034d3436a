"""A synthetic, deterministic free-text de-identification test set.

:func:`generate` writes breast radiology and pathology reports (the style of
``cadbusi_demo.reports`` / ``demo.pathology``) and plants identifiers of every HIPAA Safe
Harbor kind the scrubber must remove, in many phrasings and three scripts (Latin with and without
accents, Japanese kanji / kana, Cyrillic), with ground-truth spans for each identifier and for
the clinical phrases that must survive. :func:`evaluate` runs a scrubber over a set and returns
the recall per identifier kind and the retention of clinical phrases.

Every name here is invented for this file (syllable-built surnames, first names, and a few
names that are also English words: the hard case of a safe-list scrubber); none comes from the
word lists the scrubber itself uses.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = (
    "own_name",
    "relative_name",
    "staff_name",
    "other_patient",
    "phone",
    "address",
    "city_zip",
    "email",
    "url",
    "ip",
    "ssn",
    "mrn",
    "other_id",
    "date",
    "age",
)

_SYL_A = ("Zel", "Quen", "Mar", "Ot", "Bra", "Cor", "Dal", "Fen", "Gra", "Hal", "Isol", "Jor",
          "Kes", "Lun", "Mab", "Nor", "Orl", "Pel", "Rav", "Sel", "Tav", "Ul", "Vor", "Wen",
          "Yar", "Zim", "Ast", "Bel", "Cael", "Dor")  # fmt: skip
_SYL_B = ("da", "tin", "wen", "ric", "mira", "lis", "ona", "bet", "dric", "vyn", "ette", "ara",
          "iel", "ouse", "anna", "ia", "iane", "ora", "ith", "elle")  # fmt: skip
_SUR_A = ("Plim", "Alder", "Thistle", "Grav", "Mor", "Quill", "Brack", "Fenn", "Hollin", "Kest",
          "Lorn", "Marrow", "Nettle", "Oster", "Pell", "Rook", "Sallow", "Tarn", "Umber", "Vell",
          "Wick", "Yarrow", "Zell", "Cobble", "Dunn", "Ember", "Frith", "Gorse", "Hask", "Ives")  # fmt: skip
_SUR_B = ("soll", "grove", "wick", "by", "ington", "thorpe", "stead", "croft", "mere", "worth",
          "ley", "combe", "ridge", "holt", "sby", "ham", "ock", "en", "ard", "ton")  # fmt: skip
#: names that are also English words (the hard case for a safe list) and accented / other
#: Latin names; (first, last)
_HARD = (("Grant", "Hill"), ("Rose", "Baker"), ("Hope", "Frost"), ("Mark", "Long"),
         ("Faith", "Gardner"), ("Joy", "Castle"), ("Dawn", "Rivers"), ("Iris", "Wood"),
         ("Bill", "Marsh"), ("Pearl", "Stone"))  # fmt: skip
_ACCENTED = (("Zoë", "Müller"), ("Åse", "Ødegård"), ("Íñigo", "Peña"), ("Søren", "Kjærsgaard"),
             ("Begoña", "Ibáñez"), ("Jürgen", "Großmann"), ("Ewa", "Wiśniewska"),
             ("Dorotėja", "Žukauskaitė"), ("Chloé", "Lefèvre"), ("Ángela", "Núñez"))  # fmt: skip
#: (family, given) in kanji, then kana
_JAPANESE = (("山田", "太郎", "やまだ", "たろう"), ("佐藤", "花子", "さとう", "はなこ"),
             ("鈴木", "一郎", "すずき", "いちろう"), ("高橋", "美咲", "たかはし", "みさき"),
             ("伊藤", "直美", "いとう", "なおみ"), ("中村", "恵", "なかむら", "めぐみ"))  # fmt: skip
_CYRILLIC = (("Иванова", "Мария"), ("Петрова", "Анна"), ("Смирнова", "Ольга"),
             ("Кузнецова", "Елена"), ("Соколова", "Татьяна"))  # fmt: skip
_RELATIONS = ("sister", "daughter", "husband", "son", "mother", "niece", "partner", "friend",
              "neighbor", "brother-in-law")  # fmt: skip
_STAFF = ("sonographer", "technologist", "Dr.", "nurse", "radiology resident", "Ms.", "Mr.",
          "interpreter", "referring physician Dr.")  # fmt: skip
_STREETS = ("Street", "St.", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive", "Boulevard",
            "Court", "Way", "Place", "Terrace")  # fmt: skip
_STREET_WORDS = ("Elm", "Maple", "Harbor View", "Quarry", "College", "Mill", "Linden", "Old Post",
                 "Cedar Ridge", "Willow", "North Main", "Orchard")  # fmt: skip
_CITIES = (("Springfield", "MA"), ("Easton", "PA"), ("Riverbend", "OR"), ("Northfield", "MN"),
           ("Glenwood", "IA"), ("Fairhaven", "VT"), ("Millbrook", "NY"), ("Ashford", "CT"))  # fmt: skip
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip

#: initials that are also clinical abbreviations or credentials are not drawn as staff initials
_ABBREVIATIONS = {"MD", "DO", "RN", "NP", "PA", "RT", "CT", "US", "MR", "ER", "PR", "CC", "LT",
                  "ML", "MM", "CM", "DR", "MG", "FN", "BX", "HR", "PT", "TB", "DCIS", "MRI", "PET",
                  "DBT", "FNA", "LMP", "PMH", "SLN", "LVI", "IDC", "ILC", "MLO", "RCC", "LCC", "VS", "ST", "MRN", "DOB", "CAD", "BRCA", "HRT", "GYN", "PCP", "PTS", "HX", "DX", "TX", "RX", "SX", "FX", "YO", "YRS", "WKS", "MOS", "HRS"}  # fmt: skip
_CLOCKS = ("1:00", "2:00", "3:00", "9:30", "10:00", "11:00", "12:00", "4:30")
_DIAGNOSES = ("invasive ductal carcinoma", "fibroadenoma", "ductal carcinoma in situ",
              "fibrocystic changes", "atypical ductal hyperplasia", "intraductal papilloma",
              "invasive lobular carcinoma", "simple cyst", "fat necrosis", "lymph node")  # fmt: skip
_LEXICON = ("oval", "irregular", "circumscribed", "indistinct", "spiculated", "microlobulated",
            "hypoechoic", "anechoic", "isoechoic", "heterogeneous", "parallel", "not parallel",
            "posterior acoustic shadowing", "posterior acoustic enhancement", "angular")  # fmt: skip


@dataclass
class Case:
    text: str
    identifiers: list[str]
    shift_days: int
    phi: list[tuple[str, str]] = field(default_factory=list)  # (kind, planted text)
    clinical: list[str] = field(default_factory=list)
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, kind)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.phi: list[tuple[str, str]] = []
        self.clinical: list[str] = []
        self.spans: list[tuple[int, int, str]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def plant(self, kind: str, text: str) -> None:
        self.spans.append((self.length, self.length + len(text), kind))
        self.phi.append((kind, text))
        self.add(text)

    def keep(self, text: str) -> None:
        self.spans.append((self.length, self.length + len(text), "clinical"))
        self.clinical.append(text)
        self.add(text)

    def text(self) -> str:
        return "".join(self.parts)


def _invented(rng: random.Random) -> tuple[str, str]:
    first = rng.choice(_SYL_A) + rng.choice(_SYL_B)
    last = rng.choice(_SUR_A) + rng.choice(_SUR_B)
    return first, last


def _person(rng: random.Random) -> tuple[str, str, str]:
    """(first, last, script) for a third party."""
    roll = rng.random()
    if roll < 0.55:
        return (*_invented(rng), "latin")
    if roll < 0.7:
        return (*rng.choice(_HARD), "latin")
    if roll < 0.85:
        return (*rng.choice(_ACCENTED), "latin")
    if roll < 0.93:
        family, given, *_ = rng.choice(_JAPANESE)
        return given, family, "cjk"
    family, given = rng.choice(_CYRILLIC)
    return given, family, "cyrillic"


def _name_text(first: str, last: str, script: str, rng: random.Random) -> str:
    if script == "cjk":
        return rng.choice((f"{last}{first}", f"{last} {first}", f"{last}{first}様", f"{last}さん"))
    style = rng.randrange(5)
    if style == 0:
        return f"{first} {last}"
    if style == 1:
        return f"{first} {last[0]}. {last}" if rng.random() < 0.3 else f"{first} {last}"
    if style == 2:
        return f"{last}, {first}"
    if style == 3:
        return f"{first[0]}. {last}"
    return f"{first} {last}".upper() if rng.random() < 0.5 else f"{first} {last}"


def _date_formats(day: dt.date, rng: random.Random) -> str:
    month = _MONTHS[day.month - 1]
    forms = (
        day.isoformat(),
        f"{day:%m/%d/%Y}",
        f"{day.month}/{day.day}/{day:%y}",
        f"{day:%d.%m.%Y}",
        f"{month[:3]} {day.day} {day.year}",
        f"{month[:3]}. {day.day}, {day.year}",
        f"{day.day} {month} {day.year}",
        f"{month} {day.day}th, {day.year}"
        if day.day not in (1, 2, 3, 21, 22, 23, 31)
        else f"{month} {day.day}, {day.year}",
        f"{day:%d}-{month[:3].upper()}-{day.year}",
        f"{day:%Y%m%d}",
        f"{month} {day.year}",
        f"{day:%d/%m/%Y}" if day.day > 12 else f"{day:%m/%d/%Y}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{month} {day.day}" + ("th" if day.day in range(4, 21) else ""),
    )
    return rng.choice(forms)


def _phone(rng: random.Random) -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    forms = (
        f"({a}) {b}-{c:04d}",
        f"{a}-{b}-{c:04d}",
        f"{a}.{b}.{c:04d}",
        f"555-{c:04d}",
        f"+1 {a} {b} {c:04d}",
        f"+44 20 {rng.randint(7000, 7999)} {c:04d}",
        f"+49 30 {rng.randint(1000000, 9999999)}",
        f"020 {rng.randint(7000, 7999)} {c:04d}",
        f"07700 {rng.randint(900000, 900999)}",
        f"1-800-{b}-{c:04d}",
        f"{a}-{b}-{c:04d} ext. {rng.randint(100, 9999)}",
        f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
    )
    return rng.choice(forms)


def _street(rng: random.Random) -> str:
    number = rng.randint(1, 9999)
    words = rng.choice(_STREET_WORDS)
    suffix = rng.choice(_STREETS)
    text = f"{number} {words} {suffix}"
    if rng.random() < 0.3:
        text += rng.choice(
            (f", Apt {rng.randint(1, 40)}{rng.choice('ABC')}", f" Unit {rng.randint(1, 9)}")
        )
    if rng.random() < 0.3:
        text = text.upper()
    if rng.random() < 0.1:
        text = f"PO Box {rng.randint(10, 9999)}"
    return text


def _city_zip(rng: random.Random) -> str:
    city, state = rng.choice(_CITIES)
    zip5 = f"{rng.randint(1001, 99950):05d}"
    forms = (f"{city} {state} {zip5}", f"{city}, {state} {zip5}", f"{city}, {state} {zip5}-{rng.randint(1000, 9999)}",
             f"{city.upper()} {state} {zip5}")  # fmt: skip
    return rng.choice(forms)


def _clinical_finding(b: _Builder, rng: random.Random) -> None:
    side = rng.choice(("right", "left"))
    clock = rng.choice(_CLOCKS)
    size = " x ".join(f"{rng.uniform(0.3, 3.5):.1f}" for _ in range(3)) + " cm"
    distance = (
        f"{rng.randint(1, 9)} cm FN"
        if rng.random() < 0.5
        else f"{rng.randint(1, 9)} cm from the nipple"
    )
    shape, margin, echo = (
        rng.choice(_LEXICON[:2]),
        rng.choice(_LEXICON[2:6]),
        rng.choice(_LEXICON[6:10]),
    )
    if rng.random() < 0.5:
        b.add("At the ")
        b.keep(clock if rng.random() < 0.6 else f"{clock.split(':')[0]} o'clock")
        b.add(f" position of the {side} breast, ")
        b.keep(distance)
        b.add(", there is an ")
        b.keep(f"{shape}, {echo}")
        b.add(" mass with ")
        b.keep(f"{margin} margins")
        b.add(" measuring ")
        b.keep(size)
        b.add(". ")
    else:
        b.keep(f"{side.upper()} BREAST {clock}")
        b.add(" ")
        b.keep(distance.upper())
        b.add(": ")
        b.keep(size.upper())
        b.add(f" {shape.upper()} {echo.upper()} MASS, {margin.upper()} MARGINS. ")
    b.keep(
        rng.choice(
            (
                "No posterior acoustic shadowing.",
                "Posterior acoustic enhancement.",
                "No internal vascularity.",
            )
        )
    )
    b.add("\n")


def _sentences(
    b: _Builder, rng: random.Random, own: dict, shift_kind: Callable[[], dt.date]
) -> list[Callable[[], None]]:
    """Sentence makers, each planting one or two identifier kinds."""

    def relative() -> None:
        first, last, script = _person(rng)
        rel = rng.choice(_RELATIONS)
        lead = rng.choice(
            (
                "Accompanied by her ",
                "The patient's ",
                "Patient came with her ",
                "Her ",
                "History obtained from her ",
            )
        )
        b.add(lead + rel + " ")
        b.plant("relative_name", _name_text(first, last, script, rng))
        b.add(
            rng.choice(
                (".", ", who drove her.", " (emergency contact).", " is also a patient here.")
            )
            + " "
        )

    def staff() -> None:
        first, last, script = _person(rng)
        role = rng.choice(_STAFF)
        lead = rng.choice(
            (
                "Images obtained by ",
                "Scanned by ",
                "Discussed with ",
                "Exam performed by ",
                "Chaperone present: ",
                "Findings reviewed with ",
            )
        )
        b.add(lead + role + " ")
        b.plant(
            "staff_name",
            _name_text(first, last, script, rng)
            if "Dr." not in role
            else f"{first} {last}"
            if script == "latin"
            else f"{last}",
        )
        if rng.random() < 0.3 and script == "latin":
            b.add(rng.choice((", MD", ", RDMS", " RN")))
        b.add(". ")

    def credentialed() -> None:
        first, last, script = _person(rng)
        if script != "latin":
            first, last = _invented(rng)
        b.add("Results communicated to ")
        b.plant("staff_name", f"{first} {last}")
        b.add(f", {rng.choice(('MD', 'DO', 'NP', 'PA-C'))}, by telephone. ")

    def other_patient() -> None:
        first, last, script = _person(rng)
        if script == "latin":
            pn = (
                f"{fold_upper(last)}^{fold_upper(first)}"
                if rng.random() < 0.7
                else f"{last}^{first}"
            )
        elif script == "cjk":
            pn = f"{last}^{first}"
        else:
            pn = f"{last}^{first}"
        b.add(
            rng.choice(
                (
                    "Compared with the exam of ",
                    "Note: images of ",
                    "Prior filed under ",
                    "Mislabeled series belongs to ",
                )
            )
        )
        b.plant("other_patient", pn)
        b.add(rng.choice((" from the same day. ", "; corrected. ", ". ")))

    def phone() -> None:
        b.add(
            rng.choice(
                (
                    "Contact phone ",
                    "Call back at ",
                    "Tel: ",
                    "Patient can be reached at ",
                    "Fax results to ",
                    "Her cell is ",
                    "Phone: ",
                )
            )
        )
        b.plant("phone", _phone(rng))
        b.add(rng.choice((".", " if questions.", " (mobile).")) + " ")

    def address() -> None:
        b.add(
            rng.choice(
                (
                    "Lives at ",
                    "Home address: ",
                    "Resides at ",
                    "Patient moved to ",
                    "Address on file: ",
                )
            )
        )
        b.plant("address", _street(rng))
        if rng.random() < 0.6:
            b.add(", ")
            b.plant("city_zip", _city_zip(rng))
        b.add(". ")

    def city() -> None:
        b.add(rng.choice(("Outside films from ", "Transferred from clinic in ", "Mailing: ")))
        b.plant("city_zip", _city_zip(rng))
        b.add(". ")

    def email() -> None:
        first, last = _invented(rng)
        b.add(rng.choice(("Images sent to ", "E-mail: ", "Contact ", "Questions to ")))
        b.plant(
            "email",
            f"{first.lower()}.{last.lower()}@{rng.choice(('example.org', 'mail.example.com', 'hospital.example.net'))}",
        )
        b.add(". ")

    def url() -> None:
        b.add(rng.choice(("Viewer link ", "Portal: ", "See ", "Images at ")))
        b.plant(
            "url",
            rng.choice(
                (
                    f"https://pacs.example.org/viewer?study={rng.randint(10**7, 10**8)}",
                    f"http://portal.example.com/p/{rng.randint(1000, 99999)}",
                    f"www.example-imaging.com/case/{rng.randint(100, 9999)}",
                )
            ),
        )
        b.add(". ")

    def ip() -> None:
        b.add(rng.choice(("Sent from workstation ", "Station IP ", "Uploaded via ")))
        b.plant(
            "ip",
            f"{rng.randint(10, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        )
        b.add(". ")

    def ssn() -> None:
        b.add(rng.choice(("SSN ", "Social security number: ", "SS# ", "")))
        b.plant("ssn", f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}")
        b.add(" on file. ")

    def mrn() -> None:
        value = str(rng.randint(10**6, 10**9))
        b.add(
            rng.choice(
                (
                    "MRN: ",
                    "MRN ",
                    "Medical record number ",
                    "Clinic no. ",
                    "Patient ID: ",
                    "Prior MRN ",
                    "",
                )
            )
        )
        b.plant("mrn", value)
        b.add(". ")

    def other_id() -> None:
        label, value = rng.choice(
            (
                ("Accession ", f"ACC{rng.randint(10000, 99999)}"),
                ("Specimen ", f"S{rng.randint(20, 26)}-{rng.randint(1000, 99999)}"),
                ("Insurance member ID ", f"XQ{rng.randint(100000, 999999)}"),
                ("Health plan number ", f"{rng.randint(10**8, 10**9)}"),
                ("Account # ", f"{rng.randint(10**5, 10**7)}"),
                ("Device serial ", f"SN-{rng.randint(10000, 99999)}"),
                ("Driver licence ", f"D{rng.randint(1000000, 9999999)}"),
                ("Encounter ", f"E{rng.randint(100000, 999999)}"),
                ("", f"RAD-{rng.randint(100000, 999999)}"),
            )
        )
        b.add(label)
        b.plant("other_id", value)
        b.add(". ")

    def date() -> None:
        b.add(
            rng.choice(
                (
                    "Prior exam ",
                    "Compared with study of ",
                    "Biopsy performed ",
                    "Last mammogram ",
                    "Follow-up on ",
                    "Seen ",
                )
            )
        )
        b.plant("date", _date_formats(shift_kind(), rng))
        b.add(". ")

    def age() -> None:
        years = rng.randint(90, 104)
        form = rng.choice(
            (
                f"{years}-year-old",
                f"{years} year old",
                f"{years} y/o",
                f"{years} yo",
                f"age {years}",
                f"aged {years}",
            )
        )
        b.add("HISTORY: ")
        b.plant("age", form)
        b.add(rng.choice((" woman with a palpable lump. ", " female, screening callback. ", ". ")))

    def own_name() -> None:
        variants = own["variants"]
        b.add(
            rng.choice(
                (
                    "Results discussed with ",
                    "Patient ",
                    "Pt. ",
                    "Label reads ",
                    "Comparison: prior of ",
                    "Patient name on the requisition: ",
                )
            )
        )
        b.plant("own_name", rng.choice(variants))
        b.add(rng.choice((" at the time of the exam. ", ". ", " (verified two identifiers). ")))

    def bare_name() -> None:
        first, last, script = _person(rng)
        b.plant(
            "relative_name",
            _name_text(first, last, script, rng) if script != "latin" else f"{first} {last}",
        )
        b.add(
            rng.choice(
                (
                    " called to reschedule. ",
                    "'s results were mailed. ",
                    " will bring the prior films. ",
                )
            )
        )

    def initials() -> None:
        b.add(rng.choice(("Scanned by sonographer ", "Images obtained by ", "Tech: ")))
        letters = "".join(rng.choice("BDFGHJKLMNPRSTVWZ") for _ in range(rng.choice((2, 3))))
        if letters in _ABBREVIATIONS:
            letters = "KMR"
        b.plant("staff_name", letters)

        b.add(". ")

    def foreign_address() -> None:
        b.add(rng.choice(("Forwarding address: ", "Lives abroad: ", "Address: ")))
        if rng.random() < 0.5:
            b.plant(
                "address",
                f"{rng.choice(('Hauptstraße', 'Lindenweg', 'Bahnhofstrasse'))} {rng.randint(1, 120)}",
            )
            b.add(", ")
            b.plant(
                "city_zip",
                f"{rng.randint(10000, 99999)} {rng.choice(('Berlin', 'Hamburg', 'Köln'))}",
            )
        else:
            b.plant(
                "address",
                f"Flat {rng.randint(1, 9)}, {rng.randint(1, 200)} {rng.choice(('Baker', 'Cromwell', 'Marylebone'))} {rng.choice(('Street', 'Road'))}",
            )
            b.add(", London ")
            b.plant(
                "city_zip",
                f"{rng.choice(('NW1', 'SW7', 'E14', 'N1C'))} {rng.randint(1, 9)}{rng.choice(('XE', 'AB', 'QT', 'LN'))}",
            )
        b.add(". ")

    def spaced_id() -> None:
        b.add(rng.choice(("NHS number ", "Health plan ID ", "MRN ")))
        b.plant(
            "other_id", f"{rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        )
        b.add(". ")

    return [
        relative,
        staff,
        credentialed,
        other_patient,
        phone,
        address,
        city,
        email,
        url,
        ip,
        ssn,
        mrn,
        other_id,
        date,
        age,
        own_name,
        bare_name,
        initials,
        foreign_address,
        spaced_id,
    ]


def fold_upper(text: str) -> str:
    return text.upper()


def _ascii(text: str, german: bool) -> str:
    table = (
        {"ü": "ue", "ö": "oe", "ä": "ae", "ø": "oe", "å": "aa", "ß": "ss", "æ": "ae"}
        if german
        else {"ø": "o", "ß": "ss", "æ": "ae"}
    )
    out = "".join(table.get(c.lower(), c) if c.lower() in table else c for c in text)
    return "".join(c for c in unicodedata.normalize("NFKD", out) if not unicodedata.combining(c))


def _own_identity(rng: random.Random) -> dict:
    """The study's own patient: identifiers as the scrubber gets them, and variants as text
    shows them."""
    roll = rng.random()
    if roll < 0.45:
        first, last = _invented(rng)
        pn = f"{last.upper()}^{first.upper()}"
        variants = [f"{first} {last}", f"{last.upper()}, {first.upper()}", f"{last}^{first}", last, first.upper(),
                    f"{first[0]}. {last}", f"{last}, {first}"]  # fmt: skip
    elif roll < 0.75:
        first, last = rng.choice(_ACCENTED)
        pn = f"{last}^{first}"
        variants = [f"{first} {last}", _ascii(f"{first} {last}", True), _ascii(f"{last}, {first}", False),
                    _ascii(last, False).upper(), _ascii(last, True), last.upper(), _ascii(first, False)]  # fmt: skip
    else:
        family, given, kf, kg = rng.choice(_JAPANESE)
        roma = rng.choice(
            (
                ("Yamada", "Tarou"),
                ("Sato", "Hanako"),
                ("Suzuki", "Ichiro"),
                ("Takahashi", "Misaki"),
                ("Ito", "Naomi"),
                ("Nakamura", "Megumi"),
            )
        )
        pn = f"{roma[0]}^{roma[1]}={family}^{given}={kf}^{kg}"
        variants = [
            f"{family}{given} 様",
            f"{family}",
            f"{kf}{kg}",
            f"{roma[0]} {roma[1]}",
            f"{roma[0].upper()}",
            f"乳腺エコー {family}",
            f"{family} {given}",
        ]
    mrn = str(rng.randint(10**7, 10**8))
    accession = f"A{rng.randint(10**6, 10**7)}"
    return {"pn": pn, "mrn": mrn, "accession": accession, "variants": variants}


def _report(rng: random.Random) -> Case:
    own = _own_identity(rng)
    shift = -rng.randint(1, 365)
    exam_day = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 4000))
    b = _Builder()
    b.add(
        rng.choice(
            (
                "EXAM: US BREAST ",
                "EXAM: ULTRASOUND BREAST ",
                "SURGICAL PATHOLOGY REPORT\nSPECIMEN: ",
            )
        )
    )
    b.keep(rng.choice(("RIGHT", "LEFT", "BILATERAL")))
    b.add("\nDATE: ")
    b.plant("date", _date_formats(exam_day, rng))
    b.add("\n")
    if rng.random() < 0.5:
        b.add("Patient: ")
        b.plant("own_name", rng.choice(own["variants"]))
        b.add("    MRN: ")
        b.plant("mrn", own["mrn"])
        b.add("    Acc: ")
        b.plant("other_id", own["accession"])
        b.add("\n")
    b.add("HISTORY: ")
    b.add(f"{rng.randint(30, 85)}-year-old female with ")
    b.keep(
        rng.choice(
            ("palpable lump", "focal pain", "nipple discharge", "abnormal screening mammogram")
        )
    )
    b.add(".\nFINDINGS:\n")

    def any_day() -> dt.date:
        return exam_day - dt.timedelta(days=rng.randint(1, 3000))

    makers = _sentences(b, rng, own, any_day)
    for _ in range(rng.randint(1, 3)):
        _clinical_finding(b, rng)
        for maker in rng.sample(makers, k=rng.randint(2, 4)):
            maker()
        b.add("\n")
    b.add("IMPRESSION: ")
    b.keep(rng.choice(_DIAGNOSES))
    b.add(". ")
    b.keep(f"BI-RADS {rng.choice(('2', '3', '4A', '4B', '4C', '5', '6'))}")
    b.add(". ")
    if rng.random() < 0.5:
        b.keep(
            rng.choice(
                (
                    "Ultrasound-guided core biopsy is recommended.",
                    "Recommend short-interval follow-up ultrasound in 6 months.",
                )
            )
        )
    b.add("\n")
    identifiers = [own["pn"], own["mrn"], own["accession"]]
    return Case(b.text(), identifiers, shift, b.phi, b.clinical, b.spans)


def generate(seed: int, n: int = 400) -> list[Case]:
    """``n`` reports, the same for the same ``seed``."""
    rng = random.Random(seed)
    return [_report(rng) for _ in range(n)]


# --------------------------------------------------------------------------- evaluation
_WORD = re.compile(r"[^\W_]+")


def _removed(kind: str, planted: str, output: str) -> bool:
    """Whether no part of ``planted`` that identifies survives in ``output``."""
    if kind in ("own_name", "relative_name", "staff_name", "other_patient"):
        if re.search(r"(?<![^\W_])" + re.escape(planted) + r"(?![^\W_])", output):
            return False
        lowered = output.lower()
        words = set(_WORD.findall(output))  # case-sensitive: "Long" the name, not "long axis"
        for part in re.split(r"[\s^,.=]+|(?<=[様])|(?=[様さ])", planted):
            part = part.strip()
            part = part.replace("様", "").replace("さん", "").replace("乳腺エコー", "")
            if len(part) < 2:
                continue
            if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", part):
                if part in lowered:
                    return False
            elif part in words:
                return False
        return True
    if kind in ("phone", "ssn", "mrn", "other_id", "ip"):
        digits = re.sub(r"\D", "", planted)
        return planted not in output and (
            len(digits) < 4 or digits not in re.sub(r"\D", "", output) or planted not in output
        )
    if kind == "age":
        output = output.replace("90+", "")
    return re.search(r"(?<![^\W_])" + re.escape(planted) + r"(?![^\W_])", output) is None


def evaluate(cases: list[Case], scrub: Callable[..., str | None]) -> dict[str, tuple[int, int]]:
    """``{kind: (removed, planted)}`` for every identifier kind and ``clinical: (kept, total)``."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in cases:
        out = scrub(case.text, identifiers=case.identifiers, date_shift_days=case.shift_days) or ""
        for kind, planted in case.phi:
            counts[kind][1] += 1
            counts[kind][0] += _removed(kind, planted, out)
        for phrase in case.clinical:
            counts["clinical"][1] += 1
            counts["clinical"][0] += phrase in out
    return {k: (v[0], v[1]) for k, v in counts.items()}


def misses(cases: list[Case], scrub: Callable[..., str | None], kind: str) -> list[tuple[str, str]]:
    """(planted, output line) for the identifiers of ``kind`` that survived (for tuning)."""
    found = []
    for case in cases:
        out = scrub(case.text, identifiers=case.identifiers, date_shift_days=case.shift_days) or ""
        items = case.clinical if kind == "clinical" else [p for k, p in case.phi if k == kind]
        for planted in items:
            ok = (planted in out) if kind == "clinical" else _removed(kind, planted, out)
            if not ok:
                found.append((planted, out))
    return found
