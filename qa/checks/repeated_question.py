"""The caller asks the same thing again: two caller questions whose normalised words are alike.

A caller turn counts as a question when it has a question word or particle (ru and kk, below), a "?" (QA's
corrections have them), or one of the rule's repeat markers ("еще раз", "тағы да", "повторяю"). Two such turns
are compared by their words without the markers and filler words (rapidfuzz's token sort ratio, 0..1).

The Kazakh particles (ма, ме, ба, бе, па, пе, ше) and "не" ("what") are also Russian words or parts of set phrases,
so they ask only in Kazakh speech: a particle in a Kazakh turn (its language "kk", or Kazakh letters in it) and not
in the greeting "сәлеметсіз бе"; "не" never in a Russian turn ("не работает" is "not"), always in a Kazakh one, and
in an unlabelled turn only before a Kazakh word ("не болды", but "біздің үйде лифт не работает" asks nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from classifier.language import KK_WORDS
from classifier.normalize import kk_fold, normalize
from qa.base import CallFacts, CheckOutcome, CheckResult, Conversation, Turn
from qa.rules import RepeatedQuestionRule
from qa.text import find_phrase, fold, has_kazakh_letters, quote

# Question words, folded (Kazakh letters as Russian ones, as qa.text.fold makes them): they ask in any turn.
QUESTION_WORDS = frozenset(
    fold(
        "когда где почему зачем как сколько что кто какой какая какое какие куда откуда ли чей разве неужели "
        "қашан қайда неге неліктен қалай қанша кім қай қандай қайдан қайда неше"
    )
)
# Kazakh question particles, folded: they ask only in Kazakh speech.
KAZAKH_PARTICLES = frozenset(fold("ма ме ба бе па пе ше"))
# Kazakh "what", the Russian "not".
KAZAKH_WHAT = "не"
# Greetings that end in a particle and ask nothing.
GREETINGS = tuple(fold(p) for p in ("сәлеметсіз бе", "сәлеметсіздер ме", "амансыз ба", "амансыздар ма"))
FILLER = frozenset(
    fold("а и ну вот это же да мне я вы у нас так там уже спрашиваю ал енді сонда ғой иә мен сіз біз сұраймын")
)


@dataclass(frozen=True, slots=True)
class Question:
    turn: Turn
    words: tuple[str, ...]
    marked: bool


def _without(plain: list[str], tokens: list[str], phrase: list[str]) -> tuple[list[str], list[str], bool]:
    """The turn's words (as said and folded) with every occurrence of a folded phrase taken out; whether any was."""
    found = False
    at = find_phrase(tokens, phrase)
    while at is not None:
        found = True
        plain = plain[:at] + plain[at + len(phrase) :]
        tokens = tokens[:at] + tokens[at + len(phrase) :]
        at = find_phrase(tokens, phrase)
    return plain, tokens, found


def _kazakh_word(token: str) -> bool:
    return has_kazakh_letters(token) or token in KK_WORDS


def _asks(turn: Turn, plain: list[str], tokens: list[str]) -> bool:
    """Whether the words ask something: a question word anywhere, a Kazakh particle or "не" in Kazakh speech."""
    if any(t in QUESTION_WORDS for t in tokens):
        return True
    kazakh_turn = turn.language == "kk" or any(has_kazakh_letters(t) for t in plain)
    if not kazakh_turn:
        return False
    if any(t in KAZAKH_PARTICLES for t in tokens):
        return True
    if turn.language == "ru":
        return False
    for i, token in enumerate(tokens):
        if token == KAZAKH_WHAT and (turn.language == "kk" or (i + 1 < len(plain) and _kazakh_word(plain[i + 1]))):
            return True
    return False


def _question(turn: Turn, markers: list[list[str]], min_words: int) -> Question | None:
    plain = normalize(turn.text).split()
    tokens = [kk_fold(t) for t in plain]
    marked = False
    for marker in markers:
        plain, tokens, found = _without(plain, tokens, marker)
        marked = marked or found
    compared = tuple(t for t in tokens if t not in FILLER)
    for greeting in GREETINGS:
        plain, tokens, _ = _without(plain, tokens, greeting)
    asks = "?" in turn.text or _asks(turn, plain, tokens)
    if not (asks or marked):
        return None
    words = compared
    if len(words) < min_words:
        return None
    return Question(turn, words, marked)


def similarity(a: Question, b: Question) -> float:
    return float(fuzz.token_sort_ratio(" ".join(a.words), " ".join(b.words))) / 100.0


def check(rule: RepeatedQuestionRule, talk: Conversation, facts: CallFacts) -> CheckResult:
    markers = [fold(p) for _, p in rule.phrases.pairs()]
    questions = [q for t in talk.caller if (q := _question(t, markers, rule.parameters.min_words)) is not None]
    if not questions:
        return CheckResult(rule.id, CheckOutcome.NOT_APPLICABLE, None, "The caller asked no questions.")
    limit = rule.parameters.similarity
    for n, later in enumerate(questions):
        for earlier in questions[:n]:
            score = similarity(earlier, later)
            if score >= limit:
                return CheckResult(
                    rule.id,
                    CheckOutcome.FAILED,
                    later.turn.start,
                    f"The caller asked again at {later.turn.start:.1f} s {quote(later.turn.text, 60)}; first at "
                    f"{earlier.turn.start:.1f} s {quote(earlier.turn.text, 60)} (similarity {score:.2f}).",
                )
    return CheckResult(
        rule.id,
        CheckOutcome.PASSED,
        None,
        f"The caller asked {len(questions)} question(s), none of them again.",
    )
