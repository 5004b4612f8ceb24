"""Shared fixtures for the classifier tests: the taxonomy, a small model trained here, the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.address import StreetIndex
from classifier.corpus import Example, default_corpus_dir, load_jsonl
from classifier.proposer import SklearnProposer, load_sklearn_proposer
from classifier.sklearn_model import SklearnModel, fit_model
from classifier.store import shipped_model_dir
from core.taxonomy import Taxonomy, load_taxonomy


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="session")
def streets() -> StreetIndex:
    return StreetIndex.load()


@pytest.fixture(scope="session")
def small_corpus(taxonomy: Taxonomy) -> list[Example]:
    """The first lines of every train file (enough for every head, a few seconds to fit)."""
    out: list[Example] = []
    for f in sorted((default_corpus_dir() / "train").glob("*.jsonl")):
        out.extend(load_jsonl(f, taxonomy)[:12])
    return out


@pytest.fixture(scope="session")
def small_model(small_corpus: list[Example], tmp_path_factory: pytest.TempPathFactory,
                taxonomy: Taxonomy) -> Path:
    """A small sklearn artifact trained in the test session, saved to a temporary directory."""
    model = fit_model(
        [e.text for e in small_corpus],
        [e.topic for e in small_corpus],
        [e.codes for e in small_corpus],
        [e.language for e in small_corpus],
        metadata={"model_version": "sklearn-test-00000000", "thresholds": {}},
    )
    out = tmp_path_factory.mktemp("model")
    model.save(out)
    return out


@pytest.fixture(scope="session")
def small_proposer(small_model: Path, taxonomy: Taxonomy, streets: StreetIndex) -> SklearnProposer:
    return SklearnProposer(SklearnModel.load(small_model, taxonomy), taxonomy, streets)


@pytest.fixture(scope="session")
def shipped(taxonomy: Taxonomy) -> SklearnProposer:
    """The model that ships in the package (what `callcard classify` uses after set-up)."""
    return load_sklearn_proposer(shipped_model_dir(), taxonomy)
