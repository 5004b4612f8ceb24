"""Digit runs said as words: "восемь семьсот один ноль пять" → 8 · 701 · 0 · 5, split the way Vosk prints them.

Each group of number words becomes its digits through ``classifier.numbers`` ("двадцать три" → 23, "тоғыз жүз
сегіз" → 908); a zero word is always a digit of its own ("двадцать ноль ноль" → 2000). Fillers ("ээ", "ну",
"значит", "яғни") may stand between groups; a run's groups are kept in segments split where fillers stood, so that a
number can be told apart from digits said next to it without a pause word.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifier.numbers import find_numbers, number_word

ZERO_WORDS = frozenset({"ноль", "нуль", "нөл", "нөль"})
FILLER_WORDS = frozenset(
    "э ээ эээ эм мм ммм м ну так значит вот это да щас сейчас короче енді яғни әлгі иә ия сосын ал".split()
)
MAX_FILLERS_BETWEEN = 2  # more pause words than this between two groups ends the run
# "он" is Kazakh "ten" and Russian "he": alone at the start of number words, with no Kazakh word near, it is "he"
_AMBIGUOUS_LONE = frozenset({"он"})
_KAZAKH_LETTERS = frozenset("әғқңөұүһі")


@dataclass(frozen=True, slots=True)
class DigitGroup:
    """Consecutive number words that make one number: its digits and the word indices it covers (inclusive)."""

    digits: str
    first_word: int
    last_word: int


@dataclass(frozen=True, slots=True)
class DigitRun:
    """Digit groups said one after another; ``segments`` are the stretches between filler words."""

    segments: tuple[tuple[DigitGroup, ...], ...]

    @property
    def groups(self) -> tuple[DigitGroup, ...]:
        return tuple(g for segment in self.segments for g in segment)


def _is_cardinal_word(token: str) -> bool:
    if token in ZERO_WORDS:
        return True
    reading = number_word(token)
    return reading is not None and not reading[1]


def _starts_group(tokens: list[str], k: int) -> bool:
    """Whether word ``k`` starts a new number: a Russian hundred ("восемь семьсот один" is 8 · 701, not 709; only
    Kazakh "жеті жүз" multiplies), or a Kazakh unit before "жүз" ("сегіз жүз жиырма бес жүз" is 820 · 500)."""
    reading = number_word(tokens[k])
    if reading is None:
        return False
    if reading[0] in _HUNDREDS and not tokens[k].startswith("жүз"):
        return True
    return 0 < reading[0] < 10 and k + 1 < len(tokens) and tokens[k + 1].startswith("жүз")


_HUNDREDS = frozenset(range(100, 1000, 100))


def _groups_of_stretch(tokens: list[str], offset: int, kazakh_near: bool) -> list[DigitGroup]:
    """The digit groups of consecutive cardinal words ``tokens`` (the first at word index ``offset``); a lone "он"
    opening them is a digit only with Kazakh words near (``kazakh_near``)."""
    groups: list[DigitGroup] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in ZERO_WORDS:
            groups.append(DigitGroup("0", offset + i, offset + i))
            i += 1
            continue
        j = i + 1
        while j < len(tokens) and tokens[j] not in ZERO_WORDS and not _starts_group(tokens, j):
            j += 1
        covered: dict[int, DigitGroup] = {}
        for span in find_numbers(tokens[i:j]):
            covered[i + span.start] = DigitGroup(str(span.value), offset + i + span.start, offset + i + span.end - 1)
        k = i
        while k < j:
            group = covered.get(k)
            if group is None:  # a lone "один", "одна" find_numbers leaves out without an address word near it
                reading = number_word(tokens[k])
                group = DigitGroup(str(reading[0]) if reading else "", offset + k, offset + k)
            if group.first_word == group.last_word and tokens[k] in _AMBIGUOUS_LONE and k == 0 and not kazakh_near:
                group = DigitGroup("", offset + k, offset + k)  # Russian "он" before numbers: not a digit
            groups.append(group)
            k += group.last_word - group.first_word + 1
        i = j
    return groups


def digit_runs(tokens: list[str]) -> list[DigitRun]:
    """The runs of spoken digit groups in ``tokens`` (one transcript's words, in order)."""
    runs: list[DigitRun] = []
    segments: list[tuple[DigitGroup, ...]] = []
    current: list[DigitGroup] = []
    fillers = 0

    def close_segment() -> None:
        nonlocal current
        if current:
            segments.append(tuple(current))
        current = []

    def close_run() -> None:
        nonlocal segments
        close_segment()
        if segments:
            runs.append(DigitRun(tuple(segments)))
        segments = []

    i = 0
    while i < len(tokens):
        if _is_cardinal_word(tokens[i]):
            j = i
            while j < len(tokens) and _is_cardinal_word(tokens[j]):
                j += 1
            kazakh_near = any(_KAZAKH_LETTERS & set(t) for t in tokens[max(0, i - 2) : i + 3])
            for group in _groups_of_stretch(tokens[i:j], i, kazakh_near):
                if group.digits:
                    current.append(group)
                else:
                    close_run()
            fillers = 0
            i = j
            continue
        if tokens[i] in FILLER_WORDS and (current or segments) and fillers < MAX_FILLERS_BETWEEN:
            close_segment()
            fillers += 1
        else:
            close_run()
            fillers = 0
        i += 1
    close_run()
    return runs
