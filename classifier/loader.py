"""Pick and load the configured classifier backend: the one call the composition root makes."""

from __future__ import annotations

import logging
from pathlib import Path

from classifier.base import CardProposer
from core.errors import ClassifierError
from core.taxonomy import Taxonomy

logger = logging.getLogger(__name__)


def load_proposer(
    backend: str,
    model_dir: Path | None,
    taxonomy: Taxonomy,
    *,
    streets_path: Path | None = None,
    workers: int = 1,
) -> CardProposer:
    """A ready CardProposer.

    Args:
        backend: "sklearn" or "transformers".
        model_dir: a model store (with CURRENT and versions/), one artifact directory, or None for the model
            shipped in the package (sklearn only).
        taxonomy: the site's taxonomy; the artifact's labels must be its ids.
        streets_path: the street list (default: the one shipped in classifier/data/streets.yaml).
        workers: processes for the transformers backend.

    Raises:
        ClassifierError: no usable model (missing, untrained, or labels that are not taxonomy ids).
    """
    from classifier.store import resolve_model_dir

    directory = resolve_model_dir(model_dir)
    if backend == "sklearn":
        from classifier.proposer import load_sklearn_proposer

        proposer: CardProposer = load_sklearn_proposer(directory, taxonomy, streets_path)
    elif backend == "transformers":
        from classifier.transformers_model import load_transformers_proposer

        proposer = load_transformers_proposer(directory, taxonomy, streets_path=streets_path, workers=workers)
    else:
        raise ClassifierError(f"unknown classifier backend {backend!r}; use sklearn or transformers")
    logger.info("classifier %s loaded from %s", proposer.version, directory)
    return proposer
