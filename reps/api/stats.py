"""The liaison stations' rows of ``GET /api/v1/stats/rates/?group_by=station|deputy`` (issue 8 §5),
registered into ``cases.api.stats`` by :mod:`reps.apps`: the figures of ``reps.selectors``
(``station_stats`` / ``deputy_stats``: demands collected, dispatched, resolved, on time, the raising
deputies' evaluation rates) with their own columns, over the stations and deputies the caller may see
(``reps.selectors.stations_in_scope`` / ``deputies_in_scope``, as ``/stations/stats/`` and
``/deputies/stats/``: every station for every role but deputy, a deputy their own station's)."""
import datetime as dt

from rest_framework import serializers

from cases import selectors as case_selectors
from cases.api.stats import RatesSerializer

from .. import selectors
from ..models import Deputy, LiaisonStation
from .serializers import DeputyStatsSerializer, StationStatsSerializer

#: Figures of a liaison station or deputy (``reps.selectors``), after the row's key and label.
_REPS_FIGURES = [
    "collected", "dispatched", "resolved", "resolved_on_time", "valid_evaluations", "contacted", "solved",
    "satisfied", "basically_satisfied", "closure_rate", "on_time_rate", "response_rate", "resolution_rate",
    "satisfaction_rate",
]
STATION_COLUMNS = ["key", "label", "station_id", "station_code", "station", "theme", *_REPS_FIGURES]
DEPUTY_COLUMNS = ["key", "label", "deputy_id", "deputy", "station_id", *_REPS_FIGURES]


class StationRateRowSerializer(StationStatsSerializer):
    key = serializers.CharField(help_text="The station's code, e.g. LS01.")
    label = serializers.CharField(help_text="The station's name.")


class DeputyRateRowSerializer(DeputyStatsSerializer):
    key = serializers.CharField(help_text="The deputy's id.")
    label = serializers.CharField(help_text="The deputy's name.")


class StationRatesSerializer(RatesSerializer):
    group_by = serializers.ChoiceField(choices=["station"])
    results = StationRateRowSerializer(many=True, help_text="One row per station in code order; `null` rates "
                                                            "mean “no data”.")


class DeputyRatesSerializer(RatesSerializer):
    group_by = serializers.ChoiceField(choices=["deputy"])
    results = DeputyRateRowSerializer(many=True, help_text="One row per deputy (station code, deputy code "
                                                           "order); `null` rates mean “no data”.")


def _day_bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Inclusive Asia/Shanghai dates (within ``cases.api.stats.FIRST_DAY``..``LAST_DAY``) → the aware
    half-open interval [start 00:00, the day after end 00:00) that ``reps.selectors`` takes; None stays open."""
    since = case_selectors.day_start(start) if start is not None else None
    until = case_selectors.day_start(end + dt.timedelta(days=1)) if end is not None else None
    return since, until


def station_rows(scope, *, start, end, full_scope: bool) -> list[dict]:
    """``group_by=station``: the rows of ``reps.selectors.station_stats`` for the stations ``scope`` may see,
    with ``key`` (station code) and ``label`` (name) first. ``start``/``end``: inclusive Asia/Shanghai dates
    or None."""
    since, until = _day_bounds(start, end)
    visible = set(selectors.stations_in_scope(scope, LiaisonStation.objects.all()).values_list("pk", flat=True))
    rows = selectors.station_stats(start=since, end=until, full_scope=full_scope)
    return [{"key": r["station_code"], "label": r["station"], **{c: r[c] for c in STATION_COLUMNS[2:]}}
            for r in rows if r["station_id"] in visible]


def deputy_rows(scope, *, start, end, full_scope: bool) -> list[dict]:
    """``group_by=deputy``: the rows of ``reps.selectors.deputy_stats`` for the deputies ``scope`` may see,
    with ``key`` (deputy id) and ``label`` (name) first."""
    since, until = _day_bounds(start, end)
    visible = set(selectors.deputies_in_scope(scope, Deputy.objects.all()).values_list("pk", flat=True))
    rows = selectors.deputy_stats(start=since, end=until, full_scope=full_scope)
    return [{"key": str(r["deputy_id"]), "label": r["deputy"], **{c: r[c] for c in DEPUTY_COLUMNS[2:]}}
            for r in rows if r["deputy_id"] in visible]


def register() -> None:
    """Register ``station`` and ``deputy`` as group-bys of the rates endpoint (from ``reps.apps``)."""
    from cases.api.stats import register_group_by

    register_group_by("station", columns=STATION_COLUMNS, rows=station_rows, answer=StationRatesSerializer)
    register_group_by("deputy", columns=DEPUTY_COLUMNS, rows=deputy_rows, answer=DeputyRatesSerializer)
