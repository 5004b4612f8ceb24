"""Spoken numbers to digits in Russian and Kazakh: cardinals, ordinals, case forms, "дробь", house letters."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from classifier.normalize import kk_fold
from classifier.phonetic import phonetic_key

# Russian cardinals with their common case forms.
_RU_UNITS: dict[int, tuple[str, ...]] = {
    0: ("ноль", "нуль", "ноля", "нуля"),
    1: ("один", "одна", "одно", "одного", "одной", "одному", "одном", "одну"),
    2: ("два", "две", "двух", "двум", "двумя"),
    3: ("три", "трех", "трем", "тремя"),
    4: ("четыре", "четырех", "четырем", "четырьмя"),
    5: ("пять", "пяти", "пятью"),
    6: ("шесть", "шести", "шестью"),
    7: ("семь", "семи", "семью"),
    8: ("восемь", "восьми", "восьмью"),
    9: ("девять", "девяти", "девятью"),
}
_RU_TEENS: dict[int, tuple[str, ...]] = {
    10: ("десять", "десяти"),
    11: ("одиннадцать", "одиннадцати"),
    12: ("двенадцать", "двенадцати"),
    13: ("тринадцать", "тринадцати"),
    14: ("четырнадцать", "четырнадцати"),
    15: ("пятнадцать", "пятнадцати"),
    16: ("шестнадцать", "шестнадцати"),
    17: ("семнадцать", "семнадцати"),
    18: ("восемнадцать", "восемнадцати"),
    19: ("девятнадцать", "девятнадцати"),
}
_RU_TENS: dict[int, tuple[str, ...]] = {
    20: ("двадцать", "двадцати"),
    30: ("тридцать", "тридцати"),
    40: ("сорок", "сорока"),
    50: ("пятьдесят", "пятидесяти"),
    60: ("шестьдесят", "шестидесяти"),
    70: ("семьдесят", "семидесяти"),
    80: ("восемьдесят", "восьмидесяти"),
    90: ("девяносто", "девяноста"),
}
_RU_HUNDREDS: dict[int, tuple[str, ...]] = {
    100: ("сто", "ста"),
    200: ("двести", "двухсот"),
    300: ("триста", "трехсот"),
    400: ("четыреста", "четырехсот"),
    500: ("пятьсот", "пятисот"),
    600: ("шестьсот", "шестисот"),
    700: ("семьсот", "семисот"),
    800: ("восемьсот", "восьмисот"),
    900: ("девятьсот", "девятисот"),
}
_RU_THOUSAND = ("тысяча", "тысячи", "тысяч", "тыща", "тыщи")
# Russian ordinal stems; any ordinal ending may follow.
_RU_ORD_STEMS: dict[str, int] = {
    "нулев": 0, "перв": 1, "втор": 2, "трет": 3, "четверт": 4, "пят": 5, "шест": 6, "седьм": 7, "восьм": 8,
    "девят": 9, "десят": 10, "одиннадцат": 11, "двенадцат": 12, "тринадцат": 13, "четырнадцат": 14,
    "пятнадцат": 15, "шестнадцат": 16, "семнадцат": 17, "восемнадцат": 18, "девятнадцат": 19,
    "двадцат": 20, "тридцат": 30, "сороков": 40, "пятидесят": 50, "шестидесят": 60, "семидесят": 70,
    "восьмидесят": 80, "девяност": 90, "сот": 100, "двухсот": 200, "трехсот": 300, "четырехсот": 400,
    "пятисот": 500, "тысячн": 1000,
}
_RU_ORD_ENDINGS = (
    "ый", "ий", "ой", "ая", "яя", "ое", "ее", "ого", "его", "ому", "ему", "ом", "ем", "ую", "юю", "ые", "ие",
    "ых", "их", "ым", "им", "ья", "ье", "ьего", "ьему", "ьем", "ьей", "ью", "ьи", "ьих",
)

# Kazakh cardinals (and the forms with case endings people say in addresses).
_KK_UNITS: dict[int, tuple[str, ...]] = {
    0: ("нөл",),
    1: ("бір",),
    2: ("екі",),
    3: ("үш",),
    4: ("төрт",),
    5: ("бес",),
    6: ("алты",),
    7: ("жеті",),
    8: ("сегіз",),
    9: ("тоғыз",),
}
_KK_TENS: dict[int, tuple[str, ...]] = {
    10: ("он",),
    20: ("жиырма",),
    30: ("отыз",),
    40: ("қырық",),
    50: ("елу",),
    60: ("алпыс",),
    70: ("жетпіс",),
    80: ("сексен",),
    90: ("тоқсан",),
}
_KK_HUNDRED = ("жүз",)
_KK_THOUSAND = ("мың",)
# Kazakh ordinal forms (-ыншы/-інші/-ншы/-нші) per base word.
_KK_ORD: dict[str, int] = {
    "бірінші": 1, "екінші": 2, "үшінші": 3, "төртінші": 4, "бесінші": 5, "алтыншы": 6, "жетінші": 7,
    "сегізінші": 8, "тоғызыншы": 9, "оныншы": 10, "жиырмасыншы": 20, "отызыншы": 30, "қырқыншы": 40,
    "елуінші": 50, "алпысыншы": 60, "жетпісінші": 70, "сексенінші": 80, "тоқсаныншы": 90, "жүзінші": 100,
    "мыңыншы": 1000, "нөлінші": 0,
}
# Case / possessive endings a Kazakh number may carry ("он екіде", "бесінші үйде", "қырық бестегі").
_KK_SUFFIXES = (
    "дегі", "тегі", "дағы", "тағы", "нда", "нде", "да", "де", "та", "те", "ге", "ке", "ға", "қа", "не", "на",
    "ден", "тен", "дан", "тан", "нан", "нен", "нің", "ның", "дің", "дың", "тің", "тың", "сі", "сы", "і", "ы",
)

# Slash words between two numbers ("двенадцать дробь один" → 12/1).
SLASH_WORDS = frozenset({"дробь", "дроби", "дробью", "слеш", "слэш", "стык", "бөлшек", "бөлу", "бөлінген", "черта"})


@dataclass(frozen=True, slots=True)
class _Word:
    value: int
    kind: str  # "unit" | "teen" | "ten" | "hundred" | "thousand"
    ordinal: bool = False


def _build() -> dict[str, _Word]:
    table: dict[str, _Word] = {}
    for value, forms in _RU_UNITS.items():
        for f in forms:
            table[f] = _Word(value, "unit")
    for value, forms in _RU_TEENS.items():
        for f in forms:
            table[f] = _Word(value, "teen")
    for value, forms in _RU_TENS.items():
        for f in forms:
            table[f] = _Word(value, "ten")
    for value, forms in _RU_HUNDREDS.items():
        for f in forms:
            table[f] = _Word(value, "hundred")
    for f in _RU_THOUSAND:
        table[f] = _Word(1000, "thousand")
    for stem, value in _RU_ORD_STEMS.items():
        kind = _kind_of(value)
        for ending in _RU_ORD_ENDINGS:
            table.setdefault(stem + ending, _Word(value, kind, True))
    for value, forms in _KK_UNITS.items():
        for f in forms:
            table[f] = _Word(value, "unit")
    for value, forms in _KK_TENS.items():
        for f in forms:
            table[f] = _Word(value, "teen" if value == 10 else "ten")
    for f in _KK_HUNDRED:
        table[f] = _Word(100, "hundred")
    for f in _KK_THOUSAND:
        table[f] = _Word(1000, "thousand")
    for f, value in _KK_ORD.items():
        table[f] = _Word(value, _kind_of(value), True)
    # Kazakh numbers with a case ending: "екіде", "бестегі", "бесінші" + "де" etc.
    kk_bases = {f: w for f, w in table.items() if any(ch in f for ch in "әғқңөұүһі") or f in _kk_plain()}
    for base, word in list(kk_bases.items()):
        for suffix in _KK_SUFFIXES:
            table.setdefault(base + suffix, word)
    return table


def _kk_plain() -> set[str]:
    plain: set[str] = set()
    for forms in list(_KK_UNITS.values()) + list(_KK_TENS.values()):
        plain.update(forms)
    plain.update(_KK_ORD)
    plain.update(_KK_HUNDRED + _KK_THOUSAND)
    return plain


def _kind_of(value: int) -> str:
    if value >= 1000:
        return "thousand"
    if value >= 100:
        return "hundred"
    if value >= 20:
        return "ten"
    if value >= 10:
        return "teen"
    return "unit"


_TABLE = _build()
# Words that are number words only in some contexts and would create false numbers as free-standing words.
_AMBIGUOUS_ALONE = frozenset({"он", "одна", "одно", "один", "бір", "сот"})


class NumberReading(Enum):
    """How a number was read: every word as written, some only by sound (a voicing or vowel slip), or by a guess."""

    EXACT = "exact"
    SOUNDS_LIKE = "sounds_like"  # a word's phonetic key equals a number word's ("двинадцать", "жиырма без")
    FUZZY = "fuzzy"  # a word one edit from a number word, or a short sound-alike standing alone


_GRADE = {NumberReading.EXACT: 0, NumberReading.SOUNDS_LIKE: 1, NumberReading.FUZZY: 2}


def _heard_forms() -> set[str]:
    """The number words matched by sound: cardinals with their Russian case forms, Russian ordinals in the
    nominative and locative ("пятый", "пятом"), Kazakh cardinals and ordinals without case endings. Case forms of
    Kazakh numbers sound like too many ordinary words ("біздің" ~ "бестің")."""
    forms: set[str] = set()
    for table in (_RU_UNITS, _RU_TEENS, _RU_TENS, _RU_HUNDREDS, _KK_UNITS, _KK_TENS):
        for fs in table.values():
            forms.update(fs)
    forms.update(_RU_THOUSAND + _KK_HUNDRED + _KK_THOUSAND)
    forms.update(_KK_ORD)
    for stem in _RU_ORD_STEMS:
        forms.update(stem + e for e in ("ый", "ий", "ой", "ая", "ом", "ем", "ья", "ьем"))
    return {f for f in forms if f in _TABLE}


# Ordinary words that sound like a number word (by the phonetic key); never read as numbers by sound.
_ORDINARY_SOUND_ALIKES = frozenset({
    "уже", "керек", "мен", "меня", "менің", "мені", "мына", "мында", "міне", "менде", "без", "под", "пот", "пес",
    "она", "они", "оно", "ана", "әне", "оң", "ән", "бері", "бер", "бере", "берді", "алды", "әлде", "сым", "сымы",
    "потом", "потому", "стая", "сада", "саду", "жете", "жеді", "бота", "пота", "быр", "сим", "зиму", "зимы", "семьи",
    "семье", "уши", "отын", "атыс", "иегі", "пад", "сатты", "жүзе", "перде", "песка", "девать", "жетті", "шеті",
    "біз", "сзади", "задом", "жездем", "бьет", "беті", "бітті", "пить", "быть", "семья", "битой", "бет", "пьет",
    "битое", "бетім", "биту", "бить", "битом", "битый", "семьей", "өлді", "жиды", "жейде", "иығы", "оттың",
})

# Ordinary words that, right after a street name, are a misheard house number: "алды" (алты), "быр" (бір).
_UNITS_SLIPPED_AFTER_STREET = frozenset({"алды", "быр"})


def _by_key() -> dict[str, _Word]:
    found: dict[str, list[_Word]] = {}
    for form in _heard_forms():
        found.setdefault(phonetic_key(form), []).append(_TABLE[form])
    out: dict[str, _Word] = {}
    for key, words in found.items():
        if len({w.value for w in words}) == 1:  # "пятисот" and "пятидесят" sound alike: neither is read by sound
            out[key] = min(words, key=lambda w: w.ordinal)
    return out


_BY_KEY = _by_key()
_KK_TENS_FOLDED = frozenset(kk_fold(f) for value, forms in _KK_TENS.items() if value > 10 for f in forms) | {
    kk_fold(f) for f in _KK_HUNDRED
}
# Kazakh number words written with Russian letters ("сегиз", "екинши", "жетинин"): the same word, not a mishearing.
_FOLDED = {kk_fold(f): w for f, w in _TABLE.items() if kk_fold(f) != f and kk_fold(f) not in _TABLE}
_KEYS = tuple(_BY_KEY)
MIN_FUZZY_LETTERS = 5  # a word needs this many letters to be read as a number one edit away


def _near_number(token: str) -> _Word | None:
    """The number word one edit from ``token``'s key, when all such words have one value."""
    key = phonetic_key(token)
    if len(key) < MIN_FUZZY_LETTERS:
        return None
    hits = process.extract(key, _KEYS, scorer=Levenshtein.distance, score_cutoff=1, limit=None)
    values = {_BY_KEY[k].value for k, _, _ in hits}
    return _BY_KEY[hits[0][0]] if len(values) == 1 else None


def sounds_like_number(token: str) -> bool:
    """Whether ``token`` sounds like a number word (equal phonetic keys, one value)."""
    return token not in _ORDINARY_SOUND_ALIKES and phonetic_key(token) in _BY_KEY


def _composes(first: _Word, first_token: str, second: _Word) -> bool:
    if first.ordinal:
        return False
    return _can_follow(first.kind, second.kind, first.value if first_token in _KK_TENS[10] or first.value == 10 else -1)


MIN_EXPECTED_SOUND_LETTERS = 2  # where a keyword asks for a number, a word sounding like one is read from 2 letters
MIN_LIKELY_SOUND_LETTERS = 4  # after a street name a word sounding like a number needs this many letters
MIN_LIKELY_FUZZY_LETTERS = 6  # after a street name (no keyword) a one-edit word needs this many letters


def _tolerant_readings(
    tokens: list[str], expected: Collection[int], likely: Collection[int], keywords: Collection[str]
) -> list[tuple[_Word, NumberReading] | None]:
    """Each token's number word: exact, else by sound or one edit away when a number is expected there.

    A misheard word is read only in a number context: beside an exact number word it composes with ("ан бір"
    = он бір, "жиырма без" = жиырма бес), where a keyword asks for one (``expected``: after "дом", "дробь",
    before "үй", "пәтер"), or, for long words only, where one often follows (``likely``: after a street name,
    where "без", "возле" are ordinary words). A short sound-alike or a one-edit word alone is a FUZZY reading.
    ``keywords`` (подъезде, үйде...) are never misheard numbers.
    """
    exact = [_TABLE.get(t) or _FOLDED.get(t) for t in tokens]
    out = [_read_misheard(tokens, j, exact, expected, likely, keywords) for j in range(len(tokens))]
    # a second pass lets two misheard words support each other when one of them was read by sound on its own
    # ("ан алтынши үй": алтынши before "үй", then "ан" before it)
    support = [r[0] if r is not None and r[1] is not NumberReading.FUZZY else None for r in out]
    for j, r in enumerate(out):
        if r is None or r[1] is NumberReading.FUZZY:
            out[j] = _read_misheard(tokens, j, support, expected, likely, keywords) or r
    return out


def _read_misheard(
    tokens: list[str],
    j: int,
    support: list[_Word | None],
    expected: Collection[int],
    likely: Collection[int],
    keywords: Collection[str],
) -> tuple[_Word, NumberReading] | None:
    """The reading of token ``j`` given the number words read around it (``support``)."""
    tok = tokens[j]
    n = len(tokens)
    w = support[j]
    if w is not None:
        return (w, NumberReading.EXACT) if _TABLE.get(tok) or _FOLDED.get(tok) else (w, NumberReading.SOUNDS_LIKE)
    if len(tok) < 2 or not tok.isalpha() or tok in keywords:
        return None
    if tok in _ORDINARY_SOUND_ALIKES:
        # an ordinary word is a number only as the unit of a clearly said Kazakh ten or "жүз" ("жиырма без",
        # "жүз быр"; not "он без", "сорок под окнами")
        ten = support[j - 1] if j > 0 and kk_fold(tokens[j - 1]) in _KK_TENS_FOLDED else None
        unit = _BY_KEY.get(phonetic_key(tok))
        if (
            ten is not None
            and ten.kind in ("ten", "hundred")
            and not ten.ordinal
            and unit is not None
            and unit.kind == "unit"
        ):
            return (unit, NumberReading.SOUNDS_LIKE)
        if j in likely and tok in _UNITS_SLIPPED_AFTER_STREET and unit is not None:
            return (unit, NumberReading.SOUNDS_LIKE)  # "рысқұлов алды подъездте": алты, right after a street
        return None
    cand = _BY_KEY.get(phonetic_key(tok))
    by_sound = cand is not None
    if cand is None and len(tok) >= MIN_FUZZY_LETTERS:
        cand = _near_number(tok)
    if cand is None:
        return None
    prev = support[j - 1] if j > 0 else None
    if prev is not None and tokens[j - 1] in _AMBIGUOUS_ALONE and not (by_sound and cand.kind == "unit"):
        prev = None  # "он" is also "he": it supports only a unit heard by sound ("он олты", not "он бесть")
    nxt = support[j + 1] if j + 1 < n else None  # "ан бір": a unit after a misheard ten
    composes = (prev is not None and _composes(prev, tokens[j - 1], cand)) or (
        nxt is not None and _composes(cand, tok, nxt)
    )
    if by_sound and composes:
        return (cand, NumberReading.SOUNDS_LIKE)
    if by_sound and j in likely and _composes_with_next_by_sound(tokens, j, cand):
        return (cand, NumberReading.SOUNDS_LIKE)  # "мирзоян ан пір": он бір, both misheard, after a street
    if by_sound and (
        (j in expected and len(tok) >= MIN_EXPECTED_SOUND_LETTERS)
        or (j in likely and len(tok) >= MIN_LIKELY_SOUND_LETTERS)
    ):
        return (cand, NumberReading.SOUNDS_LIKE)  # "отіз үй", "үж пәтер", "майлина сямь"
    if (composes or j in expected) and len(tok) >= 3:
        return (cand, NumberReading.FUZZY)
    if j in likely and (len(tok) >= MIN_LIKELY_FUZZY_LETTERS or (by_sound and len(tok) >= 4)):
        return (cand, NumberReading.FUZZY)
    return None


def _composes_with_next_by_sound(tokens: list[str], j: int, cand: _Word) -> bool:
    """Whether the next token sounds like a number word that goes after ``cand`` ("ан пір" = он бір)."""
    if j + 1 >= len(tokens) or tokens[j + 1] in _ORDINARY_SOUND_ALIKES:
        return False
    nxt = _BY_KEY.get(phonetic_key(tokens[j + 1]))
    return nxt is not None and _composes(cand, tokens[j], nxt)


def heard_number_word(token: str) -> tuple[int, bool] | None:
    """(value, is_ordinal) of a number word, also when Kazakh letters were written as Russian ones ("бесинши")."""
    w = _TABLE.get(token) or _FOLDED.get(token)
    return (w.value, w.ordinal) if w else None


def number_word(token: str) -> tuple[int, bool] | None:
    """(value, is_ordinal) of a single number word, or None."""
    w = _TABLE.get(token)
    return (w.value, w.ordinal) if w else None


@dataclass(frozen=True, slots=True)
class NumberSpan:
    """A number said as words: its value, token span [start, end), and whether it was an ordinal."""

    value: int
    start: int
    end: int
    ordinal: bool
    reading: NumberReading = NumberReading.EXACT


def find_numbers(
    tokens: list[str],
    *,
    tolerant: bool = False,
    expected: Collection[int] = (),
    likely: Collection[int] = (),
    keywords: Collection[str] = (),
) -> list[NumberSpan]:
    """Group consecutive number words into numbers ("сто двадцать третья" → 123, "қырық бес" → 45).

    Digits already in the text are returned as numbers too. Two numbers said one after another
    ("пять шесть") stay separate because a smaller place cannot be followed by a larger one. ``tolerant`` also
    reads misheard number words in a number context (see ``_tolerant_readings``); each span says how it was read.
    """
    if tolerant:
        readings = _tolerant_readings(tokens, expected, likely, keywords)
    else:
        readings = [(w, NumberReading.EXACT) if w is not None else None for w in (_TABLE.get(t) for t in tokens)]
    spans: list[NumberSpan] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        if tok.isdigit():
            spans.append(NumberSpan(int(tok), i, i + 1, False))
            i += 1
            continue
        if readings[i] is None:
            i += 1
            continue
        start = i
        grade = NumberReading.EXACT
        total = 0  # completed thousands
        current = 0  # below a thousand
        last_kind = ""
        last_value = 0
        ordinal = False
        j = i
        while j < n:
            reading = readings[j]
            if reading is None or ordinal:
                break
            w = reading[0]
            # Kazakh "он" (also misheard: "ан бір") takes a unit after it; a Russian teen does not
            said_ten = tokens[j - 1] in _KK_TENS[10] or (_TABLE.get(tokens[j - 1]) is None and last_value == 10)
            if not _can_follow(last_kind, w.kind, last_value if said_ten else -1):
                break
            if w.kind == "hundred" and w.value == 100 and last_kind == "unit" and tokens[j] in _KK_HUNDRED:
                current = current * 100  # "екі жүз" = 200
            elif w.kind == "thousand":
                total += (current or 1) * 1000
                current = 0
            else:
                current += w.value
            last_kind = w.kind
            last_value = w.value
            ordinal = w.ordinal
            grade = max(grade, reading[1], key=_GRADE.__getitem__)
            j += 1
        if j == start:
            i += 1
            continue
        if (
            j - start == 1
            and tok in _AMBIGUOUS_ALONE
            and not _has_number_context(tokens, start)
            and not (tolerant and tok in _KK_TENS[10] and start in likely and _kazakh_nearby(tokens, start))
        ):
            i += 1
            continue
        spans.append(NumberSpan(total + current, start, j, ordinal, grade))
        i = j
    return spans


def _can_follow(prev: str, kind: str, prev_value: int) -> bool:
    if not prev:
        return True
    if kind == "thousand":
        return prev in ("unit", "teen", "ten", "hundred")
    if prev == "thousand":
        return kind in ("hundred", "ten", "teen", "unit")
    if prev == "hundred":
        return kind in ("ten", "teen", "unit")
    if prev == "ten":
        return kind == "unit"
    if prev == "teen":
        # Kazakh "он екі" (10 + 2); Russian teens take nothing after them.
        return kind == "unit" and prev_value == 10
    if prev == "unit":
        return kind == "hundred"  # Kazakh "екі жүз"
    return False


_CONTEXT_WORDS = frozenset({
    "дом", "дома", "доме", "квартира", "квартиры", "квартире", "кв", "корпус", "корпуса", "блок", "подъезд",
    "үй", "үйі", "үйде", "үйдің", "пәтер", "пәтері", "пәтерде", "номер", "нөмір", "нөмірі", "подъезде", "этаж",
    "микрорайон", "мкр", "шағын", "ауданы", "дробь", "бөлшек", "көшесі", "улица", "проспект", "даңғылы",
})


_KAZAKH_LETTERS = frozenset("әғқңөұүһі")


def _kazakh_nearby(tokens: list[str], i: int) -> bool:
    """Whether a word with a Kazakh letter stands within two words of ``i`` ("достық он кафеде": "он" is ten)."""
    return any(_KAZAKH_LETTERS & set(t) for t in tokens[max(0, i - 2) : i + 3])


def _has_number_context(tokens: list[str], i: int) -> bool:
    """Whether an ambiguous word ("он" is also Russian "he") stands among number or address words."""
    neighbours = tokens[max(0, i - 2) : i] + tokens[i + 1 : i + 3]
    return any(t in _CONTEXT_WORDS or t.isdigit() for t in neighbours)


def words_to_digits(text: str) -> str:
    """Replace spoken numbers in normalised ``text`` by digits, "N дробь M" by "N/M".

    >>> words_to_digits("дом двенадцать дробь один квартира сто двадцать третья")
    'дом 12/1 квартира 123'
    """
    toks = text.split()
    spans = find_numbers(toks)
    out: list[str] = []
    i = 0
    k = 0
    while i < len(toks):
        if k < len(spans) and spans[k].start == i:
            sp = spans[k]
            value = str(sp.value)
            i = sp.end
            k += 1
            if (
                k < len(spans)
                and i < len(toks)
                and toks[i] in SLASH_WORDS
                and spans[k].start == i + 1
            ):
                value = f"{value}/{spans[k].value}"
                i = spans[k].end
                k += 1
            out.append(value)
        else:
            out.append(toks[i])
            i += 1
    return " ".join(out)
