"""The 12345 hand-off chain (issue 13 §1): work orders in over the API (per-system keys, idempotency, the
upstream's own deadlines), feedback out (signed, retried, logged, given up with an alert) against a real
stand-in process, and the platform's callback counted in the three rates."""
import datetime as dt
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from cases import services
from cases.choices import Action, CallbackSource, DeadlineSource, NotificationKind, Satisfaction, Status
from cases.deadlines import sweep
from cases.interop import signing
from cases.interop.feedback import backoff_seconds
from cases.interop.upstream import create_system
from cases.models import Case, CaseEvent, ExternalSystem, FeedbackDelivery, Notification, UpstreamOrder
from cases.selectors import rates
from grids.choices import Role
from tests.conftest import ROOT, stop_process, worker_env
from tests.factories import build_town

UTC = dt.UTC
T0 = dt.datetime(2025, 4, 7, 1, 0, tzinfo=UTC)  # 09:00 Asia/Shanghai


@pytest.fixture
def town(db):
    return build_town()


def key_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def order(number="TZ20250407-0001", **extra):
    body = {
        "order_number": number, "received_at": "2025-04-07T09:00:00+08:00",
        "respond_due_at": "2025-04-07T13:00:00+08:00", "resolve_due_at": "2025-04-09T09:00:00+08:00",
        "kind": "投诉", "category": "城乡建设", "urgency": "一般",
        "complainant": {"name": "王女士", "phone": "13812345678"}, "address": "村口", "title": "路灯不亮",
        "text": "村口路灯连续三晚不亮", "village": "",
    }
    body.update(extra)
    return body


@pytest.fixture
def platform(town):
    system, key = create_system(code="tz12345", name="通州区12345平台", webhook_url="http://127.0.0.1:9/webhook",
                                webhook_secret="s3cret", default_village=town.a)
    return system, key


@time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False)
def test_an_order_becomes_one_case_with_the_upstreams_deadlines_and_repeats_are_idempotent(town, platform):
    system, key = platform
    client = key_client(key)
    first = client.post("/api/v1/upstream/orders/", order(), format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    case = Case.objects.get(number=body["case_number"])
    assert (case.external_ref, case.source_system, case.source) == ("TZ20250407-0001", "tz12345", "hotline")
    assert (case.village, case.status, case.kind, case.category.name) == (town.a, Status.RECEIVED, "complaint", "城乡建设")
    # the platform's deadlines govern: 4 h to respond, 2 days to resolve (policy "general" would give 24 h / 7 d)
    assert case.deadline_source == DeadlineSource.EXTERNAL
    assert case.received_at == T0
    assert case.respond_due_at == T0 + dt.timedelta(hours=4)
    assert case.resolve_due_at == T0 + dt.timedelta(days=2)
    assert case.respond_warn_at == T0 + dt.timedelta(hours=3)  # 75 % of the way
    assert (case.complainant_name, case.complainant_phone) == ("王女士", "13812345678")
    assert body["respond_due_at"] == "2025-04-07T13:00:00+08:00" and body["created"] is True
    # the same order again: the same case, 200, nothing new
    again = client.post("/api/v1/upstream/orders/", order(), format="json")
    assert again.status_code == 200 and again.json()["case_number"] == case.number
    assert again.json()["created"] is False and again.json()["updated"] is False
    assert Case.objects.count() == 1 and CaseEvent.objects.filter(case=case).count() == 1
    # a changed repeat: an update event, not a second case; the complainant's new phone is named, not shown
    changed = client.post("/api/v1/upstream/orders/", order(text="村口路灯仍不亮，已一周", resolve_due_at="2025-04-10T09:00:00+08:00",
                                                            complainant={"name": "王女士", "phone": "13900000000"}),
                          format="json")
    assert changed.status_code == 200
    assert changed.json()["updated"] is True
    assert changed.json()["changed"] == ["complainant_phone", "description", "resolve_due_at"]
    assert Case.objects.count() == 1
    event = CaseEvent.objects.get(case=case, action=Action.UPSTREAM_UPDATED)
    assert event.data["changed"]["complainant_phone"] == {"changed": True}
    assert "13900000000" not in json.dumps(event.data, ensure_ascii=False)
    assert dt.datetime.fromisoformat(event.data["changed"]["resolve_due_at"]["new"]) == T0 + dt.timedelta(days=3)
    case.refresh_from_db()
    assert case.resolve_due_at == T0 + dt.timedelta(days=3) and case.description == "村口路灯仍不亮，已一周"
    assert UpstreamOrder.objects.get().updates == 1


@time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False)
def test_upstream_deadlines_survive_dispatch_and_urgency_change_and_the_sweep_keeps_them(town, platform):
    system, key = platform
    number = key_client(key).post("/api/v1/upstream/orders/", order(), format="json").json()["case_number"]
    case = Case.objects.get(number=number)
    dispatcher = town.user(Role.DISPATCHER)
    case = services.dispatch(case, actor=dispatcher, grid=town.a1, now=T0 + dt.timedelta(minutes=10))
    assert case.respond_due_at == T0 + dt.timedelta(hours=4)  # not received_at + 24 h of the policy
    case = services.change_urgency(case, actor=town.user(Role.SUPERVISOR), urgency="emergency",
                                   now=T0 + dt.timedelta(minutes=20))
    assert (case.respond_due_at, case.resolve_due_at) == (T0 + dt.timedelta(hours=4), T0 + dt.timedelta(days=2))
    report = sweep(T0 + dt.timedelta(hours=4, minutes=1), notify=False)
    assert (report.respond_warnings, report.respond_breaches) == (1, 1)
    case.refresh_from_db()
    assert case.respond_breached_at == T0 + dt.timedelta(hours=4)


def test_keys_are_stored_hashed_scoped_to_their_system_and_checked(town, platform):
    system, key = platform
    assert key not in json.dumps(list(ExternalSystem.objects.values()), default=str)
    assert system.key_hash and key.startswith(system.key_prefix)
    other, other_key = create_system(code="other", name="另一平台", default_village=town.b)
    assert key_client(key).post("/api/v1/upstream/orders/", order(), format="json").status_code == 201
    # another system's key does not reach this system's order (404) and its own number space is separate
    assert key_client(other_key).get("/api/v1/upstream/orders/TZ20250407-0001/").status_code == 404
    assert key_client(other_key).post("/api/v1/upstream/orders/", order(), format="json").status_code == 201
    assert Case.objects.filter(external_ref="TZ20250407-0001").count() == 2
    bad = key_client("xj_wrongwrongwrong").post("/api/v1/upstream/orders/", order(), format="json")
    assert bad.status_code == 401 and bad.json()["code"] == "authentication_failed"
    assert APIClient().post("/api/v1/upstream/orders/", order(), format="json").status_code == 401
    # a person's token is not a system's key
    person = APIClient()
    person.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[Role.DISPATCHER]}")
    assert person.post("/api/v1/upstream/orders/", order(), format="json").status_code == 401
    open311, open311_key = create_system(code="app", name="市民App", kind=ExternalSystem.Kind.OPEN311)
    assert key_client(open311_key).post("/api/v1/upstream/orders/", order(), format="json").status_code == 403
    system.active = False
    system.save()
    assert key_client(key).get("/api/v1/upstream/orders/TZ20250407-0001/").status_code == 401


def test_bad_orders_answer_400_naming_the_field(town):
    system, key = create_system(code="nodefault", name="无默认村平台")
    client = key_client(key)
    assert client.post("/api/v1/upstream/orders/", order(), format="json").json() == {
        "village": ["工单须指明村/社区或微网格（或为该系统设置默认村/社区）。"]}
    cases = [
        (order(village="无此村"), "village"), (order(kind="吐槽"), "kind"), (order(category="不存在"), "category"),
        (order(village=town.a.code, grid=town.b1.code), "grid"),
        (order(village=town.a.code, resolve_due_at="2025-04-07T08:00:00+08:00"), "resolve_due_at"),
        (order(village=town.a.code, title="", text=""), "text"),
        (order(village=town.a.code, received_at="2999-01-01T00:00:00+08:00"), "received_at"),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/upstream/orders/", body, format="json")
        assert answer.status_code == 400 and field in answer.json(), (field, answer.content)
    assert Case.objects.count() == 0


def test_the_platforms_callback_is_the_cases_callback_from_upstream_and_counts_in_the_rates(town, platform):
    system, key = platform
    client = key_client(key)
    with time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False):
        number = client.post("/api/v1/upstream/orders/", order(village=town.a.code), format="json").json()["case_number"]
    case = Case.objects.get(number=number)
    leader = town.user(Role.ADMIN)
    early = client.post("/api/v1/upstream/orders/TZ20250407-0001/callback/",
                        {"contacted": True, "solved": True, "satisfaction": "satisfied"}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "transition_not_allowed"
    for step in ("dispatch", "accept", "respond", "resolve"):
        kwargs = {"grid": town.a1} if step == "dispatch" else {"solved": True, "result": "已更换灯泡"} if step == "resolve" else {}
        case = getattr(services, step)(case, actor=leader, **kwargs)
    answer = client.post("/api/v1/upstream/orders/TZ20250407-0001/callback/",
                         {"contacted": True, "solved": True, "satisfaction": "basically_satisfied"}, format="json")
    assert answer.status_code == 200, answer.content
    case.refresh_from_db()
    assert (case.callback_source, case.satisfaction, case.callback_contacted) == (
        CallbackSource.UPSTREAM, Satisfaction.BASICALLY_SATISFIED, True)
    event = CaseEvent.objects.get(case=case, action=Action.CALLBACK)
    assert event.actor is None and event.data["source"] == "upstream"
    # a local case with the town's own callback, and one with none
    from tests.factories import make_case

    make_case(grid=town.a1, actor=leader, state=Status.CLOSED, satisfaction=Satisfaction.UNSATISFIED)
    make_case(grid=town.a1, actor=leader, state=Status.RESOLVED)
    rows = {r["key"]: r for r in rates(group_by="callback_source")}
    assert set(rows) == {"local", "upstream", None}
    assert (rows["upstream"]["valid_callbacks"], rows["upstream"]["satisfaction_rate"]) == (1, 0.9)
    assert (rows["local"]["valid_callbacks"], rows["local"]["satisfaction_rate"]) == (1, 0.0)
    assert rows[None]["label"] == "无回访" and rows[None]["valid_callbacks"] == 0
    town_row = rates()[0]
    assert (town_row["valid_callbacks"], town_row["satisfaction_rate"]) == (2, 0.45)  # (0.9 + 0) / 2
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[Role.SUPERVISOR]}")
    got = api.get("/api/v1/stats/rates/?group_by=callback_source").json()["results"]
    assert [(r["key"], r["valid_callbacks"]) for r in got] == [("local", 1), ("upstream", 1), (None, 0)]
    repeat = client.post("/api/v1/upstream/orders/TZ20250407-0001/callback/",
                         {"contacted": True, "solved": True, "satisfaction": "satisfied"}, format="json")
    assert repeat.status_code == 409 and repeat.json()["code"] == "callback_recorded"


def test_backoff_doubles_from_the_base_up_to_the_cap(settings):
    settings.UPSTREAM_RETRY_BASE_SECONDS = 30
    settings.UPSTREAM_RETRY_MAX_SECONDS = 3600
    assert [backoff_seconds(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"order_number":"TZ1","step":"accept"}'
    # worked out with: printf '1744000000.{...}' | openssl dgst -sha256 -hmac s3cret
    import hashlib
    import hmac

    expected = hmac.new(b"s3cret", b"1744000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature("s3cret", body, 1744000000) == "sha256=" + expected
    assert signing.verify("s3cret", body, timestamp="1744000000", signature_header="sha256=" + expected,
                          now=1744000000 + 299) is None
    assert signing.verify("s3cret", body, timestamp="1744000000", signature_header="sha256=" + expected,
                          now=1744000000 + 301) == "stale timestamp"
    assert signing.verify("other", body, timestamp="1744000000", signature_header="sha256=" + expected,
                          now=1744000000) == "bad signature"


def test_feedback_is_written_with_its_transition_and_enqueued_only_after_commit(town, platform, monkeypatch,
                                                                             django_capture_on_commit_callbacks):
    from django.db import transaction

    system, key = platform
    sent = []
    monkeypatch.setattr("cases.interop.feedback.enqueue", lambda pk, countdown=0: sent.append(pk))
    number = key_client(key).post("/api/v1/upstream/orders/", order(), format="json").json()["case_number"]
    case = services.dispatch(Case.objects.get(number=number), actor=town.user(Role.DISPATCHER), grid=town.a1)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.accept(case, actor=town.user(Role.ADMIN))
        assert FeedbackDelivery.objects.count() == 1
        raise RuntimeError("the transition rolls back")
    assert FeedbackDelivery.objects.count() == 0 and sent == []
    with django_capture_on_commit_callbacks(execute=True):
        services.accept(case, actor=town.user(Role.ADMIN))
        assert sent == []  # not before the commit
    delivery = FeedbackDelivery.objects.get()
    assert sent == [delivery.pk] and delivery.step == "accept"
    assert delivery.idempotency_key == f"tz12345:TZ20250407-0001:accept:{delivery.event_id}"
    assert delivery.body == {"order_number": "TZ20250407-0001", "step": "accept", "case_number": number,
                             "status": "accepted", "at": delivery.body["at"], "idempotency_key": delivery.idempotency_key,
                             "handler": case.handler.name}
    # steps that are not feedback (a comment) and cases without an upstream order write nothing
    services.comment(case, actor=town.user(Role.ADMIN), note="备注")
    assert FeedbackDelivery.objects.count() == 1


# --- Feedback against a real stand-in process and a real worker ------------------------------------------

STANDIN = Path(__file__).resolve().parent / "upstream_standin.py"
QUEUE = "upstream-feedback-test"


class Standin:
    """The stand-in webhook receiver (tests/upstream_standin.py) as a process on 127.0.0.1."""

    def __init__(self, secret, fail_first):
        self.proc = subprocess.Popen([sys.executable, str(STANDIN), "--secret", secret, "--fail-first",
                                      str(fail_first), "--lifetime", "300"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stats(self):
        with urllib.request.urlopen(f"{self.url}/stats", timeout=10) as resp:
            return json.loads(resp.read())

    def post(self, body: bytes, headers: dict):
        request = urllib.request.Request(f"{self.url}/webhook", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def feedback_worker(django_db_setup, django_db_blocker, tmp_path, settings):
    """A real Celery worker on its own queue, with a quick back-off (0.25 s × 2^(n−1)) and 5 attempts."""
    settings.UPSTREAM_FEEDBACK_QUEUE = QUEUE
    with django_db_blocker.unblock():
        env = worker_env(UPSTREAM_FEEDBACK_QUEUE=QUEUE, UPSTREAM_RETRY_BASE_SECONDS="0.25",
                         UPSTREAM_DELIVERY_ATTEMPTS="5")
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "xiji_grid", "worker", "--loglevel", "INFO", "--pool", "solo",
         "-Q", QUEUE, "--without-mingle", "--without-gossip", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    from grids.tasks import registry_summary

    deadline = time.monotonic() + 120
    while True:  # ready when it answers a task on its queue
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited:\n{log.read_text()[-3000:]}")
        try:
            registry_summary.apply_async(queue=QUEUE, expires=30).get(timeout=10)
            break
        except Exception:
            if time.monotonic() > deadline:
                stop_process(proc)
                raise RuntimeError(f"worker did not answer in 120 s:\n{log.read_text()[-3000:]}") from None
    yield proc, log
    stop_process(proc)
    from xiji_grid.celery import app

    app.amqp.queues.pop(QUEUE, None)  # sending to it declared the queue in this process; leave the app as it was


def wait_for(predicate, *, timeout=90, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_feedback_is_signed_retried_in_order_logged_and_never_duplicated(feedback_worker):
    worker, log = feedback_worker
    town = build_town()
    standin = Standin("s3cret", fail_first=3)
    try:
        system, key = create_system(code="tz12345", name="通州区12345平台", webhook_url=f"{standin.url}/webhook",
                                    webhook_secret="s3cret", default_village=town.a)
        client = key_client(key)
        number = client.post("/api/v1/upstream/orders/", order(received_at=None, respond_due_at=None,
                                                                 resolve_due_at=None), format="json").json()["case_number"]
        case = Case.objects.get(number=number)
        leader = town.user(Role.ADMIN)
        case = services.dispatch(case, actor=town.user(Role.DISPATCHER), grid=town.a1)
        case = services.accept(case, actor=leader)
        case = services.respond(case, actor=leader, note="已电话联系王女士 13812345678")
        case = services.resolve(case, actor=leader, solved=True, result="已更换灯泡")
        stats = wait_for(lambda: (s := standin.stats())["accepted"] == 3 and s, what="three steps accepted")
        deliveries = list(FeedbackDelivery.objects.filter(case=case).order_by("pk"))
        wait_for(lambda: all(d.status == "delivered" for d in FeedbackDelivery.objects.filter(case=case)), what="log")
        deliveries = list(FeedbackDelivery.objects.filter(case=case).order_by("pk").prefetch_related("attempt_log"))
        # the stand-in failed the first 3 well-signed requests on purpose: the accept step needed 4 attempts
        assert [(d.step, d.status, d.attempts) for d in deliveries] == [
            ("accept", "delivered", 4), ("respond", "delivered", 1), ("resolve", "delivered", 1)]
        assert [a.status_code for a in deliveries[0].attempt_log.all()] == [503, 503, 503, 200]
        gaps = [(b.at - a.at).total_seconds() for a, b in zip(list(deliveries[0].attempt_log.all()),
                                                               list(deliveries[0].attempt_log.all())[1:],
                                                               strict=False)]
        assert [g >= w for g, w in zip(gaps, (0.25, 0.5, 1.0), strict=True)] == [True, True, True]  # back-off
        assert stats["steps"] == [[order()["order_number"], "accept"], [order()["order_number"], "respond"],
                                  [order()["order_number"], "resolve"]]
        assert (stats["received"], stats["failed_on_purpose"], stats["rejected"], stats["duplicates"]) == (6, 3, 0, 0)
        retries = sum(d.attempts - 1 for d in deliveries)
        print(f"\nstand-in failing the first 3: {stats['received']} deliveries received, {retries} retries, "
              f"0 give-ups, {stats['duplicates']} duplicates, {stats['rejected']} rejected signatures")
        assert stats["attempts"] == ["1", "2", "3", "4", "1", "1"]
        bodies = {b["step"]: b for b in stats["bodies"]}
        assert bodies["resolve"]["result"] == "已更换灯泡" and bodies["resolve"]["solved"] is True
        assert bodies["respond"]["note"] == "已电话联系王女士 138****5678"  # no phone number leaves the town
        assert "13812345678" not in json.dumps(stats, ensure_ascii=False)
        # the delivery log, for the command centre only
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[Role.DISPATCHER]}")
        logbook = api.get(f"/api/v1/cases/{case.pk}/deliveries/").json()
        assert [(d["step"], d["attempts"], [a["status_code"] for a in d["attempt_log"]]) for d in logbook] == [
            ("accept", 4, [503, 503, 503, 200]), ("respond", 1, [200]), ("resolve", 1, [200])]
        api.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[Role.GRID_LEADER]}")
        assert api.get(f"/api/v1/cases/{case.pk}/deliveries/").status_code == 403
        # a forged or stale request is refused by the stand-in: its checks are real
        body = b'{"order_number": "x", "step": "accept"}'
        assert standin.post(body, signing.signed_headers("wrong", body, timestamp=int(time.time()),
                                                         idempotency_key="k1")) == 401
        assert standin.post(body, signing.signed_headers("s3cret", body, timestamp=int(time.time()) - 600,
                                                         idempotency_key="k1")) == 401
        assert standin.stats()["rejected"] == 2
    finally:
        standin.stop()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_keeps_failing_gives_up_and_alerts_the_dispatchers(feedback_worker):
    town = build_town()
    standin = Standin("s3cret", fail_first=1000)
    try:
        system, key = create_system(code="tz12345", name="通州区12345平台", webhook_url=f"{standin.url}/webhook",
                                    webhook_secret="s3cret", default_village=town.a)
        number = key_client(key).post("/api/v1/upstream/orders/", order(received_at=None, respond_due_at=None,
                                                                        resolve_due_at=None),
                                      format="json").json()["case_number"]
        case = Case.objects.get(number=number)
        case = services.dispatch(case, actor=town.user(Role.DISPATCHER), grid=town.a1)
        case = services.return_case(case, actor=town.user(Role.ADMIN), reason="非本镇事项，请改派")
        delivery = wait_for(lambda: FeedbackDelivery.objects.filter(case=case, status="gave_up").first(), what="give-up")
        assert (delivery.step, delivery.attempts, delivery.last_error) == ("return", 5, "HTTP 503")
        assert delivery.body["reason"] == "非本镇事项，请改派"
        alert = Notification.objects.get(kind=NotificationKind.DELIVERY_FAILED)
        assert alert.recipient == town.user(Role.DISPATCHER) and alert.case_id == case.pk
        assert "5 次" in alert.body
        stats = standin.stats()
        assert (stats["received"], stats["failed_on_purpose"], stats["accepted"], stats["duplicates"]) == (5, 5, 0, 0)
        print(f"\nstand-in failing every delivery: {stats['received']} deliveries received, "
              f"{delivery.attempts - 1} retries, 1 give-up (dispatchers alerted), {stats['duplicates']} duplicates")
    finally:
        standin.stop()
    assert connection.vendor == "postgresql"
