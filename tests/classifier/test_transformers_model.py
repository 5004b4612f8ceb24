"""The transformers backend on a tiny BERT built here from a config (no hub download): train, serve, refuse."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be fetched: the encoder is built locally below
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from classifier.corpus import Example, default_corpus_dir, load_jsonl  # noqa: E402
from classifier.sklearn_model import METADATA_FILE  # noqa: E402
from core.errors import ClassifierError  # noqa: E402
from core.taxonomy import Taxonomy  # noqa: E402

pytestmark = pytest.mark.transformers

torch = pytest.importorskip("torch", reason="the [transformers] extra is not installed")


def _write(path: Path, examples: list[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for e in examples:
            f.write(json.dumps({"text": e.text, "topic": e.topic, "emergency": e.emergency,
                                "emergency_also": list(e.emergency_also), "language": e.language,
                                "address": e.address}, ensure_ascii=False) + "\n")


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory, taxonomy: Taxonomy) -> Path:
    """A few lines of every corpus file: train and held-out kept apart as in the real corpus."""
    root = tmp_path_factory.mktemp("tiny_corpus")
    for split, n in (("train", 4), ("heldout", 1)):
        for f in sorted((default_corpus_dir() / split).glob("*.jsonl")):
            _write(root / split / f.name, load_jsonl(f, taxonomy)[:n])
    return root


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A one-layer BERT with a WordPiece vocabulary trained on the corpus, saved like a site's local copy."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    texts = [json.loads(line)["text"] for f in (tiny_corpus / "train").glob("*.jsonl")
             for line in f.read_text(encoding="utf-8").splitlines()]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=1500, special_tokens=special))
    ids = [("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))]
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=ids)
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]")
    out = tmp_path_factory.mktemp("tiny-bert")
    fast.save_pretrained(str(out))
    config = BertConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=160)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path, tiny_encoder: Path,
               taxonomy: Taxonomy) -> Path:
    from classifier.transformers_model import train_transformers

    out = tmp_path_factory.mktemp("tiny-model")
    result = train_transformers(tiny_corpus, taxonomy, out, base_model=tiny_encoder, epochs=1, batch_size=32,
                                max_length=48, evaluate_heldout=True)
    assert result.version.startswith("transformers-")
    assert result.heldout_metrics is not None and result.heldout_metrics["n"] > 0
    return out


def test_trains_and_serves_from_a_process_pool(tiny_model: Path, taxonomy: Taxonomy) -> None:
    from classifier.loader import load_proposer

    proposer = load_proposer("transformers", tiny_model, taxonomy, workers=1)
    try:
        p = proposer.propose("алло на кенесары сорок пять в подъезде пахнет газом")
        assert p.topic in taxonomy.topics and p.service == taxonomy.service_for(p.topic)
        assert p.emergency == "104"  # the phrase rules run on every backend
        assert p.address.street == "проспект Кенесары" and p.address.house == "45"
        assert len(p.alternatives["topic"]) == 3 and p.model_version.startswith("transformers-")
        scorer = proposer.open_call()
        scorer.add_final("сәлеметсіз бе")
        assert scorer.check_partial("өрт шығып жатыр түтін").emergency == "101"
        second = scorer.add_final("абай даңғылы он екінші үй ыстық су жоқ")
        assert second.address.street == "проспект Абая" and second.address.house == "12"
        assert scorer.proposal() is second
    finally:
        proposer.close()


def test_refuses_labels_outside_the_taxonomy(tiny_model: Path, taxonomy: Taxonomy, tmp_path: Path) -> None:
    from classifier.transformers_model import load_transformers_proposer

    bad = tmp_path / "bad"
    shutil.copytree(tiny_model, bad)
    meta = json.loads((bad / METADATA_FILE).read_text(encoding="utf-8"))
    meta["labels"]["topic"][0] = "not_a_topic"
    (bad / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ClassifierError, match="not taxonomy topic ids"):
        load_transformers_proposer(bad, taxonomy, workers=0)


def test_base_model_must_be_local(tmp_path: Path, tiny_corpus: Path, taxonomy: Taxonomy) -> None:
    from classifier.transformers_model import train_transformers

    with pytest.raises(ClassifierError, match="local encoder"):
        train_transformers(tiny_corpus, taxonomy, tmp_path / "out", base_model=tmp_path / "bert-base-multilingual")
