"""Measure a proposer on labelled examples: accuracy per field, emergency recall and precision, address, language,
and how honest its confidences are (reliability diagrams, expected calibration error)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from classifier.base import CardProposer
from classifier.calibration import Reliability, reliability
from classifier.corpus import Example
from core.errors import ClassifierError
from core.taxonomy import EMERGENCY_CODES


# --- evaluation -------------------------------------------------------------------------------------------------
def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "support": tp + fn}


CONFIDENCES = ("topic", "service", "emergency")


def house_key(house: str | None, building: str | None) -> str:
    """One spelling of a house number and its building: "сорок дробь два" is house "40/2" to the reader and house
    40, building 2 to some writers; both name the same building ("40/2"). A house "40" and building None is not
    "40/2". The evaluation counts a house right when the house strings are equal (as before issue 14) or when
    these keys are."""
    h = (house or "").strip().upper()
    b = (building or "").strip().upper()
    return f"{h}/{b}" if h and b and "/" not in h else h


def _reliability_json(r: Reliability) -> dict[str, Any]:
    return {"ece": r.ece, "n": r.n, "bins": [
        {"lower": b.lower, "upper": b.upper, "count": b.count, "mean_confidence": b.mean_confidence,
         "accuracy": b.accuracy} for b in r.bins]}


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
    shown: dict[str, tuple[list[float], list[bool]]] = {k: ([], []) for k in CONFIDENCES}
    for ex in examples:
        t0 = time.perf_counter()
        prop = proposer.propose(ex.text)
        latencies.append(time.perf_counter() - t0)
        service = proposer.taxonomy.service_for(ex.topic) if hasattr(proposer, "taxonomy") else None
        for key, right in (("topic", prop.topic == ex.topic), ("service", prop.service == service),
                           ("emergency", prop.emergency == ex.emergency)):
            if key in prop.confidence:
                shown[key][0].append(prop.confidence[key])
                shown[key][1].append(right)
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
        same_house = ((pa.house or "").upper() == str(a.get("house") or "").upper()
                      or house_key(pa.house, pa.building) == house_key(a.get("house"), a.get("building")))
        if a.get("house"):
            addr["house_n"] += 1
            addr["house_ok"] += same_house
        if a.get("street") and a.get("house"):
            addr["both_n"] += 1
            ok = pa.street == a["street"] and same_house
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
        "calibration": {k: _reliability_json(reliability(*shown[k])) for k in CONFIDENCES if shown[k][0]},
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
        "expected_calibration_error": {k: v["ece"] for k, v in metrics.get("calibration", {}).items()},
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
    for key, cal in metrics.get("calibration", {}).items():
        lines.append(f"{key} confidence: expected calibration error {cal['ece']:.4f} (of {cal['n']})")
        for b in cal["bins"]:
            if b["count"]:
                lines.append(f"  shown {b['lower']:.1f}-{b['upper']:.1f}: {b['count']:5d} proposals, mean shown "
                             f"{b['mean_confidence']:.3f}, right {b['accuracy']:.3f}")
    lines.append(f"latency per whole-text proposal: p50 {metrics['latency_ms']['p50']} ms, "
                 f"p99 {metrics['latency_ms']['p99']} ms")
    for e in metrics["errors"][:show_errors]:
        lines.append(f"  [{e['field']}] {e['true']} -> {e['pred']}: {e['text']}")
    return "\n".join(lines)


