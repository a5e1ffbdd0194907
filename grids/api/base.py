"""Plumbing shared by every API app: pagination, the scoped-viewset base, error bodies for the schema."""
import datetime as dt
import re

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination

from grids.scope import local_today, request_now, request_scope

#: Largest page a client may ask for with ``page_size`` (issue 5).
MAX_PAGE_SIZE = 200


#: From this many rows on, an unfiltered list's ``count`` is PostgreSQL's estimate (issue 17 §3).
ESTIMATED_COUNT_FROM = 100_000


class EstimatingPaginator(Paginator):
    """A Django paginator whose ``count`` of a whole table (a queryset without any condition) is the
    planner's estimate (``pg_class.reltuples``, kept by autovacuum's ANALYZE) once that reaches
    :data:`ESTIMATED_COUNT_FROM` rows: counting a million rows exactly costs more than the page itself.
    Filtered lists, small tables and other databases count exactly. A page past the true end of an
    estimated list is empty rather than 404."""

    @cached_property
    def count(self):
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where and not query.combinator and not query.distinct:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                                   [queryset.model._meta.db_table])
                    row = cursor.fetchone()
                if row and row[0] >= ESTIMATED_COUNT_FROM:
                    return int(row[0])
        return super().count


class Pagination(PageNumberPagination):
    """Page-number pagination: ``page`` (from 1) and ``page_size`` (default 50, capped at 200). The
    ``count`` of an unfiltered list of :data:`ESTIMATED_COUNT_FROM` rows or more is an estimate
    (:class:`EstimatingPaginator`)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    django_paginator_class = EstimatingPaginator


class ScopedMixin:
    """For views: ``self.scope`` (the caller's :class:`grids.scope.Scope`) and ``self.now`` (the request's
    clock, aware UTC), both computed once per request. Serializers find them in their context."""

    @property
    def scope(self):
        return request_scope(self.request)

    @property
    def now(self):
        return request_now(self.request)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["scope"] = self.scope
        context["now"] = self.now
        context["today"] = local_today(self.now)
        return context


class ErrorSerializer(serializers.Serializer):
    """Body of 401, 403, 404, 409, 429 and 503 answers."""

    code = serializers.CharField(help_text="Stable machine-readable reason, e.g. `transition_not_allowed`.")
    detail = serializers.CharField(help_text="A sentence for people.")


#: Body of a 400 answer: field name (or ``non_field_errors``) → list of messages (or nested errors).
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "additionalProperties": {},
    "description": "Field name (or `non_field_errors`) → list of messages.",
    "example": {"title": ["标题不能为空。"]},
}

_DESCRIPTIONS = {
    400: "Bad input: field errors.",
    401: "Not authenticated.",
    403: "Your role may not do this.",
    404: "Not found, or outside your scope.",
    409: "Not allowed in the case's current state, or lost to a concurrent change.",
    429: "Too many failed logins; retry later.",
    503: "A service this answer needs is not ready (e.g. `classifier_not_trained`).",
}


def error_responses(*codes: int, media_type: str | None = None) -> dict:
    """``extend_schema(responses=…)`` entries for the given HTTP error codes; with ``media_type`` keyed
    ``(code, media_type)``, for views whose successful answers come in several formats."""
    out = {}
    for code in codes:
        schema = FIELD_ERRORS_SCHEMA if code == 400 else ErrorSerializer
        out[(code, media_type) if media_type else code] = OpenApiResponse(response=schema,
                                                                           description=_DESCRIPTIONS[code])
    return out


class IdField(serializers.PrimaryKeyRelatedField):
    """A related object by its integer id. DRF's PrimaryKeyRelatedField hands the raw value to the database,
    which turned ``1.5`` (and ``true``) into 1; here only an integer, or a string of digits, is an id
    (issue 19.5). Anything else is 400 ``incorrect_type``."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (isinstance(data, int) or (isinstance(data, str) and data.isdigit()
                                                                     and data.isascii())):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(int(data))


def document_outside_answers(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation documents the 400 and 404 it can answer.

    Some answers come from outside the view, so no ``extend_schema`` names them. 400 ``nul_character``: a NUL
    byte anywhere in the request (``xiji_grid.middleware``, on every operation). 404: a ``format`` query
    parameter that names no renderer of the view (``URL_FORMAT_OVERRIDE``, on every operation), a paginated
    list asked for a page past the last or not a page number (``PageNumberPagination``), and an operation on
    one object whose object does not exist or lies outside the caller's scope (DESIGN §1). An operation that
    documents neither gets it, with the :class:`ErrorSerializer` body (``Error``). ``result`` is the OpenAPI
    document as a dict; it is changed in place and returned.
    """
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    added = {
        "400": {**error, "description": "Bad request: a NUL character (`nul_character`)."},
        "404": {**error, "description": "Not found (a page past the last, an object outside your scope), or a "
                                        "`format` this operation does not offer."},
    }
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in ("get", "put", "patch", "post", "delete"):
                responses = operation.setdefault("responses", {})
                for code, response in added.items():
                    responses.setdefault(code, response)
    return result


def query_date(params, name: str, *, month: bool = False):
    """The Asia/Shanghai calendar date in query parameter ``name`` of ``params`` (a QueryDict), or None when
    absent or empty. Dates are ``YYYY-MM-DD`` (with ``month``: ``YYYY-MM``, read as its first day), years
    1–9999; anything else raises a DRF ValidationError on ``name`` (a 400 answer). The one parser of query
    dates outside serializers (issue 19.5)."""
    value = params.get(name)
    if not value:
        return None
    text = f"{value}-01" if month else value
    if not _ISO_DATE.fullmatch(text):
        raise serializers.ValidationError({name: ["格式应为 YYYY-MM。" if month else "日期格式应为 YYYY-MM-DD。"]})
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise serializers.ValidationError({name: ["没有这一天。" if not month else "没有这个月。"]}) from None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
