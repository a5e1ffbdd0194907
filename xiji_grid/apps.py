"""The project (xiji_grid): settings, URLs, the Celery app, and what spans the apps — seeding every app in
order (``seed_xiji``), the supervisor dashboard (``xiji_grid.dashboard``). May import every app."""
from django.apps import AppConfig


class XijiGridConfig(AppConfig):
    name = "xiji_grid"
    verbose_name = "Xiji Grid"
