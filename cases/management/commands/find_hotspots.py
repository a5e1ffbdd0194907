import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases.models import Case, Category
from cases.text.hotspots import find_hotspots
from grids.models import Village


def _moment(value: str, option: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option}: not an ISO-8601 date or time: {value!r}") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


class Command(BaseCommand):
    help = ("Find hotspots (高频难点) in a window of cases (default: the last HOTSPOT_WINDOW_DAYS days), store "
            "them with stable ids and print the top ones with their heat and three member titles.")

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Window start, ISO-8601 (date or time; Asia/Shanghai without a zone).")
        parser.add_argument("--until", help="Window end (exclusive); default now.")
        parser.add_argument("--top", type=int, default=10, help="How many to print (default 10).")

    def handle(self, *args, since=None, until=None, top=10, **options):
        until_at = _moment(until, "--until") if until else None
        since_at = _moment(since, "--since") if since else None
        try:
            report = find_hotspots(since=since_at, until=until_at)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        local = timezone.get_default_timezone()
        self.stdout.write(
            f"window {timezone.localtime(report.since, local):%Y-%m-%d %H:%M} – "
            f"{timezone.localtime(report.until, local):%Y-%m-%d %H:%M} (Asia/Shanghai), {report.cases} cases read "
            f"(window and the previous window); {len(report.found)} hotspots: {report.created} new, "
            f"{report.continued} continued, {report.inactive} no longer found; {report.seconds:.1f} s")
        categories = dict(Category.objects.filter(parent__isnull=True).values_list("pk", "name"))
        villages = dict(Village.objects.values_list("pk", "name"))
        for rank, f in enumerate(report.found[:top], start=1):
            place = villages.get(f.village_id, "") if f.village_id else f"{len(f.village_ids)} 个村/社区"
            self.stdout.write("")
            self.stdout.write(
                f"{rank:>2}. #{f.hotspot_id} heat {f.heat:.2f}  {categories.get(f.category_id, '')} · {place}  "
                f"cases {len(f.window_ids)}, callers {f.callers}, previous {len(f.previous_ids)}, "
                f"reopened/unsatisfied {f.unsatisfied_share:.0%}, votes {f.votes}  [{' '.join(f.keywords)}]")
            window = sorted(f.window_ids, key=lambda pk: (-f.similarity[pk], pk))[:3]
            titles = dict(Case.objects.filter(pk__in=window).values_list("pk", "title"))
            for pk in window:
                self.stdout.write(f"      - {titles[pk]}")
