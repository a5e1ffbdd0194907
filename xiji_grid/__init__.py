"""Xiji Grid (西集网格): grid-governance case management for Xiji town."""
from .celery import app as celery_app

__all__ = ("celery_app",)
