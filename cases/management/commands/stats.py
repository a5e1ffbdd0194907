import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from cases.selectors import GROUP_BYS, SCOPES, rates
from grids.replica import statistics_reads

#: Exported columns: (row key, heading). Rates are fractions 0..1 in CSV/XLSX, percentages in the table.
COLUMNS = [
    ("key", "编码 key"), ("label", "名称 label"), ("received", "受理 received"),
    ("dispatched", "派单 dispatched"), ("responded", "联系 responded"), ("resolved", "办结 resolved"),
    ("closed", "结案 closed"), ("overdue", "超时 overdue"), ("respond_on_time", "按时联系 respond_on_time"),
    ("respond_on_time_rate", "按时联系率 respond_on_time_rate"), ("resolve_on_time", "按时办结 resolve_on_time"),
    ("resolve_on_time_rate", "按时办结率 resolve_on_time_rate"), ("closure_rate", "办结率 closure_rate"),
    ("valid_callbacks", "有效回访 valid_callbacks"), ("response_rate", "响应率 response_rate"),
    ("resolution_rate", "解决率 resolution_rate"), ("satisfaction_rate", "满意率 satisfaction_rate"),
    ("satisfaction_lower_bound", "满意率置信下限 satisfaction_lower_bound"),
    ("composite_score", "综合得分 composite_score"), ("rank", "排名 rank"),
    *[(f"{m}_{s}_seconds", f"{label}{stat}（秒） {m}_{s}_seconds")
      for m, label in (("dispatch", "派单用时"), ("respond", "联系用时"), ("resolve", "办结用时"))
      for s, stat in (("mean", "均值"), ("median", "中位数"), ("p90", "P90"))],
]
RATES = {"respond_on_time_rate", "resolve_on_time_rate", "closure_rate", "response_rate", "resolution_rate",
         "satisfaction_rate", "satisfaction_lower_bound"}
TABLE = [("key", "key"), ("label", "名称"), ("received", "受理"), ("dispatched", "派单"), ("resolved", "办结"),
         ("overdue", "超时"), ("respond_on_time_rate", "按时联系"), ("resolve_on_time_rate", "按时办结"),
         ("closure_rate", "办结率"), ("valid_callbacks", "有效回访"), ("response_rate", "响应率"),
         ("resolution_rate", "解决率"), ("satisfaction_rate", "满意率"),
         ("satisfaction_lower_bound", "满意下限"), ("composite_score", "得分"), ("rank", "排名")]


def _date(text, name):
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--{name}: not a date YYYY-MM-DD: {text!r}") from None


class Command(BaseCommand):
    help = ("Print or export the three-rate statistics (DESIGN §6) by town, village, grid, category, source, "
            "handler or period. Rates with no denominator show as — (table) or empty (CSV/XLSX).")

    def add_arguments(self, parser):
        parser.add_argument("--group-by", choices=[g for g in GROUP_BYS if g], help="default: the whole town")
        parser.add_argument("--start", help="first received day, YYYY-MM-DD (Asia/Shanghai), inclusive")
        parser.add_argument("--end", help="last received day, YYYY-MM-DD, inclusive")
        parser.add_argument("--scope", choices=SCOPES, default="assessed",
                            help="assessed: without excluded cases (default); all: 全口径")
        parser.add_argument("--format", choices=("table", "csv", "xlsx"), default="table")
        parser.add_argument("--output", help="file to write (required for xlsx; default stdout)")

    def handle(self, *args, group_by=None, start=None, end=None, scope="assessed", format="table", output=None,
               **options):
        start = _date(start, "start") if start else None
        end = _date(end, "end") if end else None
        if format == "xlsx" and not output:
            raise CommandError("--format xlsx needs --output FILE")
        try:
            with statistics_reads():  # from the read replica when one is configured
                rows = rates(group_by=group_by, start=start, end=end, scope=scope)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if format == "xlsx":
            self._xlsx(rows, output)
        elif format == "csv":
            if output:
                with open(output, "w", encoding="utf-8-sig", newline="") as fh:
                    self._csv(rows, fh)
            else:
                self._csv(rows, self.stdout)
        else:
            text = self._table(rows)
            if output:
                with open(output, "w", encoding="utf-8") as fh:
                    fh.write(text + "\n")
            else:
                self.stdout.write(text)
        if output:
            self.stderr.write(f"{len(rows)} rows written to {output}")

    @staticmethod
    def _csv(rows, fh):
        from cases.exports import csv_bytes

        body = [["" if row[k] is None else (f"{row[k]:.4f}" if isinstance(row[k], float) else row[k])
                 for k, _ in COLUMNS] for row in rows]
        fh.write(csv_bytes([heading for _, heading in COLUMNS], body).decode("utf-8").lstrip("\ufeff"))

    @staticmethod
    def _xlsx(rows, path):
        from cases.exports import xlsx_bytes

        formats = {i: "0.0%" if key in RATES else "0.00" for i, (key, _) in enumerate(COLUMNS)
                   if key in RATES or key == "composite_score"}
        with open(path, "wb") as fh:
            fh.write(xlsx_bytes([heading for _, heading in COLUMNS], [[row[k] for k, _ in COLUMNS] for row in rows],
                                sheet_name="statistics", number_formats=formats))

    @staticmethod
    def _table(rows) -> str:
        def show(key, value):
            if value is None:
                return "—"
            if key in RATES:
                return f"{value * 100:.1f}%"
            if isinstance(value, float):
                return f"{value:.2f}"
            return str(value)

        cells = [[heading for _, heading in TABLE]] + [[show(k, row[k]) for k, _ in TABLE] for row in rows]
        widths = [max(_width(line[i]) for line in cells) for i in range(len(TABLE))]
        lines = ["  ".join(c + " " * (w - _width(c)) for c, w in zip(line, widths, strict=True)).rstrip()
                 for line in cells]
        return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
