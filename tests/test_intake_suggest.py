"""The log-a-case form's intake intelligence (issue 11) with Django's test client: the markup of the
suggestion panel, the suggestion API reached the way the page's script reaches it (session cookie and CSRF
header), a suggestion never choosing a category, and the form still submitting without JavaScript. The
browser run is in ``tests/browser/test_category_picker.py``."""
import re

import pytest
from django.test import Client

from cases.models import Case, Category
from grids.choices import Role


@pytest.fixture(scope="module")
def town(taxonomy_town):
    """The personas' town with the whole real taxonomy (conftest ``taxonomy_town``)."""
    return taxonomy_town


def form_data(town, **overrides):
    data = {"village": town.a.pk, "grid": town.a1.pk, "category": "", "kind": "help", "urgency": "",
            "source": "patrol", "title": "", "description": "三号楼前路灯不亮，晚上一片漆黑", "address": "",
            "complainant_name": "", "complainant_phone": "", "result": ""}
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_the_form_carries_the_suggestion_panel_hidden_and_empty(client, town):
    client.force_login(town.user(Role.GRID_LEADER))
    page = client.get("/cases/new/").content.decode()
    panel = re.search(r'<div class="cat-suggest"[^>]*>', page)
    assert panel and " hidden" in panel[0] and 'aria-live="polite"' in panel[0]
    assert 'data-testid="category-search"' in page
    assert "data-choose=" not in page  # chips are drawn by the script only; the server never pre-chooses
    assert re.search(r'<input type="hidden" name="category" id="id_category">', page)  # no value preset
    assert '<script src="/static/js/app.js"></script>' in page
    assert not re.search(r'<script[^>]+src="https?://', page)  # no CDN


@pytest.mark.django_db
def test_the_suggestion_api_answers_the_pages_session_with_its_csrf_token(town, category_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(town.user(Role.GRID_LEADER))
    page = client.get("/cases/new/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    body = {"title": "", "description": "路灯不亮"}
    refused = client.post("/api/v1/categories/suggest/", body, content_type="application/json")
    assert refused.status_code == 403  # a session call without the token is refused
    answer = client.post("/api/v1/categories/suggest/", body, content_type="application/json",
                         HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 200
    data = answer.json()
    assert len(data["categories"]) == 3 and data["categories"][0]["name"] == "城乡建设"
    assert all(0 <= c["probability"] <= 1 for c in data["categories"])
    ids = {c["id"] for c in data["categories"]} | {n["id"] for n in data["nodes"]}
    assert None not in ids and Category.objects.filter(pk__in=ids).count() == len(ids)  # chips can be tapped


@pytest.mark.django_db
def test_the_form_submits_without_javascript_with_or_without_a_tapped_suggestion(client, town, category_model):
    client.force_login(town.user(Role.GRID_LEADER))
    response = client.post("/cases/new/", form_data(town))
    assert response.status_code == 302
    assert Case.objects.latest("pk").category is None  # nothing typed into the picker: nothing chosen
    lamp = Category.objects.filter(level=3).order_by("pk").first()  # a tapped chip posts its node id
    response = client.post("/cases/new/", form_data(town, category=lamp.pk, description="小区路灯坏了"))
    assert response.status_code == 302 and Case.objects.latest("pk").category == lamp
