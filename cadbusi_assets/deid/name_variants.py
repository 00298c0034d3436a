"""Every way a person's name may be written, and the one matcher used for all identifiers.

A DICOM person name (PN) has up to three component groups separated by ``=``: alphabetic,
ideographic and phonetic (``Yamada^Tarou=山田^太郎=やまだ^たろう``), each with up to five
components separated by ``^`` (family, given, middle, prefix, suffix). :func:`name_terms`
gives the texts to search for:

* the whole name in the usual orders (``LAST^FIRST``, ``LAST, FIRST``, ``FIRST LAST``...);
* every component of every group, and every word of a component (``MARY ANN`` → ``MARY``,
  ``ANN``; ``SMITH-JONES`` → ``SMITH``, ``JONES``);
* Latin letters upper-cased, with accents stripped and transliterated (ü → U / UE,
  ø → O / OE, å → A / AA, æ → AE, ß → SS, ñ → N...);
* CJK (Han, kana, Hangul) components of any length, and kana in both scripts
  (やまだ ↔ ヤマダ), plus family and given name written together (``山田太郎``).

:func:`term_regex` turns one term into a pattern: Latin terms of at least
:data:`MIN_LATIN_COMPONENT` letters match as whole words, case- and accent-insensitively
(``MULLER`` matches ``Müller``); CJK terms match anywhere (Japanese and Chinese text has no
spaces between words). The scrubbers (:mod:`~cadbusi_assets.deid.text`), the leak finders
(:mod:`~cadbusi_assets.deid.scan`, used by ``cadbusi verify`` and by the pipeline's blocking
check) all build their patterns with it.

>>> latin_forms("Ødegård")[:3]
['ØDEGÅRD', 'ODEGARD', 'OEDEGAARD']
>>> {"ODEGAARD", "OEDEGARD"} <= set(latin_forms("Ødegård"))
True
>>> "MUELLER" in name_terms("Müller^Zoë") and "ZOE" in name_terms("Müller^Zoë")
True
>>> terms = name_terms("Yamada^Tarou=山田^太郎=やまだ^たろう")
>>> [t for t in terms if t in {"山田", "太郎", "山田太郎", "ヤマダ", "たろう", "YAMADA", "TAROU"}]
['YAMADA', 'TAROU', '山田太郎', 'たろう', 'ヤマダ', '太郎', '山田']
>>> import re
>>> bool(re.search(term_regex("MULLER"), "US BREAST Müller", re.IGNORECASE))
True
>>> bool(re.search(term_regex("LI"), "LINEAR probe", re.IGNORECASE))
False
>>> bool(re.search(term_regex("山田"), "乳腺エコー山田様"))
True
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence

#: Latin name components shorter than this are not searched for on their own (initials).
MIN_LATIN_COMPONENT = 2
#: CJK components of any length are searched for (a one-character family name is common).
MIN_CJK_COMPONENT = 1
#: At most this many spellings of one word (the product of per-letter choices).
MAX_FORMS = 32

#: Titles and suffixes that are not identifying on their own.
NAME_NOISE = frozenset(
    {"MR", "MRS", "MS", "MISS", "DR", "JR", "SR", "II", "III", "IV", "MD", "PHD", "PROF"}
)

#: Letters with more than one usual ASCII spelling (upper case): stripped, transliterated.
_TRANSLITERATIONS: dict[str, tuple[str, ...]] = {
    "Ä": ("A", "AE"),
    "Ö": ("O", "OE"),
    "Ü": ("U", "UE"),
    "Ø": ("O", "OE"),
    "Å": ("A", "AA"),
    "Æ": ("AE",),
    "Œ": ("OE",),
    "ẞ": ("SS",),
    "Þ": ("TH",),
    "Ð": ("D",),
    "Đ": ("D",),
    "Ł": ("L",),
    "Ħ": ("H",),
    "Ŀ": ("L",),
    "Ŧ": ("T",),
}

_CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3134F),  # CJK extensions B-G
)
_CJK_CLASS = "".join(f"\\U{lo:08X}-\\U{hi:08X}" for lo, hi in _CJK_RANGES)
#: A letter or digit of a space-separated script (Latin, Greek, Cyrillic...): word boundary.
_WORD_CHAR = rf"[^\W_{_CJK_CLASS}]"


def is_cjk(text: str) -> bool:
    """True when ``text`` holds a Han, kana or Hangul character.

    >>> is_cjk("山田"), is_cjk("やまだ"), is_cjk("Yamada")
    (True, True, False)
    """
    return _CJK_CHAR.search(text) is not None


_CJK_CHAR = re.compile(f"[{_CJK_CLASS}]")


#: Ranges searched for characters that :func:`normalise_text` changes (the BMP, the
#: mathematical alphanumerics and the tag characters).
_NORMALISED_RANGES = ((0x0080, 0x10000), (0x1D400, 0x1D800), (0xE0000, 0xE0080))


def _normalise_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for lo, hi in _NORMALISED_RANGES:
        for code in range(lo, hi):
            ch = chr(code)
            category = unicodedata.category(ch)
            if category == "Cf" or 0x0300 <= code <= 0x036F:
                # soft hyphen, zero-width characters, bidi marks, BOM, tags; a combining
                # diacritic that composes with no letter (``Q\u0301uimbrell``: NFC first)
                table[code] = ""
            elif category == "Zs":
                table[code] = " "  # no-break, ideographic and typographic spaces
            elif category[0] == "L" or category == "Nd":
                compat = unicodedata.normalize("NFKC", ch)
                if compat.isascii() and compat.isalnum():
                    table[code] = compat  # full-width, mathematical and ligature letters
            elif category == "Pd" or code == 0x2212:
                table[code] = "-"  # hyphens, en and em dashes, the minus sign
            elif category[0] in "PS":
                compat = unicodedata.normalize("NFKC", ch)
                if len(compat) == 1 and compat.isascii() and compat.isprintable():
                    table[code] = compat  # full-width punctuation (＠ ． －), circled letters
    return table


_NORMALISE: dict[int, str] | None = None


def normalise_text(text: str) -> str:
    """``text`` as a reader sees it, for matching and scrubbing: composed (NFC), invisible
    format characters (soft hyphen, zero-width characters, bidi marks) dropped, every space
    a plain space, every dash (U+2010–2015, minus) a hyphen, compatibility letters, digits
    and punctuation (full-width ``ＭＡＲＩＡ``, ``１２``, ``＠``, mathematical and circled
    letters, ligatures) in ASCII. Other characters (``×``, ``²``, ``µ``, ``’``, CJK) stay.

    >>> normalise_text("Bru\u0308n\u00adnhilde \uff2d\uff21\uff32\uff29\uff21\u00a0\uff11\uff12 cm\u00b2")
    'Brünnhilde MARIA 12 cm²'
    >>> normalise_text("555\u2013010\u20144477, 2\u00d73 cm")
    '555-010-4477, 2×3 cm'
    """
    if text.isascii():
        return text
    table = normalise_map()
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    mapped = text.translate(table)
    if mapped == text:
        return text
    return unicodedata.normalize("NFC", mapped)


def normalise_map() -> dict[int, str]:
    """The translation table of :func:`normalise_text` (built once, ~10 ms)."""
    global _NORMALISE
    if _NORMALISE is None:
        _NORMALISE = _normalise_table()
    return _NORMALISE


def _strip_accents(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)) or ch


def _letter_choices(ch: str) -> tuple[str, ...]:
    if ch in _TRANSLITERATIONS:
        return (ch, *_TRANSLITERATIONS[ch])
    if ch == "ß":
        return ("SS",)
    if ch.isascii() or not ch.isalpha() or is_cjk(ch):
        return (ch,)
    base = _strip_accents(ch).upper()
    return (ch, base) if base != ch else (ch,)


def latin_forms(word: str) -> list[str]:
    """``word`` upper case as written, accents stripped and transliterated (at most
    :data:`MAX_FORMS` spellings; the first is the word as written, upper case).

    >>> latin_forms("Müller")
    ['MÜLLER', 'MULLER', 'MUELLER']
    >>> latin_forms("Peña"), latin_forms("Strauß")
    (['PEÑA', 'PENA'], ['STRAUSS'])
    """
    upper = word.upper()
    choices = [_letter_choices(ch) for ch in upper]
    forms = [
        upper,
        "".join(c[1] if len(c) > 1 else c[0] for c in choices),  # accents stripped
        "".join(c[-1] for c in choices),  # transliterated
    ]
    forms += ["".join(combo) for combo in itertools.islice(itertools.product(*choices), MAX_FORMS)]
    return list(dict.fromkeys(f for f in forms if f))


def _kana_forms(text: str) -> list[str]:
    """Hiragana and Katakana spellings of ``text`` (other characters unchanged)."""
    to_katakana = "".join(chr(ord(c) + 0x60) if 0x3041 <= ord(c) <= 0x3096 else c for c in text)
    to_hiragana = "".join(chr(ord(c) - 0x60) if 0x30A1 <= ord(c) <= 0x30F6 else c for c in text)
    return list(dict.fromkeys([text, to_katakana, to_hiragana]))


#: Cyrillic and Greek letters (upper case) in Latin, the usual romanisations first (BGN/PCGN,
#: ICAO passports, ISO 9 without diacritics, German-style): scanners and report systems
#: that cannot show the script write the name in Latin letters, on the image or in a header.
_SCRIPT_LATIN: dict[str, tuple[str, ...]] = {
    # Cyrillic (Russian, Ukrainian, Belarusian, Bulgarian, Serbian)
    "А": ("A",), "Б": ("B",), "В": ("V", "W"), "Г": ("G", "H"), "Ґ": ("G",), "Д": ("D",),
    "Е": ("E", "YE", "JE"), "Ё": ("E", "YO", "JO"), "Є": ("YE", "IE", "JE"), "Ж": ("ZH", "Z", "J", "SCH"),
    "З": ("Z", "S"), "И": ("I", "Y"), "І": ("I",), "Ї": ("YI", "I", "JI"), "Й": ("Y", "I", "J"),
    "К": ("K",), "Л": ("L",), "М": ("M",), "Н": ("N",), "О": ("O",), "П": ("P",), "Р": ("R",),
    "С": ("S",), "Т": ("T",), "У": ("U", "OU"), "Ў": ("U", "W"), "Ф": ("F",),
    "Х": ("KH", "H", "CH", "X"), "Ц": ("TS", "C", "TZ", "Z"), "Ч": ("CH", "TCH", "TSCH", "C"),
    "Ш": ("SH", "SCH", "S"), "Щ": ("SHCH", "SCH", "SHTSCH", "SHT"), "Ъ": ("", "IE"),
    "Ы": ("Y", "I"), "Ь": ("",), "Э": ("E",), "Ю": ("YU", "IU", "JU"), "Я": ("YA", "IA", "JA"),
    "Ђ": ("DJ", "D"), "Ј": ("J",), "Љ": ("LJ",), "Њ": ("NJ",), "Ћ": ("C", "CH"), "Џ": ("DZ", "DZH"),
    # Greek (ELOT 743 and the usual spellings)
    "Α": ("A",), "Β": ("V", "B"), "Γ": ("G", "Y"), "Δ": ("D", "TH"), "Ε": ("E",), "Ζ": ("Z",),
    "Η": ("I", "E"), "Θ": ("TH",), "Ι": ("I",), "Κ": ("K",), "Λ": ("L",), "Μ": ("M",),
    "Ν": ("N",), "Ξ": ("X", "KS"), "Ο": ("O",), "Π": ("P",), "Ρ": ("R",), "Σ": ("S",),
    "Τ": ("T",), "Υ": ("Y", "I"), "Φ": ("F", "PH"), "Χ": ("CH", "H", "KH"), "Ψ": ("PS",),
    "Ω": ("O",),
}  # fmt: skip
#: Greek letter pairs with a spelling of their own ("ΟΥ" → OU, "ΜΠ" → B, "ΝΤ" → D/NT)
_SCRIPT_PAIRS: dict[str, tuple[str, ...]] = {
    "ΟΥ": ("OU", "U"), "ΑΙ": ("AI", "E"), "ΕΙ": ("EI", "I"), "ΟΙ": ("OI", "I"),
    "ΜΠ": ("MP", "B"), "ΝΤ": ("NT", "D"), "ΓΚ": ("GK", "G"), "ΓΓ": ("NG", "GG"),
    "ΑΥ": ("AV", "AF"), "ΕΥ": ("EV", "EF"),
}  # fmt: skip


def script_latin_forms(word: str) -> list[str]:
    """Latin spellings (upper case) of a Cyrillic or Greek word, the usual one first, at most
    :data:`MAX_FORMS`; empty for a word of another script.

    >>> forms = script_latin_forms("Щукина")
    >>> forms[0], "SCHUKINA" in forms, script_latin_forms("Müller")
    ('SHCHUKINA', True, [])
    >>> "PAPADOPOULOU" in script_latin_forms("Παπαδοπούλου")
    True
    """
    upper = _strip_accents_word(word.upper())
    if not any(ch in _SCRIPT_LATIN for ch in upper):
        return []
    choices: list[tuple[str, ...]] = []
    i = 0
    while i < len(upper):
        pair = upper[i : i + 2]
        if pair in _SCRIPT_PAIRS:
            choices.append(_SCRIPT_PAIRS[pair])
            i += 2
            continue
        choices.append(_SCRIPT_LATIN.get(upper[i], (upper[i],)))
        i += 1
    forms = ["".join(c[0] for c in choices)]
    forms += ["".join(c[min(1, len(c) - 1)] for c in choices)]
    forms += ["".join(combo) for combo in itertools.islice(itertools.product(*choices), MAX_FORMS)]
    return [f for f in dict.fromkeys(forms) if f][:MAX_FORMS]


def _strip_accents_word(word: str) -> str:
    """Greek tonos and dialytika removed (Ώ → Ω, Ϊ → Ι); Cyrillic Й and Ё stay."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", word):
        if unicodedata.combining(ch) and out and "\u0370" <= out[-1] <= "\u03ff":
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def spellings(word: str) -> list[str]:
    """All spellings searched for one word or name component (upper case)."""
    word = normalise_text(word).strip()
    if not word:
        return []
    if is_cjk(word):
        return _kana_forms(word)
    return latin_forms(word) + script_latin_forms(word)


def component_groups(name: str) -> list[list[str]]:
    """The component groups of a PN value, each as its (up to five) components.

    >>> component_groups("Yamada^Tarou=山田^太郎=やまだ^たろう")
    [['Yamada', 'Tarou'], ['山田', '太郎'], ['やまだ', 'たろう']]
    """
    groups = []
    for group in str(name).split("="):
        components = [c.strip() for c in group.split("^")]
        while components and not components[-1]:
            components.pop()
        if any(components):
            groups.append(components)
    return groups


def _words(component: str) -> list[str]:
    """A component and its words (``MARY ANN`` → both words; ``SMITH-JONES`` → both parts;
    ``O'BRIEN`` also as ``OBRIEN`` and ``BRIEN``)."""
    out = [component]
    for word in re.split(r"[\s,.]+", component):
        if not word:
            continue
        out.append(word)
        out += [p for p in re.split(r"[-‐]", word) if p]
        if "'" in word or "’" in word:
            out.append(re.sub(r"['’]", "", word))
            out += [p for p in re.split(r"['’]", word) if p]
    return list(dict.fromkeys(out))


def _keep_component(text: str, min_latin: int) -> bool:
    if is_cjk(text):
        return len(text) >= MIN_CJK_COMPONENT
    letters = re.sub(r"[\W_]", "", text)
    return len(letters) >= min_latin and text.upper() not in NAME_NOISE


def _whole_name_forms(family: str, given: str, middle: str) -> list[str]:
    if is_cjk(family) or is_cjk(given):
        forms = [f"{family}^{given}", f"{family}{given}", f"{family} {given}", f"{given} {family}"]
        return [f for f in forms if f.strip("^ ")]
    forms = [
        f"{family}^{given}",
        f"{family}, {given}",
        f"{family},{given}",
        f"{given} {family}",
        f"{family} {given}",
    ]
    if middle:
        forms += [f"{given} {middle} {family}", f"{family}, {given} {middle}"]
    return forms


def name_terms(
    name: str, *, components: bool = True, min_latin: int = MIN_LATIN_COMPONENT
) -> list[str]:
    """Texts to search for one person name, longest first (see the module docstring).

    ``components=False`` leaves out single components (whole-name forms only);
    ``min_latin`` is the shortest Latin component searched on its own.
    """
    terms: list[str] = []
    raw = normalise_text(str(name)).strip()
    if not raw:
        return []
    terms.append(raw.upper())
    for group in component_groups(raw):
        family = group[0] if group else ""
        given = group[1] if len(group) > 1 else ""
        middle = group[2] if len(group) > 2 else ""
        if family and given:
            # same-mode spellings of family and given: as written, stripped, transliterated
            fams = spellings(family)
            givs = spellings(given)
            mids = spellings(middle) if middle else [""]
            for i in range(3):  # as written, accents stripped, transliterated
                f = fams[min(i, len(fams) - 1)]
                g = givs[min(i, len(givs) - 1)]
                m = mids[min(i, len(mids) - 1)]
                terms += _whole_name_forms(f, g, m)
                if not (is_cjk(f) or is_cjk(g)) and len(g) >= 3:
                    # glued: "ZoëQuimbrell", "QUIMBRELLZOË" (seven letters or more: "ALLEE")
                    parts = [p for p in re.split(r"[\s\-‐]+", f) if len(p) >= 3]
                    glued = [g + p for p in parts] + [p + g for p in parts]
                    terms += [t for t in glued if len(t) >= 7]
        if components:
            for component in group[:3]:  # prefix and suffix (titles) are not identifying
                for word in _words(component):
                    if _keep_component(word, min_latin):
                        terms += spellings(word)
    out = [t.upper() for t in terms if t.strip()]
    return sorted(dict.fromkeys(out), key=lambda t: (-len(t), t))


# ---------------------------------------------------------------------------------------
# Matching

_LATIN_RANGES = ((0x00C0, 0x024F), (0x1E00, 0x1EFF))


def _accent_classes() -> dict[str, str]:
    """ASCII letter → regex class of the letter and every accented Latin letter on it."""
    members: dict[str, set[str]] = {chr(c): {chr(c)} for c in range(ord("A"), ord("Z") + 1)}
    for lo, hi in _LATIN_RANGES:
        for code in range(lo, hi + 1):
            ch = chr(code)
            if not ch.isalpha():
                continue
            choices = _TRANSLITERATIONS.get(ch.upper())
            base = choices[0] if choices else _strip_accents(ch).upper()
            if len(base) == 1 and base in members:
                members[base].add(ch)
    return {
        letter: "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"
        for letter, chars in members.items()
    }


_ACCENT_CLASSES = _accent_classes()


def term_regex(term: str) -> str:
    """Regex source for one search term (compile with ``re.IGNORECASE``).

    Latin/other alphabetic terms: whole words (not inside a longer run of letters or digits
    of a space-separated script), accent-insensitive, any whitespace between words. Terms
    with CJK characters: anywhere, optional whitespace between words.

    >>> import re
    >>> rx = re.compile(term_regex("ZOE MULLER"), re.IGNORECASE)
    >>> bool(rx.search("Pt zoë  Müller.")), bool(rx.search("ZOEMULLER"))
    (True, False)
    >>> bool(re.search(term_regex("12345"), "2.25.9123456")), bool(re.search(term_regex("ANN"), "ANN様"))
    (False, True)
    """
    if is_cjk(term):
        return term_body(term)
    return _BEFORE + term_body(term) + _AFTER


#: Word boundaries for non-CJK terms. The class holds the CJK ranges, whose case folding
#: makes it slow to compile under IGNORECASE; case plays no part in "is a letter or digit",
#: so the boundaries are compiled case-sensitively (scoped flag), once per pattern.
_BEFORE = rf"(?-i:(?<!{_WORD_CHAR}))"
_AFTER = rf"(?-i:(?!{_WORD_CHAR}))"


def term_body(term: str) -> str:
    """:func:`term_regex` without the word boundaries (CJK terms have none)."""
    words = term.split()
    if is_cjk(term):
        return r"\s*".join(re.escape(w) for w in words)
    parts = []
    for word in words:
        parts.append(
            "".join(
                _ACCENT_CLASSES.get(ch.upper(), re.escape(ch))
                if ch.isalpha()
                else _LOST_LETTER
                if ch == "\ufffd" and _guessable(word)
                else re.escape(ch)
                for ch in word
            )
        )
    return r"\s+".join(parts)


#: A letter lost in decoding (U+FFFD: a Latin-1 "ü" in a file that declares UTF-8) matches
#: any one or two letters ("U", "UE") or none.
_LOST_LETTER = r"(?:\ufffd|[^\W\d_]{0,2})"


def _guessable(word: str) -> bool:
    """Whether a word with lost letters keeps enough of its own to be matched with wildcards:
    at least three letters, and more letters than lost ones."""
    letters = sum(c.isalpha() for c in word)
    return letters >= 3 and letters > word.count("\ufffd")


def terms_regex(terms: Sequence[str]) -> str:
    """Regex source matching any of ``terms`` as :func:`term_regex` does, in the given order
    (give longest first), with the word boundaries written once for all non-CJK terms."""
    latin = [term_body(t) for t in terms if not is_cjk(t)]
    cjk = [term_body(t) for t in terms if is_cjk(t)]
    parts = []
    if latin:
        parts.append(_BEFORE + "(?:" + "|".join(f"(?:{b})" for b in latin) + ")" + _AFTER)
    if cjk:
        parts.append("|".join(f"(?:{b})" for b in cjk))
    return "|".join(parts) if parts else "(?!)"


def compile_terms(terms: Iterable[str]) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of ``terms`` (longest alternatives first)."""
    unique = sorted(dict.fromkeys(t for t in terms if t.strip()), key=lambda t: (-len(t), t))
    if not unique:
        return re.compile(r"(?!)")
    return re.compile(terms_regex(unique), re.IGNORECASE)


# ---------------------------------------------------------------------------------------
# A conservative pre-check (no regex compiled): can any term match at all?
#
# Compiling the patterns of a new patient costs tens of milliseconds (every letter of every
# term is a class of ~60 accented forms), while most texts searched (the kept header values,
# the de-identified output, OCR lines) hold none of the identifiers. :func:`may_match`
# answers "no" only when no term can match. In a Latin term (:func:`term_body`) every ASCII
# letter is a class, every ASCII digit or punctuation mark a literal that matches only
# itself, and words are joined by ``\s+``; so a match needs every piece of the term between
# whitespace and other characters to occur in the text once every character that a letter
# class matches (case-insensitively, as compiled) is folded onto that letter.

#: Where the characters that a letter class matches lie (the test checks every code point).
_FOLD_RANGES = ((0x0000, 0x0250), (0x1E00, 0x1F00), (0x2100, 0x2150))


def _fold_table() -> tuple[dict[int, str], frozenset[str]]:
    """(code point → ASCII letter it is matched as, characters matched as two letters)."""
    candidates = "".join(chr(c) for lo, hi in _FOLD_RANGES for c in range(lo, hi))
    table: dict[int, str] = {}
    ambiguous: set[str] = set()
    for letter, cls in _ACCENT_CLASSES.items():
        for ch in re.findall(cls, candidates, re.IGNORECASE):
            if table.setdefault(ord(ch), letter) != letter:
                ambiguous.add(ch)
    return table, frozenset(ambiguous)


_FOLD: tuple[dict[int, str], frozenset[str]] | None = None


def _fold() -> tuple[dict[int, str], frozenset[str]]:
    global _FOLD
    if _FOLD is None:
        _FOLD = _fold_table()
    return _FOLD


def fold_text(text: str) -> str:
    """``text`` with every character a letter class matches replaced by that letter.

    >>> fold_text("Zoë Müller, 1961")
    'ZOE MULLER, 1961'
    """
    return text.translate(_fold()[0])


def _piece_char(ch: str) -> str:
    """How a term character appears in folded text; a space where it cannot be told."""
    if ch.isalpha():
        return ch.upper() if ch.upper() in _ACCENT_CLASSES else " "
    return ch if ch.isascii() and not ch.isspace() and not ch.isalpha() else " "


def term_pieces(term: str) -> tuple[str, ...] | None:
    """The pieces a match of ``term`` needs in folded text (:func:`fold_text`), or ``None``
    for a CJK term (matched literally anywhere: not pre-checked).

    >>> term_pieces("DOE, JANE"), term_pieces("12/03/1961"), term_pieces("STRAUSS") is None
    (('DOE,', 'JANE'), ('12/03/1961',), False)
    >>> term_pieces("山田") is None
    True
    """
    if is_cjk(term):
        return None
    return tuple("".join(_piece_char(ch) for ch in term).split())


def may_match(text: str, pieces: Sequence[tuple[str, ...] | None]) -> bool:
    """False only when no term (given by its :func:`term_pieces`) can match ``text``.

    >>> pieces = [term_pieces("MULLER"), term_pieces("03/04/1961")]
    >>> may_match("Pt: Zoë MÜLLER", pieces), may_match("US BREAST 3/04/1961", pieces)
    (True, False)
    """
    table, ambiguous = _fold()
    if ambiguous and not ambiguous.isdisjoint(text):  # a character of text is ambiguous
        return True
    folded = text.translate(table)
    # all(piece in folded for piece in needed), without a generator per term (a third of
    # the cost; ~27 texts a file, ~35 terms a study)
    contains = folded.__contains__
    for needed in pieces:
        if needed is None:
            if not text.isascii():
                return True
        elif all(map(contains, needed)):
            return True
    return False


#: Multi-byte encodings of CJK text used by DICOM character sets (ISO 2022 escapes stripped).
_CJK_CODECS = ("iso2022_jp", "gb18030", "euc_kr")


def term_byte_forms(term: str) -> list[tuple[bytes, bool]]:
    """``(bytes, case_insensitive)`` encodings of ``term`` to look for in raw files:
    Latin-1 and UTF-8 (case-insensitive, bounded by the caller), and for CJK terms of two
    or more characters the JIS (ISO 2022 IR 87, without escapes), GB18030 and EUC-KR bytes.

    >>> term_byte_forms("山田")[1:3]
    [(b';3ED', False), (b'\\xc9\\xbd\\xcc\\xef', False)]
    """
    out: list[tuple[bytes, bool]] = []
    if not is_cjk(term):
        # bytes only fold ASCII case: non-ASCII letters are spelled in the three usual cases
        cases = [term] if term.isascii() else [term, term.lower(), term.title()]
        for codec in ("latin-1", "utf-8"):
            for text in cases:
                try:
                    out.append((text.encode(codec), True))
                except UnicodeEncodeError:
                    continue
        return list(dict.fromkeys(out))
    out.append((term.encode("utf-8"), False))
    if len(term.replace(" ", "")) >= 2:
        for codec in _CJK_CODECS:
            try:
                encoded = term.encode(codec)
            except UnicodeEncodeError:
                continue
            encoded = re.sub(rb"\x1b[$()][@A-Z]?", b"", encoded)
            if len(encoded) >= 4:
                out.append((encoded, False))
    return list(dict.fromkeys(out))
