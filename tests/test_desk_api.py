"""Issue 16 (services and API): revealing the phone (§6), idempotency keys (§7), caller history and
search (build 1), editing at intake (build 2), queues with keyset paging and bulk actions (build 3),
attachments (build 4) and filters for every field (build 5)."""
import datetime as dt
import io

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from cases import services
from cases.choices import Action, Satisfaction, Status, Urgency
from cases.desk import queues
from cases.models import Attachment, Case, CaseEvent, IdempotencyKey
from grids.choices import Role

from . import factories

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
H, D = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        yield town


def api(town, role) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[role]}")
    return client


def at(moment):
    return time_machine.travel(moment, tick=False)


def case_in(town, grid, state=Status.DISPATCHED, **kw):
    return factories.make_case(grid=grid, actor=town.user(Role.DISPATCHER), state=state, now=T0, **kw)


# --- §6: the handler reveals the phone with one tap; each reveal audited ------------------------------------


@pytest.mark.django_db
def test_handler_reveals_the_phone_once_per_tap_and_each_reveal_is_an_event(town):
    case = case_in(town, town.a1)  # dispatched to a1: its leader gus is the handler
    gus = api(town, Role.GRID_LEADER)
    with at(T0 + H):
        assert gus.get(f"/api/v1/cases/{case.pk}/").json()["complainant_phone"] == "138****5678"
        first = gus.post(f"/api/v1/cases/{case.pk}/reveal-phone/")
        second = gus.post(f"/api/v1/cases/{case.pk}/reveal-phone/")
    assert first.status_code == second.status_code == 200
    assert first.json() == {"complainant_phone": "13812345678"}
    events = list(CaseEvent.objects.filter(case=case, action=Action.PHONE_REVEALED).values("actor", "data", "at"))
    assert [e["actor"] for e in events] == [town.user(Role.GRID_LEADER).pk] * 2
    assert all("13812345678" not in str(e["data"]) for e in events)
    assert Case.objects.get(pk=case.pk).updated_at == case.updated_at  # the case itself did not change


@pytest.mark.django_db
def test_everyone_else_keeps_the_mask(town):
    case = case_in(town, town.a1)
    for role in (Role.VILLAGE_LEADER, Role.CADRE):  # both have the case in scope, neither handles it
        answer = api(town, role).post(f"/api/v1/cases/{case.pk}/reveal-phone/")
        assert answer.status_code == 403, role
    other = case_in(town, town.b1)
    assert api(town, Role.GRID_LEADER).post(f"/api/v1/cases/{other.pk}/reveal-phone/").status_code == 404
    assert api(town, Role.DISPATCHER).post(f"/api/v1/cases/{case.pk}/reveal-phone/").json() == {
        "complainant_phone": "13812345678"}
    assert not CaseEvent.objects.filter(case=case, action=Action.PHONE_REVEALED).exists()


# --- §7: idempotency keys ------------------------------------------------------------------------------------


def new_case_body(town, title="路灯不亮"):
    return {"kind": "complaint", "source": "hotline", "title": title, "village": town.a.pk}


@pytest.mark.django_db
def test_resending_a_create_with_the_same_key_answers_the_first_case(town):
    dora = api(town, Role.DISPATCHER)
    before = Case.objects.count()
    with at(T0):
        first = dora.post("/api/v1/cases/", new_case_body(town), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        again = dora.post("/api/v1/cases/", new_case_body(town), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
        assert Case.objects.count() == before + 1
        # Another request under the same key is refused; no key, or another user's same key, is a new request.
        other = dora.post("/api/v1/cases/", new_case_body(town, "噪音"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
        sam = api(town, Role.SUPERVISOR).post("/api/v1/cases/", new_case_body(town), format="json",
                                             HTTP_IDEMPOTENCY_KEY="k-1")
        assert sam.status_code == 201 and sam.json()["id"] != first.json()["id"]
        assert dora.post("/api/v1/cases/", new_case_body(town), format="json").status_code == 201
    assert Case.objects.count() == before + 3


@pytest.mark.django_db
def test_an_error_is_not_kept_and_keys_expire(town, settings):
    dora = api(town, Role.DISPATCHER)
    bad = dora.post("/api/v1/cases/", {"kind": "complaint"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert bad.status_code == 400
    with at(T0):
        good = dora.post("/api/v1/cases/", new_case_body(town), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert good.status_code == 201
    row = IdempotencyKey.objects.get(key="k-2")
    assert row.expires_at == T0 + 24 * H
    with at(T0 + 24 * H + dt.timedelta(seconds=1)):  # expired: the key may name a new request
        later = dora.post("/api/v1/cases/", new_case_body(town, "新的"), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert later.status_code == 201 and later.json()["id"] != good.json()["id"]
    assert dora.post("/api/v1/cases/", new_case_body(town), format="json",
                     HTTP_IDEMPOTENCY_KEY="bad key with spaces").status_code == 400


@pytest.mark.django_db
def test_a_form_resent_with_its_hidden_token_logs_one_case(town, client):
    client.force_login(town.user(Role.DISPATCHER))
    body = {"village": town.a.pk, "kind": "help", "source": "hotline", "title": "井盖丢失", "description": "",
            "idempotency_key": "form-token-1"}
    before = Case.objects.count()
    with at(T0):
        first = client.post("/cases/new/", body)
        again = client.post("/cases/new/", body)
    assert first.status_code == again.status_code == 302
    assert again["Location"] == first["Location"]
    assert Case.objects.count() == before + 1


@pytest.mark.django_db
def test_expired_keys_are_purged(town):
    from cases.idempotency import purge_expired

    dora = api(town, Role.DISPATCHER)
    with at(T0):
        dora.post("/api/v1/cases/", new_case_body(town), format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert purge_expired(T0 + 23 * H) == 0
    assert purge_expired(T0 + 24 * H) == 1


# --- Build 1: caller history and search by complainant -------------------------------------------------------


@pytest.mark.django_db
def test_caller_history_matches_the_phone_whole_and_the_name(town):
    a = case_in(town, town.a1, complainant_phone="138-1234 5678", complainant_name="王女士")
    b = case_in(town, town.b1, complainant_phone="13812345678", complainant_name="王女士")
    case_in(town, town.a1, complainant_phone="1381234567", complainant_name="李先生")  # one digit short
    c = case_in(town, town.a2, complainant_phone="13900000000", complainant_name="王女士")
    dora = api(town, Role.DISPATCHER).get("/api/v1/cases/caller-history/", {"phone": "+13812345678",
                                                                          "name": "王女士"}).json()
    # "+" dropped: 13812345678 whole, not the 10-digit number that is its prefix.
    assert [r["id"] for r in dora["by_phone"]] == sorted([a.pk, b.pk], reverse=True)
    assert [r["id"] for r in dora["by_name"]] == [c.pk]
    assert dora["by_phone_total"] == 2 and dora["open_total"] == 2
    assert dora["by_phone"][0]["complainant_phone"] == "13812345678"
    gus = api(town, Role.GRID_LEADER).get("/api/v1/cases/caller-history/", {"phone": "13812345678"}).json()
    assert [r["id"] for r in gus["by_phone"]] == [a.pk]  # b1 is outside gus's scope
    assert gus["by_phone"][0]["complainant_phone"] == "138****5678"
    short = api(town, Role.DISPATCHER).get("/api/v1/cases/caller-history/", {"phone": "5678"}).json()
    assert short["phone_matched"] is False and short["by_phone"] == []


@pytest.mark.django_db
def test_caller_history_masks_numbers_in_titles_for_those_who_see_phones_masked(town):
    """A title carrying the caller's number is shown as the case page shows it: whole to the dispatcher,
    masked (138****5678) to the grid leader, in caller history and in the queues alike."""
    case = case_in(town, town.a1, complainant_phone="13812345678", title="13812345678反映路灯不亮")
    gus = api(town, Role.GRID_LEADER).get("/api/v1/cases/caller-history/", {"phone": "13812345678"}).json()
    assert [(r["id"], r["title"]) for r in gus["by_phone"]] == [(case.pk, "138****5678反映路灯不亮")]
    dora = api(town, Role.DISPATCHER).get("/api/v1/cases/caller-history/", {"phone": "13812345678"}).json()
    assert dora["by_phone"][0]["title"] == "13812345678反映路灯不亮"


@pytest.mark.django_db
def test_cases_are_searched_by_complainant_name_and_whole_phone(town):
    a = case_in(town, town.a1, complainant_phone="138-1234 5678", complainant_name="赵大爷")
    case_in(town, town.a1, complainant_phone="13812345679", complainant_name="赵大娘")
    dora = api(town, Role.DISPATCHER)
    by_phone = dora.get("/api/v1/cases/", {"complainant_phone": "138 1234 5678", "complainant_name": "赵大爷"})
    assert [r["id"] for r in by_phone.json()["results"]] == [a.pk]
    assert dora.get("/api/v1/cases/", {"complainant_phone": "1381234"}).json()["count"] == 0


# --- Build 5: filters for every field ----------------------------------------------------------------------


@pytest.mark.django_db
def test_filters_for_the_fields_the_desk_reads(town):
    dora = api(town, Role.DISPATCHER)
    hot = case_in(town, town.a1, state=Status.RESOLVED, title="热线")
    web = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RESOLVED, now=T0,
                              source="online", title="留言")
    old = case_in(town, town.a1, state=Status.RESOLVED, title="导入")
    Case.objects.filter(pk=old.pk).update(imported=True)
    ids = lambda **p: sorted(r["id"] for r in dora.get("/api/v1/cases/", {**p, "page_size": 200}).json()["results"])  # noqa: E731
    assert ids(source=["hotline", "online"], status="resolved", received_after="2025-04-07T00:00:00+08:00",
               received_before="2025-04-08T00:00:00+08:00", imported="false") == sorted([hot.pk, web.pk])
    assert ids(imported="true") == [old.pk]
    assert ids(callback="pending", number=hot.number) == [hot.pk]
    services.callback(hot, actor=town.user(Role.DISPATCHER), contacted=True, solved=True,
                      satisfaction=Satisfaction.SATISFIED, now=T0 + H)
    assert ids(callback="valid", satisfaction="satisfied", imported="false") == [hot.pk]
    assert dora.get("/api/v1/cases/", {"ordering": "urgency"}).status_code == 200
    assert dora.get("/api/v1/cases/", {"callback": "maybe"}).status_code == 400


# --- Build 2: edit at intake ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_edit_writes_one_event_with_old_and_new_values(town):
    case = case_in(town, town.a1, state=Status.RECEIVED, title="路灯", address="村口")
    dora = api(town, Role.DISPATCHER)
    with at(T0 + H):
        answer = dora.post(f"/api/v1/cases/{case.pk}/edit/", {
            "title": "村口路灯不亮", "address": "村口东侧", "category": town.cat_leaf.pk, "kind": "complaint",
            "lng": "116.873000", "lat": "39.812000", "note": "来电人补充"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["title"] == "村口路灯不亮" and answer.json()["category"] == town.cat_leaf.pk
    edited = CaseEvent.objects.get(case=case, action=Action.EDITED)
    assert edited.data["changes"] == {
        "title": {"old": "路灯", "new": "村口路灯不亮"}, "address": {"old": "村口", "new": "村口东侧"},
        "category": {"old": None, "new": {"id": town.cat_leaf.pk, "name": "垃圾清运"}},
        "lng": {"old": None, "new": "116.873000"}, "lat": {"old": None, "new": "39.812000"}}
    assert edited.note == "来电人补充" and edited.at == T0 + H
    # The same values again: nothing changes, nothing is written.
    again = dora.post(f"/api/v1/cases/{case.pk}/edit/", {"title": "村口路灯不亮", "kind": "complaint"}, format="json")
    assert again.status_code == 200
    assert CaseEvent.objects.filter(case=case, action=Action.EDITED).count() == 1


@pytest.mark.django_db
def test_edit_of_urgency_goes_through_the_deadline_rule(town):
    case = case_in(town, town.a1)  # dispatched at T0: general, resolve due T0 + 7 days
    with at(T0 + H):
        answer = api(town, Role.DISPATCHER).post(f"/api/v1/cases/{case.pk}/edit/", {"urgency": "emergency"},
                                                 format="json")
    assert answer.status_code == 200
    case.refresh_from_db()
    assert case.urgency == Urgency.EMERGENCY
    assert case.resolve_due_at == T0 + 24 * H  # emergency: 24 h from the start of the round
    assert CaseEvent.objects.filter(case=case, action=Action.URGENCY_CHANGED).count() == 1
    assert not CaseEvent.objects.filter(case=case, action=Action.EDITED).exists()


@pytest.mark.django_db
def test_edit_refused_for_handlers_closed_cases_and_bad_values(town):
    case = case_in(town, town.a1)
    assert api(town, Role.GRID_LEADER).post(f"/api/v1/cases/{case.pk}/edit/", {"title": "x"},
                                            format="json").status_code == 403
    closed = case_in(town, town.a1, state=Status.CLOSED)
    refused = api(town, Role.DISPATCHER).post(f"/api/v1/cases/{closed.pk}/edit/", {"title": "x"}, format="json")
    assert refused.status_code == 409
    bad = api(town, Role.DISPATCHER).post(f"/api/v1/cases/{case.pk}/edit/", {"title": " ", "lat": 95},
                                          format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"title", "lat"}


# --- Build 3: queues and bulk actions ------------------------------------------------------------------------


@pytest.mark.django_db
def test_intake_queue_pages_by_keyset_without_overlap(town):
    made = [factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RECEIVED,
                                now=T0 + k * H, urgency=u)
            for k, u in enumerate(["general", "emergency", "general", "utilities", "general", "emergency", "complex"])]
    dora = api(town, Role.DISPATCHER)
    seen, cursor = [], None
    with at(T0 + 10 * H):
        while True:
            page = dora.get("/api/v1/queues/intake/", {"limit": 3, **({"cursor": cursor} if cursor else {}),
                                                       "village_id": town.a.pk}).json()
            seen.append([r["id"] for r in page["results"]])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert page["total"] == 7
        assert seen == [[c.pk for c in made[0:3]], [c.pk for c in made[3:6]], [made[6].pk]]
        assert page["results"][0]["waiting_seconds"] == 4 * 3600  # received T0+6h, read at T0+10h
        by_urgency = dora.get("/api/v1/queues/intake/", {"sort": "urgency", "village_id": town.a.pk}).json()
    assert [r["id"] for r in by_urgency["results"]] == [made[i].pk for i in (1, 5, 3, 6, 0, 2, 4)]
    assert dora.get("/api/v1/queues/intake/", {"cursor": "not-a-cursor"}).status_code == 400
    assert dora.get("/api/v1/queues/intake/", {"sort": "title"}).status_code == 400
    assert api(town, Role.GRID_LEADER).get("/api/v1/queues/intake/").status_code == 403


@pytest.mark.django_db
def test_callback_queue_keeps_imported_history_out_by_default(town):
    live = case_in(town, town.a1, state=Status.RESOLVED)
    old = case_in(town, town.a1, state=Status.RESOLVED)
    Case.objects.filter(pk=old.pk).update(imported=True)
    dora = api(town, Role.DISPATCHER)
    default = {r["id"] for r in dora.get("/api/v1/queues/callback/", {"limit": 200}).json()["results"]}
    everything = {r["id"] for r in dora.get("/api/v1/queues/callback/", {"limit": 200, "imported": "all"}).json()["results"]}
    assert live.pk in default and old.pk not in default
    assert {live.pk, old.pk} <= everything


@pytest.mark.django_db
def test_bulk_actions_go_through_the_services_case_by_case(town):
    dora = api(town, Role.DISPATCHER)
    fresh = [case_in(town, town.a1, state=Status.RECEIVED) for _ in range(2)]
    already = case_in(town, town.a2)  # dispatched to a2
    with at(T0 + H):
        answer = dora.post("/api/v1/cases/bulk/", {"action": "dispatch", "grid": town.a2.pk,
                                                   "ids": [fresh[0].pk, already.pk, fresh[1].pk, 999999999]},
                           format="json").json()
    assert answer["done"] == 2 and answer["failed"] == 2
    assert [(r["id"], r["ok"], r["code"]) for r in answer["results"]] == [
        (fresh[0].pk, True, None), (already.pk, False, "already_dispatched"), (fresh[1].pk, True, None),
        (999999999, False, "not_found")]
    for case in fresh:
        assert list(case.events.values_list("action", flat=True)) == [Action.CREATED, Action.DISPATCHED]
    resolved = [case_in(town, town.a1, state=Status.RESOLVED) for _ in range(3)]
    with at(T0 + 2 * H):
        r1 = dora.post("/api/v1/cases/bulk/", {"action": "callback_unreachable", "ids": [resolved[0].pk]},
                       format="json").json()
        r2 = dora.post("/api/v1/cases/bulk/", {"action": "callback_not_needed", "ids": [resolved[1].pk]},
                       format="json").json()
        r3 = dora.post("/api/v1/cases/bulk/", {"action": "close", "ids": [resolved[2].pk, fresh[0].pk]},
                       format="json").json()
    assert r1["results"][0]["status"] == "resolved"
    assert Case.objects.get(pk=resolved[0].pk).satisfaction == Satisfaction.UNREACHABLE
    assert r2["results"][0]["status"] == "closed"
    assert CaseEvent.objects.get(case=resolved[1], action=Action.CLOSED).data == {"callback": "not_needed"}
    assert [(r["ok"], r["code"]) for r in r3["results"]] == [(True, None), (False, "transition_not_allowed")]
    assert api(town, Role.GRID_LEADER).post("/api/v1/cases/bulk/", {"action": "close", "ids": [resolved[2].pk]},
                                            format="json").status_code == 403
    assert dora.post("/api/v1/cases/bulk/", {"action": "dispatch", "ids": [fresh[0].pk]},
                     format="json").status_code == 400  # no grid


@pytest.mark.django_db
def test_keyset_and_offset_give_the_same_rows(town):
    """The keyset pages concatenated equal one ordered read of the whole queue (same rows, same order)."""
    for k in range(9):
        factories.make_case(grid=town.b1, actor=town.user(Role.DISPATCHER), state=Status.RECEIVED, now=T0 + (k % 3) * H)
    from grids.scope import scope_for

    scope = scope_for(town.user(Role.DISPATCHER))
    filters = queues.QueueFilters(village_id=town.b.pk)
    whole = queues.queue_page("intake", scope, filters=filters, limit=200, now=T0 + D).rows
    paged, cursor = [], None
    while True:
        page = queues.queue_page("intake", scope, filters=filters, limit=2, cursor=cursor, now=T0 + D)
        paged += page.rows
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [c.pk for c in paged] == [c.pk for c in whole]
    assert len(whole) == 9


# --- Build 4: attachments ----------------------------------------------------------------------------------------


def jpeg_with_exif(orientation=6) -> bytes:
    image = Image.new("RGB", (64, 32), "red")
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = orientation  # rotate 90° clockwise to show upright
    exif[0x8825] = {1: "N", 2: (39.0, 48.0, 36.0), 3: "E", 4: (116.0, 52.0, 12.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def upload(client, case, data, name, **extra):
    return client.post(f"/api/v1/cases/{case.pk}/attachments/",
                       {"file": SimpleUploadedFile(name, data), **extra}, format="multipart")


@pytest.mark.django_db
def test_a_photo_is_stored_without_exif_and_its_gps_kept_only_as_agreed(town):
    case = case_in(town, town.a1)
    gus = api(town, Role.GRID_LEADER)
    with at(T0 + H):
        first = upload(gus, case, jpeg_with_exif(), "IMG_0001.JPG", kind="before")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["content_type"], body["width"], body["height"]) == ("image/jpeg", 32, 64)  # turned upright
    att = Attachment.objects.get(pk=body["id"])
    with att.file.open("rb") as stored:
        shown = Image.open(io.BytesIO(stored.read()))
        assert len(shown.getexif()) == 0 and "exif" not in shown.info
    case.refresh_from_db()
    assert case.lng is None and case.lat is None  # not agreed: the position is discarded
    with at(T0 + 2 * H):
        second = upload(gus, case, jpeg_with_exif(), "IMG_0002.JPG", kind="after", use_location="true")
    assert second.status_code == 201
    case.refresh_from_db()
    # 39°48'36" N = 39.81, 116°52'12" E = 116.87
    assert (str(case.lng), str(case.lat)) == ("116.870000", "39.810000")
    event = CaseEvent.objects.filter(case=case, action=Action.ATTACHMENT_ADDED).order_by("at").last()
    assert event.data["location"] == {"old": [None, None], "new": ["116.870000", "39.810000"]}
    listed = gus.get(f"/api/v1/cases/{case.pk}/attachments/").json()
    assert [a["kind"] for a in listed] == ["before", "after"]


@pytest.mark.django_db
def test_markup_and_oversized_files_are_refused(town, settings):
    case = case_in(town, town.a1)
    gus = api(town, Role.GRID_LEADER)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
    for data, name in ((svg, "map.svg"), (svg, "photo.jpg"), (b"<html><script>x</script></html>", "a.txt"),
                       (b"MZ\x90\x00", "tool.exe"), (b"%PDF-1.7", "fake.docx")):
        answer = upload(gus, case, data, name)
        assert answer.status_code == 400 and list(answer.json()) == ["file"], name
    settings.ATTACHMENT_MAX_BYTES = 100
    assert upload(gus, case, b"%PDF-1.7\n" + b"0" * 200, "big.pdf").status_code == 400
    assert not Attachment.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_files_are_served_safely_and_scoped_like_their_case(town):
    case = case_in(town, town.a1)
    gus = api(town, Role.GRID_LEADER)
    photo = upload(gus, case, jpeg_with_exif(orientation=1), "p.jpg", kind="before").json()
    pdf = upload(gus, case, b"%PDF-1.7\n%test", "回复.pdf").json()
    shown = gus.get(photo["file_url"])
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert shown["X-Content-Type-Options"] == "nosniff" and "sandbox" in shown["Content-Security-Policy"]
    assert shown["Content-Disposition"].startswith("inline")
    assert gus.get(photo["thumbnail_url"])["Content-Type"] == "image/jpeg"
    download = gus.get(pdf["file_url"])
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    other = case_in(town, town.b1)
    theirs = upload(api(town, Role.DISPATCHER), other, b"%PDF-1.7\n", "x.pdf").json()
    assert gus.get(theirs["file_url"]).status_code == 404
    assert gus.get(f"/api/v1/attachments/{theirs['id']}/").status_code == 404
    assert upload(gus, other, b"%PDF-1.7\n", "y.pdf").status_code == 404


@pytest.mark.django_db
def test_no_new_dispatch_notice_for_a_case_one_dispatched_to_oneself(town):
    """A grid leader's own patrol case is dispatched to that grid leader at once: no "新派单" notice to the
    person who did it; a dispatcher's dispatch to the same grid leader still notifies them."""
    from cases.choices import NotificationKind
    from cases.models import Notification

    gus = town.user(Role.GRID_LEADER)
    assert town.a1.leader.user_id == gus.pk
    own = services.create_case(actor=gus, kind="complaint", source="patrol", title="井盖松动", grid=town.a1, now=T0)
    services.dispatch(own, actor=gus, grid=town.a1, now=T0)
    theirs = services.create_case(actor=gus, kind="complaint", source="hotline", title="路灯不亮", grid=town.a1,
                                  now=T0)
    services.dispatch(theirs, actor=town.user(Role.DISPATCHER), grid=town.a1, now=T0)
    notices = Notification.objects.filter(recipient=gus, kind=NotificationKind.DISPATCHED)
    assert list(notices.values_list("case_id", flat=True)) == [theirs.pk]
