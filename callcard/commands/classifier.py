"""`callcard classifier`: train, retrain (corpus + operators' confirmed cards), evaluate and list model versions."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click


def _taxonomy():  # type: ignore[no-untyped-def]
    from core.config import Settings
    from core.taxonomy import load_taxonomy

    s = Settings()
    return s, load_taxonomy(s.taxonomy_path, s.deadlines_path)


def _store_root(out: Path | None) -> Path:
    from core.config import Settings

    s = Settings()
    return out or s.classifier_dir or (s.data_dir / "classifier")


@click.group()
def classifier() -> None:
    """Train and evaluate the card classifier."""


@classifier.command()
@click.option("--backend", type=click.Choice(["sklearn", "transformers"]), default="sklearn", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Model store to publish into (default: CALLCARD_CLASSIFIER_DIR, else DATA_DIR/classifier).",
)
@click.option("--ship", is_flag=True, help="Write the artifact into the package (classifier/data/model) instead.")
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Corpus directory with train/, heldout/ and optionally test/ (default: the shipped corpus).",
)
@click.option(
    "--cards",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Operators' confirmed cards (JSONL) to add to the training data.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-tune", is_flag=True, help="Skip the out-of-fold search for emergency thresholds.")
@click.option(
    "--base-model",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="transformers: a LOCAL directory with a multilingual encoder (BERT / XLM-R) and its tokenizer.",
)
@click.option("--epochs", type=int, default=3, show_default=True, help="transformers: fine-tuning epochs.")
def train(
    backend: str,
    out: Path | None,
    ship: bool,
    corpus: Path | None,
    cards: Path | None,
    seed: int,
    no_tune: bool,
    base_model: Path | None,
    epochs: int,
) -> None:
    """Train on the corpus's train split, report held-out metrics, write and publish a versioned artifact."""
    from classifier.corpus import default_corpus_dir, load_operator_cards
    from classifier.evaluation import format_report
    from classifier.store import ModelStore, shipped_model_dir
    from core.errors import CallcardError

    settings, taxonomy = _taxonomy()
    corpus_dir = corpus or default_corpus_dir()
    try:
        extra = load_operator_cards(cards, taxonomy) if cards else []
        with tempfile.TemporaryDirectory() as tmp:
            work = shipped_model_dir() if ship else Path(tmp) / "model"
            if backend == "sklearn":
                from classifier.train import train_sklearn

                result = train_sklearn(corpus_dir, taxonomy, work, extra=extra, seed=seed, tune=not no_tune)
                version, metrics = result.model.version, result.heldout_metrics
            else:
                if base_model is None:
                    raise click.UsageError("--base-model DIR is required for the transformers backend")
                from classifier.transformers_model import train_transformers

                tres = train_transformers(
                    corpus_dir, taxonomy, work, base_model=base_model, extra=extra, seed=seed, epochs=epochs
                )
                version, metrics = tres.version, tres.heldout_metrics
            if ship:
                click.echo(f"wrote {version} to {work}")
            else:
                store = ModelStore(_store_root(out))
                dest = store.publish(work, version)
                click.echo(f"published {version} to {dest} (CURRENT)")
    except CallcardError as exc:
        raise click.ClickException(str(exc)) from exc
    if metrics:
        click.echo(format_report(metrics, title=f"held-out metrics of {version}"))


@classifier.command()
@click.option(
    "--cards",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="JSONL export of operators' confirmed cards: {text, topic, emergency, emergency_also, ...}.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Model store (default: CALLCARD_CLASSIFIER_DIR, else DATA_DIR/classifier).",
)
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-tune", is_flag=True, help="Skip the out-of-fold search for emergency thresholds.")
def retrain(cards: Path, out: Path | None, corpus: Path | None, seed: int, no_tune: bool) -> None:
    """Train on the corpus plus confirmed cards; print held-out metrics before and after; publish a new version."""
    from classifier.corpus import default_corpus_dir, heldout_split, load_operator_cards, load_split
    from classifier.evaluation import evaluate, format_report
    from classifier.loader import load_proposer
    from classifier.store import ModelStore
    from classifier.train import train_sklearn
    from core.errors import CallcardError

    settings, taxonomy = _taxonomy()
    corpus_dir = corpus or default_corpus_dir()
    root = _store_root(out)
    store = ModelStore(root)
    try:
        heldout = load_split(corpus_dir, heldout_split(corpus_dir), taxonomy)
        extra = load_operator_cards(cards, taxonomy)
        if not extra:
            raise click.ClickException(f"{cards} holds no usable confirmed cards")
        before_dir = root if store.current_version() else None
        before = load_proposer("sklearn", before_dir, taxonomy)
        before_metrics = evaluate(before, heldout)
        with tempfile.TemporaryDirectory() as tmp:
            result = train_sklearn(corpus_dir, taxonomy, Path(tmp) / "model", extra=extra, seed=seed, tune=not no_tune)
            dest = store.publish(result.model_dir, result.model.version)
    except CallcardError as exc:
        raise click.ClickException(str(exc)) from exc
    after_metrics = result.heldout_metrics or {}
    click.echo(f"operator examples: {len(extra)}")
    click.echo(format_report(before_metrics, title=f"before: {before.version}"))
    click.echo(format_report(after_metrics, title=f"after: {result.model.version}"))
    keys = ("topic_accuracy", "service_accuracy", "emergency_accuracy", "language_accuracy")
    for k in keys:
        click.echo(f"{k}: {before_metrics[k]} -> {after_metrics.get(k)}")
    click.echo(f"published {result.model.version} to {dest} (CURRENT); earlier versions kept in {root / 'versions'}")


@classifier.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Model store or artifact directory (default: CALLCARD_CLASSIFIER_DIR, else the shipped model).",
)
@click.option("--backend", type=click.Choice(["sklearn", "transformers"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--errors", type=int, default=0, show_default=True, help="Also list this many misclassified lines.")
@click.option("--damage", "damage_wer", type=click.FloatRange(0.0, 0.9), default=None,
              help="Measure on copies damaged as recognition would, to about this word error rate (e.g. 0.3).")
@click.option("--seed", type=int, default=20261207, show_default=True, help="Seed of the damaged copies.")
def eval_(file: Path, model_dir: Path | None, backend: str | None, as_json: bool, errors: int,
          damage_wer: float | None, seed: int) -> None:
    """Evaluate on labelled JSON lines (the corpus format): accuracy per field, per-class P/R, confusions,
    reliability of the confidences."""
    from classifier.corpus import load_jsonl
    from classifier.damage import DamageModel, damage_examples
    from classifier.evaluation import evaluate, format_report
    from classifier.loader import load_proposer
    from core.errors import CallcardError

    settings, taxonomy = _taxonomy()
    try:
        examples = load_jsonl(file, taxonomy)
        if damage_wer is not None:
            examples = damage_examples(examples, DamageModel(damage_wer, seed=seed))
        proposer = load_proposer(backend or settings.classifier_backend, model_dir or settings.classifier_dir, taxonomy)
        metrics = evaluate(proposer, examples)
    except CallcardError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        pass
    if as_json:
        metrics = dict(metrics)
        metrics["errors"] = metrics["errors"][:errors]
        click.echo(json.dumps(metrics, ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(metrics, title=f"{file.name} with {proposer.version}", show_errors=errors))
    close = getattr(proposer, "close", None)
    if callable(close):
        close()


@classifier.command()
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Model store.")
def versions(out: Path | None) -> None:
    """List the stored model versions and which one is CURRENT."""
    from classifier.store import ModelStore

    store = ModelStore(_store_root(out))
    current = store.current_version()
    for v in store.versions():
        click.echo(("* " if v == current else "  ") + v)
    if not store.versions():
        click.echo(f"no versions in {store.root}; the shipped model is used")
