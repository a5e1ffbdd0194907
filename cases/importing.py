"""Import citizen demands from exports: CSV, XLSX and JSON (issue 4; issue 13 §3–§5; DESIGN §9).

One importer, two halves: **parsing** (:func:`plan_import`) reads a file through a column-map profile
(:mod:`cases.interop.profiles`) into normalised :class:`Record` rows and faults, writing nothing;
**writing** (:func:`import_file` → :func:`cases.replay.replay_records`) creates the cases. Which profile a
file uses is named (``profile=``, ``--profile``, ``--format open311``) or read from its header row. Shipped
profiles: the two Chinese column sets of the first release, and the exports cities publish:

* ``message_board`` (网上留言, the TipDM 2020 C files): 留言编号 → ``external_ref``, 留言时间 → received
  time, 留言主题 → title, 留言详情 → description, 一级分类 or 一级标签 → top-level category (by name),
  答复意见 / 答复时间 → the handling result and its time. 留言用户 (a pseudonymous account id) → ``complainant_ref`` (it tells the
  hotspots); 点赞数 / 反对数, where an export has them, → ``votes_up`` / ``votes_down``.
* ``hotline`` (12345 work orders, a generic export): 工单编号, 受理时间, 标题, 诉求内容, 诉求类型, 分类,
  紧急程度, 诉求人, 联系电话, 地址, 村/社区, 微网格, 响应时间, 办结时间, 办理结果, 是否解决; only 工单编号
  and 受理时间 are required (the profile ``cases/interop/profiles/hotline.toml`` says what each means).
* ``nyc311`` (NYC Open Data CSV), ``nyc311_api`` (the JSON of the city's open-data API), ``boston311``
  (Analyze Boston CSV; its ``target_dt`` is the case's resolve deadline), ``open311`` (GeoReport v2
  ``requests.json``, with a service-code mapping file).

The format is read from the content, not the file name: a file starting with the ZIP signature
``PK\\x03\\x04`` is XLSX (first worksheet, openpyxl), one starting with ``[`` or ``{`` is JSON, anything
else is CSV (UTF-8 with or without BOM, else GB18030). A path may be an ``http(s)://`` URL. Table rows are
numbered as a spreadsheet shows them: the header is row 1; wholly blank rows are skipped but keep their
number. JSON rows are numbered by their position in the file's array (from 1).

Times without an offset are wall-clock in the profile's time zone (Asia/Shanghai for the Chinese sets):
``2019/4/25 9:32:09``, ``2019-04-08 08:37:20``, ``2019/4/25 9:32``, ``2019年4月25日 9:32``, ISO 8601, the
profile's own ``strptime`` formats, Excel date cells and Excel serial numbers. A date with no time of day is
read as 00:00:00 for the received time and as 23:59:59 for a reply, response or resolution time (the latest
moment the date allows, so a same-day reply is never "before the message" and on-time figures are never
overstated; an Excel date cell at exactly midnight counts as a date alone). Text cells are trimmed (the
real files start many cells with blank lines and tabs).

Every record keeps its source system (the profile's ``system``, ``Case.source_system``) and its id
(``external_ref``); a record already present (same source, system and id, same received time) is counted,
not written again, so a re-import is a no-op.

Places in the message-board data are masked by its publisher, and foreign exports are not in Xiji, so every
such record is put on a micro-grid by :func:`grid_for`: ``sha256("<source>:<external_ref>")``, first 8
bytes as a big-endian integer, modulo the number of micro-grids ordered by code (the 180 of Xiji) — the
same file always lands the same way. A hotline row naming its 村/社区 is placed by the same rule among that
village's grids; one naming its 微网格 goes there.

Personal data in free text (title, description, result) is masked by :func:`mask_personal_data`.
Complaint text and names are never logged; faults name the row, the column and the fault only.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from django.utils import timezone

from grids.models import Grid, Village

from .choices import CaseKind, Source, Urgency
from .interop.profiles import Profile, ProfileError, detect_profile, load_mapping, load_profile
from .models import Case, Category

logger = logging.getLogger(__name__)

XLSX_MAGIC = b"PK\x03\x04"

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


@dataclasses.dataclass(slots=True)
class Record:
    """One valid row, normalised: what the writing half needs to create a case (the same for every profile).

    ``row``: the file's row number. ``external_ref``: the row's own id in ``source_system`` (the plan's
    ``system``, repeated here so a record stands alone). Times are aware datetimes (UTC). ``grid_id``: the
    micro-grid it lands on; ``category_id``: a Category or None. ``responded_at``/``resolved_at``: None while
    not reached. ``deadlines``: ``policy`` (the SlaPolicy of the urgency, counted from ``received_at``) or
    ``file`` (``respond_due_at``/``resolve_due_at`` are the case's deadlines and govern; None = no such
    deadline). ``lat``/``lng``: WGS-84 degrees as Decimals with 6 places, or None. ``votes_up``/
    ``votes_down``: counts of a public message board's 点赞数/反对数 where the file has them, else None.
    """

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
    source_system: str = ""
    deadlines: str = "policy"
    respond_due_at: dt.datetime | None = None
    resolve_due_at: dt.datetime | None = None
    lat: Decimal | None = None
    lng: Decimal | None = None
    votes_up: int | None = None
    votes_down: int | None = None


@dataclasses.dataclass
class ImportPlan:
    """What :func:`plan_import` found in a file."""

    path: str
    file_format: str  # "csv" | "xlsx" | "json"
    column_set: str  # the profile's id: "message_board", "hotline", "nyc311", "boston311", "open311" …
    source: str
    system: str = ""  # the source system of every record (Case.source_system)
    rows: int = 0  # data rows (blank rows not counted)
    records: list[Record] = dataclasses.field(default_factory=list)  # valid rows not imported before
    existing: int = 0  # valid rows whose external_ref this source and system already have
    faults: list[Fault] = dataclasses.field(default_factory=list)
    uncategorised: int = 0  # valid rows whose category value the profile's map does not name

    @property
    def bad_rows(self) -> int:
        return len({f.row for f in self.faults})


# --- Reading -----------------------------------------------------------------------------------------

#: Largest file fetched from a URL (bytes).
MAX_DOWNLOAD = 512 * 1024 * 1024


def _is_url(path) -> bool:
    return isinstance(path, str) and path.lower().startswith(("http://", "https://"))


def read_bytes(path: str | Path) -> bytes:
    """The content of a file, or of an ``http(s)://`` URL (GET, 60 s time-out, at most
    :data:`MAX_DOWNLOAD` bytes). Raises ImportRefused when it cannot be read."""
    if _is_url(path):
        try:
            with urllib.request.urlopen(urllib.request.Request(path, headers={"Accept": "application/json, */*"}),
                                        timeout=60) as resp:
                data = resp.read(MAX_DOWNLOAD + 1)
        except (OSError, ValueError) as exc:
            raise ImportRefused(f"cannot fetch {_safe_url(path)}: {exc}") from None
        if len(data) > MAX_DOWNLOAD:
            raise ImportRefused(f"{_safe_url(path)}: larger than {MAX_DOWNLOAD} bytes")
        return data
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImportRefused(f"cannot read {path}: {exc.strerror}") from exc


def _safe_url(url: str) -> str:
    """A URL without its query (which may carry an API key) for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def read_table(path: str | Path, *, profile: Profile | None = None) -> tuple[str, list[str], Iterator[tuple[int, list]]]:
    """Open a CSV, XLSX or JSON file (or URL), format chosen by content. Returns ``(format, header, rows)``
    where ``rows`` yields ``(row_number, cells)`` for every non-blank data row (table header = row 1; JSON:
    position in the array), or ``(row_number, Fault)`` for a row that cannot be read at all. XLSX cells keep
    their types (str, int, float, datetime); CSV cells are str; JSON values are as decoded. ``profile``
    picks, in a Django fixture holding several models, the model whose objects are the records. Raises
    ImportRefused when unreadable."""
    raw = read_bytes(path)
    name = _safe_url(path) if _is_url(path) else str(path)
    if raw[:4] == XLSX_MAGIC:
        if _is_url(path):
            raise ImportRefused(f"{name}: XLSX is read from a file, not a URL")
        return ("xlsx", *_read_xlsx(Path(path)))
    if raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
        return ("json", *_read_json(raw, name, profile))
    return ("csv", *_read_csv(raw, name))


def _read_json(raw: bytes, name: str, profile: Profile | None):
    """An array of objects (or ``{"service_requests": [...]}``-style wrappers). In a Django fixture
    (objects with ``model`` and ``fields``) the records are the ``fields`` of the objects of one model: the
    one whose field names match ``profile`` (or a shipped profile)."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ImportRefused(f"{name}: not JSON ({exc})") from None
    if isinstance(data, dict):
        data = next((data[k] for k in ("service_requests", "requests", "data", "results")
                     if isinstance(data.get(k), list)), None)
    if not isinstance(data, list):
        raise ImportRefused(f"{name}: JSON but not an array of records")
    fixture = data and all(isinstance(o, dict) and "model" in o and isinstance(o.get("fields"), dict) for o in data)
    if fixture:
        models: dict[str, list] = {}
        for number, obj in enumerate(data, start=1):
            models.setdefault(obj["model"], []).append((number, obj["fields"]))
        chosen = None
        for objects in models.values():
            keys = list(dict.fromkeys(k for _, fields in objects for k in fields))
            fits = profile.matches(keys) if profile is not None else detect_profile(keys, file_format="json")
            if fits:
                chosen = objects
                break
        if chosen is None:
            raise ImportRefused(f"{name}: a Django fixture, but no model of it has the fields of a known profile")
        objects = chosen
    else:
        objects = list(enumerate(data, start=1))
    header = list(dict.fromkeys(k for _, obj in objects if isinstance(obj, dict) for k in obj))

    def rows():
        for number, obj in objects:
            if not isinstance(obj, dict):
                yield number, Fault(number, "-", "not a JSON object")
                continue
            cells = [obj.get(k) for k in header]
            if not _blank(cells):
                yield number, cells

    return header, rows()


def _blank(cells) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _read_csv(raw: bytes, path: str):
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
    lines = _PHYSICAL_LINE.findall(text)  # the rows read from these, and a bad record's text quoted from them
    del text
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused(f"{path}: empty file") from None
    except csv.Error as exc:
        raise ImportRefused(f"{path}: not a CSV file ({exc})") from None
    header = [_header(h) for h in header]

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


def parse_local_time(value, *, date_only_end: bool = False, tz: dt.tzinfo | None = None,
                     formats: tuple[str, ...] = ()) -> dt.datetime | None:
    """Read a wall-clock time from a cell; returns an aware datetime, or None if empty.

    ``tz`` is the zone of times without an offset (default Asia/Shanghai, ``TIME_ZONE``). Accepts the
    ``strptime`` ``formats`` given (tried first), the text forms listed in the module docstring, ISO 8601
    with an offset or ``Z`` (kept as given), ``datetime``/``date`` objects (Excel date cells; naive =
    local) and Excel serial numbers (int/float between 1 and 2958465). A date without a time of day is
    00:00:00, or 23:59:59 when ``date_only_end`` (then also a naive datetime at exactly midnight: that is
    how openpyxl reads an Excel date cell). Raises ValueError when unparseable.
    """
    tz = tz or timezone.get_default_timezone()
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
    for fmt in formats:
        try:
            return timezone.make_aware(dt.datetime.strptime(text, fmt), tz)
        except ValueError:
            continue
    match = _TIME.match(text)
    if not match:
        try:  # ISO 8601 with an offset: 2011-06-28T05:14:00-07:00, 2022-01-21T18:47:00Z
            moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError("not a date and time") from None
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, tz)
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


class CategoryIndex:
    """The taxonomy read once, to find a category by text: a top-level name, a name unique in the taxonomy,
    or a path 一级/二级/三级 (separators ``/``, ``>``, ``＞``, ``／``). Shared by the importer and the
    upstream work orders (one rule)."""

    def __init__(self):
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

    def category(self, text: str):
        """The Category ``text`` names. Raises ValueError (``unknown category``, ``ambiguous category name``)."""
        text = re.sub(r"\s*[/>＞／]\s*", "/", text)
        if text in self.top:
            return self.top[text]
        if text in self.by_path:
            return self.by_path[text]
        found = self.by_name.get(text, [])
        if len(found) == 1:
            return found[0]
        raise ValueError("ambiguous category name" if found else "unknown category")


class _Lookups(CategoryIndex):
    """Reference data read once per file: grids, villages, categories, and the label maps."""

    def __init__(self, profile: Profile):
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
        super().__init__()
        self.kinds = {**_choice_map(CaseKind), **profile.kind_values}
        self.urgencies = {**_choice_map(Urgency), **profile.urgency_values}
        self.mapped: dict[str, int] = {}
        for value, target in profile.category_map.items():
            try:
                self.mapped[value.casefold()] = self.category(target).pk
            except ValueError as exc:
                raise ImportRefused(f"profile {profile.id}: category map entry {value!r} → {target!r}: {exc} "
                                    f"(is the taxonomy seeded?)") from None


def _choice_map(choices) -> dict[str, str]:
    """Value → value and Chinese label → value of a TextChoices (诉求类型 投诉 → ``complaint``)."""
    out = {}
    for value, label in choices.choices:
        out[value] = value
        out[str(label)] = value
    return out


def resolve_profile(*, profile: str | Profile | None = None, file_format: str | None = None,
                    mapping: str | Path | None = None) -> Profile | None:
    """The profile an import names: a Profile, a shipped id or a path; ``file_format="open311"`` means the
    shipped ``open311`` profile; ``mapping`` (an Open311 mapping file) is laid over it. None = read the
    file's header. Raises ImportRefused for an unknown or broken profile or mapping file."""
    try:
        if isinstance(profile, str):
            profile = load_profile(profile)
        if profile is None and file_format == "open311":
            profile = load_profile("open311")
        if mapping is not None:
            if profile is None:
                raise ImportRefused("a mapping file goes with --format open311 or a profile")
            profile = profile.with_mapping(load_mapping(mapping))
    except ProfileError as exc:
        raise ImportRefused(str(exc)) from None
    return profile


def plan_import(path: str | Path, *, source: str | None = None, kind: str | None = None,
                now: dt.datetime | None = None, profile: str | Profile | None = None,
                file_format: str | None = None, mapping: str | Path | None = None,
                system: str | None = None) -> ImportPlan:
    """Read and check a file; write nothing. Returns an ImportPlan with every fault found.

    ``path``: a file or an ``http(s)://`` URL. ``profile`` / ``file_format`` / ``mapping``: see
    :func:`resolve_profile` (default: the shipped profile whose header signature the file matches).
    ``source`` (a :class:`Source` value) defaults to the profile's (``online`` for the message-board set,
    ``hotline`` for the hotline set); ``system`` to the profile's source system; ``kind`` (a
    :class:`CaseKind` value) is used where the file gives none (default: the profile's, ``complaint``).
    ``now`` (aware) bounds the times: later ones are faults (deadlines excepted). Faults: missing column,
    empty id, id too long, duplicate id in the file (every repeat after the first), empty or unparseable
    time, time in the future, reply (or response) before the message, resolution before the response,
    reply text without time or the reverse (profiles with ``reply_pair``), a resolved status without a
    resolved time, a deadline before the received time, empty title, unknown category/village/grid/kind/
    urgency, a coordinate or vote count that is not a number or out of range, value too long, a NUL byte
    in a cell, malformed CSV quoting (a quote left open at the end of the file, text after a closing
    quote), and an id this source already has for a case received at another time (the publisher reused
    the id for a different message). Valid rows whose ``external_ref`` this source and system already have
    with the same received time are the same record: counted in ``existing``, left out of ``records``, and
    not updated. Raises ImportRefused for an unreadable file, an unknown column set or profile, or an
    empty grid registry; ValueError for a bad ``source`` or ``kind``.
    """
    now = now or timezone.now()
    if source is not None and source not in Source.values:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(Source.values)}")
    if kind is not None and kind not in CaseKind.values:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(CaseKind.values)}")
    chosen = resolve_profile(profile=profile, file_format=file_format, mapping=mapping)
    file_format, header, rows = read_table(path, profile=chosen)
    if chosen is None:
        chosen = detect_profile(header, file_format=file_format)
    if chosen is None:
        raise ImportRefused(
            f"{path}: unknown column set; the header needs 留言编号 and 留言时间 (message board) "
            f"or 工单编号 and 受理时间 (hotline), or name a profile (--profile; shipped: "
            f"{', '.join(p for p in _shipped_ids())})"
        )
    profile = chosen
    source = source or profile.source
    system = profile.system if system is None else system
    longest = Case._meta.get_field("source_system").max_length
    if len(system) > longest:
        raise ImportRefused(f"source system {system[:60]!r} is longer than {longest} characters")
    plan = ImportPlan(path=_safe_url(path) if _is_url(path) else str(path), file_format=file_format,
                      column_set=profile.id, source=source, system=system)
    missing = [c for c in profile.required if c not in header]
    if missing:
        plan.faults.extend(Fault(1, c, "missing column") for c in missing)
        return plan
    index = {}
    for i, name in enumerate(header):
        index.setdefault(name, i)
    columns = {}  # role → (column names present, join?, sep)
    for role, column in profile.columns.items():
        present = [n for n in column.names if n in index]
        if present:
            columns[role] = (present if column.join else present[:1], column.join, column.sep)
    lookups = _Lookups(profile)
    seen: dict[str, int] = {}
    candidates: list[Record] = []
    id_column = columns["id"][0][0] if "id" in columns else profile.columns["id"].names[0]
    for number, cells in rows:
        plan.rows += 1
        if isinstance(cells, Fault):  # the row could not be read at all
            plan.faults.append(cells)
            continue
        row = _Row(number, cells, index, columns)
        faults: list[Fault] = _nul_faults(number, header, cells)
        record = _parse_row(row, faults, profile=profile, lookups=lookups, source=source, system=system,
                            kind=kind or profile.kind, now=now)
        if record is not None and not faults:
            first = seen.get(record.external_ref)
            if first is not None:
                faults.append(Fault(number, id_column, f"duplicate id {record.external_ref} (first at row {first})"))
            else:
                seen[record.external_ref] = number
        plan.faults.extend(faults)
        if record is not None and not faults:
            candidates.append(record)
            if record.category_id is None and row.text("category"):
                plan.uncategorised += 1  # a value the profile's category map does not name
    existing = _existing_refs(source, system, [r.external_ref for r in candidates])
    for record in candidates:
        known = existing.get(record.external_ref)
        if known is None:
            plan.records.append(record)
        elif known == record.received_at:
            plan.existing += 1
        else:  # the publisher reused the id for another message: never merge the two silently
            plan.faults.append(Fault(record.row, id_column,
                                     f"id {record.external_ref} already belongs to another {source} case "
                                     f"(received {timezone.localtime(known):%Y-%m-%d %H:%M:%S})"))
    plan.faults.sort(key=lambda f: f.row)
    logger.info("import plan %s (%s): %s rows, %s new, %s existing, %s faults", Path(str(plan.path)).name,
                profile.id, plan.rows, len(plan.records), plan.existing, len(plan.faults))
    return plan


def _shipped_ids() -> list[str]:
    from .interop.profiles import shipped_ids

    return shipped_ids()


class _Row:
    """One data row seen through the profile's columns: ``value(role)`` (the raw cell), ``text(role)``
    (trimmed text, joined for join columns), ``column(role)`` (the header named in faults)."""

    def __init__(self, number, cells, index, columns):
        self.number = number
        self._cells = cells
        self._index = index
        self._columns = columns

    def _cell(self, name):
        i = self._index.get(name)
        return self._cells[i] if i is not None and i < len(self._cells) else None

    def has(self, role) -> bool:
        return role in self._columns

    def column(self, role) -> str:
        return self._columns[role][0][0] if role in self._columns else role

    def value(self, role):
        if role not in self._columns:
            return None
        names, join, sep = self._columns[role]
        if join:
            return self.text(role)
        return self._cell(names[0])

    def text(self, role) -> str:
        if role not in self._columns:
            return ""
        names, join, sep = self._columns[role]
        if join:
            return sep.join(t for t in (_text(self._cell(n)) for n in names) if t)
        return _text(self._cell(names[0]))


def _nul_faults(number: int, header: list[str], cells: list) -> list[Fault]:
    """A NUL byte cannot be stored (PostgreSQL text refuses it) and never belongs in a cell: one fault per
    cell that holds one."""
    return [Fault(number, header[i] if i < len(header) else f"#{i + 1}", "NUL byte in the cell")
            for i, value in enumerate(cells) if isinstance(value, str) and "\x00" in value]


def _existing_refs(source: str, system: str, refs: list[str]) -> dict[str, dt.datetime]:
    """``external_ref`` → ``received_at`` of the cases this source and system already have among ``refs``."""
    found: dict[str, dt.datetime] = {}
    for i in range(0, len(refs), 500):
        found.update(Case.objects.filter(source=source, source_system=system, external_ref__in=refs[i:i + 500])
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


def _time(number, column, value, faults, *, now, required=False, date_only_end=False, tz=None, formats=(),
          future_ok=False):
    try:
        moment = parse_local_time(value, date_only_end=date_only_end, tz=tz, formats=formats)
    except ValueError:
        faults.append(Fault(number, column, f"unparseable time {_text(value)[:40]!r}"))
        return None
    if moment is None:
        if required:
            faults.append(Fault(number, column, "empty time"))
        return None
    if moment > now and not future_ok:
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


_SIX_PLACES = Decimal("0.000001")


def _coordinate(row, role, faults, limit) -> Decimal | None:
    text = row.text(role)
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        faults.append(Fault(row.number, row.column(role), f"not a number {text[:20]!r}"))
        return None
    if not value.is_finite() or abs(value) > limit:
        faults.append(Fault(row.number, row.column(role), f"out of range (±{limit})"))
        return None
    return value.quantize(_SIX_PLACES, rounding=ROUND_HALF_UP)


def _count(row, role, faults) -> int | None:
    text = row.text(role)
    if not text:
        return None
    if not text.isdigit():
        faults.append(Fault(row.number, row.column(role), f"not a whole number of votes: {text[:20]!r}"))
        return None
    if int(text) > MAX_VOTES:
        faults.append(Fault(row.number, row.column(role), f"more than {MAX_VOTES:,} votes: {text[:20]!r}"))
        return None
    return int(text)


#: The largest vote count a case stores (``Case.votes_up`` / ``votes_down``, a PositiveIntegerField).
MAX_VOTES = 2_147_483_647


def _parse_row(row: _Row, faults, *, profile: Profile, lookups, source, system, kind, now) -> Record | None:
    """Normalise one row through ``profile`` into a Record, appending every fault found (None if any)."""
    number = row.number
    tz: ZoneInfo = profile.tz
    formats = profile.time_formats
    ref = _ref(number, row.column("id"), row.value("id"), faults)
    received = _time(number, row.column("received"), row.value("received"), faults, now=now, required=True, tz=tz,
                     formats=formats)
    description = mask_personal_data(row.text("description"))
    title = _title(number, row.column("title"), mask_personal_data(row.text("title")), faults, fallback=description)

    def choice(role, mapping, default):
        text = row.text(role)
        if not text:
            return default
        if text not in mapping:
            faults.append(Fault(number, row.column(role), f"unknown value {text[:20]!r}"))
            return default
        return mapping[text]

    kind = choice("kind", lookups.kinds, kind)
    urgency = choice("urgency", lookups.urgencies, None)
    category_id = None
    if text := row.text("category"):
        if profile.category_lookup == "top":
            top = lookups.top.get(text)
            if top is None:
                faults.append(Fault(number, row.column("category"), "unknown top-level category"))
            else:
                category_id = top.pk
        elif profile.category_lookup == "map":
            category_id = lookups.mapped.get(text.casefold())
        else:
            try:
                category_id = lookups.category(text).pk
            except ValueError as exc:
                faults.append(Fault(number, row.column("category"), str(exc)))
    village = grid = None
    if text := row.text("village"):
        village = lookups.villages.get(text)
        if village is None:
            faults.append(Fault(number, row.column("village"), "unknown village"))
    if text := row.text("grid"):
        grid = lookups.grids_by_code.get(text)
        if grid is None:
            faults.append(Fault(number, row.column("grid"), "unknown micro-grid code"))
        elif village is not None and grid.village_id != village.pk:
            faults.append(Fault(number, row.column("grid"), "micro-grid is not in the given village"))
    personal = {}
    for field in ("complainant_name", "complainant_phone", "address"):
        value = row.text(field)
        if len(value) > FIELD_LIMITS[field]:
            if field == "address" and not row.has("complainant_name"):  # a foreign export's place: shorten it
                value = value[:FIELD_LIMITS[field] - 1] + "…"
            else:
                faults.append(Fault(number, row.column(field), f"longer than {FIELD_LIMITS[field]} characters"))
        personal[field] = value
    responded = _time(number, row.column("responded"), row.value("responded"), faults, now=now, date_only_end=True,
                      tz=tz, formats=formats)
    resolved = _time(number, row.column("resolved"), row.value("resolved"), faults, now=now, date_only_end=True,
                     tz=tz, formats=formats)
    status = row.text("status")
    if row.has("status") and profile.resolved_statuses:
        closed_status = status.casefold() in {s.casefold() for s in profile.resolved_statuses}
        if closed_status and resolved is None and not any(f.column == row.column("resolved") for f in faults):
            faults.append(Fault(number, row.column("resolved") if row.has("resolved") else row.column("status"),
                                f"status {status[:20]!r} but no closed time"))
        if not closed_status:
            resolved = None  # the row says it is still open: a closed time on it is not a resolution
    result = mask_personal_data(row.text("result"))
    if profile.reply_pair:
        _reply(number, faults, received=received, result_col=row.column("result"), result_text=result,
               time_col=row.column("resolved"), resolved=resolved)
    else:
        if resolved is not None and received is not None and resolved < received:
            faults.append(Fault(number, row.column("resolved"), "closed before received"))
        if resolved is None:
            result = ""
        elif not result:
            result = profile.result_default.replace("{status}", status or "closed") or "closed"
    if responded is not None and received is not None and responded < received:
        faults.append(Fault(number, row.column("responded"), "response before message"))
    if responded is not None and resolved is not None and resolved < responded:
        faults.append(Fault(number, row.column("resolved"), "resolution before response"))
    solved_text = row.text("solved")
    if solved_text and solved_text not in ("是", "否", "true", "false", "1", "0"):
        faults.append(Fault(number, row.column("solved"), "expected 是 or 否"))
    respond_due = resolve_due = None
    if profile.deadlines == "file":
        respond_due = _time(number, row.column("respond_due"), row.value("respond_due"), faults, now=now,
                            date_only_end=True, tz=tz, formats=formats, future_ok=True)
        resolve_due = _time(number, row.column("due"), row.value("due"), faults, now=now, date_only_end=True,
                            tz=tz, formats=formats, future_ok=True)
        for role, due in (("respond_due", respond_due), ("due", resolve_due)):
            if due is not None and received is not None and due < received:
                faults.append(Fault(number, row.column(role), "deadline before the received time"))
    lat = _coordinate(row, "lat", faults, 90)
    lng = _coordinate(row, "lng", faults, 180)
    votes_up = _count(row, "votes_up", faults)
    votes_down = _count(row, "votes_down", faults)
    if faults:
        return None
    if grid is None:
        grid = grid_for(source, ref, lookups.grids_by_village[village.pk] if village else lookups.grids)
    return Record(
        row=number, external_ref=ref, received_at=received, title=title, description=description, kind=kind,
        urgency=urgency, category_id=category_id, grid_id=grid.pk, responded_at=responded or resolved,
        resolved_at=resolved, result=result, solved=solved_text not in ("否", "false", "0"),
        source_system=system, deadlines=profile.deadlines, respond_due_at=respond_due, resolve_due_at=resolve_due,
        lat=lat, lng=lng, votes_up=votes_up, votes_down=votes_down,
        complainant_ref=row.text("complainant_ref")[:MAX_REF], **personal,
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
        system = f", system {p.system}" if p.system else ""
        parts = [f"{p.rows} rows ({p.file_format}, {p.column_set}, source {p.source}{system})",
                 f"{len(p.records) if self.written else 0} imported", f"{p.existing} already present",
                 f"{p.bad_rows} bad rows ({len(p.faults)} faults)"]
        if p.uncategorised:
            parts.append(f"{p.uncategorised} without a mapped category")
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
                progress: Callable[[int], None] | None = None, profile: str | Profile | None = None,
                file_format: str | None = None, mapping: str | Path | None = None,
                system: str | None = None, method: str = "bulk") -> ImportReport:
    """Check a file (:func:`plan_import`, which takes ``profile``, ``file_format``, ``mapping`` and
    ``system`` too) and, unless ``dry_run`` or a fault without ``skip_invalid``, create its new records
    through the lifecycle on their historical clock.

    ``method``: ``"bulk"`` (default) folds the records through the lifecycle's pure rules and writes them in
    chunks, one transaction each (:func:`cases.bulk_import.bulk_import_records`); ``"replay"`` runs each
    record through the lifecycle services and the sweep, the whole file in one transaction
    (:func:`cases.replay.replay_records`). Both write the same rows. ``now`` (aware, default the current
    time) is the import's clock: times after it are faults, and the deadline sweeps stop at it.
    ``progress(n)`` is called as records are processed. Returns an ImportReport (``written`` tells whether
    anything was written). Raises ImportRefused; ValueError for an unknown ``method``.
    """
    from .bulk_import import bulk_import_records
    from .replay import replay_records

    writers = {"bulk": bulk_import_records, "replay": replay_records}
    if method not in writers:
        raise ValueError(f"unknown import method {method!r}; one of {', '.join(writers)}")

    now = now or timezone.now()
    plan = plan_import(path, source=source, kind=kind, now=now, profile=profile, file_format=file_format,
                       mapping=mapping, system=system)
    report = ImportReport(plan=plan)
    if dry_run or (plan.faults and not skip_invalid) or not plan.records:
        return report
    report.replay = writers[method](plan.records, source=plan.source, now=now, progress=progress)
    report.written = True
    logger.info("import %s: %s", Path(plan.path).name, report.summary())
    return report


__all__ = [
    "CategoryIndex", "Fault", "ImportPlan", "ImportRefused", "ImportReport", "Record", "grid_for", "import_file",
    "mask_personal_data", "parse_local_time", "plan_import", "read_bytes", "read_table", "resolve_profile",
]
