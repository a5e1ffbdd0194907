import os
import subprocess
import sys
from pathlib import Path

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
