"""Log a case (登记, issue 6 §4): category picker, kind, urgency, place, description, optional complainant,
"resolved on the spot"; from a visit (``?visit=<id>``) or as a deputy's demand too, through the origins and
creators that the apps above register (:func:`cases.pages.register_case_origin`, ``register_case_creator``)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from grids.choices import Role
from grids.models import Cadre, Grid
from grids.scope import request_now, request_scope

from .. import forms, rules, services
from ..choices import Source, Status
from ..models import Category
from ..pages import apply_errors, case_creator, case_origin, page


def category_tree() -> list[dict]:
    """The three-level taxonomy as nested ``{"id", "name", "urgency", "children"}`` dicts (one query), for
    the page's dependent selects; each level in pinyin order with "其他…" last
    (:func:`cases.desk.ordering.category_sort_key`)."""
    from ..desk.ordering import category_sort_key

    nodes, roots = {}, []
    rows = sorted(Category.objects.values_list("pk", "parent_id", "name", "default_urgency", "level"),
                  key=lambda r: (r[4], category_sort_key(r[2]), r[0]))
    for pk, parent_id, name, urgency, _level in rows:
        node = {"id": pk, "name": name, "urgency": urgency, "children": []}
        nodes[pk] = node
        (nodes[parent_id]["children"] if parent_id in nodes else roots).append(node)
    return roots


def _default_source(scope) -> str:
    """The source preset on the "log a case" form: the hotline for the command centre (town-wide roles),
    the liaison station (``deputy``) for a user whose only role is deputy, grid patrol for the local roles."""
    if scope.town_wide:
        return Source.HOTLINE
    if scope.roles == {Role.DEPUTY}:
        return Source.DEPUTY
    return Source.PATROL


def _own_grid(scope):
    if not scope.own_grid_ids:
        return None
    return Grid.objects.filter(pk__in=scope.own_grid_ids).order_by("code").first()


@login_required
def case_new(request):
    """Log a case (登记): category picker, kind, urgency, place (grid preset to mine), description,
    optional complainant, "resolved on the spot" with its result. ``?visit=<id>`` (or another registered
    :class:`cases.pages.CaseOrigin`) logs it from there: its source and village are fixed. A grid leader's
    case in own grid is dispatched to it at once (DESIGN §5, :func:`cases.rules.dispatches_on_logging`)."""
    scope, now = request_scope(request), request_now(request)
    if not scope.roles & rules.PERMISSIONS["create"]:
        raise PermissionDenied
    origin = case_origin(request, scope)
    if request.method == "POST":
        form = forms.CaseForm(request.POST, scope=scope, origin=origin)
        if form.is_valid():
            case = _log_case(request, form, scope, origin, now)
            if case is not None:
                messages.success(request, _("已登记诉求 %(number)s。") % {"number": case.number})
                return redirect("web:case-detail", pk=case.pk)
        status = 400
    else:
        own = _own_grid(scope)
        initial = {}
        if origin is None:
            initial["source"] = _default_source(scope)
            if own is not None:
                initial.update(grid=own.pk, village=own.village_id)
        form = forms.CaseForm(initial=initial, scope=scope, origin=origin)
        status = 200
    from ..text import duplicates  # numpy and the segmenter load on first use, not with the URLconf

    return page(request, "cases/case_form.html", {"form": form, "origin": origin, "categories": category_tree(),
                                                  "status_choices": Status.choices,
                                                  "duplicate_labels": {**duplicates.REASON_LABELS,
                                                                       **duplicates.CALLER_LABELS}},
                status=status)


def _log_case(request, form, scope, origin, now):
    """Create (and, where the rules say, dispatch or resolve) the case of a valid form; None after
    putting errors on the form. A case from an origin is written by the origin; one whose source has a
    registered creator (a deputy's demand) by that creator, unless it declines."""
    fields = form.case_fields()
    grid = fields.get("grid")
    village = fields["village"] if "village" in fields else origin.village
    on_the_spot = form.cleaned_data.get("on_the_spot")
    action = "resolve_on_the_spot" if on_the_spot else "create"
    if not rules.can_create(scope, village_id=village.pk, grid_id=grid.pk if grid else None, action=action):
        form.add_error("grid" if (grid is not None or scope.has(Role.GRID_LEADER)) else "village",
                       _("不在您的管辖范围内。") if scope.roles & rules.PERMISSIONS[action]
                       else _("您的角色不能就地解决诉求。"))
        return None
    actor = request.user
    creator = case_creator(fields["source"]) if origin is None else None
    try:
        with transaction.atomic():
            case = None
            if origin is not None:
                case = origin.create(actor=actor, now=now, **fields)
            elif creator is not None:
                case = creator(actor=actor, now=now, **fields)
            if case is not None:
                if on_the_spot:  # received → resolved in one step, both events recorded (DESIGN §4)
                    return services.resolve(case, actor=actor, solved=True, result=form.cleaned_data["result"],
                                            now=now)
            elif on_the_spot:
                return services.resolve_on_the_spot(actor=actor, now=now, result=form.cleaned_data["result"],
                                                    solved=True, **fields)
            else:
                case = services.create_case(actor=actor, now=now, **fields)
            if rules.dispatches_on_logging(scope, grid_id=grid.pk if grid else None):
                handler = Cadre.objects.select_related("user").get(pk=scope.cadre_id)
                case = services.dispatch(case, actor=actor, grid=grid, handler=handler, now=now)
            return case
    except ValidationError as exc:
        apply_errors(form, exc)
    except services.TransitionNotAllowed as exc:
        form.add_error(None, exc.detail)
    return None
