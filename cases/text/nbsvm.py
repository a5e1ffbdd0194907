"""NB-SVM: one-vs-rest linear SVMs on naive-Bayes-scaled features (Wang & Manning 2012, "Baselines and
bigrams: simple, good sentiment and topic classification"), with temperature-scaled probabilities.

Its own module so that importing :mod:`cases.text.classifier` (every web process does) does not import
scikit-learn; a saved model names this module and unpickling imports it.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class NBSVMClassifier(ClassifierMixin, BaseEstimator):
    """One-vs-rest linear SVMs on naive-Bayes-scaled features, with temperature-scaled probabilities.

    ``fit(X, y)``: ``X`` a non-negative sparse matrix (n × features, TF-IDF), ``y`` n class names. For each
    class c the log-count ratio r_c = log((p / |p|₁) / (q / |q|₁)) is computed from the binarised features
    of c's rows (p) and the other rows (q), both smoothed by ``alpha``; a ``LinearSVC(C)`` then learns c
    against the rest on X scaled column-wise by r_c. ``cv`` stratified folds (shuffled with ``seed``) give
    out-of-fold scores, on which one softmax temperature T is fitted by minimising log-loss (bounded to
    [0.01, 100]). ``decision_function`` answers n × classes scores, ``predict_proba`` softmax(scores / T)
    (rows sum to 1, the same argmax as the scores), ``predict`` the best class. Deterministic for a seed.
    Raises ValueError (from scikit-learn) for fewer than ``cv`` rows of a class.
    """

    def __init__(self, C: float = 0.5, alpha: float = 1.0, cv: int = 3, seed: int = 0):
        self.C, self.alpha, self.cv, self.seed = C, alpha, cv, seed

    def _fit_machines(self, X, y: np.ndarray):
        from sklearn.svm import LinearSVC

        binary = (X > 0).astype(np.float64)
        coefs, intercepts = [], []
        for label in self.classes_:
            mine = y == label
            p = np.asarray(binary[mine].sum(axis=0)).ravel() + self.alpha
            q = np.asarray(binary[~mine].sum(axis=0)).ravel() + self.alpha
            r = np.log((p / p.sum()) / (q / q.sum()))
            machine = LinearSVC(C=self.C, random_state=self.seed).fit(X.multiply(r).tocsr(), mine.astype(int))
            # The machine's weights on the scaled features equal weights w·r on the raw ones.
            coefs.append(machine.coef_.ravel() * r)
            intercepts.append(float(machine.intercept_[0]))
        return np.vstack(coefs).astype(np.float32), np.array(intercepts, dtype=np.float32)

    def fit(self, X, y):
        from scipy.optimize import minimize_scalar
        from scipy.special import log_softmax
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(y)
        self.classes_ = np.unique(y)
        index = np.searchsorted(self.classes_, y)
        out_of_fold = np.zeros((X.shape[0], len(self.classes_)))
        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.seed)
        for fit_rows, score_rows in folds.split(np.zeros(len(y)), y):
            coef, intercept = self._fit_machines(X[fit_rows], y[fit_rows])
            out_of_fold[score_rows] = X[score_rows] @ np.ascontiguousarray(coef.T) + intercept

        def loss(t):
            return -log_softmax(out_of_fold / t, axis=1)[np.arange(len(y)), index].mean()

        self.temperature_ = float(minimize_scalar(loss, bounds=(0.01, 100.0), method="bounded").x)
        coef, self.intercept_ = self._fit_machines(X, y)
        # Kept as features × classes, C-contiguous: a sparse row times it needs no copy of the weights
        # (coef_.T of a classes × features array is a 10 MB copy per call, 5 ms).
        self.weights_ = np.ascontiguousarray(coef.T)
        return self

    @property
    def coef_(self) -> np.ndarray:
        """Weights on the raw features, classes × features (scikit-learn's convention)."""
        return self.weights_.T

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X @ self.weights_) + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        from scipy.special import softmax

        return softmax(self.decision_function(X) / self.temperature_, axis=1)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
