"""The console's claims pages in a real browser (issues 20, 22): a claims handler opens a
claim that claim anti-fraud refers to a person (a first-payment default), is refused its
approval and its payment by the four-eyes rule; an approver approves it and may not pay it;
a third person pays it (what the browser tests share is in ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from tests import builders as b
from tests import support
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.bootstrap import bootstrap
from xinbao.entrypoints.console import web
from xinbao.policy.model import Policy


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Policy, date]]:
    """A server on loopback over one issued policy whose borrower paid nothing: 95 days
    after the first due date it is past the product's claim trigger (80 days). Yields the
    server's URL, the policy and that date."""
    url = f"sqlite:///{tmp_path_factory.mktemp('claims') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow)
    policy = b.issued_policy(container.uow)
    with container.uow() as u:
        notice_on = u.loans.get(policy.loan_id).installments[0].due_date + timedelta(days=95)
    add_user(container, "qian.claims", ["claims_adjuster"], display_name="钱理赔")
    add_user(container, "sun.approver", ["claims_approver"], display_name="孙审批")
    add_user(container, "zhou.pay", ["claims_approver"], display_name="周付款")
    with serving(container) as base_url:
        yield base_url, policy, notice_on
    container.close()


def test_a_claims_handler_opens_a_claim_and_another_pays_it(console, browser):
    base_url, policy, notice_on = console
    handler = browser(base_url, "en")
    sign_in(handler, "qian.claims", language="en")
    handler.get_by_role("link", name="Claims").click()
    handler.wait_for_url("**/console/claims")
    assert handler.get_by_role("heading", level=1).inner_text() == "Claims"

    handler.get_by_label("Policy number or id").fill(policy.policy_no)
    handler.get_by_label("Date of the claim notice").fill(notice_on.isoformat())
    shot(handler, "claims-list.en")
    handler.get_by_role("button", name="Open the claim").click()
    handler.wait_for_url("**/console/claims/*?done=opened")
    claim_url = handler.url.split("?")[0]
    assert handler.get_by_role("status").inner_text() == "The claim was opened."
    assert "Under review" in handler.get_by_role("heading", level=1).inner_text()
    assert handler.get_by_text("CLM-FRAUD-FPD").first.is_visible()  # referred to a person
    assert handler.get_by_text("user:qian.claims").is_visible()
    shot(handler, "claims-opened.en")

    handler.get_by_role("button", name="Approve").click()
    handler.wait_for_load_state()
    assert handler.get_by_role("heading", level=1).inner_text() == "Not allowed"
    assert "four-eyes" in handler.get_by_role("alert").inner_text()
    shot(handler, "claims-four-eyes.en")

    approver = browser(base_url, "en")
    sign_in(approver, "sun.approver", language="en")
    approver.goto(claim_url)
    approver.get_by_label("Note").fill("the borrower's employer closed")
    approver.get_by_role("button", name="Approve").click()
    approver.wait_for_url("**?done=approved")
    assert approver.get_by_role("status").inner_text() == "The claim is approved."
    assert "Approved" in approver.get_by_role("heading", level=1).inner_text()
    # The forms' dates are today's: the claim was approved today, and is paid today.
    approver.get_by_role("button", name="Pay").click()
    approver.wait_for_load_state()
    assert "four-eyes" in approver.get_by_role("alert").inner_text()  # it approved the claim

    payer = browser(base_url, "en")
    sign_in(payer, "zhou.pay", language="en")
    payer.goto(claim_url)
    payer.get_by_role("button", name="Pay").click()
    payer.wait_for_url("**?done=paid")
    assert payer.get_by_role("status").inner_text() == "The claim is paid."
    assert "Paid" in payer.get_by_role("heading", level=1).inner_text()
    payment = payer.get_by_role("region", name="Payment").inner_text()
    assert web.today().isoformat() in payment and "user:zhou.pay" in payment
    assert payer.get_by_role("button", name="Pay").count() == 0
    shot(payer, "claims-paid.en")

    approver.goto("/console/claims?status=paid")
    assert approver.locator("table.list tbody tr").count() == 1
    row = approver.get_by_role("link", name=f"Claim {claim_url.rsplit('/', 1)[1]}")
    assert row.get_attribute("href") == claim_url.removeprefix(base_url)
    shot(approver, "claims-list-paid.en")
