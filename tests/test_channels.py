"""Notification channels (issue 14): Apprise's real DingTalk and WeCom plugins against a local stand-in.

The stand-in (tests/standin.py) listens on 127.0.0.1; ``NOTIFY_VENDOR_BASE_URLS`` swaps only the scheme and
host of the plugins' vendor endpoints, so the requests are the ones the vendors would receive.
Deliveries run in-process after each commit (``deliver_inline``), as the worker's task runs them.
"""
import datetime as dt
import logging
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection, transaction

from cases import services as s
from cases.channels import policy
from cases.channels.crypto import decrypt, encrypt
from cases.channels.delivery import process_due
from cases.channels.digest import send_morning_digests
from cases.channels.services import add_channel, send_test_message
from cases.choices import DeliveryStatus, NotificationKind, Source
from cases.deadlines import sweep
from cases.models import Delivery, DeliveryAttempt, Notification, NotificationChannel
from cases.notifications import notify
from grids.models import Grid
from tests.standin import WebhookStandIn

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
User = get_user_model()
# Secrets of the channels below: none of them may appear in any log line or delivery-log entry.
BOB_DING, BOB_WECOM, SAM_WECOM, VILLAGE_DING = "b0bd1n9a1b2c3", "b0bwec0m5e6f7", "5amwec0m9x8y7", "v111a9ed1n9r0"
DING_SECRET = "5ec7e75ec7e7abc"
PHONE = "13812345678"


@pytest.fixture
def stand_in(settings):
    server = WebhookStandIn().start()
    settings.NOTIFY_VENDOR_BASE_URLS = {"dingtalk": server.base_url, "wecombot": server.base_url}
    yield server
    server.stop()
    from cases.channels.sending import apply_vendor_base_urls

    apply_vendor_base_urls({})


@pytest.fixture
def people(xiji):
    """bob leads 大灰店村 grid 1 (DingTalk + WeCom); carol is its chief grid leader (e-mail only); sam
    (WeCom) and sue (e-mail only) supervise; the village's group chat has a DingTalk bot."""
    grid = Grid.objects.select_related("leader", "village__chief_grid_leader").get(code="110112110222-01")
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob", email="bob@example.cn")
    carol = User.objects.create_user("carol", email="carol@example.cn")
    grid.leader.user = bob
    grid.leader.save()
    grid.village.chief_grid_leader.user = carol
    grid.village.chief_grid_leader.save()
    supervisors = Group.objects.get(name="supervisor")
    sam = User.objects.create_user("sam", email="sam@example.cn")
    sue = User.objects.create_user("sue", email="sue@example.cn")
    for user in (sam, sue):
        user.groups.add(supervisors)
    add_channel(user=bob, url=f"dingtalk://{BOB_DING}/", label="钉钉")
    add_channel(user=bob, url=f"wecombot://{BOB_WECOM}", label="企业微信")
    add_channel(user=sam, url=f"wecombot://{SAM_WECOM}")
    add_channel(village=grid.village, url=f"dingtalk://{VILLAGE_DING}/", label="大灰店村工作群")
    return {"alice": alice, "bob": bob, "carol": carol, "sam": sam, "sue": sue, "grid": grid}


def dispatched_case(people, received_at, urgency="emergency", title=f"路口积水，联系人电话{PHONE}"):
    with time_machine.travel(received_at, tick=False):
        case = s.create_case(actor=people["alice"], kind="complaint", source=Source.HOTLINE, title=title,
                             urgency=urgency, village=people["grid"].village, now=received_at)
        return s.dispatch(case, actor=people["alice"], grid=people["grid"], now=received_at + dt.timedelta(minutes=5))


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return sweep(moment)


T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)  # emergency: respond due 11:00, warning at 10:30


@pytest.mark.django_db(transaction=True)
def test_one_breach_is_one_message_per_configured_channel(people, stand_in, deliver_inline):
    case = dispatched_case(people, T0)
    sweep_at(T0 + dt.timedelta(minutes=100))  # 10:40: the respond warning only
    stand_in.clear()
    mail.outbox.clear()

    sweep_at(T0 + dt.timedelta(minutes=125))  # 11:05: the respond breach

    number = case.number
    assert sorted((r.vendor, r.token) for r in stand_in.received) == sorted([
        ("dingtalk", BOB_DING), ("wecom", BOB_WECOM),   # the grid leader's two chat channels
        ("dingtalk", VILLAGE_DING),                     # the village group chat: once, not once per member
        ("wecom", SAM_WECOM),                           # a supervisor, at once: an emergency case (7×24)
    ])
    ding = stand_in.to(BOB_DING)[0].body
    assert ding["msgtype"] == "text"
    assert ding["text"]["content"] == f"响应超时：{number}\r\n路口积水，联系人电话138****5678"
    wecom = stand_in.to(BOB_WECOM)[0].body
    assert wecom == {"msgtype": "text", "text": {"content": f"响应超时：{number}\r\n路口积水，联系人电话138****5678"}}
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@example.cn", "carol@example.cn", "sam@example.cn",
                                                    "sue@example.cn"]
    assert all(m.subject == f"[西集网格] 响应超时：{number}" for m in mail.outbox)
    breach = Notification.objects.filter(kind=NotificationKind.RESPOND_BREACH)
    assert breach.count() == 4 and breach.filter(emailed_at__isnull=True).count() == 0
    assert set(Delivery.objects.filter(kind="respond_breach").values_list("status", flat=True)) == {"sent"}
    assert Delivery.objects.filter(kind="respond_breach").count() == 4 + 4  # chat + account e-mail
    # Running the delivery task again sends nothing twice.
    ids = [n.pk for n in breach]
    from cases.channels.delivery import deliver

    assert deliver(ids).sent == 0
    assert len(stand_in.received) == 4


@pytest.mark.django_db(transaction=True)
def test_a_channel_answering_500_is_retried_then_logged_failed_while_the_others_deliver(
    people, stand_in, deliver_inline, settings
):
    settings.NOTIFY_RETRY_BACKOFF_SECONDS = [30, 120]  # three tries in all
    case = dispatched_case(people, T0)
    sweep_at(T0 + dt.timedelta(minutes=100))
    stand_in.clear()
    stand_in.fail[BOB_WECOM] = 500
    DeliveryAttempt.objects.all().delete()
    at = T0 + dt.timedelta(minutes=125)

    report = sweep_at(at)

    case.refresh_from_db()
    assert report.respond_breaches == 1 and case.respond_breached_at == T0 + dt.timedelta(hours=2)  # not blocked
    failing = Delivery.objects.get(kind="respond_breach", channel__url_hint__endswith=BOB_WECOM[-4:])
    assert (failing.status, failing.attempts, failing.next_attempt_at) == ("retrying", 1, at + dt.timedelta(seconds=30))
    others = Delivery.objects.filter(kind="respond_breach").exclude(pk=failing.pk)
    assert set(others.values_list("status", flat=True)) == {"sent"} and others.count() == 7
    assert len(stand_in.to(BOB_DING)) == len(stand_in.to(VILLAGE_DING)) == len(stand_in.to(SAM_WECOM)) == 1

    assert process_due(at + dt.timedelta(seconds=29)).sent == 0   # not due yet
    assert len(stand_in.to(BOB_WECOM)) == 1
    process_due(at + dt.timedelta(seconds=30))                      # second try
    failing.refresh_from_db()
    assert (failing.status, failing.attempts, failing.next_attempt_at) == ("retrying", 2, at + dt.timedelta(seconds=150))
    report = process_due(at + dt.timedelta(seconds=150))            # third and last try
    failing.refresh_from_db()
    assert (report.failed, failing.status, failing.attempts, failing.next_attempt_at) == (1, "failed", 3, None)
    assert len(stand_in.to(BOB_WECOM)) == 3
    log = list(DeliveryAttempt.objects.filter(delivery=failing).order_by("number").values_list("number", "ok", "at"))
    assert log == [(1, False, at), (2, False, at + dt.timedelta(seconds=30)), (3, False, at + dt.timedelta(seconds=150))]
    error = DeliveryAttempt.objects.filter(delivery=failing).first().error
    assert "500" in error and BOB_WECOM not in error
    assert process_due(at + dt.timedelta(hours=1)).sent == 0 and len(stand_in.to(BOB_WECOM)) == 3
    # the others were tried once each, and only once
    assert set(DeliveryAttempt.objects.filter(delivery__in=others).values_list("number", "ok")) == {(1, True)}


@pytest.mark.django_db(transaction=True)
def test_three_reminders_within_the_window_go_out_as_one_message(people, stand_in, deliver_inline, settings):
    settings.NOTIFY_DIGEST_WINDOW_SECONDS = 600
    bob = people["bob"]
    at = dt.datetime(2025, 10, 12, 18, 0, tzinfo=SH)
    villages = ["大灰店村", "西集村", "于辛庄村"]
    for offset, village in enumerate(villages):
        with time_machine.travel(at + dt.timedelta(seconds=offset), tick=False), transaction.atomic():
            notify([bob], kind=NotificationKind.VISIT_REMINDER, title=f"明日走访接待日：{village}",
                   body=f"2025-10-13（星期一） 09:00–11:30 到{village}走访接待（2025-W42）。",
                   dedupe_key=f"visit_reminder:test-{offset}", now=at + dt.timedelta(seconds=offset))
    assert stand_in.received == [] and mail.outbox == []
    held = Delivery.objects.filter(kind="visit_reminder", notification__isnull=False)
    assert set(held.values_list("status", "next_attempt_at")) == {("held", at + dt.timedelta(seconds=600))}
    assert held.count() == 3 * 3  # bob's DingTalk, WeCom and account e-mail

    assert process_due(at + dt.timedelta(seconds=599)).folded == 0
    report = process_due(at + dt.timedelta(seconds=600))

    assert report.folded == 9 and report.sent == 3
    assert len(stand_in.to(BOB_DING)) == len(stand_in.to(BOB_WECOM)) == 1
    content = stand_in.to(BOB_DING)[0].body["text"]["content"]
    assert content.startswith("走访提醒（3条）\r\n1. 明日走访接待日：大灰店村\n")
    assert all(f"到{v}走访接待" in content for v in villages)
    assert [m.subject for m in mail.outbox] == ["[西集网格] 走访提醒（3条）"]
    assert Notification.objects.filter(kind="visit_reminder", emailed_at__isnull=True).count() == 0
    assert set(held.values_list("status", flat=True)) == {"folded"}

    # A reminder after the window opens a new digest of its own.
    later = at + dt.timedelta(seconds=700)
    with time_machine.travel(later, tick=False), transaction.atomic():
        notify([bob], kind=NotificationKind.VISIT_REMINDER, title="明日走访接待日：东侯各庄村", body="",
               dedupe_key="visit_reminder:test-late", now=later)
    process_due(later + dt.timedelta(seconds=600))
    assert stand_in.to(BOB_DING)[1].body["text"]["content"] == "明日走访接待日：东侯各庄村"  # one item: as it is


@pytest.mark.django_db(transaction=True)
def test_supervisors_get_one_morning_digest_while_emergency_breaches_go_out_at_night(
    people, stand_in, deliver_inline
):
    general = dispatched_case(people, dt.datetime(2025, 4, 7, 2, 0, tzinfo=SH), urgency="general",
                              title="路灯不亮")  # respond due 04-08 02:00
    urgent = dispatched_case(people, dt.datetime(2025, 4, 8, 1, 0, tzinfo=SH), urgency="emergency",
                             title="燃气泄漏")  # respond due 04-08 03:00
    with time_machine.travel(dt.datetime(2025, 4, 8, 1, 30, tzinfo=SH), tick=False):
        s.request_extension(general, actor=people["bob"], until=dt.datetime(2025, 4, 20, 2, 0, tzinfo=SH),
                            reason="需协调供电公司", now=dt.datetime(2025, 4, 8, 1, 30, tzinfo=SH))
    stand_in.clear()
    sweep_at(dt.datetime(2025, 4, 8, 2, 5, tzinfo=SH))
    assert stand_in.to(SAM_WECOM) == []  # a general case's breach waits for the morning
    sweep_at(dt.datetime(2025, 4, 8, 3, 5, tzinfo=SH))
    assert [r.body["text"]["content"].split("\r\n")[0] for r in stand_in.to(SAM_WECOM)] == [
        f"响应超时：{urgent.number}"]  # at 03:05, at once
    held = Delivery.objects.filter(channel__user=people["sam"], status="held")
    assert list(held.values_list("kind", "next_attempt_at")) == [  # his WeCom and his account e-mail
        ("respond_breach", dt.datetime(2025, 4, 8, 7, 30, tzinfo=SH))] * 2
    mail.outbox.clear()

    morning = dt.datetime(2025, 4, 8, 7, 30, tzinfo=SH)
    with time_machine.travel(morning, tick=False):
        report = send_morning_digests(morning)

    assert report.as_dict() == {"day": "2025-04-08", "digests": 2, "folded": 3}  # sam's WeCom + e-mail, sue's
    digest = stand_in.to(SAM_WECOM)[-1].body["text"]["content"]
    assert len(stand_in.to(SAM_WECOM)) == 2
    assert digest.startswith("督办晨报 2025-04-08：超时 2，未走访 0，待批延期 1\r\n超时（2）\n")
    assert f"· 响应超时：{general.number}" in digest and f"· 响应超时：{urgent.number}" in digest
    assert f"待审批延期（1）\n· {general.number} 路灯不亮" in digest
    assert "本周（2025-W15，2025-04-07 至 2025-04-07）三率：响应率 —，解决率 —，满意率 —" in digest
    assert sorted(m.to[0] for m in mail.outbox) == ["sam@example.cn", "sue@example.cn"]
    assert set(held.values_list("status", flat=True)) == set()  # none held any more
    with time_machine.travel(morning + dt.timedelta(minutes=1), tick=False):
        assert send_morning_digests(morning + dt.timedelta(minutes=1)).digests == 0  # once a day


@pytest.mark.django_db(transaction=True)
def test_no_phone_number_or_channel_secret_in_any_log_line(people, stand_in, deliver_inline, settings, caplog):
    settings.NOTIFY_RETRY_BACKOFF_SECONDS = [1]
    mobile_bot = f"dingtalk://{DING_SECRET}@{BOB_DING}9/13912345678/"  # signed bot that @-mentions a mobile
    add_channel(user=people["carol"], url=mobile_bot)
    stand_in.fail[BOB_WECOM] = 500
    for name in ("", "apprise", "urllib3", "urllib3.connectionpool", "cases", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)
    case = dispatched_case(people, T0)
    sweep_at(T0 + dt.timedelta(minutes=125))
    process_due(T0 + dt.timedelta(minutes=126))
    for channel in NotificationChannel.objects.exclude(service="account-email"):
        send_test_message(channel)

    text = caplog.text
    assert "DingTalk" in text and "WeCom" in text and "/robot/send" in text  # Apprise and urllib3 did log
    assert case.number in text or "deliveries at" in text
    leaks = [secret for secret in (BOB_DING, BOB_WECOM, SAM_WECOM, VILLAGE_DING, DING_SECRET, PHONE, "13912345678")
             if secret in text]
    assert leaks == []
    errors = " ".join(DeliveryAttempt.objects.values_list("error", flat=True))
    assert "500" in errors and all(secret not in errors for secret in (BOB_WECOM, BOB_DING))
    signed = stand_in.to(BOB_DING + "9")
    assert signed and {"timestamp", "sign"} <= set(signed[0].query)  # the secret signs, it is never sent
    assert signed[0].body["at"]["atMobiles"] == ["13912345678"]


@pytest.mark.django_db
def test_channel_urls_are_encrypted_at_rest_and_shown_only_as_a_hint(people, settings):
    channel = NotificationChannel.objects.get(user=people["bob"], service="DingTalk")
    assert channel.url_hint == "dingtalk://…b2c3"
    with connection.cursor() as cursor:
        cursor.execute("SELECT url_token FROM cases_notificationchannel WHERE id = %s", [channel.pk])
        stored = cursor.fetchone()[0]
    assert BOB_DING not in stored and decrypt(stored) == f"dingtalk://{BOB_DING}/"
    # Key rotation: a new key first, the old one still decrypts; rotate re-encrypts with the new one.
    from cryptography.fernet import Fernet

    from cases.channels.crypto import _keys, rotate

    old = _keys()[0].decode()
    new = Fernet.generate_key().decode()
    settings.NOTIFY_CHANNEL_KEYS = [new, old]
    assert decrypt(stored) == f"dingtalk://{BOB_DING}/"
    rotated = rotate(stored)
    settings.NOTIFY_CHANNEL_KEYS = [new]
    assert decrypt(rotated) == f"dingtalk://{BOB_DING}/"
    assert encrypt("x") != encrypt("x")  # a fresh IV each time


def test_delivery_mode_and_release_times(settings):
    settings.NOTIFY_DIGEST_WINDOW_SECONDS = 600
    mode = policy.delivery_mode
    assert mode("respond_breach", urgency="emergency", to_supervisor=True, group_chat=False) == "now"
    assert mode("resolve_breach", urgency="utilities", to_supervisor=True, group_chat=False) == "now"
    assert mode("resolve_breach", urgency="general", to_supervisor=True, group_chat=False) == "morning"
    assert mode("resolve_breach", urgency="general", to_supervisor=False, group_chat=False) == "now"
    assert mode("visit_missed", urgency=None, to_supervisor=True, group_chat=False) == "morning"
    assert mode("visit_reminder", urgency=None, to_supervisor=False, group_chat=False) == "window"
    assert mode("resolve_breach", urgency="complex", to_supervisor=False, group_chat=True) == "now"
    assert mode("dispatched", urgency="general", to_supervisor=False, group_chat=False) == "now"
    at = dt.datetime(2025, 4, 8, 2, 5, tzinfo=SH)
    assert policy.release_at("now", at) == at
    assert policy.release_at("window", at) == at + dt.timedelta(minutes=10)
    assert policy.release_at("morning", at) == dt.datetime(2025, 4, 8, 7, 30, tzinfo=SH)
    assert policy.release_at("morning", dt.datetime(2025, 4, 8, 7, 30, tzinfo=SH)) == dt.datetime(
        2025, 4, 9, 7, 30, tzinfo=SH)
    assert policy.release_at("morning", dt.datetime(2025, 4, 7, 23, 59, tzinfo=SH)) == dt.datetime(
        2025, 4, 8, 7, 30, tzinfo=SH)
    settings.NOTIFY_RETRY_BACKOFF_SECONDS = [30, 120, 600]
    assert [policy.retry_delay(n) for n in (1, 2, 3, 4)] == [30, 120, 600, None]


@pytest.mark.django_db
def test_a_url_apprise_cannot_use_is_refused_with_a_reason(people):
    from django.core.exceptions import ValidationError

    for bad in ("", "not a url", "nosuchscheme://abc", "wecombot://bad key"):
        with pytest.raises(ValidationError) as info:
            add_channel(user=people["bob"], url=bad)
        assert "url" in info.value.message_dict
    pasted = add_channel(user=people["bob"], url=f"https://oapi.dingtalk.com/robot/send?access_token={BOB_DING}7")
    assert pasted.service == "DingTalk"  # a webhook address as DingTalk prints it is accepted
    assert decrypt(pasted.url_token) == f"dingtalk://{BOB_DING}7/"
    wecom = add_channel(user=people["bob"], url=f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={BOB_WECOM}1")
    assert wecom.service == "WeCom Bot"
    feishu = add_channel(user=people["bob"], url="https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f")
    assert (feishu.service, feishu.url_hint) == ("Feishu", "feishu://…4e5f")


@pytest.mark.django_db(transaction=True)
def test_a_channel_test_reaches_the_stand_in_and_is_logged(people, stand_in):
    channel = NotificationChannel.objects.get(user=people["bob"], service="DingTalk")
    attempt = send_test_message(channel)
    assert attempt.ok and attempt.number == 1
    assert stand_in.to(BOB_DING)[0].body["text"]["content"].startswith("西集网格测试消息\r\n这是一条测试消息")
    channel.refresh_from_db()
    assert channel.last_test_ok is True and channel.last_tested_at is not None
    stand_in.fail[BOB_DING] = 500
    failed = send_test_message(channel)
    assert not failed.ok and "500" in failed.error
    assert Delivery.objects.filter(channel=channel, kind="test").count() == 2
    assert DeliveryStatus.FAILED in Delivery.objects.filter(channel=channel).values_list("status", flat=True)


@pytest.mark.django_db(transaction=True)
def test_the_channel_settings_api_keeps_urls_write_only_and_tests_a_channel(people, stand_in):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(people["carol"])
    url = "/api/v1/me/channels/"
    made = client.post(url, {"url": f"https://oapi.dingtalk.com/robot/send?access_token={VILLAGE_DING}5",
                             "label": "我的钉钉", "kinds": ["resolve_breach", "escalated"]}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["service"], body["url_hint"], body["kinds"], body["enabled"]) == (
        "DingTalk", f"dingtalk://…{VILLAGE_DING[-3:]}5", ["escalated", "resolve_breach"], True)
    assert "url" not in body and VILLAGE_DING not in made.content.decode()

    listed = client.get(url).json()
    assert [(c["service"], c["url_hint"]) for c in listed] == [("DingTalk", f"dingtalk://…{VILLAGE_DING[-3:]}5"),
                                                               ("account-email", "c***@example.cn")]
    assert VILLAGE_DING not in client.get(url).content.decode()

    changed = client.patch(f"{url}{body['id']}/", {"kinds": []}, format="json")
    assert changed.status_code == 200 and changed.json()["kinds"] == []
    bad = client.patch(f"{url}{body['id']}/", {"url": "nosuchscheme://x"}, format="json")
    assert bad.status_code == 400 and "url" in bad.json()
    assert client.post(url, {"label": "无地址"}, format="json").status_code == 400
    assert client.post(url, {"url": f"dingtalk://{VILLAGE_DING}/", "kinds": ["nope"]}, format="json").status_code == 400

    tested = client.post(f"{url}{body['id']}/test/")
    assert tested.status_code == 200 and tested.json()["ok"] is True and tested.json()["error"] == ""
    assert stand_in.to(VILLAGE_DING + "5")[0].body["text"]["content"].startswith("西集网格测试消息")

    email = next(c for c in listed if c["is_account_email"])
    assert client.delete(f"{url}{email['id']}/").status_code == 400
    assert client.patch(f"{url}{email['id']}/", {"enabled": False}, format="json").json()["enabled"] is False
    bobs = NotificationChannel.objects.filter(user=people["bob"]).first()
    assert client.get(f"{url}{bobs.pk}/").status_code == 404
    assert client.post(f"{url}{bobs.pk}/test/").status_code == 404
    assert client.delete(f"{url}{body['id']}/").status_code == 204
    client.force_authenticate(None)
    assert client.get(url).status_code == 401


@pytest.mark.integration
@pytest.mark.real_delivery
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_after_commit_retries_and_logs_no_secret(people, celery_worker_process, webhook_stand_in):
    """The whole path: notify() in a transaction → on commit one task on the real broker → the worker
    process sends through Apprise to the stand-in; a 500 is retried once (1 s) and logged failed."""
    import time

    stand_in = webhook_stand_in
    stand_in.clear()
    stand_in.fail[BOB_WECOM] = 500
    with transaction.atomic():
        notes = notify([people["bob"], people["sam"]], kind=NotificationKind.ESCALATED, title="督办：XJ-TEST-1",
                       body=f"请尽快处理，联系人电话{PHONE}", dedupe_key="escalated:worker-test", now=dt.datetime.now(dt.UTC))
        assert stand_in.received == []  # nothing leaves before the commit
    deadline = time.monotonic() + 60
    wecom = Delivery.objects.filter(notification__in=notes, channel__url_hint__endswith=BOB_WECOM[-4:])
    while time.monotonic() < deadline and not (
        wecom.filter(status="failed").exists() and len(stand_in.to(BOB_DING)) and len(stand_in.to(SAM_WECOM))
    ):
        time.sleep(0.5)
    assert len(stand_in.to(BOB_DING)) == 1 and len(stand_in.to(SAM_WECOM)) == 1
    assert stand_in.to(BOB_DING)[0].body["text"]["content"] == "督办：XJ-TEST-1\r\n请尽快处理，联系人电话138****5678"
    failed = wecom.get()
    assert (failed.status, failed.attempts) == ("failed", 2) and len(stand_in.to(BOB_WECOM)) == 2
    assert list(DeliveryAttempt.objects.filter(delivery=failed).values_list("number", "ok")) == [(2, False), (1, False)]
    log = celery_worker_process.log_path.read_text()
    assert "cases.deliver_notifications" in log
    assert all(secret not in log for secret in (BOB_DING, BOB_WECOM, SAM_WECOM, VILLAGE_DING, PHONE))
    stand_in.fail.clear()


@pytest.mark.django_db
def test_rotate_channel_keys_re_encrypts_with_the_new_first_key(people, settings):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old = settings.NOTIFY_CHANNEL_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.NOTIFY_CHANNEL_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_channel_keys", stdout=out)
    assert out.getvalue().strip() == "rotated 4 channel URLs; unreadable: 0"
    settings.NOTIFY_CHANNEL_KEYS = [new]
    urls = sorted(decrypt(t) for t in NotificationChannel.objects.exclude(url_token="").values_list("url_token", flat=True))
    assert urls == sorted([f"dingtalk://{BOB_DING}/", f"wecombot://{BOB_WECOM}", f"wecombot://{SAM_WECOM}",
                           f"dingtalk://{VILLAGE_DING}/"])


@pytest.mark.django_db(transaction=True)
def test_an_admin_adds_a_group_chat_and_reads_the_delivery_log(people, stand_in, deliver_inline):
    from django.test import Client

    admin = User.objects.create_superuser("root", "root@example.cn", "pw-root-2025")
    client = Client()
    client.force_login(admin)
    village = people["grid"].village
    answer = client.post("/admin/cases/notificationchannel/add/", {
        "village": village.pk, "label": "大灰店村二群", "url": f"wecombot://{SAM_WECOM}2", "enabled": "on",
        "kinds": ["escalated"]})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    channel = NotificationChannel.objects.get(label="大灰店村二群")
    assert (channel.service, channel.kinds, channel.village_id) == ("WeCom Bot", ["escalated"], village.pk)
    assert f"{SAM_WECOM}2" not in client.get(f"/admin/cases/notificationchannel/{channel.pk}/change/").content.decode()

    stand_in.fail[f"{SAM_WECOM}2"] = 500
    case = dispatched_case(people, T0)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        s.escalate(case, actor=people["sam"], note="请加快", now=T0 + dt.timedelta(hours=1))
    page = client.get("/admin/cases/deliveryattempt/").content.decode()
    assert "wecombot://…" in page and "500" in page and SAM_WECOM not in page


@pytest.mark.django_db(transaction=True)
def test_the_channel_settings_page_adds_tests_and_never_shows_a_url(people, stand_in):
    from django.test import Client

    client = Client()
    client.force_login(people["carol"])
    page = client.get("/notifications/channels/")
    assert page.status_code == 200 and "c***@example.cn" in page.content.decode()
    added = client.post("/notifications/channels/add/", {
        "url": f"https://oapi.dingtalk.com/robot/send?access_token={VILLAGE_DING}8", "label": "我的钉钉",
        "kinds": ["resolve_breach", "escalated"]}, follow=True)
    text = added.content.decode()
    assert "已添加渠道" in text and f"dingtalk://…{VILLAGE_DING[-3:]}8" in text and VILLAGE_DING not in text
    channel = NotificationChannel.objects.get(user=people["carol"], label="我的钉钉")
    assert channel.kinds == ["escalated", "resolve_breach"]
    refused = client.post("/notifications/channels/add/", {"url": "nosuchscheme://x"}, follow=True)
    assert "无法识别的渠道地址" in refused.content.decode()

    tested = client.post(f"/notifications/channels/{channel.pk}/", {"op": "test"}, follow=True)
    assert "测试消息已发送" in tested.content.decode()
    assert stand_in.to(VILLAGE_DING + "8")[0].body["text"]["content"].startswith("西集网格测试消息")
    client.post(f"/notifications/channels/{channel.pk}/", {"op": "kinds"})
    channel.refresh_from_db()
    assert channel.kinds == []
    client.post(f"/notifications/channels/{channel.pk}/", {"op": "disable"})
    channel.refresh_from_db()
    assert channel.enabled is False
    bobs = NotificationChannel.objects.filter(user=people["bob"]).first()
    assert client.post(f"/notifications/channels/{bobs.pk}/", {"op": "delete"}).status_code == 404
    client.post(f"/notifications/channels/{channel.pk}/", {"op": "delete"})
    assert not NotificationChannel.objects.filter(pk=channel.pk).exists()
    email = NotificationChannel.objects.get(user=people["carol"], service="account-email")
    client.post(f"/notifications/channels/{email.pk}/", {"op": "delete"})
    assert NotificationChannel.objects.filter(pk=email.pk).exists()  # the account e-mail is switched off, not deleted
