"""The language policy on scripted hypotheses (no recognizer): when it decides, probes, keeps and switches."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from asr.base import FinalSegment, Word
from asr.language_policy import Action, Heard, LanguagePolicy, Listen, Phase, PolicyConfig, Verdict

CFG = PolicyConfig()  # the shipped defaults: decide 3 s / 3 words, at most 10 s, give up at 20 s, re-check 45 s


def final(lang: str, text: str, conf: float, at: float) -> FinalSegment:
    """A final segment of ``text`` ending at call time ``at``, every word with confidence ``conf``."""
    tokens = text.split()
    words = tuple(Word(t, at - 0.3 * (len(tokens) - i), at - 0.3 * (len(tokens) - i) + 0.25, conf)
                  for i, t in enumerate(tokens))
    return FinalSegment(text=text, language=lang, start=words[0].start, end=at, words=words, confidence=conf)


@dataclass
class Script:
    """What each language's recognizer says, and when: finals by the time they end, partials from a time on."""

    finals: dict[str, list[FinalSegment]] = field(default_factory=dict)
    partials: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # (from call time, partial text)
    partial_calls: int = 0

    def listen(self, policy: LanguagePolicy, now: float) -> Listen:
        """Like the decoder: the languages decoding now, with the finals of the policy's current window."""
        active = policy.languages if policy.phase is not Phase.DECIDED else (policy.primary,)
        since = policy.window_start

        def heard(with_partials: bool) -> list[Heard]:
            out = []
            for lang in active:
                finals = tuple(f for f in self.finals.get(lang, ()) if since <= f.end <= now)
                partial = ""
                if with_partials:
                    self.partial_calls += 1
                    partial = next((p for t, p in reversed(self.partials.get(lang, [])) if t <= now), "")
                out.append(Heard(lang, finals, partial))
            return out

        return heard


def run(policy: LanguagePolicy, script: Script, until: float, step: float = 0.1, start: float = 0.0) -> list[Verdict]:
    """Step the policy every ``step`` seconds of call time like the decoder does; the verdicts that acted."""
    verdicts = []
    n = 1
    while (now := round(start + n * step, 6)) <= until:
        v = policy.step(now, script.listen(policy, now))
        if v.action is not Action.WAIT:
            verdicts.append(v)
        n += 1
    return verdicts


KK = "сәлеметсіз бе біздің үйде жарық жоқ"
RU_OF_KK = "салем и сиз бы биз дин уйде жарык жок"  # what a Russian recognizer makes of that Kazakh
RU = "здравствуйте у нас в доме нет света"
KK_OF_RU = "здрас твуйте у нас та доме нет сета"


def test_decides_after_decide_min_s_once_enough_words() -> None:
    script = Script(finals={"kk": [final("kk", KK, 0.9, 1.5)], "ru": [final("ru", RU_OF_KK, 0.55, 1.5)]})
    policy = LanguagePolicy(("kk", "ru"), default="ru")
    assert policy.phase is Phase.DECIDING and policy.primary == "ru"
    verdicts = run(policy, script, until=5.0)
    assert [(v.action, v.language) for v in verdicts] == [(Action.DECIDE, "kk")]
    assert verdicts[0].at == pytest.approx(CFG.decide_min_s), "not before decide_min_s, and not later"
    assert policy.phase is Phase.DECIDED and policy.primary == "kk"
    assert policy.decisions == [(3.0, "kk")]


def test_too_few_words_waits_until_decide_max_s_and_then_uses_partials() -> None:
    script = Script(finals={"kk": [], "ru": [final("ru", "алло да", 0.9, 2.0)]},
                    partials={"kk": [(6.0, "жоқ")], "ru": [(6.0, "")]})
    policy = LanguagePolicy(("kk", "ru"), default="kk")
    verdicts = run(policy, script, until=12.0)
    assert len(verdicts) == 1 and verdicts[0].action is Action.DECIDE
    assert verdicts[0].at == pytest.approx(CFG.decide_max_s)
    assert verdicts[0].language == "ru"  # two confident Russian words beat one partial Kazakh word (0.5)


def test_no_words_at_all_gives_up_to_the_default_after_decide_give_up_s() -> None:
    for default in ("ru", "kk"):
        script = Script(finals={"kk": [], "ru": []})
        policy = LanguagePolicy(("kk", "ru"), default=default)
        verdicts = run(policy, script, until=25.0)
        assert [(v.action, v.language) for v in verdicts] == [(Action.DECIDE, default)]
        assert verdicts[0].at == pytest.approx(CFG.decide_give_up_s)
        assert script.partial_calls > 0, "partials were consulted from decide_max_s on"
        assert policy.next_check == pytest.approx(CFG.decide_give_up_s + CFG.recheck_every_s)


def test_partials_are_fetched_only_when_needed() -> None:
    script = Script(finals={"kk": [final("kk", KK, 0.9, 1.0)], "ru": [final("ru", RU_OF_KK, 0.5, 1.0)]})
    policy = LanguagePolicy(("kk", "ru"), default="ru")
    run(policy, script, until=5.0)
    assert script.partial_calls == 0, "an early decision on finals never asks the recognizers for partials"


def test_rechecks_every_recheck_every_s_and_keeps_a_language_that_stays_better() -> None:
    kk_finals = [final("kk", KK, 0.9, t) for t in (1.0, 50.0, 99.0)]
    ru_finals = [final("ru", RU_OF_KK, 0.5, t) for t in (1.0, 50.0, 99.0)]
    policy = LanguagePolicy(("kk", "ru"), default="ru")
    verdicts = run(policy, Script(finals={"kk": kk_finals, "ru": ru_finals}), until=110.0)
    got = [(v.action, round(v.at, 1)) for v in verdicts]
    # decided at 3; probe at 3+45=48; a probed final arrives at 50, so the probe ends at 48+probe_min_s=52;
    # next probe at 52+45=97, its probed final at 99: ends at 101
    assert got == [(Action.DECIDE, 3.0), (Action.PROBE, 48.0), (Action.KEEP, 52.0), (Action.PROBE, 97.0),
                   (Action.KEEP, 101.0)]
    assert policy.primary == "kk" and policy.decisions == [(3.0, "kk")]


def test_a_probe_with_no_probed_final_lasts_probe_max_s() -> None:
    policy = LanguagePolicy(("kk", "ru"), default="ru")
    verdicts = run(policy, Script(finals={"kk": [final("kk", KK, 0.9, 1.0)], "ru": []}), until=60.0)
    assert [(v.action, round(v.at, 1)) for v in verdicts] == [
        (Action.DECIDE, 3.0), (Action.PROBE, 48.0), (Action.KEEP, 48.0 + CFG.probe_max_s)]


def test_switches_only_when_clearly_better() -> None:
    """Russian speech after a Kazakh start: the probe finds Russian clearly better and switches; a probe
    where the other language is better by no more than switch_margin keeps the current one."""
    kk_start = [final("kk", KK, 0.9, 1.0)]
    ru_start = [final("ru", RU_OF_KK, 0.5, 1.0)]
    clear = Script(finals={"kk": kk_start + [final("kk", KK_OF_RU, 0.55, 50.0)],
                           "ru": ru_start + [final("ru", RU, 0.9, 50.0)]})
    policy = LanguagePolicy(("kk", "ru"), default="kk")
    verdicts = run(policy, clear, until=60.0)
    assert [(v.action, v.language) for v in verdicts] == [
        (Action.DECIDE, "kk"), (Action.PROBE, "kk"), (Action.SWITCH, "ru")]
    assert verdicts[-1].previous == "kk" and policy.primary == "ru"
    assert policy.decisions == [(3.0, "kk"), (52.0, "ru")]

    # the same words in both (no text evidence either way), the other slightly more confident: no switch
    neutral = "ok ok ok"
    close = Script(finals={"kk": kk_start + [final("kk", neutral, 0.80, 50.0)],
                           "ru": ru_start + [final("ru", neutral, 0.85, 50.0)]})
    policy = LanguagePolicy(("kk", "ru"), default="kk")
    verdicts = run(policy, close, until=60.0)
    assert [v.action for v in verdicts] == [Action.DECIDE, Action.PROBE, Action.KEEP]
    assert policy.primary == "kk" and policy.decisions == [(3.0, "kk")]


def test_no_switch_on_partials_alone() -> None:
    """The other language looks better only in its unfinished partial: the probe keeps the current one."""
    script = Script(finals={"kk": [final("kk", KK, 0.9, 1.0), final("kk", "а", 0.3, 50.0)], "ru": []},
                    partials={"ru": [(49.0, "здравствуйте у нас в доме нет света")]})
    policy = LanguagePolicy(("kk", "ru"), default="kk")
    verdicts = run(policy, script, until=60.0)
    assert [v.action for v in verdicts] == [Action.DECIDE, Action.PROBE, Action.KEEP]
    assert policy.primary == "kk"


def test_mixed_kazakh_russian_speech() -> None:
    """Both recognizers hear a caller who mixes Kazakh and Russian. Each transcript carries markers of both
    languages (the Russian recognizer's more Russian ones), so the text evidence is weak and confidence
    weighs most: a clearly more confident Kazakh recognizer wins the decision despite the Russian words.
    When later mixed speech is recognised equally well by both, the Russian transcript's markers make "ru"
    clearly better and the call switches once; the next probe keeps "ru" (no switching back and forth)."""
    mixed_kk = "сәлеметсіз бе у нас в доме жылу жоқ уже три дня"
    mixed_ru = "салеметсиз бе у нас в доме жылу жок уже три дня"
    script = Script(finals={
        "kk": [final("kk", mixed_kk, 0.90, 2.5), final("kk", mixed_kk, 0.8, 50.0), final("kk", mixed_kk, 0.8, 99.0)],
        "ru": [final("ru", mixed_ru, 0.60, 2.5), final("ru", mixed_ru, 0.8, 50.0), final("ru", mixed_ru, 0.8, 99.0)],
    })
    policy = LanguagePolicy(("kk", "ru"), default="ru")
    verdicts = run(policy, script, until=110.0)
    assert [(v.action, v.language, round(v.at, 1)) for v in verdicts] == [
        (Action.DECIDE, "kk", 3.0), (Action.PROBE, "kk", 48.0), (Action.SWITCH, "ru", 52.0),
        (Action.PROBE, "ru", 97.0), (Action.KEEP, "ru", 101.0)]
    assert policy.decisions == [(3.0, "kk"), (52.0, "ru")]


def test_a_single_language_is_never_decided_nor_probed() -> None:
    policy = LanguagePolicy(("ru",), default="kk")
    assert policy.phase is Phase.DECIDED and policy.primary == "ru" and not policy.contested
    verdicts = run(policy, Script(finals={"ru": [final("ru", RU, 0.9, 1.0)]}), until=200.0, step=0.5)
    assert verdicts == []
    assert policy.conclude(200.0, lambda _: []).action is Action.WAIT


def test_the_end_of_the_call_decides_on_what_was_heard() -> None:
    script = Script(finals={"kk": [final("kk", "жоқ", 0.9, 1.0)], "ru": [final("ru", "жок", 0.4, 1.0)]})
    policy = LanguagePolicy(("kk", "ru"), default="ru")
    assert run(policy, script, until=2.0) == []  # a 2 s call: too short to decide on the way
    v = policy.conclude(2.0, script.listen(policy, 2.0))
    assert (v.action, v.language) == (Action.DECIDE, "kk")


def test_leader_while_deciding() -> None:
    script = Script(finals={"kk": [final("kk", KK, 0.9, 1.0)], "ru": [final("ru", RU_OF_KK, 0.5, 1.0)]})
    policy = LanguagePolicy(("kk", "ru"), default="ru")
    assert policy.leader(script.listen(policy, 1.5)) == "kk" and policy.primary == "ru"  # leading, not yet decided


def test_missing_audio_ends_a_probe_without_a_switch() -> None:
    script = Script(finals={"kk": [final("kk", KK, 0.9, 1.0)], "ru": [final("ru", RU, 0.95, 49.0)]})
    policy = LanguagePolicy(("kk", "ru"), default="kk")
    run(policy, script, until=49.0)
    assert policy.phase is Phase.PROBING
    v = policy.cancel_probe(49.0)
    assert (v.action, v.language) == (Action.KEEP, "kk") and policy.phase is Phase.DECIDED
    assert policy.next_check == pytest.approx(49.0 + CFG.recheck_every_s)
    assert policy.cancel_probe(50.0).action is Action.WAIT  # nothing to cancel


def test_times_are_on_the_call_clock_from_start_s() -> None:
    """A stream resumed 17.9 s into the call decides 3 s after that, not at 3 s."""
    script = Script(finals={"kk": [final("kk", KK, 0.9, 19.0)], "ru": [final("ru", RU_OF_KK, 0.5, 19.0)]})
    policy = LanguagePolicy(("kk", "ru"), default="ru", start_s=17.9)
    verdicts = run(policy, script, until=25.0, start=17.9)
    assert [(v.action, v.language) for v in verdicts] == [(Action.DECIDE, "kk")]
    assert verdicts[0].at == pytest.approx(17.9 + CFG.decide_min_s)
    assert policy.next_check == pytest.approx(17.9 + CFG.decide_min_s + CFG.recheck_every_s)


def test_unknown_default_falls_back_to_the_first_candidate() -> None:
    assert LanguagePolicy(("kk", "ru"), default="en").primary == "kk"
    with pytest.raises(ValueError):
        LanguagePolicy((), default="ru")
