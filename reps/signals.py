"""Feedback (反馈) to the raising deputy: when a deputy-raised case is resolved, the deputy is told.

The cases app knows nothing of deputies, so this listens for the ``resolved`` CaseEvent. The receiver runs
inside the transition's transaction (``post_save`` of the event), so the notification row commits with the
resolution and its e-mail goes out after commit (``cases.notifications.notify``).
"""
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from cases.choices import Action, NotificationKind
from cases.models import CaseEvent
from cases.notifications import notify


@receiver(post_save, sender=CaseEvent, dispatch_uid="reps.feedback_to_deputy")
def feedback_to_deputy(sender, instance: CaseEvent, created: bool, **kwargs):
    """Notify the raising deputy's login of a ``resolved`` event on a deputy-raised case (once per event)."""
    if not created or instance.action != Action.RESOLVED:
        return
    from .models import RaisedDemand

    demand = RaisedDemand.objects.select_related("deputy__user", "case").filter(case_id=instance.case_id).first()
    if demand is None or demand.deputy.user_id is None or not demand.deputy.user.is_active:
        return
    case = demand.case
    notify([demand.deputy.user], kind=NotificationKind.DEPUTY_FEEDBACK, title=_("办结反馈：%s") % case.number,
           body=case.result or case.title, case=case, dedupe_key=f"deputy-feedback:{instance.pk}", now=instance.at)
