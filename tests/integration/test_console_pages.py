"""The console's dashboard over HTTP: what each reader may see, the alerts, the language
(issue 20; the same pages in a real browser: ``tests/browser``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from xinbao.bootstrap import Container
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.api.deps import utcnow
from xinbao.entrypoints.console import i18n
from xinbao.iam import services as accounts
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.underwriting import services as applications

PASSWORD = "a long enough passphrase"


@pytest.fixture
def console(decided_container: Container) -> Iterator[tuple[Container, TestClient]]:
    with TestClient(create_app(decided_container), base_url="https://testserver") as client:
        yield decided_container, client


def sign_in(container: Container, client: TestClient, username: str, roles: list[str]) -> None:
    accounts.add_user(accounts.AddUser(username, username, PASSWORD, roles), container.uow(),
                      container.credentials, now=utcnow())
    page = client.get("/console/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                 "csrf_token": token}, follow_redirects=False)
    assert signed.status_code == 303


def test_a_reader_of_reports_sees_key_figures_and_limits_in_chinese(console):
    container, client = console
    b.issued_policy(container.uow)
    sign_in(container, client, "wang.fin", ["finance"])

    page = client.get("/console/")

    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "关键指标" in page.text and "自留责任余额" in page.text
    assert "暂无需要处理的事项。" in page.text


def test_who_may_not_read_reports_sees_no_figures(console):
    container, client = console
    sign_in(container, client, "zhao.uw", ["underwriter"])

    page = client.get("/console/")

    assert page.status_code == 200
    assert "关键指标" not in page.text and "LIM-" not in page.text
    assert "underwriter" in page.text


def test_a_referral_waiting_is_an_alert(console):
    container, client = console
    application = applications.submit_application(b.consumer_application(), container.uow())
    decided = approval.approve_application(ApproveApplication(application.id, b.START),
                                           container.uow(), b.engine(scorer=b.FixedScorer("0.15")))
    assert decided.application.status.value == "referred"
    sign_in(container, client, "wang.risk", ["risk_manager"])

    page = client.get("/console/")

    assert "待人工审核的转介：1 笔" in page.text


def test_the_language_is_the_readers_choice_and_an_unknown_one_is_chinese(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])

    switched = client.get("/console/language/en?next=/console/", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/console/"
    assert "Key figures" in client.get("/console/").text

    for cookie in [c for c in client.cookies.jar if c.name == i18n.LANG_COOKIE]:
        cookie.value = "xx"  # a language the console does not have
    assert "关键指标" in client.get("/console/").text
