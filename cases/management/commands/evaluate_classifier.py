from django.core.management.base import BaseCommand, CommandError

from cases.text import classifier, corpus
from cases.text.evaluation import format_scores


class Command(BaseCommand):
    help = ("Print macro-F1, accuracy, the per-class table and the confusion matrix of the saved category "
            "model on the titles' test split and the messages hold-out (data no training run sees).")

    def add_arguments(self, parser):
        parser.add_argument("--model", help="Model file (default TEXT_CLASSIFIER_PATH).")
        parser.add_argument("--train", action="store_true", help="Train a fresh model (not saved) and score it.")
        parser.add_argument("--seed", type=int, help="Seed for --train (default TEXT_CLASSIFIER_SEED).")

    def handle(self, *args, model=None, train=False, seed=None, **options):
        if train:
            fitted = classifier.train(seed)
        else:
            try:
                fitted = classifier.load(model)
            except classifier.ModelNotTrained as exc:
                raise CommandError(str(exc)) from None
        data = corpus.load_corpus(fitted.seed)
        if data.digest != fitted.data_digest:
            self.stderr.write("warning: the data files changed since this model was trained")
        t = fitted.training
        self.stdout.write(f"category model {fitted.version}, trained {fitted.trained_at}, seed {fitted.seed}, "
                          f"{t['rows']} training rows {t['by_origin']}; dropped as hold-out titles "
                          f"{t['dropped_as_holdout']}")
        for scores in classifier.score_holdouts(fitted, data).values():
            self.stdout.write("")
            self.stdout.write(format_scores(scores))
