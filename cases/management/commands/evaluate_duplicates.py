import csv
from pathlib import Path

from django.core.management.base import BaseCommand

from cases.importing import parse_local_time
from cases.text import corpus
from cases.text.duplicates import Subject, Thresholds, pairs_suggested

LABELS_FILE = "duplicate_pairs_1842.csv"


class Command(BaseCommand):
    help = ("Precision and recall of the duplicate suggestion on messages_labelled_1842.csv: a duplicate is "
            "the same 留言用户 posting the same matter twice within the window; the same-matter verdicts of "
            "every same-user pair within 30 days are in seeds/duplicate_pairs_1842.csv.")

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", help="Folder with both files (default TEXT_DATA_DIR, seeds/).")

    def handle(self, *args, data_dir=None, **options):
        folder = Path(data_dir or corpus.data_dir())
        with (folder / corpus.MESSAGES_FILE).open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        labels = sorted({r["一级标签"] for r in rows})
        subjects = [Subject(pk=int(r["留言编号"]), received_at=parse_local_time(r["留言时间"]), village_id=None,
                            grid_id=None, category_id=labels.index(r["一级标签"]), phone="", ref=r["留言用户"],
                            title=r["留言主题"], description=r["留言详情"]) for r in rows]
        with (folder / LABELS_FILE).open(encoding="utf-8-sig", newline="") as fh:
            verdicts = {frozenset((int(r["留言编号_a"]), int(r["留言编号_b"]))): r["same_matter"] == "1"
                        for r in csv.DictReader(fh)}
        truth = {pair for pair, same in verdicts.items() if same}
        base = Thresholds.from_settings()
        self.stdout.write(f"{len(subjects)} messages; {len(verdicts)} same-user pairs within {base.window_days} days, "
                          f"{len(truth)} of them the same matter (duplicates)")
        self.stdout.write(f"{'same-caller bar':>16}{'suggested':>11}{'correct':>9}{'precision':>11}{'recall':>8}")
        for bar in sorted({0.1, 0.2, base.same_caller, 0.4, 0.5, 0.6}):
            limits = Thresholds(window_days=base.window_days, text=base.text, same_caller=bar)
            found = pairs_suggested(subjects, limits)
            hit = len(found & truth)
            precision = hit / len(found) if found else float("nan")
            recall = hit / len(truth) if truth else float("nan")
            mark = "  ← setting" if bar == base.same_caller else ""
            self.stdout.write(f"{bar:>16.2f}{len(found):>11d}{hit:>9d}{precision:>11.3f}{recall:>8.3f}{mark}")
