import time

from django.core.management.base import BaseCommand

from cases.text import classifier


class Command(BaseCommand):
    help = ("Train the top-level category model on the labelled real data in seeds/ (deterministic for a "
            "seed), score it on both hold-outs and save it with its version, training time and scores.")

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, help="Random seed (default TEXT_CLASSIFIER_SEED, 20200).")
        parser.add_argument("--output", help="Where to save (default TEXT_CLASSIFIER_PATH).")
        parser.add_argument("--if-missing", action="store_true",
                            help="Do nothing when a usable model is already saved (bin/run uses this).")

    def handle(self, *args, seed=None, output=None, if_missing=False, **options):
        if if_missing:
            try:
                model = classifier.load(output)
            except classifier.ModelNotTrained:
                pass
            else:
                self.stdout.write(f"category model {model.version} already trained at {model.trained_at}")
                return
        started = time.monotonic()
        model = classifier.train(seed)
        path = classifier.save(model, output)
        seconds = time.monotonic() - started
        self.stdout.write(f"category model {model.version} trained on {model.training['rows']} rows in "
                          f"{seconds:.1f} s, saved to {path}")
        for name, figures in model.scores.items():
            self.stdout.write(f"  {name}: macro-F1 {figures['macro_f1']:.4f}, accuracy {figures['accuracy']:.4f}, "
                              f"top-3 {figures['top3_accuracy']:.4f} ({figures['size']} texts)")
