"""Scores of the category model as a paper reports them: macro-F1, accuracy, per-class precision / recall /
F1 / support, top-3 accuracy and the confusion matrix (rows: true class, columns: predicted)."""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Scores:
    """Figures of one hold-out. Rates are fractions in [0, 1]; ``confusion[i][j]`` counts texts of
    ``labels[i]`` predicted as ``labels[j]``; ``per_class`` rows are (label, precision, recall, f1, support)."""

    name: str
    size: int
    macro_f1: float
    accuracy: float
    top3_accuracy: float
    labels: list[str]
    per_class: list[tuple[str, float, float, float, int]]
    confusion: list[list[int]]

    def summary(self) -> dict:
        """The figures kept with a trained model: size, macro-F1, accuracy, top-3 accuracy (rounded to 4)."""
        return {"size": self.size, "macro_f1": round(self.macro_f1, 4), "accuracy": round(self.accuracy, 4),
                "top3_accuracy": round(self.top3_accuracy, 4)}


def score(name: str, labels: list[str], truth: list[str], proba: np.ndarray) -> Scores:
    """Score probabilities ``proba`` (n × len(labels), columns in ``labels`` order) against ``truth``.

    The prediction is the most probable class; top-3 counts the truth among the three most probable.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    order = np.argsort(-proba, axis=1, kind="stable")
    predicted = [labels[i] for i in order[:, 0]]
    index = {label: i for i, label in enumerate(labels)}
    top3 = float(np.mean([index[t] in order[row, :3] for row, t in enumerate(truth)])) if truth else 0.0
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    return Scores(
        name=name, size=len(truth),
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        accuracy=float(accuracy_score(truth, predicted)), top3_accuracy=top3, labels=list(labels),
        per_class=[(label, float(p[i]), float(r[i]), float(f[i]), int(s[i])) for i, label in enumerate(labels)],
        confusion=confusion_matrix(truth, predicted, labels=labels).tolist(),
    )


def format_scores(scores: Scores) -> str:
    """A plain-text report: headline figures, the per-class table and the confusion matrix."""
    lines = [f"== {scores.name}: {scores.size} texts",
             f"macro-F1 {scores.macro_f1:.4f}   accuracy {scores.accuracy:.4f}   top-3 {scores.top3_accuracy:.4f}",
             "", f"{'class':<16}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>9}"]
    for label, p, r, f, s in scores.per_class:
        lines.append(f"{_pad(label, 16)}{p:>10.4f}{r:>10.4f}{f:>10.4f}{s:>9d}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted, in the order above)"]
    short = [label[:2] for label in scores.labels]
    lines.append(" " * 16 + "".join(_pad(s, 6, right=True) for s in short))
    for label, row in zip(scores.labels, scores.confusion, strict=True):
        lines.append(_pad(label, 16) + "".join(f"{n:>6d}" for n in row))
    return "\n".join(lines)


def _pad(text: str, width: int, right: bool = False) -> str:
    """Pad by display width (a CJK character takes two columns)."""
    shown = sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
    fill = " " * max(0, width - shown)
    return fill + text if right else text + fill
