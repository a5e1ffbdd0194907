"""Search over all taxonomy nodes (the category picker's search box): by name, part of a name or path, full
pinyin or pinyin initials (``ld`` finds 路灯), with ``pypinyin``. The index of the 650 nodes is built once
per process and rebuilt when the table changes (node count or largest id)."""
from __future__ import annotations

import threading

_lock = threading.Lock()
_index: dict = {"key": None, "rows": []}


def _pinyin(name: str) -> tuple[str, str]:
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(name, style=Style.NORMAL, errors="ignore")
    return "".join(syllables).lower(), "".join(s[0] for s in syllables if s).lower()


def taxonomy_nodes() -> list[dict]:
    """Every taxonomy node, read once per process and again when the table changes (one aggregate query a
    call): dicts ``id, name, level (1–3), path ('城乡建设/市政设施/路灯'), parent_name ('' at level 1),
    top_id (the level-1 ancestor's id, the node's own at level 1), pinyin, initials``, sorted by level
    then path. Shared by the category search and the category suggestion."""
    return _rows()


def _rows() -> list[dict]:
    from django.db.models import Count, Max

    from cases.models import Category

    stats = Category.objects.aggregate(n=Count("id"), top=Max("id"))
    key = (stats["n"], stats["top"])
    with _lock:
        if _index["key"] == key:
            return _index["rows"]
    nodes = {c["id"]: c for c in Category.objects.values("id", "name", "level", "parent_id")}
    rows = []
    for node in nodes.values():
        path, cur = [], node
        while cur is not None:
            path.insert(0, cur["name"])
            cur = nodes.get(cur["parent_id"])
        full, initials = _pinyin(node["name"])
        parent = nodes.get(node["parent_id"])
        top = node
        while top["parent_id"] is not None and top["parent_id"] in nodes:
            top = nodes[top["parent_id"]]
        rows.append({"id": node["id"], "name": node["name"], "level": node["level"], "path": "/".join(path),
                     "parent_name": parent["name"] if parent else "", "top_id": top["id"],
                     "pinyin": full, "initials": initials})
    rows.sort(key=lambda r: (r["level"], r["path"]))
    with _lock:
        _index.update(key=key, rows=rows)
    return rows


def search_categories(q: str, *, limit: int = 20) -> list[dict]:
    """Nodes matching ``q``, best first: name starts with q (score 1.0), name contains q (0.9), path contains
    q (0.7), pinyin initials start with q (0.8) or contain it (0.6), full pinyin starts with q (0.75) or
    contains it (0.5); ties by level then path. Returns dicts ``id, name, level, path, score``."""
    q = q.strip().lower().replace(" ", "")
    if not q:
        return []
    out = []
    for r in _rows():
        name = r["name"].lower()
        score = 0.0
        if name.startswith(q):
            score = 1.0
        elif q in name:
            score = 0.9
        elif q.isascii():
            if r["initials"].startswith(q):
                score = 0.8
            elif r["pinyin"].startswith(q):
                score = 0.75
            elif q in r["initials"]:
                score = 0.6
            elif q in r["pinyin"]:
                score = 0.5
        if not score and q in r["path"].lower():
            score = 0.7
        if score:
            out.append({"id": r["id"], "name": r["name"], "level": r["level"], "path": r["path"], "score": score})
    out.sort(key=lambda r: (-r["score"], r["level"], r["path"]))
    return out[:limit]
