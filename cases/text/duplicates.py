"""Duplicate suggestion (重复诉求, issue 11 §3): likely repeats of a case, or of a draft being logged.

Rule, one pure function (:func:`judge`) shared by the live suggestion and the measurement on real data:

* the other case was received within ``DUPLICATE_WINDOW_DAYS`` (30) of this one, and is not cancelled;
* **same caller** — the same complainant phone (digits compared, a leading 86 dropped) or the same account
  on the source platform (``complainant_ref``, e.g. a message board's 留言用户) — and text similarity of at
  least ``DUPLICATE_SAME_CALLER_THRESHOLD`` (0.15); **or**
* **same place and category** — the same micro-grid, or the same village, and the same top-level
  category — and text similarity of at least ``DUPLICATE_TEXT_THRESHOLD`` (0.5).

Similarity is the cosine of the two cases' TF-IDF vectors (:mod:`cases.text.similarity`). Each
suggestion lists why it matched (``same_caller``, ``same_grid``, ``same_village``, ``same_category``,
``similar_text``) and how the callers relate: ``same``; ``different`` (both cases name a caller and the
callers differ); ``unknown`` (either names none, e.g. a patrol case). Suggestions of a ``different``
caller are left out unless ``include_other_callers`` is asked for.

Nothing is merged by a suggestion: :func:`merge_duplicate` runs only on a dispatcher's click and cancels
the case as a duplicate through :func:`cases.services.cancel` (which refuses chains).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .similarity import case_text, cosine, vectorise

REASONS = ("same_caller", "same_grid", "same_village", "same_category", "similar_text")

#: How people read each reason and caller relation of a suggestion (the case page, log-a-case).
REASON_LABELS = {"same_caller": gettext_lazy("同一来电人"), "same_grid": gettext_lazy("同一微网格"),
                 "same_village": gettext_lazy("同村"), "same_category": gettext_lazy("同一类别"),
                 "similar_text": gettext_lazy("内容相似")}
CALLER_LABELS = {"same": gettext_lazy("同一来电人"), "different": gettext_lazy("其他来电人"),
                 "unknown": gettext_lazy("来电人未知")}


def phone_key(phone: str | None) -> str:
    """Digits of a phone number, a leading country code 86 (or 0086) dropped: '+86 138-1234-5678' →
    '13812345678'. '' when no digit."""
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def caller_relation(a_phone: str, a_ref: str, b_phone: str, b_ref: str) -> str:
    """``same`` when the phones (:func:`phone_key`) or the platform accounts are equal and non-empty;
    ``different`` when both sides give a phone, or both an account, and none of those pairs agrees;
    else ``unknown``."""
    pa, pb = phone_key(a_phone), phone_key(b_phone)
    ra, rb = (a_ref or "").strip(), (b_ref or "").strip()
    if (pa and pa == pb) or (ra and ra == rb):
        return "same"
    if (pa and pb) or (ra and rb):
        return "different"
    return "unknown"


@dataclasses.dataclass(frozen=True)
class Subject:
    """What the rule reads of a case or draft. ``received_at`` aware; ``category_id`` the top-level one."""

    pk: int | None
    received_at: dt.datetime
    village_id: int | None
    grid_id: int | None
    category_id: int | None
    phone: str
    ref: str
    title: str
    description: str

    @property
    def text(self) -> str:
        return case_text(self.title, self.description)


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The rule's settings: window in days and the two similarity bars (0–1)."""

    window_days: int
    text: float
    same_caller: float

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(window_days=int(getattr(settings, "DUPLICATE_WINDOW_DAYS", 30)),
                   text=float(getattr(settings, "DUPLICATE_TEXT_THRESHOLD", 0.5)),
                   same_caller=float(getattr(settings, "DUPLICATE_SAME_CALLER_THRESHOLD", 0.15)))


def judge(a: Subject, b: Subject, similarity: float, limits: Thresholds) -> tuple[list[str], str] | None:
    """Whether ``b`` is a likely duplicate of ``a`` (or the reverse; the rule is symmetric).

    Returns ``(reasons, caller_relation)`` when it is, None when not (see the module docstring). Does not
    apply the ``include_other_callers`` filter: callers do that with the relation returned.
    """
    if abs(a.received_at - b.received_at) > dt.timedelta(days=limits.window_days):
        return None
    relation = caller_relation(a.phone, a.ref, b.phone, b.ref)
    same_grid = a.grid_id is not None and a.grid_id == b.grid_id
    same_village = a.village_id is not None and a.village_id == b.village_id
    same_category = a.category_id is not None and a.category_id == b.category_id
    by_caller = relation == "same" and similarity >= limits.same_caller
    by_place = (same_grid or same_village) and same_category and similarity >= limits.text
    if not (by_caller or by_place):
        return None
    reasons = []
    if relation == "same":
        reasons.append("same_caller")
    if same_grid:
        reasons.append("same_grid")
    if same_village:
        reasons.append("same_village")
    if same_category:
        reasons.append("same_category")
    if similarity >= limits.text:
        reasons.append("similar_text")
    return reasons, relation


def top_category_id(category) -> int | None:
    """The top-level ancestor's id of a Category (its ``parent`` chain loaded or loadable), or None."""
    node = category
    while node is not None and node.parent_id is not None:
        node = node.parent
    return node.pk if node is not None else None


def subject_of(case) -> Subject:
    """The :class:`Subject` of a saved Case (loads the category's ancestors when not selected)."""
    return Subject(pk=case.pk, received_at=case.received_at, village_id=case.village_id, grid_id=case.grid_id,
                   category_id=top_category_id(case.category), phone=case.complainant_phone,
                   ref=case.complainant_ref, title=case.title, description=case.description)


@dataclasses.dataclass
class Suggestion:
    """One likely duplicate: the other ``case``, its ``similarity`` (0–1, 3 places), ``reasons``, the
    callers' ``caller`` relation, and whether it may serve as the original of a merge (``mergeable``)."""

    case: object
    similarity: float
    reasons: list[str]
    caller: str

    @property
    def same_caller(self) -> bool:
        return self.caller == "same"

    @property
    def mergeable(self) -> bool:
        from cases.choices import Status

        return self.case.status != Status.CANCELLED and self.case.duplicate_of_id is None


def suggest_duplicates(subject: Subject, *, cases=None, include_other_callers: bool = False,
                       limits: Thresholds | None = None, limit: int = 10, max_candidates: int = 500) -> list[Suggestion]:
    """Likely duplicates of ``subject`` among ``cases`` (a Case queryset, e.g. the caller's scope; default
    all), best first: same caller first, then by similarity, then newest.

    Candidates are read in one query: not cancelled, received within the window of ``subject``, and of
    the same phone, the same account, or the same village (at most ``max_candidates``, newest first).
    """
    from cases.choices import Status
    from cases.models import Case

    limits = limits or Thresholds.from_settings()
    qs = Case.objects.all() if cases is None else cases
    window = dt.timedelta(days=limits.window_days)
    near = Q(village_id=subject.village_id) if subject.village_id else Q(pk__in=[])
    phone = phone_key(subject.phone)
    if phone:
        # Stored phones may carry separators; the exact digits and the common spellings are matched here,
        # then phone_key decides.
        near |= Q(complainant_phone__in={phone, subject.phone, f"+86{phone}", f"86{phone}"})
    if subject.ref:
        near |= Q(complainant_ref=subject.ref)
    qs = (qs.filter(near, received_at__gte=subject.received_at - window, received_at__lte=subject.received_at + window)
          .exclude(status=Status.CANCELLED).select_related("village", "grid", "category__parent__parent")
          .order_by("-received_at", "-id"))
    if subject.pk is not None:
        qs = qs.exclude(pk=subject.pk)
    candidates = list(qs[:max_candidates])
    if not candidates:
        return []
    others = [subject_of(c) for c in candidates]
    vectors = vectorise([subject.text] + [o.text for o in others])
    sims = cosine(vectors[:1], vectors[1:])[0]
    out = []
    for case, other, sim in zip(candidates, others, sims, strict=True):
        verdict = judge(subject, other, float(sim), limits)
        if verdict is None:
            continue
        reasons, relation = verdict
        if relation == "different" and not include_other_callers:
            continue
        out.append(Suggestion(case=case, similarity=round(float(sim), 3), reasons=reasons, caller=relation))
    out.sort(key=lambda s: (not s.same_caller, -s.similarity, -s.case.received_at.timestamp()))
    return out[:limit]


def merge_duplicate(case, original, *, actor, confirm_other_caller: bool = False, note: str = "",
                    now: dt.datetime | None = None):
    """Cancel ``case`` as a duplicate of ``original`` (a dispatcher's click), through
    :func:`cases.services.cancel` with ``duplicate_of=original`` and ``exclude=True`` (剔除).

    The cancel service applies the rules (issue 12 §6): two different callers' cases
    (:func:`caller_relation` ``different``) merge only with ``confirm_other_caller`` (else ValidationError on
    that field), never a chain, the original not cancelled; its ValidationError / TransitionNotAllowed pass
    through. Returns the cancelled case.
    """
    from cases import services

    now = now or timezone.now()
    reason = _("重复诉求：与 %(number)s 相同") % {"number": original.number}
    if note.strip():
        reason = f"{reason}。{note.strip()}"
    return services.cancel(case, actor=actor, reason=reason, duplicate_of=original, exclude=True, now=now,
                           confirm_other_caller=confirm_other_caller)


# --- Measurement on real data --------------------------------------------------------------------------


def pairs_suggested(subjects: list[Subject], limits: Thresholds, *, include_other_callers: bool = False) -> set:
    """Unordered pairs ``frozenset({pk_a, pk_b})`` that :func:`judge` proposes among ``subjects`` (the
    same rule as the live path, applied to every pair within the window). ``pk`` identifies a subject."""
    ordered = sorted(subjects, key=lambda s: s.received_at)
    vectors = vectorise([s.text for s in ordered])
    found = set()
    window = dt.timedelta(days=limits.window_days)
    for i, a in enumerate(ordered):
        j = i + 1
        while j < len(ordered) and ordered[j].received_at - a.received_at <= window:
            j += 1
        if j == i + 1:
            continue
        sims = cosine(vectors[i:i + 1], vectors[i + 1:j])[0]
        for b, sim in zip(ordered[i + 1:j], sims, strict=True):
            verdict = judge(a, b, float(sim), limits)
            if verdict and (verdict[1] != "different" or include_other_callers):
                found.add(frozenset((a.pk, b.pk)))
    return found
