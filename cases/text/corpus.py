"""The labelled real data the category model learns from and is judged on (TipDM 2020 problem C).

Files (copied into ``seeds/``, sources in ``seeds/SOURCES.md``; ``TEXT_DATA_DIR`` to read elsewhere):

* ``titles_labels_9210.csv`` — ``split_by_uploader`` (train 6,383 / dev 1,906 / test 921), 留言主题, 一级标签;
* ``messages_labelled_1842.csv`` — 留言编号, 留言用户, 留言主题, 留言时间, 留言详情, 一级标签;
* ``messages_labelled_sample495.csv`` — the organiser's sample, same columns, label column 一级分类.

Two hold-outs that no training run sees:

* **titles test** — the titles file's own ``test`` split (921 titles, classified by title alone);
* **messages hold-out** — a stratified 20 % of the 1,842 messages (369), drawn with
  ``train_test_split(test_size=0.2, stratify=label, random_state=seed)``, classified by title + detail.

The titles file also holds the titles of the 1,842 messages (and many titles repeat across its own
splits), so a hold-out title could reach training through another file or another split. Every training
row whose title has the same :func:`cases.text.segment.match_key` (NFKC, lower case, punctuation and
spaces removed) as any hold-out title — of either hold-out — is dropped, and so is every sample message
whose 留言编号 is in the messages hold-out. The counts dropped are reported with the corpus.

Training set: titles ``train`` + ``dev``, the other 80 % of the 1,842 messages, and the 495 sample
messages, after those exclusions. Settings were chosen on the ``dev`` split and by cross-validation on
the messages' training part, never on a hold-out.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
from pathlib import Path

from django.conf import settings

from .segment import match_key, model_text

TITLES_FILE = "titles_labels_9210.csv"
MESSAGES_FILE = "messages_labelled_1842.csv"
SAMPLE_FILE = "messages_labelled_sample495.csv"
HOLDOUT_SHARE = 0.2


@dataclasses.dataclass(frozen=True)
class Example:
    """One labelled text: ``text`` is :func:`model_text` of title and detail; ``origin`` names its file."""

    text: str
    label: str
    title: str
    origin: str  # "titles" | "messages" | "sample"
    ref: str = ""  # 留言编号 for messages


@dataclasses.dataclass
class Corpus:
    """Training rows, the two hold-outs, what was dropped, and a digest of the input files."""

    train: list[Example]
    titles_test: list[Example]
    messages_holdout: list[Example]
    dropped: dict[str, int]
    digest: str

    @property
    def labels(self) -> list[str]:
        """The top-level category names, sorted."""
        return sorted({e.label for e in self.train})

    def holdouts(self) -> dict[str, list[Example]]:
        return {"titles_test": self.titles_test, "messages_holdout": self.messages_holdout}


def data_dir() -> Path:
    return Path(getattr(settings, "TEXT_DATA_DIR", Path(settings.BASE_DIR) / "seeds"))


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def load_corpus(seed: int, directory: Path | None = None) -> Corpus:
    """Read the three files from ``directory`` (default :func:`data_dir`) and build the :class:`Corpus`
    for ``seed`` (the seed of the messages hold-out draw). Deterministic for a seed and the same files.
    Raises FileNotFoundError when a file is missing, KeyError for a missing column."""
    from sklearn.model_selection import train_test_split

    directory = Path(directory or data_dir())
    digest = hashlib.sha256()
    for name in (TITLES_FILE, MESSAGES_FILE, SAMPLE_FILE):
        digest.update((directory / name).read_bytes())
    titles = _rows(directory / TITLES_FILE)
    messages = _rows(directory / MESSAGES_FILE)
    sample = _rows(directory / SAMPLE_FILE)

    def message(row, label_col, origin):
        title = row["留言主题"].strip()
        return Example(model_text(title, row["留言详情"]), row[label_col].strip(), title, origin,
                       row["留言编号"].strip())

    msg_examples = [message(r, "一级标签", "messages") for r in messages]
    m_train, m_hold = train_test_split(msg_examples, test_size=HOLDOUT_SHARE,
                                       stratify=[e.label for e in msg_examples], random_state=seed)
    titles_test = [Example(model_text(r["留言主题"]), r["一级标签"].strip(), r["留言主题"].strip(), "titles")
                   for r in titles if r["split_by_uploader"] == "test"]
    held_keys = {match_key(e.title) for e in titles_test} | {match_key(e.title) for e in m_hold}
    held_refs = {e.ref for e in m_hold}
    dropped = {"titles": 0, "messages": 0, "sample": 0}
    train: list[Example] = []

    def keep(example: Example):
        if match_key(example.title) in held_keys or (example.origin == "sample" and example.ref in held_refs):
            dropped[example.origin] += 1
        else:
            train.append(example)

    for r in titles:
        if r["split_by_uploader"] in ("train", "dev"):
            keep(Example(model_text(r["留言主题"]), r["一级标签"].strip(), r["留言主题"].strip(), "titles"))
    for e in m_train:
        keep(e)
    for r in sample:
        keep(message(r, "一级分类", "sample"))
    return Corpus(train=train, titles_test=titles_test, messages_holdout=list(m_hold), dropped=dropped,
                  digest=digest.hexdigest())
