"""The console's finance pages over HTTP, on each backend: the trial balance as the ledger
has it, the journal filtered, sorted and paged on the server, an entry's page, and refusals
as pages (issue 20; the same pages in a browser: ``tests/browser``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.console import i18n
from xinbao.ledger import model as ledger_model
from xinbao.ledger import services as ledger
from xinbao.ledger.commands import InjectCapital

PASSWORD = support.CONSOLE_PASSWORD
sign_in, csrf_of = support.console_sign_in, support.csrf_of


@pytest.fixture
def console(decided_container: Container) -> Iterator[tuple[Container, TestClient]]:
    with TestClient(create_app(decided_container), base_url="https://testserver") as client:
        client.cookies.set("xinbao_lang", "en")
        yield decided_container, client




def yuan(fen: int) -> str:
    return i18n.yuan(fen, "en")


def row_of(html: str, code: str) -> str:
    """The trial balance's row of an account (its cells' text)."""
    match = re.search(rf'<tr>\s*<th scope="row"><a [^>]*>{code}</a></th>(.*?)</tr>', html, re.S)
    assert match, f"no row for {code}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def entry_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/console/finance/entries/(\d+)">', html)]


def capital(container: Container, n: int, *, start: date = date(2025, 2, 1)) -> list[int]:
    """``n`` capital injections of 1,000 + i yuan, a day apart; their entry ids."""
    return [ledger.inject_capital(InjectCapital((1000 + i) * 100, start + timedelta(days=i),
                                                f"cap-{i}"), container.uow()).id
            for i in range(n)]


def test_the_trial_balance_shows_each_account_as_the_ledger_has_it_and_balances(console):
    container, client = console
    b.issued_policy(container.uow, b.car_application())  # premium posted at issue
    sign_in(container, client, "wang.fin", ["finance"])
    tb = ledger.trial_balance(container.uow())

    page = client.get("/console/finance", params={"on": date.today().isoformat()})

    assert page.status_code == 200
    assert "<h1>Trial balance</h1>" in page.text
    shown = 0
    for account, debit, credit in tb.rows():
        cells = row_of(page.text, account.code)
        assert cells == f"{account.name_en} {yuan(debit)} {yuan(credit)} " \
                        f"{yuan(tb.balance(account.code))}"
        shown += bool(debit or credit)
    assert shown >= 7  # capital, and the premium, reserve and commission of the policy
    total = sum(d for _, d, _ in tb.rows())
    assert f'id="total-debit">{yuan(total)}<' in page.text
    assert f'id="total-credit">{yuan(total)}<' in page.text
    assert "Balanced" in page.text and "Not balanced" not in page.text


def test_the_trial_balance_as_of_an_earlier_day_leaves_out_later_postings(console):
    container, client = console
    b.issued_policy(container.uow, b.car_application())  # posted on 2025-01-15
    sign_in(container, client, "li.audit", ["auditor"])

    page = client.get("/console/finance", params={"on": "2024-12-31"})

    assert row_of(page.text, ledger_model.BANK).startswith(f"Bank {yuan(b.CAPITAL_FEN)} ")
    assert row_of(page.text, ledger_model.WRITTEN_PREMIUM) == \
        f"Written premium {yuan(0)} {yuan(0)} {yuan(0)}"
    assert 'value="2024-12-31"' in page.text


def test_the_journal_is_paged_newest_first_and_the_pager_keeps_the_filters(console):
    container, client = console
    ids = capital(container, 30)
    sign_in(container, client, "wang.fin", ["finance"])
    query = {"account": ledger_model.PAID_IN_CAPITAL, "posted_from": "2025-02-01"}

    first = client.get("/console/finance/entries", params=query)
    second = client.get("/console/finance/entries", params={**query, "page": "2"})

    assert first.status_code == 200
    assert entry_ids(first.text) == ids[::-1][:25]
    assert entry_ids(second.text) == ids[::-1][25:]
    assert "30 in all · page 1 of 2" in first.text
    next_link = re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1)
    assert "account=4001" in next_link and "posted_from=2025-02-01" in next_link
    assert "page=2" in next_link
    # Each entry shows its lines: debit bank, credit paid-in capital.
    assert f"1002 Bank</td>\n    <td class=\"num\">{yuan(102_900)}" in first.text


def test_the_journal_filters_by_account_period_and_reference_and_sorts_by_date(console):
    container, client = console
    ids = capital(container, 5)
    b.issued_policy(container.uow, b.car_application())  # premium posted at issue
    sign_in(container, client, "wang.fin", ["finance"])

    period = client.get("/console/finance/entries", params={
        "posted_from": "2025-02-02", "posted_to": "2025-02-04", "sort": "date", "dir": "asc"})
    premium = client.get("/console/finance/entries",
                         params={"account": ledger_model.WRITTEN_PREMIUM})

    assert entry_ids(period.text) == ids[1:4]
    assert 'aria-sort="ascending"' in period.text
    with container.uow() as u:
        written = [e.id for e in u.ledger.entries()
                   if any(x.account == ledger_model.WRITTEN_PREMIUM for x in e.lines)]
    assert written and entry_ids(premium.text) == sorted(written, reverse=True)
    referenced = client.get("/console/finance/entries", params={"reference": "policy:1"})
    assert entry_ids(referenced.text) == sorted(written, reverse=True)


def test_an_entry_has_its_own_page_with_its_lines(console):
    container, client = console
    [entry_id] = capital(container, 1)
    sign_in(container, client, "li.audit", ["auditor"])

    page = client.get(f"/console/finance/entries/{entry_id}")
    missing = client.get("/console/finance/entries/999999")

    assert page.status_code == 200
    assert f"<h1>Journal entry {entry_id}</h1>" in page.text
    assert "Paid-in capital" in page.text and "InjectCapital" in page.text
    assert page.text.count(yuan(100_000)) >= 2  # debit bank and credit capital
    assert missing.status_code == 404 and "Not found" in missing.text


def test_an_unknown_account_or_a_bad_date_is_refused_with_its_rule(console):
    container, client = console
    sign_in(container, client, "wang.fin", ["finance"])

    account = client.get("/console/finance/entries", params={"account": "9999"})
    day = client.get("/console/finance", params={"on": "31/12/2024"})
    period = client.get("/console/finance/entries",
                        params={"posted_from": "2025-03-01", "posted_to": "2025-02-01"})

    assert account.status_code == 422 and "ledger.account" in account.text
    assert day.status_code == 422 and "date.format" in day.text
    assert period.status_code == 422 and "period.order" in period.text


def test_finance_pages_have_no_write_controls_and_need_ledger_read(console):
    container, client = console
    capital(container, 1)
    sign_in(container, client, "li.audit", ["auditor"])
    for url in ("/console/finance", "/console/finance/entries", "/console/finance/entries/1"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert page.text.count('method="post"') == 1, url  # signing out only
    client.cookies.clear()
    client.cookies.set("xinbao_lang", "en")
    sign_in(container, client, "zhao.uw", ["underwriter"])

    refused = client.get("/console/finance/entries")

    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert 'href="/console/finance"' not in client.get("/console/").text


def test_the_reinsurance_page_shows_each_treaty_and_what_it_ceded(console):
    from xinbao.kernel.money import apply_rate
    from xinbao.reinsurance.services import close_reinsurance, shipped

    container, client = console
    sign_in(container, client, "zhao.fin", ["finance"])
    empty = client.get("/console/finance/reinsurance")
    assert empty.status_code == 200
    assert empty.text.count("Nothing ceded yet") == len(shipped().treaties)

    b.issued_policy(container.uow, b.car_application())  # 720,000 fen written
    close_reinsurance(container.uow(), through=date(2025, 1, 31))
    page = client.get("/console/finance/reinsurance").text

    quota_share = next(t for t in shipped().treaties if t.cession)
    assert quota_share.code in page and "Quota share" in page
    assert "6541 Ceded premium" in page
    assert yuan(apply_rate(720_000, quota_share.cession)) in page
    sign_in(container, client, "bank.a", ["funder"], funder_code="BANK-A")
    assert client.get("/console/finance/reinsurance").status_code == 403


def test_the_funder_statements_page_settles_a_statement_as_the_bank_moved_it(console):
    from xinbao.billing import services as billing
    from xinbao.catalogue import services as catalogue
    from xinbao.catalogue.commands import AmendAgreement

    container, client = console
    catalogue.amend_agreement(AmendAgreement("BANK-A", on=date(2024, 12, 31),
                                             premium_collector="funder"), container.uow())
    b.issued_policy(container.uow, b.car_application())  # its premium held by BANK-A
    net = billing.funder_statement(container.uow(), "BANK-A",
                                   on=date(2025, 1, 30)).figures.net_fen
    token = sign_in(container, client, "wang.fin", ["finance"])

    page = client.get("/console/finance/funders?on=2025-01-30")
    assert page.status_code == 200
    assert "PS-BANK-A-20250129" in page.text and yuan(net) in page.text
    csv_file = client.get("/console/finance/funders/BANK-A/statement.csv?on=2025-01-30")
    assert csv_file.content.startswith(b"\xef\xbb\xbf")
    assert client.get("/console/finance/funders/BANK-A/statement.doc?on=2025-01-30"
                      ).status_code == 422
    form = {"csrf_token": token, "on": "2025-01-30", "bank_reference": "BK-WEB"}
    wrong = client.post("/console/finance/funders/BANK-A/settle",
                        data={**form, "amount": "1.00"})
    assert wrong.status_code == 422 and "settlement.bank_amount" in wrong.text
    done = client.post("/console/finance/funders/BANK-A/settle",
                       data={**form, "amount": f"{net // 100}.{net % 100:02d}"},
                       follow_redirects=False)
    assert done.status_code == 303
    shown = client.get(done.headers["location"])
    assert "The statement is settled" in shown.text and "BK-WEB" in shown.text
    assert billing.funder_statement(container.uow(), "BANK-A",
                                    on=date(2025, 1, 30)).bank_reference == "BK-WEB"
    sign_in(container, client, "li.audit", ["auditor"])
    assert 'action="/console/finance/funders/BANK-A/settle"' not in client.get(
        "/console/finance/funders?on=2025-01-30").text
