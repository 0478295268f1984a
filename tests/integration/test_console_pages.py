"""The console's dashboard over HTTP: what each reader may see, the alerts, the language
(issue 20; the same pages in a real browser: ``tests/browser``)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests import builders as b
from tests import support
from tests.unit import test_report_html
from xinbao.bootstrap import Container
from xinbao.catalogue import services as catalogue
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.api.deps import utcnow
from xinbao.entrypoints.console import i18n, routes
from xinbao.iam import services as accounts
from xinbao.reporting import html as report
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RunEndOfDay
from xinbao.simulation.identities import IdentityFactory
from xinbao.underwriting import services as applications
from xinbao.underwriting import tables as underwriting_tables

PASSWORD = support.CONSOLE_PASSWORD
sign_in, csrf_of = support.console_sign_in, support.csrf_of


@pytest.fixture
def console(decided_container: Container) -> Iterator[tuple[Container, TestClient]]:
    with TestClient(create_app(decided_container), base_url="https://testserver") as client:
        yield decided_container, client




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


def english(client: TestClient) -> None:
    """Read the console in English (the Chinese catalog gains the new messages later)."""
    client.cookies.set(i18n.LANG_COOKIE, "en")


def charts_of(html: str) -> dict[str, ET.Element]:
    """The dashboard's inline SVG charts by id, parsed (so they are well-formed)."""
    return {svg.get("id", ""): svg
            for svg in map(ET.fromstring, re.findall(r"<svg\b.*?</svg>", html, flags=re.S))}


def test_the_dashboard_draws_the_portfolio_charts_labelled_in_the_readers_language(console):
    container, client = console
    b.issued_policy(container.uow)
    for month_end in (date(2025, 1, 31), date(2025, 2, 28)):  # premium earned, a vintage ages
        servicing.run_end_of_day(RunEndOfDay(month_end), container.uow())
    sign_in(container, client, "wang.fin", ["finance"])
    english(client)

    page = client.get("/console/")

    assert page.status_code == 200
    charts = charts_of(page.text)
    assert list(charts) == ["chart-premium", "chart-claims", "chart-loss-ratio",
                            "chart-vintages"]
    for chart_id, svg in charts.items():
        # Named for assistive technology by its own title element.
        assert svg.get("role") == "img"
        assert svg.get("aria-labelledby") == f"{chart_id}-title"
        assert svg.find(f"title[@id='{chart_id}-title']") is not None
    titles = {i: "".join(svg.find("title").itertext()) for i, svg in charts.items()}
    assert titles == {"chart-premium": "Monthly written and earned premium",
                      "chart-claims": "Monthly claims paid and recoveries",
                      "chart-loss-ratio": "Loss ratio (claims incurred ÷ earned premium)",
                      "chart-vintages": "Cumulative default rate by vintage"}
    premium = charts["chart-premium"]
    texts = [t.text for t in premium.iter("text")]
    assert "Written premium" in texts and "Earned premium" in texts and "yuan" in texts
    bars = [r for r in premium.iter("rect") if r.get("class") == "bar"]
    assert bars and any("Written premium:" in (r.findtext("title") or "") for r in bars)
    assert "months on book" in [t.text for t in charts["chart-vintages"].iter("text")]


def test_the_charts_texts_are_all_in_the_console_s_catalog_list(console):
    """Every text the charts ask to translate is listed in ``routes.CHART_MESSAGES``,
    where the catalogs' extractor finds it (else it would stay English in Chinese)."""
    container, client = console
    asked: set[str] = set()

    def spy(message: str) -> str:
        asked.add(message)
        return message

    report.chart_figures(monthly=test_report_html.monthly(),
                         vintages=test_report_html.vintages(count=8), gettext=spy)
    report.chart_figures(monthly=test_report_html.monthly([]),
                         vintages=test_report_html.vintages(count=0), gettext=spy)
    for scale in (10**5, 10**8, 10**11, 10**14):
        report.chart_figures(monthly=test_report_html.monthly(
            [("2025-01", scale, scale, 0, 0, 0)]), vintages=test_report_html.vintages(),
            gettext=spy)

    assert len(asked) >= 20
    assert asked <= set(routes.CHART_MESSAGES)


def test_the_dashboard_without_business_yet_says_no_data_where_a_chart_has_none(console):
    container, client = console
    sign_in(container, client, "li.actuary", ["actuary"])
    english(client)

    page = client.get("/console/")

    assert page.status_code == 200
    # Only the paid-in capital is in the ledger: months with no premium, no policy yet.
    assert list(charts_of(page.text)) == ["chart-premium", "chart-claims"]
    assert page.text.count('<p class="no-data">no data</p>') == 2
    assert "<figcaption>Cumulative default rate by vintage</figcaption>" in page.text


def test_an_application_the_engine_failed_to_decide_is_a_red_alert_to_referred_ones(console):
    container, client = console
    first, poisoned = (applications.submit_application(
        b.consumer_application(external_ref=f"APP-{i}", borrower_id_number=id_number),
        container.uow()).id for i, id_number in enumerate(
            IdentityFactory(20).resident_id(born_between=(date(1975, 1, 1), date(1995, 1, 1)))
            for _ in range(2)))
    with container.engine.begin() as conn:
        # A stored income the engine computes with but no decision record can hold (as in
        # test_decision_failures): the decision fails and the application is referred.
        conn.execute(update(underwriting_tables.applications)
                     .where(underwriting_tables.applications.c.id == poisoned)
                     .values(monthly_income_fen=2 ** 63 - 1))
    for application_id in (first, poisoned):
        approval.approve_application(ApproveApplication(application_id, b.START),
                                     container.uow(), container.risk)
    sign_in(container, client, "wang.risk", ["risk_manager"])
    english(client)

    page = client.get("/console/")

    failed = re.search(r'<li class="alert red"><a href="([^"]+)">([^<]+)</a></li>', page.text)
    assert failed, page.text
    assert failed.groups() == ("/console/applications?status=referred",
                               "Applications the engine failed to decide, referred: 1")
    # A risk manager may not review referrals: the alert leads to the referred applications.
    waiting = re.search(r'<li class="alert amber"><a href="([^"]+)">([^<]+)</a></li>',
                        page.text)
    assert waiting and waiting.groups() == ("/console/applications?status=referred",
                                            "Referrals waiting for review: 1")


def test_an_underwriter_is_alerted_to_referrals_and_led_to_the_queue_without_figures(console):
    container, client = console
    application = applications.submit_application(b.consumer_application(), container.uow())
    b.approve(container.uow, application.id, risk=b.engine(scorer=b.FixedScorer("0.15")))
    sign_in(container, client, "zhao.uw", ["underwriter"])
    english(client)

    page = client.get("/console/")

    assert page.status_code == 200
    assert ('<li class="alert amber"><a href="/console/referrals">Referrals waiting for '
            'review: 1</a></li>') in page.text
    assert "Key figures" not in page.text and charts_of(page.text) == {}
    assert "LIM-" not in page.text


def test_a_funder_s_user_is_alerted_only_to_its_own_referrals(console):
    container, client = console
    catalogue.register_funder(b.bank("BANK-B"), container.uow())
    referring = b.engine(scorer=b.FixedScorer("0.15"))
    for funder, ref in (("BANK-A", "A-1"), ("BANK-B", "B-1"), ("BANK-B", "B-2")):
        application = applications.submit_application(b.consumer_application(
            funder_code=funder, external_ref=ref), container.uow())
        b.approve(container.uow, application.id, risk=referring)
    accounts.add_user(accounts.AddUser("bank.a", "bank.a", PASSWORD, ["funder"],
                                       funder_code="BANK-A"),
                      container.uow(), container.credentials, now=utcnow())
    page = client.get("/console/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/console/login", data={"username": "bank.a", "password": PASSWORD,
                                        "csrf_token": token})
    english(client)

    page = client.get("/console/")

    assert ('<li class="alert amber"><a href="/console/applications?status=referred">'
            'Referrals waiting for review: 1</a></li>') in page.text
    assert "Key figures" not in page.text and charts_of(page.text) == {}


@pytest.mark.parametrize("path", [
    "/console/applications/99999999999999999999", "/console/policies/99999999999999999999",
    "/console/claims/99999999999999999999", "/console/finance/entries/99999999999999999999",
    "/console/applications/0", "/console/policies/-1", "/console/claims/abc"])
def test_an_id_no_record_can_have_is_a_page_that_says_so_never_a_server_error(console, path):
    container, client = console
    sign_in(container, client, "chen.all", ["auditor"])

    answer = client.get(path)

    assert answer.status_code == 422 and "<h1>" in answer.text


def test_a_rotate_form_with_a_time_no_page_showed_is_refused_with_its_rule(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])
    accounts.add_client(accounts.AddClient("bank-a-1", "Bank A", ["funder"], "BANK-A"),
                        container.uow(), container.credentials, now=utcnow())

    answer = client.post("/console/admin/clients/bank-a-1/rotate",
                         data={"csrf_token": token, "seen": "2025-13-45T99:99:99"})

    assert answer.status_code == 422 and "client.seen" in answer.text


def test_signing_out_needs_the_sessions_token_and_ends_the_session(console):
    container, client = console
    token = sign_in(container, client, "chen.fin", ["finance"])

    cookie = client.cookies.get("xinbao_session")
    forged = client.post("/console/logout", data={"csrf_token": "forged"},
                         follow_redirects=False)
    still = client.get("/console/", follow_redirects=False)
    out = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)

    assert forged.status_code == 403 and still.status_code == 200
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    client.cookies.set("xinbao_session", cookie)  # kept by a browser: the server ended it
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_the_dashboard_shows_net_figures_and_the_retained_liability_net_of_reinsurance(
        console):
    from xinbao.kernel.money import apply_rate
    from xinbao.reinsurance.services import close_reinsurance, shipped
    from xinbao.reporting import services as reporting

    container, client = console
    b.issued_policy(container.uow, b.car_application())  # 720,000 fen written
    close_reinsurance(container.uow(), through=date(2025, 1, 31))
    sign_in(container, client, "wang.fin", ["finance"])
    english(client)

    page = client.get("/console/").text

    statement = reporting.portfolio_kpis(container.uow()).statement
    assert statement.net_written_premium_fen < 720_000
    assert "Net written premium (yuan)" in page
    assert i18n.yuan(statement.net_written_premium_fen, "en") in page
    row = re.search(r'<th scope="row">\s*Retained liability net of reinsurance.*?</tr>', page,
                    flags=re.S)
    assert row is not None
    with container.uow() as u:
        retained = sum(c.used_fen for c in u.counters.fullest() if c.dimension == "retained")
    net = retained - apply_rate(retained, shipped().quota_share_on(date.today()))
    assert i18n.yuan(net, "en") in row.group(0)
