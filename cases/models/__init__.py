"""Models of the cases app, one module per domain (STYLE: split models.py by domain once it outgrows a screen).

Import from ``cases.models``; the modules are an implementation detail.
"""
from .attachment import Attachment
from .case import Case, CaseEvent, CaseQuerySet, DailySequence
from .channel import ACCOUNT_EMAIL, Delivery, DeliveryAttempt, NotificationChannel
from .hotspot import Hotspot, HotspotEvent, HotspotMember, HotspotSnapshot, MonthlyTopic, ProactiveLink
from .idempotency import IdempotencyKey
from .interop import ExternalSystem, FeedbackAttempt, FeedbackDelivery, Open311Token, UpstreamOrder
from .notification import Notification
from .ops import OpsCounter, SweepRun
from .round import CaseRound
from .stats import DailyStat, StatFillState
from .taxonomy import Category, SlaPolicy

__all__ = ["ACCOUNT_EMAIL", "Attachment", "Case", "CaseEvent", "CaseQuerySet", "CaseRound", "Category", "DailySequence",
           "DailyStat", "Delivery", "DeliveryAttempt", "ExternalSystem", "FeedbackAttempt", "FeedbackDelivery",
           "Hotspot", "HotspotEvent", "HotspotMember", "HotspotSnapshot", "IdempotencyKey", "MonthlyTopic",
           "Notification", "NotificationChannel", "Open311Token", "OpsCounter", "ProactiveLink", "SlaPolicy",
           "StatFillState", "SweepRun", "UpstreamOrder"]
