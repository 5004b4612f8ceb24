"""Training, the operator-card loader, and `callcard classifier retrain` on a small corpus (versioned store)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.augment import augment
from classifier.corpus import (
    BLIND_SPLIT,
    Example,
    default_corpus_dir,
    drop_leaks,
    heldout_split,
    load_jsonl,
    load_operator_cards,
    text_key,
    training_data,
    training_files,
    training_splits,
)
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


def _write_split(root: Path, split: str, rows: list[tuple[str, str]]) -> None:
    (root / split).mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"text": t, "topic": topic, "emergency": "none"}, ensure_ascii=False) for t, topic in rows]
    (root / split / "x.ru.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_test_split_is_held_out_and_the_first_heldout_split_is_trained_on(tmp_path: Path,
                                                                               taxonomy: Taxonomy) -> None:
    _write_split(tmp_path, "train", [("нет света в подъезде", "electricity"), ("лифт стоит", "elevator")])
    _write_split(tmp_path, "heldout", [("батареи холодные", "heating")])
    # a site corpus with train/ and heldout/ only: measured on heldout, trained on train
    assert heldout_split(tmp_path) == "heldout"
    train, held = training_data(tmp_path, taxonomy)
    assert [e.text for e in train] == ["нет света в подъезде", "лифт стоит"]
    assert [e.text for e in held] == ["батареи холодные"]
    # with a test split: trained on train + heldout, measured on test; a test text never reaches training
    _write_split(tmp_path, "test", [("Лифт стоит", "elevator"), ("вода ржавая", "water_supply")])
    assert heldout_split(tmp_path) == "test"
    train, held = training_data(tmp_path, taxonomy)
    assert [e.text for e in train] == ["нет света в подъезде", "батареи холодные"]
    assert [e.text for e in held] == ["Лифт стоит", "вода ржавая"]
    assert [p.parent.name for p in training_files(tmp_path)] == ["train", "heldout"]


def test_the_shipped_test_split_shares_no_text_with_training(taxonomy: Taxonomy) -> None:
    corpus = default_corpus_dir()
    assert heldout_split(corpus) == "test"
    keys = {split: {text_key(e.text) for f in (corpus / split).glob("*.jsonl") for e in load_jsonl(f, taxonomy)}
            for split in ("train", "heldout", "test")}
    assert len(keys["test"]) > 1500 and len(keys["train"]) > 10000
    assert not keys["test"] & (keys["train"] | keys["heldout"])


def test_the_blind_split_is_in_thirds_shares_no_text_and_is_never_trained_on(taxonomy: Taxonomy) -> None:
    """Issue 14's blind split: loads, ru/kk/mixed in thirds, no text shared with any other split, and no training
    split or corpus hash reads it (its lines are not looked at here, only counted)."""
    corpus = default_corpus_dir()
    blind = [e for f in sorted((corpus / BLIND_SPLIT).glob("*.jsonl")) for e in load_jsonl(f, taxonomy)]
    assert len(blind) >= 1700
    per_language = Counter(e.language for e in blind)
    assert set(per_language) == {"ru", "kk", "mixed"} and min(per_language.values()) >= len(blind) // 3 - 20
    others = {text_key(e.text) for split in ("train", "heldout", "test")
              for f in (corpus / split).glob("*.jsonl") for e in load_jsonl(f, taxonomy)}
    keys = [text_key(e.text) for e in blind]
    assert len(set(keys)) == len(keys) and not set(keys) & others
    assert BLIND_SPLIT not in training_splits(corpus)
    assert all(p.parent.name != BLIND_SPLIT for p in training_files(corpus))


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
