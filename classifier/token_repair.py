"""Undo the recogniser's word-boundary errors before addresses are read: fillers out, glued words split, halves joined.

The repaired tokens remember which original token each came from, so mentions found on them are reported in the
caller's token positions (a split token gives two repaired tokens with the same origin).

A number word glued to an ordinary word ("екіжертөледе", "пятьлюк") is split when the rest is a word of the common
vocabulary (classifier/data/common_words.txt: the training split's words seen at least three times, written by
``python -m classifier.token_repair --vocabulary``); a word of that vocabulary is itself never split ("бірақ",
"үшін", "онда").
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

from classifier.normalize import kk_fold
from classifier.numbers import heard_number_word, number_word, sounds_like_number

# Words a caller says while thinking; Vosk writes them between a street and its number.
FILLERS = frozenset(
    {
        "ну",
        "ээ",
        "э",
        "эм",
        "мм",
        "м",
        "ммм",
        "эээ",
        "әлгі",
        "иә",
        "ия",
        "әә",
        "ә",
        "вот",
        "типа",
        "короче",
        "мынау",
        "енді",
        "это",
        "так",
        "значит",
        "слушайте",
        "тыңдаңыз",
    }
)
MIN_GLUED_LETTERS = 5  # shorter tokens are never split ("елуүш" is split)
MAX_PIECES = 3
MIN_SOUND_PIECE = 5  # a piece matched by sound (a number or a street word) has at least this many letters
SHORT_KEYWORD_PIECES = frozenset({"үй", "уй", "дом", "на"})  # "двенадцатьна сарыарке"
FULL_CONFIDENCE = 1.0
SPLIT_CACHE_SIZE = 50_000  # tokens whose split is remembered (the cache is emptied when full)
MIN_COMMON_COUNT = 3  # a training word seen this often is a known word
MIN_WORD_PIECE = 3  # an ordinary word glued to a number has at least this many letters ("пять люк")
MIN_NUMBER_BESIDE_WORD = 3  # the number glued to an ordinary word: "он" beside a word is too often a word's start
MIN_STREET_BESIDE_WORD = 6  # a street word glued to an ordinary word: "достанем" is not дост + анем


def common_words_path() -> Path:
    """The common word list shipped in the package."""
    return Path(str(resources.files("classifier") / "data" / "common_words.txt"))


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """The shipped common words (empty when the list is missing)."""
    try:
        text = common_words_path().read_text(encoding="utf-8")
    except OSError:
        return frozenset()
    return frozenset(w for w in text.split() if w)


class PieceKind(Enum):
    """What a piece of a glued token is."""

    NUMBER = "number"
    STREET = "street"
    KEYWORD = "keyword"  # улица, көшесі, дом, үй, пәтер...


@dataclass(frozen=True, slots=True)
class RepairedTokens:
    """Tokens after repair; repaired token k came from the original tokens [starts[k], ends[k])."""

    tokens: list[str]
    starts: list[int]
    ends: list[int]
    confidence: list[float]


class StreetWords(Protocol):
    """The street list's words (classifier.address.StreetIndex)."""

    def is_street_word(self, word: str) -> bool:
        """A case form of a street name's word."""
        ...

    def sounds_like_street_word(self, word: str) -> bool:
        """A street name's word, exactly or by its phonetic key."""
        ...


class TokenRepair:
    """Splits and joins tokens against a vocabulary of street words, number words and address keywords."""

    def __init__(
        self, streets: StreetWords, keywords: frozenset[str], vocabulary: frozenset[str] | None = None
    ) -> None:
        self._streets = streets
        self._keywords = keywords
        self._vocabulary = common_words() if vocabulary is None else vocabulary
        # keywords with Kazakh letters written as Russian ones ("тұрандангылы" → тұран даңғылы)
        self._folded_keywords = frozenset(kk_fold(k) for k in keywords)
        self._splits: dict[str, list[str]] = {}

    def piece_kind(self, piece: str) -> PieceKind | None:
        """The kind of a known piece, or None: number words (by sound from 5 letters), keywords (from 4 letters,
        and үй, дом), street words (from 4 letters, by sound from 5)."""
        if heard_number_word(piece) is not None:
            return PieceKind.NUMBER
        if len(piece) >= MIN_SOUND_PIECE and sounds_like_number(piece):
            return PieceKind.NUMBER
        if (piece in self._keywords or piece in self._folded_keywords) and (
            len(piece) >= 4 or piece in SHORT_KEYWORD_PIECES
        ):
            return PieceKind.KEYWORD
        if len(piece) >= 4 and self._streets.is_street_word(piece):
            return PieceKind.STREET
        if len(piece) >= MIN_SOUND_PIECE and self._streets.sounds_like_street_word(piece):
            return PieceKind.STREET
        return None

    def _known_as_written(self, piece: str) -> bool:
        """A piece that is a number word, keyword or street word as written (not only by sound)."""
        return (
            heard_number_word(piece) is not None
            or piece in self._keywords
            or piece in self._folded_keywords
            or self._streets.is_street_word(piece)
        )

    def split(self, token: str) -> list[str]:
        """``token`` cut into known pieces ("кенесарықырық" → кенесары қырық), or [token] when it is not glued.

        Fewest pieces win, then fewest pieces known only by sound ("тридцатьсемь" is тридцать семь, not
        тридцат ьсемь); a split needs a number word or a street word among its pieces, and a token that is itself
        known (a common word too) is never split. Only when no such split exists, a number or street word said as
        written may be cut from an ordinary word ("пятьлюк" → пять люк, "анамынжангелдин" → анамын жангелдин).
        """
        if len(token) < MIN_GLUED_LETTERS or token in self._vocabulary or not token.isalpha():
            return [token]
        cached = self._splits.get(token)
        if cached is None:
            if self.piece_kind(token) is not None:
                cached = [token]
            else:
                cached = self._best_split(token) or self._word_split(token) or [token]
            if len(self._splits) >= SPLIT_CACHE_SIZE:
                self._splits.clear()
            self._splits[token] = cached
        return list(cached)

    def _word_split(self, token: str) -> list[str] | None:
        """Two pieces, an ordinary word and a number or street word said as written ("пятьлюк", "анамынжангелдин")."""
        for cut in range(MIN_WORD_PIECE, len(token) - MIN_WORD_PIECE + 1):
            head, tail = token[:cut], token[cut:]
            if tail in self._vocabulary and self._beside_word(head):
                return [head, tail]
            if head in self._vocabulary and self._beside_word(tail):
                return [head, tail]
        return None

    def _beside_word(self, piece: str) -> bool:
        """A number word (3+ letters) or a street word (6+), as written, that may be glued to an ordinary word."""
        if heard_number_word(piece) is not None:
            return len(piece) >= MIN_NUMBER_BESIDE_WORD
        return len(piece) >= MIN_STREET_BESIDE_WORD and self._streets.is_street_word(piece)

    def _best_split(self, token: str) -> list[str] | None:
        n = len(token)
        # best[i]: (pieces, pieces known only by sound) covering token[:i], and the cut before the last piece
        best: list[tuple[int, int, int] | None] = [None] * (n + 1)
        kinds: dict[tuple[int, int], PieceKind] = {}
        best[0] = (0, 0, 0)
        for end in range(2, n + 1):
            for begin in range(0, end - 1):
                prev = best[begin]
                piece = token[begin:end]
                if prev is None or prev[0] >= MAX_PIECES or piece[0] in "ьъ":
                    continue
                kind = self.piece_kind(piece)
                if kind is None:
                    continue
                kinds[(begin, end)] = kind
                cand = (prev[0] + 1, prev[1] + (not self._known_as_written(piece)), begin)
                cur = best[end]
                if cur is None or cand[:2] < cur[:2]:
                    best[end] = cand
        last = best[n]
        if last is None or last[0] < 2:
            return None
        cuts: list[tuple[int, int]] = []
        end = n
        while end > 0:
            entry = best[end]
            assert entry is not None
            cuts.append((entry[2], end))
            end = entry[2]
        cuts.reverse()
        if not any(kinds[c] in (PieceKind.NUMBER, PieceKind.STREET) for c in cuts):
            return None
        return [token[a:b] for a, b in cuts]

    def _joins(self, first: str, second: str) -> bool:
        """Whether two tokens are the halves of one word the recogniser split ("двенад цать", "кенес ары")."""
        if len(first) < 2 or len(second) < 2 or number_word(second) is not None:
            return False
        if first in self._keywords or second in self._keywords:
            return False
        joined = first + second
        if number_word(joined) is not None or sounds_like_number(joined):
            return True  # "двенад цать", "два дцать"
        return (
            self.piece_kind(first) is None
            and len(joined) >= 7
            and self._streets.sounds_like_street_word(joined)
            and not self._streets.sounds_like_street_word(second)
        )

    def repair(self, tokens: Sequence[str], confidence: Sequence[float] | None = None) -> RepairedTokens:
        """Fillers dropped, glued tokens split, split halves joined; each repaired token keeps its origin."""
        conf = list(confidence) if confidence is not None else [FULL_CONFIDENCE] * len(tokens)
        out = RepairedTokens([], [], [], [])
        i = 0
        n = len(tokens)
        while i < n:
            tok = tokens[i]
            if tok in FILLERS:
                i += 1
                continue
            if i + 1 < n and self._joins(tok, tokens[i + 1]):
                out.tokens.append(tok + tokens[i + 1])
                out.starts.append(i)
                out.ends.append(i + 2)
                out.confidence.append(min(conf[i], conf[i + 1]))
                i += 2
                continue
            for piece in self.split(tok):
                out.tokens.append(piece)
                out.starts.append(i)
                out.ends.append(i + 1)
                out.confidence.append(conf[i])
            i += 1
        return out


def write_vocabulary(out: Path) -> int:
    """Write the training split's words seen at least MIN_COMMON_COUNT times to ``out``; returns how many.

    Reads only the train split (never the test, held-out or blind ones).
    """
    from classifier.corpus import default_corpus_dir, load_split  # the corpus is read only when the list is made
    from classifier.normalize import tokens
    from core.taxonomy import load_taxonomy

    counts: Counter[str] = Counter()
    for example in load_split(default_corpus_dir(), "train", load_taxonomy()):
        counts.update(t for t in tokens(example.text) if t.isalpha())
    words = sorted(w for w, c in counts.items() if c >= MIN_COMMON_COUNT)
    out.write_text("\n".join(words) + "\n", encoding="utf-8")
    return len(words)


def main() -> None:
    parser = argparse.ArgumentParser(description="Token repair's data.")
    parser.add_argument("--vocabulary", action="store_true", help="write classifier/data/common_words.txt")
    parser.add_argument("--out", type=Path, default=None, help="where to write the list (default: the package's)")
    args = parser.parse_args()
    if args.vocabulary:
        out = args.out or common_words_path()
        count = write_vocabulary(out)
        print(f"{count} words written to {out}")  # noqa: T201  (a command-line tool's result)
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
