"""Optional transformers backend: fine-tune a LOCAL multilingual encoder; serve it from a process pool.

Install the extra first (``pip install 'callcard[transformers]'``). Nothing is ever downloaded: the base model
is read from a directory the site provides (its copy of multilingual BERT or XLM-R), with local_files_only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from classifier.address import AddressExtractor, StreetIndex
from classifier.augment import augment
from classifier.base import CardProposal, EmergencyHint, HeardWord
from classifier.calibration import Calibration
from classifier.corpus import Example, corpus_hash, training_data, training_files
from classifier.language import decide as decide_language
from classifier.normalize import normalize
from classifier.proposer import CallText, assemble, decide_emergency, token_confidences
from classifier.sklearn_model import LANGUAGE_LABELS, METADATA_FILE, check_labels
from core.errors import ClassifierError
from core.taxonomy import EMERGENCY_CODES, Taxonomy

logger = logging.getLogger(__name__)

ENCODER_DIR = "encoder"
HEADS_FILE = "heads.pt"
EMERGENCY_OUTPUTS = (*EMERGENCY_CODES, "any")
MAX_WORDS = 96  # the model reads the call's last words; older words live on in rules and address mentions
PHRASE_WORDS = 12


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # the extra is not installed
        raise ClassifierError("the transformers backend needs the extra: pip install 'callcard[transformers]'") from exc
    return torch


def _build_module(encoder: Any, n_topics: int, n_langs: int) -> Any:
    torch = _torch()

    class MultiHead(torch.nn.Module):  # type: ignore[misc, name-defined]
        """The encoder's first-token vector into three heads: topic, emergency codes (+any), language."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            hidden = encoder.config.hidden_size
            self.dropout = torch.nn.Dropout(0.1)
            self.topic = torch.nn.Linear(hidden, n_topics)
            self.emergency = torch.nn.Linear(hidden, len(EMERGENCY_OUTPUTS))
            self.language = torch.nn.Linear(hidden, n_langs)

        def forward(self, input_ids: Any, attention_mask: Any) -> tuple[Any, Any, Any]:
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, 0]
            out = self.dropout(out)
            return self.topic(out), self.emergency(out), self.language(out)

    return MultiHead()


def _model_text(text: str) -> str:
    words = normalize(text).split()
    return " ".join(words[-MAX_WORDS:])


@dataclass
class TransformersTrainResult:
    """What fine-tuning produced."""

    version: str
    model_dir: Path
    heldout_metrics: dict[str, Any] | None


def train_transformers(
    corpus_dir: Path,
    taxonomy: Taxonomy,
    out_dir: Path,
    *,
    base_model: Path,
    extra: list[Example] | None = None,
    seed: int = 0,
    epochs: int = 3,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    max_length: int = 128,
    limit: int | None = None,
    evaluate_heldout: bool = True,
    streets_path: Path | None = None,
) -> TransformersTrainResult:
    """Fine-tune ``base_model`` (a local directory) on the corpus's train split; write encoder + heads + metadata."""
    torch = _torch()
    from transformers import AutoModel, AutoTokenizer

    started = time.monotonic()
    torch.manual_seed(seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base_model), local_files_only=True)
        encoder = AutoModel.from_pretrained(str(base_model), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ClassifierError(f"cannot load a local encoder from {base_model}: {exc}") from exc
    streets = StreetIndex.load(streets_path)
    train, heldout = training_data(corpus_dir, taxonomy, extra)
    if limit is not None:
        train = train[:limit]
    data = augment(train, seed=seed, streets=streets)
    topics = tuple(sorted({e.topic for e in data}))
    langs = LANGUAGE_LABELS
    module = _build_module(encoder, len(topics), len(langs))
    texts = [_model_text(e.text) for e in data]
    y_topic = torch.tensor([topics.index(e.topic) for e in data])
    y_em = torch.tensor([[1.0 if c in e.codes else 0.0 for c in EMERGENCY_CODES] + [1.0 if e.codes else 0.0]
                         for e in data])
    y_lang = torch.tensor([langs.index(e.language) if e.language else -100 for e in data])
    optimizer = torch.optim.AdamW(module.parameters(), lr=learning_rate)
    ce = torch.nn.CrossEntropyLoss(ignore_index=-100)
    bce = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    module.train()
    for epoch in range(epochs):
        order = torch.randperm(len(texts), generator=gen).tolist()
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt")
            t_logits, e_logits, l_logits = module(enc["input_ids"], enc["attention_mask"])
            loss = ce(t_logits, y_topic[idx]) + bce(e_logits, y_em[idx]) + ce(l_logits, y_lang[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        logger.info("epoch %d/%d: loss %.4f", epoch + 1, epochs, total / max(1, len(texts)))
    module.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(str(out_dir / ENCODER_DIR))
    tokenizer.save_pretrained(str(out_dir / ENCODER_DIR))
    heads = {k: v for k, v in module.state_dict().items() if not k.startswith("encoder.")}
    torch.save(heads, out_dir / HEADS_FILE)
    digest = hashlib.sha256(corpus_hash(training_files(corpus_dir)).encode()
                            + str(base_model.name).encode() + str(epochs).encode()).hexdigest()
    version = f"transformers-{datetime.now(UTC):%Y%m%d}-{digest[:8]}"
    metadata: dict[str, Any] = {
        "backend": "transformers",
        "model_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": base_model.name,
        "labels": {"topic": list(topics), "language": list(langs)},
        "emergency_outputs": list(EMERGENCY_OUTPUTS),
        "max_length": max_length,
        "epochs": epochs,
        "train_examples": len(train),
        "corpus_hash": corpus_hash(training_files(corpus_dir)),
        "thresholds": {},
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    metrics = None
    if evaluate_heldout and heldout:
        from classifier.evaluation import evaluate, summary_metrics

        proposer = load_transformers_proposer(out_dir, taxonomy, streets_path=streets_path, workers=0)
        try:
            metrics = evaluate(proposer, heldout)
        finally:
            proposer.close()
        metadata["metrics_heldout"] = summary_metrics(metrics)
    metadata["train_seconds"] = round(time.monotonic() - started, 1)
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return TransformersTrainResult(version, out_dir, metrics)


# --- serving -----------------------------------------------------------------------------------------------------
# The one model cache of a worker process, filled once by the pool's initializer.
_WORKER: dict[str, Any] = {}


def _load_runtime(model_dir: str, threads: int) -> dict[str, Any]:
    torch = _torch()
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(max(1, threads))
    meta = json.loads((Path(model_dir) / METADATA_FILE).read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(str(Path(model_dir) / ENCODER_DIR), local_files_only=True)
    encoder = AutoModel.from_pretrained(str(Path(model_dir) / ENCODER_DIR), local_files_only=True)
    module = _build_module(encoder, len(meta["labels"]["topic"]), len(meta["labels"]["language"]))
    heads = torch.load(Path(model_dir) / HEADS_FILE, map_location="cpu", weights_only=True)
    missing, unexpected = module.load_state_dict(heads, strict=False)
    if unexpected or any(not k.startswith("encoder.") for k in missing):
        raise ClassifierError(f"{model_dir}: heads do not fit the encoder ({unexpected or missing})")
    module.eval()
    return {"tokenizer": tokenizer, "module": module, "max_length": int(meta.get("max_length", 128)), "torch": torch}


def _init_worker(model_dir: str, threads: int) -> None:
    """Process-pool initializer: load the model once per worker."""
    _WORKER.update(_load_runtime(model_dir, threads))


def _infer(texts: list[str], runtime: dict[str, Any] | None = None) -> list[dict[str, list[float]]]:
    rt = runtime or _WORKER
    torch = rt["torch"]
    enc = rt["tokenizer"](texts, padding=True, truncation=True, max_length=rt["max_length"], return_tensors="pt")
    with torch.no_grad():
        t, e, lang = rt["module"](enc["input_ids"], enc["attention_mask"])
    tp = torch.softmax(t, dim=-1).numpy()
    ep = torch.sigmoid(e).numpy()
    lp = torch.softmax(lang, dim=-1).numpy()
    return [{"topic": tp[i].tolist(), "emergency": ep[i].tolist(), "language": lp[i].tolist()}
            for i in range(len(texts))]


class TransformersEngine:
    """Runs the fine-tuned model in a pool of worker processes (each loads it once), or in process (workers=0)."""

    def __init__(self, model_dir: Path, *, workers: int = 1, threads: int = 1) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._runtime: dict[str, Any] | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(str(model_dir), threads),
            )
        else:
            self._runtime = _load_runtime(str(model_dir), threads)

    def infer(self, texts: list[str]) -> list[dict[str, list[float]]]:
        """Probabilities of every head for each text."""
        if self._pool is not None:
            return self._pool.submit(_infer, texts).result()
        return _infer(texts, self._runtime)

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class TransformersCallScorer:
    """One call on the transformers backend: rules and address are incremental; the model reads the last words."""

    def __init__(self, proposer: TransformersProposer) -> None:
        self._p = proposer
        self._text = CallText()
        self._last: CardProposal | None = None
        self._probs: dict[str, Any] | None = None

    def add_final(self, text: str, words: Sequence[HeardWord] = ()) -> CardProposal:
        """Add a final segment's text (and its words' confidences) and return the updated proposal."""
        toks = normalize(text).split()
        if not toks and self._last is not None:
            return self._last
        self._text.add(toks, self._p.extractor, confidences=token_confidences(toks, words))
        last_words = " ".join(self._text.tokens[-MAX_WORDS:])
        self._probs = self._p.engine.infer([last_words])[0]
        self._last = self._p.build(self._text, self._probs)
        return self._last

    def check_partial(self, text: str) -> EmergencyHint:
        """Rules on the partial words plus the model's last emergency view (no model call on partials)."""
        hits = self._text.partial_hits(normalize(text).split())
        probs = self._p.emergency_probs(self._probs) if self._probs else {}
        v = decide_emergency(probs, hits, self._p.thresholds)
        return EmergencyHint(v.primary, v.also, v.confidence, v.evidence)

    def proposal(self) -> CardProposal | None:
        """The latest proposal, or None before any text."""
        return self._last


class TransformersProposer:
    """CardProposer over a fine-tuned encoder."""

    def __init__(self, engine: TransformersEngine, metadata: dict[str, Any], taxonomy: Taxonomy,
                 streets: StreetIndex) -> None:
        self.engine = engine
        self.taxonomy = taxonomy
        self.extractor = AddressExtractor(streets)
        self.version = str(metadata["model_version"])
        self.topics = tuple(metadata["labels"]["topic"])
        self.languages = tuple(metadata["labels"]["language"])
        self.thresholds = {k: float(v) for k, v in (metadata.get("thresholds") or {}).items()}
        self.calibration = Calibration.from_json(metadata.get("calibration"))

    def propose(self, text: str) -> CardProposal:
        """Propose a card for a whole text."""
        return self.open_call().add_final(text)

    def open_call(self) -> TransformersCallScorer:
        """Start scoring one call."""
        return TransformersCallScorer(self)

    def emergency_probs(self, probs: dict[str, Any]) -> dict[str, float]:
        """Per-code (and "any") emergency probabilities from the model's output."""
        return {name: float(p) for name, p in zip(EMERGENCY_OUTPUTS, probs["emergency"], strict=True)}

    def build(self, text: CallText, probs: dict[str, Any]) -> CardProposal:
        """The proposal from the model's probabilities and the call's rules and address."""
        lang_p = np.asarray(probs["language"])
        language = self.languages[int(np.argmax(lang_p))] if len(lang_p) else decide_language(text.kk_votes,
                                                                                              text.ru_votes)
        return assemble(
            self.taxonomy,
            topics=self.topics,
            topic_p=np.asarray(probs["topic"]),
            emergency_probs=self.emergency_probs(probs),
            hits=text.hits,
            thresholds=self.thresholds,
            language=language,
            address=self.extractor.judge(text.mentions),
            phrase=" ".join(text.tokens[-PHRASE_WORDS:]),
            version=self.version,
            calibration=self.calibration,
        )

    def close(self) -> None:
        """Stop the worker processes."""
        self.engine.close()


def load_transformers_proposer(model_dir: Path, taxonomy: Taxonomy, *, streets_path: Path | None = None,
                               workers: int = 1, threads: int = 1) -> TransformersProposer:
    """Check a fine-tuned artifact's labels against the taxonomy and start its worker pool."""
    meta_path = model_dir / METADATA_FILE
    if not meta_path.exists() or not (model_dir / HEADS_FILE).exists():
        raise ClassifierError(f"no fine-tuned transformers model in {model_dir}; run "
                              "`callcard classifier train --backend transformers --base-model DIR`")
    metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    if metadata.get("backend") != "transformers":
        raise ClassifierError(f"{model_dir} holds a {metadata.get('backend')!r} model, not a transformers one")
    check_labels({"topic": metadata["labels"]["topic"], "language": metadata["labels"]["language"]}, taxonomy,
                 str(model_dir))
    _torch()
    engine = TransformersEngine(model_dir, workers=workers, threads=threads)
    return TransformersProposer(engine, metadata, taxonomy, StreetIndex.load(streets_path))
