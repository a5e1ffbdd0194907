"""Text vectors for comparing cases: duplicate suggestion and hotspot topics use the same ones.

With a trained category model the vectors are its own TF-IDF features (jieba words and character
1–3-grams, weighted by the inverse document frequencies of the 9,000+ real training texts), re-normalised
to unit length, so the dot product of two rows is their cosine similarity in [0, 1]. Without one (a fresh
database before ``train_classifier``) a character 1–3-gram TF-IDF is fitted on the texts at hand.
"""
from __future__ import annotations

import numpy as np

from .segment import model_text


def case_text(title: str | None, description: str | None) -> str:
    """The text a case is compared by: :func:`cases.text.segment.model_text` (title twice, 300 characters
    of description)."""
    return model_text(title, description)


def vectorise(texts: list[str]):
    """Unit-length sparse rows (scipy CSR, n × features) for ``texts`` (made by :func:`case_text`)."""
    from sklearn.preprocessing import normalize

    from .classifier import ModelNotTrained, _model

    if not texts:
        from scipy.sparse import csr_matrix

        return csr_matrix((0, 1))
    try:
        model = _model()
    except ModelNotTrained:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit_transform(texts)
    return normalize(model.transform(texts).astype(np.float64))


def word_features() -> tuple[int, np.ndarray] | None:
    """``(n, names)``: the first ``n`` columns of :func:`vectorise` are the model's words ``names``; None
    without a trained model (keywords are then left empty)."""
    from .classifier import ModelNotTrained, _model

    try:
        features = _model().pipeline.named_steps["features"]
    except ModelNotTrained:
        return None
    words = features.transformer_list[0][1]
    names = words.get_feature_names_out()
    return len(names), names


def cosine(a, b) -> np.ndarray:
    """Cosine similarities (dense, len(a) × len(b)) of two sets of rows from :func:`vectorise`."""
    return np.asarray((a @ b.T).todense()) if a.shape[0] and b.shape[0] else np.zeros((a.shape[0], b.shape[0]))
