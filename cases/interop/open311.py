"""Open311 GeoReport v2 server under ``/open311/v2/`` (issue 13 §2; http://wiki.open311.org/GeoReport_v2).

Every resource answers JSON or XML by its suffix (``services.json``, ``services.xml``; none: JSON):

* ``discovery`` — the endpoint, its formats and the specification;
* ``services`` — one service per node of the category taxonomy; ``service_code`` is the first 10 hex
  digits of SHA-256 of the node's path (``城乡建设/城市建设和市政管理/城市公共设施``), so it stays the same
  across databases and re-seeds while the node keeps its name and place; ``group`` is its top-level name;
* ``services/{service_code}`` — the definition: the optional attributes ``kind`` (诉求类型) and ``title``;
* ``requests`` GET — public requests, newest first, filtered by ``service_request_id`` (comma-separated;
  overrides the others), ``service_code`` (comma-separated), ``start_date`` / ``end_date`` (W3C times,
  on the received time; default the last 90 days, at most 90 days apart, as the specification says),
  ``status`` (``open``, ``closed``, comma-separated), paged by ``page`` (from 1) and ``page_size``
  (default 50, at most 200);
* ``requests`` POST — a new request from a client with an ``api_key`` (an ExternalSystem of kind
  ``open311``): ``service_code``, a location (``lat`` and ``long``, or ``address_string``, or
  ``address_id``), ``description``, ``first_name``/``last_name``/``phone`` (stored on the case as its
  complainant, never published), ``attribute[kind]``, ``attribute[title]``; answers the new
  ``service_request_id`` and a ``token``;
* ``requests/{service_request_id}`` and ``tokens/{token}``.

``service_request_id`` is the case number (``XJ20250407-0001``). A public request never carries complainant
data: no name, phone, e-mail or the complainant's address; ``address`` is the case's village (a coarse
public place), ``description`` and ``status_notes`` pass :func:`cases.importing.mask_personal_data`.
Errors use the specification's format — JSON ``[{"code": 400, "description": "…"}]``, XML
``<errors><error><code>…</code><description>…</description></error></errors>`` — with the same HTTP status.
``jurisdiction_id`` may be omitted; when given it must be ``OPEN311_JURISDICTION_ID``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import secrets
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from grids.models import Village

from .. import services
from ..choices import OPEN_STATES, CaseKind, Status
from ..importing import mask_personal_data
from ..models import Case, Category, ExternalSystem, Open311Token
from .upstream import system_for_key

SPEC = "http://wiki.open311.org/GeoReport_v2"
MAX_PAGE_SIZE = 200
WINDOW = dt.timedelta(days=90)


class Open311Error(Exception):
    """An answer in the specification's error format: HTTP ``code`` and a ``description``."""

    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code = code
        self.description = description


# --- Services -----------------------------------------------------------------------------------------


def category_path(category: Category) -> str:
    names, node = [], category
    while node is not None:
        names.insert(0, node.name)
        node = node.parent
    return "/".join(names)


def service_code(path: str) -> str:
    """The stable service code of a taxonomy path: ``sha256(path)`` as hex, first 10 digits."""
    return hashlib.sha256(path.encode()).hexdigest()[:10]


def services_index() -> list[dict]:
    """Every taxonomy node as a service, in path order: ``service_code``, ``service_name``, ``description``
    (its path), ``metadata`` (true: it has a definition), ``type`` (``realtime``), ``keywords``, ``group``."""
    out = []
    for category in Category.objects.select_related("parent__parent"):
        path = category_path(category)
        out.append({"service_code": service_code(path), "service_name": category.name, "description": path,
                    "metadata": True, "type": "realtime", "keywords": "", "group": path.split("/")[0],
                    "_category": category})
    out.sort(key=lambda s: s["description"])
    return out


def _category_for_code(code: str) -> Category | None:
    for service in services_index():
        if service["service_code"] == code:
            return service["_category"]
    return None


def _codes_by_category() -> dict[int, str]:
    return {s["_category"].pk: s["service_code"] for s in services_index()}


def definition(code: str) -> dict:
    if _category_for_code(code) is None:
        raise Open311Error(404, f"service_code {code} not found")
    kinds = [{"key": value, "name": str(label)} for value, label in CaseKind.choices]
    return {"service_code": code, "attributes": [
        {"variable": True, "code": "kind", "datatype": "singlevaluelist", "required": False,
         "datatype_description": "诉求类型 (default complaint)", "order": 1, "description": "诉求类型 kind",
         "values": kinds},
        {"variable": True, "code": "title", "datatype": "string", "required": False,
         "datatype_description": "up to 200 characters", "order": 2,
         "description": "标题 title (default: the first 30 characters of the description)"},
    ]}


# --- Requests -----------------------------------------------------------------------------------------


def _w3c(moment: dt.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def public_request(case: Case, codes: dict[int, str]) -> dict:
    """One case as a public GeoReport request (no complainant data; see the module docstring)."""
    closed = case.status not in OPEN_STATES
    notes = ""
    if case.status == Status.CANCELLED:
        notes = "cancelled"
    elif case.result:
        notes = mask_personal_data(case.result)
    return {
        "service_request_id": case.number, "status": "closed" if closed else "open", "status_notes": notes,
        "service_name": case.category.name if case.category_id else "",
        "service_code": codes.get(case.category_id, "") if case.category_id else "",
        "description": mask_personal_data(case.description), "agency_responsible": "西集镇",
        "service_notice": "", "requested_datetime": _w3c(case.received_at), "updated_datetime": _w3c(case.updated_at),
        "expected_datetime": _w3c(case.resolve_due_at), "address": case.village.name, "address_id": "",
        "zipcode": "", "lat": float(case.lat) if case.lat is not None else None,
        "long": float(case.lng) if case.lng is not None else None, "media_url": "",
    }


def _parse_w3c(name: str, value: str) -> dt.datetime:
    text = value.strip().replace(" ", "+")  # a "+" in a query string arrives as a space
    try:
        moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C date and time (e.g. 2025-04-07T00:00:00Z)") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.UTC)


def _int(name, value, *, default, low, high):
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be a whole number") from None
    if not low <= number <= high:
        raise Open311Error(400, f"{name} must be between {low} and {high}")
    return number


def list_requests(params, *, now: dt.datetime) -> list[dict]:
    """The public requests that ``params`` (a QueryDict or dict of strings) select; see the module docstring."""
    qs = Case.objects.select_related("category", "village").order_by("-received_at", "-pk")
    codes = _codes_by_category()
    page = _int("page", params.get("page"), default=1, low=1, high=10**6)
    size = _int("page_size", params.get("page_size"), default=50, low=1, high=MAX_PAGE_SIZE)
    ids = [i.strip() for i in (params.get("service_request_id") or "").split(",") if i.strip()]
    if ids:
        qs = qs.filter(number__in=ids)
    else:
        if params.get("service_code"):
            wanted = {c.strip() for c in params["service_code"].split(",") if c.strip()}
            unknown = wanted - set(codes.values())
            if unknown:
                raise Open311Error(400, f"service_code {sorted(unknown)[0]} not found")
            qs = qs.filter(category_id__in=[pk for pk, code in codes.items() if code in wanted])
        start = _parse_w3c("start_date", params["start_date"]) if params.get("start_date") else None
        end = _parse_w3c("end_date", params["end_date"]) if params.get("end_date") else None
        if start is None and end is None:
            start, end = now - WINDOW, now
        elif start is None:
            start = end - WINDOW
        elif end is None:
            end = start + WINDOW
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > WINDOW:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days")
        qs = qs.filter(received_at__gte=start, received_at__lte=end)
        if params.get("status"):
            wanted = {s.strip().lower() for s in params["status"].split(",") if s.strip()}
            if wanted - {"open", "closed"}:
                raise Open311Error(400, "status must be open or closed")
            if wanted == {"open"}:
                qs = qs.filter(status__in=OPEN_STATES)
            elif wanted == {"closed"}:
                qs = qs.exclude(status__in=OPEN_STATES)
    return [public_request(c, codes) for c in qs[(page - 1) * size:page * size]]


def one_request(number: str) -> list[dict]:
    case = Case.objects.select_related("category", "village").filter(number=number).first()
    if case is None:
        raise Open311Error(404, f"service_request_id {number} not found")
    return [public_request(case, _codes_by_category())]


def _decimal(name, value, limit):
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Open311Error(400, f"{name} is not a number") from None
    if not number.is_finite() or abs(number) > limit:
        raise Open311Error(400, f"{name} is out of range")
    return number.quantize(Decimal("0.000001"))


def _village_for(lat, lng, address: str, system: ExternalSystem) -> Village:
    """Where a new request belongs: the village its address names, else the nearest village with
    coordinates within ``OPEN311_NEAREST_VILLAGE_KM`` of (lat, long), else the client's default village."""
    villages = list(Village.objects.all())
    if address:
        for village in sorted(villages, key=lambda v: -len(v.short_name)):
            if village.name in address or village.short_name in address:
                return village
    if lat is not None and lng is not None:
        best, best_km = None, float(settings.OPEN311_NEAREST_VILLAGE_KM)
        for village in villages:
            if village.lat is None or village.lng is None:
                continue
            km = _km(float(lat), float(lng), float(village.lat), float(village.lng))
            if km <= best_km:
                best, best_km = village, km
        if best is not None:
            return best
    if system.default_village_id:
        return system.default_village
    raise Open311Error(400, "the location is not within the jurisdiction (no village found for it)")


def _km(lat1, lng1, lat2, lng2) -> float:
    """Great-circle distance in km (haversine, Earth radius 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(a))


def create_request(data, *, now: dt.datetime) -> list[dict]:
    """POST requests: validate, create the case, answer ``[{"service_request_id", "token", "service_notice",
    "account_id"}]``. ``data``: the form (or JSON) fields as strings. Raises Open311Error."""
    system = system_for_key(data.get("api_key") or "")
    if system is None or system.kind != ExternalSystem.Kind.OPEN311:
        raise Open311Error(403, "api_key is missing or not valid")
    code = (data.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    category = _category_for_code(code)
    if category is None:
        raise Open311Error(404, f"service_code {code} not found")
    lat = data.get("lat")
    lng = data.get("long")
    address = (data.get("address_string") or "").strip()
    if (lat in (None, "")) != (lng in (None, "")):
        raise Open311Error(400, "lat and long go together")
    if lat in (None, "") and not address and not (data.get("address_id") or "").strip():
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    lat = _decimal("lat", lat, 90) if lat not in (None, "") else None
    lng = _decimal("long", lng, 180) if lng not in (None, "") else None
    description = (data.get("description") or "").strip()
    if len(description) > 4000:
        raise Open311Error(400, "description is longer than 4000 characters")
    kind = (data.get("attribute[kind]") or CaseKind.COMPLAINT).strip()
    if kind not in CaseKind.values:
        raise Open311Error(400, f"attribute kind must be one of {', '.join(CaseKind.values)}")
    title = (data.get("attribute[title]") or "").strip() or description[:30] or category.name
    name = " ".join(p for p in ((data.get("first_name") or "").strip(), (data.get("last_name") or "").strip()) if p)
    village = _village_for(lat, lng, address, system)
    try:
        with transaction.atomic():
            case = services.create_case(
                actor=None, kind=kind, source=system.source, title=title[:200], village=village, category=category,
                description=description, complainant_name=name[:50],
                complainant_phone=(data.get("phone") or "").strip()[:30], address=address[:200], lat=lat, lng=lng,
                source_system=system.code, now=now,
            )
            token = Open311Token.objects.create(token=secrets.token_hex(16), case=case, system=system, created_at=now)
    except ValidationError as exc:
        raise Open311Error(400, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    return [{"service_request_id": case.number, "token": token.token,
             "service_notice": "已受理，西集镇指挥中心将派单处理。", "account_id": None}]


def token_lookup(token: str) -> list[dict]:
    found = Open311Token.objects.select_related("case").filter(token=token).first()
    if found is None:
        raise Open311Error(404, f"token {token} not found")
    return [{"token": found.token, "service_request_id": found.case.number}]


def discovery(base_url: str) -> dict:
    return {
        "changeset": "2026-12-02T00:00:00+08:00", "contact": "西集镇热线+网格指挥调度中心",
        "key_service": "API keys are issued by the command centre (admin → 外部系统).",
        "endpoints": [{"specification": SPEC, "url": base_url, "changeset": "2026-12-02T00:00:00+08:00",
                       "type": "production", "formats": ["application/json", "text/xml"]}],
    }


# --- Rendering ----------------------------------------------------------------------------------------

_XML_ROOT = {"services": ("services", "service"), "requests": ("service_requests", "request"),
             "tokens": ("service_requests", "request"), "created": ("service_requests", "request"),
             "errors": ("errors", "error")}


def _xml_value(parent, key, value):
    child = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(child, k, v)
    elif isinstance(value, list):
        singular = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
                    "formats": "format"}.get(key, "item")
        for item in value:
            _xml_value(child, singular, item)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def render(payload, *, fmt: str, kind: str, status: int = 200) -> HttpResponse:
    """``payload`` (a list or dict) as JSON or as the specification's XML for ``kind`` (see _XML_ROOT;
    ``definition`` and ``discovery`` are single documents)."""
    if fmt == "xml":
        if kind in ("definition", "discovery"):
            root = ET.Element("service_definition" if kind == "definition" else "discovery")
            for key, value in payload.items():
                _xml_value(root, key, value)
        else:
            root_name, item_name = _XML_ROOT[kind]
            root = ET.Element(root_name)
            for item in payload:
                node = ET.SubElement(root, item_name)
                for key, value in item.items():
                    _xml_value(node, key, value)
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
        return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
    return HttpResponse(json.dumps(payload, ensure_ascii=False), status=status,
                        content_type="application/json; charset=utf-8")


def _error(exc: Open311Error, fmt: str) -> HttpResponse:
    return render([{"code": exc.code, "description": exc.description}], fmt=fmt, kind="errors", status=exc.code)


def _strip(items):
    return [{k: v for k, v in item.items() if not k.startswith("_")} for item in items]


# --- Views --------------------------------------------------------------------------------------------


def _check_jurisdiction(params):
    given = (params.get("jurisdiction_id") or "").strip()
    if given and given != settings.OPEN311_JURISDICTION_ID:
        raise Open311Error(404, f"jurisdiction_id {given} not found")


def _view(kind):
    @csrf_exempt
    def view(request, fmt="json", **kwargs):
        fmt = (fmt or "json").lower()
        try:
            if request.method not in ("GET", "HEAD") and not (kind == "requests" and request.method == "POST"):
                raise Open311Error(405, f"{request.method} is not allowed here")
            params = request.GET if request.method != "POST" else _post_data(request)
            _check_jurisdiction(params)
            now = timezone.now()
            if kind == "discovery":
                return render(discovery(request.build_absolute_uri("/open311/v2/")), fmt=fmt, kind="discovery")
            if kind == "services":
                return render(_strip(services_index()), fmt=fmt, kind="services")
            if kind == "definition":
                return render(definition(kwargs["code"]), fmt=fmt, kind="definition")
            if kind == "requests" and request.method == "POST":
                return render(create_request(params, now=now), fmt=fmt, kind="created", status=201)
            if kind == "requests":
                return render(list_requests(params, now=now), fmt=fmt, kind="requests")
            if kind == "request":
                return render(one_request(kwargs["number"]), fmt=fmt, kind="requests")
            return render(token_lookup(kwargs["token"]), fmt=fmt, kind="tokens")
        except Open311Error as exc:
            return _error(exc, fmt)

    return view


def _post_data(request) -> dict:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise Open311Error(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise Open311Error(400, "the body must be a JSON object")
        attributes = data.pop("attribute", None) or {}
        flat = {k: "" if v is None else str(v) for k, v in data.items()}
        flat.update({f"attribute[{k}]": str(v) for k, v in attributes.items()})
        return flat
    return {k: request.POST.get(k) for k in request.POST}


discovery_view = _view("discovery")
services_view = _view("services")
definition_view = _view("definition")
requests_view = _view("requests")
request_view = _view("request")
token_view = _view("token")

__all__ = ["Open311Error", "create_request", "definition", "discovery", "list_requests", "public_request",
           "service_code", "services_index"]
