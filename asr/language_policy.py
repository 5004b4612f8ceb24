"""When a call's language is decided, probed again and switched: a pure policy over what each recognizer heard.

The policy owns no recognizer and does no I/O. The decoder tells it the call time and lets it look at what
each language's recognizer has produced (``Listen``); the policy answers with a ``Verdict``: wait, decide,
start probing the other languages, keep the current one, or switch. Scores come from asr.language
(recognizer confidence plus Kazakh/Russian text evidence).

Life of a call with more than one candidate language::

    DECIDING --decide--> DECIDED --every recheck_every_s--> PROBING --keep / switch--> DECIDED ...

With a single candidate the call starts DECIDED and is never probed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asr.base import FinalSegment
from asr.language import Hypothesis, choose


class Phase(enum.Enum):
    """Where the call's language decision stands."""

    DECIDING = "deciding"  # every candidate decodes; their finals are held until one is chosen
    DECIDED = "decided"  # one language decodes and its segments are given out
    PROBING = "probing"  # the chosen language goes on; the others decode beside it for a while


class Action(enum.Enum):
    """What the decoder must do now."""

    WAIT = "wait"  # nothing yet
    DECIDE = "decide"  # ``language`` is chosen: give out its held finals, release the other recognizers
    PROBE = "probe"  # start decoding the other languages beside ``language``
    KEEP = "keep"  # the probe is over and ``language`` stays: release the probing recognizers
    SWITCH = "switch"  # the probe is over and ``language`` is clearly better than ``previous``: hand over


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer at call time ``at``."""

    action: Action
    language: str  # the language that leads after this verdict
    at: float
    previous: str | None = None  # on SWITCH: the language handed over from


@dataclass(frozen=True, slots=True)
class Heard:
    """What one language's recognizer produced in the current window: its finals and its pending partial."""

    language: str
    finals: tuple[FinalSegment, ...] = ()
    partial: str = ""

    def hypothesis(self) -> Hypothesis:
        """The scoring view of what was heard."""
        return Hypothesis.from_results(self.language, self.finals, self.partial)


# listen(with_partials) -> what each active recognizer heard; partials are costly to fetch, so only on request
Listen = Callable[[bool], Sequence[Heard]]


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """The policy's knobs; times are seconds of call time (see asr.decoder.DecoderOptions)."""

    decide_min_s: float = 3.0  # decide after at least this much audio...
    decide_min_words: int = 3  # ...once the leading recognizer has this many words in finals
    decide_max_s: float = 10.0  # after this long, decide with whatever words there are (partials too)
    decide_give_up_s: float = 20.0  # no words at all by then: take the default language, re-check later
    recheck_every_s: float = 45.0  # then probe the other languages this often
    probe_min_s: float = 4.0  # a probe ends once a probed language gave a final and this much time passed...
    probe_max_s: float = 8.0  # ...or after this long in any case
    switch_margin: float = 0.1  # switch only when the other language scores more than this above


class LanguagePolicy:
    """One call's language decision (pure: call time and scripted or real hypotheses in, verdicts out)."""

    def __init__(
        self, languages: Sequence[str], *, config: PolicyConfig | None = None, default: str = "ru",
        start_s: float = 0.0,
    ) -> None:
        if not languages:
            raise ValueError("no candidate languages")
        self.languages = tuple(languages)
        self.config = config or PolicyConfig()
        self.default = default if default in self.languages else self.languages[0]
        self.phase = Phase.DECIDING if self.contested else Phase.DECIDED
        self.primary = self.default if self.contested else self.languages[0]
        self.window_start = start_s
        self.next_check = start_s + self.config.recheck_every_s
        self.decisions: list[tuple[float, str]] = []  # (call time, language) each time the choice was made

    @property
    def contested(self) -> bool:
        """Whether there is more than one candidate language."""
        return len(self.languages) > 1

    def leader(self, listen: Listen) -> str:
        """The language leading now (while deciding: the best so far by finals; else the chosen one)."""
        if self.phase is not Phase.DECIDING:
            return self.primary
        return choose(_hypotheses(listen(False)), default=self.primary)

    def step(self, now: float, listen: Listen) -> Verdict:
        """Called as call audio is decoded (``now`` is the call time reached); what to do at this point."""
        cfg = self.config
        if self.phase is Phase.DECIDING:
            elapsed = now - self.window_start
            if elapsed < cfg.decide_min_s:
                return self._wait(now)
            hyps = _hypotheses(listen(False))
            most = max((len(h.words) for h in hyps), default=0)
            if most >= cfg.decide_min_words:
                return self._decide(now, hyps)
            if elapsed >= cfg.decide_max_s:
                with_partials = _hypotheses(listen(True))
                if most > 0 or any(h.words for h in with_partials):
                    return self._decide(now, with_partials)
            if elapsed >= cfg.decide_give_up_s:
                return self._decide(now, hyps)
            return self._wait(now)
        if self.phase is Phase.DECIDED:
            if self.contested and now >= self.next_check:
                self.phase = Phase.PROBING
                self.window_start = now
                return Verdict(Action.PROBE, self.primary, now)
            return self._wait(now)
        elapsed = now - self.window_start
        if elapsed < min(cfg.probe_min_s, cfg.probe_max_s):
            return self._wait(now)
        others = [h for h in listen(False) if h.language != self.primary]
        has_words = any(h.hypothesis().words for h in others)
        probed = any(h.finals for h in others)
        if elapsed >= cfg.probe_max_s or (elapsed >= cfg.probe_min_s and probed):
            return self._end_probe(now, listen(True), has_words)
        return self._wait(now)

    def conclude(self, now: float, listen: Listen) -> Verdict:
        """The call's audio ended: a call still deciding decides now on its finals; otherwise nothing changes."""
        if self.phase is Phase.DECIDING:
            return self._decide(now, _hypotheses(listen(False)))
        return self._wait(now)

    def cancel_probe(self, now: float) -> Verdict:
        """Audio is missing (skipped): a running probe ends without a switch; the next one comes on schedule."""
        if self.phase is not Phase.PROBING:
            return self._wait(now)
        self.phase = Phase.DECIDED
        self.next_check = now + self.config.recheck_every_s
        return Verdict(Action.KEEP, self.primary, now)

    # -- internals --------------------------------------------------------------------------------

    def _wait(self, now: float) -> Verdict:
        return Verdict(Action.WAIT, self.primary, now)

    def _decide(self, now: float, hyps: Sequence[Hypothesis]) -> Verdict:
        winner = choose(hyps, default=self.primary)
        self.primary = winner
        self.decisions.append((round(now, 3), winner))
        self.phase = Phase.DECIDED
        self.next_check = now + self.config.recheck_every_s
        return Verdict(Action.DECIDE, winner, now)

    def _end_probe(self, now: float, heard: Sequence[Heard], has_words: bool) -> Verdict:
        """Compare the probed languages with the current one over the probe window; switch if clearly better."""
        current = [h for h in heard if h.language == self.primary]
        others = [h for h in heard if h.language != self.primary]
        hyps = _hypotheses([*current, *others])  # the current language first: it wins exact ties
        winner = choose(hyps, default=self.primary, current=self.primary, margin=self.config.switch_margin)
        self.phase = Phase.DECIDED
        self.next_check = now + self.config.recheck_every_s
        if winner != self.primary and has_words:
            previous, self.primary = self.primary, winner
            self.decisions.append((round(now, 3), winner))
            return Verdict(Action.SWITCH, winner, now, previous)
        return Verdict(Action.KEEP, self.primary, now)


def _hypotheses(heard: Sequence[Heard]) -> list[Hypothesis]:
    return [h.hypothesis() for h in heard]
