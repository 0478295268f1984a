"""The console's policies pages in a real browser (issue 20): a funder's user sees its own
business and gets a 404 page on another funder's address; the insurer's staff see both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import builders as b
from tests import support
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.bootstrap import bootstrap


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over two funders with a policy each: BANK-A's (1) and BANK-B's (2)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('policies') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow, funders=(b.bank("BANK-A"), b.bank("BANK-B")))
    b.issued_policy(container.uow, b.car_application())
    b.issued_policy(container.uow, b.consumer_application(funder_code="BANK-B",
                                                          external_ref="APP-B-1"))
    add_user(container, "bank.a", ["funder"], display_name="Bank A clerk",
             funder_code="BANK-A")
    add_user(container, "li.audit", ["auditor"], display_name="Li Audit")
    with serving(container) as base_url:
        yield base_url
    container.close()


def listed(page) -> list[str]:
    """The policy numbers in the list's rows, in order."""
    return page.locator("table.list tbody td:first-child a").all_inner_texts()


def test_a_funder_user_sees_its_own_business_and_gets_404_on_another_funders_url(
        console, browser):
    funder = browser(console, "en")
    sign_in(funder, "bank.a", language="en")

    funder.get_by_role("link", name="Policies").click()
    funder.wait_for_url("**/console/policies")
    assert funder.get_by_role("heading", level=1).inner_text() == "Policies"
    assert listed(funder) == ["XB00000000018"]
    shot(funder, "policies-list-funder.en")

    funder.get_by_role("link", name="XB00000000018").click()
    funder.wait_for_url("**/console/policies/1")
    assert funder.get_by_role("heading", level=1).inner_text().startswith(
        "Policy XB00000000018")
    assert funder.get_by_role("table", name="Repayment schedule").is_visible()
    assert funder.locator("#ledger").count() == 0  # a funder does not read the ledger
    shot(funder, "policies-detail-funder.en")
    with funder.expect_download() as download:
        funder.get_by_role("link", name="E-policy (PDF)").click()
    saved = download.value
    assert saved.suggested_filename == "XB00000000018.pdf"
    assert Path(saved.path()).read_bytes().startswith(b"%PDF-")
    funder.reload()
    assert "E-policy first issued on" in funder.locator("#epolicy-issued").inner_text()

    refused = funder.goto("/console/policies/2")
    assert refused is not None and refused.status == 404
    assert funder.get_by_role("heading", level=1).inner_text() == "Not found"
    assert "XB00000000026" not in funder.locator("main").inner_text()
    shot(funder, "policies-404-funder.en")

    # Its applications and their decisions too: its own only, the other's a 404.
    funder.get_by_role("link", name="Applications").first.click()
    funder.wait_for_url("**/console/applications")
    rows = funder.locator("table.list tbody a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    assert "/console/applications/1" in rows and "/console/applications/2" not in rows
    refused = funder.goto("/console/applications/2")
    assert refused is not None and refused.status == 404
    assert funder.get_by_role("heading", level=1).inner_text() == "Not found"
    shot(funder, "applications-404-funder.en")


def test_the_insurers_staff_see_both_funders_and_sort_by_cover(console, browser):
    staff = browser(console, "en")
    sign_in(staff, "li.audit", language="en")

    staff.goto("/console/policies")
    assert listed(staff) == ["XB00000000026", "XB00000000018"]

    staff.get_by_role("link", name="Sum insured (yuan)").click()
    staff.wait_for_url("**dir=asc**")
    assert listed(staff) == ["XB00000000026", "XB00000000018"]  # 36,000 before 120,000
    staff.get_by_role("link", name="Sum insured (yuan)").click()
    staff.wait_for_url("**dir=desc**")
    assert listed(staff) == ["XB00000000018", "XB00000000026"]
    staff.get_by_label("Status").select_option("in_force")
    staff.get_by_role("button", name="Filter").click()
    staff.wait_for_url("**status=in_force**")
    assert "sort=cover" in staff.url and len(listed(staff)) == 2
    shot(staff, "policies-list-staff.en")

    staff.goto("/console/policies/1")
    premium = staff.get_by_role("region", name="Premium")
    assert premium.get_by_text("VAT on premium (yuan)").is_visible()
    assert staff.locator("#ledger").is_visible()
    assert staff.get_by_role("table", name="Journal entries about this policy").is_visible()
    shot(staff, "policies-detail-staff.en")


def test_the_borrower_search_posts_the_id_number_and_keeps_it_out_of_the_address(console,
                                                                                browser):
    staff = browser(console, "en")
    sign_in(staff, "li.audit", language="en")
    staff.goto("/console/policies")

    staff.get_by_label("Borrower's ID number").fill(b.RESIDENT_ID_2)
    staff.get_by_label("Borrower's ID number").press("Enter")
    staff.wait_for_url("**/console/policies/borrower")

    assert staff.get_by_role("heading", level=1).inner_text() == "A borrower's policies"
    assert listed(staff) == ["XB00000000018", "XB00000000026"]
    assert b.RESIDENT_ID_2 not in staff.url
    assert b.RESIDENT_ID_2 not in staff.content()
    shot(staff, "policies-borrower.en")

