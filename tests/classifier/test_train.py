"""Training, the operator-card loader, and `callcard classifier retrain` on a small corpus (versioned store)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.augment import augment
from classifier.corpus import Example, default_corpus_dir, drop_leaks, load_jsonl, load_operator_cards
from classifier.store import ModelStore
from core.taxonomy import Taxonomy


@pytest.fixture(scope="module")
def mini_corpus(tmp_path_factory: pytest.TempPathFactory, taxonomy: Taxonomy) -> Path:
    root = tmp_path_factory.mktemp("mini_corpus")
    for split, n in (("train", 6), ("heldout", 1)):
        for f in sorted((default_corpus_dir() / split).glob("*.jsonl")):
            (root / split).mkdir(parents=True, exist_ok=True)
            lines = f.read_text(encoding="utf-8").splitlines()[:n]
            (root / split / f.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_operator_cards_loader(tmp_path: Path, taxonomy: Taxonomy, caplog: pytest.LogCaptureFixture) -> None:
    cards = tmp_path / "cards.jsonl"
    rows = [
        {"text": "в подъезде пахнет газом", "topic": "gas_supply", "emergency": "104", "emergency_also": [],
         "language": "ru", "address": None, "source": "operator", "card_id": 17, "model_version": "sklearn-x"},
        {"text": "лифт тұрып қалды", "topic": "elevator", "emergency": "none", "source": "operator"},
        {"text": "что-то", "topic": "not_a_topic", "emergency": "none", "source": "operator"},
        {"text": "", "topic": "elevator"},
    ]
    cards.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{oops\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        got = load_operator_cards(cards, taxonomy)
    assert [e.topic for e in got] == ["gas_supply", "elevator"]
    assert all(e.source == "operator" for e in got)
    assert got[0].codes == ("104",) and got[0].extra["card_id"] == 17
    assert sum("skipping" in r.message for r in caplog.records) == 3


def test_heldout_never_leaks_into_training(taxonomy: Taxonomy) -> None:
    train = [Example("Лифт  стоит", "elevator"), Example("нет света", "electricity")]
    held = [Example("лифт стоит", "elevator")]
    assert [e.text for e in drop_leaks(train, held)] == ["нет света"]
    train_files = {p.name for p in (default_corpus_dir() / "train").glob("*.jsonl")}
    assert train_files  # the corpus ships
    held_texts = {" ".join(e.text.split()) for f in (default_corpus_dir() / "heldout").glob("*.jsonl")
                  for e in load_jsonl(f, taxonomy)}
    assert held_texts


def test_augmentation_is_deterministic_and_keeps_labels(taxonomy: Taxonomy, streets) -> None:  # type: ignore[no-untyped-def]
    ex = [Example("у нас в подъезде пахнет газом", "gas_supply", "104", language="ru"),
          Example("лифт тұрып қалды ішінде бала бар", "elevator", "101", language="kk")]
    a = augment(ex, seed=3, streets=streets)
    b = augment(ex, seed=3, streets=streets)
    assert [e.text for e in a] == [e.text for e in b]
    assert len(a) > len(ex) and a[:2] == ex
    assert all((x.topic, x.emergency) in {("gas_supply", "104"), ("elevator", "101")} for x in a)


def test_retrain_prints_before_after_and_versions(mini_corpus: Path, tmp_path: Path) -> None:
    from callcard.cli import cli

    cards = tmp_path / "confirmed.jsonl"
    cards.write_text(json.dumps({"text": "на абая двенадцать батареи ледяные", "topic": "heating",
                                 "emergency": "none", "source": "operator"}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    store = tmp_path / "store"
    args = ["classifier", "retrain", "--cards", str(cards), "--out", str(store), "--corpus", str(mini_corpus),
            "--no-tune"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "before:" in res.output and "after:" in res.output and "topic_accuracy:" in res.output
    first = ModelStore(store).current_version()
    assert first and first.startswith("sklearn-")
    meta = json.loads((ModelStore(store).path(first) / "metadata.json").read_text(encoding="utf-8"))
    assert meta["operator_examples"] == 1 and "metrics_heldout" in meta
    # a second retrain with more cards is a new version; the old one stays and "before" is the current one
    with cards.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"text": "лифт не работает", "topic": "elevator", "emergency": "none"},
                           ensure_ascii=False) + "\n")
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert f"before: {first}" in res.output
    assert len(ModelStore(store).versions()) == 2 and ModelStore(store).current_version() != first
