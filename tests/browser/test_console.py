"""The console in a real browser: Playwright's Python package driving Debian's chromium
(never a browser Playwright downloads), headless, against a server this test starts on
loopback (issue 20).

``make test`` installs chromium and a CJK font from Debian when missing
(``scripts/browser-deps.sh``). Without them the tests fail under ``make test`` and in CI
(``XINBAO_REQUIRE_BROWSER``, ``CI``), and are skipped with the reason elsewhere. Every page
visited is saved as a screenshot per language under ``out/test/screenshots/``, to be looked
at.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container, bootstrap
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.console import i18n
from xinbao.iam import services as accounts

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "test" / "screenshots"
PASSWORD = "a long enough passphrase"


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed (scripts/browser-deps.sh installs it)"
        if os.environ.get("XINBAO_REQUIRE_BROWSER") or os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    """A server on loopback over a small book: two funders' applications decided."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow)
    b.issued_policy(container.uow)
    now = support_now()
    accounts.add_user(accounts.AddUser("wang.fin", "王财务", PASSWORD, ["finance", "auditor"]),
                      container.uow(), container.credentials, now=now)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://localhost:{port}", container
    server.should_exit = True
    thread.join(10)
    container.close()


def support_now():
    from xinbao.entrypoints.api.deps import utcnow
    return utcnow()


@pytest.fixture
def page(console: tuple[str, Container]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox"])
        context = browser.new_context(base_url=console[0], locale="zh-CN",
                                      viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, username: str) -> None:
    page.goto("/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/")


def test_a_finance_user_signs_in_reads_the_dashboard_and_switches_language(page):
    page.goto("/console/login")
    shot(page, "login.zh_CN")
    sign_in(page, "wang.fin")

    assert page.get_by_role("heading", level=1).inner_text() == "总览"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_text("签单保费（元）").is_visible()
    chinese = page.locator("main").inner_text() + page.locator("header").inner_text()
    shot(page, "dashboard.zh_CN")

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/console/")
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
    assert page.locator("html").get_attribute("lang") == "en"
    english = page.locator("main").inner_text() + page.locator("header").inner_text()
    shot(page, "dashboard.en")
    # Every message shown in Chinese is shown in English after the switch, and none stays.
    zh = i18n.translations("zh_CN")
    shown = [m for m in _messages() if zh.gettext(m) != m and zh.gettext(m) in chinese]
    assert len(shown) > 15
    assert [zh.gettext(m) for m in shown if zh.gettext(m) in english] == []
    assert all(m in english for m in shown if "%(" not in m)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/login")
    shot(page, "login.en")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"


def test_the_console_is_usable_by_keyboard(page):
    sign_in(page, "wang.fin")
    page.keyboard.press("Tab")  # the brand link first, then the menu
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "信保"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "总览"


def test_the_language_switch_never_sends_anyone_off_the_console(page, console):
    sign_in(page, "wang.fin")
    page.goto("/console/language/en?next=https://example.org/")
    assert page.url == f"{console[0]}/console/"


def _messages() -> list[str]:
    with i18n.catalog_path("zh_CN").open("rb") as f:
        from babel.messages.pofile import read_po

        return [m.id for m in read_po(f) if m.id]
