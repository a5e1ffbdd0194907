"""Models of the cases app, one module per domain (STYLE: split models.py by domain once it outgrows a screen).

Import from ``cases.models``; the modules are an implementation detail.
"""
from .case import Case, CaseEvent, CaseQuerySet, DailySequence
from .notification import Notification
from .ops import OpsCounter, SweepRun
from .stats import DailyStat, StatFillState
from .taxonomy import Category, SlaPolicy

__all__ = ["Case", "CaseEvent", "CaseQuerySet", "Category", "DailySequence", "DailyStat", "Notification", "OpsCounter", "SlaPolicy",
           "StatFillState", "SweepRun"]
