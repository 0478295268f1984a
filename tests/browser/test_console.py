"""The console's sign-in, dashboard and language switch in a real browser (issue 20; what
the browser tests share is in ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import builders as b
from tests import support
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.bootstrap import bootstrap
from xinbao.entrypoints.console import i18n


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server on loopback over a small book: two funders' applications decided."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow)
    b.issued_policy(container.uow)
    add_user(container, "wang.fin", ["finance", "auditor"], display_name="王芳")
    with serving(container) as base_url:
        yield base_url
    container.close()


@pytest.fixture
def page(console: str, browser) -> object:
    return browser(console)


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
    # No message shown in Chinese stays Chinese after the switch.
    zh = i18n.translations("zh_CN")
    shown = [m for m in _messages()  # two characters can be part of a longer word
             if zh.gettext(m) != m and len(zh.gettext(m)) > 2 and zh.gettext(m) in chinese]
    assert len(shown) > 15
    assert [zh.gettext(m) for m in shown if zh.gettext(m) in english] == []

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
    assert page.url == f"{console}/console/"


def _messages() -> list[str]:
    with i18n.catalog_path("zh_CN").open("rb") as f:
        from babel.messages.pofile import read_po

        return [m.id for m in read_po(f) if m.id]
