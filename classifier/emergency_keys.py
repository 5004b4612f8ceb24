"""Phonetic keys for the emergency rules, so that a rule stem still matches what a damaged recognition wrote.

Vosk on telephone speech confuses voicing pairs (б/п в/ф г/к д/т ж/ш з/с), vowels (о/а е/и ы/і ө/о ұ/у), writes
Russian neighbours for Kazakh letters (ә→а қ→к ң→н ...), splits long words, merges neighbouring ones and keeps
fillers. The rules therefore match on keys, never on spelling: each recognised word and each rule pattern is
folded the same way (Kazakh letters to Russian ones, each voicing pair to one letter, each vowel class to one
letter, soft and hard signs dropped, doubled letters single), and the recognised words become a ``KeyStream``:
fillers left out, a long word split in two joined again, two merged words split again, each key remembering which
recognised tokens it came from.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # noqa: PLC2701  (the width of a pattern: no public API)
from dataclasses import dataclass
from functools import lru_cache

# One letter per class: vowels а/о/ә/ө/я, е/и/і/ы/э/й, у/ұ/ү/ю; voicing pairs; Kazakh letters to their neighbours.
_KEY_FOLD = str.maketrans(
    {
        "о": "а", "ә": "а", "ө": "а", "я": "а",
        "е": "и", "ё": "и", "і": "и", "ы": "и", "э": "и", "й": "и",
        "ұ": "у", "ү": "у", "ю": "у",
        "б": "п", "в": "ф", "г": "к", "ғ": "к", "қ": "к", "д": "т", "ж": "ш", "щ": "ш", "з": "с",
        "ң": "н", "һ": "х", "ь": "", "ъ": "",
    }
)  # fmt: skip
_DOUBLED = re.compile(r"([а-я])\1+")
# A word kept out of key matching (see ``STOPWORDS``) is written with this prefix: no rule stem starts with it.
_LITERAL_MARK = "q"


@lru_cache(maxsize=65536)
def word_key(word: str) -> str:
    """The phonetic key of one recognised word (``газдың`` → ``каснин``, ``кас`` → ``кас``)."""
    return _DOUBLED.sub(r"\1", word.translate(_KEY_FOLD))


def pattern_key(pattern: str) -> str:
    """A rule pattern with its letters folded like ``word_key`` (regex syntax is Latin and stays as it is)."""
    return _DOUBLED.sub(r"\1", pattern.translate(_KEY_FOLD))


@dataclass(frozen=True, slots=True)
class StreamLexicon:
    """What the stream builder needs besides the fold: fillers, words kept literal, and the anchors."""

    fillers: frozenset[str]  # keys of words dropped from the stream ("ну", "әлгі", "иә")
    stopwords: re.Pattern[str]  # stems of ordinary words whose key equals a rule stem's key: matched only as spelt
    anchor: re.Pattern[str]  # long stem keys: a split word is joined, a merged word is split, at one of these
    tail: re.Pattern[str]  # short whole-word keys a merged word may end with ("газом", "люк")
    unjoinable: frozenset[str]  # keys of function words never joined to a neighbour ("то", "нет")


def stream_lexicon(
    fillers: list[str], stopwords: list[str], anchors: list[str], tails: list[str], unjoinable: list[str]
) -> StreamLexicon:
    """Fold the plain-spelling word lists of the lexicon into keys."""
    anchor_keys = sorted({word_key(a) for a in anchors}, key=len, reverse=True)
    tail_keys = sorted({word_key(t) for t in tails}, key=len, reverse=True)
    return StreamLexicon(
        fillers=frozenset(word_key(f) for f in fillers),
        stopwords=re.compile("(?:" + "|".join(stopwords) + ")") if stopwords else re.compile("(?!)"),
        anchor=re.compile("|".join(anchor_keys)),
        tail=re.compile("(?:" + "|".join(tail_keys) + ")$"),
        unjoinable=frozenset(word_key(w) for w in unjoinable),
    )


@dataclass(frozen=True, slots=True)
class KeyStream:
    """Keys of a run of recognised tokens; key ``i`` came from tokens ``[start[i], end[i])`` (offsets included)."""

    keys: list[str]  # what rules match on (a stop word is marked so that no rule starts on it)
    plain: list[str]  # what discounts read (a stop word's own key: "жолдың" still says "road")
    words: list[str]  # the recognised word each key came from, as spelt (negators are read on these)
    start: list[int]
    end: list[int]
    text: str
    offsets: list[int]  # character offset of each key in ``text``

    def first_at_or_after(self, token: int) -> int:
        """Index of the first key that came from token ``token`` or a later one (len(keys) when none)."""
        for i, s in enumerate(self.start):
            if s >= token:
                return i
        return len(self.keys)


def _split_merged(key: str, lex: StreamLexicon) -> list[str]:
    """A merged word's key cut before an anchor or a tail that starts inside it (``пахнитkасам`` → two keys)."""
    if len(key) < 5:
        return [key]
    head = lex.anchor.match(key)  # a word that starts with a stem is cut only after that stem
    m = lex.anchor.search(key, head.end() if head is not None else 1)
    # the stem must sit at the word's end (its ending at most 2 letters longer), after 3+ letters of another word
    cut = m.start() if m is not None and m.start() >= 3 and len(key) - m.end() <= 2 else -1
    if cut < 0:
        t = lex.tail.search(key, head.end() if head is not None else 1)
        cut = t.start() if t is not None else -1
    if cut < 3:
        return [key]
    return [key[:cut], *_split_merged(key[cut:], lex)]


def _joins(a: str, b: str, lex: StreamLexicon) -> bool:
    """Two keys that are one long word split in two: together they start with an anchor, neither alone does."""
    if a in lex.unjoinable or b in lex.unjoinable or lex.anchor.match(a) or lex.anchor.match(b):
        return False
    joined = a + b
    m = lex.anchor.match(joined)
    return m is not None and m.end() - len(a) >= 3


def key_stream(tokens: list[str], lex: StreamLexicon, base: int = 0) -> KeyStream:
    """The key stream of ``tokens`` (token ``i`` is recognised token ``base + i``)."""
    folded: list[tuple[str, int]] = []
    for i, tok in enumerate(tokens):
        k = word_key(tok)
        if lex.stopwords.match(tok):
            folded.append((_LITERAL_MARK + k, i))
        elif k and k not in lex.fillers:
            folded.append((k, i))
    keys: list[str] = []
    start: list[int] = []
    end: list[int] = []
    j = 0
    while j < len(folded):
        k, i = folded[j]
        if j + 1 < len(folded) and not k.startswith(_LITERAL_MARK) and _joins(k, folded[j + 1][0], lex):
            k2, i2 = folded[j + 1]
            keys.append(k + k2)
            start.append(base + i)
            end.append(base + i2 + 1)
            j += 2
            continue
        parts = [k] if k.startswith(_LITERAL_MARK) else _split_merged(k, lex)
        for part in parts:
            keys.append(part)
            start.append(base + i)
            end.append(base + i + 1)
        j += 1
    offsets: list[int] = []
    pos = 0
    for k in keys:
        offsets.append(pos)
        pos += len(k) + 1
    plain = [k.removeprefix(_LITERAL_MARK) for k in keys]
    words = [tokens[i - base] for i in start]
    return KeyStream(keys, plain, words, start, end, " ".join(keys), offsets)


def alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex (``a|b(?:c|d)|e`` → ``a``, ``b(?:c|d)``, ``e``)."""
    out: list[str] = []
    depth = 0
    in_class = False
    start = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def min_width(pattern: str) -> int:
    """The fewest characters the pattern can match."""
    return int(sre_parse.parse(pattern).getwidth()[0])


def spelling_stream(tokens: list[str], lex: StreamLexicon, base: int = 0) -> KeyStream:
    """``tokens`` with fillers left out, spelling kept: where short stems match (no phonetic key)."""
    keys: list[str] = []
    start: list[int] = []
    for i, tok in enumerate(tokens):
        if word_key(tok) in lex.fillers:
            continue
        keys.append(tok)
        start.append(base + i)
    offsets: list[int] = []
    pos = 0
    for k in keys:
        offsets.append(pos)
        pos += len(k) + 1
    return KeyStream(keys, keys, keys, start, [s + 1 for s in start], " ".join(keys), offsets)
