"""The card proposer: whole-text proposals and per-call incremental scoring on the sklearn backend."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier import emergency as rules
from classifier.address import AddressExtractor, AddressReading, Mention, StreetIndex, heard_tokens
from classifier.base import CardProposal, EmergencyHint, HeardWord, Scored
from classifier.calibration import UNCALIBRATED, Calibration, ConfidenceKind
from classifier.features import FeatureState, street_name_words
from classifier.language import Lexicon, content_counts, with_evidence
from classifier.language import decide as decide_language
from classifier.language import vote as language_vote
from classifier.normalize import normalize
from classifier.sklearn_model import SklearnModel, calibrated_proba
from classifier.summary import make_summary
from classifier.word_repair import WordRepair
from core.taxonomy import EMERGENCY_CODES, Taxonomy

logger = logging.getLogger(__name__)

SUMMARY_WINDOW = 10  # words in the key phrase
TOP_K = 3
ADDRESS_RESCAN = 12  # tokens before the new ones that the address scanner re-reads
DEFAULT_THRESHOLD = 0.5
DEFAULT_RULE_VETO = 0.03  # a clean rule hit counts unless the model is this sure it is not that code


@dataclass(frozen=True, slots=True)
class EmergencyVerdict:
    """Emergency decision with its evidence; ``raw`` is the score its ``kind`` of confidence map calibrates."""

    primary: str
    also: tuple[str, ...]
    confidence: float
    evidence: str
    kind: ConfidenceKind = ConfidenceKind.EMERGENCY_NONE
    raw: float = 0.0


def decide_emergency(
    probs: dict[str, float], hits: list[rules.RuleHit], thresholds: dict[str, float], topic_emergency: float = 0.0
) -> EmergencyVerdict:
    """Combine the model's per-code probabilities with rule hits; codes ordered by taxonomy precedence.

    A code is on when the model alone is above its threshold, or when a rule hit that is neither negated nor
    about a past event fires and the model does not rule the code out (probability above a small veto). When
    the rules name other codes but not this one, the model alone needs at least ``model_beside_rules``: the
    phrase rules are the sharper judge of which service the words ask for.
    """
    veto = thresholds.get("rule_veto", DEFAULT_RULE_VETO)
    clean: dict[str, list[str]] = {}
    explicit: set[str] = set()  # codes the caller asked for by name: the model cannot veto them
    for h in hits:
        if not h.discounted:
            clean.setdefault(h.code, []).append(h.text)
            if h.explicit:
                explicit.add(h.code)
    beside = thresholds.get("model_beside_rules", 0.0)
    active: dict[str, float] = {}
    evidence: list[str] = []
    for code in EMERGENCY_CODES:
        p = probs.get(code, 0.0)
        threshold = thresholds.get(f"emergency_{code}", DEFAULT_THRESHOLD)
        if clean and code not in clean:
            threshold = max(threshold, beside)
        if p >= threshold:
            active[code] = p
        elif code in clean and (p >= veto or code in explicit):
            active[code] = max(p, 0.9)
        if code in active and code in clean:
            evidence.extend(clean[code])
    any_threshold = thresholds.get("emergency_any")
    p_any = probs.get("any", 0.0)
    topic_threshold = thresholds.get("topic_emergency")
    topic_says = topic_threshold is not None and topic_emergency >= topic_threshold
    if not active and ((any_threshold is not None and p_any >= any_threshold) or topic_says):
        # the call sounds like an emergency (the "any" head, or the topic head is sure it is the pure-emergency
        # topic, which by the taxonomy always carries a code) though no single code is sure: the likeliest code
        code = max(EMERGENCY_CODES, key=lambda c: probs.get(c, 0.0))
        active[code] = max(p_any, topic_emergency if topic_says else 0.0)
    leading = {h.code for h in hits if h.leads and not h.discounted}
    primary, also = rules.split_primary(set(active), leading)
    if primary == "none":
        top = max([probs.get(c, 0.0) for c in EMERGENCY_CODES] + [p_any])
        return EmergencyVerdict("none", (), round(1.0 - top, 4), "", ConfidenceKind.EMERGENCY_NONE, 1.0 - top)
    kind = ConfidenceKind.EMERGENCY_RULES if primary in clean else ConfidenceKind.EMERGENCY_MODEL
    raw = probs.get(primary, 0.0) if primary in clean else active[primary]
    return EmergencyVerdict(primary, also, round(active[primary], 4), ", ".join(dict.fromkeys(evidence)), kind, raw)


def assemble(
    taxonomy: Taxonomy,
    *,
    topics: tuple[str, ...],
    topic_p: np.ndarray,
    emergency_probs: dict[str, float],
    hits: list[rules.RuleHit],
    thresholds: dict[str, float],
    language: str,
    address: AddressReading,
    phrase: str,
    version: str,
    calibration: Calibration = UNCALIBRATED,
) -> CardProposal:
    """A CardProposal from any backend's probabilities: service by taxonomy routing, emergency by rules + model.

    The confidences shown are the calibrated chances of being right (``classifier.calibration``), not the heads'
    raw scores.
    """
    ti = int(np.argmax(topic_p))
    topic = topics[ti]
    services = sorted({taxonomy.service_for(t) for t in topics})
    service_p = np.zeros(len(services))
    for i, t in enumerate(topics):
        service_p[services.index(taxonomy.service_for(t))] += topic_p[i]
    service = taxonomy.service_for(topic)
    p_topic_emergency = float(topic_p[topics.index("emergency")]) if "emergency" in topics else 0.0
    verdict = decide_emergency(emergency_probs, hits, thresholds, p_topic_emergency)
    return CardProposal(
        topic=topic,
        service=service,
        emergency=verdict.primary,
        emergency_also=verdict.also,
        language=language,
        address=address.address,
        house_status=address.house_status,
        summary=make_summary(topic, address.address, phrase, language, taxonomy),
        confidence={
            "topic": calibration.apply(ConfidenceKind.TOPIC, float(topic_p[ti])),
            "service": calibration.apply(ConfidenceKind.SERVICE, float(service_p[services.index(service)])),
            "emergency": calibration.apply(verdict.kind, verdict.raw),
        },
        alternatives={"topic": _top(topics, topic_p), "service": _top(tuple(services), service_p)},
        model_version=version,
    )


def _top(labels: tuple[str, ...] | list[str], probs: np.ndarray, k: int = TOP_K) -> tuple[Scored, ...]:
    order = np.argsort(-probs, kind="stable")[:k]
    return tuple(Scored(labels[i], round(float(probs[i]), 4)) for i in order)


def token_confidences(tokens: list[str], heard: Sequence[HeardWord]) -> list[float]:
    """The recogniser's confidence of each normalised token (1.0 where its words do not align with the text)."""
    heard_toks, conf = heard_tokens(heard)
    return conf if heard_toks == tokens else [1.0] * len(tokens)


@dataclass(slots=True)
class CallText:
    """What any backend keeps of a call's words: tokens, rule hits, address mentions, language votes."""

    tokens: list[str] = field(default_factory=list)  # normalised tokens (aligned with FeatureState.aligned)
    confidences: list[float] = field(default_factory=list)  # the recogniser's confidence of each token (1.0: unknown)
    mentions: list[Mention] = field(default_factory=list)
    hits: list[rules.RuleHit] = field(default_factory=list)
    kk_votes: int = 0
    ru_votes: int = 0
    kk_words: int = 0  # Kazakh content words (language.content_counts)
    ru_words: int = 0

    def add(self, new_tokens: list[str], extractor: AddressExtractor, lexicon: Lexicon | None = None,
            confidences: Sequence[float] | None = None) -> int:
        """Append a segment's tokens (and each token's recogniser confidence, 1.0 when unknown), rescanning only a
        fixed tail; returns the previous token count."""
        n_prev = len(self.tokens)
        self.tokens.extend(new_tokens)
        self.confidences.extend(confidences if confidences is not None else [1.0] * len(new_tokens))
        r0 = max(0, n_prev - rules.RESCAN_TOKENS)
        d0 = max(0, n_prev - rules.REDISCOUNT_TOKENS)
        kept = [h for h in self.hits if h.start < r0]
        settled = [h for h in kept if h.start < d0]
        recheck = rules.rediscount([h for h in kept if h.start >= d0], self.tokens)
        self.hits = settled + recheck + rules.scan(self.tokens, r0)
        a0 = max(0, n_prev - ADDRESS_RESCAN)
        self.mentions = [m for m in self.mentions if m.start < a0] + extractor.mentions(self.tokens, a0,
                                                                                        self.confidences)
        v = language_vote(new_tokens)
        self.kk_votes += v.kk
        self.ru_votes += v.ru
        if lexicon is not None:
            kk_words, ru_words = content_counts(new_tokens, lexicon, street_name_words())
            self.kk_words += kk_words
            self.ru_words += ru_words
        return n_prev

    def partial_hits(self, partial_tokens: list[str]) -> list[rules.RuleHit]:
        """Clean rule hits of the call so far plus those in a partial text (nothing is stored)."""
        hits = [h for h in self.hits if not h.discounted]
        if partial_tokens:
            joined = self.tokens[-rules.CONTEXT_TOKENS :] + partial_tokens
            hits = hits + rules.scan(joined, len(joined) - len(partial_tokens))
        return hits


@dataclass(slots=True)
class _CallState(CallText):
    feats: FeatureState | None = None
    # summary: per-topic best window score and start, rolling window sum, per-token topic scores
    best_score: np.ndarray | None = None
    best_start: np.ndarray | None = None
    window_sum: np.ndarray | None = None
    token_scores: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=SUMMARY_WINDOW))


class SklearnCallScorer:
    """Incremental scorer of one call: each final segment costs time proportional to its own length."""

    def __init__(self, proposer: SklearnProposer) -> None:
        self._p = proposer
        self._s = _CallState(feats=proposer.model.incremental.new_state())
        self._last: CardProposal | None = None

    def add_final(self, text: str, words: Sequence[HeardWord] = ()) -> CardProposal:
        """Add a final segment's text (and its words' confidences) and return the updated proposal."""
        p = self._p
        s = self._s
        new_tokens = normalize(text).split()
        if not new_tokens:
            if self._last is None:
                self._last = p.build(s)
            return self._last
        assert s.feats is not None
        # the heads read misheard words put back (word_repair); rules and address read what was heard
        confidences = token_confidences(new_tokens, words)
        p.model.incremental.add(s.feats, " ".join(p.repair.repair(new_tokens, confidences)))
        # rules and address: rescan a fixed tail so words of this segment can complete or discount earlier ones
        n_prev = s.add(new_tokens, p.extractor, p.lexicon, confidences)
        p.update_windows(s, n_prev)
        self._last = p.build(s)
        return self._last

    def check_partial(self, text: str) -> EmergencyHint:
        """Emergency verdict for the call so far plus the partial text (nothing is stored)."""
        return self._p.hint(self._s, text)

    def proposal(self) -> CardProposal | None:
        """The latest proposal, or None before any text."""
        return self._last


class SklearnProposer:
    """A loaded sklearn classifier: proposes cards for whole texts and opens incremental scorers."""

    def __init__(self, model: SklearnModel, taxonomy: Taxonomy, streets: StreetIndex) -> None:
        self.model = model
        self.taxonomy = taxonomy
        self.extractor = AddressExtractor(streets)
        self.version = model.version
        self._topic_spec = model.heads["topic"]
        self._topics = self._topic_spec.classes
        self._lang_spec = model.heads.get("language")
        self._emergency_specs = {c: model.heads[f"emergency_{c}"] for c in (*EMERGENCY_CODES, "any")
                                 if f"emergency_{c}" in model.heads}
        self._thresholds = dict(model.thresholds)
        self.calibration = Calibration.from_json(model.metadata.get("calibration"))
        self.repair = WordRepair(model.incremental.unigram_idf())
        self.lexicon = Lexicon.from_lists(model.lexicon) if model.lexicon else None
        w = model.incremental.weights[:, self._topic_spec.columns]
        self._topic_weights = np.ascontiguousarray(w)

    # --- public contract ----------------------------------------------------------------------------------------
    def propose(self, text: str) -> CardProposal:
        """Propose a card for a whole text."""
        return self.open_call().add_final(text)

    def open_call(self) -> SklearnCallScorer:
        """Start incremental scoring of one call."""
        return SklearnCallScorer(self)

    # --- internals shared with the scorer ------------------------------------------------------------------------
    def _emergency_probs(self, decision: np.ndarray) -> dict[str, float]:
        return {c: float(calibrated_proba(spec, decision)[1]) for c, spec in self._emergency_specs.items()}

    def hint(self, s: _CallState, partial: str) -> EmergencyHint:
        """Rules on the partial words plus the model on (call so far + partial), without changing the state."""
        toks = normalize(partial).split()
        hits = s.partial_hits(toks)
        assert s.feats is not None
        decision = self.model.incremental.peek(s.feats, partial) if toks else self.model.incremental.decisions(s.feats)
        verdict = decide_emergency(self._emergency_probs(decision), hits, self._thresholds)
        confidence = self.calibration.apply(verdict.kind, verdict.raw)
        return EmergencyHint(verdict.primary, verdict.also, confidence, verdict.evidence)

    def update_windows(self, s: _CallState, n_prev: int) -> None:
        """Slide the key-phrase windows over the new tokens (per-topic best window of SUMMARY_WINDOW words)."""
        k = len(self._topics)
        if s.best_score is None:
            s.best_score = np.full(k, -np.inf)
            s.best_start = np.zeros(k, dtype=np.int64)
            s.window_sum = np.zeros(k)
        assert s.best_start is not None and s.window_sum is not None
        inc = self.model.incremental
        L = SUMMARY_WINDOW
        assert s.feats is not None
        feat_tokens = s.feats.aligned
        zero = np.zeros(k)
        for pos in range(n_prev, len(s.tokens)):
            tok = feat_tokens[pos] if pos < len(feat_tokens) else None
            idx = inc.unigram_index(tok) if tok is not None else None
            vec = self._topic_weights[idx] if idx is not None else zero
            dropped = s.token_scores[0] if len(s.token_scores) == L else zero
            s.token_scores.append(vec)
            s.window_sum = s.window_sum + vec - dropped
            if pos >= L - 1:
                better = s.window_sum > s.best_score
                s.best_score = np.where(better, s.window_sum, s.best_score)
                s.best_start = np.where(better, pos - L + 1, s.best_start)

    def key_phrase(self, s: _CallState, topic_index: int) -> str:
        """The window of the call that speaks most for the topic."""
        if len(s.tokens) < SUMMARY_WINDOW or s.best_start is None:
            return " ".join(s.tokens)
        start = int(s.best_start[topic_index])
        return " ".join(s.tokens[start : start + SUMMARY_WINDOW])

    def build(self, s: _CallState) -> CardProposal:
        """The proposal for the state's text so far."""
        assert s.feats is not None
        decision = self.model.incremental.decisions(s.feats)
        topic_p = calibrated_proba(self._topic_spec, decision)
        ti = int(np.argmax(topic_p))
        return assemble(
            self.taxonomy,
            topics=self._topics,
            topic_p=topic_p,
            emergency_probs=self._emergency_probs(decision),
            hits=s.hits,
            thresholds=self._thresholds,
            language=self._language(decision, s),
            address=self.extractor.judge(s.mentions),
            phrase=self.key_phrase(s, ti),
            version=self.version,
            calibration=self.calibration,
        )

    def _language(self, decision: np.ndarray, s: CallText) -> str:
        """The language head's label checked against content words; token votes only for a model without a head."""
        if self._lang_spec is not None:
            p = calibrated_proba(self._lang_spec, decision)
            label = self._lang_spec.classes[int(np.argmax(p))]
            return with_evidence(label, s.kk_words, s.ru_words) if self.lexicon is not None else label
        return decide_language(s.kk_votes, s.ru_votes)


def load_sklearn_proposer(model_dir: Path, taxonomy: Taxonomy, streets_path: Path | None = None) -> SklearnProposer:
    """Load an sklearn artifact directory and the street list into a ready proposer."""
    model = SklearnModel.load(model_dir, taxonomy)
    return SklearnProposer(model, taxonomy, StreetIndex.load(streets_path))
