"""The scikit-learn backend: shared TF-IDF features, calibrated linear heads, artifact save/load with label checks."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from classifier.features import IncrementalFeatures, make_features
from classifier.language import build_lexicon
from classifier.normalize import normalize
from core.errors import ClassifierError
from core.taxonomy import EMERGENCY_CODES, Taxonomy

logger = logging.getLogger(__name__)

ARTIFACT_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
LANGUAGE_LABELS = ("kk", "mixed", "ru")

DEFAULTS: dict[str, Any] = {
    "word_ngram": (1, 2),
    "char_ngram": (2, 5),
    "min_df": 2,
    "word_max_features": 20000,
    "char_max_features": 30000,
    "C_topic": 0.5,
    "C_emergency": 0.5,
    "C_language": 0.5,
    "calibration_cv": 3,
}


def _head(C: float, cv: int, seed: int, y: list[str], groups: list[int] | None) -> CalibratedClassifierCV:
    """A linear SVM with sigmoid calibration fitted out-of-fold.

    With ``groups`` (the original utterance of each augmented example) the calibration folds keep an
    utterance and its variants together, so the calibrator sees margins of unseen callers, not of near-copies.
    """
    svc = LinearSVC(C=C, class_weight="balanced", random_state=seed, max_iter=5000)
    folds: Any = cv
    if groups is not None:
        splitter = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed)
        folds = list(splitter.split(np.zeros(len(y)), y, groups))
    return CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)


@dataclass(frozen=True, slots=True)
class HeadSpec:
    """Where one head's outputs sit in the stacked weight matrix, and how to calibrate them."""

    name: str
    classes: tuple[str, ...]
    columns: slice
    a: np.ndarray
    b: np.ndarray
    intercept: np.ndarray


def _extract(name: str, clf: CalibratedClassifierCV, start: int) -> tuple[HeadSpec, np.ndarray]:
    """Linear weights and sigmoid calibrators of a fitted CalibratedClassifierCV(ensemble=False)."""
    if len(clf.calibrated_classifiers_) != 1 or clf.calibrated_classifiers_[0].method != "sigmoid":
        raise ClassifierError(f"head {name}: expected one sigmoid-calibrated linear classifier")
    cc = clf.calibrated_classifiers_[0]
    est = cc.estimator
    coef = np.asarray(est.coef_, dtype=np.float64)  # (k, F), k = 1 for binary
    a = np.array([c.a_ for c in cc.calibrators], dtype=np.float64)
    b = np.array([c.b_ for c in cc.calibrators], dtype=np.float64)
    spec = HeadSpec(
        name=name,
        classes=tuple(str(c) for c in clf.classes_),
        columns=slice(start, start + coef.shape[0]),
        a=a,
        b=b,
        intercept=np.asarray(est.intercept_, dtype=np.float64),
    )
    return spec, coef.T


def calibrated_proba(spec: HeadSpec, decision: np.ndarray) -> np.ndarray:
    """The same probabilities CalibratedClassifierCV.predict_proba gives, from the head's decision values."""
    d = decision[spec.columns] + spec.intercept
    p = expit(-(spec.a * d + spec.b))
    if len(spec.classes) == 2:
        return np.array([1.0 - p[0], p[0]])
    total = p.sum()
    if total == 0:
        return np.full(len(spec.classes), 1.0 / len(spec.classes))
    return p / total


class SklearnModel:
    """Fitted pipelines (one per head, sharing one fitted FeatureUnion) plus metadata."""

    def __init__(self, pipelines: dict[str, Pipeline], metadata: dict[str, Any],
                 lexicon: dict[str, list[str]] | None = None) -> None:
        self.pipelines = pipelines
        self.metadata = metadata
        self.version: str = str(metadata.get("model_version", "sklearn-unknown"))
        self.lexicon: dict[str, list[str]] = lexicon or {}  # language-only words of the training lines
        self.thresholds: dict[str, float] = {k: float(v) for k, v in (metadata.get("thresholds") or {}).items()}
        first = next(iter(pipelines.values()))
        features: FeatureUnion = first.named_steps["features"]
        specs: list[HeadSpec] = []
        blocks: list[np.ndarray] = []
        col = 0
        for name, pipe in pipelines.items():
            spec, w = _extract(name, pipe.named_steps["clf"], col)
            specs.append(spec)
            blocks.append(w)
            col += w.shape[1]
        self.heads: dict[str, HeadSpec] = {s.name: s for s in specs}
        self.incremental = IncrementalFeatures(features, np.ascontiguousarray(np.hstack(blocks)))

    @property
    def topics(self) -> tuple[str, ...]:
        """Topic labels the model knows."""
        return self.heads["topic"].classes

    def probabilities(self, decision: np.ndarray) -> dict[str, np.ndarray]:
        """Calibrated probabilities of every head."""
        return {name: calibrated_proba(spec, decision) for name, spec in self.heads.items()}

    def predict_proba(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Batch probabilities through the sklearn pipelines (reference path, used by evaluation and tests)."""
        return {name: pipe.predict_proba(texts) for name, pipe in self.pipelines.items()}

    # --- persistence -------------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write model.joblib (the pipelines) and metadata.json."""
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump({"pipelines": self.pipelines, "lexicon": self.lexicon}, directory / ARTIFACT_FILE, compress=3)
        (directory / METADATA_FILE).write_text(json.dumps(self.metadata, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, taxonomy: Taxonomy) -> SklearnModel:
        """Load an artifact; refuse it when it is missing, from another library, or its labels are not taxonomy ids."""
        meta_path = directory / METADATA_FILE
        art_path = directory / ARTIFACT_FILE
        if not meta_path.exists() or not art_path.exists():
            raise ClassifierError(
                f"no trained classifier in {directory} (need {ARTIFACT_FILE} and {METADATA_FILE}); "
                "run `callcard classifier train`"
            )
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ClassifierError(f"{meta_path} is not readable JSON: {exc}") from exc
        if metadata.get("backend") != "sklearn":
            raise ClassifierError(f"{directory} holds a {metadata.get('backend')!r} model, not an sklearn one")
        check_labels(metadata.get("labels") or {}, taxonomy, str(directory))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InconsistentVersionWarning)
            try:
                data = joblib.load(art_path)
            except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable artifact
                raise ClassifierError(f"cannot load {art_path}: {exc}") from exc
        for w in caught:
            if issubclass(w.category, InconsistentVersionWarning):
                logger.warning("classifier artifact %s was trained with another scikit-learn: %s", directory, w.message)
        pipelines = data.get("pipelines") if isinstance(data, dict) else None
        if not isinstance(pipelines, dict) or "topic" not in pipelines:
            raise ClassifierError(f"{art_path} does not hold the classifier's pipelines")
        actual = {name: [str(c) for c in pipe.classes_] for name, pipe in pipelines.items()}
        check_labels(actual, taxonomy, str(directory))
        for name, labels in (metadata.get("labels") or {}).items():
            if actual.get(name) != list(labels):
                raise ClassifierError(f"{directory}: head {name!r} labels differ between metadata and model")
        lexicon = data.get("lexicon") if isinstance(data.get("lexicon"), dict) else None
        return cls(pipelines, metadata, lexicon)


def check_labels(labels: dict[str, list[str]], taxonomy: Taxonomy, where: str) -> None:
    """Raise ClassifierError unless every head's labels are ids of the taxonomy."""
    if "topic" not in labels:
        raise ClassifierError(f"{where}: the model has no topic head")
    bad = [t for t in labels["topic"] if t not in taxonomy.topics]
    if bad:
        raise ClassifierError(f"{where}: topic labels {bad} are not taxonomy topic ids; retrain the classifier")
    for name, values in labels.items():
        if name.startswith("emergency_"):
            code = name.removeprefix("emergency_")
            if code != "any" and (code not in EMERGENCY_CODES or code not in taxonomy.emergency):
                raise ClassifierError(f"{where}: {name} is not a head for a taxonomy emergency code")
            if sorted(values) != ["0", "1"]:
                raise ClassifierError(f"{where}: {name} must be a yes/no head")
        elif name == "language":
            if not set(values) <= set(LANGUAGE_LABELS):
                raise ClassifierError(f"{where}: language labels {values} are not ru/kk/mixed")
        elif name != "topic":
            raise ClassifierError(f"{where}: unknown head {name!r}")


def compact(pipelines: dict[str, Pipeline]) -> None:
    """Shrink fitted pipelines for shipping: drop the vectorizers' discarded-term sets, store weights as float32."""
    for pipe in pipelines.values():
        for _, vec in pipe.named_steps["features"].transformer_list:
            if hasattr(vec, "stop_words_"):
                vec.stop_words_ = None
        for cc in pipe.named_steps["clf"].calibrated_classifiers_:
            est = cc.estimator
            est.coef_ = np.asarray(est.coef_, dtype=np.float32)


def fit_model(
    texts: list[str],
    topics: list[str],
    codes: list[tuple[str, ...]],
    languages: list[str | None],
    *,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    metadata: dict[str, Any] | None = None,
    emergency_only: bool = False,
    groups: list[int] | None = None,
    lexicon_lines: list[tuple[str, str | None]] | None = None,
) -> SklearnModel:
    """Fit the shared features and every head (or only the emergency heads) on the given examples.

    ``groups`` names each example's original utterance when the examples are augmented (see ``_head``);
    ``lexicon_lines`` are the (unaugmented) labelled lines the language lexicon is built from (default: all).
    """
    p = {**DEFAULTS, **(params or {})}
    features = make_features(
        word_ngram=tuple(p["word_ngram"]),
        char_ngram=tuple(p["char_ngram"]),
        min_df=int(p["min_df"]),
        word_max_features=p["word_max_features"],
        char_max_features=p["char_max_features"],
    )
    X = features.fit_transform(texts)
    pipelines: dict[str, Pipeline] = {}
    cv = int(p["calibration_cv"])
    if emergency_only:  # a two-class stand-in keeps the artifact shape; used by threshold search only
        y_two = ["1" if c else "0" for c in codes]
        topic_clf = _head(float(p["C_topic"]), cv, seed, y_two, groups).fit(X, y_two)
    else:
        topic_clf = _head(float(p["C_topic"]), cv, seed, topics, groups).fit(X, topics)
    pipelines["topic"] = Pipeline([("features", features), ("clf", topic_clf)])
    for code in EMERGENCY_CODES:
        y = ["1" if code in c else "0" for c in codes]
        if len(set(y)) < 2 or min(y.count("1"), y.count("0")) < cv:
            logger.warning("emergency head %s skipped: too few examples of it", code)
            continue
        clf = _head(float(p["C_emergency"]), cv, seed, y, groups).fit(X, y)
        pipelines[f"emergency_{code}"] = Pipeline([("features", features), ("clf", clf)])
    y_any = ["1" if c else "0" for c in codes]
    if len(set(y_any)) == 2 and min(y_any.count("1"), y_any.count("0")) >= cv:
        clf = _head(float(p["C_emergency"]), cv, seed, y_any, groups).fit(X, y_any)
        pipelines["emergency_any"] = Pipeline([("features", features), ("clf", clf)])
    lang_idx = [i for i, lang in enumerate(languages) if lang]
    if len({languages[i] for i in lang_idx}) >= 2 and not emergency_only:
        y_lang = [str(languages[i]) for i in lang_idx]
        g_lang = [groups[i] for i in lang_idx] if groups is not None else None
        clf = _head(float(p["C_language"]), cv, seed, y_lang, g_lang).fit(X[lang_idx], y_lang)
        pipelines["language"] = Pipeline([("features", features), ("clf", clf)])
    compact(pipelines)
    meta = dict(metadata or {})
    meta.setdefault("backend", "sklearn")
    meta["sklearn_version"] = sklearn.__version__
    meta["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}
    meta["labels"] = {name: [str(c) for c in pipe.classes_] for name, pipe in pipelines.items()}
    meta["n_features"] = int(X.shape[1])
    source = lexicon_lines if lexicon_lines is not None else list(zip(texts, languages, strict=True))
    lexicon = build_lexicon([(normalize(t).split(), lang) for t, lang in source if lang])
    meta["lexicon_words"] = {k: len(v) for k, v in lexicon.items()}
    return SklearnModel(pipelines, meta, lexicon)
