"""The operator reads the card's registration number back before the call ends.

"109-2026-000123" counts when the operator says its sequence part as numbers the way Vosk prints them ("сто
двадцать три", "ноль ноль ноль один два три", "жүз жиырма үш"), alone or after "сто девять" and the year (also said
in pairs, "двадцать двадцать шесть"). classifier.numbers gives each word's value; the words are grouped into
numbers here by their rank (``spoken_numbers``), because a readback puts numbers side by side that a general parser
would join ("двадцать шесть сто двадцать три" is 26 and 123, not 149). A sequence part shorter than
``min_alone_digits`` digits counts only beside "109", the year or the word "номер"/"нөмір", so a stray "пять" is not
taken for card 5. A number said as part of an address ("дом сто десять", "жүз он үй") does not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from classifier.numbers import NumberSpan, number_word
from qa.base import CallFacts, CheckOutcome, CheckResult, Conversation, Turn
from qa.checks.common import no_operator_voice
from qa.rules import ReadbackRule
from qa.text import TimedTokens, quote

REG_NUMBER = re.compile(r"^109-(\d{4})-(\d{1,6})$")
# Words that may stand between the parts of a number read out ("сто девять тире две тысячи ...").
SEPARATORS = frozenset({"тире", "дефис", "черточка", "тере", "сызықша", "года", "год", "жылғы", "жыл", "жылы"})
NUMBER_WORDS = frozenset({"номер", "номером", "нөмір", "нөмірі", "нөміріңіз"})
# A number right after these is part of an address, not the card's number ("дом сто двадцать три").
ADDRESS_WORDS = frozenset(
    {
        "дом",
        "дома",
        "доме",
        "квартира",
        "квартиры",
        "кв",
        "корпус",
        "подъезд",
        "этаж",
        "үй",
        "үйі",
        "пәтер",
        "пәтері",
    }
)
# A number right before these is an address too: Kazakh puts the house word after the number ("жүз он үй").
ADDRESS_WORDS_AFTER = frozenset(
    {"үй", "үйі", "үйде", "үйдің", "үйге", "пәтер", "пәтері", "пәтерде", "подъезд", "подъезде", "подъезі"}
)
# A run of this many digits or more without the year is a phone number (11 digits) or an ИИН (12), not the card's.
PERSONAL_DIGITS = 10
KK_TEN = "он"  # Kazakh ten takes a unit after it ("он бір" = 11); a Russian teen ("одиннадцать") takes nothing
KK_HUNDRED = "жүз"  # multiplied by a unit before it ("екі жүз" = 200); Russian hundreds are single words
# Russian "тысяча" (nominative singular) agrees only with a number ending in one ("двадцать одна тысяча"):
# after "двадцать шесть" it starts a new number ("двадцать шесть | тысяча сто").
RU_THOUSAND_SINGULAR = frozenset({"тысяча", "тыща"})


class Rank(IntEnum):
    """A number word's grammatical rank (ru and kk): a number says its ranks from the highest down."""

    UNIT = 0
    TEN = 1  # tens and teens
    HUNDRED = 2
    THOUSAND = 3


@dataclass(frozen=True, slots=True)
class NumberWord:
    token: str
    value: int
    ordinal: bool

    @property
    def rank(self) -> Rank:
        if self.value >= 1000:
            return Rank.THOUSAND
        if self.value >= 100:
            return Rank.HUNDRED
        return Rank.TEN if self.value >= 10 else Rank.UNIT

    def takes_unit(self) -> bool:
        """Whether a unit may follow and add to this word: a round ten ("двадцать шесть") or Kazakh "он"."""
        return self.rank is Rank.HUNDRED or (self.rank is Rank.TEN and (self.value % 10 == 0 and self.value >= 20))


@dataclass(slots=True)
class SpokenNumber:
    """A number being read word by word: its completed thousands, the part below them, and its last word."""

    start: int
    last: NumberWord
    thousands: int = 0
    below: int = 0
    lower_words: int = 0  # words since the start or since the thousand word
    pair: bool = False  # the second half of a number said in pairs ("двадцать | двадцать шесть"): two digits at most

    @classmethod
    def begin(cls, at: int, word: NumberWord, pair: bool) -> SpokenNumber:
        number = cls(at, word, pair=pair)
        number.add(word)
        return number

    def takes(self, word: NumberWord) -> bool:
        """Whether ``word`` continues this number; else it starts a new one (an equal or higher rank after a
        complete unit or ten, a hundred after a unit, anything after a zero or an ordinal)."""
        last = self.last
        if last.ordinal or last.value == 0 or word.value == 0:
            return False
        if word.rank is Rank.THOUSAND:
            if self.pair or self.thousands or last.rank is Rank.THOUSAND:
                return False
            return word.token not in RU_THOUSAND_SINGULAR or (last.value % 10 == 1 and last.value % 100 != 11)
        if last.rank is Rank.THOUSAND:
            return True
        if word.rank is Rank.HUNDRED:
            # Kazakh "екі жүз", "екі мың алты жүз": a unit that begins the part below a thousand multiplies "жүз".
            return not self.pair and word.token == KK_HUNDRED and last.rank is Rank.UNIT and self.lower_words == 1
        if word.rank is Rank.TEN:
            return not self.pair and last.rank is Rank.HUNDRED
        return last.takes_unit() or last.token == KK_TEN

    def add(self, word: NumberWord) -> None:
        if word.rank is Rank.THOUSAND:
            self.thousands = (self.below or 1) * 1000
            self.below = 0
            self.lower_words = 0
        elif word.rank is Rank.HUNDRED and word.token == KK_HUNDRED and self.lower_words == 1 and self.below < 10:
            self.below *= 100
            self.lower_words += 1
        else:
            self.below += word.value
            self.lower_words += 1
        self.last = word

    def bare_ten(self, end: int) -> bool:
        """A single ten-rank word: a following ten-rank word reads the digits in pairs ("двадцать двадцать")."""
        return end - self.start == 1 and self.last.rank is Rank.TEN and not self.last.ordinal

    def span(self, end: int) -> NumberSpan:
        return NumberSpan(self.thousands + self.below, self.start, end, self.last.ordinal)


def _number_word(token: str) -> NumberWord | None:
    read = number_word(token)
    return None if read is None else NumberWord(token, read[0], read[1])


def spoken_numbers(tokens: list[str]) -> list[NumberSpan]:
    """Number words grouped into numbers by rank, each word's value from classifier.numbers; digits as written.

    A readback says numbers side by side: "сто девять двадцать двадцать шесть сто двадцать три" is 109, 20, 26, 123;
    "ноль ноль ноль один два три" is six numbers. Every number word counts, a lone "один" or "он" too.
    """
    spans: list[NumberSpan] = []
    current: SpokenNumber | None = None
    previous: SpokenNumber | None = None  # the number just closed, when nothing stood between
    for i, token in enumerate(tokens):
        word = None if token.isdigit() else _number_word(token)
        if word is not None and current is not None and current.takes(word):
            current.add(word)
            continue
        if current is not None:
            spans.append(current.span(i))
            previous, current = current, None
        if token.isdigit():
            spans.append(NumberSpan(int(token), i, i + 1, False))
            previous = None
        elif word is not None:
            pair = previous is not None and previous.bare_ten(i) and word.rank is Rank.TEN
            current = SpokenNumber.begin(i, word, pair)
        else:
            previous = None
    if current is not None:
        spans.append(current.span(len(tokens)))
    return spans


@dataclass(frozen=True, slots=True)
class ReadBack:
    """Where the number was heard: the turn, the time, and whether the whole number was said."""

    turn: Turn
    at_s: float
    whole: bool


def _runs(tokens: list[str], spans: list[NumberSpan]) -> list[list[NumberSpan]]:
    """Numbers said one after another (only separator words between them)."""
    runs: list[list[NumberSpan]] = []
    for span in spans:
        if runs and all(t in SEPARATORS for t in tokens[runs[-1][-1].end : span.start]):
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs


def _is_address(tokens: list[str], run: list[NumberSpan]) -> bool:
    """Numbers right after "дом"/"квартира" or right before "үй"/"пәтер"/"подъезд" are an address."""
    before = tokens[run[0].start - 1] if run[0].start > 0 else ""
    after = tokens[run[-1].end] if run[-1].end < len(tokens) else ""
    return before in ADDRESS_WORDS or after in ADDRESS_WORDS_AFTER


def _year_end(values: list[int], year: int) -> int | None:
    """The index after where the run says the year: as one number ("две тысячи двадцать шесть") or in pairs
    ("двадцать двадцать шесть", "жиырма жиырма алты"); None when it does not."""
    for i, value in enumerate(values):
        if value == year:
            return i + 1
        pair = values[i + 1] if i + 1 < len(values) else -1
        if 10 <= value <= 99 and 10 <= pair <= 99 and value * 100 + pair == year:
            return i + 2
    return None


def _said_in(turn: Turn, year: int, seq: int, min_alone: int) -> ReadBack | None:
    toks = TimedTokens.of(turn)
    tokens = list(toks.plain)
    short = len(str(seq)) < min_alone
    for run in _runs(tokens, spoken_numbers(tokens)):
        if _is_address(tokens, run):
            continue
        values = [s.value for s in run]
        year_end = _year_end(values, year)
        if year_end is None and len("".join(str(v) for v in values)) >= PERSONAL_DIGITS:
            continue  # a phone number or ИИН read back ("восемь семьсот один сто двадцать три сорок пять ...")
        # The sequence part follows the year (the year's own numbers are not read as it) and ends the numbers said
        # together: a number with more numbers right after it is part of something longer (a phone number).
        for i in range(year_end or 0, len(run)):
            digits = "".join(str(v) for v in values[i:])
            if len(digits) > 7 or int(digits) != seq:
                continue
            with_year = year_end is not None
            whole = 109 in values[:i] and with_year
            named = any(t in NUMBER_WORDS for t in tokens[max(0, run[i].start - 3) : run[i].start])
            if short and not (named or with_year or 109 in values[:i]):
                continue
            return ReadBack(turn, toks.times[run[i].start], whole)
    return None


def check(rule: ReadbackRule, talk: Conversation, facts: CallFacts) -> CheckResult:
    if facts.reg_number is None:
        return CheckResult(
            rule.id, CheckOutcome.NOT_APPLICABLE, None, "The card was not registered, so there is no number to read."
        )
    match = REG_NUMBER.match(facts.reg_number)
    if match is None:
        return CheckResult(
            rule.id, CheckOutcome.NOT_APPLICABLE, None, f"The number {facts.reg_number} is not of the form 109-YYYY-N."
        )
    if not talk.operator:
        return no_operator_voice(rule.id)
    year, seq = int(match.group(1)), int(match.group(2))
    ended = facts.ended_s
    for turn in talk.operator:
        found = _said_in(turn, year, seq, rule.parameters.min_alone_digits)
        if found is not None and (ended is None or found.at_s <= ended):
            part = "the whole number" if found.whole else f"the sequence part {seq}"
            return CheckResult(
                rule.id,
                CheckOutcome.PASSED,
                found.at_s,
                f"The operator read {part} of {facts.reg_number} back: {quote(turn.text)}.",
            )
    return CheckResult(
        rule.id,
        CheckOutcome.FAILED,
        talk.operator[-1].end,
        f"The operator never said the registration number {facts.reg_number} (its sequence part {seq}).",
    )
