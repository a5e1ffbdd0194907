"""Intake intelligence on Chinese text (issue 11): category suggestion, duplicate suggestion, hotspots.

* :mod:`.segment` — normalisation and word segmentation (``jieba``), shared by every part.
* :mod:`.corpus` — the labelled real data (TipDM 2020 problem C, ``seeds/``), its hold-outs and the rule
  that keeps every hold-out title out of every training set.
* :mod:`.classifier` — the top-level category model (scikit-learn), its training, persistence and the
  suggestion with the best-matching lower taxonomy nodes.
* :mod:`.evaluation` — macro-F1, accuracy, per-class table and confusion matrix.
* :mod:`.duplicates` — likely duplicates (重复诉求) of a case or a draft, and the merge through
  ``cases.services.cancel``.
* :mod:`.hotspots` — hotspots (高频难点): clustering of a window's cases, the heat index, stable ids.
* :mod:`.topics` — monthly topics (每月一题), proactive cases (未诉先办) and clearing, as audited events.
"""
