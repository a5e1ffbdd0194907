"""Latency of the category suggestion (issue 11): p50 / p95 / max milliseconds per request.

Runs :func:`cases.text.classifier.suggest` (the work of ``POST /api/v1/categories/suggest/``: the model's
probabilities and the taxonomy-node match over the cached node list) once per held-out text — the
titles' test split (titles alone) and the messages hold-out (title + detail) — after a warm-up, and prints
the figures beside a baseline measured in the same process: the model's ``predict_proba`` alone.
Uses the saved model (``TEXT_CLASSIFIER_PATH``; trained first when missing) and the configured database
(the taxonomy is seeded into it when empty).

    .venv/bin/python bench/bench_suggest.py [--repeat 1]
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.dev")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"p50 {np.percentile(ms, 50):6.2f} ms   p95 {np.percentile(ms, 95):6.2f} ms   max {ms.max():7.2f} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    from django.core.management import call_command

    from cases.models import Category
    from cases.seeding import seed_categories
    from cases.text import classifier, corpus

    call_command("migrate", verbosity=0)
    if not Category.objects.exists():
        seed_categories()
    try:
        model = classifier.load()
    except classifier.ModelNotTrained:
        classifier.save(classifier.train())
        model = classifier.load()
    data = corpus.load_corpus(model.seed)
    requests = [(e.title, "") for e in data.titles_test]
    texts = [e.text for e in data.titles_test]
    for e in data.messages_holdout:
        requests.append((e.title, e.text))
        texts.append(e.text)
    for title, description in requests[:20]:  # warm-up: jieba's dictionary, caches
        classifier.suggest(title, description, model=model)
    base, full = [], []
    for _ in range(args.repeat):
        for text in texts:
            t = time.perf_counter()
            model.predict_proba([text])
            base.append(time.perf_counter() - t)
        for title, description in requests:
            t = time.perf_counter()
            classifier.suggest(title, description, model=model)
            full.append(time.perf_counter() - t)
    print(f"category model {model.version}; {len(requests)} requests × {args.repeat}")
    print(f"baseline predict_proba only : {percentiles(base)}")
    print(f"suggest (model + nodes + DB): {percentiles(full)}")
    print(f"ratio p95 suggest / baseline: {np.percentile(full, 95) / np.percentile(base, 95):.2f}")


if __name__ == "__main__":
    main()
