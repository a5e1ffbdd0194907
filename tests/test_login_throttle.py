"""One failed-login throttle for every way in, atomic and shared by every process (issues 16.1, 18.3, 19.4)."""
import concurrent.futures
import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache

from grids import throttle
from grids.models import LoginAttemptWindow, LoginFailure
from tests.conftest import ROOT

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
LOCKED_ZH = "登录失败次数过多，已暂时锁定。"


@pytest.fixture(autouse=True)
def fresh_counters():
    """Counters of earlier tests (same usernames, same address) must not leak into these."""
    for username in ("wang", "admin-wang", "nobody"):
        cache.delete(throttle._key("127.0.0.1", username))
    yield


@pytest.fixture
def wang(db):
    return User.objects.create_user("wang", password="right-password-1")


def token_login(client, password, username="wang"):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password},
                       content_type="application/json")


@pytest.mark.parametrize("store", ["cache", "database"])
@pytest.mark.django_db(transaction=True)
def test_forty_concurrent_wrong_passwords_let_exactly_five_through(settings, store):
    """40 threads, each with its own database connection, released together by a barrier."""
    from django.db import connections
    from django.test import Client

    settings.LOGIN_THROTTLE_STORE = store
    User.objects.create_user("wang", password="right-password-1")
    barrier = threading.Barrier(40)

    def attempt(n):
        try:
            barrier.wait(timeout=60)
            return token_login(Client(), f"wrong-{n}").status_code
        finally:
            connections.close_all()

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(attempt, range(40)))
    assert (codes.count(400), codes.count(429)) == (5, 35)
    assert LoginFailure.objects.filter(username="wang", locked=False).count() == 5
    assert LoginFailure.objects.filter(username="wang", locked=True).count() == 35
    assert token_login(Client(), "right-password-1").status_code == 429
    if store == "database":
        assert LoginAttemptWindow.objects.get().count == 41


@pytest.mark.django_db
def test_web_login_and_api_share_one_throttle_with_a_chinese_message(client, wang):
    with time_machine.travel(T0, tick=False):
        for n in range(3):
            page = client.post("/login/", {"username": "wang", "password": f"wrong-{n}"})
            assert page.status_code == 200 and LOCKED_ZH not in page.content.decode()
        assert token_login(client, "wrong-3").status_code == 400
        assert token_login(client, "wrong-4").status_code == 400
        page = client.post("/login/", {"username": "wang", "password": "right-password-1"})  # the sixth: refused
        assert page.status_code == 200
        assert re.search(r"请 (60|59) 秒后再试", page.content.decode())  # the window's rest (Redis' clock)
        assert "_auth_user_id" not in client.session
        api = token_login(client, "right-password-1")
        assert api.status_code == 429
        assert api.json()["code"] == "throttled"
        assert api.json()["detail"].startswith(LOCKED_ZH)
        assert api["Retry-After"] in ("60", "59")
    ways = list(LoginFailure.objects.order_by("id").values_list("way", "locked", "address", "user__username"))
    assert ways == [("web", False, "127.0.0.1", "wang")] * 3 + [("api", False, "127.0.0.1", "wang")] * 2 + [
        ("web", True, "127.0.0.1", "wang"), ("api", True, "127.0.0.1", "wang")]
    assert LoginFailure.objects.first().at == T0


@pytest.mark.parametrize("store", ["cache", "database"])
@pytest.mark.django_db
def test_the_lockout_ends_with_the_window(client, wang, settings, store):
    settings.LOGIN_THROTTLE_STORE = store
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login_failures": "2/2s"}}
    assert [token_login(client, f"wrong-{n}").status_code for n in range(3)] == [400, 400, 429]
    time.sleep(2.2)  # a Redis key expires on the server's clock: real time, not a pinned one
    page = client.post("/login/", {"username": "wang", "password": "right-password-1"})
    assert page.status_code == 302


@pytest.mark.django_db
def test_a_successful_login_gives_its_attempt_back(client, wang):
    with time_machine.travel(T0, tick=False):
        for n in range(4):
            assert token_login(client, f"wrong-{n}").status_code == 400
        assert token_login(client, "right-password-1").status_code == 200  # the fifth attempt, right
        assert token_login(client, "wrong-5").status_code == 400  # still the fifth failure: checked
        assert token_login(client, "wrong-6").status_code == 429


@pytest.mark.django_db
def test_the_admin_login_is_throttled_too(client):
    User.objects.create_superuser("admin-wang", password="right-password-1")
    with time_machine.travel(T0, tick=False):
        for n in range(5):
            client.post("/admin/login/", {"username": "admin-wang", "password": f"wrong-{n}"})
        page = client.post("/admin/login/", {"username": "admin-wang", "password": "right-password-1"})
    assert page.status_code == 200
    assert LOCKED_ZH in page.content.decode()
    assert set(LoginFailure.objects.values_list("way", flat=True)) == {"admin"}


@pytest.mark.django_db
def test_the_audit_never_holds_the_password(client, wang):
    client.post("/login/", {"username": "wang", "password": "s3cret-typed-wrong"})
    row = LoginFailure.objects.get()
    values = [str(getattr(row, f.attname)) for f in LoginFailure._meta.fields]
    assert not any("s3cret" in v for v in values)
    assert (row.username, row.user_id, row.way) == ("wang", wang.pk, "web")


@pytest.mark.django_db
def test_an_unknown_username_is_audited_without_a_user(client):
    client.post("/login/", {"username": "nobody", "password": "x"})
    assert list(LoginFailure.objects.values_list("username", "user")) == [("nobody", None)]


def test_rate_is_read_from_the_setting(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login_failures": "10/5m"}}
    assert throttle.rate() == (10, 300)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login_failures": "5/min"}}
    assert throttle.rate() == (5, 60)


def test_the_store_follows_the_cache(settings):
    settings.LOGIN_THROTTLE_STORE = "auto"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}}
    assert throttle.store() == "cache"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/x"}}
    assert throttle.store() == "database"


ATTEMPTS = """
import django; django.setup()
from django.contrib.auth import authenticate
from django.test import RequestFactory
for n in range(3):
    request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR="10.1.2.3")
    authenticate(request, username="wang", password=f"wrong-{n}")
"""


def test_four_processes_of_readme_command_one_share_the_count(tmp_path):
    """README command 1's settings (no Redis: file cache, database store): 12 wrong passwords from 4
    processes at once, 5 are checked and 7 refused."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "XIJI_DB_NAME"}}
    env.update(DJANGO_SETTINGS_MODULE="xiji_grid.settings.dev", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               XIJI_VAR_DIR=str(tmp_path / "var"), CELERY_BROKER_FOLDER=str(tmp_path / "broker"))

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True, timeout=300)

    manage("migrate", "--no-input", "-v0")
    manage("shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('wang', password='p')")
    procs = [subprocess.Popen([sys.executable, "-c", ATTEMPTS], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()[-3000:]
    out = manage("shell", "-c", "from grids.models import LoginFailure as F; from grids import throttle; "
                                "print(throttle.store(), F.objects.filter(locked=False).count(), "
                                "F.objects.filter(locked=True).count(), F.objects.first().address)")
    assert out.stdout.splitlines()[-1].split() == ["database", "5", "7", "10.1.2.3"]
