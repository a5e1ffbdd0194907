"""The category on log-a-case in a real browser at 375 and 1280 px (issue 11): suggestions appear as the
description is typed and choose nothing until tapped; the search box finds nodes by part of their name and
by pinyin initials. Screenshots: ``test-artifacts/screenshots/category-*``."""
import pytest

from cases.models import Category
from grids.choices import Role

from .conftest import DESKTOP, PHONE

VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])


@pytest.fixture
def taxonomy(town):
    """The real 12345 taxonomy (seeds/taxonomy_517.csv) beside the personas' town."""
    from cases.seeding import seed_categories

    seed_categories()
    return town


def path_of(category: Category) -> list[str]:
    names = []
    while category is not None:
        names.insert(0, category.name)
        category = category.parent
    return names


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_a_grid_leader_finds_the_category_by_suggestion_or_search(taxonomy, session, viewport, category_model):
    leader = session(viewport)
    page = leader.login(taxonomy.user(Role.GRID_LEADER).username)
    page = leader.go("/cases/new/")
    suggestions = page.get_by_test_id("category-suggestions")
    assert suggestions.is_hidden()
    page.fill("#id_title", "路灯不亮")
    page.fill("#id_description", "村口主路的路灯坏了一个多星期，晚上一片漆黑，老人孩子走路不安全，请尽快修复。")
    suggestions.locator("button.chip").first.wait_for()
    chips = suggestions.locator("button.chip")
    assert 1 <= chips.count() <= 6
    assert page.locator("#id_category").input_value() == ""  # a suggestion chooses nothing by itself
    texts = [chips.nth(i).inner_text() for i in range(chips.count())]
    assert any("%" in text for text in texts)  # the top categories carry their probability
    leader.shot("category-suggested")

    first = chips.first
    chosen = int(first.get_attribute("data-choose"))
    first.click()
    assert page.locator("#id_category").input_value() == str(chosen)
    names = path_of(Category.objects.get(pk=chosen))
    shown = [page.locator(f"select.cat-level[data-level='{k + 1}'] option:checked").inner_text()
             for k in range(len(names))]
    assert shown == names

    search = page.get_by_test_id("category-search")
    # A street lamp is a public facility: 城乡建设/城市建设和市政管理/城市公共设施, found by its pinyin initials.
    search.fill("csgg")
    hits = page.get_by_test_id("category-search-results").locator("button.chip")
    hits.first.wait_for()
    assert hits.first.inner_text() == "城乡建设/城市建设和市政管理/城市公共设施"
    target = int(hits.first.get_attribute("data-choose"))
    hits.first.click()
    assert page.locator("#id_category").input_value() == str(target)
    assert path_of(Category.objects.get(pk=target)) == ["城乡建设", "城市建设和市政管理", "城市公共设施"]
    search.fill("公共设施")  # and by part of its name
    page.get_by_test_id(f"category-hit-{target}").wait_for()
    search.fill("qqqxz")  # nothing matches: it says so instead of showing nothing
    none = page.get_by_test_id("category-search-none")
    none.wait_for()
    assert "没有找到匹配的分类" in none.inner_text()
    search.fill("公共设施")
    page.get_by_test_id(f"category-hit-{target}").wait_for()
    if leader.width == PHONE["width"]:
        assert leader.overflow() == 0, "log-a-case scrolls sideways at 375 px"
    leader.shot("category-searched")
    assert leader.errors == []


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_a_case_being_logged_shows_the_same_matter_already_reported(taxonomy, session, viewport, category_model):
    from cases.choices import Status
    from tests import factories

    facility = Category.objects.get(name="城市公共设施", parent__name="城市建设和市政管理")
    earlier = factories.make_case(grid=taxonomy.a1, actor=taxonomy.user(Role.DISPATCHER), state=Status.DISPATCHED,
                                  title="村口路灯不亮", description="村口东侧的路灯晚上不亮，行人看不清路，请尽快维修路灯",
                                  category=facility, complainant_phone="13800000001")
    leader = session(viewport)
    page = leader.login(taxonomy.user(Role.GRID_LEADER).username)
    page = leader.go("/cases/new/")
    page.select_option("#id_village", str(taxonomy.a.pk))
    page.get_by_test_id("category-search").fill("csgg")
    page.get_by_test_id(f"category-hit-{facility.pk}").click()
    page.fill("#id_title", "村口的路灯坏了不亮")
    page.fill("#id_description", "村口东侧路灯不亮，晚上看不清路，请维修路灯")
    found = page.get_by_test_id("draft-duplicates")
    found.locator(f"[data-duplicate='{earlier.pk}']").wait_for()
    text = found.inner_text()
    # The draft names no caller yet: the relation is unknown; place, category and text matched.
    assert earlier.number in text and "来电人未知" in text
    assert "同一类别" in text and "内容相似" in text
    assert "13800000001" not in text  # no caller's phone
    if leader.width == PHONE["width"]:
        assert leader.overflow() == 0, "log-a-case scrolls sideways at 375 px"
    leader.shot("category-draft-duplicates")
