"""Import citizen demands from CSV or XLSX exports (issue 4; DESIGN §9 "management commands for importing").

Two column sets are understood; which one a file uses is read from its header row:

* **message board** (网上留言, the TipDM 2020 C files): 留言编号 → ``external_ref``, 留言时间 → received
  time, 留言主题 → title, 留言详情 → description, 一级分类 or 一级标签 → top-level category (by name),
  答复意见 / 答复时间 → the handling result and its time. 留言用户 (a pseudonymous account id) → ``complainant_ref`` (it tells the same caller, for duplicates and
  hotspots); 点赞数 / 反对数, where an export has them, → ``votes_up`` / ``votes_down``.
* **hotline** (12345 work orders, a generic export): 工单编号, 受理时间, 标题, 诉求内容, 诉求类型, 分类,
  紧急程度, 诉求人, 联系电话, 地址, 村/社区, 微网格, 响应时间, 办结时间, 办理结果, 是否解决; only 工单编号
  and 受理时间 are required (see :data:`HOTLINE_COLUMNS`).

The format is read from the content, not the file name: a file starting with the ZIP signature
``PK\\x03\\x04`` is XLSX (first worksheet, openpyxl), anything else is CSV (UTF-8 with or without BOM,
else GB18030). Rows are numbered as a spreadsheet shows them: the header is row 1; wholly blank rows are
skipped but keep their number.

Times are Asia/Shanghai wall-clock: ``2019/4/25 9:32:09``, ``2019-04-08 08:37:20``, ``2019/4/25 9:32``,
``2019年4月25日 9:32``, Excel date cells and Excel serial numbers. A date with no time of day is read as
00:00:00 for the received time and as 23:59:59 for a reply, response or resolution time (the latest moment
the date allows, so a same-day reply is never "before the message" and on-time figures are never
overstated; an Excel date cell at exactly midnight counts as a date alone). Text cells are trimmed (the real files start many cells with blank lines and tabs).

Places in the message-board data are masked by its publisher, so every record is put on a micro-grid by
:func:`grid_for`: ``sha256("<source>:<external_ref>")``, first 8 bytes as a big-endian integer, modulo the
number of micro-grids ordered by code (the 180 of Xiji) — the same file always lands the same way. A
hotline row naming its 村/社区 is placed by the same rule among that village's grids; one naming its
微网格 goes there.

Personal data in free text (title, description, result) is masked by :func:`mask_personal_data`.
Complaint text and names are never logged; faults name the row, the column and the fault only.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from django.utils import timezone

from grids.models import Grid, Village

from .choices import CaseKind, Source, Urgency
from .models import Case, Category

logger = logging.getLogger(__name__)

XLSX_MAGIC = b"PK\x03\x04"

#: Message-board column set (TipDM 2020 C). ``None`` = optional.
MESSAGE_BOARD_COLUMNS = {
    "id": "留言编号",
    "received": "留言时间",
    "title": "留言主题",
    "description": "留言详情",
    "category": ("一级分类", "一级标签"),
    "result": "答复意见",
    "resolved": "答复时间",
}
MESSAGE_BOARD_REQUIRED = ("留言编号", "留言时间", "留言主题")

#: Hotline column set: header name → meaning. Required: 工单编号, 受理时间.
HOTLINE_COLUMNS = {
    "工单编号": "external reference (required, unique per source)",
    "受理时间": "received time (required)",
    "标题": "title; if absent or empty, the first 30 characters of 诉求内容",
    "诉求内容": "description",
    "诉求类型": "咨询 / 求助 / 投诉 / 举报 / 建议 (or enquiry, help, complaint, report, suggestion)",
    "分类": "category: a top-level name, a name unique in the taxonomy, or a path 一级/二级/三级",
    "紧急程度": "紧急 / 水电气热 / 一般 / 疑难复杂 (or the English values); empty: the category's default",
    "诉求人": "complainant's name (stored, never logged)",
    "联系电话": "complainant's phone (stored whole, shown masked, DESIGN §10)",
    "地址": "address",
    "村/社区": "village: 12-digit statistical code, full name or short name",
    "微网格": "micro-grid code, e.g. 110112110222-05",
    "响应时间": "time the complainant was contacted; empty: the resolution time",
    "办结时间": "resolution time",
    "办理结果": "handling result (required when 办结时间 is given)",
    "是否解决": "是 / 否 (default 是)",
}
HOTLINE_REQUIRED = ("工单编号", "受理时间")

MAX_TITLE = Case._meta.get_field("title").max_length
MAX_REF = Case._meta.get_field("external_ref").max_length
FIELD_LIMITS = {
    "complainant_name": Case._meta.get_field("complainant_name").max_length,
    "complainant_phone": Case._meta.get_field("complainant_phone").max_length,
    "address": Case._meta.get_field("address").max_length,
}


class ImportRefused(Exception):
    """The file as a whole cannot be imported (unreadable, unknown column set, no micro-grids)."""


@dataclasses.dataclass(frozen=True)
class Fault:
    """One bad cell or row: spreadsheet row number (header = 1), column header, what is wrong."""

    row: int
    column: str
    fault: str

    def __str__(self):
        return f"row {self.row}, column {self.column}: {self.fault}"


@dataclasses.dataclass
class Record:
    """One valid row, ready for :func:`cases.replay.replay_records`. Times are aware (UTC)."""

    row: int
    external_ref: str
    received_at: dt.datetime
    title: str
    description: str = ""
    kind: str = CaseKind.COMPLAINT
    urgency: str | None = None
    category_id: int | None = None
    grid_id: int | None = None
    complainant_name: str = ""
    complainant_phone: str = ""
    address: str = ""
    responded_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    result: str = ""
    solved: bool = True
    complainant_ref: str = ""
    votes_up: int | None = None
    votes_down: int | None = None


@dataclasses.dataclass
class ImportPlan:
    """What :func:`plan_import` found in a file."""

    path: str
    file_format: str  # "csv" | "xlsx"
    column_set: str  # "message_board" | "hotline"
    source: str
    rows: int = 0  # data rows (blank rows not counted)
    records: list[Record] = dataclasses.field(default_factory=list)  # valid rows not imported before
    existing: int = 0  # valid rows whose external_ref this source already has
    faults: list[Fault] = dataclasses.field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({f.row for f in self.faults})


# --- Reading -----------------------------------------------------------------------------------------


def read_table(path: str | Path) -> tuple[str, list[str], Iterator[tuple[int, list]]]:
    """Open a CSV or XLSX file, format chosen by content. Returns ``(format, header, rows)`` where
    ``rows`` yields ``(row_number, cells)`` for every non-blank data row (header = row 1). XLSX cells keep
    their types (str, int, float, datetime); CSV cells are str. Raises ImportRefused when unreadable."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise ImportRefused(f"cannot read {path}: {exc.strerror}") from exc
    if head == XLSX_MAGIC:
        return ("xlsx", *_read_xlsx(path))
    return ("csv", *_read_csv(path))


def _blank(cells) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _read_csv(path: Path):
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte sequence
        raise ImportRefused(f"{path}: neither UTF-8 nor GB18030 text")
    # strict: a quote left open at the end of the file (a download cut mid-row) or text after a closing
    # quote is an error of that record, not a cell that silently swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused(f"{path}: empty file") from None
    except csv.Error as exc:
        raise ImportRefused(f"{path}: not a CSV file ({exc})") from None
    header = [_header(h) for h in header]
    lines = _PHYSICAL_LINE.findall(text)

    def rows():
        number = 1
        while True:
            before = reader.line_num
            number += 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:
                index, fault = _quote_fault("".join(lines[before:reader.line_num]))
                column = header[index] if index < len(header) else f"#{index + 1}"
                yield number, Fault(number, column, fault)
                continue
            if not _blank(cells):
                yield number, cells

    return header, rows()


#: One physical line with its ending, as the csv module counts them (``\r\n``, ``\n`` or ``\r``).
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$")


def _quote_fault(record: str) -> tuple[int, str]:
    """Where the quoting of one CSV record (its raw text) goes wrong: ``(field index, fault)``.

    Either a quoted cell is still open at the end of the text (the file was cut inside it), or a closing
    quote is followed by something other than a delimiter or the end of the line.
    """
    field, quoted, opened_in, at_start, i = 0, False, 0, True, 0
    while i < len(record):
        ch = record[i]
        if quoted:
            if ch == '"':
                if record[i + 1:i + 2] == '"':
                    i += 1
                else:
                    quoted = False
                    if record[i + 1:i + 2] not in ("", ",", "\r", "\n"):
                        return field, "text after the closing quote of this cell"
        elif ch == '"' and at_start:
            quoted, opened_in = True, field
        elif ch == ",":
            field += 1
            at_start = True
            i += 1
            continue
        at_start = False
        i += 1
    if quoted:
        return opened_in, "unterminated quote: the file ends inside this cell (cut mid-row?)"
    return field, "malformed CSV quoting"


def _read_xlsx(path: Path):
    import openpyxl  # imported here: only XLSX imports pay for it

    handle = path.open("rb")  # a file object: openpyxl would refuse a file name not ending in .xlsx
    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException …
        handle.close()
        raise ImportRefused(f"{path}: not a readable XLSX file ({type(exc).__name__})") from None
    it = book.worksheets[0].iter_rows(values_only=True)
    try:
        header = next(it)
    except StopIteration:
        book.close()
        handle.close()
        raise ImportRefused(f"{path}: empty worksheet") from None

    def rows():
        try:
            for number, cells in enumerate(it, start=2):
                if not _blank(cells):
                    yield number, list(cells)
        finally:
            book.close()
            handle.close()

    return [_header(h) for h in header], rows()


def _header(value) -> str:
    return "" if value is None else str(value).replace("\ufeff", "").strip()


def _text(value) -> str:
    """A cell as trimmed text: ints and integral floats without ``.0``; None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


# --- Times -------------------------------------------------------------------------------------------

_FULLWIDTH = str.maketrans("０１２３４５６７８９／－：　", "0123456789/-: ")
_TIME = re.compile(
    r"^(\d{4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s+|T)(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.\d+)?\s*秒?)?)?$"
)


def parse_local_time(value, *, date_only_end: bool = False) -> dt.datetime | None:
    """Read an Asia/Shanghai wall-clock time from a cell; returns an aware datetime, or None if empty.

    Accepts the text forms listed in the module docstring, ``datetime``/``date`` objects (Excel date
    cells; naive = local) and Excel serial numbers (int/float between 1 and 2958465). A date without a
    time of day is 00:00:00, or 23:59:59 when ``date_only_end`` (then also a naive datetime at exactly
    midnight: that is how openpyxl reads an Excel date cell). Raises ValueError when unparseable.
    """
    tz = timezone.get_default_timezone()
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        if date_only_end and value.tzinfo is None and value.time() == dt.time(0):
            value = value.date()  # an Excel date cell without a time of day reads as midnight
        else:
            return value if timezone.is_aware(value) else timezone.make_aware(value, tz)
    if isinstance(value, dt.date):
        moment = dt.time(23, 59, 59) if date_only_end else dt.time(0, 0)
        return timezone.make_aware(dt.datetime.combine(value, moment), tz)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 1 <= value < 2958466:
            raise ValueError("number out of the Excel date range")
        from openpyxl.utils.datetime import from_excel

        return timezone.make_aware(from_excel(value).replace(microsecond=0), tz)
    text = str(value).translate(_FULLWIDTH).strip()
    match = _TIME.match(text)
    if not match:
        raise ValueError("not a date and time")
    y, mo, d, h, mi, s = match.groups()
    if h is None:
        naive = dt.datetime(int(y), int(mo), int(d), *((23, 59, 59) if date_only_end else (0, 0, 0)))
    else:
        naive = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
    return timezone.make_aware(naive, tz)


# --- Masking -----------------------------------------------------------------------------------------

_LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])([0-9]{3})([0-9]{8,})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1[3-9][0-9])[-\s]?[0-9*＊×xX]{4}[-\s]?([0-9]{4})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(0[1-9][0-9]{1,2})(\s*(?:[-－—–]+|\s)\s*)([0-9]{3,4})([0-9]{4})(?![0-9])")
_KEYWORD_NUMBER = re.compile(
    r"((?:电话|致电|拨打|热线|手机|座机|号码|传真)[^0-9\n]{0,5}?)(?<![0-9])([2-9][0-9]{2,3})([0-9]{4})(?![0-9])"
)
_NOT_A_NAME_START = set("和与及的是在了不都也已将把被对向给从为联核反进取表称说")
_LABELLED_NAME = re.compile(
    r"(姓名|联系人|我叫|名叫|负责人)([：:]\s*|为|是)?([\u4e00-\u9fa5])([\u4e00-\u9fa5]{1,2})"
    r"(?=电话|手机|联系|[，,。；;、\s（(]|$)"
)


def mask_personal_data(text: str) -> str:
    """Mask phone numbers, ID-card numbers and labelled names in free text (DESIGN §10).

    * runs of 15+ digits (ID cards, 18 with a final X; bank cards): first 3 and last 4 kept —
      ``110101199003071234`` → ``110***********1234``;
    * mobile numbers, also with separators or an already masked middle (``158××××9361``,
      ``139-****-0929``) → ``138****5678``;
    * landlines with an area code → ``0735-****1656``; 7–8 digit numbers right after a phone word
      (电话, 致电, 拨打, 热线, 手机, 座机, 号码, 传真) → ``***5667``;
    * a 2–3 character name right after 姓名 / 联系人 / 我叫 / 名叫 / 负责人 → surname and ``*``
      (a heuristic: names in running text without such a label are not detected).
    """
    if not text:
        return text
    text = _LONG_NUMBER.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    text = _MOBILE.sub(r"\1****\2", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-{'*' * len(m.group(3))}{m.group(4)}", text)
    text = _KEYWORD_NUMBER.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)

    def name(m):
        if m.group(3) in _NOT_A_NAME_START:
            return m.group(0)
        return m.group(1) + (m.group(2) or "") + m.group(3) + "*" * len(m.group(4))

    return _LABELLED_NAME.sub(name, text)


# --- Places ------------------------------------------------------------------------------------------


def grid_for(source: str, external_ref: str, grids: list) -> object:
    """The micro-grid of an imported record: ``grids[int(sha256(f"{source}:{external_ref}")[:8]) % n]``.

    ``grids`` must be ordered by code (``Grid.objects.order_by("code")``, or one village's grids). The rule
    is stable: the same source and reference always give the same grid while the registry is unchanged.
    """
    digest = hashlib.sha256(f"{source}:{external_ref}".encode()).digest()
    return grids[int.from_bytes(digest[:8], "big") % len(grids)]


# --- Planning ----------------------------------------------------------------------------------------


class _Lookups:
    """Reference data read once per file: grids, villages, categories, and the label maps."""

    def __init__(self):
        self.grids = list(Grid.objects.order_by("code"))
        if not self.grids:
            raise ImportRefused("no micro-grids in the database: run `python manage.py seed_xiji` first")
        self.grids_by_code = {g.code: g for g in self.grids}
        self.grids_by_village: dict[int, list] = {}
        for g in self.grids:
            self.grids_by_village.setdefault(g.village_id, []).append(g)
        self.villages: dict[str, Village] = {}
        for v in Village.objects.all():
            for key in (v.code, v.name, v.short_name):
                self.villages[key] = v
        cats = list(Category.objects.select_related("parent__parent"))
        self.top = {c.name: c for c in cats if c.parent_id is None}
        self.by_path = {}
        self.by_name: dict[str, list] = {}
        for c in cats:
            path, node = [], c
            while node is not None:
                path.insert(0, node.name)
                node = node.parent
            self.by_path["/".join(path)] = c
            self.by_name.setdefault(c.name, []).append(c)
        self.kinds = _choice_map(CaseKind)
        self.urgencies = _choice_map(Urgency)

    def category(self, text: str):
        """Top-level name, unique name, or path 一级/二级/三级. Raises ValueError."""
        text = re.sub(r"\s*[/>＞／]\s*", "/", text)
        if text in self.top:
            return self.top[text]
        if text in self.by_path:
            return self.by_path[text]
        found = self.by_name.get(text, [])
        if len(found) == 1:
            return found[0]
        raise ValueError("ambiguous category name" if found else "unknown category")


def _choice_map(choices) -> dict[str, str]:
    out = {}
    for value, label in choices.choices:
        out[value] = value
        out[str(label)] = value
    return out


def plan_import(path: str | Path, *, source: str | None = None, kind: str | None = None,
                now: dt.datetime | None = None) -> ImportPlan:
    """Read and check a file; write nothing. Returns an ImportPlan with every fault found.

    ``source`` (a :class:`Source` value) defaults to ``online`` for the message-board set and ``hotline``
    for the hotline set; ``kind`` (a :class:`CaseKind` value) is used where the file has no 诉求类型
    (default ``complaint``). ``now`` (aware) bounds the times: later ones are faults. Faults: missing
    column, empty id, id too long, duplicate id in the file (every repeat after the first), empty or
    unparseable time, time in the future, reply (or response) before the message, resolution before the
    response, reply text without time or the reverse, empty title, unknown category/village/grid/kind/
    urgency, value too long, a NUL byte in a cell, malformed CSV quoting (a quote left open at the end of
    the file, text after a closing quote), and an id this source already has for a case received at another time (the
    publisher reused the id for a different message). Valid rows whose ``external_ref`` this source
    already has with the same received time are the same record: counted in ``existing``, left out of
    ``records``, and not updated. Raises ImportRefused for an unreadable file, an unknown
    column set, or an empty grid registry; ValueError for a bad ``source`` or ``kind``.
    """
    now = now or timezone.now()
    if source is not None and source not in Source.values:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(Source.values)}")
    if kind is not None and kind not in CaseKind.values:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(CaseKind.values)}")
    file_format, header, rows = read_table(path)
    if "留言编号" in header or "留言时间" in header:
        column_set, required = "message_board", MESSAGE_BOARD_REQUIRED
    elif "工单编号" in header or "受理时间" in header:
        column_set, required = "hotline", HOTLINE_REQUIRED
    else:
        raise ImportRefused(
            f"{path}: unknown column set; the header needs 留言编号 and 留言时间 (message board) "
            f"or 工单编号 and 受理时间 (hotline)"
        )
    source = source or (Source.ONLINE if column_set == "message_board" else Source.HOTLINE)
    plan = ImportPlan(path=str(path), file_format=file_format, column_set=column_set, source=source)
    missing = [c for c in required if c not in header]
    if missing:
        plan.faults.extend(Fault(1, c, "missing column") for c in missing)
        return plan
    index = {}
    for i, name in enumerate(header):
        index.setdefault(name, i)
    lookups = _Lookups()
    seen: dict[str, int] = {}
    parse = _parse_message_board if column_set == "message_board" else _parse_hotline
    candidates: list[Record] = []
    for number, cells in rows:
        plan.rows += 1
        if isinstance(cells, Fault):  # the row could not be read at all
            plan.faults.append(cells)
            continue

        def cell(name, _cells=cells):
            i = index.get(name)
            return _cells[i] if i is not None and i < len(_cells) else None

        faults: list[Fault] = _nul_faults(number, header, cells)
        record = parse(number, cell, faults, lookups=lookups, source=source, kind=kind or CaseKind.COMPLAINT,
                       now=now, has=index.__contains__)
        if record is not None and not faults:
            first = seen.get(record.external_ref)
            if first is not None:
                faults.append(Fault(number, _id_column(column_set),
                                    f"duplicate id {record.external_ref} (first at row {first})"))
            else:
                seen[record.external_ref] = number
        plan.faults.extend(faults)
        if record is not None and not faults:
            candidates.append(record)
    existing = _existing_refs(source, [r.external_ref for r in candidates])
    for record in candidates:
        known = existing.get(record.external_ref)
        if known is None:
            plan.records.append(record)
        elif known == record.received_at:
            plan.existing += 1
        else:  # the publisher reused the id for another message: never merge the two silently
            plan.faults.append(Fault(record.row, _id_column(column_set),
                                     f"id {record.external_ref} already belongs to another {source} case "
                                     f"(received {timezone.localtime(known):%Y-%m-%d %H:%M:%S})"))
    plan.faults.sort(key=lambda f: f.row)
    logger.info("import plan %s: %s rows, %s new, %s existing, %s faults", Path(path).name, plan.rows,
                len(plan.records), plan.existing, len(plan.faults))
    return plan


def _nul_faults(number: int, header: list[str], cells: list) -> list[Fault]:
    """A NUL byte cannot be stored (PostgreSQL text refuses it) and never belongs in a cell: one fault per
    cell that holds one."""
    return [Fault(number, header[i] if i < len(header) else f"#{i + 1}", "NUL byte in the cell")
            for i, value in enumerate(cells) if isinstance(value, str) and "\x00" in value]


def _id_column(column_set: str) -> str:
    return "留言编号" if column_set == "message_board" else "工单编号"


def _existing_refs(source: str, refs: list[str]) -> dict[str, dt.datetime]:
    """``external_ref`` → ``received_at`` of the cases this source already has among ``refs``."""
    found: dict[str, dt.datetime] = {}
    for i in range(0, len(refs), 500):
        found.update(Case.objects.filter(source=source, external_ref__in=refs[i:i + 500])
                     .values_list("external_ref", "received_at"))
    return found


def _ref(number, column, value, faults) -> str | None:
    ref = _text(value)
    if not ref:
        faults.append(Fault(number, column, "empty id"))
        return None
    if len(ref) > MAX_REF:
        faults.append(Fault(number, column, f"id longer than {MAX_REF} characters"))
        return None
    return ref


def _time(number, column, value, faults, *, now, required=False, date_only_end=False):
    try:
        moment = parse_local_time(value, date_only_end=date_only_end)
    except ValueError:
        faults.append(Fault(number, column, f"unparseable time {_text(value)[:40]!r}"))
        return None
    if moment is None:
        if required:
            faults.append(Fault(number, column, "empty time"))
        return None
    if moment > now:
        faults.append(Fault(number, column, "time in the future"))
        return None
    return moment


def _title(number, column, text, faults, fallback="") -> str | None:
    title = mask_personal_data(text) or mask_personal_data(fallback)[:30].strip()
    if not title:
        faults.append(Fault(number, column, "empty title"))
        return None
    if len(title) > MAX_TITLE:
        title = title[:MAX_TITLE - 1] + "…"
    return title


def _reply(number, faults, *, received, result_col, result_text, time_col, resolved):
    """Check a reply pair (text and time): both or neither, and not before the message."""
    if resolved is not None and not result_text:
        faults.append(Fault(number, result_col, "reply time given but no reply text"))
    if resolved is None and result_text and not any(f.column == time_col for f in faults):
        faults.append(Fault(number, time_col, "reply text given but no reply time"))
    if resolved is not None and received is not None and resolved < received:
        faults.append(Fault(number, time_col, "reply before message"))


#: Vote columns a message-board export may carry (TipDM's hot-issue attachment has them): kept as votes.
VOTE_COLUMNS = {"点赞数": "votes_up", "反对数": "votes_down"}


def _votes(number, cell, faults) -> dict:
    """``votes_up`` / ``votes_down`` from the 点赞数 / 反对数 cells (absent or empty: None); a value that is
    not a whole number ≥ 0 is a fault of its row and column."""
    out = {}
    for column, field in VOTE_COLUMNS.items():
        text = _text(cell(column))
        if not text:
            out[field] = None
        elif text.isdigit():
            out[field] = int(text)
        else:
            faults.append(Fault(number, column, f"not a whole number of votes: {text[:20]!r}"))
    return out


def _parse_message_board(number, cell, faults, *, lookups, source, kind, now, has) -> Record | None:
    ref = _ref(number, "留言编号", cell("留言编号"), faults)
    received = _time(number, "留言时间", cell("留言时间"), faults, now=now, required=True)
    title = _title(number, "留言主题", _text(cell("留言主题")), faults, fallback=_text(cell("留言详情")))
    category_id = None
    label_col = "一级分类" if has("一级分类") else ("一级标签" if has("一级标签") else None)
    label = _text(cell(label_col)) if label_col else ""
    if label:
        top = lookups.top.get(label)
        if top is None:
            faults.append(Fault(number, label_col, "unknown top-level category"))
        else:
            category_id = top.pk
    result = mask_personal_data(_text(cell("答复意见")))
    resolved = _time(number, "答复时间", cell("答复时间"), faults, now=now, date_only_end=True)
    _reply(number, faults, received=received, result_col="答复意见", result_text=result, time_col="答复时间",
           resolved=resolved)
    votes = _votes(number, cell, faults)
    if faults:
        return None
    return Record(
        row=number, external_ref=ref, received_at=received, title=title,
        description=mask_personal_data(_text(cell("留言详情"))), kind=kind, category_id=category_id,
        grid_id=grid_for(source, ref, lookups.grids).pk, responded_at=resolved, resolved_at=resolved,
        result=result, complainant_ref=_text(cell("留言用户"))[:MAX_REF], **votes,
    )


def _parse_hotline(number, cell, faults, *, lookups, source, kind, now, has) -> Record | None:
    ref = _ref(number, "工单编号", cell("工单编号"), faults)
    received = _time(number, "受理时间", cell("受理时间"), faults, now=now, required=True)
    description = mask_personal_data(_text(cell("诉求内容")))
    title = _title(number, "标题", _text(cell("标题")), faults, fallback=description)

    def choice(column, mapping, default):
        text = _text(cell(column))
        if not text:
            return default
        if text not in mapping:
            faults.append(Fault(number, column, f"unknown value {text[:20]!r}"))
            return default
        return mapping[text]

    kind = choice("诉求类型", lookups.kinds, kind)
    urgency = choice("紧急程度", lookups.urgencies, None)
    category_id = None
    if text := _text(cell("分类")):
        try:
            category_id = lookups.category(text).pk
        except ValueError as exc:
            faults.append(Fault(number, "分类", str(exc)))
    village = grid = None
    if text := _text(cell("村/社区")):
        village = lookups.villages.get(text)
        if village is None:
            faults.append(Fault(number, "村/社区", "unknown village"))
    if text := _text(cell("微网格")):
        grid = lookups.grids_by_code.get(text)
        if grid is None:
            faults.append(Fault(number, "微网格", "unknown micro-grid code"))
        elif village is not None and grid.village_id != village.pk:
            faults.append(Fault(number, "微网格", "micro-grid is not in the given village"))
    personal = {}
    for column, field in (("诉求人", "complainant_name"), ("联系电话", "complainant_phone"), ("地址", "address")):
        value = _text(cell(column))
        if len(value) > FIELD_LIMITS[field]:
            faults.append(Fault(number, column, f"longer than {FIELD_LIMITS[field]} characters"))
        personal[field] = value
    responded = _time(number, "响应时间", cell("响应时间"), faults, now=now, date_only_end=True)
    resolved = _time(number, "办结时间", cell("办结时间"), faults, now=now, date_only_end=True)
    result = mask_personal_data(_text(cell("办理结果")))
    _reply(number, faults, received=received, result_col="办理结果", result_text=result, time_col="办结时间",
           resolved=resolved)
    if responded is not None and received is not None and responded < received:
        faults.append(Fault(number, "响应时间", "response before message"))
    if responded is not None and resolved is not None and resolved < responded:
        faults.append(Fault(number, "办结时间", "resolution before response"))
    solved_text = _text(cell("是否解决"))
    if solved_text and solved_text not in ("是", "否", "true", "false", "1", "0"):
        faults.append(Fault(number, "是否解决", "expected 是 or 否"))
    if faults:
        return None
    if grid is None:
        grid = grid_for(source, ref, lookups.grids_by_village[village.pk] if village else lookups.grids)
    return Record(
        row=number, external_ref=ref, received_at=received, title=title, description=description, kind=kind,
        urgency=urgency, category_id=category_id, grid_id=grid.pk, responded_at=responded or resolved,
        resolved_at=resolved, result=result, solved=solved_text not in ("否", "false", "0"), **personal,
    )


# --- The whole import --------------------------------------------------------------------------------


@dataclasses.dataclass
class ImportReport:
    """Outcome of :func:`import_file`: the plan's counts and, when written, the replay's."""

    plan: ImportPlan
    written: bool = False
    replay: object | None = None  # cases.replay.ReplayReport

    def summary(self) -> str:
        """One line, no personal data."""
        p = self.plan
        parts = [f"{p.rows} rows ({p.file_format}, {p.column_set}, source {p.source})",
                 f"{len(p.records) if self.written else 0} imported", f"{p.existing} already present",
                 f"{p.bad_rows} bad rows ({len(p.faults)} faults)"]
        if not self.written:
            parts.append("nothing written")
        if self.replay is not None:
            r = self.replay
            parts.append(f"{r.resolved} replayed to resolved, {r.open} left open, "
                         f"respond on time {r.respond_on_time}/{r.respond_decided}, "
                         f"resolve on time {r.resolve_on_time}/{r.resolve_decided}, {r.seconds:.1f} s")
        return "; ".join(parts)


def import_file(path: str | Path, *, source: str | None = None, kind: str | None = None, dry_run: bool = False,
                skip_invalid: bool = False, now: dt.datetime | None = None,
                progress: Callable[[int], None] | None = None) -> ImportReport:
    """Check a file (:func:`plan_import`) and, unless ``dry_run`` or a fault without ``skip_invalid``,
    create its new records and replay them (:func:`cases.replay.replay_records`) in one transaction.

    ``now`` (aware, default the current time) is the import's clock: times after it are faults, and the
    replay's deadline sweeps stop at it. ``progress(n)`` is called as records are processed.
    Returns an ImportReport (``written`` tells whether anything was written). Raises ImportRefused.
    """
    from .replay import replay_records

    now = now or timezone.now()
    plan = plan_import(path, source=source, kind=kind, now=now)
    report = ImportReport(plan=plan)
    if dry_run or (plan.faults and not skip_invalid) or not plan.records:
        return report
    report.replay = replay_records(plan.records, source=plan.source, now=now, progress=progress)
    report.written = True
    logger.info("import %s: %s", Path(path).name, report.summary())
    return report


__all__ = [
    "Fault", "ImportPlan", "ImportRefused", "ImportReport", "Record", "grid_for", "import_file",
    "mask_personal_data", "parse_local_time", "plan_import", "read_table", "HOTLINE_COLUMNS",
    "MESSAGE_BOARD_COLUMNS",
]
