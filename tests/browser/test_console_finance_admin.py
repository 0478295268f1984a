"""Finance, the audit trail and administration in a real browser (issue 20): an auditor reads
everything and changes nothing; an administrator creates an API client, sees its secret
once, rotates it and disables it (what the browser tests share: ``conftest.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests import builders as b
from tests import support
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.bootstrap import bootstrap


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server on loopback over a small book: capital paid in and a policy whose premium
    was posted at issue; an auditor and an administrator."""
    url = f"sqlite:///{tmp_path_factory.mktemp('finance') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow)
    b.issued_policy(container.uow, b.car_application())
    add_user(container, "li.audit", ["auditor"], display_name="李审计")
    add_user(container, "root.admin", ["admin"], display_name="Admin")
    with serving(container) as base_url:
        yield base_url
    container.close()


def no_write_controls(page) -> None:
    """Nothing on the page's main part posts (its forms read: filters)."""
    assert page.locator("main form[method='post']").count() == 0
    assert all((f.get_attribute("method") or "get").lower() == "get"
               for f in page.locator("main form").all())


def test_an_auditor_reads_everything_and_changes_nothing(console, browser):
    page = browser(console, "en")
    sign_in(page, "li.audit", language="en")

    page.get_by_role("link", name="Finance").click()
    page.wait_for_url("**/console/finance")
    assert page.get_by_role("heading", level=1).inner_text() == "Trial balance"
    assert page.locator("#balanced").inner_text() == "Balanced"
    assert page.locator("#total-debit").inner_text() == page.locator("#total-credit").inner_text()
    no_write_controls(page)
    shot(page, "finance-trial-balance.en")

    page.get_by_role("link", name="Journal entries").click()
    page.get_by_label("Account").select_option("6031")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*account=6031.*"))
    assert page.locator("tbody.entry").count() == 1
    no_write_controls(page)
    shot(page, "finance-entries.en")
    page.locator("tbody.entry th a").first.click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Journal entry ")
    assert page.get_by_text("policy:1").is_visible()
    no_write_controls(page)
    shot(page, "finance-entry.en")

    page.get_by_role("link", name="Audit trail").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Audit trail"
    assert page.locator("main table.list tbody tr").count() > 5
    no_write_controls(page)
    shot(page, "audit-trail.en")
    page.get_by_role("button", name="Verify the chain").click()
    page.wait_for_url(re.compile(r".*/console/audit/verify\??$"))
    assert "The chain is intact" in page.locator("#verdict").inner_text()
    no_write_controls(page)
    shot(page, "audit-verify.en")

    assert page.get_by_role("link", name="Administration").count() == 0
    for url in ("/console/admin", "/console/admin/clients"):
        answer = page.goto(url)
        assert answer.status == 403
        assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"
    shot(page, "admin-refused.en")


def test_an_admin_creates_a_client_sees_its_secret_once_rotates_and_disables_it(console,
                                                                              browser):
    page = browser(console, "en")
    sign_in(page, "root.admin", language="en")
    page.get_by_role("link", name="Administration").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Users"
    shot(page, "admin-users.en")

    page.get_by_role("link", name="API clients").click()
    page.get_by_label("Client id").fill("bank-a-1")
    page.get_by_label("Name", exact=True).fill("Bank A loans")
    page.get_by_label("Funder (for the funder role only)").select_option("BANK-A")
    assert page.get_by_label("Funder", exact=True).is_checked()
    page.get_by_role("button", name="Add the client").click()
    secret = page.locator("#secret").inner_text()
    assert len(secret) >= 40
    assert page.get_by_role("heading", name="Copy the secret now").is_visible()
    assert secret not in page.url
    shot(page, "admin-client-secret.en")

    page.goto("/console/admin/clients/bank-a-1")
    assert page.locator("#secret").count() == 0 and secret not in page.content()
    page.goto("/console/admin/clients")
    assert secret not in page.content()
    assert page.get_by_role("link", name="bank-a-1").is_visible()
    shot(page, "admin-clients.en")

    page.get_by_role("link", name="bank-a-1").click()
    page.get_by_role("button", name="Rotate the secret").click()
    rotated = page.locator("#secret").inner_text()
    assert rotated and rotated != secret
    page.get_by_role("button", name="Disable").click()
    page.wait_for_url("**/console/admin/clients/bank-a-1?done=disabled")
    assert page.get_by_text("The client was disabled.").is_visible()
    assert page.locator("dl.facts .badge.bad").inner_text() == "Disabled"
    assert page.get_by_role("button", name="Enable").is_visible()
    assert rotated not in page.content()
    shot(page, "admin-client-disabled.en")
