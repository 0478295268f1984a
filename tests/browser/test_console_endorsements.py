"""Endorsing a policy in a real browser (issue 23): an underwriting approver cancels a policy
from its page — refused with the rule without the insured's consent, then cancelled — and
sees the endorsement listed, in Chinese too; finance records a partial prepayment (a bad
amount refused with the rule) and an approver a restructuring with the insurer's consent,
each listed with its refund."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import builders as b
from tests import support
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.bootstrap import bootstrap


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """BANK-A's car policy (1, single premium) and an approver who may endorse it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('endorse') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow, funders=(b.bank("BANK-A"),))
    b.issued_policy(container.uow, b.car_application())
    b.issued_policy(container.uow, b.car_application(external_ref="APP-CAR-2",
                                                     borrower_id_number=b.RESIDENT_ID))
    add_user(container, "wu.uw", ["underwriting_approver"], display_name="Wu Underwriter")
    add_user(container, "qian.fin", ["finance"], display_name="Qian Finance")
    with serving(container) as base_url:
        yield base_url
    container.close()


def test_an_approver_cancels_a_policy_and_sees_the_endorsement(console, browser):
    page = browser(console, "en")
    sign_in(page, "wu.uw", language="en")
    page.goto("/console/policies/1")
    form = page.locator("form[action='/console/policies/1/cancel']")
    form.get_by_label("Effective on").fill("2025-01-20")
    form.get_by_label("Reason").fill("the borrower asked")
    form.get_by_role("button", name="Cancel the policy").click()
    assert "policy.insured_consent" in page.locator("main").inner_text()
    shot(page, "policies-cancel-refused.en")

    page.goto("/console/policies/1")
    form = page.locator("form[action='/console/policies/1/cancel']")
    form.get_by_label("Effective on").fill("2025-01-20")
    form.get_by_label("Reason").fill("the borrower asked")
    form.get_by_label("The insured funder consents").check()
    form.get_by_role("button", name="Cancel the policy").click()
    page.wait_for_url("**/console/policies/1?done=cancelled")

    assert page.get_by_role("status").first.inner_text() == (
        "The policy is cancelled; its refund is posted.")
    row = page.locator("#endorsements tbody tr").first.inner_text()
    assert "Cancellation" in row and "7,200.00" in row and "720.00" in row
    assert page.locator("form[action='/console/policies/1/cancel']").count() == 0
    shot(page, "policies-cancelled.en")

    chinese = browser(console)
    sign_in(chinese, "wu.uw")
    chinese.goto("/console/policies/1")
    assert "退保" in chinese.locator("#endorsements").inner_text()
    shot(chinese, "policies-cancelled.zh")


def test_finance_prepays_in_part_and_an_approver_restructures_with_consent(console, browser):
    page = browser(console, "en")
    sign_in(page, "qian.fin", language="en")
    page.goto("/console/policies/2")
    assert page.locator("form[action='/console/policies/2/restructure']").count() == 0
    form = page.locator("form[action='/console/policies/2/prepay-part']")
    form.get_by_label("Principal repaid (yuan)").fill("1.234")
    form.get_by_label("Funder's transaction number").fill("PP-WEB-1")
    form.get_by_label("Paid on").fill("2025-02-01")
    form.get_by_role("button", name="Record the partial prepayment").click()
    assert "amount.yuan" in page.locator("main").inner_text()

    page.goto("/console/policies/2")
    form = page.locator("form[action='/console/policies/2/prepay-part']")
    form.get_by_label("Principal repaid (yuan)").fill("30,000")
    form.get_by_label("Funder's transaction number").fill("PP-WEB-1")
    form.get_by_label("Paid on").fill("2025-02-01")
    form.get_by_role("button", name="Record the partial prepayment").click()
    page.wait_for_url("**/console/policies/2?done=prepaid")
    row = page.locator("#endorsements tbody tr").first.inner_text()
    assert "Partial prepayment" in row
    shot(page, "policies-prepaid-in-part.en")

    approver = browser(console, "en")
    sign_in(approver, "wu.uw", language="en")
    approver.goto("/console/policies/2")
    form = approver.locator("form[action='/console/policies/2/restructure']")
    form.get_by_label("New installments").fill("30")
    form.get_by_label("New annual rate (empty: the loan's)").fill("5%")
    form.get_by_label("Restructuring agreement number").fill("RS-WEB-1")
    form.get_by_label("Effective on").fill("2025-02-10")
    form.get_by_label("Reason").fill("hardship")
    form.get_by_label("The insurer consents").check()
    form.get_by_role("button", name="Record the restructuring").click()
    approver.wait_for_url("**/console/policies/2?done=restructured")
    rows = approver.locator("#endorsements tbody tr").all_inner_texts()
    assert "Restructuring" in rows[1] and "Partial prepayment" in rows[0]
    shot(approver, "policies-restructured.en")

    chinese = browser(console)
    sign_in(chinese, "wu.uw")
    chinese.goto("/console/policies/2")
    listed = chinese.locator("#endorsements").inner_text()
    assert "部分提前还款" in listed and "重组" in listed
