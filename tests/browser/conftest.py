"""What the browser tests share: a server on loopback over a container, Debian's chromium
driven by Playwright, screenshots and signing in (issue 20).

``make test`` installs chromium and a CJK font from Debian when missing
(``scripts/browser-deps.sh``). Without them the tests fail under ``make test`` and in CI
(``XINBAO_REQUIRE_BROWSER``, ``CI``), and are skipped with the reason elsewhere. Pages are
saved as screenshots under ``out/test/screenshots/``, to be looked at.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from xinbao.bootstrap import Container
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.api.deps import utcnow
from xinbao.iam import services as accounts

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "test" / "screenshots"
PASSWORD = "a long enough passphrase"
#: The sign-in form's labels and button in each language.
_SIGN_IN = {"zh-CN": ("用户名", "密码", "登录"), "en": ("User name", "Password", "Sign in")}


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed (scripts/browser-deps.sh installs it)"
        if os.environ.get("XINBAO_REQUIRE_BROWSER") or os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@contextmanager
def serving(container: Container) -> Iterator[str]:
    """The API and console over ``container`` on a free loopback port; its base URL."""
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
    try:
        yield f"http://localhost:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def add_user(container: Container, username: str, roles: list[str], *,
             display_name: str | None = None, funder_code: str | None = None) -> None:
    accounts.add_user(accounts.AddUser(username, display_name or username, PASSWORD, roles,
                                       funder_code=funder_code),
                      container.uow(), container.credentials, now=utcnow())


@pytest.fixture
def browser() -> Iterator[Callable[..., object]]:
    """``browser(base_url, locale="zh-CN")``: a new page in its own browser context (its own
    cookies: one person each); all closed after the test."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox"])
        contexts = []

        def new_page(base_url: str, locale: str = "zh-CN") -> object:
            context = launched.new_context(base_url=base_url, locale=locale,
                                           viewport={"width": 1280, "height": 900})
            contexts.append(context)
            return context.new_page()

        yield new_page
        for context in contexts:
            context.close()
        launched.close()


def shot(page, name: str) -> None:
    """Save the whole page as ``out/test/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, username: str, *, language: str = "zh-CN") -> None:
    """Sign in on the form in ``language`` (zh-CN or en); the console then speaks it."""
    page.goto("/console/login")
    if language == "en":
        page.goto("/console/language/en?next=/console/login")
    user, password, button = _SIGN_IN[language]
    page.get_by_label(user).fill(username)
    page.get_by_label(password).fill(PASSWORD)
    page.get_by_role("button", name=button).click()
    page.wait_for_url("**/console/")
