"""Replay imported records through the real lifecycle on their own historical clock (issue 4).

Records are replayed one after another in the order of their received time. For each record:

* at its received time: ``create_case`` → ``dispatch`` to the record's micro-grid (deadlines fixed from
  the SlaPolicy of its urgency, counted from the received time) → ``accept``;
* at its response time: ``respond``; at its resolution (reply) time: ``resolve`` with the reply as the
  result (``solved`` as the record says; message-board replies count as solved);
* before each of these steps, the deadline sweep (:func:`cases.deadlines.sweep`) runs 1 µs after the
  record's latest warning or breach point that falls strictly before the step (a point has passed only
  after its instant, :mod:`cases.boundary`), so the marks are exactly those a
  live sweep running every minute would have left: warnings and breaches stamped with their points,
  recorded only while the deadline was unmet, and a resolve breach escalated 1 µs after the deadline. A
  step exactly at a deadline meets it (``responded_at <= respond_due_at``, DESIGN §5);
* a record left open (no reply) is swept at its last point up to the import's ``now``, so it is marked
  and escalated historically instead of flooding today's live sweep.

Why one record at a time is exact: when a record is replayed, every earlier record is final (resolved,
or open with every point up to ``now`` swept), and later records do not exist yet, so each sweep sees
only the current case. Live cases are never touched: the replay never sweeps at or after the earliest
pending check of a case that existed before the import (:func:`sweep_limit`).

All sweeps pass ``notify=False``; the "new dispatch" notices that ``dispatch`` stores for grid leaders are
marked read at their own (historical) time. No callback is ever invented: replayed cases stay
``resolved`` with callbacks pending. Imported actions have no actor; dispatch and respond events carry
the note :data:`IMPORT_NOTE`. Everything runs in one transaction: the whole file is in, or nothing.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import Count, F, Min, Q

from grids.models import Grid

from . import services
from .boundary import met_q, open_past_q
from .choices import OPEN_STATES, NotificationKind
from .deadlines import ExternalDeadlines, sweep
from .models import Case, Category, Notification
from .notifications import stored_only

logger = logging.getLogger(__name__)

IMPORT_NOTE = "导入（历史回放）"
_EPSILON = dt.timedelta(microseconds=1)  # "just before"


@dataclasses.dataclass
class ReplayReport:
    """Counts of one replay. ``*_decided`` are the on-time denominators of ``cases.selectors``: deadlines
    met (on time or late) plus open cases past the deadline at ``now``."""

    created: int = 0
    resolved: int = 0
    open: int = 0
    respond_on_time: int = 0
    respond_decided: int = 0
    resolve_on_time: int = 0
    resolve_decided: int = 0
    sweeps: int = 0
    respond_warnings: int = 0
    respond_breaches: int = 0
    resolve_warnings: int = 0
    resolve_breaches: int = 0
    seconds: float = 0.0
    case_ids: list[int] = dataclasses.field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("case_ids")
        return out


def sweep_limit(now: dt.datetime) -> dt.datetime:
    """How far a replay may sweep: ``now``, or just before the earliest pending check of the cases already
    in the database, whichever is earlier (aware UTC). Sweeping later would record a live case's warning
    or breach without its notifications."""
    earliest = Case.objects.filter(next_check_at__isnull=False).aggregate(m=Min("next_check_at"))["m"]
    return min(now, earliest - _EPSILON) if earliest is not None else now


def advance_clock(until: dt.datetime, report: ReplayReport) -> None:
    """Sweep, without notifications, at every pending check point up to ``until`` (aware), in order.
    A safety net after the replay: normally nothing is left to sweep."""
    while True:
        nxt = Case.objects.filter(next_check_at__isnull=False).aggregate(m=Min("next_check_at"))["m"]
        if nxt is None or nxt > until:
            return
        if not _sweep(nxt + _EPSILON, report):  # held by a concurrent sweep: leave the rest to the live one
            return


def _sweep(at: dt.datetime, report: ReplayReport) -> int:
    swept = sweep(at, notify=False)
    report.sweeps += 1
    for name in ("respond_warnings", "respond_breaches", "resolve_warnings", "resolve_breaches"):
        setattr(report, name, getattr(report, name) + getattr(swept, name))
    return swept.cases


@contextlib.contextmanager
def quiet_sweeps():
    """Within: the sweep's one INFO line per run is not logged (a replay runs thousands), warnings are."""
    log = logging.getLogger("cases.deadlines")
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)


def replay_records(records: list, *, source: str, now: dt.datetime,
                   progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Create and replay ``records`` (:class:`cases.importing.Record`, checked and new) with ``source``.

    ``now`` (aware) is the import's clock: open records are swept up to it (or short of any live case's
    pending check, :func:`sweep_limit`). ``progress(1)`` is called once per record. Runs in one
    transaction. Returns a ReplayReport. Raises what the lifecycle services raise (ValidationError,
    TransitionNotAllowed), which rolls the whole replay back.
    """
    started = time.monotonic()
    report = ReplayReport()
    categories = {c.pk: c for c in Category.objects.select_related("parent__parent")}
    grids = {g.pk: g for g in Grid.objects.select_related("village", "leader__user")}
    with transaction.atomic(), quiet_sweeps(), stored_only():
        limit = sweep_limit(now)
        for record in sorted(records, key=lambda r: (r.received_at, r.row)):
            report.case_ids.append(_replay_one(record, source=source, limit=limit, report=report,
                                               grid=grids[record.grid_id],
                                               category=categories.get(record.category_id)))
            report.created += 1
            if progress is not None:
                progress(1)
        advance_clock(limit, report)
        _file_dispatch_notices(report.case_ids)
        count_outcomes(report, now)
    report.seconds = time.monotonic() - started
    logger.info("replay of %s %s records: %s", len(records), source, report.as_dict())
    return report


def record_case_fields(record, *, grid, category) -> dict:
    """The :func:`cases.services.create_case` arguments of ``record`` (a :class:`cases.importing.Record`) on
    ``grid`` with ``category`` (or None), shared by the replay and the bulk import; ``deadlines`` is the
    file's own (:class:`cases.deadlines.ExternalDeadlines`) or None (the SlaPolicy governs)."""
    return dict(
        kind=record.kind, title=record.title, grid=grid, category=category, urgency=record.urgency,
        description=record.description, complainant_name=record.complainant_name,
        complainant_phone=record.complainant_phone, address=record.address, external_ref=record.external_ref,
        source_system=record.source_system, lat=record.lat, lng=record.lng, received_at=record.received_at,
        deadlines=(ExternalDeadlines(record.respond_due_at, record.resolve_due_at)
                   if record.deadlines == "file" else None),
    )


def record_extra_fields(record) -> dict:
    """``imported=True`` and the record's complainant reference and votes, Case fields beyond those of
    :func:`record_case_fields`."""
    return {"imported": True, "complainant_ref": record.complainant_ref, "votes_up": record.votes_up,
            "votes_down": record.votes_down}


def replay_steps(record, case, limit: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """What happens to ``record`` after its receipt, dispatch and signing (``case``: its state then, with its
    deadlines), in order, as ``(step, at)``: ``("sweep", point + 1 µs)`` just after the latest warning or
    breach point not yet swept (the received time's own included) that falls strictly before the next milestone (a point has passed only after
    its instant, :mod:`cases.boundary`; one sweep records every earlier point), ``("respond", responded_at)``,
    ``("resolve", resolved_at)``, and for a record left open a last sweep just after its latest point up to
    ``limit`` (aware; :func:`sweep_limit`). The one schedule of both writers: the replay runs each step
    through the services and the sweep, the bulk import (:mod:`cases.bulk_import`) through their pure rules.
    """
    # Every point of the case, the dispatch deadline's too (met here by the dispatch at receipt, so normally
    # none of its points is ever due; a source's own later dispatch time would be swept like the others).
    points = sorted(p for p in (case.dispatch_warn_at, case.dispatch_due_at, case.respond_warn_at,
                                case.respond_due_at, case.resolve_warn_at, case.resolve_due_at)
                    if p is not None and p <= limit)
    steps: list[tuple[str, dt.datetime]] = []
    swept_to = None  # a point at the received time itself (a source's deadline due at once) is swept too

    def sweep_before(moment, *, inclusive):
        nonlocal swept_to
        due = [p for p in points if (swept_to is None or swept_to < p) and (p <= moment if inclusive else p < moment)]
        if due:
            swept_to = due[-1]
            steps.append(("sweep", swept_to + _EPSILON))

    if record.responded_at is not None:
        sweep_before(record.responded_at, inclusive=False)
        steps.append(("respond", record.responded_at))
    if record.resolved_at is not None:
        sweep_before(record.resolved_at, inclusive=False)
        steps.append(("resolve", record.resolved_at))
    else:
        sweep_before(limit, inclusive=True)
    return steps


def _replay_one(record, *, source, limit, report, grid, category) -> int:
    at = record.received_at
    case = services.create_case(actor=None, source=source, now=at, **record_case_fields(
        record, grid=grid, category=category), **record_extra_fields(record))
    case = services.dispatch(case, actor=None, grid=grid, note=IMPORT_NOTE, now=at)
    services.accept(case.pk, actor=None, now=at)
    for step, moment in replay_steps(record, case, limit):
        if step == "sweep":
            _sweep(moment, report)
        elif step == "respond":
            services.respond(case.pk, actor=None, note=IMPORT_NOTE, now=moment)
        else:
            services.resolve(case.pk, actor=None, solved=record.solved, result=record.result, now=moment)
    return case.pk


def _chunks(ids: list[int], size: int = 1000):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _file_dispatch_notices(ids: list[int]) -> None:
    """Mark the historical "new dispatch" notices as read at their own time: nobody has to act on them."""
    for chunk in _chunks(ids):
        Notification.objects.filter(case_id__in=chunk, kind=NotificationKind.DISPATCHED, read_at__isnull=True) \
            .update(read_at=F("created_at"))


def count_outcomes(report: ReplayReport, now: dt.datetime) -> None:
    """Add the outcome counts of ``report.case_ids`` at ``now`` (aware) to ``report``: resolved, open, and
    the on-time numerators and denominators of :mod:`cases.selectors`, 1,000 cases per query."""
    open_ = Q(status__in=OPEN_STATES)
    for chunk in _chunks(report.case_ids):
        got = Case.objects.filter(pk__in=chunk).aggregate(
            resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
            open=Count("pk", filter=open_),
            respond_on_time=Count("pk", filter=met_q("responded_at", "respond_due_at")),
            respond_decided=Count("pk", filter=Q(responded_at__isnull=False, respond_due_at__isnull=False)
                                  | (open_ & open_past_q("responded_at", "respond_due_at", now))),
            resolve_on_time=Count("pk", filter=met_q("resolved_at", "resolve_due_at")),
            resolve_decided=Count("pk", filter=Q(resolved_at__isnull=False, resolve_due_at__isnull=False)
                                  | (open_ & open_past_q("resolved_at", "resolve_due_at", now))),
        )
        for name, value in got.items():
            setattr(report, name, getattr(report, name) + value)

