"""The API's JSON parser (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``): DRF's, with two refusals that turn
hostile bodies into 400 instead of 500 (issue 18.2).

- Nesting deeper than ``API_JSON_MAX_DEPTH`` (default 32) objects/arrays: Python's ``json`` recurses and a
  body of 100,000 ``[`` raised RecursionError. The depth is counted on the raw text before parsing.
- A NUL character (``\\u0000``) in any string or key: PostgreSQL cannot store it in text.
"""
import json

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def json_depth(text: str) -> int:
    """Deepest nesting of ``{``/``[`` in JSON ``text``, brackets inside strings not counted."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def has_nul(value) -> bool:
    """Whether a parsed JSON value holds a NUL character in any string or key."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class StrictJSONParser(JSONParser):
    """DRF's JSONParser, refusing too deep nesting and NUL characters with a ParseError (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(_("请求体不是 %(encoding)s 编码的 JSON。") % {"encoding": encoding}) from exc
        limit = getattr(settings, "API_JSON_MAX_DEPTH", 32)
        if json_depth(text) > limit:
            raise ParseError(_("JSON 嵌套超过 %(limit)s 层。") % {"limit": limit})
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            raise ParseError(_("JSON 格式错误：%(error)s") % {"error": exc}) from exc
        if has_nul(data):
            raise ParseError(_("JSON 中含有不允许的空字符（\\u0000）。"))
        return data


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON")
