"""Column-map import profiles: which column of an export holds what (issue 13 §4).

A profile is a small TOML file. The shipped ones live beside this module in ``profiles/``; any other file
can be named by its path. Keys (all optional unless said):

``id`` (required)
    the profile's name (``nyc311``); also the ``column_set`` an import reports.
``name``
    a sentence saying which export this is.
``format``
    ``table`` (CSV or XLSX, read by content) or ``json`` (an array of objects; GeoReport v2
    ``requests.json``, the NYC open-data API, or a Django fixture whose objects carry ``fields``).
``system``
    the source system stored on every case with the row's id (``Case.source_system``); ``""`` for this
    product's own references (the two Chinese sets), which are unique per ``source`` as before.
``source``
    the case source (channel, :class:`cases.choices.Source`) unless the command says otherwise.
``kind``
    the case kind where no column gives one (default ``complaint``).
``timezone``
    IANA zone of the file's times that carry no offset (``America/New_York``). Times with an offset keep it.
``time_formats``
    ``strptime`` formats tried before the built-in forms (ISO 8601 and the Chinese forms of
    :func:`cases.importing.parse_local_time`).
``detect_all`` / ``detect_any``
    header columns that identify the profile when none is named: all of them, or any one of them.
``required``
    columns that must be in the header (else one ``missing column`` fault and nothing is read).
``category_lookup``
    ``taxonomy`` (a top-level name, a unique name or a path 一级/二级/三级), ``top`` (top-level names only)
    or ``map`` (through ``[category_map]``: the file's value → a taxonomy path; an unmapped value leaves the
    case without a category and is counted, not a fault).
``deadlines``
    ``policy`` (default: the SlaPolicy of the case's urgency) or ``file``: the file's own ``due`` (and
    ``respond_due``) columns are the case's deadlines and govern instead of the policy; a row without one
    has no such deadline (so it can never be late on it — Boston counts such rows on time).
``reply_pair``
    true: a result text without a resolved time, or the reverse, is a fault (the Chinese sets). Otherwise
    a resolved row without a result gets ``result_default`` (``{status}`` is replaced by the row's status).
``[columns]``
    role → column. A role is one of :data:`ROLES`. A value is a column name, ``{any = [a, b]}`` (the first
    of these columns that the header has) or, for text roles, ``{join = [a, b], sep = " - "}`` (the
    non-empty cells joined).
``[status]``
    ``resolved = [values]``: the status values meaning handled and closed. With a status column, a row is
    resolved only when its status is one of them and it has a resolved time (a closed time on a row whose
    status is still open is ignored); a resolved status without a time is a fault.
``[values.kind]``, ``[values.urgency]``
    extra value → choice maps on top of the Chinese labels and English values.
``[category_map]``
    the file's category value → a taxonomy path (``城乡建设/城市建设和市政管理/城市公共设施``); or
    ``category_map = "nyc311"``: the map of that shipped profile (two formats of one city share one map).

A mapping file for Open311 (``--mapping``) is a TOML file with ``system``, ``timezone`` and ``[services]``
(service_code → taxonomy path); it is laid over the ``open311`` profile.
"""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
#: Shipped Open311 mapping files (service_code → taxonomy path), e.g. ``sf_open311_services.toml``.
MAPPING_DIR = Path(__file__).resolve().parent / "mappings"

#: What a column can mean. Times: received, responded, resolved, due (resolve deadline), respond_due.
ROLES = (
    "id", "received", "title", "description", "kind", "urgency", "category", "complainant_name",
    "complainant_phone", "address", "village", "grid", "responded", "resolved", "result", "solved", "status",
    "due", "respond_due", "lat", "lng", "votes_up", "votes_down", "complainant_ref",
)
TEXT_ROLES = ("title", "description", "result", "address")
FORMATS = ("table", "json")
CATEGORY_LOOKUPS = ("taxonomy", "top", "map")
DEADLINE_MODES = ("policy", "file")


class ProfileError(ValueError):
    """A profile or mapping file that cannot be used (unknown key, bad value, unreadable)."""


@dataclasses.dataclass(frozen=True)
class Column:
    """Where one role's value comes from: the first of ``names`` present in the header, or all of them
    joined by ``sep`` when ``join``."""

    names: tuple[str, ...]
    join: bool = False
    sep: str = " "


@dataclasses.dataclass(frozen=True)
class Profile:
    """A loaded profile (see the module docstring for the meaning of each field)."""

    id: str
    name: str = ""
    format: str = "table"
    system: str = ""
    source: str = "hotline"
    kind: str = "complaint"
    timezone: str = "Asia/Shanghai"
    time_formats: tuple[str, ...] = ()
    detect_all: tuple[str, ...] = ()
    detect_any: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    category_lookup: str = "taxonomy"
    deadlines: str = "policy"
    reply_pair: bool = False
    result_default: str = "{status}"
    columns: dict = dataclasses.field(default_factory=dict)  # role → Column
    resolved_statuses: tuple[str, ...] = ()
    kind_values: dict = dataclasses.field(default_factory=dict)
    urgency_values: dict = dataclasses.field(default_factory=dict)
    category_map: dict = dataclasses.field(default_factory=dict)
    path: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def column(self, role: str) -> Column | None:
        return self.columns.get(role)

    def matches(self, header: list[str]) -> bool:
        """Whether a file with this header is of this profile (``detect_all`` / ``detect_any``)."""
        present = set(header)
        if self.detect_all and all(c in present for c in self.detect_all):
            return True
        return bool(self.detect_any) and any(c in present for c in self.detect_any)

    def with_mapping(self, mapping: dict) -> Profile:
        """This profile with an Open311 mapping file's ``system``, ``timezone`` and ``[services]`` laid over."""
        changes = {}
        if "system" in mapping:
            changes["system"] = str(mapping["system"])
        if "timezone" in mapping:
            changes["timezone"] = _zone(mapping["timezone"], "mapping file")
        if "services" in mapping:
            if not isinstance(mapping["services"], dict):
                raise ProfileError("mapping file: [services] must be a table of service_code = taxonomy path")
            changes["category_map"] = {str(k): str(v) for k, v in mapping["services"].items()}
            changes["category_lookup"] = "map"
        return dataclasses.replace(self, **changes)


_TOP_KEYS = {"id", "name", "format", "system", "source", "kind", "timezone", "time_formats", "detect_all",
             "detect_any", "required", "category_lookup", "deadlines", "reply_pair", "result_default", "columns",
             "status", "values", "category_map"}


def _zone(name, where) -> str:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(f"{where}: unknown time zone {name!r}") from None
    return str(name)


def _strings(value, key) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{key} must be a string or a list of strings")
    return tuple(value)


def _column(role, value) -> Column:
    if isinstance(value, str):
        return Column((value,))
    if isinstance(value, dict):
        if set(value) <= {"any"} and "any" in value:
            return Column(_strings(value["any"], f"columns.{role}.any"))
        if "join" in value and set(value) <= {"join", "sep"}:
            if role not in TEXT_ROLES:
                raise ProfileError(f"columns.{role}: join is only for the text roles {', '.join(TEXT_ROLES)}")
            return Column(_strings(value["join"], f"columns.{role}.join"), join=True, sep=str(value.get("sep", " ")))
    raise ProfileError(f"columns.{role}: a column name, {{any = [...]}} or {{join = [...], sep = ...}}")


def parse_profile(data: dict, *, path: str = "") -> Profile:
    """Build a :class:`Profile` from a decoded TOML table. Raises ProfileError naming the bad key."""
    from cases.choices import CaseKind, Source, Urgency

    where = path or "profile"
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if not data.get("id"):
        raise ProfileError(f"{where}: id is required")
    fmt = data.get("format", "table")
    if fmt not in FORMATS:
        raise ProfileError(f"{where}: format must be one of {', '.join(FORMATS)}")
    source = data.get("source", Source.HOTLINE)
    if source not in Source.values:
        raise ProfileError(f"{where}: unknown source {source!r}")
    kind = data.get("kind", CaseKind.COMPLAINT)
    if kind not in CaseKind.values:
        raise ProfileError(f"{where}: unknown kind {kind!r}")
    lookup = data.get("category_lookup", "taxonomy")
    if lookup not in CATEGORY_LOOKUPS:
        raise ProfileError(f"{where}: category_lookup must be one of {', '.join(CATEGORY_LOOKUPS)}")
    deadlines = data.get("deadlines", "policy")
    if deadlines not in DEADLINE_MODES:
        raise ProfileError(f"{where}: deadlines must be one of {', '.join(DEADLINE_MODES)}")
    columns = {}
    for role, value in (data.get("columns") or {}).items():
        if role not in ROLES:
            raise ProfileError(f"{where}: unknown role columns.{role}; one of {', '.join(ROLES)}")
        columns[role] = _column(role, value)
    for role in ("id", "received"):
        if role not in columns:
            raise ProfileError(f"{where}: columns.{role} is required")
    status = data.get("status") or {}
    if set(status) - {"resolved"}:
        raise ProfileError(f"{where}: [status] takes only resolved = [...]")
    values = data.get("values") or {}
    if set(values) - {"kind", "urgency"}:
        raise ProfileError(f"{where}: [values] takes only kind and urgency tables")
    for name, choices in (("kind", CaseKind.values), ("urgency", Urgency.values)):
        bad = [v for v in (values.get(name) or {}).values() if v not in choices]
        if bad:
            raise ProfileError(f"{where}: values.{name} maps to unknown value(s) {', '.join(map(repr, bad))}")
    return Profile(
        id=str(data["id"]), name=str(data.get("name", "")), format=fmt, system=str(data.get("system", "")),
        source=source, kind=kind, timezone=_zone(data.get("timezone", "Asia/Shanghai"), where),
        time_formats=_strings(data.get("time_formats", []), "time_formats"),
        detect_all=_strings(data.get("detect_all", []), "detect_all"),
        detect_any=_strings(data.get("detect_any", []), "detect_any"),
        required=_strings(data.get("required", []), "required"), category_lookup=lookup, deadlines=deadlines,
        reply_pair=bool(data.get("reply_pair", False)), result_default=str(data.get("result_default", "{status}")),
        columns=columns, resolved_statuses=_strings(status.get("resolved", []), "status.resolved"),
        kind_values=dict(values.get("kind") or {}), urgency_values=dict(values.get("urgency") or {}),
        category_map=_category_map(data.get("category_map"), where), path=path,
    )


def _category_map(value, where) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):  # the map of another shipped profile
        if not (PROFILE_DIR / f"{value}.toml").is_file():
            raise ProfileError(f"{where}: category_map names no shipped profile {value!r}")
        return dict(load_profile(value).category_map)
    if not isinstance(value, dict):
        raise ProfileError(f"{where}: category_map must be a table or the id of a shipped profile")
    return {str(k): str(v) for k, v in value.items()}


def _read_toml(path: Path, what: str) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ProfileError(f"cannot read {what} {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{what} {path}: not TOML ({exc})") from None


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by id (``nyc311``) or any profile file by path. Raises ProfileError."""
    path = Path(name_or_path)
    if not path.suffix and (PROFILE_DIR / f"{name_or_path}.toml").is_file():
        path = PROFILE_DIR / f"{name_or_path}.toml"
    elif not path.is_file():
        raise ProfileError(f"no profile {str(name_or_path)!r}: shipped ones are {', '.join(shipped_ids())}")
    return parse_profile(_read_toml(path, "profile"), path=str(path))


def load_mapping(path: str | Path) -> dict:
    """An Open311 mapping file (TOML or JSON) by path, or a shipped one by name (``sf_open311_services``):
    ``system``, ``timezone``, ``services``. Raises ProfileError."""
    path = Path(path)
    if not path.is_file() and (MAPPING_DIR / f"{path}.toml").is_file():
        path = MAPPING_DIR / f"{path}.toml"
    if path.suffix == ".json":
        import json

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProfileError(f"mapping file {path}: {exc}") from None
    else:
        data = _read_toml(path, "mapping file")
    unknown = set(data) - {"system", "timezone", "services", "name"}
    if unknown:
        raise ProfileError(f"mapping file {path}: unknown key(s) {', '.join(sorted(unknown))}")
    return data


def shipped_ids() -> list[str]:
    """Ids of the profiles shipped in ``cases/interop/profiles/``, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def shipped_profiles() -> list[Profile]:
    """Every shipped profile, the two Chinese sets first (they are the product's own), then by id."""
    order = {"message_board": 0, "hotline": 1}
    return sorted((load_profile(i) for i in shipped_ids()), key=lambda p: (order.get(p.id, 9), p.id))


def detect_profile(header: list[str], *, file_format: str) -> Profile | None:
    """The first shipped profile of this format whose header signature matches, or None."""
    kind = "json" if file_format == "json" else "table"
    for profile in shipped_profiles():
        if profile.format == kind and profile.matches(header):
            return profile
    return None


__all__ = ["Column", "MAPPING_DIR", "PROFILE_DIR", "Profile", "ProfileError", "ROLES", "detect_profile", "load_mapping",
           "load_profile", "parse_profile", "shipped_ids", "shipped_profiles"]
