"""The top-level category model and the category suggestion (issue 11 §1).

Model: word unigrams (jieba) and character n-grams (1–3), each TF-IDF with sublinear term frequency, joined
into one sparse vector; then one linear support-vector machine per class (one-vs-rest, ``LinearSVC``,
C = 0.5) on the features scaled by that class's naive-Bayes log-count ratio (NB-SVM, Wang & Manning 2012,
"Baselines and bigrams"): a word that is far likelier in one class than in the rest weighs more for that
class's machine. The seven machines' scores are turned into probabilities by temperature scaling (one
softmax temperature fitted on out-of-fold scores of 3 stratified folds, by log-loss), which calibrates the
probabilities without changing which class ranks first. Every random step takes the seed
(``TEXT_CLASSIFIER_SEED``, default 20200), so the same seed and files give the same model and the same
scores. Choices were made on the titles' ``dev`` split only (a model trained without the ``dev`` titles,
scored on them), never on a hold-out (see :mod:`cases.text.corpus`); the dev figures are in the
engineering note.

The fitted model is kept in one file (``TEXT_CLASSIFIER_PATH``, default ``var/text/category_model.joblib``,
not committed) with its version, training time, seed, data digest and hold-out scores; a ``.json`` beside
it repeats the metadata for people. ``python manage.py train_classifier`` writes it (seconds);
``bin/run`` trains it on first start.

A suggestion never sets a category: :func:`suggest` only answers probabilities and taxonomy nodes.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import threading
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone

from .corpus import Corpus, load_corpus
from .evaluation import Scores, score
from .segment import model_text, normalise, tokens

logger = logging.getLogger(__name__)

#: Bumped when the pipeline's shape changes, so an old file is retrained rather than misread.
MODEL_FORMAT = 2
#: Lower taxonomy nodes whose name is too generic to suggest by its text.
GENERIC_NODE_NAMES = frozenset({"其他", "其它"})
#: Characters of the description the taxonomy-node match reads (rapidfuzz's cost grows with the text;
#: a demand names its object early).
NODE_MATCH_CHARS = 300


class ModelNotTrained(Exception):
    """No usable trained model at ``TEXT_CLASSIFIER_PATH`` (missing, unreadable, or of another format or
    library version): run ``python manage.py train_classifier``."""


def default_seed() -> int:
    return int(getattr(settings, "TEXT_CLASSIFIER_SEED", 20200))


def model_path() -> Path:
    return Path(getattr(settings, "TEXT_CLASSIFIER_PATH", Path(settings.VAR_DIR) / "text" / "category_model.joblib"))


def build_pipeline(seed: int):
    """The unfitted scikit-learn pipeline (see the module docstring); ``seed`` fixes every random step."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline

    from .nbsvm import NBSVMClassifier

    features = FeatureUnion([
        ("words", TfidfVectorizer(tokenizer=tokens, token_pattern=None, lowercase=False, ngram_range=(1, 1),
                                  sublinear_tf=True, dtype=np.float32)),
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, dtype=np.float32)),
    ])
    return Pipeline([("features", features), ("classify", NBSVMClassifier(C=0.5, alpha=1.0, cv=3, seed=seed))])


def _library_versions() -> dict[str, str]:
    import jieba
    import sklearn

    return {"scikit-learn": sklearn.__version__, "jieba": jieba.__version__, "numpy": np.__version__}


@dataclasses.dataclass
class CategoryModel:
    """A fitted pipeline and what is known about it. ``labels`` are the top-level category names in the
    order of the probability columns; ``trained_at`` is UTC ISO-8601; ``scores`` maps each hold-out to
    :meth:`Scores.summary`; ``training`` counts rows per origin and those dropped."""

    pipeline: object
    labels: list[str]
    version: str
    seed: int
    trained_at: str
    data_digest: str
    scores: dict
    training: dict
    libraries: dict
    format: int = MODEL_FORMAT

    def transform(self, texts: list[str]):
        """The pipeline's feature rows (scipy CSR, n × features) for ``texts``: each vectoriser's
        ``transform`` joined side by side, as the pipeline's ``FeatureUnion`` does, without the
        pipeline's per-call checks and dispatch (7 of the 8 ms a single text took)."""
        from scipy.sparse import hstack

        features = self.pipeline.named_steps["features"]
        return hstack([vec.transform(texts) for _, vec in features.transformer_list], format="csr")

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities (n × len(labels)) for texts made by :func:`cases.text.segment.model_text`; the same
        figures as ``pipeline.predict_proba``."""
        return self.pipeline.named_steps["classify"].predict_proba(self.transform(texts))

    def metadata(self) -> dict:
        """Everything but the pipeline, JSON-ready."""
        # Not dataclasses.asdict: it deep-copies the fitted pipeline too (a second and a half).
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "pipeline"}

    def fingerprint(self) -> str:
        """SHA-256 over the fitted parameters (vocabularies, IDF weights, coefficients, calibration): two
        models with the same fingerprint classify every text the same way."""
        h = hashlib.sha256()
        features = self.pipeline.named_steps["features"]
        for _, vec in features.transformer_list:
            # The terms in column order determine the vocabulary (its indices are the sorted terms' order).
            h.update("\n".join(vec.get_feature_names_out()).encode())
            h.update(np.ascontiguousarray(vec.idf_).tobytes())
        machine = self.pipeline.named_steps["classify"]
        h.update(np.ascontiguousarray(machine.weights_).tobytes())
        h.update(np.ascontiguousarray(machine.intercept_).tobytes())
        h.update(np.array([machine.temperature_], dtype=np.float64).tobytes())
        return h.hexdigest()


def score_holdouts(model: CategoryModel, corpus: Corpus) -> dict[str, Scores]:
    """Score ``model`` on both hold-outs of ``corpus``: ``{"titles_test": Scores, "messages_holdout": …}``."""
    out = {}
    for name, examples in corpus.holdouts().items():
        proba = model.predict_proba([e.text for e in examples])
        out[name] = score(name, model.labels, [e.label for e in examples], proba)
    return out


def train(seed: int | None = None, *, corpus: Corpus | None = None, now: dt.datetime | None = None) -> CategoryModel:
    """Fit the pipeline on the corpus's training rows and score it on both hold-outs.

    ``seed`` defaults to ``TEXT_CLASSIFIER_SEED``; ``corpus`` to :func:`load_corpus` for that seed (tests pass
    a smaller one). Deterministic: the same seed and rows give the same fitted parameters and scores.
    Returns the unsaved :class:`CategoryModel`.
    """
    seed = default_seed() if seed is None else seed
    corpus = corpus or load_corpus(seed)
    now = now or timezone.now()
    pipeline = build_pipeline(seed)
    pipeline.fit([e.text for e in corpus.train], [e.label for e in corpus.train])
    labels = [str(c) for c in pipeline.classes_]
    origins: dict[str, int] = {}
    for e in corpus.train:
        origins[e.origin] = origins.get(e.origin, 0) + 1
    model = CategoryModel(
        pipeline=pipeline, labels=labels, version="", seed=seed,
        trained_at=now.astimezone(dt.UTC).isoformat(timespec="seconds"), data_digest=corpus.digest,
        scores={}, training={"rows": len(corpus.train), "by_origin": origins, "dropped_as_holdout": corpus.dropped},
        libraries=_library_versions(),
    )
    model.scores = {name: s.summary() for name, s in score_holdouts(model, corpus).items()}
    model.version = f"{MODEL_FORMAT}.{seed}.{model.fingerprint()[:12]}"
    return model


def save(model: CategoryModel, path: Path | None = None) -> Path:
    """Write the model (pickle protocol 5, zlib level 1: a fraction of a second, where joblib's pure-Python
    pickler took ten) and its metadata (``.json`` beside it) atomically; returns the path."""
    import pickle
    import zlib

    path = Path(path or model_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(zlib.compress(pickle.dumps(model, protocol=5), 1))
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(model.metadata(), ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")
    with _cache_lock:
        _cache.clear()
    return path


def load(path: Path | None = None) -> CategoryModel:
    """Read a saved model. Raises :class:`ModelNotTrained` when the file is missing or unreadable, or was
    written for another model format or scikit-learn version."""
    import pickle
    import zlib

    path = Path(path or model_path())
    if not path.exists():
        raise ModelNotTrained(f"no trained category model at {path}: run `python manage.py train_classifier`")
    try:
        model = pickle.loads(zlib.decompress(path.read_bytes()))
    except Exception as exc:  # a truncated or foreign file
        raise ModelNotTrained(f"{path} is not a readable category model ({type(exc).__name__})") from None
    if not isinstance(model, CategoryModel) or model.format != MODEL_FORMAT:
        raise ModelNotTrained(f"{path} holds another model format: run `python manage.py train_classifier`")
    if model.libraries.get("scikit-learn") != _library_versions()["scikit-learn"]:
        raise ModelNotTrained(f"{path} was trained with scikit-learn {model.libraries.get('scikit-learn')}: retrain")
    return model


_cache: dict[tuple, CategoryModel] = {}
_cache_lock = threading.Lock()


def current_model() -> CategoryModel:
    """The saved model at ``TEXT_CLASSIFIER_PATH``, read once per process and again when the file changes.
    Raises :class:`ModelNotTrained`."""
    path = model_path()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ModelNotTrained(f"no trained category model at {path}: run `python manage.py train_classifier`") \
            from None
    key = (str(path), stamp)
    with _cache_lock:
        model = _cache.get(key)
    if model is None:
        model = load(path)
        with _cache_lock:
            _cache.clear()
            _cache[key] = model
    return model


def use_model(model: CategoryModel | None) -> None:
    """Make ``model`` the process's current model without a file (tests share one trained model this way);
    ``None`` goes back to reading ``TEXT_CLASSIFIER_PATH``."""
    _in_memory[0] = model


_in_memory: list[CategoryModel | None] = [None]


def _model() -> CategoryModel:
    return _in_memory[0] if _in_memory[0] is not None else current_model()


# --- Suggestion ---------------------------------------------------------------------------------------


def match_nodes(nodes: list[dict], text: str, *, limit: int = 5, min_score: float = 0.6) -> list[dict]:
    """Rank lower taxonomy nodes by how well their names occur in ``text``.

    ``nodes``: dicts with ``id``, ``name``, ``level`` (2 or 3) and ``parent_name`` ('' for level 2).
    A name's match is rapidfuzz's ``partial_ratio`` against the normalised text (the best alignment of the
    name with any stretch of the text), from 0 to 1. A level-3 node scores 0.7 × its own match + 0.3 × its
    level-2 parent's, a level-2 node its own match; generic names (其他) are left out. Returns at most
    ``limit`` nodes scoring at least ``min_score``, best first (ties: shorter path, then id), each dict
    extended with ``score`` (rounded to 3).
    """
    from rapidfuzz import fuzz

    text = normalise(text)
    if not text:
        return []
    own: dict[str, float] = {}

    def match(name: str) -> float:
        if name not in own:
            own[name] = fuzz.partial_ratio(normalise(name), text) / 100.0 if name else 0.0
        return own[name]

    ranked = []
    for node in nodes:
        if node["name"] in GENERIC_NODE_NAMES:
            continue
        s = match(node["name"])
        if node["level"] == 3 and node.get("parent_name"):
            s = 0.7 * s + 0.3 * match(node["parent_name"])
        if s >= min_score:
            ranked.append({**node, "score": round(s, 3)})
    ranked.sort(key=lambda n: (-n["score"], n["level"], n["id"]))
    return ranked[:limit]


def suggest(title: str, description: str = "", *, k: int = 3, model: CategoryModel | None = None) -> dict:
    """Suggest categories for a demand's ``title`` and ``description`` (either may be empty, not both).

    Returns ``{"model_version", "categories": [{"id", "name", "probability"}] (the ``k`` most probable
    top-level categories, best first; ``id`` None when the taxonomy lacks that name), "nodes": [{"id", "name",
    "level", "path", "score"}] (second/third-level nodes under the best category whose names best match the
    title and the first ``NODE_MATCH_CHARS`` characters of the description, :func:`match_nodes`)}``.
    Probabilities are rounded to 4 places. The taxonomy comes from the process's cached node list
    (:func:`cases.text.search.taxonomy_nodes`, one aggregate query a call). Never sets a category.
    Raises :class:`ModelNotTrained`; ValueError when both texts are empty.
    """
    from .search import taxonomy_nodes

    text = model_text(title, description)
    if not text:
        raise ValueError("title and description are both empty")
    model = model or _model()
    proba = model.predict_proba([text])[0]
    order = np.argsort(-proba, kind="stable")[:k]
    taxonomy = taxonomy_nodes()
    tops = {r["name"]: r["id"] for r in taxonomy if r["level"] == 1}
    categories = [{"id": tops.get(model.labels[i]), "name": model.labels[i], "probability": round(float(proba[i]), 4)}
                  for i in order]
    nodes = []
    best = categories[0]["id"]
    if best is not None:
        candidates = [r for r in taxonomy if r["top_id"] == best and r["level"] in (2, 3)]
        shown = f"{title or ''} {(description or '')[:NODE_MATCH_CHARS]}"
        for node in match_nodes(candidates, shown):
            nodes.append({"id": node["id"], "name": node["name"], "level": node["level"], "path": node["path"],
                          "score": node["score"]})
    return {"model_version": model.version, "categories": categories, "nodes": nodes}
