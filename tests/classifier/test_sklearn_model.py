"""The sklearn artifact: fast path equals the pipelines, label checks, clear errors for missing models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest

from classifier.proposer import SklearnProposer
from classifier.sklearn_model import ARTIFACT_FILE, METADATA_FILE, SklearnModel
from classifier.store import ModelStore, resolve_model_dir
from core.errors import ClassifierError
from core.taxonomy import Taxonomy

TEXTS = [
    "алло у нас во дворе газом пахнет сильно",
    "батареи еле тёплые третий день",
    "лифт тұрып қалды ішінде бала бар",
    "на кенесары сорок пять вода течет из под земли",
    "көше шамдары жанбай тұр",
]


def test_incremental_features_equal_pipeline_probabilities(small_proposer: SklearnProposer) -> None:
    model = small_proposer.model
    reference = model.predict_proba(TEXTS)
    for row, text in enumerate(TEXTS):
        state = model.incremental.new_state()
        model.incremental.add(state, text)
        probs = model.probabilities(model.incremental.decisions(state))
        for head, p in probs.items():
            np.testing.assert_allclose(p, reference[head][row], atol=1e-9)


def test_segment_by_segment_equals_whole_text(small_proposer: SklearnProposer) -> None:
    model = small_proposer.model
    segments = ["алло девушка здравствуйте", "у нас в подъезде", "сильно пахнет газом", "кенесары сорок пять"]
    state = model.incremental.new_state()
    for seg in segments:
        model.incremental.add(state, seg)
    whole = model.predict_proba([" ".join(segments)])
    for head, p in model.probabilities(model.incremental.decisions(state)).items():
        np.testing.assert_allclose(p, whole[head][0], atol=1e-9)


def test_peek_leaves_state_alone(small_proposer: SklearnProposer) -> None:
    inc = small_proposer.model.incremental
    state = inc.new_state()
    inc.add(state, "у нас в подъезде")
    before = inc.decisions(state).copy()
    peeked = inc.peek(state, "пахнет газом")
    np.testing.assert_allclose(inc.decisions(state), before)
    inc.add(state, "пахнет газом")
    np.testing.assert_allclose(inc.decisions(state), peeked, atol=1e-9)


def test_labels_are_taxonomy_ids_and_metadata(small_model: Path, taxonomy: Taxonomy) -> None:
    meta = json.loads((small_model / METADATA_FILE).read_text(encoding="utf-8"))
    assert set(meta["labels"]["topic"]) <= set(taxonomy.topics)
    assert meta["backend"] == "sklearn" and meta["sklearn_version"]
    assert meta["model_version"] == "sklearn-test-00000000"


def test_refuses_labels_that_are_not_taxonomy_ids(small_model: Path, taxonomy: Taxonomy, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(small_model, bad)
    meta = json.loads((bad / METADATA_FILE).read_text(encoding="utf-8"))
    meta["labels"]["topic"][0] = "potholes_and_more"
    (bad / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ClassifierError, match="not taxonomy topic ids"):
        SklearnModel.load(bad, taxonomy)


def test_refuses_pipeline_whose_classes_are_not_taxonomy_ids(small_model: Path, taxonomy: Taxonomy,
                                                             tmp_path: Path) -> None:
    bad = tmp_path / "bad2"
    shutil.copytree(small_model, bad)
    data = joblib.load(bad / ARTIFACT_FILE)
    clf = data["pipelines"]["topic"].named_steps["clf"]
    clf.classes_ = np.array(["renamed_topic", *clf.classes_[1:]], dtype=object)
    joblib.dump(data, bad / ARTIFACT_FILE)
    with pytest.raises(ClassifierError, match="not taxonomy topic ids"):
        SklearnModel.load(bad, taxonomy)


def test_a_taxonomy_without_a_topic_refuses_the_model(small_model: Path, taxonomy: Taxonomy) -> None:
    from dataclasses import replace

    topics = dict(taxonomy.topics)
    topics.pop(next(iter(SklearnModel.load(small_model, taxonomy).topics)))
    with pytest.raises(ClassifierError):
        SklearnModel.load(small_model, replace(taxonomy, topics=topics))


def test_missing_or_untrained_artifact_is_a_clear_error(tmp_path: Path, taxonomy: Taxonomy) -> None:
    with pytest.raises(ClassifierError, match="no trained classifier"):
        SklearnModel.load(tmp_path, taxonomy)
    with pytest.raises(ClassifierError, match="no classifier model"):
        resolve_model_dir(tmp_path)
    (tmp_path / METADATA_FILE).write_text("{not json", encoding="utf-8")
    (tmp_path / ARTIFACT_FILE).write_bytes(b"junk")
    with pytest.raises(ClassifierError):
        SklearnModel.load(tmp_path, taxonomy)


def test_store_versions_and_current_pointer(small_model: Path, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    store.publish(small_model, "sklearn-20260101-aaaaaaaa")
    store.publish(small_model, "sklearn-20260102-bbbbbbbb")
    assert store.current_version() == "sklearn-20260102-bbbbbbbb"
    assert set(store.versions()) == {"sklearn-20260101-aaaaaaaa", "sklearn-20260102-bbbbbbbb"}
    assert resolve_model_dir(tmp_path / "store") == store.path("sklearn-20260102-bbbbbbbb")
