"""The funders' premium settlement statements in a real browser (issue 23): finance sees
BANK-A's statement (it collects the premium), is refused with the rule when the amount is
not what the statement nets, settles it as the bank moved it and sees it settled, in Chinese
too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from tests import builders as b
from tests import support
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.billing import services as billing
from xinbao.bootstrap import bootstrap
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import AmendAgreement


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """BANK-A collecting its borrowers' premium, one car policy's premium held by it; the
    statement's net, and a finance user."""
    url = f"sqlite:///{tmp_path_factory.mktemp('funders') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow, funders=(b.bank("BANK-A"),))
    catalogue.amend_agreement(AmendAgreement("BANK-A", on=date(2024, 12, 31),
                                             premium_collector="funder"), container.uow())
    b.issued_policy(container.uow, b.car_application())
    net = billing.funder_statement(container.uow(), "BANK-A",
                                   on=date(2025, 1, 30)).figures.net_fen
    add_user(container, "qian.fin", ["finance"], display_name="Qian Finance")
    with serving(container) as base_url:
        yield base_url, net
    container.close()


def test_finance_settles_a_funders_statement_as_the_bank_moved_it(console, browser):
    base_url, net = console
    page = browser(base_url, "en")
    sign_in(page, "qian.fin", language="en")
    page.goto("/console/finance/funders?on=2025-01-30")
    section = page.locator("section", has_text="PS-BANK-A-20250129")
    assert "Not yet" in section.inner_text()
    form = section.locator("form")
    form.get_by_label("Bank transaction reference").fill("BK-WEB-1")
    form.get_by_label("Amount the bank moved (yuan; negative: paid to the funder)").fill("1")
    form.get_by_role("button", name="Settle the statement").click()
    assert "settlement.bank_amount" in page.locator("main").inner_text()

    page.goto("/console/finance/funders?on=2025-01-30")
    form = page.locator("section", has_text="PS-BANK-A-20250129").locator("form")
    form.get_by_label("Bank transaction reference").fill("BK-WEB-1")
    form.get_by_label("Amount the bank moved (yuan; negative: paid to the funder)").fill(
        f"{net // 100}.{net % 100:02d}")
    form.get_by_role("button", name="Settle the statement").click()
    page.wait_for_url("**/console/finance/funders?on=2025-01-30&done=settled")
    assert page.get_by_role("status").first.inner_text() == (
        "The statement is settled; its entry is posted.")
    settled = page.locator("section", has_text="PS-BANK-A-20250129").inner_text()
    assert "BK-WEB-1" in settled
    assert page.locator("section form").count() == 0
    shot(page, "finance-funder-statements.en")

    chinese = browser(base_url)
    sign_in(chinese, "qian.fin")
    chinese.goto("/console/finance/funders?on=2025-01-30")
    assert "代收保费" in chinese.locator("main").inner_text()
    shot(chinese, "finance-funder-statements.zh")
