"""High-recall emergency rules in Russian and Kazakh (101/102/103/104), with negation and past-event checks.

The phrase tables are in classifier/emergency_lexicon.py. Matching runs on phonetic keys
(classifier/emergency_keys.py), so the rules hold on damaged recognition output: voicing and vowel confusions,
Kazakh letters written as Russian ones, fillers, split and merged words. Negation, past events, complaints and
anti-contexts are read on the same keys.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from enum import Enum

from classifier import emergency_lexicon as lex
from classifier.emergency_keys import (
    KeyStream,
    alternatives,
    key_stream,
    min_width,
    pattern_key,
    spelling_stream,
    stream_lexicon,
    word_key,
)
from classifier.normalize import normalize

PRECEDENCE = lex.PRECEDENCE


FUZZY_MIN_WIDTH = 5  # an alternative that can match fewer key letters is matched as spelt (Kazakh letters folded)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern_key(pattern))


def _token_start(pattern: str) -> str:
    return r"(?<!\S)(?:" + pattern + r")"


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule compiled twice: long alternatives on phonetic keys, short ones on spelling; anti-context on keys."""

    code: str
    fuzzy: re.Pattern[str] | None
    exact: re.Pattern[str] | None
    anti: re.Pattern[str] | None
    traits: frozenset[RuleTrait] = frozenset()


class RuleTrait(Enum):
    """What sets a rule apart from the plain ones (each listed by code and position in the lexicon)."""

    LEADS = "leads"  # its code leads the card over the precedence (lex.LEADING: the door ruling)
    NEEDS_NOW = "needs_now"  # counts only with a sign that it is happening now (lex.NEEDS_NOW: the fraud ruling)
    EXPLICIT_REQUEST = "explicit_request"  # the caller asks for the service now; no model veto (lex.EXPLICIT_REQUEST)


_TRAIT_TABLES = ((RuleTrait.LEADS, lex.LEADING), (RuleTrait.NEEDS_NOW, lex.NEEDS_NOW),
                 (RuleTrait.EXPLICIT_REQUEST, lex.EXPLICIT_REQUEST))


def _traits(code: str, position: int) -> frozenset[RuleTrait]:
    return frozenset(trait for trait, table in _TRAIT_TABLES if position in table.get(code, ()))


def _rule(code: str, pattern: str, anti: str, traits: frozenset[RuleTrait] = frozenset()) -> _Rule:
    alts = alternatives(pattern)
    long_alts = [a for a in alts if min_width(pattern_key(a)) >= FUZZY_MIN_WIDTH and not a.startswith(lex.SPELT)]
    short_alts = [a for a in alts if a not in long_alts]
    return _Rule(
        code,
        _compile(_token_start("|".join(long_alts))) if long_alts else None,
        re.compile(_token_start("|".join(short_alts))) if short_alts else None,
        _compile(_token_start(anti)) if anti else None,
        traits,
    )


_COMPILED: list[_Rule] = [
    _rule(code, pat, anti, _traits(code, i))
    for code, rules in lex.RULES.items()
    for i, (pat, anti) in enumerate(rules)
]
_NOW_SIGNS = _compile(lex.NOW_SIGNS)
_DONE_SIGNS = _compile(lex.DONE_SIGNS)
_PAST_OR_COMPLAINT = _compile(lex.PAST_OR_COMPLAINT)
_PAST_SPELT = re.compile(lex.PAST_SPELT)
_ONGOING = _compile(lex.ONGOING)
_RECENT = _compile(lex.RECENT)
_MISSING = _compile(r"(?<!\S)(?:" + lex.MISSING + r")")
_FOUND = _compile(lex.FOUND)
_RESCUED = _compile(lex.RESCUED)
_NEGATORS = frozenset(word_key(w) for w in lex.NEGATORS)
_KK_NEGATORS = frozenset(word_key(w) for w in lex.KK_NEGATORS)
_NEGATOR_LOOKALIKES = frozenset(lex.NEGATOR_LOOKALIKES)
_NEGATED_STEM = word_key("не") + " "
_STREAM = stream_lexicon(lex.FILLERS, lex.STOPWORDS, lex.ANCHORS, lex.TAILS, lex.UNJOINABLE)

CONTEXT_TOKENS = 10  # tokens either side of a hit searched for past-event and complaint words
RESCAN_TOKENS = 8  # a streaming scan re-reads this many tokens before the new ones (longest phrase)
REDISCOUNT_TOKENS = CONTEXT_TOKENS + 8  # hits this close to the end are re-checked for past/negation words


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One phrase rule that fired: code, token span [start, end), the words, and whether it is discounted."""

    code: str
    start: int
    end: int
    text: str
    discounted: bool  # negated, or a past event / complaint nearby
    rule: int = -1  # index of the rule that fired

    @property
    def leads(self) -> bool:
        """Whether this hit's code leads the card over the taxonomy's precedence (a ruling, lex.LEADING)."""
        return 0 <= self.rule < len(_COMPILED) and RuleTrait.LEADS in _COMPILED[self.rule].traits

    @property
    def explicit(self) -> bool:
        """Whether the caller asked for the service itself right now (the model cannot veto it)."""
        return 0 <= self.rule < len(_COMPILED) and RuleTrait.EXPLICIT_REQUEST in _COMPILED[self.rule].traits


def _negator(stream: KeyStream, i: int, negators: frozenset[str]) -> bool:
    """Key ``i`` is a negator, and its word is no look-alike ("нее" and "бес" fold to the keys of "не", "без")."""
    return stream.plain[i] in negators and stream.words[i] not in _NEGATOR_LOOKALIKES


def _past(stream: KeyStream, lo: int, hi: int) -> bool:
    keyed = _RECENT.sub(" ", " ".join(stream.plain[lo:hi]))
    return bool(_PAST_OR_COMPLAINT.search(keyed) or _PAST_SPELT.search(" ".join(stream.words[lo:hi])))


def _discounted(stream: KeyStream, si: int, sj: int, code: str, matched: str, rule: int) -> bool:
    """Negated, or a past event / complaint / ordinary use nearby (hit at keys [si, sj) of ``stream``)."""
    keys = stream.plain
    if si > 0 and _negator(stream, si - 1, _NEGATORS) and not matched.startswith(_NEGATED_STEM):
        return True
    if code in ("101", "104") and any(_negator(stream, k, _KK_NEGATORS) for k in range(sj, min(sj + 2, len(keys)))):
        return True
    lo, hi = max(0, si - CONTEXT_TOKENS), sj + CONTEXT_TOKENS
    window = _RECENT.sub(" ", " ".join(keys[lo:hi]))
    if _MISSING.search(matched):
        # a missing person stays missing: "left yesterday" is no past event, only "found" is
        if _FOUND.search(window):
            return True
    elif _past(stream, lo, hi):
        # a gas smell that grows now is a call now, however long it has been there
        if not (code == "104" and _ONGOING.search(window)):
            return True
    if code == "101" and _RESCUED.search(window):
        return True
    if RuleTrait.NEEDS_NOW in _COMPILED[rule].traits and (_DONE_SIGNS.search(window) or not _NOW_SIGNS.search(window)):
        return True
    anti = _COMPILED[rule].anti
    return anti is not None and bool(anti.search(" ".join(keys[max(0, si - 6) : sj + 6])))


def _words(tokens: list[str], base: int, start: int, end: int) -> str:
    return " ".join(tokens[start - base : end - base])


def _key_span(stream: KeyStream, start: int, end: int) -> tuple[int, int]:
    """Keys [si, sj) that came from tokens [start, end)."""
    si = stream.first_at_or_after(start)
    sj = si
    while sj < len(stream.keys) and stream.start[sj] < end:
        sj += 1
    return si, max(sj, si + 1)


def scan(tokens: list[str], start: int = 0) -> list[RuleHit]:
    """Rule hits that begin at token ``start`` or later (context before ``start`` is read, nothing earlier).

    Cost is proportional to ``len(tokens) - start`` plus a fixed context, so a call's scorer can rescan only
    the tail when a segment arrives.
    """
    base = max(0, start - CONTEXT_TOKENS - 8)
    sub = tokens[base:]
    if not sub:
        return []
    keys = key_stream(sub, _STREAM, base)
    spelt = spelling_stream(sub, _STREAM, base)
    hits: dict[tuple[int, int], RuleHit] = {}
    for rule, compiled in enumerate(_COMPILED):
        for stream, pattern in ((keys, compiled.fuzzy), (spelt, compiled.exact)):
            if pattern is None:
                continue
            first_key = stream.first_at_or_after(start)
            first = stream.offsets[first_key] if first_key < len(stream.offsets) else len(stream.text)
            for m in pattern.finditer(stream.text, first):
                mi = bisect_right(stream.offsets, m.start()) - 1
                mj = bisect_right(stream.offsets, max(m.start(), m.end() - 1))
                ti, tj = stream.start[mi], stream.end[mj - 1]
                if ti < start or (rule, ti) in hits:
                    continue
                matched = pattern_key(m.group().strip())
                si, sj = _key_span(keys, ti, tj)
                discounted = _discounted(keys, si, sj, compiled.code, matched, rule)
                hits[(rule, ti)] = RuleHit(compiled.code, ti, tj, _words(sub, base, ti, tj), discounted, rule)
    return sorted(hits.values(), key=lambda h: (h.start, h.code))


def _rematch(tokens: list[str], base: int, keys: KeyStream, hit: RuleHit) -> str:
    """The key text the hit's rule matched (to re-read its discount), else the keys of its tokens."""
    compiled = _COMPILED[hit.rule]
    si, sj = _key_span(keys, hit.start, hit.end)
    if compiled.fuzzy is not None and si < len(keys.keys):
        m = compiled.fuzzy.match(keys.text, keys.offsets[si])
        if m is not None:
            return m.group().strip()
    spelt = spelling_stream(tokens, _STREAM, base)
    pi = spelt.first_at_or_after(hit.start)
    if compiled.exact is not None and pi < len(spelt.keys):
        m = compiled.exact.match(spelt.text, spelt.offsets[pi])
        if m is not None:
            return pattern_key(m.group().strip())
    return " ".join(keys.keys[si:sj])


def rediscount(hits: list[RuleHit], tokens: list[str]) -> list[RuleHit]:
    """The same hits with their discount re-read against ``tokens`` (words that came after them may change it)."""
    out = []
    for h in hits:
        base = max(0, h.start - CONTEXT_TOKENS - 8)
        window = tokens[base : h.end + CONTEXT_TOKENS]
        keys = key_stream(window, _STREAM, base)
        si, sj = _key_span(keys, h.start, h.end)
        d = _discounted(keys, si, sj, h.code, _rematch(window, base, keys, h), h.rule)
        out.append(h if d == h.discounted else RuleHit(h.code, h.start, h.end, h.text, d, h.rule))
    return out


def rule_hits(norm: str) -> list[RuleHit]:
    """All rule hits in normalised text."""
    return scan(norm.split())


def order_codes(codes: set[str] | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Codes sorted by taxonomy precedence (101, 103, 104, 102)."""
    present = set(codes)
    return tuple(c for c in PRECEDENCE if c in present)


def split_primary(
    codes: set[str] | list[str] | tuple[str, ...], leading: set[str] | frozenset[str] = frozenset()
) -> tuple[str, tuple[str, ...]]:
    """("none", ()) or (primary, also) by precedence; a ``leading`` code present (a ruling's) goes first when every
    other code is one it leads over (``lex.LEADS_OVER``: the door ruling's 102 before 103; a fire or a gas smell
    behind the door keeps the precedence)."""
    ordered = order_codes(codes)
    if not ordered:
        return "none", ()
    first = next(
        (c for c in ordered if c in leading and set(ordered) - {c} <= lex.LEADS_OVER.get(c, frozenset())), ordered[0]
    )
    return first, tuple(c for c in ordered if c != first)


def rules_only(text: str) -> tuple[str, tuple[str, ...], str]:
    """Rules alone on raw text: (primary, also, evidence). Discounted hits do not count."""
    norm = normalize(text)
    hits = [h for h in rule_hits(norm) if not h.discounted]
    primary, also = split_primary({h.code for h in hits}, {h.code for h in hits if h.leads})
    evidence = ", ".join(dict.fromkeys(h.text for h in hits))
    return primary, also, evidence
