"""Hotspots (高频难点, issue 11 §4): the demands that keep coming back, found nightly.

**Grouping.** The cases received in the window ``[since, until)`` (default the last ``HOTSPOT_WINDOW_DAYS``,
30) and in the previous window of the same length, not cancelled, are split by top-level category (a case
without a category takes the category model's best suggestion). Within a category their texts
(:mod:`cases.text.similarity`) are clustered by average-linkage agglomerative clustering on cosine
distance, cut at ``1 − HOTSPOT_TOPIC_SIMILARITY`` (so members are on average at least 0.35 similar). A
cluster with at least ``HOTSPOT_MIN_CASES`` (3) cases in the window is a hotspot. Its place is the village
holding at least half of its window cases (else none: it spreads over several, all listed in
``villages``). Clustering by text first lets one problem reported in several villages show as one
hotspot, and a place named only in the text (a housing estate, a road) still groups.

**Heat index** (:func:`heat_index`), with N cases in the window, C distinct callers among them (phone or
platform account; a case naming no caller counts as its own caller), P cases of the same cluster in the
previous window, growth g = (N − P) / max(P, 1) clamped to [−0.5, 1], U the share of the window cases
reopened or answered unsatisfied / unsolved at callback, V the net support votes Σ max(0, 点赞 − 反对)::

    heat = (C + 0.5 · (N − C)) × (1 + 0.5 · g) × (1 + U) + log2(1 + V)

Each caller counts once and a repeat by the same caller half; a doubling against the previous window
weighs ×1.5, a halving ×0.75; all cases unsatisfied doubles it; votes add slowly.

**Stable ids.** A cluster continues the hotspot (same category, not cleared) whose members of its last run
overlap it most, when the overlap is at least half of the smaller set (|A ∩ B| / min(|A|, |B|) ≥ 0.5); else
the one with the same category and place whose keywords share at least half (Jaccard ≥ 0.5); else it is a
new hotspot (status ``new``, a ``detected`` event). A hotspot keeps its id, status and history
(one :class:`cases.models.HotspotSnapshot` per run day); one not found by a run becomes inactive.
The same data gives the same clusters, so two runs give the same ids.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections import Counter

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .duplicates import phone_key, top_category_id
from .similarity import case_text, cosine, vectorise, word_features

logger = logging.getLogger(__name__)

OVERLAP_TO_CONTINUE = 0.5
KEYWORDS_TO_CONTINUE = 0.5
DOMINANT_VILLAGE_SHARE = 0.5


def heat_index(cases: int, callers: int, previous: int, unsatisfied_share: float, votes: int) -> float:
    """The heat of a hotspot (formula in the module docstring), rounded to 2 places.

    ``cases`` N ≥ 1, ``callers`` C ≤ N, ``previous`` P ≥ 0, ``unsatisfied_share`` U in [0, 1], ``votes`` V ≥ 0.
    ``heat_index(6, 4, 2, 0.5, 0) == 11.25``: (4 + 1) × (1 + 0.5 × 1) × 1.5.
    """
    growth = max(-0.5, min(1.0, (cases - previous) / max(previous, 1)))
    base = callers + 0.5 * (cases - callers)
    return round(base * (1 + 0.5 * growth) * (1 + unsatisfied_share) + math.log2(1 + max(0, votes)), 2)


@dataclasses.dataclass
class Found:
    """One cluster of a run: its member rows (dicts), which are in the window, and its figures."""

    category_id: int
    members: list[dict]
    similarity: dict[int, float]
    window_ids: list[int]
    previous_ids: list[int]
    callers: int
    unsatisfied_share: float
    votes: int
    heat: float
    title: str
    keywords: list[str]
    village_id: int | None
    village_ids: list[int]
    hotspot_id: int | None = None
    created: bool = False

    @property
    def growth(self) -> float:
        n, p = len(self.window_ids), len(self.previous_ids)
        return round(max(-0.5, min(1.0, (n - p) / max(p, 1))), 3)


@dataclasses.dataclass
class RunReport:
    """What :func:`find_hotspots` did: the window (aware UTC), cases read, hotspots found (best first),
    how many were new, continued and went inactive."""

    since: dt.datetime
    until: dt.datetime
    cases: int
    found: list[Found]
    created: int
    continued: int
    inactive: int
    seconds: float = 0.0


def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def _rows(prev_start: dt.datetime, until: dt.datetime) -> list[dict]:
    from cases.choices import Action, Status
    from cases.models import Case, CaseEvent

    reopened = CaseEvent.objects.filter(case_id=OuterRef("pk"), action=Action.REOPENED)
    qs = (Case.objects.filter(received_at__gte=prev_start, received_at__lt=until).exclude(status=Status.CANCELLED)
          .select_related("category__parent__parent").annotate(was_reopened=Exists(reopened))
          .order_by("received_at", "id"))
    rows = []
    for c in qs.iterator(chunk_size=2000):
        rows.append({"id": c.pk, "title": c.title, "text": case_text(c.title, c.description),
                     "received_at": c.received_at, "village_id": c.village_id,
                     "category_id": top_category_id(c.category), "caller": _caller(c),
                     "unsatisfied": bool(c.was_reopened or c.satisfaction == "unsatisfied" or c.callback_solved is False),
                     "votes": max(0, (c.votes_up or 0) - (c.votes_down or 0))})
    return rows


def _caller(case) -> str:
    phone = phone_key(case.complainant_phone)
    if phone:
        return f"tel:{phone}"
    if case.complainant_ref:
        return f"ref:{case.complainant_ref}"
    return f"case:{case.pk}"


def _fill_categories(rows: list[dict]) -> None:
    """Give uncategorised rows the category model's best top-level category (left None without a model)."""
    from cases.models import Category

    from .classifier import ModelNotTrained, _model

    missing = [r for r in rows if r["category_id"] is None]
    if not missing:
        return
    try:
        model = _model()
    except ModelNotTrained:
        logger.warning("hotspots: %s uncategorised cases left out (no trained category model)", len(missing))
        return
    tops = dict(Category.objects.filter(parent__isnull=True).values_list("name", "pk"))
    proba = model.predict_proba([r["text"] for r in missing])
    for row, best in zip(missing, np.argmax(proba, axis=1), strict=True):
        row["category_id"] = tops.get(model.labels[best])


def _clusters(vectors, threshold: float) -> list[list[int]]:
    """Row indices per cluster (average linkage, cosine distance cut at 1 − threshold), in first-row order."""
    n = vectors.shape[0]
    if n == 1:
        return [[0]]
    from sklearn.cluster import AgglomerativeClustering

    distance = np.clip(1.0 - cosine(vectors, vectors), 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    labels = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                     distance_threshold=1.0 - threshold).fit_predict(distance)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _keywords(vectors, indices: list[int], words, k: int = 5) -> list[str]:
    if words is None:
        return []
    n_words, names = words
    mean = np.asarray(vectors[indices, :n_words].mean(axis=0)).ravel()
    out = []
    for j in np.argsort(-mean, kind="stable"):
        if mean[j] <= 0 or len(out) == k:
            break
        name = str(names[j])
        if len(name.replace(" ", "")) >= 2 and not any(ch.isdigit() for ch in name) and " " not in name:
            out.append(name)
    return out


def cluster_window(rows: list[dict], since: dt.datetime, *, min_cases: int, threshold: float) -> list[Found]:
    """Pure part of a run: the hotspots among ``rows`` (from :func:`_rows`, window and previous window),
    best first (heat, then more cases, then earliest case id). No database access."""
    by_category: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        if r["category_id"] is not None:
            by_category.setdefault(r["category_id"], []).append(i)
    vectors_all = vectorise([r["text"] for r in rows]) if rows else None
    words = word_features()
    found = []
    for category_id, idx in sorted(by_category.items()):
        if sum(rows[i]["received_at"] >= since for i in idx) < min_cases:
            continue
        vectors = vectors_all[idx]
        for group in _clusters(vectors, threshold):
            members = [rows[idx[g]] for g in group]
            window = [m for m in members if m["received_at"] >= since]
            if len(window) < min_cases:
                continue
            sub = vectors[group]
            centroid = np.asarray(sub.mean(axis=0))
            sims = np.asarray(sub @ centroid.T).ravel() / max(np.linalg.norm(centroid), 1e-12)
            similarity = {m["id"]: round(float(s), 3) for m, s in zip(members, sims, strict=True)}
            callers = len({m["caller"] for m in window})
            unsatisfied = sum(m["unsatisfied"] for m in window) / len(window)
            votes = sum(m["votes"] for m in window)
            previous = [m["id"] for m in members if m["received_at"] < since]
            best = max(window, key=lambda m: (similarity[m["id"]], -m["id"]))
            villages = Counter(m["village_id"] for m in window)
            village, count = villages.most_common(1)[0]
            found.append(Found(
                category_id=category_id, members=members, similarity=similarity,
                window_ids=[m["id"] for m in window], previous_ids=previous, callers=callers,
                unsatisfied_share=round(unsatisfied, 3), votes=votes,
                heat=heat_index(len(window), callers, len(previous), unsatisfied, votes), title=best["title"],
                keywords=_keywords(vectors, group, words),
                village_id=village if count / len(window) >= DOMINANT_VILLAGE_SHARE else None,
                village_ids=sorted(v for v in villages if v is not None),
            ))
    found.sort(key=lambda f: (-f.heat, -len(f.window_ids), min(f.window_ids)))
    return found


def _match(found: list[Found]) -> None:
    """Set ``hotspot_id`` on each Found that continues an existing hotspot (rule in the module docstring)."""
    from cases.choices import HotspotStatus
    from cases.models import Hotspot, HotspotMember

    existing = {h.pk: h for h in Hotspot.objects.exclude(status=HotspotStatus.CLEARED)}
    members: dict[int, set[int]] = {}
    for hotspot_id, case_id in HotspotMember.objects.filter(hotspot_id__in=list(existing)).values_list(
            "hotspot_id", "case_id"):
        members.setdefault(hotspot_id, set()).add(case_id)
    taken: set[int] = set()
    for f in found:
        ids = {m["id"] for m in f.members}
        best, best_score = None, 0.0
        for pk, hotspot in existing.items():
            if pk in taken or hotspot.category_id != f.category_id or not members.get(pk):
                continue
            score = len(ids & members[pk]) / min(len(ids), len(members[pk]))
            if score > best_score or (score == best_score and best is not None and pk < best):
                best, best_score = pk, score
        if best is None or best_score < OVERLAP_TO_CONTINUE:
            best = None
            for pk, hotspot in sorted(existing.items()):
                if pk in taken or hotspot.category_id != f.category_id or hotspot.village_id != f.village_id:
                    continue
                a, b = set(hotspot.keywords or []), set(f.keywords)
                if a and b and len(a & b) / len(a | b) >= KEYWORDS_TO_CONTINUE:
                    best = pk
                    break
        if best is not None:
            f.hotspot_id = best
            taken.add(best)


def find_hotspots(*, since: dt.datetime | None = None, until: dt.datetime | None = None,
                  now: dt.datetime | None = None, min_cases: int | None = None,
                  threshold: float | None = None) -> RunReport:
    """Run the hotspot search over ``[since, until)`` (aware; default: the ``HOTSPOT_WINDOW_DAYS`` before
    ``now``) and store the result in one transaction: hotspots created or continued with their figures,
    members, villages and the run day's snapshot; those not found marked inactive. Safe to run twice (the
    second run finds the same clusters, continues the same hotspots and rewrites the same rows).
    Returns a :class:`RunReport`. Raises ValueError when ``since >= until``.
    """
    import time

    from cases.choices import HotspotAction, HotspotStatus
    from cases.models import Hotspot, HotspotEvent, HotspotMember, HotspotSnapshot

    started = time.monotonic()
    now = now or timezone.now()
    until = until or now
    since = since or until - dt.timedelta(days=int(getattr(settings, "HOTSPOT_WINDOW_DAYS", 30)))
    if since >= until:
        raise ValueError("since must be before until")
    min_cases = min_cases or int(getattr(settings, "HOTSPOT_MIN_CASES", 3))
    threshold = threshold or float(getattr(settings, "HOTSPOT_TOPIC_SIMILARITY", 0.35))
    rows = _rows(since - (until - since), until)
    _fill_categories(rows)
    found = cluster_window(rows, since, min_cases=min_cases, threshold=threshold)
    day = _local_day(until - dt.timedelta(microseconds=1))
    created = continued = 0
    with transaction.atomic():
        _match(found)
        seen = []
        for f in found:
            figures = {"title": f.title[:200], "keywords": f.keywords, "category_id": f.category_id,
                       "village_id": f.village_id, "active": True, "heat": f.heat, "case_count": len(f.window_ids),
                       "caller_count": f.callers, "previous_count": len(f.previous_ids), "growth": f.growth,
                       "unsatisfied_share": f.unsatisfied_share, "votes": f.votes, "window_start": since,
                       "window_end": until, "last_seen_at": now}
            if f.hotspot_id is None:
                hotspot = Hotspot.objects.create(first_seen_at=now, status=HotspotStatus.NEW, **figures)
                HotspotEvent.objects.create(hotspot=hotspot, action=HotspotAction.DETECTED, at=now,
                                            to_status=HotspotStatus.NEW,
                                            data={"cases": len(f.window_ids), "heat": f.heat})
                f.hotspot_id, f.created = hotspot.pk, True
                created += 1
            else:
                Hotspot.objects.filter(pk=f.hotspot_id).update(**figures)
                hotspot = Hotspot(pk=f.hotspot_id)
                continued += 1
            seen.append(f.hotspot_id)
            HotspotMember.objects.filter(hotspot_id=f.hotspot_id).delete()
            window = set(f.window_ids)
            HotspotMember.objects.bulk_create([
                HotspotMember(hotspot_id=f.hotspot_id, case_id=m["id"], in_window=m["id"] in window,
                              similarity=f.similarity[m["id"]]) for m in f.members])
            hotspot.villages.set(f.village_ids)
            HotspotSnapshot.objects.update_or_create(
                hotspot_id=f.hotspot_id, day=day,
                defaults={"heat": f.heat, "case_count": len(f.window_ids), "caller_count": f.callers})
        inactive = (Hotspot.objects.filter(active=True).exclude(pk__in=seen)
                    .exclude(status=HotspotStatus.CLEARED).update(active=False))
    report = RunReport(since=since, until=until, cases=len(rows), found=found, created=created, continued=continued,
                       inactive=inactive, seconds=time.monotonic() - started)
    logger.info("hotspots %s..%s: %s cases read, %s hotspots (%s new, %s continued, %s inactive) in %.1f s",
                since.isoformat(), until.isoformat(), len(rows), len(found), created, continued, inactive,
                report.seconds)
    return report
