"""Normalisation and word segmentation of Chinese text (``jieba``), shared by every text feature.

jieba's dictionary is loaded once per process on first use (about a second); its log lines are kept
quiet. Nothing here logs the text it reads (complaint text can hold personal data, DESIGN §10).
"""
from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata

_init_lock = threading.Lock()
_ready = False

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def normalise(text: str | None) -> str:
    """Text for the models: Unicode NFKC (full-width letters and digits become ASCII), lower case,
    runs of white space collapsed to one space, trimmed. ``None`` gives ''."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _SPACES.sub(" ", text).strip()


def match_key(text: str | None) -> str:
    """The key two titles are compared by when deciding that they are "the same text": :func:`normalise`,
    then every character that is not a letter or digit (punctuation, spaces, symbols) removed.

    ``match_key("A市 A3区，路灯不亮！") == match_key("a市a3区路灯不亮")``. Used to keep hold-out titles
    out of training sets (:mod:`cases.text.corpus`).
    """
    return _NON_WORD.sub("", normalise(text))


def _ensure_jieba():
    global _ready
    if _ready:
        return
    with _init_lock:
        if not _ready:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _ready = True


_PIECE = "。"


@functools.lru_cache(maxsize=8192)
def _piece_tokens(piece: str) -> tuple[str, ...]:
    import jieba

    return tuple(w for w in jieba.lcut(piece) if not w.isspace())


def tokens(text: str) -> list[str]:
    """Words of ``text`` (already normalised) by jieba's accurate mode, white space dropped.

    jieba cuts a text into runs of Chinese characters, letters and digits at every other character (such
    as 。) and segments each run on its own, so the text is split at 。 and each distinct piece segmented
    once (a recent piece is remembered, in memory only): :func:`model_text` repeats the title, many
    titles recur in the training data, and suggest-as-you-type sends the same title with each keystroke
    of the description. The words are the same as ``jieba.lcut(text)``'s without white space.
    A module-level function so that fitted vectorisers that use it can be pickled.
    """
    _ensure_jieba()
    out: list[str] = []
    for i, piece in enumerate(text.split(_PIECE)):
        if i:
            out.append(_PIECE)
        if piece:
            out.extend(_piece_tokens(piece))
    return out


def model_text(title: str | None, description: str | None = "", *, detail_chars: int = 300) -> str:
    """The one string a case is classified and compared by: the normalised title twice (a title says most
    about a demand, and titles alone are what much of the training data holds), then the first
    ``detail_chars`` characters of the normalised description. Pure; the same for training and prediction.
    """
    title = normalise(title)
    detail = normalise(description)[:detail_chars]
    return "。".join(p for p in (title, title, detail) if p)
