"""The text features every head shares (word and character n-gram TF-IDF) and their exact incremental form."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from classifier.address import COMMON_WORDS, STREET_TYPE_WORDS, default_streets_path
from classifier.normalize import normalize
from classifier.numbers import number_word

# Number words that are also ordinary words stay as they are ("он" is Russian "he", "бір" is Kazakh "a").
_KEEP = frozenset({"он", "бір", "одна", "одно", "один", "сот", "три", "пять"})


# Words of street names that callers also use for other things ("жол" road, "сары құбыр" the yellow gas pipe).
_ORDINARY_WORDS = frozenset({
    "город", "село", "жол", "восток", "востоке", "восточный", "зеленый", "дала", "далы", "батыр", "батыра", "хан",
    "хана", "хандар", "бен", "улы", "ұлы", "сары", "арка", "водно", "юго", "сери", "серы", "сері", "оңтүстік",
    "шығыс", "өркен", "өнеркәсіп", "лесозавод", "лесозаводе", "дин", "дина", "аль", "бия", "конституция",
    "промышленного", "железнодорожного", "пригородного", "целинного", "кирпичного", "интернационального",
})


# Street names that are also ordinary words, but that callers to the hotline say almost only as addresses.
_STREET_WORDS_IN_CALLS = frozenset({
    "жеңіс", "женис", "победы", "республики", "республика", "достык", "достық", "самал", "самале", "самала",
    "желтоксан", "желтоқсан", "мира", "конституции", "московская", "московской", "молодежный", "молодежном",
    "молодежного", "шубар", "гете", "мәскеу", "туркестан", "түркістан", "отырар", "жамбыл", "жетісу", "жетису",
    "сауран", "манас", "акжол", "ақжол", "алаш", "коктал", "көктал",
})


@lru_cache(maxsize=1)
def street_name_words() -> frozenset[str]:
    """Proper-name words of the shipped street list (a model cache), without words that are also ordinary words.

    They are dropped from the features: a street says nothing about the problem, and in a length-normalised
    vector every address word dilutes the few words that do ("жеңіс даңғылы қырық жеті пәтерде өрт").
    """
    words: set[str] = set()
    for item in yaml.safe_load(default_streets_path().read_text(encoding="utf-8")) or []:
        for form in [str(item.get("name", ""))] + list(item.get("ru") or []) + list(item.get("kk") or []):
            words.update(normalize(str(form)).split())
    names = frozenset(w for w in words if len(w) > 2 and not w[:1].isdigit() and number_word(w) is None)
    return (names - (STREET_TYPE_WORDS | COMMON_WORDS | _ORDINARY_WORDS)) | _STREET_WORDS_IN_CALLS


def feature_tokens(text: str) -> list[str | None]:
    """One entry per normalised token: the token, "num" for a number, None for a street name (left out)."""
    streets = street_name_words()
    out: list[str | None] = []
    for tok in normalize(text).split():
        if tok[:1].isdigit() or (tok not in _KEEP and number_word(tok) is not None):
            out.append("num")
        else:
            out.append(None if tok in streets else tok)
    return out


def feature_text(text: str) -> str:
    """Normalised text with number words and digits masked as "num" and street names left out (token-local)."""
    return " ".join(t for t in feature_tokens(text) if t is not None)


def split_tokens(text: str) -> list[str]:
    """Whitespace tokenizer (text is already normalised)."""
    return text.split()


def make_features(
    *,
    word_ngram: tuple[int, int] = (1, 2),
    char_ngram: tuple[int, int] = (2, 5),
    min_df: int = 2,
    word_max_features: int | None = 40000,
    char_max_features: int | None = 60000,
) -> FeatureUnion:
    """An unfitted FeatureUnion: word n-grams then char_wb n-grams, both sublinear TF-IDF, L2-normalised."""
    word = TfidfVectorizer(
        preprocessor=feature_text,
        tokenizer=split_tokens,
        token_pattern=None,
        lowercase=False,
        ngram_range=tuple(word_ngram),
        min_df=min_df,
        max_features=word_max_features,
        sublinear_tf=True,
        dtype=np.float64,
    )
    char = TfidfVectorizer(
        preprocessor=feature_text,
        analyzer="char_wb",
        lowercase=False,
        ngram_range=tuple(char_ngram),
        min_df=min_df,
        max_features=char_max_features,
        sublinear_tf=True,
        dtype=np.float64,
    )
    return FeatureUnion([("word", word), ("char", char)])


@dataclass(slots=True)
class _Block:
    """Running TF-IDF of one vectorizer: counts, raw weights, their squared norm and the raw decision values."""

    counts: dict[int, int] = field(default_factory=dict)
    sq_norm: float = 0.0
    decision: np.ndarray | None = None  # sum of raw weight * W row, over features


class IncrementalFeatures:
    """Computes the FeatureUnion's output and linear decision values segment by segment.

    Each head is linear in the feature vector; the vector is two L2-normalised blocks of sublinear TF-IDF.
    Keeping, per block, the counts, the squared norm of the raw weights and the raw decision sums lets a new
    segment update everything in time proportional to the segment's features, not the call's length.
    """

    def __init__(self, features: FeatureUnion, weights: np.ndarray) -> None:
        """``weights`` is (n_features, n_outputs): every head's coefficients side by side."""
        word: TfidfVectorizer = features.transformer_list[0][1]
        char: TfidfVectorizer = features.transformer_list[1][1]
        self._word_vocab: dict[str, int] = word.vocabulary_
        self._char_vocab: dict[str, int] = char.vocabulary_
        self._word_idf = np.asarray(word.idf_, dtype=np.float64)
        self._char_idf = np.asarray(char.idf_, dtype=np.float64)
        self._char_analyzer = char.build_analyzer()
        self._word_ngram = word.ngram_range
        self._n_word = len(self._word_idf)
        self.weights = weights
        self.n_outputs = weights.shape[1]

    def unigram_idf(self) -> dict[str, float]:
        """Every single-word feature with its idf (lower: more common in the training lines)."""
        return {w: float(self._word_idf[i]) for w, i in self._word_vocab.items() if " " not in w}

    def new_state(self) -> FeatureState:
        """Empty per-call state."""
        return FeatureState(
            word=_Block(decision=np.zeros(self.n_outputs)),
            char=_Block(decision=np.zeros(self.n_outputs)),
        )

    def segment_counts(self, raw_text: str, prev_tokens: list[str]
                       ) -> tuple[dict[int, int], dict[int, int], list[str], list[str | None]]:
        """Feature counts a segment adds (including word n-grams that join it to the previous tokens).

        Also returns the segment's feature tokens, and the same aligned with its normalised tokens (None where a
        token is left out of the features).
        """
        aligned = feature_tokens(raw_text)
        toks = [t for t in aligned if t is not None]
        wc: dict[int, int] = {}
        lo, hi = self._word_ngram
        ctx = prev_tokens[-(hi - 1) :] if hi > 1 else []
        seq = ctx + toks
        first_new = len(ctx)
        vocab = self._word_vocab
        for n in range(lo, hi + 1):
            for s in range(max(0, first_new - n + 1), len(seq) - n + 1):
                gram = seq[s] if n == 1 else " ".join(seq[s : s + n])
                idx = vocab.get(gram)
                if idx is not None:
                    wc[idx] = wc.get(idx, 0) + 1
        cc: dict[int, int] = {}
        cvocab = self._char_vocab
        for gram in self._char_analyzer(raw_text):
            idx = cvocab.get(gram)
            if idx is not None:
                cc[idx] = cc.get(idx, 0) + 1
        return wc, cc, toks, aligned

    def add(self, state: FeatureState, raw_text: str) -> None:
        """Fold one segment into ``state``."""
        wc, cc, toks, aligned = self.segment_counts(raw_text, state.tokens)
        self._update(state.word, wc, self._word_idf, 0)
        self._update(state.char, cc, self._char_idf, self._n_word)
        state.tokens.extend(toks)
        state.aligned.extend(aligned)

    def _update(self, block: _Block, delta: dict[int, int], idf: np.ndarray, offset: int) -> None:
        if not delta:
            return
        d_sq, d_dec = self._delta(block, delta, idf, offset)
        counts = block.counts
        for i, c in delta.items():
            counts[i] = counts.get(i, 0) + c
        block.sq_norm += d_sq
        assert block.decision is not None
        block.decision += d_dec

    def decisions(self, state: FeatureState) -> np.ndarray:
        """The linear part (X @ W) of every head for the state's accumulated text."""
        assert state.word.decision is not None and state.char.decision is not None
        out = np.zeros(self.n_outputs)
        if state.word.sq_norm > 0:
            out += state.word.decision / math.sqrt(state.word.sq_norm)
        if state.char.sq_norm > 0:
            out += state.char.decision / math.sqrt(state.char.sq_norm)
        return out

    def peek(self, state: FeatureState, raw_text: str) -> np.ndarray:
        """Decision values for the state's text plus ``raw_text``, leaving the state untouched."""
        wc, cc, _, _ = self.segment_counts(raw_text, state.tokens)
        assert state.word.decision is not None and state.char.decision is not None
        out = np.zeros(self.n_outputs)
        blocks = ((state.word, wc, self._word_idf, 0), (state.char, cc, self._char_idf, self._n_word))
        for block, delta, idf, offset in blocks:
            d_sq, d_dec = self._delta(block, delta, idf, offset)
            sq = block.sq_norm + d_sq
            if sq > 0:
                out += (block.decision + d_dec) / math.sqrt(sq)
        return out

    def _delta(self, block: _Block, delta: dict[int, int], idf: np.ndarray, offset: int) -> tuple[float, np.ndarray]:
        if not delta:
            return 0.0, np.zeros(self.n_outputs)
        idx = np.fromiter(delta.keys(), dtype=np.int64, count=len(delta))
        old = np.fromiter((block.counts.get(i, 0) for i in delta), dtype=np.float64, count=len(delta))
        new = old + np.fromiter(delta.values(), dtype=np.float64, count=len(delta))
        w_old = np.where(old > 0, 1.0 + np.log(np.maximum(old, 1.0)), 0.0) * idf[idx]
        w_new = (1.0 + np.log(new)) * idf[idx]
        return float(np.dot(w_new, w_new) - np.dot(w_old, w_old)), (w_new - w_old) @ self.weights[idx + offset]

    def unigram_index(self, token: str) -> int | None:
        """Column of a single word feature, or None."""
        return self._word_vocab.get(token)


@dataclass(slots=True)
class FeatureState:
    """Per-call running features."""

    word: _Block
    char: _Block
    tokens: list[str] = field(default_factory=list)  # feature tokens (for word n-grams across segments)
    aligned: list[str | None] = field(default_factory=list)  # per normalised token: its feature token or None

    def copy(self) -> FeatureState:
        """A copy whose updates do not touch this state."""
        assert self.word.decision is not None and self.char.decision is not None
        return FeatureState(
            word=_Block(dict(self.word.counts), self.word.sq_norm, self.word.decision.copy()),
            char=_Block(dict(self.char.counts), self.char.sq_norm, self.char.decision.copy()),
            tokens=self.tokens[-4:],
        )
