"""Identifier shapes in short header values that are kept as they are: the device fields of
*Retain Device Identity* (Station Name, AE titles, Device Description, serial numbers) and
short unlisted text (LO, SH, UC: Code Meaning, Transducer Data, a vendor's descriptor).

PS3.15's Retain Device Identity option keeps the identity of the *device*; a person's name, a
phone number, an e-mail, an MRN or a date written into a station name is none of it. These
values are full of product and room names that no vocabulary knows (``LWI-EPIQ2``,
``ACUSON_S2000_SN1234``), so nothing is taken for a name on its own: only a shape or a context
is removed, everything else is left byte for byte.

* an e-mail; a phone number with separators (``555-0142`` only in a station-like value), after
  a label (``TEL``, ``EXT``, ``PAGER``...) or international (``+44 20 7946 0018``);
* a number after an identifier label (``MRN 48213377``, ``ACC# 7712``, ``DOB``...);
* a full date written with separators (``03/04/2026``, ``2026-03-04``, ``4 MAR 2026``; a
  compact ``20260304`` only in a station-like value, never in a serial number or a version);
* the words after a title (``DR QUIMBY ROOM 3`` -> ``DR [name] ROOM 3``; ``DR ROOM 3``, where
  the word is a common word, stays: DR is also digital radiography) or a relative's or
  role word (``SISTER ZELDA``; a word that is also a common word is no name there); a
  possessive that is no common word (``MARIA'S US``; in short unlisted text only before a
  relative's word or at the end, eponyms stay: ``Hodgkin's lymphoma``);
* in a station-like value (``station``), a person name of the names list beside another
  name-like word (``ANNA QUIMBY US``), scanner makers and models left out; a user name
  (``JSMITH-WS``, ``J_SMITH_WS``, ``KQUIMBY``, ``JPLIMSOLL``); a Hangul, CJK or kana name
  beside a device or room word (``US 김민준``, ``超声 王伟``, ``US ヤマダ``); a lone word built
  like an English surname of two words (``RAVELSTOKE``); none of these in a value that
  describes a breed, a structure or a stain (``MUSCULI BULBI``, ``ANGELN CATTLE BREED``);
* a name after a relation abbreviated with a slash (``d/o Rose``, ``C/O Rose Kumar``; not
  ``w/o contrast``, ``c/o pain``) or a credential written before it (``RN Faith``, ``PA-C
  Hope``), and beside a relative's word in parentheses (``daughter (Rose)``, ``Rose
  (daughter)``, ``妻（王芳）``; not ``mother (IDM)``, ``母 (乳癌)``); a lower-case name after a
  relative's word and the rare word after it (``d/o zelda plimsoll``; not ``mother zelda
  treated``; ``son tom farthing``: a three-letter first name too), a first name before a
  double-barrelled surname in title case or capitals (``Rose Plimsoll-Candlewick``);
* in a station name (:data:`STATION_NAME_KEYWORDS`; not in an AE title, by which a peer may
  route) also a lone word built like a surname (``QUARRINGTON``, ``MACGILLICUDDY``,
  ``ŁUKASIEWICZ``), an initial glued to an English word (``PLANTERN``) or an English word
  ending like an English surname (``CANDLEWICK``); ``ORTHANC``, ``TARINA``, ``XRADIANCE``
  stay;
* in short text two kana name parts alone (``ヤマダ ハナコ``) and an e-mail written with
  words (``OQUIMBRELL AT EXAMPLE DOT ORG``).

>>> scrub_identifier_shapes("US-ROOM3"), scrub_identifier_shapes("DR QUIMBY ROOM 3", "station")
('US-ROOM3', 'DR [name] ROOM 3')
>>> scrub_identifier_shapes("MARIA'S US", "station"), scrub_identifier_shapes("DR ROOM 2")
('[name] US', 'DR ROOM 2')
>>> scrub_identifier_shapes("123456US3", "serial"), scrub_identifier_shapes("EPIQ7G")
('123456US3', 'EPIQ7G')
>>> scrub_identifier_shapes("called Mrs Smith 555-0142")
'called Mrs [name] [phone]'
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

from cadbusi_assets.records.vocabulary import PRODUCT_NAMES

_WORD = r"[^\W\d_](?:[^\W\d_]|['’](?=[^\W\d_]))*"
_SEP = r"[ \t_.\-:]+"
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
#: an e-mail written out with words (``OQUIMBRELL AT EXAMPLE DOT ORG``, ``o.q [at] example
#: [dot] org``): a user, "at", a domain and one "dot" at least
_WORDED_EMAIL = re.compile(
    r"(?i)(?<![\w.+\-])[\w.+\-]{2,}[ \t]*(?:[\[(<][ \t]*at[ \t]*[\])>]|(?<=[ \t])at(?=[ \t]))[ \t]*"
    r"[\w\-]{2,}(?:[ \t]*(?:[\[(<][ \t]*dot[ \t]*[\])>]|(?<=[ \t])dot(?=[ \t]))[ \t]*[\w\-]{2,})*"
    r"[ \t]*(?:[\[(<][ \t]*dot[ \t]*[\])>]|(?<=[ \t])dot(?=[ \t]))[ \t]*"
    r"(?:com|org|net|edu|gov|mil|info|biz|io|co|uk|de|fr|es|it|nl|pl|ru|cn|jp|kr|au|ca|us|ch"
    r"|se|no|dk|fi|be|at|ie|nz|in|br|mx|pt|gr|tr|il|za)(?![\w.\-])"
)
#: an e-mail with spaces around its ``@`` or dots (``zelda @ farthingale.org``, ``o . q @
#: example . com``): a domain of words and dots that ends in a usual top-level domain
_SPACED_EMAIL = re.compile(
    r"(?<![\w.+\-])[\w+\-]+(?:\.[\w+\-]+)*(?:[ \t]\.[ \t][\w+\-]+)?[ \t]{0,2}@[ \t]{0,2}[\w\-]+"
    r"(?:[ \t]?\.[ \t]?[\w\-]+)*[ \t]?\.[ \t]?(?i:com|org|net|edu|gov|mil|info|biz|io|co|uk|de"
    r"|fr|es|it|nl|pl|ru|cn|jp|kr|au|ca|us|ch|se|no|dk|fi|be|at|ie|nz|in|br|mx|pt|gr|tr|il|za)"
    r"(?![\w.\-])"
)
_AT_WORD = re.compile(r"(?i)(?<![^\W\d_])at(?![^\W\d_])")
_PHONE_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:tel(?:ephone)?|phone|ph|mob(?:ile)?|cell|fax|pager|pgr|bleep|beeper"
    r"|ext(?:ension)?|call(?:ed)?|contact|tlf|t[eé]l[eé]fono|telefon)\.?[ \t]*[:#=.]?[ \t]*"
    # (a slash only before a space: "tel 555 / 0142", not "called 12/03/2024")
    r"(\+?\d(?:[\d \t().\-·]|/(?=[ \t])){2,}\d)(?!\w)"
)
#: before a phone: no word character, or an extension's ``x`` glued to it (``x555-0142``)
_NOT_GLUED = r"(?:(?<![\w.\-])|(?<=(?<![^\W\d_])[xX]))"
_PHONE = re.compile(
    _NOT_GLUED + r"(?:\+?1[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?![\w\-]|\.\d)"
)
_INTERNATIONAL = re.compile(r"(?<![\w.\-])\+\d{1,3}(?:[ .\-/·]?\(?\d{1,4}\)?){2,5}(?![\w\-]|\.\d)")
#: a UK or European number with a trunk 0 (``07700 900123``, ``020 7946 0018``)
_TRUNK_PHONE = re.compile(
    r"(?<![\w.\-])0\d{3,4}[ \-]?\d{6}(?![\w\-]|\.\d)|(?<![\w.\-])0\d{2,4} \d{3,4} \d{3,4}(?![\w\-]|\.\d)"
    # a French number in five pairs (``06 12 34 56 78``, ``01.23.45.67.89``) and an area
    # code in brackets before the number (``(030) 1234567``, ``(0123) 456 789``)
    r"|(?<![\w.\-])0[1-9](?P<sep>[ .\-])\d{2}(?:(?P=sep)\d{2}){3}(?![\w\-]|[ .]\d)"
    r"|(?<![\w.\-])\(0\d{1,4}\)[ \-]?\d{2,4}(?:[ \-]?\d{2,4}){1,3}(?![\w\-]|\.\d)"
)
_LOCAL_PHONE = re.compile(_NOT_GLUED + r"\d{3}[ \-]\d{4}(?![\w\-]|\.\d)")
#: a Chinese mobile number in groups of 3-4-4 (``138 1234 5678``): the local rule would take
#: only its first two groups
_CN_MOBILE = re.compile(r"(?<![\w.\-])1[3-9]\d[ \-]\d{4}[ \-]\d{4}(?![\w\-]|\.\d)")
#: the same number unbroken (``13812345678``): not in a serial number, which may read so
_CN_MOBILE_UNBROKEN = re.compile(r"(?<![\w.\-])1[3-9]\d{9}(?![\w\-]|\.\d)")
_EXTENSION_PHONE = re.compile(r"(?<=(?<![^\W\d_])[xX])\d{3}[ \-]\d{4}(?![\w\-]|\.\d)")
#: a street written type first, number last, in Spanish, Portuguese, Catalan, French, Italian,
#: Polish and Turkish (``Calle Ñúñez 12``, ``Rua das Flores 123``, ``ul. Kwiatowa 7``): the type,
#: one to four words, the number (no ``via``: "via catheter 2")
_STREET_TYPE_FIRST = re.compile(
    r"(?i)(?<![^\W\d_])(?:calle|avenida|avda\.|rua|travessa|praça|praca|alameda|carrer|rue"
    r"|viale|piazza|ul\.|ulica|al\.|aleja|plac|osiedle|sokak|sokağı|caddesi|cadde)"
    r"[ \t]+(?:[^\W\d_][\w'’\-]*,?[ \t]+){1,4}\d{1,5}[a-z]?(?![\w]|[\-–/]\d)"
)
#: a US social security number's shape, unlabelled (``491-72-8154``): in no clinical phrase,
#: code meaning or device name of the measured sets; not in a serial number, which may read so
_SSN = re.compile(
    # (a digit first, looked for fast)
    r"(?=\d)(?:(?<![^\W_]|[.\-/])\d{3}([\-–])\d{2}\1\d{4}(?![^\W_]|[\-/]|\.\d)"
    # with spaces (``491 72 8154``): a valid number only (no area 000, 666 or 9xx, no group
    # 00, no serial 0000), no longer run of spaced digits (a phone, a spaced hospital number)
    r"|(?<![^\W_]|[.\-/,:])(?:(?<!\d )|(?<=[^\W\d_]\d )|(?<=[^\W\d_]\d\d ))"
    r"(?!000|666|9)\d{3} (?!00)\d{2} (?!0000)\d{4}"
    r"(?![^\W_]|[\-/]|[.,]\d| \d)"
    # with two spaces or a tab, the same between both pairs of groups (``491  72  8154``):
    # no digit a space or two before or after it (a spaced table of numbers)
    r"|(?<![^\W_]|[.\-/,:])(?<!\d[ \t])(?<!\d[ \t]{2})"
    r"(?!000|666|9)\d{3}(  |\t)(?!00)\d{2}\2(?!0000)\d{4}"
    r"(?![^\W_]|[\-/]|[.,]\d|[ \t]{1,2}\d))"
)
_ID_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:MRN|MR[ \t]*(?:#|NO\.?|NUM(?:BER)?)|MED(?:ICAL)?[ \t]*REC(?:ORD)?"
    r"(?:[ \t]*(?:#|NO\.?|NUM(?:BER)?))?|PT[ \t]*(?:\([ \t]*)?(?:ID|#|NO\.?)|PATIENT[ \t]*(?:ID|#|NO\.?|NUM(?:BER)?)"
    r"|PID|ACC(?:ESSION)?[ \t]*(?:#|NO\.?|NUM(?:BER)?)?|NHS[ \t]*(?:NO\.?|NUM(?:BER)?)?"
    r"|HOSP(?:ITAL)?[ \t]*(?:#|NO\.?|NUM(?:BER)?)|CHART[ \t]*(?:#|NO\.?)?|SSN"
    # a unit record number (Australia: "UR 481516", "UR: 00481516"), a unit number
    r"|UR(?:[ \t]*(?:#|NO\.?|NUM(?:BER)?))?|UNIT[ \t]*(?:#|NO\.?|NUM(?:BER)?))"
    r"(?![^\W\d_])[ \t]*[:#=.\-]?[ \t]*"
    # a record's key and value (``"mrn": "4815162"``, ``<PatientID>4815162</PatientID>``)
    r"(?:(?<=[^\W\d_])[\"'][ \t]*[:=][ \t]*[\"']?|(?<=[^\W\d_])>)?"
    # the value, with its digits in groups of 3+ after spaces ("HOSP NO. 4815 1623")
    r"([A-Z0-9][A-Z0-9/.\-]*\d[A-Z0-9/.\-]*(?:[ \t]\d{3,}(?![\w.\-/]))*"
    # the rest of its digits on the next line ("MRN 4815\n1623"): three or more, no year, no
    # decimal, time, date or unit after them (records.scrub's rule for reports)
    r"(?P<cont>(?<=[\d\-])(?:[ \t]*(?:\r\n|[\r\n\u2028\u2029\x85])[ \t]*(?!(?:19|20)\d\d(?!\d))\d{3,}"
    r"(?![\w.\-/:%]|[.,]\d|[ \t]*%|[ \t]*(?:cm|mm|ml|cc|mg|kg|g|o'?clock|h|hrs?|min|am|pm)\b)"
    # or after a blank line or two, alone on their line ("MRN 4815\n\n1623")
    r"|(?:[ \t]*(?:\r\n|[\r\n\u2028\u2029\x85])){2,3}[ \t]*(?!(?:19|20)\d\d(?!\d))\d{3,}"
    r"(?=[ \t]*(?:\r\n|[\r\n\u2028\u2029\x85]|\Z))))?)(?![\w])"
)
#: a labelled identifier has at least this many digits ("ACC 2" is no accession)
_MIN_ID_DIGITS = 4


def _id_end(match: re.Match[str]) -> int:
    """Where :data:`_ID_LABEL`'s value ends: with its digits on the next line where it holds
    three digits or more and six with them (``ACC 12\n345`` keeps ``345``)."""
    cont = match.group("cont")
    if cont is None:
        return match.end(1)
    before = sum(c.isdigit() for c in match.string[match.start(1) : match.start("cont")])
    if before < 3 or before + sum(c.isdigit() for c in cont) < 6:
        return match.start("cont")
    return match.end(1)


_DOB_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:DOB|D\.O\.B\.?|BORN|BIRTH(?:[ \t]*DATE)?)(?![^\W\d_])[ \t]*[:#=.\-]?[ \t]*"
    r"(\d[\d/.\-]{4,}\d|\d{1,2}[ \-]?[A-Za-z]{3,9}[ \-]?\d{2,4})(?!\w)"
)
_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ),
        start=1,
    )
    for m in names.split()
}
_MON = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_NUMERIC = re.compile(
    r"(?<![\w.\-/])(?:(\d{4})([/.\-])(\d{1,2})\2(\d{1,2})|(\d{1,2})([/.\-])(\d{1,2})\6(\d{4}|\d{2}))"
    r"(?![\w\-/]|\.\d)"
)
_DATE_WORDS = re.compile(
    rf"(?i)(?<![\w.\-])(?:\d{{1,2}}[ \-]?{_MON}[ \-,]?[ \t]*(?:\d{{4}}|\d{{2}})"
    rf"|{_MON}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}})(?![\w])"
)
#: a birth date written in words after its label (``DOB the third of March 1961``,
#: ``born 3rd of March, 1961``): group 1 the date
_ORDINAL_WORDS = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth"
    r"|thirtieth|(?:twenty|thirty)[ \-]?(?:first|second|third|fourth|fifth|sixth|seventh"
    r"|eighth|ninth))"
)
_DOB_WORDS = re.compile(
    rf"(?i)(?<![^\W\d_])(?:DOB|D\.O\.B\.?|BORN(?:[ \t]+ON)?|BIRTH(?:[ \t]*DATE)?|DATE[ \t]+OF"
    rf"[ \t]+BIRTH)(?![^\W\d_])[ \t]*[:#=.\-]?[ \t]*((?:the[ \t]+)?(?:\d{{1,2}}(?:st|nd|rd|th)?"
    rf"|{_ORDINAL_WORDS})[ \t]+(?:of[ \t]+)?{_MON}[ \t]*,?[ \t]*\d{{4}})(?![\w])"
)
#: a birth date with its month first after its label (``born March 3, '61``, ``DOB Mar 3rd
#: 1961``): group 1 the date
_DOB_MONTH_FIRST = re.compile(
    rf"(?i)(?<![^\W\d_])(?:DOB|D\.O\.B\.?|BORN(?:[ \t]+ON)?|BIRTH(?:[ \t]*DATE)?|DATE[ \t]+OF"
    rf"[ \t]+BIRTH)(?![^\W\d_])[ \t]*[:#=.\-]?[ \t]*({_MON}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?"
    rf",?[ \t]*(?:\d{{4}}|['’]\d{{2}}))(?![\w])"
)
_DATE_COMPACT = re.compile(r"(?<!\d)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)")
_TITLE_WORDS = (
    "dr|doctor|mr|mrs|ms|miss|mx|prof|professor|sr|sra|herr|frau|mme|mlle|madame|monsieur"
    "|sir|dame|nurse|sister|др|д-р|доктор|проф|г-жа|г-н|гжа|пани|pani|pan|sr\\.a"
    '|د|دكتور|الدكتور|ד"ר|ד״ר|דר|פרופ|δρ|δρα|καθ|γιατρός|γιατρος'
)
_TITLES = frozenset(_TITLE_WORDS.split("|"))
_TITLE = re.compile(rf"(?i)(?<![^\W\d_])(?:{_TITLE_WORDS})(?![^\W\d_])\.?[ \t_\-]*")
#: a CJK name before an honorific or a role (``田中医師``, ``佐藤先生``, ``李医生``)
_CJK = r"[\u4e00-\u9fff\u3400-\u4dbf\u30a0-\u30ff\uac00-\ud7af]"
_CJK_HONORIFIC = re.compile(
    rf"({_CJK}{{1,4}})[ \t]?(?:선생님|선생|先生|医師|医生|様|さん|氏|護士|护士|技師|씨|님)"
    rf"|(?:医生|医師|医师|先生|博士|护士|護士|教授|의사|선생님|간호사|방사선사)[:：]?[ \t]?({_CJK}{{2,4}})"
)
#: a relative's word or a title in Hindi (Devanagari: daughter, son, husband, wife, mother,
#: father, sister, brother, doctor, nurse, Mr, Mrs) and the one or two words after it (group 1
#: and 2): a name, unless :data:`_DEVANAGARI_NOT_NAMES` (a vowel sign is no letter to ``\w``,
#: so the words are runs of the block)
_DEVANAGARI_CUE = re.compile(
    r"(?<![\u0900-\u097f])(?:बेटी|बेटा|पुत्री|पुत्र|पति|पत्नी|माँ|मां|माता|पिता|बहन|भाई|डॉक्टर|डॉ|नर्स"
    r"|श्रीमती|श्री|सुश्री)(?![\u0900-\u097f])\.?[ \t]*+[:：\-]?[ \t]*+([\u0900-\u097f]+)"
    r"(?:[ \t]++([\u0900-\u097f]+))?"
)
#: Devanagari words after a relative that name no one: cancer, breast, disease, alive, dead,
#: present, none, with, and the postpositions
_DEVANAGARI_NOT_NAMES = frozenset({
    "कैंसर", "स्तन", "बीमारी", "रोग", "जीवित", "मृत", "उपस्थित", "साथ", "नहीं", "को", "का", "की",
    "के", "ने", "से", "में", "है", "थी", "था", "और",
})  # fmt: skip


def _devanagari_names(text: str) -> list[tuple[int, int]]:
    """The name after a Hindi relative's word or title (``बेटी प्रिया शर्मा``, ``डॉ. राजेश कुमार``)."""
    spans: list[tuple[int, int]] = []
    for m in _DEVANAGARI_CUE.finditer(text):
        if m.group(1) in _DEVANAGARI_NOT_NAMES:
            continue
        spans.append(m.span(1))
        if m.group(2) and m.group(2) not in _DEVANAGARI_NOT_NAMES:
            spans.append(m.span(2))
    return spans


#: a word of a script other than Latin (Cyrillic, Greek, Arabic, Hebrew...): in a station name
#: such a word of 4+ letters that no vocabulary knows is taken for a name
_NON_LATIN_WORD = re.compile(r"[^\W\d_a-zA-Z\u00c0-\u024f]{4,}")
_POSSESSIVE = re.compile(r"(?<![^\W\d_])([^\W\d_]{2,})['’][Ss](?![^\W\d_])")
_WORD_RE = re.compile(_WORD)
#: words that continue a title in a device name without naming a person ("DR ROOM 2")
_ROOM_WORDS = frozenset({
    "room", "suite", "bay", "unit", "lab", "clinic", "office", "wing", "ward", "theatre",
    "theater", "station", "cart", "portable", "mobile", "system", "detector", "panel", "plate",
    "cassette", "us", "ct", "mr", "mri", "xr", "dx", "cr", "dr", "rad", "ir", "rm", "bldg",
    "floor", "level", "fl", "flr",
    # rooms, departments and devices in Cyrillic, Greek, Arabic and Hebrew script: in a
    # station name such a word of 4+ letters is otherwise taken for a name (``КАБИНЕТ 3``)
    "кабинет", "кабінет", "комната", "палата", "отделение", "отделения", "отдел", "корпус",
    "этаж", "узи", "узд", "рентген", "маммография", "маммограф", "поликлиника", "больница",
    "клиника", "центр", "аппарат", "станция", "сервер", "архив", "приемная", "процедурная",
    "смотровая", "диагностика", "диагностики", "кабінету", "відділення", "лікарня",
    "αίθουσα", "αιθουσα", "τμήμα", "τμημα", "κλινική", "κλινικη", "υπέρηχος", "υπερηχος",
    "ακτινολογικό", "ακτινολογικο", "غرفة", "عيادة", "قسم", "الأشعة", "الاشعة", "أشعة", "اشعة",
    "مستشفى", "جهاز", "الموجات", "سونار", "حجرة", "חדר", "מכון", "מחלקה", "מרפאה",
    "אולטרסאונד", "הדמיה", "דימות", "בית", "חולים",
})  # fmt: skip
#: scanner makers, product and model names that a names list may hold (``Philips``,
#: ``Arietta``, ``Sequoia``): never a name in a device or descriptor value
PRODUCT_WORDS = PRODUCT_NAMES | frozenset({
    # short or common words that name a product only in a device field
    "ge", "bk", "flex", "focus", "specto", "edge", "iu", "hd", "cx", "fonar", "picker",
    "elscint", "marconi",
})  # fmt: skip


@lru_cache(maxsize=1)
def _class_functions() -> tuple[Callable[[str], str], Callable[[str], int]]:
    from cadbusi_assets.records.scrub import _fold_lower, _word_class

    return _fold_lower, _word_class


def _fold_lower(word: str) -> str:
    return _class_functions()[0](word)


def verb_follows(text: str, end: int) -> bool:
    """:func:`records.scrub.verb_follows`: a particle or an adverb after a first name that
    is also a verb (``daughter rose slowly``)."""
    from cadbusi_assets.records.scrub import verb_follows as follows

    return follows(text, end)


@lru_cache(maxsize=1)
def _kin_given() -> frozenset[str]:
    from cadbusi_assets.records.scrub import _KIN_GIVEN

    return frozenset(_KIN_GIVEN)


def _class(word: str) -> int:
    fold_lower, word_class = _class_functions()
    return word_class(fold_lower(word))


def _common(word: str) -> bool:
    """A word of the vocabularies that is no person name (``ROOM``, ``DETECTOR``)."""
    from cadbusi_assets.records.scrub import _SAFE

    key = word.lower()
    return key in _ROOM_WORDS or key in PRODUCT_WORDS or _class(word) == _SAFE


#: relatives' words in Cyrillic, Arabic and Hebrew script (a name after them is a word no
#: Latin vocabulary knows: ``дочь Вера``, ``ابنة وردة``)
_KIN_OTHER_SCRIPTS = frozenset({
    "дочь", "дочери", "сын", "сына", "муж", "мужа", "жена", "жены", "мать", "отец", "сестра",
    "сестры", "брат", "брата", "внучка", "внук", "тётя", "тетя", "дядя", "племянница",
    "бабушка", "дедушка", "мама", "папа", "супруг", "супруга", "донька", "дружина", "чоловік",
    "ابنة", "ابنته", "ابن", "ابنه", "بنت", "زوج", "زوجة", "زوجها", "أم", "أب", "أخت", "أخ",
    "والدة", "والد", "בת", "בן", "בעל", "אשת", "אישה", "אמא", "אבא", "אחות", "אח",
    # Greek (accented and not)
    "κόρη", "κορη", "γιος", "γιός", "σύζυγος", "συζυγος", "μητέρα", "μητερα", "πατέρας",
    "πατερας", "αδελφή", "αδελφη", "αδερφή", "αδερφη", "αδελφός", "αδελφος", "εγγονή", "εγγονη",
})  # fmt: skip
#: relatives' words in Chinese, Japanese and Korean (a name after them is a CJK run or a
#: Latin name: ``娘 (Rose)``, ``妻（王芳）``, ``딸 김민지``)
CJK_KIN = frozenset({
    "娘", "息子", "妻", "夫", "母", "父", "姉", "妹", "兄", "弟", "女儿", "女兒", "儿子", "兒子",
    "丈夫", "妻子", "母亲", "母親", "父亲", "父親", "姐姐", "妹妹", "哥哥", "弟弟", "孙女",
    "孫娘", "家族", "家属", "家屬", "딸", "아들", "남편", "아내", "부인", "어머니", "아버지", "언니",
    "누나", "오빠", "동생", "보호자",
    # staff: 担当 (in charge), 技師 (technologist), 医師 (physician), 看護師 (nurse), 检查医生
    "担当", "担当者", "技師", "技师", "医師", "医师", "看護師", "护士", "검사자",
})  # fmt: skip
_KIN_OTHER_SCRIPTS |= CJK_KIN
#: staff roles in Spanish, Portuguese, French, Italian, German, Polish, Turkish, Vietnamese and
#: Russian, and relatives in Turkish (with their possessive ending: ``kızı`` her daughter) and
#: Vietnamese (``con gái`` daughter): a capitalised name after them is taken as after
#: ``sonographer`` or ``daughter``
_KIN_MORE_LANGUAGES = frozenset({
    "enfermera", "enfermero", "técnico", "tecnico", "técnica", "tecnica", "médico", "medico",
    "médica", "medica", "ecografista", "radióloga", "radiologa", "radiólogo", "radiologo",
    "échographiste", "echographiste", "manipulatrice", "manipulateur", "infirmière",
    "infirmiere", "infirmier", "médecin", "medecin", "radiologue", "infermiera", "infermiere",
    "mtra", "mta", "radiologe", "radiologin", "ärztin", "arzt",
    "krankenschwester", "pfleger", "technik", "technika", "lekarz", "lekarka", "pielęgniarka",
    "pielegniarka", "radiolog", "enfermeira", "enfermeiro", "hemşire", "hemsire", "doktor",
    "teknisyen", "kızı", "kizi", "oğlu", "oglu", "eşi", "esi", "annesi", "babası", "babasi",
    "kocası", "kocasi", "karısı", "karisi", "kardeşi", "kardesi", "ablası", "ablasi",
    "bác sĩ", "bac si", "y tá", "y ta", "kỹ thuật viên", "ky thuat vien", "con gái",
    "con gai", "con trai", "chồng", "chong", "vợ", "mẹ", "врач", "врача", "медсестра",
    "медсестры", "лаборант", "узист",
})  # fmt: skip
#: the first word of each of :data:`_KIN_MORE_LANGUAGES`: a value with none of them is not
#: searched for them (one more alternation over every value cost a third of the short-text
#: rules' time)
_KIN_MORE_FIRSTS = frozenset(w.split()[0] for w in _KIN_MORE_LANGUAGES)
#: characters of CJK and Hangul clinical words (癌 cancer, 腺 gland, 病 disease, 史 history,
#: 암 cancer...): a run with one is a finding after a relative's word (``母 乳癌``), no name
_CJK_CLINICAL = frozenset("癌腺病瘤症炎史術术糖尿压圧肝肺胃肠腸巣巢宫宮亡岁歳乳암병")
#: CJK words after a relative's word that say how or whether they are (同伴 accompanying,
#: なし none, 健在 alive): no name
_CJK_NOT_NAMES = (
    "同伴", "同行", "陪同", "不明", "健在", "死亡", "なし", "あり", "不详", "不詳", "本人", "患者",
    "家族", "正常", "异常", "異常", "없음", "있음", "동행", "보호자",
)  # fmt: skip


#: relatives' words of :data:`records.scrub._KIN` as they are written, with their accents
_KIN_ACCENTED = frozenset({
    "mère", "père", "sœur", "épouse", "époux", "irmão", "córka", "córki", "mąż", "żony",
})  # fmt: skip


def _kin_pattern(kin: set[str] | frozenset[str]) -> re.Pattern[str]:
    words = "|".join(sorted((re.escape(w) for w in kin), key=len, reverse=True))
    return re.compile(
        rf"(?i)(?<![^\W\d_])({words})(?:-in-law)?(?![^\W\d_])['’]?[ \t\u3000]*[:,\-：—–]?[ \t\u3000]*"
    )


@lru_cache(maxsize=1)
def _kin_more_regex() -> re.Pattern[str]:
    """:func:`_kin_regex` for the words of :data:`_KIN_MORE_LANGUAGES`."""
    return _kin_pattern(_KIN_MORE_LANGUAGES)


@lru_cache(maxsize=1)
def _kin_regex() -> re.Pattern[str]:
    from cadbusi_assets.records.scrub import _KIN

    return _kin_pattern({w for w in _KIN if len(w) > 2} | _KIN_OTHER_SCRIPTS | _KIN_ACCENTED)


#: relations abbreviated with a slash (``d/o`` daughter of, ``s/o`` son of, ``w/o`` wife of,
#: ``c/o`` care of): group 1 the abbreviation's letter
_SLASH_KIN = re.compile(r"([dswcDSWC])/[oO](?![^\W\d_])[ \t]*[:,]?[ \t]*")
#: a credential in upper case (the letters first: scanned fast), before a name (``RN Faith``,
#: ``PA-C Hope``; :data:`_CREDENTIALS_BEFORE`) or after one, closing the value or a clause
#: (``Jane Quimby, MD``, ``Faith RN``; ``DO`` only after a comma)
_CREDENTIAL = re.compile(
    r"(?:MD|M\.D\.|RN|NP|LPN|LVN|CNM|CNA|APRN|CRNA|RDMS|RVT|DNP|PA-C|PhD|FRCR|DO)(?![^\W\d_])"
)
_CREDENTIALS_BEFORE = frozenset(
    {"RN", "NP", "LPN", "LVN", "CNM", "CNA", "APRN", "CRNA", "RDMS", "RVT", "DNP", "PA-C"}
)
_AFTER_CREDENTIAL = re.compile(r"[ \t]*[:,]?[ \t]*")
_CLOSES_CREDENTIAL = re.compile(r"[ \t]*(?:$|[,;:)/]|\.(?:$|[ \t]))")
_BEFORE_CREDENTIAL = re.compile(r"(?:,[ \t]*|[ \t]+)$")
_WORD_BEFORE = re.compile(rf"({_WORD})\.?$")


def _names_before_credential(text: str, at: int) -> list[tuple[int, int]]:
    """Spans of up to three capitalised name words ending at ``at``, before a credential
    (``Jane Quimby, MD``, ``Faith RN``, ``Marchbanks E, MD``): words of a names list only
    or of none, first names that are words (``Faith``) and initials; the first common word
    stops them."""
    spans: list[tuple[int, int]] = []
    end = at
    while len(spans) < 3:
        head = text[:end].rstrip(" \t")
        if len(spans) and head.endswith(","):
            break  # "Report, Jane Quimby, MD": only the words next to the credential
        match = _WORD_BEFORE.search(head)
        if match is None:
            break
        word = match.group(1)
        key = _fold_lower(word)
        initial = len(word) == 1 and word.isupper()
        name = (
            _capitalised(word)
            and not (word.isupper() and 1 < len(word) <= 3)  # an acronym ("CT MD")
            and key not in _TITLES
            and (
                (_class(word) in _name_classes() and not _common(word))
                or (key in _kin_given() and word.istitle())
            )
        )
        if not (initial or name):
            break
        spans.append(match.span(1))
        end = match.start(1)
        if end and not text[end - 1].isspace():
            break
    return spans


#: what an abbreviation stands for, as :func:`_kin_name` reads it (after ``w/o`` and ``c/o``,
#: also "without" and "complains of", and a credential: only a capitalised name)
_ABBREVIATED_AS = {"d": "daughter", "s": "son"}


@lru_cache(maxsize=1)
def _kin_set() -> frozenset[str]:
    """The relatives' and role words of :func:`_kin_regex`, lower case."""
    from cadbusi_assets.records.scrub import _KIN

    kin = frozenset(w for w in _KIN if len(w) > 2) | _KIN_OTHER_SCRIPTS | _KIN_ACCENTED
    return kin | _KIN_MORE_LANGUAGES


_PAREN_WORD = re.compile(rf"[(（][ \t]*({_WORD})((?:[ \t]+{_WORD}){{0,2}})[ \t]*[)）]")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
_WORD_BEFORE_PAREN = re.compile(rf"({_WORD})[ \t]*$")


def _kin_in_parentheses(text: str) -> list[tuple[int, int]]:
    """A name in parentheses after a relative's or role word (``daughter (Rose)``) and a
    name before one in parentheses (``Rose (daughter) called``); no acronym (``mother
    (IDM)``) and no common word."""
    kin = _kin_set()
    spans: list[tuple[int, int]] = []
    for m in _PAREN_WORD.finditer(text):
        before = _WORD_BEFORE_PAREN.search(text, 0, m.start())
        if before is None:
            continue
        inner, outer = m.group(1), before.group(1)
        inner_kin = _kin_key(inner) in kin
        outer_kin = _kin_key(outer) in kin
        if outer_kin and not inner_kin:
            word, span, relative = inner, m.span(1), outer
        elif inner_kin and not outer_kin and not m.group(2):
            word, span, relative = outer, before.span(1), "daughter"
        else:
            continue
        if (word.isupper() and _fold_lower(word) not in _kin_given()) or _common(word):
            continue  # "mother (IDM)": an acronym
        if not _kin_name(word, relative, True):
            continue
        spans.append(span)
        if span == m.span(1) and m.group(2):  # "夫 (Mark Quimby)": the rest of the name
            spans += _names_after(text, m.start(1), None)[1:]
    return spans


def _kin_key(word: str) -> str:
    key = word.lower()
    return key[: -len("-in-law")] if key.endswith("-in-law") else key


_LETTER = re.compile(r"[^\W\d_]")


def _abbreviation_names(text: str, at: int, letter: str | None) -> list[tuple[int, int, str]]:
    """The name after a slash relation (``letter``: ``d`` of ``d/o``...) or a credential
    (None) that ends at ``at``: no acronym (``C/O SOB``, ``W/O ART``) but a first name that is
    a word after ``d/o``, ``s/o`` or a credential (``NP JOY``)."""
    name = _WORD_RE.match(text, at)
    if name is None:
        return []
    word = name.group(0)
    if (
        word.isupper()
        and len(word) <= 3
        and ((letter or "").lower() in ("w", "c") or word.lower() not in _kin_given())
    ):
        return []
    kin = _ABBREVIATED_AS.get((letter or "").lower(), "c/o")
    return [(*s, "[name]") for s in _names_after(text, at, kin)]


def _street() -> re.Pattern[str]:
    """The report scrubber's street pattern (``12 Elm St``, ``123 Elm Street``)."""
    from cadbusi_assets.records.scrub import _STREET

    return _STREET


def _name_classes() -> tuple[int, int]:
    """Word classes of a name after a relative's word: in a names list only, or in none
    (``sister Zelda``; not ``Son Valley``, a word that is also a name)."""
    from cadbusi_assets.records.scrub import _NAME, _UNKNOWN

    return (_NAME, _UNKNOWN)


def _kin_follows(text: str, at: int) -> bool:
    """A relative's or a role word right after ``at`` (``Quimby's daughter``), or the end."""
    rest = text[at:].lstrip(" \t")
    if not rest or rest[0] in ",;:)":
        return True
    return _kin_regex().match(rest) is not None


#: what a person's possessive stands before in short text: a probe, a preset, a room
#: (``Maria's probe``, ``Quimby's transducer``); an eponym stands before a disease, a sign,
#: a structure (``Cooper's ligaments``)
_OWNED = frozenset({
    "probe", "probes", "transducer", "transducers", "preset", "presets", "settings", "setting",
    "cart", "room", "machine", "scanner", "unit", "protocol", "protocols", "list", "worklist",
    "station", "ws", "workstation", "desk", "office", "phone", "gel", "chair", "bed", "sonde",
    "sonda", "schallkopf", "einstellung", "einstellungen", "reglage", "reglages",
    "configuracion", "ajustes", "case", "cases", "patient", "patients", "exam", "exams",
    "study", "studies", "template", "templates", "macro", "macros", "login", "account",
})  # fmt: skip


#: what an eponym names (``Raynaud's disease``, ``Boyd's perforating vein``): after a
#: possessive of the names list these words make it an eponym, not a person
_EPONYM_HEADS = frozenset({
    "disease", "diseases", "syndrome", "sign", "signs", "sarcoma", "lymphoma", "tumor",
    "tumour", "stain", "staining", "vein", "veins", "artery", "arteries", "nerve", "nerves",
    "duct", "ducts", "gland", "glands", "ligament", "ligaments", "tubercle", "tubercles",
    "node", "nodes", "space", "pouch", "loop", "canal", "fascia", "triangle", "line", "lines",
    "projection", "view", "position", "method", "technique", "medium", "solution", "fixative",
    "index", "measure", "score", "scale", "classification", "criteria", "grade", "grading",
    "stage", "staging", "test", "maneuver", "manoeuvre", "reflex", "phenomenon", "law", "rule",
    "formula", "operation", "procedure", "mastectomy", "incision", "fracture", "cyst",
    "diverticulum", "neuroma", "jelly", "area", "body", "bodies", "cell", "cells", "membrane",
    "capsule", "fluid", "angle", "plane", "ulcer", "palsy", "anomaly", "deformity",
    "contracture", "perforating", "perforator", "coronary", "nodule", "nodules", "lobe",
    "process", "muscle", "bursa", "foramen", "fossa", "valve", "ring", "band", "tract",
    "nucleus", "organ", "crest", "aneurysm", "thyroiditis", "encephalopathy",
    "dementia", "chorea", "anemia", "anaemia", "lesion", "lesions", "spots", "spot",
    "criterion", "model", "equation", "curve", "ratio", "coefficient", "distribution",
})  # fmt: skip


def _possessive_name(text: str, match: re.Match[str]) -> bool:
    """A possessive in short text that is a person's (``L12-5 Maria's probe``): a word of
    the names list not before what an eponym names (a disease, a vein, a projection, a
    word with a clinical ending, a statistic's letter: ``Raynaud's disease``, ``Moran's I``), or one that no
    vocabulary knows before a probe, a preset or a model code (``Quimby's transducer``,
    ``Kowalski's ML6-15``); never an eponym of :func:`records.vocabulary.eponym_words`
    (``Montgomery's tubercles``)."""
    from cadbusi_assets.records.scrub import _MEDICAL_SUFFIX, _UNKNOWN, _fold_lower, name_words
    from cadbusi_assets.records.vocabulary import eponym_words

    key = _fold_lower(match.group(1))
    if key in eponym_words() or not _capitalised(match.group(1)):
        return False
    after = _WORD_CODE.match(text, match.end())
    nxt = _fold_lower(after.group(1)) if after is not None else ""
    if key in name_words():
        return not (
            nxt in _EPONYM_HEADS
            or _MEDICAL_SUFFIX.search(nxt) is not None
            or (after is not None and len(after.group(1)) == 1 and after.group(1).isupper())
        )
    if _class(key) != _UNKNOWN:
        return False
    return nxt in _OWNED or any(c.isdigit() for c in nxt)


_WORD_CODE = re.compile(r"[ \t]+([\w\-.]+)")


def _valid_date(match: re.Match[str]) -> bool:
    if match.group(1):
        year, month, day = int(match.group(1)), int(match.group(3)), int(match.group(4))
    else:
        first, second, year = int(match.group(5)), int(match.group(7)), int(match.group(8))
        if year < 100:
            year += 2000 if year < 50 else 1900
        month, day = (first, second) if first <= 12 else (second, first)
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return 1900 <= year <= 2100


#: particles inside a surname (``van der Quimby``, ``de la Cruz``): taken with the name
_PARTICLES = frozenset({
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "ten",
    "ter", "bin", "ibn", "al", "el", "dos", "das", "y", "st", "mac", "mc",
})  # fmt: skip


def _capitalised(word: str) -> bool:
    """An upper-case first letter, or a letter of a script without case (Arabic, Hebrew)."""
    first = word[:1]
    return first.isupper() or (first.isalpha() and not first.islower())


def _kin_name(word: str, kin: str, closes: bool) -> bool:
    """Whether ``word`` right after the relative's or role word ``kin`` is a name: a
    capitalised word of a names list only or of none (``sister Zelda``), or a first name
    that is also a word (``daughter Rose``, ``son Will``; :data:`records.scrub._KIN_GIVEN`):
    ``will`` and ``may`` in title case or closing the value, the others also in lower case
    after a relative (``daughter rose``, ``hija rosa``; not after a role word)."""
    from cadbusi_assets.records.scrub import (
        _FAMILY,
        _KIN_GIVEN,
        _NAME,
        _SAFE,
        _STOP,
        _UNKNOWN,
        _fold_lower,
        name_words,
    )

    if _KANA_NAME.fullmatch(word):  # kana only: no device's loanword (ヤマダ, not プローブ)
        return (
            "ー" not in word
            and not any(w in word for w in _KANA_DEVICE_WORDS)
            and not any(w in word for w in _CJK_NOT_NAMES)
        )
    if _CJK_RUN.search(word) is not None:
        # a CJK or Hangul run of 2-4 characters with no clinical or device character
        return (
            2 <= len(word) <= 4
            and _CJK_RUN.fullmatch(word) is not None
            and not any(c in _CJK_CLINICAL or c in _CJK_DEVICE_CHARACTERS for c in word)
            and not any(w in word for w in _HANGUL_DEVICE_WORDS)
            and not any(w in word for w in _CJK_NOT_NAMES)
        )
    if _capitalised(word) and _class(word) in _name_classes():
        return True
    key = _fold_lower(word)
    if (
        word.islower()
        and (len(word) >= 4 or (len(word) == 3 and key in name_words()))
        and kin.lower() in _FAMILY
        and (_class(word) == _NAME or (_class(word) == _UNKNOWN and _pronounceable(key)))
    ):
        return True  # "d/o zelda", "sister ottoline", "son ned": a name of no word list
    if key not in _KIN_GIVEN or _class(word) == _SAFE:
        return False
    if key in _STOP:
        return word[:1].isupper() and (not word.isupper() or closes)
    return _capitalised(word) or _fold_lower(kin) in _FAMILY


def _compound(text: str, match: re.Match[str]) -> bool:
    """A first name that is also a word in a compound with the next (``grace period``)."""
    from cadbusi_assets.records.scrub import _GIVEN_COMPOUNDS

    nxt = re.compile(r"[ \t]+(" + _WORD + ")").match(text, match.end())
    return nxt is not None and (_fold_lower(match.group(0)), _fold_lower(nxt.group(1))) in (
        _GIVEN_COMPOUNDS
    )


#: endings of verbs, adverbs and abstract nouns (``deceased``, ``treated``, ``slowly``,
#: ``hospitalised``): a word with one after a lower-case name is no surname
_WORD_FORM_ENDING = re.compile(
    r"(?:ed|ly|ise|ize|ance|ence|ment|ness|tion|sion|ity|ism|ogy|egy|ics|ful|ous|ive|able)$"
)


_TITLE_WORD = re.compile(r"[^\W\d_][^\W\d_A-Z]{2,}")


def _barrel_word(word: str) -> bool:
    """A part of a double-barrelled surname: a title-case word of 3+ letters that is no
    frequent, clinical, eponym, device or title word (``Plimsoll``, ``Candlewick``)."""
    from cadbusi_assets.records.scrub import _STOP, core_words, medical_words
    from cadbusi_assets.records.vocabulary import eponym_words

    key = _fold_lower(word)
    return (
        _TITLE_WORD.fullmatch(word) is not None
        and word[:1].isupper()
        and key not in core_words()
        and key not in medical_words()
        and key not in eponym_words()
        and key not in _STOP
        and key not in _TITLES
        and key not in _ROOM_WORDS
        and key not in _DEVICE_WORDS
        and key not in PRODUCT_WORDS
    )


def _barrel_part(text: str, match: re.Match[str]) -> bool:
    """Whether ``match`` is a part of a double-barrelled surname in title case, joined by a
    dash to another (``Plimsoll-Candlewick``: each part may be an English word)."""
    if not _barrel_word(match.group(0)):
        return False
    start, end = match.span()
    if text[end : end + 1] == "-":
        other = _WORD_RE.match(text, end + 1)
        return other is not None and _barrel_word(other.group(0))
    if start and text[start - 1] == "-":
        other = re.search(rf"({_WORD})$", text[: start - 1])
        return other is not None and _barrel_word(other.group(1))
    return False


#: a first name and a double-barrelled surname in title case (``Rose Plimsoll-Candlewick``)
_BARRELLED_NAME = re.compile(
    rf"(?<![^\W\d_])({_WORD})[ \t]+({_WORD})[-–]({_WORD})(?![^\W\d_]|[-–])"
)


def _barrelled_names(text: str) -> list[tuple[int, int]]:
    """A first name (of the names list, or a first name that is a word: ``Rose``) before a
    double-barrelled surname in title case (``Rose Plimsoll-Candlewick``), with no other
    context: all three words."""
    from cadbusi_assets.records.scrub import _GIVEN_WORDS, _NAME, name_words

    spans: list[tuple[int, int]] = []
    for m in _BARRELLED_NAME.finditer(text):
        first = m.group(1)
        key = _fold_lower(first)
        capitals = m.group(0).isupper()
        if m.group(0).islower():  # "rose plimsoll-candlewick": stricter parts
            if _lower_barrelled_name(m):
                spans += [m.span(1), m.span(2), m.span(3)]
            continue
        if (
            (first.istitle() or capitals)
            and (key in _GIVEN_WORDS or (_class(key) == _NAME and key in name_words()))
            and key not in _TITLES
            and all(
                _barrel_word(part.title() if capitals else part) and len(part) >= 4
                for part in (m.group(2), m.group(3))
            )
        ):
            spans += [m.span(1), m.span(2), m.span(3)]
    return spans


def lower_barrelled_names(text: str) -> list[tuple[int, int]]:
    """The spans of :func:`_lower_barrelled_name`'s names in ``text`` (for a report)."""
    spans: list[tuple[int, int]] = []
    if _LOWER_DASHED.search(text) is None:
        return spans
    for m in _BARRELLED_NAME.finditer(text):
        if m.group(0).islower() and _lower_barrelled_name(m):
            spans += [m.span(1), m.span(2), m.span(3)]
    return spans


def _lower_barrelled_name(m: re.Match[str]) -> bool:
    """:data:`_BARRELLED_NAME` all in small letters (``rose plimsoll-candlewick``): a first
    name of a names list or one that is a word, then two different parts of 5+ letters that
    would each be a part in title case (:func:`_barrel_word`) and are no word form or
    clinical word (``grace well-being``, ``mark left-sided``, ``rose gastro-intestinal``)."""
    from cadbusi_assets.records.scrub import _GIVEN_WORDS, _NAME, name_words

    key = _fold_lower(m.group(1))
    parts = (m.group(2), m.group(3))
    return (
        (key in _GIVEN_WORDS or (_class(key) == _NAME and key in name_words()))
        and key not in _TITLES
        and parts[0] != parts[1]
        and all(
            len(part) >= 5
            and _barrel_word(part.title())
            and _WORD_FORM_ENDING.search(part) is None
            and not _clinical_ending(part)
            and _MORE_CLINICAL_ENDINGS.search(part.upper()) is None
            for part in parts
        )
    )


#: initials after a title or a role word (``Dr O.J. Quimbrell``, ``sonographer O. Farthing``):
#: one to three capitals each with a dot
_INITIALS = re.compile(r"(?:[A-Z]\.[ \t]?){1,3}[ \t]*(?=[^\W\d_])")
#: a dash and the word after it (``tom-tom``: the word doubled)
_REDUPLICATED = re.compile(r"-([^\W\d_]+)(?![^\W\d_])")


def _initialled_surname(word: str) -> bool:
    """A surname after initials that follow a title or a role: capitalised, 2+ letters, no
    stop word and no word of a role, relation or title (``Dr J. Smith``; not ``Dr J. The``)."""
    from cadbusi_assets.records.scrub import _NOT_A_NAME_PART, _STOP

    key = word.lower()
    return (
        len(word) >= 2
        and word[:1].isupper()
        and not word.isupper()
        and key not in _STOP
        and key not in _NOT_A_NAME_PART
        and key not in _ROOM_WORDS
        and key not in PRODUCT_WORDS
    ) or (word.isupper() and len(word) >= 4 and _class(word) in _name_classes())


def _title_case_surname(first: str, word: str) -> bool:
    """A word in title case that is also an English word after a first name in title case
    that a title, a relative's or a role word marked (``sonographer: Zelda Farthing``,
    ``Dr Ottoline Plimsoll``): a surname, unless clinical, a room, a product or a word form
    (``Dr Quimby Breast``, ``sister Zelda treated``)."""
    from cadbusi_assets.records.scrub import medical_words

    key = _fold_lower(word)
    return (
        len(first) >= 2
        and first[:1].isupper()
        and first[1:].islower()
        and len(word) >= 4
        and word[:1].isupper()
        and word[1:].islower()
        and key not in medical_words()
        and key not in _ROOM_WORDS
        and key not in PRODUCT_WORDS
        and key not in _DEVICE_WORDS
        and _WORD_FORM_ENDING.search(key) is None
    )


def _role_lower_name(text: str, match: re.Match[str], kin: str) -> bool:
    """A first name in lower case after a role word (no relative: ``sonographer zelda
    farthing``, ``tech ottoline plimsoll``) when a surname in lower case follows it: the
    first in a names list only or in none and read like a name, the second a name or a rare
    word (no verb, adverb or abstract noun, no clinical, room or product word). One word
    alone stays (``sonographer present``)."""
    from cadbusi_assets.records.scrub import (
        _FAMILY,
        _NAME,
        _STOP,
        _UNKNOWN,
        core_words,
        medical_words,
    )

    word = match.group(0)
    key = _fold_lower(word)
    if (
        not word.islower()
        or len(word) < 4
        or _fold_lower(kin) in _FAMILY
        or _class(word) not in (_NAME, _UNKNOWN)
        or not _pronounceable(key)
        or _WORD_FORM_ENDING.search(key)
        or key in medical_words()
    ):
        return False
    nxt = _NEXT_LOWER_WORD.match(text, match.end())
    if nxt is None:
        return False
    second = nxt.group(1)
    other = _fold_lower(second)
    return (
        second.islower()
        and len(second) >= 4
        and other not in _STOP
        and other not in core_words()
        and other not in medical_words()
        and other not in _ROOM_WORDS
        and other not in PRODUCT_WORDS
        and other not in _TITLES
        and not _WORD_FORM_ENDING.search(other)
        and not text[nxt.end() : nxt.end() + 1].isdigit()
    )


_NEXT_TITLE_WORD = re.compile(rf"[ \t]+({_WORD})(?![^\W\d_'’\-])")
_NEXT_LOWER_WORD = re.compile(rf"[ \t]+({_WORD})")


def _names_after(text: str, at: int, kin: str | None) -> list[tuple[int, int]]:
    """Spans of the name words that start at ``at`` (after a title or a relation): the first
    unless it is a common word (``kin`` None: a title, whose next word is a name unless
    common; else the relative's or role word before, and :func:`_kin_name` decides), then
    up to two more that are no common word, particles (``van der``) taken with them."""
    from cadbusi_assets.records.scrub import _NAME, _STOP, _UNKNOWN, core_words, medical_words

    spans: list[tuple[int, int]] = []
    initials = _INITIALS.match(text, at)
    if initials is not None:  # "Dr O.J. Quimbrell", "sonographer O. Farthing"
        surname = _WORD_RE.match(text, initials.end())
        if surname is None or not _initialled_surname(surname.group(0)):
            return spans
        return [(initials.start(), surname.end())]
    bare = _BARE_INITIAL.match(text, at)
    if bare is not None:  # "Dr O Quimbrell": one initial, no dot, a name-like surname
        surname = _WORD_RE.match(text, bare.end())
        if surname is not None and _bare_initial_surname(surname.group(0)):
            return [(bare.start(), surname.end())]
    match = _WORD_RE.match(text, at)
    if match is None or len(match.group(0)) < 2:
        return spans
    word = match.group(0)
    doubled = _REDUPLICATED.match(text, match.end())
    if doubled is not None and doubled.group(1).lower() == word.lower():
        return spans  # "son tom-tom drum": a word doubled with a dash, no name
    if word.lower() in _PARTICLES:
        pending = [match.span()]
    elif kin is not None and (short := _short_first_surname(text, match)) is not None:
        return [short]  # "tech Ana de la Quintavera", "tech Zoë Quimbrellé"
    elif kin is not None and not _common(word):
        closes = re.match(r"[ \t]*(?:$|[,;:.()/])", text[match.end() :]) is not None
        if not (_kin_name(word, kin, closes) or _role_lower_name(text, match, kin)) or _compound(
            text, match
        ):
            return spans
        if word.islower() and _fold_lower(word) in _kin_given() and verb_follows(text, match.end()):
            return spans  # "her daughter rose slowly": the verb
        pending = []
        spans.append(match.span())
    elif _common(word) or kin is not None:
        return spans
    else:
        pending = []
        spans.append(match.span())
    end = match.end()
    while len(spans) < 3:
        gap = re.match(r"[ \t_\-]+", text[end:])
        if gap is None:
            break
        nxt = _WORD_RE.match(text, end + gap.end())
        if nxt is None or len(nxt.group(0)) < 2:
            break
        key = nxt.group(0).lower()
        if text[nxt.end() : nxt.end() + 1].isdigit():
            break  # "DR QUIMBY RM3": a room, a probe, a model
        if key in _PARTICLES and len(pending) < 3:
            pending.append(nxt.span())
            end = nxt.end()
            continue
        if key in _STOP or key in core_words() or key in _TITLES:
            break
        if (
            _common(nxt.group(0))
            and not _barrel_part(text, nxt)
            and not _title_case_surname(word, nxt.group(0))
            and not (
                # "d/o zelda plimsoll": a rare word after a name in lower case
                word.islower()
                and (_class(word) in (_NAME, _UNKNOWN) or _fold_lower(word) in _kin_given())
                and nxt.group(0).islower()
                and not _WORD_FORM_ENDING.search(key)
                and len(key) >= 4
                and key not in medical_words()
                and key not in _ROOM_WORDS
                and key not in PRODUCT_WORDS
            )
        ):
            break
        spans += [*pending, nxt.span()]
        pending = []
        end = nxt.end()
    return spans


def _short_first_surname(text: str, match: re.Match[str]) -> tuple[int, int] | None:
    """A three-letter first name (:func:`_short_first_name`) at ``match`` and a name-like
    surname after it (:func:`_unknown_name_word`), particles between them or none: the span
    of all, or None."""
    if not _short_first_name(match.group(0)):
        return None
    after = _PARTICLES_SURNAME.match(text, match.end())
    if after is None or not _unknown_name_word(after.group(2)):
        after = _NEXT_TITLE_WORD.match(text, match.end())
        if after is None or not _unknown_name_word(after.group(1)):
            return None
    if _described(text):  # "San Clemente goat breed" (looked at once a value)
        return None
    return (match.start(), after.end())


def _name_pairs(text: str) -> list[tuple[int, int]]:
    """A name of the names list beside another name-like word (``ANNA QUIMBY``): both."""
    from cadbusi_assets.records.scrub import _GIVEN_WORDS, _NAME, _UNKNOWN

    words = [m for m in _WORD_RE.finditer(text) if len(m.group(0)) >= 4]
    spans: list[tuple[int, int]] = []
    for left, right in itertools.pairwise(words):
        if not re.fullmatch(r"[ \t_\-]", text[left.end() : right.start()]):
            continue
        a, b = left.group(0).lower(), right.group(0).lower()
        if {a, b} & (PRODUCT_WORDS | _ROOM_WORDS | _TITLES):
            continue
        ca, cb = _class(a), _class(b)
        if (
            (ca == _NAME and cb in (_NAME, _UNKNOWN))
            or (cb == _NAME and ca == _UNKNOWN)
            or (a in _GIVEN_WORDS and cb == _UNKNOWN)
            or (b in _GIVEN_WORDS and ca == _UNKNOWN)
        ):
            spans += [left.span(), right.span()]
    return spans


def _lone_names(text: str) -> list[tuple[int, int]]:
    """A word of 5+ letters standing alone between separators of a station name
    (``GWENDOLYN_US1``) that is a person name of the names list and no word, place or
    product."""
    from cadbusi_assets.records.scrub import _NAME, place_words

    return [
        m.span()
        for m in _WORD_RE.finditer(text)
        if len(m.group(0)) >= 5
        and m.group(0).lower() not in PRODUCT_WORDS
        and m.group(0).lower() not in place_words()
        and _class(m.group(0)) == _NAME
    ]


#: words of a device value that name no person: workstations, archives, services and
#: scanner rooms (``JSMITH-WS``: WS marks the workstation, JSMITH its user)
_DEVICE_WORDS = frozenset({
    "ws", "pacs", "ris", "his", "scp", "scu", "aet", "mwl", "srv", "server", "node", "host",
    "dicom", "dcm", "modality", "console", "gateway", "router", "archive", "store", "print",
    "mammo", "sono", "echo", "usound", "ultrasound", "breast", "rad", "rads", "imaging", "img",
    "reading", "rdg", "qa", "qc", "test", "demo", "main", "east", "west", "north", "south",
    "old", "new", "dept", "spare", "loaner", "loan", "backup", "view", "viewer", "review",
    "recon", "acq", "exam", "scan", "scanner", "probe", "cart", "mobile", "portable",
    "women", "womens", "mens", "ladies", "childrens", "kids", "peds", "obgyn", "gyn",
})  # fmt: skip
_SEGMENT = re.compile(r"[^\W\d_]+")
#: a device's name has at most this many words (``US ROOM 3 QUIMBY``)
_MAX_DEVICE_WORDS = 4
_VOWELS = frozenset("aeiouy")


def _pronounceable(key: str) -> bool:
    """A word that reads like a name, not an acronym (``QUIMBY``, ``MARCHBANKS``, not
    ``SBBC`` or ``UCSF``): two vowels or more, a fifth of its letters at least."""
    vowels = sum(c in _VOWELS for c in key)
    return vowels >= 2 and vowels * 5 >= len(key)


@lru_cache(maxsize=1)
def _word_edges() -> tuple[frozenset[str], frozenset[str]]:
    """The first two and the last two letters that at least three English or clinical words
    of 4+ letters have (``ta``, ``vo``; not ``js``, ``mg``, ``hj``)."""
    from collections import Counter

    from cadbusi_assets.records.vocabulary import english_words, medical_words

    words = [w for w in english_words() | medical_words() if len(w) >= 4]
    starts, ends = Counter(w[:2] for w in words), Counter(w[-2:] for w in words)
    return (
        frozenset(b for b, n in starts.items() if n >= 3),
        frozenset(b for b, n in ends.items() if n >= 3),
    )


def _user_name(key: str) -> bool:
    """A user name of an initial or two and a surname of the names list, or a surname and
    an initial (``jsmith``, ``bwilliams``, ``smithj``), that is no word itself and starts
    (ends) with two letters no word starts (ends) with: ``TARINA`` or ``VOMER`` are t + arina
    and v + omer, but words start so."""
    from cadbusi_assets.records.scrub import _SAFE, _UNKNOWN, core_words, medical_words, name_words

    if len(key) < 5 or _class(key) != _UNKNOWN:
        return False
    starts, ends = _word_edges()
    names, core, medical = name_words(), core_words(), medical_words()

    def surname(part: str, least: int = 4) -> bool:
        return (
            len(part) >= least
            and part in names
            and part not in core
            and part not in medical
            and part not in PRODUCT_WORDS
        )

    # two initials before a surname of 5+ letters ("la" + "tero"); an initial after the
    # surname only with a surname that is no common word ("later" + "o")
    return (key[:2] not in starts and (surname(key[1:]) or surname(key[2:], 5))) or (
        key[-2:] not in ends and surname(key[:-1]) and _class(key[:-1]) != _SAFE
    )


def _initial_user(key: str) -> bool:
    """A user name of an initial and a surname that no list has (``kquimby``), as one code
    (not ``MEAN CTDIVOL``, words of a description): 6+ letters,
    in no vocabulary, starting with two letters no English word starts with (``kq``, ``jq``;
    not ``xe`` of ``XELERIS``), the rest a pronounceable unknown word after a consonant that
    is no device word (not ``JDICOM``)."""
    from cadbusi_assets.records.scrub import _UNKNOWN

    rest = key[1:]
    return (
        len(key) >= 6
        and key[:2] not in _word_edges()[0]
        and rest[:1] not in _VOWELS
        and rest not in _DEVICE_WORDS
        and _class(key) == _UNKNOWN
        and _class(rest) == _UNKNOWN
        and _pronounceable(rest)
    )


#: parts of product and service names (``JVISION``, ``XSTORE``, ``KLINK``): an initial glued
#: to a word with one of them is no user name
_PRODUCT_PARTS = (
    "vision", "view", "logic", "soft", "care", "link", "net", "tech", "med", "scan", "image",
    "store", "work", "sonic", "sound", "cloud", "data", "system", "station", "server", "gate",
    "star", "line", "port", "track", "flow", "graph", "point", "center", "centre", "lab",
    "plus", "smart", "touch", "matic", "tron", "ware", "wave", "ray",
)  # fmt: skip


def _word_surname(word: str) -> bool:
    """A surname that is an English word as a user name holds it (``plimsoll``, ``thistle``):
    6+ letters after a consonant, no frequent, clinical, device or product word, no part of a
    product's name and no verb, adverb or abstract noun (``vision``, ``radiance``)."""
    from cadbusi_assets.records.scrub import core_words, english_words, medical_words

    return (
        len(word) >= 6
        and word[:1] not in _VOWELS
        and word in english_words()
        and word not in core_words()
        and word not in medical_words()
        and word not in _DEVICE_WORDS
        and word not in _ROOM_WORDS
        and word not in PRODUCT_WORDS
        and not any(p in word for p in _PRODUCT_PARTS)
        and not _WORD_FORM_ENDING.search(word)
    )


def _initial_word_user(key: str) -> bool:
    """A user name of an initial glued to a surname that is an English word (``jplimsoll``,
    ``plimsollj``): in no vocabulary, the initial and the word's edge two letters no English
    word starts (ends) with, the word one of :func:`_word_surname` (``JVISION``, ``XSTORE``,
    ``XRADIANCE`` stay)."""
    from cadbusi_assets.records.scrub import _UNKNOWN

    if _class(key) != _UNKNOWN:
        return False
    starts, ends = _word_edges()
    return (key[:2] not in starts and _word_surname(key[1:])) or (
        key[-2:] not in ends and _word_surname(key[:-1])
    )


#: words that make a value a description (a breed, a Latin structure, a stain, a drug), not
#: a device's name: no name pair or device shape is looked for in it (``MUSCULI BULBI``,
#: ``DRENTSE PATRIJSHOND DOG BREED``, ``PONCEAU XYLIDINE STAIN``)
_DESCRIPTION_WORDS = frozenset({
    "breed", "breeds", "cattle", "dog", "horse", "pig", "sheep", "goat", "pony",
    "organism", "subspecies", "species", "stain", "staining", "musculus", "musculi", "nervus",
    "nervi", "vena", "venae", "arteria", "arteriae", "ligamentum", "ligamenta", "glandula",
    "regio", "sulcus", "ossa", "substance", "qualifier", "finding", "disorder", "structure",
    "injection", "hydrochloride",
})  # fmt: skip
#: endings of clinical and chemical words that :data:`records.scrub._CLINICAL_ENDING` lacks
#: (``IMPLANTABLE DEFIBRILLATOR``, ``WAVEFORM``, ``IODIPAMIDE``, ``CAPROMAB``)
_MORE_CLINICAL_ENDINGS = re.compile(r"(?:ABLE|IBLE|ATOR|FORM|IDE|MAB)$")


def _description(text: str) -> bool:
    """A value with a word of :data:`_DESCRIPTION_WORDS`."""
    return any(m.group(0).lower() in _DESCRIPTION_WORDS for m in _SEGMENT.finditer(text))


@lru_cache(maxsize=4)
def _described(text: str) -> bool:
    """:func:`_description`, remembered for the last values (a rule may ask per word)."""
    return _description(text)


#: the last part of an English surname or place name built of two words (``RAVEL|STOKE``,
#: ``BREWER|TON``); not ``field`` or ``stone`` (``BRIGHTFIELD``, ``GALLSTONE``)
_SURNAME_ENDS = (
    "stoke", "ton", "ford", "ley", "worth", "wood", "well", "bury", "borough", "ham", "hurst",
    "combe", "dale", "shaw", "wick", "croft", "bridge", "brook", "mere", "thorpe", "by",
    "burn", "leigh", "stead", "ridge", "more", "sley",
)  # fmt: skip


def _compound_surname(text: str) -> list[tuple[int, int]]:
    """A station value that is one word and reads like an English surname or place of two
    words that no vocabulary has as one (``RAVELSTOKE``: ravel + stoke): 8+ letters, the
    first part a word or name of 3+ letters, the last one of :data:`_SURNAME_ENDS`, no part
    of a product's name. Other lone unknown words stay (``ORTHANC``, ``STORESCP``,
    ``THORAVISION``: that is how AE titles look)."""
    from cadbusi_assets.records.scrub import _UNKNOWN
    from cadbusi_assets.records.vocabulary import eponym_words

    segments = list(_SEGMENT.finditer(text))
    if len(segments) == 2 and text[segments[0].end() : segments[1].start()] == "-":
        # written with a dash ("ravel-stoke"): both parts, read as one word
        key = _fold_lower(segments[0].group(0) + segments[1].group(0))
        spans = [segments[0].span(), segments[1].span()]
        start, end = segments[0].start(), segments[1].end()
    elif len(segments) == 1:
        key = _fold_lower(segments[0].group(0))
        spans = [segments[0].span()]
        start, end = segments[0].span()
    else:
        return []
    if len(key) < 8:
        return []
    if (start and text[start - 1].isdigit()) or text[end : end + 1].isdigit():
        return []  # glued to digits: a model
    if (
        not key.isascii()
        or _class(key) != _UNKNOWN
        or key in eponym_words()  # "TITTERINGTON": a projection's name
        or any(p in key for p in _PRODUCT_PARTS)
    ):
        return []
    if any(
        len(spans) == 1 or len(first) == spans[0][1] - spans[0][0] >= 4
        for first in _surname_firsts(key)
    ):
        return spans
    return []


def _surname_firsts(key: str) -> list[str]:
    """The first parts of ``key`` (lower case) before one of :data:`_SURNAME_ENDS` that are
    words or names of 3+ letters: ``candle`` of ``candlewick``, ``ravel`` of ``ravelstoke``."""
    from cadbusi_assets.records.scrub import english_words, name_words

    firsts = (key[: -len(ending)] for ending in _SURNAME_ENDS if key.endswith(ending))
    return [f for f in firsts if len(f) >= 3 and (f in english_words() or f in name_words())]


#: device words that start or end a lone unknown word of a station name (``GENIEACQ``,
#: ``MAMMOSRV``, ``STORESCP``): a device's code, not a name
_DEVICE_AFFIXES = (*sorted(w for w in _DEVICE_WORDS if len(w) >= 3), "acq", "srv", "svr")
#: endings and beginnings of surnames (English, Celtic, Slavic, Greek, German, Scandinavian,
#: Italian, Spanish) that a lone unknown word of a station name reads like
#: (``QUARRINGTON``, ``MACGILLICUDDY``, ``ŁUKASIEWICZ``, ``MÜLLERSTEIN``); device codes do not
#: end so (``ORTHANC``, ``TARINA``, ``BRIGHTFIELD`` stay); a Celtic or Norman beginning only
#: with no digits glued and no ``US`` or ``WS`` ending (``MCTOUUS01``: a real station name)
_SURNAME_PREFIX = re.compile(r"^(?:mac|mc|fitz)[a-z]{4,}$")
_SURNAME_MORPHOLOGY = re.compile(
    r"^[a-z]{3,}(?:ington|ton|ley|leigh|worth|ham|ford|wick|well|bury"
    r"|borough|hurst|combe|shaw|croft|thorpe|stead|sley|sey|thwaite|waite|bottom|sson"
    r"|ski|ska|sky|wicz|czyk|czak|enko|chuk|ovic|evic|vich|ova|opoulos|poulos|akis|idis|oglu"
    r"|mann|stein|berg|baum|feld|hofer|huber|elli|etti|ucci|acci|ez)$"
)


#: makers and products an ultrasound value names that :data:`PRODUCT_WORDS` lacks, and the
#: measured code meanings' unknown title-case pairs (``Broselow Luten`` tape, ``Kevlar Aramid``)
_MORE_PRODUCT_WORDS = frozenset({
    "healthineers", "kontron", "imagio", "sonix", "alpinion", "edan", "konted", "wisonic",
    "broselow", "luten", "kevlar", "aramid",
})  # fmt: skip
#: endings of Latin words (``Globus Pallidus``, ``Os Ilium``, ``Cornu Ammonis``)
_LATIN_ENDING = re.compile(r"(?:us|um|ae|ii|is|ar)$")
#: Latin adjectives of anatomy that the names lists hold (``Cisterna Magna``)
_LATIN_WORDS = frozenset({
    "magna", "major", "minor", "maxima", "minima", "alba", "rubra", "nigra", "externa",
    "interna", "media", "lata", "vera", "longa", "brevis", "cisterna", "fossa", "plana",
})  # fmt: skip


@lru_cache(maxsize=8192)
def _unknown_name_word(word: str) -> bool:
    """A title-case word of 4+ letters that reads like a person's name: in a names list only
    (no place) or in no vocabulary, no eponym, product, room or device word, no Latin or
    clinical ending."""
    from cadbusi_assets.records.scrub import _NAME, _UNKNOWN, name_words, place_words
    from cadbusi_assets.records.vocabulary import eponym_words

    if len(word) < 4 or not word[:1].isupper() or not word[1:].islower():
        return False
    key = _fold_lower(word)
    if (
        key in PRODUCT_WORDS
        or key in _MORE_PRODUCT_WORDS
        or key in _ROOM_WORDS
        or key in _DEVICE_WORDS
        or key in _TITLES
        or key in eponym_words()
        or key in _LATIN_WORDS
        or not _pronounceable(key)
    ):
        return False
    word_class = _class(word)
    if word_class == _NAME:  # "Bartholomew" (a name and a place), not "Sequoia" (a place)
        return key in name_words() or key not in place_words()
    return (
        word_class == _UNKNOWN
        and not _clinical_ending(key)
        and _MORE_CLINICAL_ENDINGS.search(key.upper()) is None
        and _LATIN_ENDING.search(key) is None
    )


def name_like_words(text: str) -> list[str]:
    """The words of ``text`` that read like a person's name (:func:`_unknown_name_word`:
    title case, or capitals read in title case, 4+ letters, in a names list only or in no
    vocabulary, no product, eponym, room or device word, no Latin or clinical ending).

    >>> name_like_words("Breast Ysolde"), name_like_words("BREAST YSOLDE")
    (['Ysolde'], ['YSOLDE'])
    >>> name_like_words("Adv Breast L12-5 Doppler"), name_like_words("US BREAST AXILLA LOGIQ")
    ([], [])
    """
    if not text:
        return []
    return [
        w
        for w in _SEGMENT.findall(text)
        if _unknown_name_word(w.title() if w.isupper() and len(w) > 1 else w)
    ]


#: initials with dots before or after a word (``O.Q. Quimbrell``, ``Quimbrell, O.J.``): group
#: 1 or 2 the word, which :func:`initialled_names` checks
_INITIALLED = re.compile(
    r"(?<![^\W\d_.])(?:[A-Z]\.[ \t]?){1,3}[ \t]*([^\W\d_]+)(?![^\W\d_.'’\-])"
    r"|(?<![^\W\d_.'’\-])([^\W\d_]+),?[ \t]+(?:[A-Z]\.){1,3}(?![^\W\d_])"
)


#: two Cyrillic initials after a surname (``Квимбрелл О.И.``, ``Квимбрелл О. И.``: a name and
#: a patronymic): group 1 the surname, a Cyrillic word of 4+ letters in title case or
#: capitals, or two with a dash
_CYRILLIC_INITIALLED = re.compile(
    r"(?<![^\W\d_.'’\-])((?:[А-ЯЁ][а-яё]{3,}|[А-ЯЁ]{4,})(?:-[А-ЯЁ](?:[а-яё]{2,}|[А-ЯЁ]{2,}))?)"
    r",?[ \t]+[А-ЯЁ]\.[ \t]?[А-ЯЁ]\.(?![^\W\d_])"
)
#: Latin initials after a surname with a space between them (``Quimbrell O. J.``)
_SPACED_INITIALS_AFTER = re.compile(
    r"(?<![^\W\d_.'’\-])([^\W\d_]+),?[ \t]+[A-Z]\.(?:[ \t][A-Z]\.){1,2}(?![^\W\d_])"
)

#: cheap tests before the two patterns above
_SPACED_INITIALS_HINT = re.compile(r"[A-Z]\.[ \t][A-Z]\.")
_CYRILLIC_INITIALS_HINT = re.compile(r"[А-ЯЁ]\.[ \t]?[А-ЯЁ]\.")


_INITIALS_FIRST = re.compile(
    r"(?<![^\W\d_.])(?:[A-Z]\.[ \t]?){1,3}[ \t]*([^\W\d_]+)(?![^\W\d_.'’\-])"
)
#: a surname after ``by`` and one initial with or without a dot (``read by O Quimbrell``)
_BY_INITIAL = re.compile(r"(?<![^\W\d_])(?i:by)[ \t]+([A-Z])\.?[ \t]+([^\W\d_]+)(?![^\W\d_.'’\-])")
#: endings of a species' Latin name (``coli``, ``aureus``, ``pylori``, ``pneumoniae``,
#: ``albicans``): after one initial no surname unless a names list has it
_SPECIES_ENDING = re.compile(r"(?:i|ae|us|um|is|ans|ens|ile|a)$")
#: one initial with no dot after a title or a role (``Dr O Quimbrell``)
_BARE_INITIAL = re.compile(r"[A-Z][ \t]+(?=[^\W\d_])")


def initialled_names(text: str) -> list[tuple[int, int]]:
    """A word that reads like a person's name (:func:`_unknown_name_word`) with initials
    before or after it (``O. Quimbrell``, ``Quimbrell O.``): the span of both. The initials
    first are looked for on their own too (``by O. Quimbrell``: ``by O.`` read as a word
    and initials hid them)."""
    spans = [
        m.span() for m in _INITIALLED.finditer(text) if _unknown_name_word(m.group(1) or m.group(2))
    ]
    spans += [m.span() for m in _INITIALS_FIRST.finditer(text) if _unknown_name_word(m.group(1))]
    if _SPACED_INITIALS_HINT.search(text) is not None:
        spans += [
            m.span()
            for m in _SPACED_INITIALS_AFTER.finditer(text)
            if _unknown_name_word(m.group(1).title() if m.group(1).isupper() else m.group(1))
        ]
    if not text.isascii() and _CYRILLIC_INITIALS_HINT.search(text) is not None:
        spans += [
            m.span()
            for m in _CYRILLIC_INITIALLED.finditer(text)
            if m.group(1).lower() not in _ROOM_WORDS  # "ОТДЕЛ А.Б.": a department's letters
        ]
    return spans


def by_initial_names(text: str) -> list[tuple[int, int]]:
    """An initial (a dot or none) and a surname that reads like a person's name after ``by``
    (``read by O Quimbrell``): the span of both."""
    return [
        (m.start(1), m.end(2))
        for m in _BY_INITIAL.finditer(text)
        if (
            _unknown_name_word(m.group(2).title())  # "READ BY O QUIMBRELL": no English word
            if m.group(2).isupper()
            else _bare_initial_surname(m.group(2))
            and (m.group(1) not in "AI" or _unknown_name_word(m.group(2)))
        )
    ]


def _safe_class() -> int:
    from cadbusi_assets.records.scrub import _SAFE

    return _SAFE


def _bare_initial_surname(word: str) -> bool:
    """A surname after one initial with no dot that a title, a role or ``by`` marks (``Dr A
    Smith``, ``by O Farthing``): a name-like word (:func:`_unknown_name_word`) or one in
    title case of 4+ letters that no core, clinical, room, product or device word is, and
    no word form (``by A Breast``, ``Dr X Treated``)."""
    from cadbusi_assets.records.scrub import core_words, medical_words, name_words

    key = _fold_lower(word)
    if _SPECIES_ENDING.search(key) and key not in name_words():
        return False  # "caused by E Coli", "by S Aureus": an organism's initial and species
    if _unknown_name_word(word):
        return True
    return (
        _initialled_surname(word)
        and len(word) >= (4 if _class(word) != _safe_class() else 6)  # "J Wire", "S Phase"
        and not word.isupper()
        and key not in core_words()
        and key not in medical_words()
        and key not in _DEVICE_WORDS
        and key not in _MORE_PRODUCT_WORDS
        and _WORD_FORM_ENDING.search(key) is None
    )


#: two words side by side that start with a capital of the Latin, Greek, Cyrillic or Armenian
#: blocks and go on in small letters (supersets of both, found fast): :func:`title_name_pairs`
#: looks no further in a value without them
_CAPITAL = r"[A-ZÀ-ÖØ-ÞĀ-ɏͰ-ϿЀ-ӿԱ-Ֆ]"
#: letters but the capitals of ASCII and Latin-1 (a superset of the small letters: a word in
#: capitals, ``BREAST MASS``, is passed over fast)
_SMALL = r"[^\W\d_A-ZÀ-ÖØ-Þ]"
_CAPITALISED_WORD = re.compile(rf"(?<![^\W\d_]){_CAPITAL}{_SMALL}{{3,}}(?![^\W\d_])")
_TITLE_PAIR_HINT = re.compile(
    rf"(?<![^\W\d_]){_CAPITAL}{_SMALL}{{3,}}(?: {{1,2}}|\t){_CAPITAL}{_SMALL}{{3}}"
)
#: what stands between the two words of :func:`title_name_pairs`
_NAME_GAPS = frozenset({" ", "  ", "\t"})


def title_name_pairs(text: str) -> list[tuple[int, int]]:
    """Two title-case words side by side, a space or two or a tab apart, that both read like
    a person's name (:func:`_unknown_name_word`: ``Ottoline Quimbrell L breast``,
    ``Bartholomew Quimbrell``), in a value that is no description (a breed, a stain, a Latin
    structure): the span of both (of three or more in a row, one span). Capitals are not
    looked at (``ACUSON SEQUOIA``, an acronym's words)."""
    if _TITLE_PAIR_HINT.search(text) is None:
        return []
    spans: list[tuple[int, int]] = []
    words = list(_CAPITALISED_WORD.finditer(text))
    for left, right in itertools.pairwise(words):
        if text[left.end() : right.start()] not in _NAME_GAPS:
            continue
        if _unknown_name_word(left.group(0)) and _unknown_name_word(right.group(0)):
            if spans and spans[-1][1] > left.start():  # three name words: one span
                spans[-1] = (spans[-1][0], right.end())
            else:
                spans.append((left.start(), right.end()))
    if spans and _description(text):
        return []
    return spans


#: a title-case word, a space or two, and a surname after an elided particle (``Zelda
#: d'Arquimbrell``, ``Zelda O'Quimbrell``, ``Zelda D’Arcy-Quimbrell``): groups 1 and 2 (the
#: surname without its particle)
_ELIDED_PAIR = re.compile(
    rf"(?<![^\W\d_'’])({_CAPITAL}{_SMALL}{{3,}})(?: {{1,2}}|\t)(?:[dDlL]|O|Mc)['’]"
    rf"({_CAPITAL}{_SMALL}{{3,}})(?![^\W\d_'’])"
)


def elided_particle_pairs(text: str) -> list[tuple[int, int]]:
    """:func:`title_name_pairs` with a surname after an elided particle (``d'``, ``l'``,
    ``O'``): both words read like a name (:func:`_unknown_name_word`), in a value that is no
    description: the span of both."""
    if "'" not in text and "’" not in text:
        return []
    spans = [
        m.span()
        for m in _ELIDED_PAIR.finditer(text)
        if _unknown_name_word(m.group(1)) and _unknown_name_word(m.group(2))
    ]
    return [] if spans and _description(text) else spans


def _clinical_ending(key: str) -> bool:
    """A word with the ending of a Latin or clinical word (``AKINESIS``, ``-ES``)."""
    from cadbusi_assets.records.scrub import _CLINICAL_ENDING

    return _CLINICAL_ENDING.search(key.upper()) is not None


#: one or two letters standing alone beside a word in a station name (``O QUIMBRELL``,
#: ``OJ_QUIMBRELL``, ``QUIMBRELL_O``; a surname first only before ``_``, ``.`` or ``-``:
#: ``HOFFER Q`` is a formula): groups 1, 2 (initials first) or 3, 4 (surname first)
_STATION_INITIALS = re.compile(
    r"(?:^|(?<=[ _./\-]))([^\W\d_]{1,2})[ _.\-]([^\W\d_]{5,})(?![^\W\d_])"
    r"|(?<![^\W\d_])([^\W\d_]{5,})[_.\-]([^\W\d_]{1,2})(?=$|[ _./\-])"
)
#: two letters of a station name that are no initials: modalities, sides, rooms, services
_NOT_INITIALS = frozenset({
    "us", "ct", "mr", "mg", "dx", "cr", "nm", "pt", "xa", "rf", "ot", "ws", "pc", "it", "or",
    "er", "ed", "rm", "sr", "lt", "rt", "rx", "bd", "ai", "hd", "tv", "id", "ip", "hq", "vr",
    "ir", "ob", "pa", "ap", "dr", "ms", "no", "nr", "ac", "ec", "iv", "ll", "lr", "ul", "ur",
})  # fmt: skip


#: the parts of a station name between separators
_STATION_PARTS = re.compile(r"[^ _.\-/]+")
#: roman numerals and a cross (``ANGIOTENSIN II``, ``BRAFORD X ZEBU``): no initials
_ROMAN = frozenset({"i", "ii", "iv", "v", "vi", "x", "xi", "xv"})


def _initialled_station_names(text: str) -> list[tuple[int, int]]:
    """A surname beside one or two initials as their own word in a station name (``O
    QUIMBRELL``, ``OJ_QUIMBRELL``, ``US1 Z FARTHINGTON``): the surname a word that reads
    like a person's name (:func:`_unknown_name_word`: names list only, or no vocabulary and
    no clinical, Latin, product, room or device word), the initials no modality, side or
    room abbreviation, roman numeral or English word, every other part of the value a device
    word or one with a digit (``US1``); the span of both."""
    from cadbusi_assets.records.scrub import core_words, english_words

    spans: list[tuple[int, int]] = []
    matches = list(_STATION_INITIALS.finditer(text))
    if not matches:
        return spans
    segments = _STATION_PARTS.findall(text)
    if len(segments) > 4:
        return spans
    for m in matches:
        initials, surname = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        key = initials.lower()
        if (
            key in _NOT_INITIALS
            or key in _ROMAN
            or key in _DEVICE_WORDS
            or not (initials.isupper() or len(initials) == 1)
            or (len(key) == 2 and (key in core_words() or key in english_words()))
            or not _unknown_name_word(surname[:1].upper() + surname[1:].lower())
            or not all(
                _DIGIT.search(p) or p.lower() in _DEVICE_WORDS or p.lower() in _NOT_INITIALS
                for p in segments
                if p not in (initials, surname)
            )
        ):
            continue
        spans.append(m.span())
    return spans


def _lone_station_word(text: str) -> list[tuple[int, int]]:
    """A station name that is one word of 7+ letters built like a surname: an unknown word
    with a surname's ending (:data:`_SURNAME_MORPHOLOGY`: ``QUARRINGTON``, ``QUARRINGTON2``,
    ``Szczepański``) or beginning (``MACGILLICUDDY``), such a word and an initial
    (``QUARRINGTONP``), an initial glued to an English word a surname may be (``PLANTERN``),
    or an English word ending like an English surname or place after a word or name
    (``CANDLEWICK``: candle + wick). Never after digits, an English word or a prefix's
    surname never before them (``LOGIQE10``, ``MCTOUUS01``), no product, place or eponym, no
    part of a product's name (``THORAVISION``), no device word at its start or end
    (``STORESCP``, ``GENIEACQ``), no initial before a word that is no surname
    (``XRADIANCE``); a word with no surname's shape stays (``ORTHANC``, ``TARINA``,
    ``PENHALIGON``). Only in station names (:data:`STATION_NAME_KEYWORDS`): an AE title,
    by which a peer may route, keeps such a word."""
    from cadbusi_assets.records.scrub import _SAFE, _UNKNOWN, english_words, place_words
    from cadbusi_assets.records.vocabulary import eponym_words

    segments = list(_SEGMENT.finditer(text))
    if len(segments) != 1 or len(segments[0].group(0)) < 7:
        return []
    found = segments[0]
    start, end = found.span()
    before_digit = bool(start) and text[start - 1].isdigit()
    after_digit = text[end : end + 1].isdigit()
    key = _fold_lower(found.group(0))
    if (
        before_digit
        or not key.isascii()
        or key in PRODUCT_WORDS
        or key in place_words()
        or key in eponym_words()
        or any(p in key for p in _PRODUCT_PARTS)
        or any(key.startswith(a) or key.endswith(a) for a in _DEVICE_AFFIXES)
    ):
        return []
    cls = _class(key)
    if cls == _UNKNOWN:
        starts, ends = _word_edges()
        clinical = _clinical_ending(key)  # "AKINESIS" (a + kinesis), "CLEAVES"
        if _word_surname(key[1:]) and not after_digit and not clinical:
            return [found.span()]  # an initial glued to a word-surname ("PLANTERN")
        code = (key[:2] not in starts and _class(key[1:]) == _SAFE) or (
            key[-2:] not in ends and _class(key[:-1]) == _SAFE
        )  # an initial and a word ("XRADIANCE", "THISTLEK")
        surname = _pronounceable(key) and (
            _SURNAME_MORPHOLOGY.match(key) is not None
            or (
                _SURNAME_PREFIX.match(key) is not None
                and not after_digit
                and key[-2:] not in ("us", "ws")
            )
        )
        initial = (
            key[-2:] not in ends
            and _SURNAME_MORPHOLOGY.match(key[:-1]) is not None
            and not after_digit
        )
        if not code and (surname or initial):
            return [found.span()]  # "QUARRINGTON", "QUARRINGTON2", "QUARRINGTONP"
        return []
    if after_digit:
        return []
    if cls == _SAFE and key in english_words() and _surname_firsts(key):
        return [found.span()]  # an English word as a surname ("CANDLEWICK")
    return []


def _device_names(text: str) -> list[tuple[int, int]]:
    """People in a station name or an AE title, by the shapes devices take: a segment
    between separators (not glued to digits: ``LOGIQE10`` is a model) that is a user name
    (``JSMITH-WS``, ``ottoline.q``, ``j.quimby``), or a word that no vocabulary knows and
    reads like a name beside a room or device word or another such word (``US QUIMBY``,
    ``QUIMBY_US2``, ``OTTOLINE QUIMBY``). Acronyms (``SBBC``, ``UCSF``), products, common
    words and a lone unknown word (``THORAVISION``, ``ORTHANC``) stay."""
    from cadbusi_assets.records.scrub import (
        _CLINICAL_ENDING,
        _NAME,
        _UNKNOWN,
        _fold_lower,
        place_words,
    )

    places = place_words()
    found = list(_SEGMENT.finditer(text))
    # one code ("Quimby_US2", "JPLIMSOLL 555-0101"), not words of a description
    code = " " not in text.strip() or len(found) == 1
    if len(found) > _MAX_DEVICE_WORDS:
        return []  # a description, not a device's name
    segments = []
    for m in found:
        start, end = m.span()
        glued = (start and text[start - 1].isdigit()) or text[end : end + 1].isdigit()
        key = _fold_lower(m.group(0))
        cls = _class(key)
        if not key.isascii():
            segments.append((m, "other"))  # another script: the non-Latin rule decides
        elif key in _DEVICE_WORDS or key in _ROOM_WORDS:
            segments.append((m, "device"))
        elif glued or len(key) <= 3 or _common(m.group(0)):
            segments.append((m, "other"))
        elif not (m.group(0).isupper() or (code and m.group(0).islower())):
            # a word of a description ("Abigar cattle breed") or a title-case term; beside a
            # device word a name in title case ("US Quimby", "Quimby_US2")
            titled = m.group(0).istitle() and cls == _UNKNOWN and len(key) >= 5
            shape = "titled" if titled and _pronounceable(key) else "other"
            segments.append((m, shape))
        elif _user_name(key) or (code and (_initial_user(key) or _initial_word_user(key))):
            segments.append((m, "user"))
        elif _CLINICAL_ENDING.search(m.group(0).upper()) or (
            cls == _UNKNOWN and _MORE_CLINICAL_ENDINGS.search(m.group(0).upper())
        ):
            segments.append((m, "other"))  # MUSCULUS PECTORALIS, a clinical or Latin word
        elif (cls == _UNKNOWN and len(key) >= 5 and _pronounceable(key)) or (
            cls == _NAME and key not in places
        ):
            segments.append((m, "unknown"))
        else:
            segments.append((m, "other"))
    spans: list[tuple[int, int]] = []
    for i, (m, shape) in enumerate(segments):
        if shape == "user":
            spans.append(m.span())
            continue
        near = [segments[j][1] for j in (i - 1, i + 1) if 0 <= j < len(segments)]
        if shape == "unknown" and ("device" in near or "unknown" in near or "user" in near):
            spans.append(m.span())
        elif shape == "titled" and any(
            segments[j][1] == "device"
            and segments[j][0].group(0).isupper()
            and re.fullmatch(
                r"[ _\-]",
                text[min(m.end(), segments[j][0].end()) : max(m.start(), segments[j][0].start())],
            )
            for j in (i - 1, i + 1)
            if 0 <= j < len(segments)
        ):
            spans.append(m.span())  # "US Quimby", "Quimby_US2": beside a device code
    # a dotted user name: "ottoline.q", "j.quimby", "ottoline.quimby"; with a dash or an
    # underscore only a name of 5+ letters and an initial ("OTTOLINE-Q", "ottoline_q")
    for m in _DOTTED_USER.finditer(text):
        a, b = _fold_lower(m.group(1)), _fold_lower(m.group(2))
        if m.group(0)[len(m.group(1))] == "." and (
            (len(a) == 1 and _word_surname(b)) or (len(b) == 1 and _word_surname(a))
        ):
            spans += [m.span(1), m.span(2)]  # "J.PLIMSOLL": an initial and a word-surname
            continue
        if m.group(0)[len(m.group(1))] != "." and not (
            len(a) >= 5 and len(b) == 1 and (m.group(0).isupper() or m.group(0).islower())
        ):
            continue  # "Haigis-L", "Targestar-B": a formula's or a product's variant
        long_ = [k for k in (a, b) if len(k) >= 3]
        if long_ and all(
            k not in _DEVICE_WORDS
            and not _common(k)
            and (
                (_class(k) == _NAME and k not in places)
                or (_class(k) == _UNKNOWN and _pronounceable(k))
            )
            for k in long_
        ):
            spans += [m.span(1), m.span(2)]
    # an initial as its own segment beside a surname of the names list ("J_SMITH_WS",
    # "SMITH_J_US2"): the surname of 5+ letters, no common word, and the two no word together
    if "_" in text or "." in text or "-" in text:
        from cadbusi_assets.records.scrub import (
            _KIN_GIVEN,
            _SAFE,
            core_words,
            medical_words,
            name_words,
        )

        for m in _INITIAL_SURNAME.finditer(text):
            initial, surname = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
            key = _fold_lower(surname)
            if (
                key in name_words()
                and key not in _KIN_GIVEN  # "A-CONSTANT": a first name that is a word
                and key not in core_words()
                and key not in medical_words()
                and key not in PRODUCT_WORDS
                and key not in _DEVICE_WORDS
                and key not in _ROOM_WORDS
                and _class(initial + key) != _SAFE
                and _class(key + initial) != _SAFE
                and (surname.isupper() or surname.islower())
            ):
                spans.append(m.span(2) if m.group(1) else m.span(3))
    return spans


#: characters of CJK device and room words (超声, 超音波, 检查室, 乳腺, 工作站, 3号机): a run of
#: them is a room or a device, not a name
_CJK_DEVICE_CHARACTERS = frozenset(
    "超声聲音波室乳腺房机機站号號检檢検查査診诊察科部院医醫心影像放射线線彩器台楼樓層层区區"
    "工作端末装裝置番館馆棟栋階阶床扫掃描断斷外来來病"
    "エコーモダリティスキャナ"
)
#: Hangul device and room words (초음파 ultrasound, 유방 breast, 검사실 exam room) and the
#: syllables that end a room's or a department's name (실 room, 과 department, 호 number)
_HANGUL_DEVICE_WORDS = (
    "초음파", "유방", "검사", "진료", "영상", "의학", "판독", "센터", "병원", "외래", "본관",
    "신관", "장비", "촬영",
)  # fmt: skip
_HANGUL_ROOM_ENDS = frozenset("실과관호층번터원기")
_HANGUL_NAME = re.compile(r"[\uac00-\ud7af]{2,4}")
#: a name in kana only (``ヤマダ``, ``やまだ はなこ``): 3-6 katakana or hiragana, no long-vowel
#: mark (loanwords: ``プローブ``, ``エコー``) and none of :data:`_KANA_DEVICE_WORDS`
_KANA_NAME = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]{3,6}")
_KANA_DEVICE_WORDS = (
    "リニア", "セクタ", "コンベ", "ドプラ", "ドップラ", "モニタ", "スキャナ", "モダリティ",
    "マンモ", "パソコン", "サーバ", "ステーション", "システム", "ルーム", "センタ", "クリニック",
    "ラボ", "ユニット", "カート", "ポータブル", "プローブ", "エコー", "けんさ", "しんさつ",
    "きかい", "へや", "カルテ", "テスト", "デモ", "バックアップ", "アーカイブ", "ケア",
)  # fmt: skip
_HAN_NAME = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]{2,4}")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_DEVICE_PART = re.compile(r"[^ \t_.\-・\u3000]+")


def _cjk_device_part(part: str) -> bool:
    """A part of a device value that names a device or a room: a Latin device or room word
    (``US``, ``WS``, ``ROOM``) or a CJK or Hangul device word (``超声``, ``초음파``)."""
    part = _full_width(part)
    key = part.lower().rstrip("0123456789")
    if key in _DEVICE_WORDS or key in _ROOM_WORDS or key in PRODUCT_WORDS:
        return True
    if _KANA_NAME.fullmatch(part):  # kana only: a device's loanword, not its letters
        return "ー" in part or any(w in part for w in _KANA_DEVICE_WORDS)
    if any(c in _CJK_DEVICE_CHARACTERS for c in part):
        return True
    return any(w in part for w in _HANGUL_DEVICE_WORDS)


#: frequent family names of one Hangul syllable or one Han character (김 민준, 李 娜)
_ONE_LETTER_SURNAMES = frozenset(
    "김이박최정강조윤장임한오서신권황안송류홍"
    "李王张張刘劉陈陳杨楊赵趙黄黃周吴吳徐孙孫胡朱林何郭马馬罗羅"
)


_HALF_WIDTH_KANA = re.compile(r"[\uff65-\uff9f]")


def _full_width(part: str) -> str:
    """Half-width kana as full-width (``ﾊﾅｺ`` -> ``ハナコ``, ``ｵｸﾞﾗ`` -> ``オグラ``)."""
    if _HALF_WIDTH_KANA.search(part) is None:
        return part
    return unicodedata.normalize("NFKC", part)


def _cjk_name_part(part: str) -> bool:
    """A part of 2-4 Hangul syllables or Han and kana characters, or of 2-6 kana (half-width
    too), with no device or room word in it (``김민준``, ``王伟``, ``山田太郎``, ``ヤマダ``)."""
    part = _full_width(part)
    if _HANGUL_NAME.fullmatch(part):
        return part[-1] not in _HANGUL_ROOM_ENDS and not any(
            w in part for w in _HANGUL_DEVICE_WORDS
        )
    if _KANA_NAME.fullmatch(part):
        return not any(w in part for w in _KANA_DEVICE_WORDS)
    return (
        _HAN_NAME.fullmatch(part) is not None
        and _HAN.search(part) is not None  # kana with a long vowel: a word (プローブ)
        and not any(c in _CJK_DEVICE_CHARACTERS for c in part)
    )


def _cjk_device_names(text: str) -> list[tuple[int, int]]:
    """A Hangul or CJK name beside a device or room word of a station name (``US 김민준``,
    ``超声 王伟``, ``US 山田太郎``, ``US ヤマダ``), and the name parts beside it (``US タナカ
    ハナコ``): parts of :func:`_cjk_name_part`, next to a part that is a device or room word
    or such a name; two such parts alone are a family and a given name (``山田 太郎``)."""
    parts = list(_DEVICE_PART.finditer(text))
    names = [_cjk_name_part(m.group(0)) for m in parts]
    first, second = (parts[0].group(0), parts[1].group(0)) if len(parts) == 2 else ("", "")
    if len(parts) == 2 and (
        (names[0] and names[1])
        or (
            first in _ONE_LETTER_SURNAMES
            and (
                names[1] or (_HAN.fullmatch(second) is not None and _cjk_name_part(first + second))
            )
        )
    ):
        return [m.span() for m in parts]  # a family and a given name alone ("山田 太郎", "김 민준")
    if not any(names):
        return []
    devices = [not names[i] and _cjk_device_part(m.group(0)) for i, m in enumerate(parts)]
    taken = [False] * len(parts)
    for i in range(len(parts)):
        taken[i] = names[i] and any(devices[j] for j in (i - 1, i + 1) if 0 <= j < len(parts))
    for order in (range(len(parts)), range(len(parts) - 1, -1, -1)):
        for i in order:  # a name part beside a taken one ("US タナカ ハナコ")
            if names[i] and not taken[i]:
                taken[i] = any(taken[j] for j in (i - 1, i + 1) if 0 <= j < len(parts))
    return [m.span() for m, t in zip(parts, taken, strict=True) if t]


def _kana_names_alone(text: str) -> list[tuple[int, int]]:
    """Two or three parts in kana only that are all the value (``ヤマダ ハナコ``, ``やまだ・
    はなこ``): a family and a given name written out, no loanword (a long-vowel mark:
    ``カラー ドプラ``) and no device or state word."""
    parts = list(_DEVICE_PART.finditer(text))
    if not 2 <= len(parts) <= 3 or _ALNUM.search(_DEVICE_PART.sub("", text)) is not None:
        return []
    if all(
        _KANA_NAME.fullmatch(_full_width(m.group(0))) is not None
        and "ー" not in _full_width(m.group(0))
        and _cjk_name_part(m.group(0))
        and not any(w in _full_width(m.group(0)) for w in _CJK_NOT_NAMES)
        for m in parts
    ):
        return [m.span() for m in parts]
    return []


#: relatives' words of :data:`CJK_KIN` (no staff word, no ``家族``: ``医師会``, ``家族歴``)
#: in Han and in Hangul, with a name glued after them (``姉経駆須乙鈴``, ``妹妹经驱须乙铃``,
#: ``언니김영희``) or after a space where the name is longer than a spaced one (``姉 経駆須乙鈴``)
_HAN_KIN = tuple(
    w
    for w in CJK_KIN
    if _HAN.fullmatch(w[0])
    and w not in {"家族", "家属", "家屬"}
    and w not in {"担当", "担当者", "技師", "技师", "医師", "医师", "看護師", "护士"}
)
_HANGUL_KIN = ("딸", "아들", "남편", "아내", "부인", "어머니", "아버지", "언니", "누나", "오빠",
               "동생")  # fmt: skip
_GLUED_HAN = re.compile(
    r"(?<![\u3400-\u4dbf\u4e00-\u9fff])("
    + "|".join(sorted(_HAN_KIN, key=len, reverse=True))
    + r")([ \t\u3000:：]*)([\u3400-\u4dbf\u4e00-\u9fff]{2,8})(?![\u3400-\u4dbf\u4e00-\u9fff])"
)
_GLUED_HANGUL = re.compile(
    r"(?<![\uac00-\ud7af])("
    + "|".join(sorted(_HANGUL_KIN, key=len, reverse=True))
    + r")([ \t:：]*)([\uac00-\ud7af]{3,5})(?![\uac00-\ud7af])"
)
#: characters of relatives' words and of CJK prose (的 了 是 无 有 ..., 体 body, 人
#: person, 歴 history) that no glued name holds (``兄弟姉妹なし``, ``母体保護``)
_NOT_IN_GLUED_NAMES = frozenset(
    "娘妻夫母父姉妹兄弟姐哥孙孫祖叔伯姨舅亲親的了是在不无無没沒与與及很也都已其患为為过過"
    "来來体體性者等中上下内外前后後时時日月年次回号號例歴历健康常好"
)
#: Korean particles after a name (가 subject, 는 topic, 의 of, 께서 honorific subject, 씨 Mr/Ms)
_HANGUL_PARTICLES = ("께서", "에게", "한테", "하고", "가", "이", "는", "은", "를", "을", "의", "와",
                     "과", "도", "님", "씨")  # fmt: skip


def _glued_name(run: str) -> str | None:
    """The name at the start of the CJK run after a relative's word, or None."""
    for word in _CJK_NOT_NAMES:  # "李大明陪同": the name before "accompanying"
        at = run.find(word)
        if at >= 0:
            run = run[:at]
    if _HANGUL_NAME.match(run) is not None:
        # a family name of one syllable and two of a given name, a particle or none after
        name, rest = run[:3], run[3:]
        if len(name) < 3 or name[0] not in _ONE_LETTER_SURNAMES:
            return None
        return name if not rest or rest in _HANGUL_PARTICLES else None
    if not 2 <= len(run) <= 6 or any(c in _NOT_IN_GLUED_NAMES for c in run):
        return None
    if any(c in _CJK_CLINICAL or c in _CJK_DEVICE_CHARACTERS for c in run):
        return None
    return run


def glued_cjk_relatives(text: str) -> list[tuple[int, int]]:
    """Spans of the Han or Hangul names written right after a relative's word, with no
    space (``姉経駆須乙鈴``, ``妹妹经驱须乙铃``, ``언니김영희``) or a name of five or six Han
    after one (``姉 経駆須乙鈴``): a run of Han with no clinical, device, kin or prose
    character (``母乳``, ``母親に乳癌の家族歴``, ``兄弟姉妹なし`` are no names); in Hangul a
    common family name's syllable and two more, a particle or none after them.

    >>> text = "姉経駆須乙鈴, 언니김영희가 왔다, 父亲李大明陪同"
    >>> [text[a:b] for a, b in glued_cjk_relatives(text)]
    ['経駆須乙鈴', '李大明', '김영희']
    >>> glued_cjk_relatives("母乳 normal; 母親に乳癌の家族歴; 妹妹; 兄弟姉妹なし; 母 乳腺癌")
    []
    """
    spans: list[tuple[int, int]] = []
    for regex in (_GLUED_HAN, _GLUED_HANGUL):
        for m in regex.finditer(text):
            if m.group(2) and len(m.group(3)) < 5 and regex is _GLUED_HAN:
                continue  # spaced and short: :func:`_names_after` takes it (``姉 経駆須 乙鈴``)
            name = _glued_name(m.group(3))
            if name is not None:
                spans.append((m.start(3), m.start(3) + len(name)))
    return spans


_CJK_NAME_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{3,6}|[\uac00-\ud7af]{3}")


def glued_name_words(name: str) -> list[str]:
    """A glued CJK name and the words its family and given names may be (where the family
    name ends is not written): its first and last two or three characters.

    >>> glued_name_words("経駆須乙鈴")
    ['経駆須乙鈴', '経駆', '経駆須', '乙鈴', '須乙鈴']
    >>> glued_name_words("김영희")
    ['김영희', '영희']
    """
    words = [name]
    if _HANGUL_NAME.fullmatch(name) is not None:
        return [name, name[1:]] if len(name) == 3 else words
    for size in (2, 3):
        if size < len(name):
            words.append(name[:size])
    for size in (2, 3):
        if size < len(name):
            words.append(name[-size:])
    return list(dict.fromkeys(words))


#: an initial as its own segment before or after a surname (``J_SMITH``, ``SMITH.J``)
_INITIAL_SURNAME = re.compile(
    r"(?<![^\W\d_])(?:([^\W\d_])[._\-]([^\W\d_]{5,})|([^\W\d_]{5,})[._\-]([^\W\d_]))(?![^\W\d_])"
)


def _caret_names(text: str) -> list[tuple[int, int]]:
    """The components of a DICOM person name written into a text value (``QUIMBRELL^OTTOLINE
    ^^DR``, ``^OTTOLINE QUIMBRELL``, ``van der Quimbrell^Ottoline``): the word on each side of
    a caret and up to two more one space further that are no common word, where the caret's
    word (the characters between spaces around it) holds no digit: no isotope's or formula's
    superscript (``Tc^99m^``, ``^99m^Technetium``, ``WT^(0.8168``). Linear: the words are
    found once and looked up by position."""
    tokens = [(m.start(), _DIGIT.search(m.group(0)) is None) for m in _NON_SPACE.finditer(text)]
    token_starts = [start for start, _ in tokens]
    token_set = set(token_starts)
    words = [m for m in _CARET_WORD.finditer(text)]
    starts = [m.start() for m in words]
    ends = [m.end() for m in words]

    def name_part(i: int) -> bool:
        word = words[i].group(0)
        return word.lower() in _PARTICLES or not _common(word)

    spans: list[tuple[int, int]] = []
    for caret in _CARETS.finditer(text):
        if not tokens[bisect.bisect_right(token_starts, caret.start()) - 1][1]:
            continue  # a digit in the caret's word
        i = bisect.bisect_left(ends, caret.start())
        k = bisect.bisect_left(starts, caret.end())
        if caret.group(0) == "^" and _SPACED_CARET.match(text, max(caret.start() - 2, 0)):
            # "QUIMBRELL ^ OTTOLINE": a caret with one or two spaces on each side, between
            # two words of two or more letters that are each a whole token and no common
            # word (not "Wt / Ht ^ 2")
            i -= 1
            if not (
                i >= 0
                and k < len(words)
                and text[ends[i] : caret.start()] in _CARET_GAPS
                and text[caret.end() : starts[k]] in _CARET_GAPS
                and all(
                    len(words[w].group(0)) >= 2
                    and tokens[bisect.bisect_right(token_starts, starts[w]) - 1][1]
                    and starts[w] in token_set
                    and _WORD_END.match(text, ends[w])
                    and not _common(words[w].group(0))
                    for w in (i, k)
                )
            ):
                continue
            spans += [words[i].span(), words[k].span()]
            for j in (i - 1, i - 2):  # "van der QUIMBRELL ^ OTTOLINE"
                if j < 0 or text[ends[j] : starts[j + 1]] != " " or not name_part(j):
                    break
                spans.append(words[j].span())
            for j in (k + 1, k + 2):
                if j >= len(words) or text[ends[j - 1] : starts[j]] != " " or not name_part(j):
                    break
                spans.append(words[j].span())
            continue
        if i < len(words) and ends[i] == caret.start():
            spans.append(words[i].span())
            j = i - 1
            while j >= 0 and i - j <= 2 and text[ends[j] : starts[j + 1]] == " " and name_part(j):
                spans.append(words[j].span())
                j -= 1
        if k < len(words) and starts[k] == caret.end():
            spans.append(words[k].span())
            b = i - 1  # "QUIMBRELL ^OTTOLINE": the surname one space before a caret
            if (
                caret.group(0) == "^"
                and (i >= len(words) or ends[i] != caret.start())
                and b >= 0
                and text[ends[b] : caret.start()] == " "
                and len(words[b].group(0)) >= 2
                and tokens[bisect.bisect_right(token_starts, starts[b]) - 1][1]
                and not _common(words[b].group(0))
            ):
                spans.append(words[b].span())
            j = k + 1
            while (
                j < len(words)
                and j - k <= 2
                and text[ends[j - 1] : starts[j]] == " "
                and name_part(j)
            ):
                spans.append(words[j].span())
                j += 1
    return spans


def caret_names(text: str) -> list[tuple[int, int]]:
    """:func:`_caret_names` (for a descriptor: ``QUIMBRELL ^ OTTOLINE``)."""
    return _caret_names(text)


#: an HL7 v2 segment that holds a person's data (``PID|1||4815162^^^HOSP^MR||...``): its
#: fields to the line's end
_HL7_SEGMENT = re.compile(r"(?<![\w|])(?:PID|PD1|NK1|GT1|IN1|IN2|MRG|PV1|PV2)\|([^\r\n]+)")
#: a DICOM dump's line of an identifier of the patient's module (name, id, birth date,
#: address, phone, comments; not sex, age or size) or another one (accession, staff, study
#: id): its value in brackets (dcmdump) or quotes (pydicom), after the VR
_DUMPED_IDENTIFIER = re.compile(
    r"\((?:0010,(?:001[0-9A-Fa-f]|002[0-4]|003[02]|0050|100[0-5]|1040|1060|1090|215[45]|4000)"
    r"|0008,00[59]0|0008,10[4-7]0|0020,0010)\)"
    r"[ \t]+(?:[A-Za-z'][A-Za-z' ]{0,40}?[ \t]+)?[A-Z]{2}[ \t]*:?[ \t]*"
    # (at most 200 characters: a long run of "(0010,0020) LO [" is read in linear time)
    r"(?:\[([^\]\r\n]{0,200})\]|'([^'\r\n]{0,200})'|\"([^\"\r\n]{0,200})\")"
)
_COMPACT_DATE = r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
#: a word glued to a compact date, or joined by an underscore (``QUIMBRELL19610303``,
#: ``Quimbrell_19610303``): group 1 the word (4 letters or more), group 2 the date
_GLUED_WORD_DATE = re.compile(rf"(?<![^\W_])([A-Za-z]{{4,}})_?({_COMPACT_DATE})(?!\d)")
#: a DICOM DT written in text, a time with its fraction or offset after the date
#: (``20240301101010.123+0100``): group 1 the date (a build number has no fraction and offset)
_TEXT_DT = re.compile(
    rf"(?<![\w.])({_COMPACT_DATE})(?:[01]\d|2[0-3])[0-5]\d[0-5]\d"
    r"(?:\.\d{1,6}(?:[+\-]\d{4})?|[+\-]\d{4})(?![\w.])"
)
#: a range of two compact dates (``20240301-20240305``): each goes
_DATE_RANGE = re.compile(rf"(?<![\w.\-])({_COMPACT_DATE})-({_COMPACT_DATE})(?![\w.\-])")
#: an ISO week date (``2024-W09-5``, ``2024-W09``): no product writes a version so
_ISO_WEEK = re.compile(
    r"(?<![\w.\-])(?:19|20)\d{2}-?W(?:0[1-9]|[1-4]\d|5[0-3])(?:-?[1-7])?(?![\w.\-])"
)
#: a line of text (a CSV row is one with 3 commas or more: ``4815162,Quimbrell,Zelda,...``)
_CSV_LINE = re.compile(r"[^\r\n]+")
_CSV_ID = re.compile(r"\d{6,12}")
_CSV_DATE = re.compile(
    rf"{_COMPACT_DATE}|(?:19|20)\d{{2}}([\-/.])\d{{1,2}}\1\d{{1,2}}|\d{{1,2}}([\-/.])\d{{1,2}}\2(?:19|20)\d{{2}}"
)
_CSV_WORD = re.compile(r"[A-Z][A-Za-z'\-]+")


#: a bare number of 7 to 12 digits after "#" (``#4815162``): group 1 the digits; an id only
#: beside a person's name found in the same value (alone it reads as a serial, a lot, a
#: ticket: ``lot #4815162``, ``#4815162`` stay)
_HASH_NUMBER = re.compile(r"(?<![\w#])#[ \t]?(\d{7,12})(?![\w.\-])")


def record_shapes(text: str) -> list[tuple[int, int, str]]:
    """Identifiers of records and dates written into short text that no label marks, each
    with a safe cue (PHI round 18), as spans and their kind (``name``, ``id``, ``date``):

    - a word of 4 letters or more in no vocabulary glued to a valid compact date, or joined by
      an underscore (``QUIMBRELL19610303``, ``Quimbrell_19610303``): a name and a birth date
      (``BUILD20240301`` keeps its vocabulary word, ``SW20240301`` has 2 letters);
    - the date of a DICOM DT with its time's fraction or offset (``20240301101010.123+0100``:
      a build number has neither);
    - both dates of a range of compact dates (``20240301-20240305``);
    - an ISO week date (``2024-W09-5``);
    - a CSV row (4 fields or more on one line, one of 6 to 12 digits and one a valid date):
      the digits, the date and each capitalised field of letters in no vocabulary
      (``4815162,Quimbrell,Zelda,1961-03-03,F``; ``F``, one letter, stays).

    Left on purpose: an unlabelled number or partial date alone (``Prior 202403``, ``SN
    1234567``, ``#4815162``, ``exported 1709287810``): a build date, a serial, a product's
    number read so, and nothing beside them says a patient's. Each pattern is linear."""
    spans = glued_word_dates(text)
    if "." in text or "+" in text or "-" in text:
        spans += [(*m.span(1), "date") for m in _TEXT_DT.finditer(text)]
    if "-" in text:
        for m in _DATE_RANGE.finditer(text):
            spans += [(*m.span(1), "date"), (*m.span(2), "date")]
    if "W" in text:
        spans += [(*m.span(), "date") for m in _ISO_WEEK.finditer(text)]
    if text.count(",") >= 3:
        for line in _CSV_LINE.finditer(text):
            if line.group(0).count(",") >= 3:
                spans += _csv_row(text, line.start(), line.end())
    return spans


#: a query parameter whose key names a person (``?name=Zelda%20Quimbrell``,
#: ``&patient=Zelda+Quimbrell``): group 1 its value, to the next parameter, of letters and
#: encoded spaces, commas, apostrophes and carets only (``?name=L12-5`` names a probe)
_QUERY_NAME = re.compile(
    r"(?i)(?<=[?&;])(?:patient|patient_?name|pat_?name|pt_?name|pname|name|surname|last_?name"
    r"|first_?name|given_?name|family_?name|fname|lname)="
    r"((?:[^\W\d_]|[+'.\-]|%20|%2[Cc]|%27|%5[Ee])+)(?=[&#;\s]|$)"
)
#: a query parameter whose key names an id (``&id=4815162``, ``?mrn=4815162``): group 1 its
#: digits (6 to 12, to the next parameter)
_QUERY_ID = re.compile(
    r"(?i)(?<=[?&;])(?:id|pid|mrn|patient_?id|pat_?id|pt_?id|accession)=(\d{6,12})(?=[&#;\s]|$)"
)
#: a path's folder of a person: a user's home (``C:\Users\zquimbrell\``, ``/home/quimbrell/``)
#: or a patient's folder (``/data/patients/Quimbrell_Zelda/4815162/``): group 1 the folder,
#: group 2 a folder of an id's digits after it
_PERSON_FOLDER = re.compile(
    r"(?i)[\\/](?:users|home|documents and settings|patients?)[\\/]"
    r"([^\\/\s:*?\"<>|]+)(?:[\\/](\d{6,12})(?=[\\/\s]|$))?"
)
#: the values of a Windows path split at its backslashes (a DICOM value's separator)
_PERSON_FOLDER_VALUES = frozenset(
    {"users", "home", "documents and settings", "patients", "patient"}
)
_DRIVE = re.compile(r"[A-Za-z]:")
_LETTER_IN = re.compile(r"[^\W\d_]")
_ID_DIGITS = re.compile(r"\d{6,12}")


def person_folders_and_queries(text: str) -> list[tuple[int, int, str]]:
    """A person's name in a path or a query string (PHI round 18), with its kind (``name``,
    ``id``): the folder after ``Users``, ``home`` or ``patients`` in a path (a user's name,
    a patient's folder; a vocabulary word such as ``Public`` or ``Default`` stays) and an id's
    digits in the next folder; a query parameter's value whose key names a person
    (``name=Zelda%20Quimbrell``: an encoded space hides the pair of words from the rules of
    names). Linear: each pattern consumes what it reads."""
    spans: list[tuple[int, int, str]] = []
    if "=" in text and ("?" in text or "&" in text or ";" in text):
        spans += [
            (*m.span(1), "name")
            for m in _QUERY_NAME.finditer(text)
            if _LETTER_IN.search(m.group(1))
        ]
        spans += [(*m.span(1), "id") for m in _QUERY_ID.finditer(text)]
    if "/" in text or "\\" in text:
        for m in _PERSON_FOLDER.finditer(text):
            folder = m.group(1)
            if _LETTER_IN.search(folder) and not _common(folder):
                spans.append((*m.span(1), "name"))
            elif _ID_DIGITS.fullmatch(folder):
                spans.append((*m.span(1), "id"))
            if m.group(2):
                spans.append((*m.span(2), "id"))
    return spans


def person_folder_values(values: Sequence[object]) -> dict[int, str]:
    """In a Windows path that a DICOM value's backslashes split into values (``C:``,
    ``Users``, ``zquimbrell``, ...: a drive or an empty value first), the index of the folder
    after ``Users``, ``home`` or ``patients`` (``name``) and of an id's digits after it
    (``id``), as :func:`person_folders_and_queries` reads one value."""
    found: dict[int, str] = {}
    if len(values) < 3 or not isinstance(values[0], str):
        return found
    if values[0] and _DRIVE.fullmatch(values[0].strip()) is None:
        return found
    for i in range(1, len(values) - 1):
        value, folder = values[i], values[i + 1]
        if not isinstance(value, str) or not isinstance(folder, str):
            continue
        if value.strip().lower() not in _PERSON_FOLDER_VALUES:
            continue
        if _LETTER_IN.search(folder) and not _common(folder.strip()):
            found[i + 1] = "name"
        elif _ID_DIGITS.fullmatch(folder.strip()):
            found[i + 1] = "id"
        after = values[i + 2] if i + 2 < len(values) else None
        if isinstance(after, str) and _ID_DIGITS.fullmatch(after.strip()):
            found[i + 2] = "id"
    return found


def glued_word_dates(text: str) -> list[tuple[int, int, str]]:
    """The word in no vocabulary (``name``) and the date (``date``) of a word glued to a
    compact date (:func:`record_shapes`: ``QUIMBRELL19610303``, ``Quimbrell_19610303``)."""
    spans: list[tuple[int, int, str]] = []
    if _DIGIT.search(text) is None:
        return spans
    for m in _GLUED_WORD_DATE.finditer(text):
        if not _common(m.group(1)):
            spans += [(*m.span(1), "name"), (*m.span(2), "date")]
    return spans


def _csv_row(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """The identifiers of one CSV row (:func:`record_shapes`), or none when it is no row of a
    record (no field of an id's digits, or none a date)."""
    fields: list[tuple[int, int]] = []
    at = start
    for part in text[start:end].split(","):
        lead = len(part) - len(part.lstrip())
        fields.append((at + lead, at + len(part.rstrip())))
        at += len(part) + 1
    ids = [f for f in fields if _CSV_ID.fullmatch(text, *f)]
    dates = [f for f in fields if _CSV_DATE.fullmatch(text, *f)]
    if not ids or not dates:
        return []
    names = [f for f in fields if _CSV_WORD.fullmatch(text, *f) and not _common(text[f[0] : f[1]])]
    return [(*f, "id") for f in ids] + [(*f, "date") for f in dates] + [(*f, "name") for f in names]


#: the caret's word: the characters between spaces or the delimiters of a record written in
#: text (``patient=QUIMBRELL^ZELDA;mrn=...``, ``<Name>Quimbrell^Zelda</Name>``, an HL7 field)
_NON_SPACE = re.compile(r'[^\s|;=<>"{},]+')
#: a lone caret with one space on each side, between letters (from the space before it)
_SPACED_CARET = re.compile(r"(?:(?<=[^\W\d_])|[^\W\d_])[ \t]{1,2}\^[ \t]{1,2}(?=[^\W\d_])")
_CARET_GAPS = frozenset({" ", "  ", "\t"})
#: what may follow the last letter of a whole word
_WORD_END = re.compile(r"$|[ \t,;)]")
_CARETS = re.compile(r"\^+")
#: a word of a person name's component: letters, an apostrophe or a hyphen inside (``O'NEIL``)
_CARET_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


_DOTTED_USER = re.compile(r"(?<![\w.@\-])([^\W\d_]+)[._\-]([^\W\d_]+)(?![\w.@\-])")


#: particles of Dutch, German and Arabic surnames and the word after them (``van der
#: Quellenberg``, ``von Quimbrell``, ``bin Abdulquarim``); not Romance ones (``de la``,
#: ``del``, ``da``: breeds and places, ``Perdiguero de Burgos``, ``Gado da Terra``)
_PARTICLE_NAME = re.compile(
    r"(?<![^\W\d_])(?i:van|von|ten|ter|bin|ibn|binti)(?:[ \t]+(?i:der|den|de))?[ \t]+"
    r"({_WORD})(?![^\W\d_]|['’])".replace("{_WORD}", _WORD)
)
_WORD_BEFORE_PARTICLE = re.compile(rf"({_WORD})[ \t]+$")


def _eponym_heads() -> re.Pattern[str]:
    """:data:`records.scrub._EPONYM_HEADS`: a clinical word an eponym names (``stain``)."""
    from cadbusi_assets.records.scrub import _EPONYM_HEADS

    return _EPONYM_HEADS


def particle_names(text: str) -> list[tuple[int, int]]:
    """A surname with its particles (:data:`_PARTICLE_NAME`): the word after them title
    case and read like a person's name (:func:`_unknown_name_word`), and with it a first
    name just before the particles that reads so too; the span of all."""
    from cadbusi_assets.records.scrub import _GIVEN_WORDS, _NAME

    spans: list[tuple[int, int]] = []
    for m in _PARTICLE_NAME.finditer(text):
        surname = m.group(1)
        if m.group(0).isupper():  # "VAN DER QUELLENBERG"; not "VAN GIESON STAIN"
            surname = surname.title()
            if _eponym_heads().match(text, m.end()) is not None:
                continue
        elif not m.group(0)[:1].islower():
            continue  # "Van" or "VAN" before a word in small letters or title case
        if not _unknown_name_word(surname):
            continue
        before = _WORD_BEFORE_PARTICLE.search(text, max(0, m.start() - 40), m.start())
        first = None
        if before is not None:
            word = before.group(1)
            key = _fold_lower(word)
            if (
                word[:1].isupper()
                and word[1:].islower()
                and (_unknown_name_word(word) or key in _GIVEN_WORDS or _class(key) == _NAME)
                and key not in _TITLES
            ):
                first = before.start(1)
        spans.append((m.start() if first is None else first, m.end()))
    return spans


#: a user name written first.last or first_last in small letters, no ``@`` (``ottoline.
#: quimbrell``): groups 1 and 2
_HANDLE = re.compile(
    r"(?<![\w.@\-/\\])(?=[a-z])([a-z]{3,})[._]([a-z]{4,})\d{0,4}(?![\w@\-/\\]|\.[a-z])"
)
#: the words that start :data:`_USER_LABEL`, :data:`_GREETING` and :data:`_PARTICLE_NAME`: a
#: value with none is not searched for them
_USER_WORDS = frozenset({"user", "username", "userid", "login", "logon"})
_GREETING_WORDS = frozenset({
    "hi", "hello", "dear", "thanks", "thank", "many", "cheers", "regards", "kind", "best",
})  # fmt: skip
_PARTICLE_WORDS = frozenset({"van", "von", "ten", "ter", "bin", "ibn", "binti"})
_USER_HINT = re.compile(r"(?i)user|log[io]n")
#: a dashed pair of small-letter words long enough for :func:`_lower_barrelled_name`
_LOWER_DASHED = re.compile(r"[a-z]{5}-[a-z]{5}")
#: a user name after its label (``user: oquimbrell``, ``login ZFARTHING``): group 1
_USER_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:user(?:[ \t]*(?:name|id))?|username|userid|login|logon)"
    r"[ \t]*[:=#]?[ \t]*([^\W\d_]{5,})(?![\w@.\-])"
)


def handle_names(text: str) -> list[tuple[int, int]]:
    """A user name with no ``@`` (:data:`_HANDLE`: a first name of a names list and a
    surname that reads like one), or after a user label a word that is no common word,
    device or product word: the span of each."""
    from cadbusi_assets.records.scrub import _GIVEN_WORDS, _NAME, name_words

    spans: list[tuple[int, int]] = []
    if "." in text or "_" in text:
        for m in _HANDLE.finditer(text):
            first, last = m.group(1), m.group(2)
            if (
                (
                    first in _GIVEN_WORDS
                    or (_class(first) == _NAME and first in name_words())
                    or (len(first) >= 5 and _unknown_name_word(first.title()))
                )
                and not _common(last)
                and (_unknown_name_word(last.title()) or _class(last) == _NAME)
            ):
                spans.append(m.span())
    if _USER_HINT.search(text) is None:
        return spans
    for m in _USER_LABEL.finditer(text):
        word = m.group(1)
        key = _fold_lower(word)
        if not _common(word) and key not in _DEVICE_WORDS and key not in _MORE_PRODUCT_WORDS:
            spans.append(m.span(1))
    return spans


#: a greeting or a closing of a message (``Hi Ottoline,``, ``Thanks, Bea``, ``Kind regards
#: Zelda``): a name follows
_GREETING = re.compile(
    r"(?i)(?<![^\W\d_])(?:hi|hello|dear|thanks|thank[ \t]+you|many[ \t]+thanks|cheers|regards"
    r"|kind[ \t]+regards|best[ \t]+wishes|best[ \t]+regards)(?![^\W\d_])[ \t]*[,:\-]?[ \t]*"
)


def _greeted_names(text: str) -> list[tuple[int, int]]:
    """The name after a greeting or a closing (:data:`_GREETING`): a capitalised word of a
    names list only or of none and up to two more (as after ``sister``), or one word in
    small letters of a names list only that closes the value (``thanks zelda``)."""
    from cadbusi_assets.records.scrub import _GIVEN_WORDS, _NAME, _UNKNOWN, name_words

    spans: list[tuple[int, int]] = []
    for m in _GREETING.finditer(text):
        word = _WORD_RE.match(text, m.end())
        if word is None:
            continue
        if word.group(0).islower():
            if (
                len(word.group(0)) >= 4
                and _class(word.group(0)) == _NAME
                and re.match(r"[ \t]*[.!]?[ \t]*$", text[word.end() :])
            ):
                spans.append(word.span())
            continue
        key = _fold_lower(word.group(0))
        if word.group(0).isupper() or not (
            (_class(key) == _NAME and (len(key) >= 4 or key in name_words()))
            or key in _GIVEN_WORDS
            or (_class(key) == _UNKNOWN and len(key) >= 5 and _pronounceable(key))
        ):
            continue  # "HI RES", "Hi Res": a preset
        spans += _names_after(text, m.end(), "dear")
    return spans


#: a nickname in quotes or brackets between two title-case words (``Zelda 'Zee'
#: Farthingale``): groups 1 and 3 the name words, 2 the nickname
_NICKNAMED = re.compile(
    rf"(?<![^\W\d_])({_CAPITAL}(?:{_SMALL}{{2,}}|{_CAPITAL}{{2,}}))[ \t]+[\"'“‘(«]"
    rf"({_CAPITAL}(?:{_SMALL}+|{_CAPITAL}+))[\"'”’)»][ \t]+({_CAPITAL}(?:{_SMALL}{{3,}}|{_CAPITAL}{{3,}}))"
    rf"(?:-{_CAPITAL}(?:{_SMALL}{{2,}}|{_CAPITAL}{{2,}}))?(?![^\W\d_])"
)


def _nicknamed_names(text: str) -> list[tuple[int, int]]:
    """A first name, a nickname in quotes and a surname (:data:`_NICKNAMED`; both in title
    case or both in capitals): the first a name-like word or a short first name
    (:func:`_short_first_name`), the surname (its first part) a name-like word: the span of
    the three."""
    found = []
    for m in _NICKNAMED.finditer(text):
        first, last = m.group(1), m.group(3)
        if first.isupper() != last.isupper():
            continue
        if first.isupper():  # "ZELDA 'ZEE' FARTHINGALE"
            first, last = first.title(), last.title()
        if (_unknown_name_word(first) or _short_first_name(first)) and _unknown_name_word(last):
            found.append(m.span())
    return found


@lru_cache(maxsize=4096)
def _short_first_name(word: str) -> bool:
    """A first name of three letters in title case (``Zoë``, ``Ana``): in a names list, in
    no core, clinical, room, product or device word list and no safe word."""
    from cadbusi_assets.records.scrub import _SAFE, core_words, medical_words, name_words

    if len(word) != 3 or not word[:1].isupper() or not word[1:].islower():
        return False
    key = _fold_lower(word)
    return (
        key in name_words()
        and _class(word) != _SAFE
        and key not in core_words()
        and key not in medical_words()
        and key not in _ROOM_WORDS
        and key not in PRODUCT_WORDS
        and key not in _DEVICE_WORDS
        and key not in _TITLES
        and key not in _PARTICLES
        and key not in _PARTICLE_WORDS
    )


#: a three-letter title-case word, a space or two (or a tab) and a title-case word of 4+
#: letters (``Zoë Quimbrellé``): groups 1 and 2
_SHORT_FIRST_PAIR = re.compile(
    rf"(?<![^\W\d_'’\-])({_CAPITAL}{_SMALL}{{2}})(?: {{1,2}}|\t)({_CAPITAL}{_SMALL}{{3,}})"
    rf"(?![^\W\d_'’\-])"
)

#: the same with no look-behind: a cheap test first
_SHORT_FIRST_HINT = re.compile(rf"{_CAPITAL}{_SMALL}{{2}}(?: {{1,2}}|\t){_CAPITAL}{_SMALL}{{3}}")


def _short_first_pairs(text: str) -> list[tuple[int, int]]:
    """A three-letter first name (:func:`_short_first_name`) before a name-like surname
    (:func:`_unknown_name_word`), in a value that is no description: both."""
    if _SHORT_FIRST_HINT.search(text) is None:
        return []
    spans = [
        m.span()
        for m in _SHORT_FIRST_PAIR.finditer(text)
        if _short_first_name(m.group(1)) and _unknown_name_word(m.group(2))
    ]
    return [] if spans and _description(text) else spans


#: after a role, a particle or two and a name-like surname (``tech Ana de la Quintavera``)
_PARTICLES_SURNAME = re.compile(
    r"[ \t]+((?:(?i:de|del|della|di|da|du|la|le|van|von|der|den|dos|das)[ \t]+){1,3})"
    rf"({_CAPITAL}{_SMALL}{{3,}})(?![^\W\d_'’\-])"
)

#: a post office box in French or Italian (``Boîte postale 4815``, ``Casella postale 4815``),
#: ``BP`` only before a postcode and a town (``BP 4815, 75001 Quimbrelle``: alone it is a
#: blood pressure)
_PO_BOX_MORE = re.compile(
    r"(?i)(?<![^\W\d_])(?:bo[iî]te[ \t]+postale|casella[ \t]+postale|caixa[ \t]+postal"
    r"|apartado(?:[ \t]+de[ \t]+correos)?|postfach|postbus)[ \t]+(?:n[°o]?\.?[ \t]*)?\d{1,6}(?!\d)"
    r"|(?<![^\W\d_])(?-i:B\.?P\.?[ \t]+\d{1,6},?[ \t]+\d{5}[ \t]+[^\W\d_a-z][^\W\d_]+)"
)
_PO_BOX_HINT = re.compile(r"(?i)postal|postfach|postbus|apartado|B\.?P\.?[ \t]+\d")


def _european_street() -> re.Pattern[str]:
    """The report scrubber's street type first (``Via Quimbrella 12``, ``Via dei Mille 5``:
    ``Via`` in title case, a capitalised word before the number; ``via catheter`` stays)."""
    from cadbusi_assets.records.scrub import _EUROPEAN_STREET

    return _EUROPEAN_STREET


_EUROPEAN_STREET_HINT = re.compile(
    r"(?<![^\W\d_])(?:Via|Viale|Vicolo|Piazza|Strada|Rue|Chemin)[ \t]"
)

#: a cue before a user name of an initial glued to a surname (``copy to zfarthingale``,
#: ``cc: ojquimbrell``, ``dictated by zfarthingale``): group 1 the user name, one
#: lower-case word of 6+ letters
_CC_CUE = re.compile(
    # (the first letters looked for first: fast)
    r"(?i)(?=[cadrtspnfh])(?<![^\W\d_])(?:copy[ \t]+to|cc(?<!\d[ \t]cc)(?<!\dcc)|c\.c\.|attn|(?:dictated|read|typed"
    r"|reported|scanned|performed|reviewed)[ \t]+by|" + r"(?:sonographer|radiologist|tech"
    r"|technologist|technician|nurse|physician|doctor|consultant|registrar|resident"
    r"|fellow|scribe|secretary|assistant)s?)"
    r"(?![^\W\d_])[ \t]*[:\-]?[ \t]*(?-i:([a-z]{6,}))(?![\w@.\-]|\.[a-z])"
)
#: the next user name of a list after a cue (``, zfarthingale``, `` and zfarthingale``)
_CC_MORE = re.compile(r"[ \t]*(?:[,;/]|and)[ \t]*([a-z]{6,})(?![\w@.\-]|\.[a-z])")


def cued_user_names(text: str) -> list[tuple[int, int]]:
    """A user name of an initial or two glued to a surname (:func:`_initial_user`,
    :func:`_user_name`, :func:`_initial_word_user`) after a cue of :data:`_CC_CUE`: its
    span."""
    spans: list[tuple[int, int]] = []
    for m in _CC_CUE.finditer(text):
        key = m.group(1)
        if _common(key) or key in _DEVICE_WORDS or key in _MORE_PRODUCT_WORDS:
            continue
        if _initial_user(key) or _user_name(key) or _initial_word_user(key):
            spans.append(m.span(1))
            end = m.end()
            while (more := _CC_MORE.match(text, end)) is not None:  # "cc ozq, zfarthingale"
                key = more.group(1)
                if _common(key) or not (
                    _initial_user(key) or _user_name(key) or _initial_word_user(key)
                ):
                    break
                spans.append(more.span(1))
                end = more.end()
    return spans


#: Greek given names (folded: no accents, small letters, ``σ`` for ``ς``), common ones in full
#: and in their usual short forms; none a Greek word (``Ζωή`` life, ``Ειρήνη`` peace,
#: ``Σοφία`` wisdom, ``Παρασκευή`` Friday, ``Κυριακή`` Sunday, ``Νίκη`` victory, ``Ελπίδα`` hope,
#: ``Σταύρος`` cross, ``Άγγελος`` angel, ``Αθηνά`` Athens are left out)
_GREEK_GIVEN = frozenset({
    "γεωργιοσ", "γιωργοσ", "ιωαννησ", "γιαννησ", "κωνσταντινοσ", "κωστασ", "δημητριοσ",
    "δημητρησ", "νικολαοσ", "νικοσ", "παναγιωτησ", "βασιλειοσ", "βασιλησ", "χρηστοσ",
    "αθανασιοσ", "θανασησ", "μιχαηλ", "μιχαλησ", "ευαγγελοσ", "βαγγελησ", "σπυριδων", "σπυροσ",
    "αντωνιοσ", "αντωνησ", "θεοδωροσ", "θοδωρησ", "ηλιασ", "αναστασιοσ", "τασοσ", "αποστολοσ",
    "εμμανουηλ", "μανωλησ", "πετροσ", "στεφανοσ", "παυλοσ", "αλεξανδροσ", "ανδρεασ",
    "ελευθεριοσ", "λευτερησ", "στυλιανοσ", "στελιοσ", "γρηγοριοσ", "γρηγορησ", "χαραλαμποσ",
    "μαρκοσ", "φωτιοσ", "φωτησ", "σωτηριοσ", "σωτηρησ", "κυριακοσ", "ιωσηφ", "διονυσιοσ",
    "θεοφανησ", "ευστρατιοσ", "αριστοτελησ", "περικλησ", "οδυσσεασ", "ιασονασ", "λεωνιδασ",
    "μαρια", "ελενη", "αικατερινη", "κατερινα", "βασιλικη", "βασω", "αναστασια", "ιωαννα",
    "γιαννα", "δημητρα", "γεωργια", "ευαγγελια", "χριστινα", "κωνσταντινα", "ντινα",
    "αγγελικη", "θεοδωρα", "ευφροσυνη", "παναγιωτα", "σταυρουλα", "χρυσουλα", "αλεξανδρα",
    "μαρινα", "ευγενια", "αννα", "ελισαβετ", "ευανθια", "ευδοκια", "ολγα", "πολυξενη",
    "ραλλου", "στυλιανη", "στελλα", "σταματια", "μαγδαληνη", "μαργαριτα", "χαρικλεια",
    "καλλιοπη", "πηνελοπη", "ξανθιππη", "δεσπω", "φωτεινη", "αφροδιτη", "αρτεμισ",
    "ευτερπη", "κλεοπατρα", "ροδανθη", "ουρανια", "ασπασια", "ιφιγενεια", "μυρτω",
})  # fmt: skip
#: two Greek words, each in title case or each in capitals, a space or two (or a tab) apart:
#: groups 1 and 2
_GREEK_PAIR = re.compile(
    r"(?<![^\W\d_])([Α-ΩΆΈΉΊΌΎΏΪΫ][α-ωάέήίόύώϊϋΐΰς]{2,}|[Α-ΩΆΈΉΊΌΎΏΪΫ]{3,})(?: {1,2}|\t)"
    r"([Α-ΩΆΈΉΊΌΎΏΪΫ][α-ωάέήίόύώϊϋΐΰς]{3,}|[Α-ΩΆΈΉΊΌΎΏΪΫ]{4,})(?![^\W\d_])"
)
_GREEK_CAPITAL = re.compile(r"[Α-ΩΆΈΉΊΌΎΏ]")


def _greek_fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _greek_given_pairs(text: str) -> list[tuple[int, int]]:
    """A Greek given name (:data:`_GREEK_GIVEN`) before a Greek word of 4+ letters written
    the same way (both in title case or both in capitals: ``Ελένη Κουιμπρέλ``, ``ΕΛΕΝΗ
    ΚΟΥΙΜΠΡΕΛ``), that no room or title word is, in a value that is no description: both.
    Invented surnames are in no list; the given name marks the pair."""
    if _GREEK_CAPITAL.search(text) is None:
        return []
    spans = []
    for m in _GREEK_PAIR.finditer(text):
        first, last = m.group(1), m.group(2)
        if first.isupper() != last.isupper():
            continue
        key, given = _greek_fold(last), _greek_fold(first)
        if (
            (given in _GREEK_GIVEN or given in _GREEK_FOREIGN_GIVEN)
            and key not in _ROOM_WORDS
            and key not in _TITLES
            and key not in _GREEK_GIVEN_NOT_SURNAMES
            and key not in _GREEK_CLINICAL
        ):
            spans.append(m.span())
    return [] if spans and _description(text) else spans


#: words after a Greek given name that make no name of it: a saint's day or church
#: (``Αγίου``), the weekdays and months (``Μαρία Δευτέρα``)
_GREEK_GIVEN_NOT_SURNAMES = frozenset({
    "αγιου", "αγιασ", "αγιοσ", "αγια", "δευτερα", "τριτη", "τεταρτη", "πεμπτη", "παρασκευη",
    "σαββατο", "κυριακη",
})  # fmt: skip


#: Greek spellings of common foreign given names (folded as :data:`_GREEK_GIVEN`), none a Greek
#: word (``Ροζ``, pink, and ``Έλα``, come, left out): ``Ζέλντα Κουιμπρέλ`` is a name as
#: ``Ελένη Κουιμπρέλ`` is
_GREEK_FOREIGN_GIVEN = frozenset({
    "τζον", "τζων", "τζακ", "τζειμσ", "τζεημσ", "τζορτζ", "τζοσεφ", "ντειβιντ", "ντεηβιντ",
    "μαικλ", "ρομπερτ", "ριτσαρντ", "τσαρλσ", "ουιλιαμ", "γουιλιαμ", "πιτερ", "τομασ", "μαρκ",
    "ποηλ", "ντανιελ", "μαιρη", "μαιρι", "μερι", "τζειν", "τζεην", "τζενιφερ", "τζεσικα",
    "ζελντα", "σαρα", "σαρρα", "λαουρα", "λορα", "λιντα", "λουσι", "εμιλι", "εμμα", "ολιβια",
    "σοφι", "χαννα", "χανα", "κλερ", "ζοι", "ιζαμπελ", "ρεμπεκα", "ελιζαμπεθ", "σουζαν",
    "καρεν", "πατρισια", "βικτορια", "οτολιν", "μπαρμπαρα",
})  # fmt: skip
#: Greek words of breast imaging and its rooms that a name's second word is not (``Τζον
#: Μαστογραφία`` is none): no Greek vocabulary is read elsewhere in short text
_GREEK_CLINICAL = frozenset({
    "μαζα", "μαζασ", "μητρα", "μαστοσ", "μαστου", "μαστων", "μαστογραφια", "δεξιοσ", "δεξια",
    "δεξιου", "δεξιο", "αριστεροσ", "αριστερα", "αριστερου", "αριστερο", "υπερηχογραφημα",
    "υπερηχοσ", "υπερηχων", "βιοψια", "μασχαλη", "μασχαλησ", "κυστη", "ογκοσ", "ογκου",
    "ινοαδενωμα", "λεμφαδενασ", "λεμφαδενεσ", "θηλη", "θηλησ", "εξεταση", "ευρηματα",
    "καλοηθεσ", "κακοηθεσ", "ελεγχοσ", "ηχοβολεασ", "γραμμικοσ", "κεφαλη",
})  # fmt: skip
#: words of scripts without letter case (Arabic, Hebrew, Devanagari: a vowel sign is no
#: letter to ``\w``, so a word is a run of its block)
_CASELESS_WORD = re.compile(r"[\u0600-\u06ff]+|[\u0590-\u05ff]+|[\u0900-\u097f]+")
#: common given names in Arabic, Hebrew and Devanagari script; none a word of the script that a
#: clinical text uses (``عمر`` age, ``نور`` light, ``حسن`` good, ``علي`` on, ``रेखा`` line, ``आशा``
#: hope, ``किरण`` ray are left out)
_CASELESS_GIVEN = frozenset({
    "محمد", "أحمد", "احمد", "خالد", "يوسف", "إبراهيم", "ابراهيم", "عبدالله", "مصطفى", "محمود",
    "طارق", "سامي", "حسين", "فاطمة", "مريم", "عائشة", "زينب", "خديجة", "سارة", "ليلى", "أمينة",
    "سلمى", "رانيا", "ياسمين", "نادية", "سميرة", "هند", "رنا", "دينا", "ريم", "جون", "ماري",
    "דוד", "משה", "יוסף", "אברהם", "יצחק", "יעקב", "דניאל", "מיכאל", "אריאל", "איתי", "יונתן",
    "שרה", "רחל", "רבקה", "לאה", "מרים", "אסתר", "רות", "חנה", "נועה", "מיכל", "מאיה",
    "אביגיל", "טליה", "אפרת", "מרי",
    "राम", "सीता", "प्रिया", "अमित", "राहुल", "सुनील", "अनिल", "राजेश", "सुरेश", "रमेश", "संजय",
    "अजय", "मनोज", "अंजलि", "पूजा", "नेहा", "सुनीता", "अनीता", "गीता", "लक्ष्मी", "सरिता", "ममता",
    "मीना", "प्रकाश", "अर्जुन", "रोहित", "विकास", "सविता",
})  # fmt: skip
#: a small clinical and room vocabulary of those scripts for breast ultrasound (breast, right,
#: left, ultrasound, biopsy, mass, axilla, cyst, lymph node, follow-up, benign, malignant,
#: transducer, linear, room, clinic, department, hospital): a value with one of them is no
#: name (``الثدي الأيمن``, right breast, ``שד ימין``, ``स्तन अल्ट्रासाउंड``)
_CASELESS_CLINICAL = frozenset({
    "الثدي", "ثدي", "للثدي", "الأيمن", "الايمن", "أيمن", "ايمن", "الأيسر", "الايسر", "أيسر",
    "ايسر", "يمين", "يسار", "اليمين", "اليسار", "الموجات", "موجات", "فوق", "الصوتية",
    "صوتية", "سونار", "أشعة", "اشعة", "الأشعة", "الاشعة", "خزعة", "كتلة", "الإبط", "الابط",
    "إبط", "ابط", "ورم", "كيس", "كيسة", "فحص", "تصوير", "ماموجرام", "الماموجرام", "عقدة",
    "العقد", "اللمفاوية", "الليمفاوية", "إبرة", "ابرة", "متابعة", "حميد", "خبيث", "غرفة",
    "عيادة", "قسم", "جهاز", "مسبار", "محول", "خطي", "مستشفى", "الطبيب", "طبيب", "سرطان",
    "שד", "השד", "ימין", "שמאל", "ימני", "שמאלי", "ימנית", "שמאלית", "אולטרסאונד", "על-קול",
    "סונר", "ביופסיה", "גוש", "בלוטה", "בלוטות", "שחי", "השחי", "ציסטה", "בדיקה", "מעקב",
    "ממוגרפיה", "חדר", "מכון", "מחלקה", "מרפאה", "הדמיה", "דימות", "בית", "חולים", "מתמר",
    "ליניארי", "שפיר", "ממאיר", "סרטן", "רופא",
    "स्तन", "दायां", "दायाँ", "दाहिना", "दाहिने", "बायां", "बायाँ", "बाएं", "दाएं", "अल्ट्रासाउंड",
    "सोनोग्राफी", "बायोप्सी", "गांठ", "कांख", "बगल", "जांच", "परीक्षण", "कमरा", "विभाग",
    "अस्पताल", "रेडियोलॉजी", "मैमोग्राफी", "सिस्ट", "लिम्फ", "नोड", "ट्यूमर", "कैंसर", "डॉक्टर",
})  # fmt: skip


#: Russian and Ukrainian given names (lower case, ``е`` for ``ё``), common ones and their usual
#: short forms; none a word (``Вера`` faith, ``Надежда`` hope, ``Любовь`` love, ``Роза``,
#: ``Лилия``, ``Лев`` lion, ``Слава`` glory are left out)
_CYRILLIC_GIVEN = frozenset({
    "александр", "алексей", "андрей", "дмитрий", "сергей", "иван", "михаил", "николай",
    "владимир", "павел", "евгений", "олег", "игорь", "юрий", "виктор", "константин", "максим",
    "артем", "денис", "антон", "роман", "борис", "григорий", "петр", "федор", "тарас",
    "богдан", "олександр", "андрiй", "андрій", "микола", "сергiй", "сергій", "елена", "ольга",
    "мария", "анна", "наталья", "наталия", "татьяна", "ирина", "светлана", "екатерина",
    "юлия", "людмила", "галина", "марина", "анастасия", "дарья", "ксения", "евгения",
    "валентина", "елизавета", "полина", "алина", "олена", "оксана", "тетяна", "iрина",
    "ірина", "наталiя", "наталія", "катерина", "марiя", "марія", "ганна", "алена", "алла",
    "жанна", "инна", "кристина", "лариса", "лидия", "нина", "раиса", "софия", "яна", "илья",
    "кирилл", "никита", "руслан", "станислав", "ярослав", "вадим", "глеб", "егор",
})  # fmt: skip
#: Russian words of breast imaging that a name's second word is not (``Мария Правая`` is no
#: pair): right, left, breast, gland, mammary, ultrasound, mass, cyst, biopsy, axilla, lymph
#: node, examination, sensor
_CYRILLIC_CLINICAL = frozenset({
    "правая", "правой", "правый", "левая", "левой", "левый", "грудь", "груди", "железа",
    "железы", "молочная", "молочной", "узи", "образование", "киста", "кисты", "биопсия",
    "подмышечная", "подмышечной", "лимфоузел", "лимфоузлы", "исследование", "датчик",
    "линейный", "маммография", "обследование",
})  # fmt: skip
_CYRILLIC_PAIR = re.compile(
    r"(?<![^\W\d_])([А-ЯЁІЇЄҐ][а-яёіїєґ]{2,}|[А-ЯЁІЇЄҐ]{3,})(?: {1,2}|\t)"
    r"([А-ЯЁІЇЄҐ][а-яёіїєґ]{3,}(?:-[А-ЯЁІЇЄҐ][а-яёіїєґ]{2,})?|[А-ЯЁІЇЄҐ]{4,}(?:-[А-ЯЁІЇЄҐ]{3,})?)"
    r"(?![^\W\d_])"
)
_CYRILLIC_CAPITAL = re.compile(r"[А-ЯЁІЇЄҐ]")


def _cyrillic_given_pairs(text: str) -> list[tuple[int, int]]:
    """:func:`_greek_given_pairs` in Cyrillic: a given name of :data:`_CYRILLIC_GIVEN` before a
    word of 4+ letters written the same way (``Елена Квимбрелл``, ``ЕЛЕНА КВИМБРЕЛЛ``) that no
    room, title or clinical word is, in a value that is no description: both."""
    if _CYRILLIC_CAPITAL.search(text) is None:
        return []
    spans = []
    for m in _CYRILLIC_PAIR.finditer(text):
        first, last = m.group(1), m.group(2)
        if first.isupper() != last.isupper():
            continue
        key = last.split("-")[0].lower().replace("ё", "е")
        if (
            first.lower().replace("ё", "е") in _CYRILLIC_GIVEN
            and key not in _ROOM_WORDS
            and key not in _TITLES
            and key not in _CYRILLIC_CLINICAL
            and key not in _KIN_OTHER_SCRIPTS
        ):
            spans.append(m.span())
    return [] if spans and _description(text) else spans


#: two words of different scripts side by side (a space or two, or a tab, apart): Latin,
#: Greek, Cyrillic, Arabic, Hebrew, Devanagari (groups 1 and 2; the second may be barrelled)
_MIXED_PAIR = re.compile(
    r"(?<![^\W\d_'’\-])([^\W\d_][^\W\d_\u0900-\u097f]*|[\u0900-\u097f]+)(?: {1,2}|\t)"
    r"(?=((?:[^\W\d_][^\W\d_\u0900-\u097f]*|[\u0900-\u097f]+)"
    r"(?:-[^\W\d_][^\W\d_\u0900-\u097f]*)?)(?![^\W\d_'’\-]))"
)


def _word_script(word: str) -> str | None:
    """The script of ``word`` (``latin``, ``greek``, ``cyrillic``, a caseless one) or None."""
    code = ord(word[0])
    if code < 0x250:
        return "latin" if word.isascii() or code >= 0xC0 or word[0].isalpha() else None
    if 0x370 <= code < 0x400:
        return "greek"
    if 0x400 <= code < 0x530:
        return "cyrillic"
    if 0x590 <= code < 0x700 or 0x900 <= code < 0x980:
        return _script(word)
    return None


def _given_of_script(word: str, script: str) -> bool:
    if script == "latin":  # "Mary", "Maria" are words of a list too: beside another script
        return (
            word[:1].isupper()
            and len(word) >= 3
            and _class(word) in (_name_class(), _ambiguous_class())
            and not _common(word)
            and _fold_lower(word) in _given_names()
        )
    if script == "greek":
        key = _greek_fold(word)
        return word[:1].isupper() and (key in _GREEK_GIVEN or key in _GREEK_FOREIGN_GIVEN)
    if script == "cyrillic":
        return word[:1].isupper() and word.lower().replace("ё", "е") in _CYRILLIC_GIVEN
    return _caseless_key(word) in _CASELESS_GIVEN


def _other_word_of_script(word: str, script: str) -> bool:
    """``word`` may be a surname beside a given name of another script: capitalised (in a
    script with case), of 3+ letters, no word that a vocabulary of its script knows."""
    if script in ("latin", "greek", "cyrillic") and (not word[:1].isupper() or len(word) < 3):
        return False
    if script == "latin":
        return not _common(word) and _class(word) != _ambiguous_class()
    if script == "greek":
        key = _greek_fold(word)
        return key not in _GREEK_CLINICAL and key not in _ROOM_WORDS and key not in _TITLES
    if script == "cyrillic":
        key = word.lower()
        return key not in _CYRILLIC_CLINICAL and key not in _ROOM_WORDS and key not in _TITLES
    key = _caseless_key(word)
    return key not in _CASELESS_CLINICAL and key not in _ROOM_WORDS


_CASED = frozenset({"latin", "greek", "cyrillic"})


def _mixed_script_pairs(text: str) -> list[tuple[int, int]]:
    """A given name of one script's list beside a name-like word of another script in short
    text (``Quimbrell שרה``, ``Елена Quimbrell``, ``محمد Quimbrell``), or two unknown
    capitalised words of two scripts with case (``Ottoline Κουιμπρέλ``, ``Зельда Quimbrell``):
    both. A name written half in one script, half in another has no pair rule of either."""
    spans = []
    for m in _MIXED_PAIR.finditer(text):
        first, whole = m.group(1), m.group(2)
        second = whole.split("-")[0]  # "Mayhew-Quimbrell": its first part is read
        a, b = _word_script(first), _word_script(second)
        if a is None or b is None or a == b:
            continue
        if (
            (_given_of_script(first, a) and _other_word_of_script(second, b))
            or (_given_of_script(second, b) and _other_word_of_script(first, a))
            # two unknown capitalised words of scripts with case: ``Ottoline Κουιμπρέλ``
            or (
                _CASED.issuperset((a, b))
                and len(first) >= 4
                and len(second) >= 4
                and _other_word_of_script(first, a)
                and _other_word_of_script(second, b)
            )
        ):
            spans += [m.span(1), (m.end(), m.end() + len(whole))]
    return [] if spans and _description(text) else spans


@lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    from cadbusi_assets.records.vocabulary import name_words

    return name_words()


@lru_cache(maxsize=1)
def _name_class() -> int:
    from cadbusi_assets.records.scrub import _NAME

    return _NAME


@lru_cache(maxsize=1)
def _ambiguous_class() -> int:
    from cadbusi_assets.records.scrub import _AMBIGUOUS

    return _AMBIGUOUS


#: Arabic short vowels, shadda, sukun, dagger alif and tatweel, Hebrew points and cantillation
#: marks: a given name is looked up without them (``مُحَمَّد``, ``דָּוִד``)
_CASELESS_MARKS = re.compile(r"[\u064b-\u065f\u0670\u0640\u0591-\u05bd\u05bf-\u05c7]")


def _caseless_key(word: str) -> str:
    return _CASELESS_MARKS.sub("", word) if _CASELESS_MARKS.search(word) else word


def _caseless_names(text: str) -> list[tuple[int, int]]:
    """Names in Arabic, Hebrew or Devanagari script in short text, where no letter case tells a
    name: (1) a given name of :data:`_CASELESS_GIVEN` beside another word of its script (a
    space or two, or a tab, apart) that :data:`_CASELESS_CLINICAL` has not: both (``محمد
    كويمبرل``); (2) two to four words of one such script side by side, none a clinical word,
    in a value that holds nothing else but digits, punctuation and known Latin words
    (:func:`_caseless_run_alone`): the words (``زيلدا كويمبرل``, ``US זלדה קווימברל 2``; the
    description and report scrubbers take every such word for a name already; ``الثدي
    الأيمن``, right breast, stays)."""
    words = list(_CASELESS_WORD.finditer(text))
    if not words:
        return []
    spans: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(words):
        if _script(a.group(0)) != _script(b.group(0)):
            continue
        gap = text[a.end() : b.start()]
        if gap not in (" ", "  ", "\t"):
            continue
        first, second = _caseless_key(a.group(0)), _caseless_key(b.group(0))
        if (first in _CASELESS_GIVEN and second not in _CASELESS_CLINICAL) or (
            second in _CASELESS_GIVEN and first not in _CASELESS_CLINICAL
        ):
            spans += [a.span(), b.span()]
    if (
        2 <= len(words) <= 4
        and len({_script(w.group(0)) for w in words}) == 1
        and not any(_caseless_key(w.group(0)) in _CASELESS_CLINICAL for w in words)
        and _caseless_run_alone(text, words)
    ):
        spans.append((words[0].start(), words[-1].end()))
    return spans


def _caseless_run_alone(text: str, words: list[re.Match[str]]) -> bool:
    """The caseless ``words`` stand side by side (spaces, an apostrophe, a hyphen or a dot
    between them) and what else the value holds is digits, punctuation and Latin words that a
    vocabulary knows or a short code in capitals (``US``, ``L``, ``LT``): ``US زيلدا كويمبرل 2``.
    A Latin word no vocabulary knows (a product) or a letter of another script keeps it."""
    for a, b in itertools.pairwise(words):
        if _CASELESS_GAP.fullmatch(text, a.end(), b.start()) is None:
            return False
    rest = text[: words[0].start()] + " " + text[words[-1].end() :]
    for token in _LETTERS.findall(rest):
        if not token.isascii():
            return False
        if not (_common(token) or (token.isupper() and len(token) <= 3)):
            return False
    return True


#: what stands between the words of a caseless name (``عبد الله``, ``בן-דוד``)
_CASELESS_GAP = re.compile(r"[ \t'’.\-]{1,3}")


def _script(word: str) -> str:
    code = ord(word[0])
    return "devanagari" if code >= 0x900 else "arabic" if code >= 0x600 else "hebrew"


#: a three-letter first name and a surname in capitals (``ZOË QUIMBRELLÉ``): groups 1 and 2
_SHORT_FIRST_CAPS = re.compile(
    r"(?<![^\W\d_'’\-])([A-ZÀ-ÖØ-Þ]{3})(?: {1,2}|\t)([A-ZÀ-ÖØ-Þ]{4,})(?![^\W\d_'’\-])"
)
_SHORT_FIRST_CAPS_HINT = re.compile(r"[A-ZÀ-ÖØ-Þ]{3}(?: {1,2}|\t)[A-ZÀ-ÖØ-Þ]{4}")
#: three-letter words in capitals that a names list has but that start no name in capitals:
#: a genus (``BOS TAURUS``, ``SUS SCROFA``: the measured code meanings) and a fetal
#: measurement (``TAD``, transverse abdominal diameter: ``TAD HANSMANN``, a chart)
_NOT_SHORT_FIRST_CAPS = frozenset({"bos", "sus", "mus", "tad"})


def _short_first_caps_pairs(text: str) -> list[tuple[int, int]]:
    """:func:`_short_first_pairs` in capitals: the first name's and the surname's title case
    are read (``ZOË QUIMBRELLÉ``), the genus and measurement words of
    :data:`_NOT_SHORT_FIRST_CAPS` left out."""
    if _SHORT_FIRST_CAPS_HINT.search(text) is None:
        return []
    spans = [
        m.span()
        for m in _SHORT_FIRST_CAPS.finditer(text)
        if _fold_lower(m.group(1)) not in _NOT_SHORT_FIRST_CAPS
        and _short_first_name(m.group(1).title())
        and _unknown_name_word(m.group(2).title())
    ]
    return [] if spans and _description(text) else spans


#: ``VIA``, a word and a house number in capitals (``VIA ROMA 12``): group 1 the word, a
#: town's or a person's name that is no English, clinical or device word (``VIA PORT 2``,
#: ``VIA PICC 2`` stay)
_VIA_CAPS = re.compile(
    r"(?<![^\W\d_])VIA[ \t]+([A-ZÀ-ÖØ-Þ]{3,})[ \t,]+\d{1,4}(?:/[A-Z\d]{1,3})?(?![\w/.\-])"
)


def _via_caps(text: str) -> list[tuple[int, int]]:
    """The streets of :data:`_VIA_CAPS`: the span of all."""
    from cadbusi_assets.records.scrub import (
        _SAFE,
        core_words,
        medical_words,
        name_words,
        place_words,
    )

    spans = []
    for m in _VIA_CAPS.finditer(text):
        key = _fold_lower(m.group(1))
        if (
            (key in place_words() or key in name_words())
            and _class(key) != _SAFE
            and key not in core_words()
            and key not in medical_words()
            and key not in _ROOM_WORDS
            and key not in _DEVICE_WORDS
            and key not in PRODUCT_WORDS
        ):
            spans.append(m.span())
    return spans


#: a URL with a path (``http://example.org/quimbrell_zelda/img``, ``www.example.org/~zf``):
#: the path may name a person; a bare host (a maker's site) stays
_URL_PATH = re.compile(
    r"(?i)(?<![\w.\-])(?:(?:https?|ftp|sftp)://|www\.)[\w\-]+(?:\.[\w\-]+)*(?::\d+)?"
    r"/[^\s<>\"']*[^\W\d_][^\s<>\"']*"
)
#: two or three dotted initials after a role, a title or a signing word (``tech O.J.Q.``,
#: ``Reported: O.J.Q.``): group 1 the initials
_CUED_INITIALS = re.compile(
    r"(?i)(?<![^\W\d_])(?:sonographer|radiologist|tech|technologist|technician|nurse|operator"
    r"|physician|doctor|dr|consultant|reported|signed|dictated|typed|scanned|performed"
    r"|reviewed|verified|read(?=[ \t]+by)|attending)(?:[ \t]+by)?\.?[ \t]*:?[ \t]*"
    r"(?-i:([A-Z]\.[ \t]?[A-Z](?:\.[ \t]?[A-Z])?)\.)(?![^\W\d_])"
)


#: dotted abbreviations that are no one's initials (``P.R.U.``, peripheral resistance units:
#: a code meaning after a role in the measured sets; ``N.O.S.``, ``U.S.A.``)
_DOTTED_NOT_INITIALS = frozenset({"pru", "nos", "usa", "uk", "us", "eu", "ok", "na"})


def cued_initials(text: str) -> list[tuple[int, int]]:
    """The initials of :data:`_CUED_INITIALS` that spell no clinical word or abbreviation
    (:data:`_DOTTED_NOT_INITIALS`) and no unit (``P.R.U./m2``): their spans, the last dot
    kept (a sentence may end there)."""
    from cadbusi_assets.records.scrub import core_words, medical_words

    spans = []
    for m in _CUED_INITIALS.finditer(text):
        letters = "".join(c for c in m.group(1) if c.isalpha()).lower()
        if (
            letters in _DOTTED_NOT_INITIALS
            or letters in medical_words()
            or letters in core_words()
            or text.startswith("/", m.end())
        ):
            continue
        spans.append(m.span(1))
    return spans


#: an id's digits joined by an underscore after a pair of names: group 1 the digits
_UNDERSCORED_ID = re.compile(r"_(\d{6,12})(?![\w])")


def underscored_name_pairs(text: str) -> list[tuple[int, int]]:
    """Two words in capitals joined by an underscore (``QUIMBRELL_OTTOLINE_2``, a protocol or
    series named after a person) that both read like a person's name
    (:func:`_unknown_name_word` of their title case), in a value that is no description
    (``DRENTSE_PATRIJSHOND_DOG_BREED``): both."""
    spans: list[tuple[int, int]] = []
    words = [m for m in _SEGMENT.finditer(text) if len(m.group(0)) >= 4 and m.group(0).isupper()]
    for left, right in itertools.pairwise(words):
        if text[left.end() : right.start()] != "_":
            continue
        a, b = left.group(0).title(), right.group(0).title()
        if (
            _unknown_name_word(a)
            and _unknown_name_word(b)
            and not _WORD_FORM_ENDING.search(_fold_lower(b))  # "COLOURPOINT_SHORTHAIRED"
        ):
            spans.append((left.start(), right.end()))
    return [] if spans and _description(text) else spans


#: a postcode of the United Kingdom (``SW1A 2QQ``) or Canada (``K1A 0B7``) with its space,
#: or of the Netherlands before a town (``1234 AB Farthingdam``)
_POSTCODE_MORE = re.compile(
    r"(?<![^\W_])(?:[A-Z]{1,2}\d[A-Z\d]? \d(?![IJKMOV])[A-Z]{2}|[A-Z]\d[A-Z] \d[A-Z]\d)(?![^\W_])"
    r"|(?<![^\W_.,])[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}[ \t]+([A-Z][a-z]{3,})(?![^\W\d_])"
)


def _postcodes(text: str) -> list[tuple[int, int]]:
    """The postcodes of :data:`_POSTCODE_MORE` (a Dutch one's town no English or clinical
    word: ``1000 ML Saline`` stays)."""
    from cadbusi_assets.records.scrub import _SAFE

    return [
        m.span()
        for m in _POSTCODE_MORE.finditer(text)
        if m.group(1) is None or (_class(m.group(1)) != _SAFE and not _common(m.group(1)))
    ]


#: a phone number written with letters (``1-800-QUIMBRL``, ``617-555-ZELD``): a toll-free
#: prefix or an area code and exchange, then letters (at least one) in place of digits
_VANITY_PHONE = re.compile(
    r"(?<![\w.\-])(?:1[ .\-])?(?:\(?8(?:00|33|44|55|66|77|88)\)?[ .\-](?=[A-Z0-9]{0,6}[A-Z])"
    r"[A-Z0-9]{3}[ .\-]?[A-Z0-9]{4}|\(?\d{3}\)?[ .\-]\d{3}[ .\-][A-Z]{4})(?![\w\-])"
)


def _replace(text: str, spans: list[tuple[int, int, str]]) -> str:
    out, last = [], 0
    for start, end, marker in sorted(set(spans), key=lambda s: (s[0], -s[1], s[2])):
        if start < last:
            continue
        out.append(text[last:start])
        out.append(marker)
        last = end
    out.append(text[last:])
    return "".join(out)


#: Cyrillic and Greek letters that look like Latin ones, in a word that has Latin letters too
#: (``Zеlda`` with a Cyrillic ``е``): read as the Latin letters
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁӏАВЕКМНОРСТХІЈЅοαΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdlABEKMHOPCTXIJSoaABEZHIKMNOPTYX",
)
_LETTERS = re.compile(r"[^\W\d_]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_LOOKALIKE = re.compile(r"[\u0370-\u03ff\u0400-\u04ff]")


#: invisible format characters (soft hyphen, zero-width characters, bidi marks, word joiner)
#: dropped, full-width ASCII and the ideographic space as ASCII (dashes stay: ``−aVR``)
_READER_TABLE: dict[int, str | None] = {
    **{c: None for c in (0xAD, 0x180E, 0xFEFF)},
    **{c: None for c in range(0x200B, 0x2010)},
    **{c: None for c in range(0x202A, 0x202F)},
    **{c: None for c in range(0x2060, 0x2065)},
    **{c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},
    0x3000: " ",
}


def _reader_form(text: str) -> str:
    """``text`` as a reader sees it (NFC, no invisible characters, full-width letters and
    digits in ASCII), a Cyrillic or Greek look-alike letter inside a Latin word Latin."""
    form = unicodedata.normalize("NFC", text).translate(_READER_TABLE)
    if _LOOKALIKE.search(form) is None:
        return form
    return _LETTERS.sub(
        lambda m: (
            m.group(0).translate(_HOMOGLYPHS)
            if _ASCII_LETTER.search(m.group(0)) and _LOOKALIKE.search(m.group(0))
            else m.group(0)
        ),
        form,
    )


_ALNUM = re.compile(r"[^\W_]")
_DIGIT = re.compile(r"\d")

#: What :func:`scrub_identifier_shapes` removes in each kind of value.
KINDS = ("serial", "station", "station name", "text")


def relatives_named(text: str) -> list[str]:
    """The words of the names that a relative's or role word introduces in ``text``
    (``sister Ottoline Vexworth``, ``сестра Оттолина Вексворт``), as
    :func:`scrub_identifier_shapes` finds them: who the text says the third parties are.

    >>> relatives_named("Seen with her sister Ottoline Vexworth, tel 617-555-0143.")
    ['Ottoline', 'Vexworth']
    >>> relatives_named("Voluson E10 preset, Acme Vexworth probe")
    []
    >>> relatives_named("Pt's mother Rose Quackenbush called")
    ['Rose', 'Quackenbush']
    """
    if not text or (len(text) <= 4 and text.isascii()):
        return []
    spans = []
    for m in _kin_regex().finditer(text):
        spans += _names_after(text, m.end(), m.group(1))
    if not _KIN_MORE_FIRSTS.isdisjoint(frozenset(_SEGMENT.findall(text.lower()))):
        for m in _kin_more_regex().finditer(text):
            spans += _names_after(text, m.end(), m.group(1))
    words = [w for a, b in sorted(set(spans)) for w in _SEGMENT.findall(text[a:b])]
    # a name's word as a name is written: capitalised (or of a script without case), no
    # word of the vocabularies ("mother Rose Quackenbush called": not "called")
    named = [w for w in words if (w[0].isupper() or w.lower() == w.upper()) and not _common(w)]
    if not text.isascii():  # "姉経駆須乙鈴": the family name's end unknown, its likely words
        named += [text[a:b] for a, b in glued_cjk_relatives(text)]
        named = [
            w for n in named for w in (glued_name_words(n) if _CJK_NAME_RUN.fullmatch(n) else [n])
        ]
    return list(dict.fromkeys(named))


def scrub_identifier_shapes(text: str, kind: str = "text") -> str:
    """``text`` without the identifier shapes of the module doc. ``kind``: ``serial`` (a
    serial number or identifier of a device: no local phone, no compact date), ``station``
    (a station, AE title, location or device name: also a local phone, a compact date and a
    person name of the names list beside another name-like word), ``station name`` (a
    station's name, no AE title: also a lone word built like a surname,
    :func:`_lone_station_word`) or ``text`` (short unlisted text: shapes with a context
    only, a date only after a birth-date label; the study's own dates are removed
    elsewhere, a software build date stays)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if not text or _ALNUM.search(text) is None:
        return text
    out = _scrub_shapes(text, kind)
    if not text.isascii():
        # as a reader sees it: ``Ｚｅｌｄａ``, ``Zelda\u2060``, ``Zoe\u0308``, a Cyrillic ``е`` in
        # ``Zеlda``; the value as it was unless that form loses more
        form = _reader_form(text)
        if form != text:
            out_form = _scrub_shapes(form, kind)
            if out_form != form and (out == text or out_form.count("[") > out.count("[")):
                return out_form
    return out


def _scrub_shapes(text: str, kind: str) -> str:
    """:func:`scrub_identifier_shapes` of ``text`` as it is written."""
    station_name = kind == "station name"
    if station_name:
        kind = "station"
    spans: list[tuple[int, int, str]] = []
    if "@" in text:
        spans += [(*m.span(), "[email]") for m in _EMAIL.finditer(text)]
        spans += [(*m.span(), "[email]") for m in _SPACED_EMAIL.finditer(text)]
    elif _AT_WORD.search(text) is not None:
        spans += [(*m.span(), "[email]") for m in _WORDED_EMAIL.finditer(text)]
    if _DIGIT.search(text) is not None:
        spans += [(*m.span(1), "[phone]") for m in _PHONE_LABEL.finditer(text)]
        spans += [
            (m.start(1), _id_end(m), "[id]")
            for m in _ID_LABEL.finditer(text)
            if sum(c.isdigit() for c in text[m.start(1) : _id_end(m)]) >= _MIN_ID_DIGITS
        ]
        spans += [(*m.span(1), "[date]") for m in _DOB_LABEL.finditer(text)]
        spans += [(*m.span(1), "[date]") for m in _DOB_WORDS.finditer(text)]
        spans += [(*m.span(1), "[date]") for m in _DOB_MONTH_FIRST.finditer(text)]
        spans += [(*m.span(), "[phone]") for m in _PHONE.finditer(text)]
        spans += [(*m.span(), "[phone]") for m in _INTERNATIONAL.finditer(text)]
        spans += [(*m.span(), "[phone]") for m in _CN_MOBILE.finditer(text)]
        if kind == "serial":  # only an extension's x marks a short number as a phone there
            spans += [(*m.span(), "[phone]") for m in _EXTENSION_PHONE.finditer(text)]
        else:
            spans += [(*m.span(), "[phone]") for m in _LOCAL_PHONE.finditer(text)]
            spans += [(*m.span(), "[phone]") for m in _CN_MOBILE_UNBROKEN.finditer(text)]
            spans += [(*m.span(), "[phone]") for m in _TRUNK_PHONE.finditer(text)]
            spans += [(*m.span(), "[id]") for m in _SSN.finditer(text)]
            spans += [(*m.span(), "[address]") for m in _STREET_TYPE_FIRST.finditer(text)]
            spans += [(*m.span(), "[address]") for m in _street().finditer(text)]
            if _PO_BOX_HINT.search(text) is not None:
                spans += [(*m.span(), "[address]") for m in _PO_BOX_MORE.finditer(text)]
            if _EUROPEAN_STREET_HINT.search(text) is not None:
                spans += [(*m.span(), "[address]") for m in _european_street().finditer(text)]
            if "VIA" in text:  # "VIA ROMA 12"
                spans += [(*sp, "[address]") for sp in _via_caps(text)]
            spans += [(*sp, "[address]") for sp in _postcodes(text)]  # "SW1A 2QQ"
            spans += [(*m.span(), "[phone]") for m in _VANITY_PHONE.finditer(text)]
        if kind != "text":
            spans += [(*m.span(), "[date]") for m in _DATE_NUMERIC.finditer(text) if _valid_date(m)]
            spans += [(*m.span(), "[date]") for m in _DATE_WORDS.finditer(text)]
        if kind == "station":
            spans += [(*m.span(), "[date]") for m in _DATE_COMPACT.finditer(text)]
    if "^" in text and kind != "serial":
        spans += [(*s, "[name]") for s in _caret_names(text)]
    if "|" in text:  # an HL7 segment of a patient's, a relative's or a visit's data
        spans += [(*m.span(1), "[id]") for m in _HL7_SEGMENT.finditer(text)]
    if "(" in text:  # a DICOM dump's line of an identifier: "(0010,0020) LO [4815162]"
        for m in _DUMPED_IDENTIFIER.finditer(text):
            if m.lastindex and m.end(m.lastindex) > m.start(m.lastindex):
                spans.append((*m.span(m.lastindex), "[id]"))
    if kind != "serial" and _DIGIT.search(text) is not None:
        spans += [(a, b, f"[{what}]") for a, b, what in record_shapes(text)]
    if kind != "serial":
        spans += [(a, b, f"[{what}]") for a, b, what in person_folders_and_queries(text)]
    for m in _TITLE.finditer(text):
        spans += [(*s, "[name]") for s in _names_after(text, m.end(), None)]
    words = frozenset(_SEGMENT.findall(text.lower()))  # for the cheap checks of cue words
    if len(text) > 4 or not text.isascii():  # "妻 王芳"
        for m in _kin_regex().finditer(text):
            spans += [(*s, "[name]") for s in _names_after(text, m.end(), m.group(1))]
        # "enfermera Ximena", "kızı Ayşegül", "con gái Hoa"
        if not _KIN_MORE_FIRSTS.isdisjoint(words):
            for m in _kin_more_regex().finditer(text):
                spans += [(*s, "[name]") for s in _names_after(text, m.end(), m.group(1))]
    if kind == "text":
        if not _GREETING_WORDS.isdisjoint(words):  # "Hi Ottoline,", "thanks zelda"
            spans += [(*s, "[name]") for s in _greeted_names(text)]
        if not _PARTICLE_WORDS.isdisjoint(words):  # "van der Quellenberg"
            spans += [(*s, "[name]") for s in particle_names(text)]
        if "." in text or "_" in text or not _USER_WORDS.isdisjoint(words):
            spans += [(*s, "[name]") for s in handle_names(text)]
    if "/" in text:
        for m in _SLASH_KIN.finditer(text):
            if m.start() and _LETTER.match(text, m.start() - 1):
                continue
            spans += _abbreviation_names(text, m.end(), m.group(1))
    for m in _CREDENTIAL.finditer(text):
        if m.start() and _LETTER.match(text, m.start() - 1):
            continue
        if m.group(0) in _CREDENTIALS_BEFORE:
            after = _AFTER_CREDENTIAL.match(text, m.end())
            spans += _abbreviation_names(text, after.end() if after else m.end(), None)
        if _CLOSES_CREDENTIAL.match(text, m.end()) is None:
            continue
        before = _BEFORE_CREDENTIAL.search(text, 0, m.start())
        if before is not None and (m.group(0) != "DO" or "," in before.group(0)):
            spans += [(*s, "[name]") for s in _names_before_credential(text, before.start())]
    if "(" in text or "（" in text:
        spans += [(*s, "[name]") for s in _kin_in_parentheses(text)]
    if kind == "text":
        spans += [(*s, "[name]") for s in title_name_pairs(text)]
        spans += [(*s, "[name]") for s in _short_first_pairs(text)]
        spans += [(*s, "[name]") for s in _short_first_caps_pairs(text)]  # "ZOË QUIMBRELLÉ"
        if not text.isascii():
            spans += [(*s, "[name]") for s in _greek_given_pairs(text)]  # "Ελένη Κουιμπρέλ"
            spans += [(*s, "[name]") for s in _caseless_names(text)]  # "محمد كويمبرل"
            spans += [(*s, "[name]") for s in _cyrillic_given_pairs(text)]  # "Елена Квимбрелл"
            spans += [(*s, "[name]") for s in _mixed_script_pairs(text)]  # "Quimbrell זלדה"
        if "'" in text or '"' in text or not text.isascii() or "(" in text:
            spans += [(*s, "[name]") for s in _nicknamed_names(text)]
        if "'" in text or "’" in text:  # "Zelda d'Arquimbrell"
            spans += [(*s, "[name]") for s in elided_particle_pairs(text)]
        if "." in text:
            spans += [(*s, "[name]") for s in initialled_names(text)]
            spans += [(*s, "[name]") for s in cued_initials(text)]  # "tech O.J.Q."
        if "/" in text:
            spans += [(*m.span(), "[url]") for m in _URL_PATH.finditer(text)]
        if "_" in text:  # "QUIMBRELL_OTTOLINE_2"
            for start, end in underscored_name_pairs(text):
                spans.append((start, end, "[name]"))
                # "QUIMBRELL_ZELDA_4815162.dcm": an id's digits after the pair (round 18)
                after = _UNDERSCORED_ID.match(text, end)
                if after is not None:
                    spans.append((*after.span(1), "[id]"))
        spans += [(*s, "[name]") for s in cued_user_names(text)]
    if kind != "serial" and ("by" in text or "BY" in text or "By" in text):
        spans += [(*s, "[name]") for s in by_initial_names(text)]
    if ("-" in text or "–" in text) and not _description(text):  # "Petit Gascon-Saintongeois"
        spans += [(*s, "[name]") for s in _barrelled_names(text)]
    if "'" in text or "’" in text:
        for m in _POSSESSIVE.finditer(text):
            if not _common(m.group(1)) and (
                kind != "text" or _kin_follows(text, m.end()) or _possessive_name(text, m)
            ):
                spans.append((*m.span(), "[name]"))
    if not text.isascii():
        if kind == "text":
            spans += [(*s, "[name]") for s in _kana_names_alone(text)]
        spans += [(*s, "[name]") for s in glued_cjk_relatives(text)]  # "姉経駆須乙鈴"
        spans += [(*s, "[name]") for s in _devanagari_names(text)]
        for m in _CJK_HONORIFIC.finditer(text):
            group = 1 if m.group(1) else 2
            spans.append((*m.span(group), "[name]"))
        if kind == "station":
            spans += [
                (*m.span(), "[name]")
                for m in _NON_LATIN_WORD.finditer(text)
                if not re.search(_CJK, m.group(0))
                and not _common(m.group(0))
                # a loanword in half-width kana ("US ﾌﾟﾛｰﾌﾞ"), as in full width
                and not (_HALF_WIDTH_KANA.search(m.group(0)) and _cjk_device_part(m.group(0)))
            ]
            spans += [(*s, "[name]") for s in _cjk_device_names(text)]
    if kind == "station":
        described = _description(text)
        if not described:
            spans += [(*s, "[name]") for s in _name_pairs(text)]
        spans += [(*s, "[name]") for s in _lone_names(text)]
        if not described:
            spans += [(*s, "[name]") for s in _device_names(text)]
        spans += [(*s, "[name]") for s in _compound_surname(text)]
        if station_name:
            spans += [(*s, "[name]") for s in _lone_station_word(text)]
            spans += [(*s, "[name]") for s in _initialled_station_names(text)]
    if "#" in text and any(marker == "[name]" for _, _, marker in spans):
        # "Zelda Quimbrell #4815162": a number after "#" beside a person's name is theirs
        spans += [(*m.span(1), "[id]") for m in _HASH_NUMBER.finditer(text)]
    if not spans:
        return text
    return _replace(text, spans)


#: Device fields of Retain Device Identity that hold a serial number or an identifier of the
#: device: only unambiguous shapes are removed there (``123456US3`` stays).
SERIAL_KEYWORDS = frozenset(
    {
        "DeviceSerialNumber",
        "LensSerialNumber",
        "SourceSerialNumber",
        "PlateID",
        "GeneratorID",
        "CassetteID",
        "GantryID",
        "DetectorID",
        "XRaySourceID",
        "XRayDetectorID",
        "UniqueDeviceIdentifier",
        "ManufacturerDeviceIdentifier",
    }
)
#: Device fields that name a station or a place (not an AE title, by which a peer may route):
#: a lone word that reads like a name goes too (kind ``station name``).
STATION_NAME_KEYWORDS = frozenset(
    {
        "StationName",
        "ScheduledStationName",
        "PerformedStationName",
        "ScheduledStudyLocation",
        "ScheduledProcedureStepLocation",
        "DeviceLabel",
    }
)
#: Device fields that name a maker or a model: shapes with a context only.
PRODUCT_KEYWORDS = frozenset({"LensMake", "LensModel", "SourceManufacturer"})


def device_kind(keyword: str) -> str:
    """The :func:`scrub_identifier_shapes` kind of a kept device field.

    >>> device_kind("DeviceSerialNumber"), device_kind("StationName"), device_kind("LensMake")
    ('serial', 'station name', 'text')
    >>> device_kind("PerformedStationAETitle")
    'station'
    """
    if keyword in SERIAL_KEYWORDS:
        return "serial"
    if keyword in STATION_NAME_KEYWORDS:
        return "station name"
    return "text" if keyword in PRODUCT_KEYWORDS else "station"
