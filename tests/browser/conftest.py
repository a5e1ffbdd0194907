"""Browser tests (issue 6): Playwright's sync API driving Debian's Chromium (``/usr/bin/chromium``, from the
``chromium`` package that ``.ci/run`` installs from ``.ci/apt-packages``; no browser is downloaded) against
pytest-django's ``live_server``. Screenshots go to ``test-artifacts/screenshots/`` (git-ignored).

Playwright's sync API runs an asyncio loop in the test thread, so Django's guard against ORM calls from
async code is lifted (``DJANGO_ALLOW_ASYNC_UNSAFE``) while a browser is open; the tests still touch the
database only between page steps, never concurrently with the server thread's transactions.
"""
import os
from pathlib import Path

import pytest

from tests import factories

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("XIJI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (headless, no sandbox: tests run as root in CI)."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def town(transactional_db):
    """The seeded town with the personas of ``tests.factories`` (committed: the live server sees it)."""
    return factories.build_town()


class Session:
    """One person's browser context at one viewport, logged in through the login page."""

    def __init__(self, browser, base_url: str, viewport: dict, locale: str = "zh-CN"):
        self.base_url = base_url
        self.context = browser.new_context(viewport=viewport, locale=locale,
                                           extra_http_headers={"Accept-Language": locale})
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.width = viewport["width"]

    def go(self, path: str):
        self.page.goto(self.base_url + path)
        return self.page

    def login(self, username: str, password: str = factories.PASSWORD):
        page = self.go("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        return page

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as ``test-artifacts/screenshots/<name>-<width>.png``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def overflow(self) -> int:
        """How many CSS pixels the page is wider than the viewport (0: nothing to scroll sideways)."""
        return self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

    def close(self):
        self.context.close()


@pytest.fixture
def session(browser, live_server):
    """``session(viewport, locale=…)`` opens a fresh logged-out browser context; all are closed afterwards."""
    opened = []

    def open_session(viewport=PHONE, locale="zh-CN") -> Session:
        s = Session(browser, live_server.url, viewport, locale)
        opened.append(s)
        return s

    yield open_session
    for s in opened:
        assert not s.errors, f"JavaScript errors: {s.errors}"
        s.close()
