"""Words as the checks compare them: normalised tokens (classifier.normalize) with Kazakh letters folded, each
with the time it was said, and phrase lookup over them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from classifier.normalize import kk_fold, normalize
from qa.base import Turn

KAZAKH_LETTERS = frozenset("әғқңөұүһі")


def fold(text: str) -> list[str]:
    """Normalised tokens with Kazakh letters folded to Russian ones ("сәлеметсіз" and "салеметсиз" compare equal)."""
    return [kk_fold(t) for t in normalize(text).split()]


def has_kazakh_letters(token: str) -> bool:
    """Whether a word is written with a Kazakh-only letter ("қайда", "біздің"): only Kazakh speech has them."""
    return not KAZAKH_LETTERS.isdisjoint(token)


@dataclass(frozen=True, slots=True)
class TimedTokens:
    """A turn's normalised tokens (unfolded, for numbers) and folded tokens (for phrases), with each one's time."""

    plain: tuple[str, ...]
    folded: tuple[str, ...]
    times: tuple[float, ...]

    @classmethod
    def of(cls, turn: Turn) -> TimedTokens:
        plain: list[str] = []
        times: list[float] = []
        word_tokens = [(normalize(w.text).split(), w.start) for w in turn.words]
        # The words' times when they spell the same text; else the text's tokens spread over the turn.
        if turn.words and sum(len(t) for t, _ in word_tokens) == len(normalize(turn.text).split()):
            for toks, at in word_tokens:
                plain.extend(toks)
                times.extend([at] * len(toks))
        else:
            plain = normalize(turn.text).split()
            step = (turn.end - turn.start) / len(plain) if plain else 0.0
            times = [turn.start + i * step for i in range(len(plain))]
        return cls(tuple(plain), tuple(kk_fold(t) for t in plain), tuple(times))


def find_phrase(tokens: Sequence[str], phrase: Sequence[str]) -> int | None:
    """The index where the folded ``phrase`` tokens start inside folded ``tokens``, or None."""
    n = len(phrase)
    if n == 0:
        return None
    for i in range(len(tokens) - n + 1):
        if tuple(tokens[i : i + n]) == tuple(phrase):
            return i
    return None


@dataclass(frozen=True, slots=True)
class PhraseHit:
    """A listed phrase heard in a turn: the phrase as written, the language it is listed under, and when."""

    phrase: str
    language: str
    at_s: float


def phrase_hits(turn: Turn, phrases: Iterable[tuple[str, str]]) -> list[PhraseHit]:
    """Every (language, phrase) of ``phrases`` heard in ``turn``, in time order."""
    toks = TimedTokens.of(turn)
    hits: list[PhraseHit] = []
    for language, phrase in phrases:
        at = find_phrase(toks.folded, fold(phrase))
        if at is not None:
            hits.append(PhraseHit(phrase, language, toks.times[at]))
    return sorted(hits, key=lambda h: h.at_s)


def quote(text: str, limit: int = 80) -> str:
    """A turn's text as evidence: «…», shortened to ``limit`` characters."""
    clean = " ".join(text.split())
    if len(clean) > limit:
        clean = clean[: limit - 1].rstrip() + "…"
    return f"«{clean}»"


def seconds(value: float) -> str:
    """A time for people: "12.5 s"."""
    return f"{value:.1f} s"
