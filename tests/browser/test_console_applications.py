"""The applications pages and the referral queue in a real browser (issue 20): an
underwriter approves a referral above its authority and it waits for a second approver;
the same underwriter is refused with the rule (four eyes); an underwriting approver
completes it. What the browser tests share is in ``conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import builders as b
from tests import support
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.bootstrap import bootstrap
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.underwriting import services as applications


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A server on loopback over a small book: a consumer loan approved and a small
    business loan of 300,000 yuan referred (above an underwriter's 200,000 yuan)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('applications') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow)
    b.issued_policy(container.uow)
    sme = applications.submit_application(b.sme_application(), container.uow())
    approval.approve_application(ApproveApplication(sme.id, b.START), container.uow(),
                                 b.engine(scorer=b.FixedScorer("0.15")))
    add_user(container, "zhao.uw", ["underwriter"], display_name="Zhao Lei")
    add_user(container, "chen.approver", ["underwriting_approver"], display_name="Chen Jing")
    with serving(container) as base_url:
        yield base_url, sme.id
    container.close()


def test_the_list_filters_and_links_to_each_application(console, browser):
    base_url, sme = console
    page = browser(base_url, "en")
    sign_in(page, "zhao.uw", language="en")
    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Applications").click()
    page.wait_for_url("**/console/applications")
    assert page.get_by_role("heading", level=1).inner_text() == "Applications"
    shot(page, "applications-list.en")
    assert serious_violations(page) == []

    assert page.locator("table.list tbody tr").count() == 2
    page.get_by_label("Product").select_option("SME-C")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**product=SME-C**")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1 and "SME-C" in rows.inner_text()

    page.get_by_role("link", name=str(sme), exact=True).click()
    page.wait_for_url(f"**/console/applications/{sme}")
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Application {sme}")
    assert page.get_by_text("SCR-PD-REFER").first.is_visible()
    shot(page, "applications-decision.en")
    assert serious_violations(page) == []


def test_above_authority_a_second_underwriter_approves_and_the_first_is_refused(console,
                                                                                browser):
    base_url, sme = console
    first = browser(base_url, "en")
    sign_in(first, "zhao.uw", language="en")
    first.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Referrals").click()
    first.wait_for_url("**/console/referrals")
    assert "Referrals waiting: 1" in first.locator("caption").inner_text()
    shot(first, "applications-referrals.en")
    assert serious_violations(first) == []

    first.get_by_label(f"Note on {sme}").fill("Strong business, accounts verified")
    first.get_by_role("button", name="Approve").click()
    first.wait_for_url(f"**/console/applications/{sme}?done=recommended")
    assert "waiting for a second approver" in first.get_by_role("status").first.inner_text()
    assert first.get_by_text("Waiting for a second approver: recommended by "
                             "user:zhao.uw").is_visible()
    shot(first, "applications-waiting.en")

    first.get_by_label("Note (why)").fill("Approving it myself after all")
    first.get_by_role("button", name="Approve").click()
    assert first.get_by_role("heading", level=1).inner_text() == "Not allowed"
    assert "maker ≠ checker" in first.locator("main").inner_text()
    shot(first, "applications-refused.en")

    second = browser(base_url, "en")
    sign_in(second, "chen.approver", language="en")
    second.goto(f"/console/applications/{sme}")
    second.get_by_label("Note (why)").fill("Second approval: within my authority")
    second.get_by_role("button", name="Approve").click()
    second.wait_for_url(f"**/console/applications/{sme}?done=approved")
    assert second.get_by_role("status").first.inner_text() == "The referral is approved."
    assert "Approved" in second.get_by_role("heading", level=1).inner_text()
    assert second.get_by_role("button", name="Approve").count() == 0
    shot(second, "applications-approved.en")
