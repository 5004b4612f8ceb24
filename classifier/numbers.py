"""Spoken numbers to digits in Russian and Kazakh: cardinals, ordinals, case forms, "дробь", house letters."""

from __future__ import annotations

from dataclasses import dataclass

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


def find_numbers(tokens: list[str]) -> list[NumberSpan]:
    """Group consecutive number words into numbers ("сто двадцать третья" → 123, "қырық бес" → 45).

    Digits already in the text are returned as numbers too. Two numbers said one after another
    ("пять шесть") stay separate because a smaller place cannot be followed by a larger one.
    """
    spans: list[NumberSpan] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        if tok.isdigit():
            spans.append(NumberSpan(int(tok), i, i + 1, False))
            i += 1
            continue
        word = _TABLE.get(tok)
        if word is None:
            i += 1
            continue
        start = i
        total = 0  # completed thousands
        current = 0  # below a thousand
        last_kind = ""
        last_value = 0
        ordinal = False
        j = i
        while j < n:
            w = _TABLE.get(tokens[j])
            if w is None or ordinal:
                break
            if not _can_follow(last_kind, w.kind, last_value if tokens[j - 1] in _KK_TENS[10] else -1):
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
            j += 1
        if j == start:
            i += 1
            continue
        if j - start == 1 and tok in _AMBIGUOUS_ALONE and not _has_number_context(tokens, start):
            i += 1
            continue
        spans.append(NumberSpan(total + current, start, j, ordinal))
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
