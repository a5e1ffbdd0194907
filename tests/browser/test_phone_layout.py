"""The desk on a phone (375 px, issue 16 trial): the queues and the case list scroll sideways inside their
box with the title still readable, and the main menu brings the active entry into view."""
import datetime as dt

import pytest

from cases.choices import Status
from grids.choices import Role
from tests import factories

from .conftest import PHONE


@pytest.mark.django_db(transaction=True)
def test_titles_stay_readable_and_the_active_menu_entry_shows_at_375px(town, session):
    dora_user = town.user(Role.DISPATCHER)
    now = dt.datetime.now(dt.UTC)
    case = factories.make_case(grid=town.a1, actor=dora_user, state=Status.RECEIVED, now=now - dt.timedelta(hours=1),
                               title="村东头路灯连续三晚不亮")
    dora = session(PHONE)
    dora.login(dora_user.username)
    for path, cell in (("/intake/", f"[data-testid=to-dispatch] tr[data-case='{case.pk}'] td.title"),
                       ("/cases/", f"[data-testid=case-list] tr[data-case='{case.pk}'] td.title")):
        page = dora.go(path)
        box = page.locator(cell).bounding_box()
        assert box["width"] >= 120, (path, box)  # 9em at the table's font, not two characters
        assert dora.overflow() == 0, f"{path} scrolls sideways at 375 px"
        active = page.locator(".nav a.active").bounding_box()
        assert active["x"] >= 0 and active["x"] + active["width"] <= PHONE["width"], (path, active)
        dora.shot("phone-layout" + path.strip("/").replace("/", "-"))
