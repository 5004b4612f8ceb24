"""Train, evaluate and version the classifier: corpus (+ operators' confirmed cards) in, artifact + metrics out."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from classifier import emergency as rules
from classifier.address import StreetIndex
from classifier.augment import augment_grouped
from classifier.base import CardProposer
from classifier.corpus import Example, corpus_hash, training_data, training_files
from classifier.features import feature_text
from classifier.normalize import normalize
from classifier.proposer import SklearnProposer, decide_emergency
from classifier.sklearn_model import SklearnModel, fit_model
from core.errors import ClassifierError
from core.taxonomy import EMERGENCY_CODES, Taxonomy

logger = logging.getLogger(__name__)

# Part of every model version's hash: bump when training code changes what a model is (features, heads, rules).
TRAINING_REVISION = 11



# --- training ---------------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What training produced."""

    model: SklearnModel
    model_dir: Path
    heldout_metrics: dict[str, Any] | None


def _arrays(examples: list[Example]) -> tuple[list[str], list[str], list[tuple[str, ...]], list[str | None]]:
    return ([e.text for e in examples], [e.topic for e in examples], [e.codes for e in examples],
            [e.language for e in examples])


# Share of emergencies the thresholds are chosen for (precision depends on it). The authored training corpus
# holds more emergencies (a third) than the held-out splits (18% and 28%), and a real day of calls far fewer;
# precision measured at the corpus's own share would flatter every false alarm.
TARGET_PREVALENCE = 0.3


@dataclass(frozen=True, slots=True)
class OutOfFold:
    """Out-of-fold model outputs over the training examples, and what the thresholds are judged against."""

    probs: list[dict[str, float]]  # per example: emergency code (and "any") -> probability
    topic_emergency: list[float]  # per example: the topic head's probability of the "emergency" topic
    hits: list[list[rules.RuleHit]]
    codes: list[tuple[str, ...]]


def out_of_fold(examples: list[Example], *, params: dict[str, Any] | None, seed: int, folds: int = 4,
                streets: StreetIndex | None = None) -> OutOfFold:
    """Each training example scored by a model fitted (with augmentation) on the other folds."""
    texts, _topics, codes, _langs = _arrays(examples)
    n = len(texts)
    names = (*EMERGENCY_CODES, "any")
    probs = {c: np.zeros(n) for c in names}
    topic_emergency = np.zeros(n)
    strat = [c[0] if c else "none" for c in codes]
    counts = Counter(strat)
    strat = [s if counts[s] >= folds else "rare" for s in strat]
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold_train, fold_test in skf.split(texts, strat):
        sub, groups = augment_grouped([examples[i] for i in fold_train], seed=seed, streets=streets)
        m = fit_model(*_arrays(sub), params=params, seed=seed, groups=groups)
        test_texts = [texts[i] for i in fold_test]
        topic_pipe = m.pipelines["topic"]
        if "emergency" in topic_pipe.classes_:
            col = list(topic_pipe.classes_).index("emergency")
            topic_emergency[fold_test] = topic_pipe.predict_proba(test_texts)[:, col]
        for c in names:
            pipe = m.pipelines.get(f"emergency_{c}")
            if pipe is not None:
                probs[c][fold_test] = pipe.predict_proba(test_texts)[:, 1]
    return OutOfFold(
        probs=[{c: float(probs[c][i]) for c in names} for i in range(n)],
        topic_emergency=[float(x) for x in topic_emergency],
        hits=[rules.scan(normalize(t).split()) for t in texts],
        codes=codes,
    )


def choose_thresholds(oof: OutOfFold, *, prevalence: float | None = TARGET_PREVALENCE) -> dict[str, float]:
    """Emergency thresholds (per code, "any", "topic_emergency", rule veto) that best meet the targets out of fold.

    The objective mirrors the targets: among settings whose any-emergency precision is at least 0.90, the one
    with the best recall (then the best right-code rate, then precision); if none reaches 0.90, the best F2.
    Precision is counted as if emergencies were ``prevalence`` of the calls (non-emergencies are re-weighted).
    """
    n_em = sum(1 for c in oof.codes if c)
    n_none = len(oof.codes) - n_em
    weight = 1.0
    if prevalence is not None and n_em and n_none:
        weight = (n_em / n_none) * (1.0 - prevalence) / prevalence

    def score(th: dict[str, float]) -> tuple[float, ...]:
        return _objective(*_any_scores(oof, th, weight))

    best: tuple[tuple[float, ...], dict[str, float]] | None = None
    grid = [(veto, g, any_t, top_t) for veto in (0.0, 0.03, 0.1, 0.2) for g in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
            for any_t in (None, 0.5, 0.7, 0.9, 0.95) for top_t in (None, 0.9, 0.95, 0.98)]
    for veto, g, any_t, top_t in grid:
        th = {f"emergency_{c}": g for c in EMERGENCY_CODES}
        th["rule_veto"] = veto
        if any_t is not None:
            th["emergency_any"] = any_t
        if top_t is not None:
            th["topic_emergency"] = top_t
        key = score(th)
        if best is None or key > best[0]:
            best = (key, th)
    assert best is not None
    # then each code's own threshold, one at a time (two rounds): codes differ in how sure the model is of them
    for _ in range(2):
        for c in EMERGENCY_CODES:
            for value in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
                th = {**best[1], f"emergency_{c}": value}
                key = score(th)
                if key > best[0]:
                    best = (key, th)
    for value in (0.7, 0.8, 0.9, 0.95, 0.98):
        th = {**best[1], "model_beside_rules": value}
        key = score(th)
        if key > best[0]:
            best = (key, th)
    logger.info("emergency thresholds from out-of-fold predictions: %s (score %s)", best[1], best[0])
    return best[1]


def tune_thresholds(examples: list[Example], *, params: dict[str, Any] | None, seed: int, folds: int = 4,
                    streets: StreetIndex | None = None) -> dict[str, float]:
    """Emergency thresholds chosen on out-of-fold predictions over TRAIN only (see ``choose_thresholds``)."""
    return choose_thresholds(out_of_fold(examples, params=params, seed=seed, folds=folds, streets=streets))


def _objective(recall: float, precision: float, right: float) -> tuple[float, ...]:
    """Best recall at precision >= 0.90 (then right code, then precision); below 0.90 precision, the best F2."""
    if precision >= 0.90:
        return (1.0, recall, right, precision)
    return (0.0, 5 * precision * recall / max(1e-9, 4 * precision + recall), right, precision)


def _any_scores(oof: OutOfFold, th: dict[str, float], none_weight: float = 1.0) -> tuple[float, float, float]:
    """(recall, precision, right-code rate) of any-emergency-vs-none; false alarms count ``none_weight`` each."""
    tp = fn = right = 0
    fp = 0.0
    for probs, hits, topic_em, codes in zip(oof.probs, oof.hits, oof.topic_emergency, oof.codes, strict=True):
        v = decide_emergency(probs, hits, th, topic_em)
        pred = v.primary != "none"
        if codes:
            tp += pred
            fn += not pred
            right += v.primary == codes[0]
        elif pred:
            fp += none_weight
    return tp / max(1, tp + fn), tp / max(1e-9, tp + fp), right / max(1, tp + fn)


def model_version(backend: str, digest: str) -> str:
    """"<backend>-YYYYMMDD-<hash8>"."""
    return f"{backend}-{datetime.now(UTC):%Y%m%d}-{digest[:8]}"


def train_sklearn(
    corpus_dir: Path,
    taxonomy: Taxonomy,
    out_dir: Path,
    *,
    extra: list[Example] | None = None,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    tune: bool = True,
    augment_copies: int = 1,
    streets_path: Path | None = None,
) -> TrainResult:
    """Train on the corpus's train split (+ ``extra``), evaluate on its held-out split, write the artifact."""
    started = time.monotonic()
    streets = StreetIndex.load(streets_path)
    train, heldout = training_data(corpus_dir, taxonomy, extra)
    files = training_files(corpus_dir)
    h = hashlib.sha256(corpus_hash(files).encode())
    for e in extra or []:
        h.update(json.dumps([e.text, e.topic, e.emergency, list(e.emergency_also)], ensure_ascii=False).encode())
    h.update(json.dumps(params or {}, sort_keys=True, default=str).encode())
    thresholds = tune_thresholds(train, params=params, seed=seed, streets=streets) if tune else {}
    h.update(json.dumps([TRAINING_REVISION, seed, augment_copies, thresholds], sort_keys=True).encode())
    digest = h.hexdigest()
    data, groups = (augment_grouped(train, seed=seed, copies=augment_copies, streets=streets) if augment_copies
                    else (train, list(range(len(train)))))
    version = model_version("sklearn", digest)
    metadata = {
        "backend": "sklearn",
        "model_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus_hash": corpus_hash(files),
        "train_examples": len(train),
        "train_examples_augmented": len(data),
        "operator_examples": len(extra or []),
        "heldout_examples": len(heldout),
        "seed": seed,
        "thresholds": thresholds,
    }
    model = fit_model(*_arrays(data), params=params, seed=seed, metadata=metadata,
                      groups=groups, lexicon_lines=[(e.text, e.language) for e in train])
    metrics = None
    if heldout:
        proposer = SklearnProposer(model, taxonomy, streets)
        metrics = evaluate(proposer, heldout)
        model.metadata["metrics_heldout"] = summary_metrics(metrics)
    model.metadata["train_seconds"] = round(time.monotonic() - started, 1)
    model.save(out_dir)
    return TrainResult(model, out_dir, metrics)


# --- evaluation -------------------------------------------------------------------------------------------------
def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "support": tp + fn}


def evaluate(proposer: CardProposer, examples: list[Example]) -> dict[str, Any]:
    """Score a proposer on labelled examples (each text proposed as a whole call)."""
    n = len(examples)
    if n == 0:
        raise ClassifierError("nothing to evaluate")
    topic_ok = service_ok = emerg_ok = lang_ok = 0
    lang_n = 0
    topic_conf: Counter[tuple[str, str]] = Counter()
    emerg_conf: Counter[tuple[str, str]] = Counter()
    per_topic: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
    per_code: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    any_tp = any_fp = any_fn = 0
    true_emerg = right_code = 0
    addr = {"street_n": 0, "street_ok": 0, "house_n": 0, "house_ok": 0, "both_n": 0, "both_ok": 0,
            "apartment_n": 0, "apartment_ok": 0, "district_n": 0, "district_ok": 0, "street_false": 0,
            "no_street_n": 0}
    latencies: list[float] = []
    errors: list[dict[str, Any]] = []
    for ex in examples:
        t0 = time.perf_counter()
        prop = proposer.propose(ex.text)
        latencies.append(time.perf_counter() - t0)
        service = proposer.taxonomy.service_for(ex.topic) if hasattr(proposer, "taxonomy") else None
        topic_ok += prop.topic == ex.topic
        if service is not None:
            service_ok += prop.service == service
        if prop.topic != ex.topic:
            topic_conf[(ex.topic, prop.topic)] += 1
            per_topic[ex.topic][2] += 1
            per_topic[prop.topic][1] += 1
            if len(errors) < 400:
                errors.append({"field": "topic", "text": ex.text, "true": ex.topic, "pred": prop.topic})
        else:
            per_topic[ex.topic][0] += 1
        emerg_ok += prop.emergency == ex.emergency
        if prop.emergency != ex.emergency:
            emerg_conf[(ex.emergency, prop.emergency)] += 1
            if len(errors) < 400:
                errors.append({"field": "emergency", "text": ex.text, "true": ex.emergency, "pred": prop.emergency})
        for code in EMERGENCY_CODES:
            t, p = ex.emergency == code, prop.emergency == code
            per_code[code][0] += t and p
            per_code[code][1] += p and not t
            per_code[code][2] += t and not p
        t_any, p_any = ex.emergency != "none", prop.emergency != "none"
        any_tp += t_any and p_any
        any_fp += p_any and not t_any
        any_fn += t_any and not p_any
        if t_any:
            true_emerg += 1
            right_code += prop.emergency == ex.emergency
        if ex.language:
            lang_n += 1
            lang_ok += prop.language == ex.language
            if prop.language != ex.language and len(errors) < 400:
                errors.append({"field": "language", "text": ex.text, "true": ex.language, "pred": prop.language})
        a = ex.address or {}
        pa = prop.address
        if a.get("street"):
            addr["street_n"] += 1
            addr["street_ok"] += pa.street == a["street"]
        else:
            addr["no_street_n"] += 1
            addr["street_false"] += pa.street is not None
        if a.get("house"):
            addr["house_n"] += 1
            addr["house_ok"] += (pa.house or "").upper() == str(a["house"]).upper()
        if a.get("street") and a.get("house"):
            addr["both_n"] += 1
            ok = pa.street == a["street"] and (pa.house or "").upper() == str(a["house"]).upper()
            addr["both_ok"] += ok
            if not ok and len(errors) < 400:
                errors.append({"field": "address", "text": ex.text, "true": f"{a['street']} {a['house']}",
                               "pred": f"{pa.street} {pa.house}"})
        if a.get("apartment"):
            addr["apartment_n"] += 1
            addr["apartment_ok"] += pa.apartment == a["apartment"]
        if a.get("district"):
            addr["district_n"] += 1
            addr["district_ok"] += pa.district == a["district"]
    lat = np.array(latencies) * 1000
    return {
        "n": n,
        "topic_accuracy": round(topic_ok / n, 4),
        "service_accuracy": round(service_ok / n, 4),
        "emergency_accuracy": round(emerg_ok / n, 4),
        "language_accuracy": round(lang_ok / lang_n, 4) if lang_n else None,
        "any_emergency": {**_prf(any_tp, any_fp, any_fn)},
        "right_code_of_true_emergencies": round(right_code / true_emerg, 4) if true_emerg else None,
        "emergency_per_code": {c: _prf(*per_code[c]) for c in EMERGENCY_CODES},
        "topic_per_class": {t: _prf(*v) for t, v in sorted(per_topic.items())},
        "address": {
            "street_accuracy": round(addr["street_ok"] / addr["street_n"], 4) if addr["street_n"] else None,
            "house_accuracy": round(addr["house_ok"] / addr["house_n"], 4) if addr["house_n"] else None,
            "street_and_house_accuracy": round(addr["both_ok"] / addr["both_n"], 4) if addr["both_n"] else None,
            "apartment_accuracy": round(addr["apartment_ok"] / addr["apartment_n"], 4) if addr["apartment_n"] else None,
            "district_accuracy": round(addr["district_ok"] / addr["district_n"], 4) if addr["district_n"] else None,
            "street_false_positive_rate": round(addr["street_false"] / addr["no_street_n"], 4)
            if addr["no_street_n"] else None,
            "calls_with_street_and_house": addr["both_n"],
        },
        "worst_topic_confusions": [{"true": t, "pred": p, "count": c} for (t, p), c in topic_conf.most_common(10)],
        "worst_emergency_confusions": [{"true": t, "pred": p, "count": c} for (t, p), c in emerg_conf.most_common(10)],
        "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 3), "p99": round(float(np.percentile(lat, 99)), 3)},
        "errors": errors,
    }


def summary_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers (stored in metadata.json)."""
    return {
        "n": metrics["n"],
        "topic_accuracy": metrics["topic_accuracy"],
        "service_accuracy": metrics["service_accuracy"],
        "emergency_accuracy": metrics["emergency_accuracy"],
        "any_emergency_recall": metrics["any_emergency"]["recall"],
        "any_emergency_precision": metrics["any_emergency"]["precision"],
        "right_code_of_true_emergencies": metrics["right_code_of_true_emergencies"],
        "street_and_house_accuracy": metrics["address"]["street_and_house_accuracy"],
        "language_accuracy": metrics["language_accuracy"],
    }


def format_report(metrics: dict[str, Any], *, title: str = "", show_errors: int = 0) -> str:
    """A plain-text report of evaluate()'s metrics."""
    lines = []
    if title:
        lines.append(f"== {title} ==")
    lines.append(f"examples: {metrics['n']}")
    lines.append(f"topic accuracy:     {metrics['topic_accuracy']:.4f}")
    lines.append(f"service accuracy:   {metrics['service_accuracy']:.4f}")
    lines.append(f"emergency accuracy: {metrics['emergency_accuracy']:.4f}")
    la = metrics["language_accuracy"]
    lines.append(f"language accuracy:  {la:.4f}" if la is not None else "language accuracy:  n/a")
    ae = metrics["any_emergency"]
    lines.append(f"any emergency vs none: recall {ae['recall']:.4f} precision {ae['precision']:.4f} "
                 f"(true emergencies {ae['support']})")
    rc = metrics["right_code_of_true_emergencies"]
    lines.append(f"right code of true emergencies: {rc:.4f}" if rc is not None else "right code: n/a")
    lines.append("emergency per code (primary):")
    for code, v in metrics["emergency_per_code"].items():
        lines.append(f"  {code}: precision {v['precision']:.4f} recall {v['recall']:.4f} support {v['support']}")
    ad = metrics["address"]

    def f(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.4f}"

    lines.append(f"address: street+house {f(ad['street_and_house_accuracy'])} (of {ad['calls_with_street_and_house']}),"
                 f" street {f(ad['street_accuracy'])}, house {f(ad['house_accuracy'])},"
                 f" apartment {f(ad['apartment_accuracy'])}, district {f(ad['district_accuracy'])},"
                 f" street false positives {f(ad['street_false_positive_rate'])}")
    lines.append("topic per class (precision / recall / support):")
    for t, v in metrics["topic_per_class"].items():
        lines.append(f"  {t:22s} {v['precision']:.3f} / {v['recall']:.3f} / {v['support']}")
    lines.append("worst topic confusions (true -> predicted: count):")
    for c in metrics["worst_topic_confusions"]:
        lines.append(f"  {c['true']} -> {c['pred']}: {c['count']}")
    lines.append("worst emergency confusions:")
    for c in metrics["worst_emergency_confusions"]:
        lines.append(f"  {c['true']} -> {c['pred']}: {c['count']}")
    lines.append(f"latency per whole-text proposal: p50 {metrics['latency_ms']['p50']} ms, "
                 f"p99 {metrics['latency_ms']['p99']} ms")
    for e in metrics["errors"][:show_errors]:
        lines.append(f"  [{e['field']}] {e['true']} -> {e['pred']}: {e['text']}")
    return "\n".join(lines)


def feature_preview(text: str) -> str:
    """What the model's features see of a text (for debugging)."""
    return feature_text(text)
