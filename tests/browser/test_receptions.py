"""A deputy's receptions in the browser (issue 16 build 6, defect 3) at 375 and 1280 px, with screenshots:
the list, recording one that has begun, the refusal of one not yet begun (next to the start time, what was
typed kept), and raising a demand at one."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from grids.choices import Role
from reps import services
from reps.models import Deputy, Reception
from reps.seeding import seed_stations

from .conftest import DESKTOP, PHONE

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
def test_a_deputy_records_a_reception_and_is_refused_one_not_yet_begun(town, session, viewport):
    seed_stations()
    deputy = services.link_login(Deputy.objects.get(code="LS01-1"), town.user(Role.DEPUTY))
    now = dt.datetime.now(dt.UTC)
    # A reception ends on the day it starts (Asia/Shanghai): one that has begun today, whatever the hour the
    # test runs at, and one a week ahead in the morning.
    local = now.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = max(midnight, local - dt.timedelta(hours=1))
    ends = min(midnight + dt.timedelta(hours=23, minutes=59), local + dt.timedelta(hours=1))
    begun = services.create_reception(actor=deputy.user, station=deputy.station, starts_at=starts, ends_at=ends,
                                      deputies=[deputy], now=now)
    week = midnight + dt.timedelta(days=7)
    ahead = services.create_reception(actor=deputy.user, station=deputy.station,
                                      starts_at=week + dt.timedelta(hours=9), ends_at=week + dt.timedelta(hours=11),
                                      deputies=[deputy], now=now)
    dev = session(viewport)
    dev.login(deputy.user.username)
    page = dev.go("/receptions/")
    assert page.locator(f'[data-testid="record-reception-{begun.pk}"]').count() == 1
    assert page.locator(f'[data-testid="record-reception-{ahead.pk}"]').count() == 0
    if viewport is PHONE:
        assert dev.overflow() == 0, "/receptions/ scrolls sideways at 375 px"
    dev.shot("receptions")

    page = dev.go(f"/receptions/{ahead.pk}/record/")
    page.fill("#id_residents_received", "9")
    page.fill("#id_notes", "提前填写")
    with page.expect_navigation():
        page.click("button[type=submit]")
    error = page.locator("#field-starts_at p.error").inner_text()
    assert "开始前不能记录为已举行" in error
    assert page.input_value("#id_residents_received") == "9" and page.input_value("#id_notes") == "提前填写"
    if viewport is PHONE:
        assert dev.overflow() == 0
    dev.shot("reception-record-refused")

    page = dev.go("/receptions/")
    with page.expect_navigation():
        page.click(f'[data-testid="record-reception-{begun.pk}"]')
    page.fill("#id_residents_received", "6")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator(f'[data-testid="receptions-held"] [data-reception="{begun.pk}"]').count() == 1
    with page.expect_navigation():
        page.click(f'[data-testid="raise-demand-{begun.pk}"]')
    assert "的接待中登记的代表诉求" in page.locator("p.note").inner_text()
    dev.shot("reception-demand-form")
    assert Reception.objects.get(pk=begun.pk).residents_received == 6
    assert Reception.objects.get(pk=ahead.pk).status == "planned"
