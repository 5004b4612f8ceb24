"""Honest confidences: reliability diagrams, the expected calibration error, and the maps the model ships."""

from __future__ import annotations

import random

import pytest

from classifier.calibration import (
    CONFIDENCE_CEILING,
    CONFIDENCE_FLOOR,
    Calibration,
    ConfidenceKind,
    ConfidenceMap,
    reliability,
)
from classifier.emergency import scan
from classifier.normalize import normalize
from classifier.proposer import decide_emergency


def test_a_calibrated_confidence_has_a_small_error_and_an_overconfident_one_a_large_one() -> None:
    rng = random.Random(3)
    conf = [rng.random() for _ in range(20000)]
    honest = [rng.random() < c for c in conf]
    assert reliability(conf, honest).ece < 0.02
    always_sure = [1.0] * len(conf)
    r = reliability(always_sure, honest)
    assert r.ece == pytest.approx(1.0 - sum(honest) / len(honest), abs=1e-3)
    assert [b.count for b in r.bins][-1] == len(conf)


def test_reliability_bins_hold_counts_mean_and_accuracy() -> None:
    r = reliability([0.05, 0.15, 0.15, 0.95], [False, True, False, True], bins=10)
    assert r.n == 4
    assert r.bins[1].count == 2 and r.bins[1].accuracy == 0.5 and r.bins[1].mean_confidence == 0.15
    assert r.bins[9].count == 1 and r.bins[9].accuracy == 1.0
    assert r.ece == pytest.approx((0.05 + 2 * 0.35 + 0.05) / 4, abs=1e-4)
    with pytest.raises(ValueError):
        reliability([0.5], [True, False])


def test_the_map_learns_the_rate_of_being_right_and_stays_monotone_and_off_the_ends() -> None:
    rng = random.Random(5)
    # an under-confident score: right with probability sqrt(score)
    scores = [rng.random() for _ in range(8000)]
    right = [rng.random() < s**0.5 for s in scores]
    m = ConfidenceMap.fit(scores, right)
    assert list(m.ys) == sorted(m.ys)
    assert min(m.ys) >= CONFIDENCE_FLOOR and max(m.ys) <= CONFIDENCE_CEILING
    for s in (0.1, 0.25, 0.5, 0.81):
        assert m(s) == pytest.approx(s**0.5, abs=0.06)
    before = reliability(scores, right).ece
    after = reliability([m(s) for s in scores], right).ece
    assert before > 0.1 and after < 0.03
    assert ConfidenceMap.from_json(m.to_json()) == m


def test_a_handful_of_lucky_examples_cannot_claim_certainty() -> None:
    scores = [0.99] * 5 + [0.5] * 100
    right = [True] * 5 + [i % 2 == 0 for i in range(100)]
    m = ConfidenceMap.fit(scores, right, min_block=40)
    assert m(0.99) < 0.7  # five right answers are pooled with their neighbours


def test_a_map_with_descending_breakpoints_is_refused() -> None:
    with pytest.raises(ValueError):
        ConfidenceMap.from_json({"x": [0.5, 0.2], "y": [0.1, 0.2]})
    with pytest.raises(ValueError):
        Calibration.from_json({"nonsense": {"x": [], "y": []}})


def test_an_uncalibrated_model_never_shows_certainty() -> None:
    cal = Calibration.from_json(None)
    assert cal.apply(ConfidenceKind.TOPIC, 1.0) == CONFIDENCE_CEILING
    assert cal.apply(ConfidenceKind.EMERGENCY_NONE, 0.0) == CONFIDENCE_FLOOR


def test_each_emergency_verdict_names_the_map_and_the_score_it_is_calibrated_by() -> None:
    th = {"emergency_101": 0.5, "emergency_102": 0.5, "emergency_103": 0.5, "emergency_104": 0.5, "rule_veto": 0.03}
    hits = scan(normalize("в подъезде пожар горит квартира дым").split())
    assert any(h.code == "101" and not h.discounted for h in hits)
    by_rules = decide_emergency({"101": 0.2}, hits, th)
    assert by_rules.primary == "101" and by_rules.kind is ConfidenceKind.EMERGENCY_RULES
    assert by_rules.raw == pytest.approx(0.2)
    by_model = decide_emergency({"103": 0.8}, [], th)
    assert by_model.primary == "103" and by_model.kind is ConfidenceKind.EMERGENCY_MODEL
    assert by_model.raw == pytest.approx(0.8)
    nothing = decide_emergency({"101": 0.1, "104": 0.3}, [], th)
    assert nothing.primary == "none" and nothing.kind is ConfidenceKind.EMERGENCY_NONE
    assert nothing.raw == pytest.approx(0.7)


def test_the_shipped_model_carries_maps_and_does_not_show_an_emergency_as_certain(shipped) -> None:
    maps = shipped.calibration.maps
    assert {ConfidenceKind.TOPIC, ConfidenceKind.SERVICE, ConfidenceKind.EMERGENCY_NONE,
            ConfidenceKind.EMERGENCY_RULES} <= set(maps)
    p = shipped.propose("алло горит квартира на третьем этаже дым валит из окна")
    assert p.emergency == "101"
    assert 0.5 < p.confidence["emergency"] <= CONFIDENCE_CEILING
    assert all(0.0 < v < 1.0 for v in p.confidence.values())


def test_maps_are_fitted_per_kind_from_out_of_fold_rows(taxonomy) -> None:
    from classifier.train import OutOfFold, fit_calibration

    rng = random.Random(11)
    classes = ("heating", "gas_supply", "emergency")
    rows = 600
    probs, hits, topic_em, codes, topic_p, topics = [], [], [], [], [], []
    for _ in range(rows):
        sure = rng.random()
        true = rng.choice(classes)
        # the top topic is right with probability sqrt(score): an under-confident head
        right = rng.random() < sure**0.5
        top = true if right else next(c for c in classes if c != true)
        p = [sure if c == top else (1 - sure) / 2 for c in classes]
        topic_p.append(p)
        topics.append(true)
        probs.append({"101": 0.01, "102": 0.01, "103": 0.01, "104": 0.9 if true == "gas_supply" else 0.02,
                      "any": 0.5})
        hits.append([])
        topic_em.append(p[2])
        codes.append(("104",) if true == "gas_supply" else ())
    oof = OutOfFold(probs=probs, topic_emergency=topic_em, hits=hits, codes=codes, topic_classes=classes,
                    topic_probs=topic_p, topics=topics)
    cal = fit_calibration(oof, {"emergency_104": 0.5}, taxonomy)
    assert {ConfidenceKind.TOPIC, ConfidenceKind.SERVICE, ConfidenceKind.EMERGENCY_MODEL,
            ConfidenceKind.EMERGENCY_NONE} <= set(cal.maps)
    assert cal.apply(ConfidenceKind.TOPIC, 0.5) == pytest.approx(0.5**0.5, abs=0.1)
    assert cal.apply(ConfidenceKind.EMERGENCY_MODEL, 0.9) >= 0.9  # every 104 verdict was right
    assert Calibration.from_json(cal.to_json()) == cal


def test_the_evaluation_reports_reliability_of_each_confidence(small_proposer) -> None:
    from classifier.corpus import Example
    from classifier.evaluation import evaluate

    examples = [Example("в подъезде пахнет газом", "gas_supply", "104", (), "ru"),
                Example("батареи холодные третий день", "heating", "none", (), "ru"),
                Example("жарық жоқ үйде", "electricity", "none", (), "kk")]
    metrics = evaluate(small_proposer, examples)
    for kind in ("topic", "service", "emergency"):
        cal = metrics["calibration"][kind]
        assert cal["n"] == 3 and 0.0 <= cal["ece"] <= 1.0
        assert sum(b["count"] for b in cal["bins"]) == 3
