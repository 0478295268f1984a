"""The console's policies pages over HTTP (issue 20): the list's filters, sorting and pages,
the search by a borrower's ID number (a POST: the number in no address), masking, the
tenant's 404, and one policy's schedule, days past due and ledger entries.

Written against the English pages (the Chinese catalogue is merged later)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import ric

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container
from xinbao.catalogue import services as catalogue
from xinbao.entrypoints.api.app import create_app
from xinbao.kernel.money import format_yuan
from xinbao.kernel.paging import PageRequest
from xinbao.loans.model import paid_by_installment, position
from xinbao.policy.model import policy_number
from xinbao.policy.repository import PolicyFilter
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment
from xinbao.underwriting import services as applications

PASSWORD = support.CONSOLE_PASSWORD
sign_in, csrf_of = support.console_sign_in, support.csrf_of


@pytest.fixture
def console(decided_container: Container) -> Iterator[tuple[Container, TestClient]]:
    """Two funders (BANK-A, BANK-B): A with a consumer and a car policy, B with one."""
    container = decided_container
    catalogue.register_funder(b.bank("BANK-B"), container.uow())
    b.issued_policy(container.uow)
    b.issued_policy(container.uow, b.car_application(borrower_id_number=b.RESIDENT_ID))
    b.issued_policy(container.uow, b.consumer_application(
        funder_code="BANK-B", external_ref="APP-B-1", amount_fen=5_000_000))
    with TestClient(create_app(container), base_url="https://testserver") as client:
        client.cookies.set("xinbao_lang", "en")
        yield container, client




def policy_numbers(html: str) -> list[str]:
    """The policy numbers linked from a page's table rows, in order."""
    return re.findall(r'<a href="/console/policies/\d+">(XB\d{11})</a>', html)


def resident_id(n: int) -> str:
    """A valid resident ID number (GB 11643 check digit), one per ``n``."""
    body = f"11010519800101{n:03d}"
    return body + ric.calc_check_digit(body + "0")




def test_the_list_shows_issued_policies_newest_first_and_links_each(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])

    page = client.get("/console/policies")

    assert page.status_code == 200
    assert "<h1>Policies</h1>" in page.text
    assert policy_numbers(page.text) == ["XB00000000034", "XB00000000026", "XB00000000018"]
    assert "3 in all · page 1 of 1" in page.text
    with container.uow() as uow:
        insured = [p.sum_insured_fen for p in uow.policies.search(
            PolicyFilter(), PageRequest()).items]
    # Each policy's sum insured, in yuan: its principal and the interest its schedule bears.
    assert all(p > 0 for p in insured)
    assert all(format_yuan(fen) in page.text for fen in insured)


def test_the_list_filters_by_funder_status_and_number(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])
    funder_b = client.get("/console/policies").text.split("BANK-B")[0].rsplit('value="', 1)[1]
    funder_b = funder_b.split('"')[0]

    by_funder = client.get(f"/console/policies?funder={funder_b}")
    by_number = client.get("/console/policies?number=XB00000000026")
    by_bare_number = client.get("/console/policies?number=1")
    by_status = client.get("/console/policies?status=closed")
    nonsense = client.get("/console/policies?number=not-a-number")
    mistyped = client.get("/console/policies?number=XB00000000027")  # wrong check digit

    assert policy_numbers(by_funder.text) == ["XB00000000034"]
    assert f'<option value="{funder_b}" selected>' in by_funder.text
    assert policy_numbers(by_number.text) == ["XB00000000026"]
    assert policy_numbers(by_bare_number.text) == ["XB00000000018"]
    assert policy_numbers(by_status.text) == []
    assert "No policy matches these filters." in by_status.text
    assert policy_numbers(nonsense.text) == []
    assert policy_numbers(mistyped.text) == []


def test_the_list_sorts_by_cover_both_ways_and_pages_keep_the_filters(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])

    ascending = client.get("/console/policies?sort=cover&dir=asc")
    descending = client.get("/console/policies?sort=cover&dir=desc")
    header = re.search(r'<th scope="col" aria-sort="ascending"[^>]*><a href="([^"]+)"',
                       ascending.text)

    assert policy_numbers(ascending.text) == ["XB00000000018", "XB00000000034", "XB00000000026"]
    assert policy_numbers(descending.text) == ["XB00000000026", "XB00000000034", "XB00000000018"]
    assert header is not None and "dir=desc" in header.group(1)
    assert "sort=cover" in header.group(1)


def test_pages_hold_fifty_policies_and_the_next_link_keeps_filter_and_sort(console):
    container, client = console
    for n in range(50):  # one borrower each: a borrower's cover is capped
        b.issued_policy(container.uow, b.consumer_application(
            external_ref=f"APP-P-{n}", borrower_id_number=resident_id(n)))
    sign_in(container, client, "li.audit", ["auditor"])

    first = client.get("/console/policies?status=in_force&sort=id&dir=asc")
    following = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert following is not None
    second = client.get(following.group(1).replace("&amp;", "&"))

    assert "status=in_force" in following.group(1) and "sort=id" in following.group(1)
    assert len(policy_numbers(first.text)) == 50
    assert policy_numbers(first.text)[0] == "XB00000000018"
    assert policy_numbers(second.text) == [policy_number(n) for n in (51, 52, 53)]
    assert "53 in all · page 2 of 2" in second.text


def test_a_funder_user_sees_only_its_own_policies_and_gets_404_on_another_funders(console):
    container, client = console
    sign_in(container, client, "bank.b", ["funder"], funder_code="BANK-B")

    listed = client.get("/console/policies")
    other = client.get("/console/policies/1")
    own = client.get("/console/policies/3")

    assert policy_numbers(listed.text) == ["XB00000000034"]
    assert "BANK-A" not in listed.text
    assert other.status_code == 404 and "Not found" in other.text
    assert "XB00000000018" not in other.text
    assert own.status_code == 200 and "Policy XB00000000034" in own.text


def test_a_funder_user_asking_for_another_funder_in_the_filter_finds_nothing(console):
    container, client = console
    sign_in(container, client, "bank.b", ["funder"], funder_code="BANK-B")

    page = client.get("/console/policies?funder=1")

    assert policy_numbers(page.text) == []


def test_the_borrower_search_is_a_post_and_no_id_number_is_in_any_link(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])
    form = client.get("/console/policies")
    assert 'method="post" action="/console/policies/borrower"' in form.text

    found = client.post("/console/policies/borrower",
                        data={"id_number": b.RESIDENT_ID_2, "csrf_token": csrf_of(form.text)})

    assert found.status_code == 200
    assert policy_numbers(found.text) == ["XB00000000018", "XB00000000034"]
    assert "110105********1238" in found.text
    for text in (found.text, form.text):
        assert b.RESIDENT_ID_2 not in text and b.RESIDENT_ID not in text
        assert all("1101051980" not in href for href in re.findall(r'href="([^"]*)"', text))
    with container.uow() as u:
        searched = [e for e in u.events.list(aggregate="policy")
                    if e.name == "BorrowerSearched"]
    assert [e.data["results"] for e in searched] == [2]


def test_the_borrower_search_keeps_a_funder_user_to_its_own_policies(console):
    container, client = console
    sign_in(container, client, "bank.b", ["funder"], funder_code="BANK-B")
    token = csrf_of(client.get("/console/policies").text)

    found = client.post("/console/policies/borrower",
                        data={"id_number": b.RESIDENT_ID_2, "csrf_token": token})

    assert policy_numbers(found.text) == ["XB00000000034"]


def test_the_borrower_search_without_the_forms_token_is_refused(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])

    refused = client.post("/console/policies/borrower",
                          data={"id_number": b.RESIDENT_ID_2, "csrf_token": "forged"})

    assert refused.status_code == 403
    assert "XB00000000018" not in refused.text


def test_the_policy_page_masks_the_borrower_and_names_the_parties(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])

    page = client.get("/console/policies/2")

    assert page.status_code == 200
    assert "<h1>Policy XB00000000026" in page.text
    assert "110105********002X" in page.text and b.RESIDENT_ID not in page.text
    assert "张*" in page.text and "张三" not in page.text
    assert "Guarantee insurance" in page.text and "Funder (creditor)" in page.text
    assert "BANK-A" in page.text
    assert 'href="/console/applications/2"' in page.text
    with container.uow() as u:
        policy = u.policies.get(2)
    written = re.search(r"Written premium \(yuan\)</dt><dd>([^<]+)<", page.text)
    assert policy.single_premium_fen > 0 and written is not None
    assert written.group(1) == f"{policy.single_premium_fen / 100:,.2f}"
    # The sum insured with its two parts, and the VAT paid on top of the premium.
    for label, fen in (("Sum insured", policy.sum_insured_fen),
                       ("Principal insured", policy.principal_insured_fen),
                       ("Interest insured", policy.interest_insured_fen)):
        assert f"{label} (yuan)</dt><dd>{format_yuan(fen)}</dd>" in page.text
    assert policy.total_vat_fen == policy.vat_on(policy.single_premium_fen) > 0
    assert (f"VAT on premium (yuan)</dt><dd>{format_yuan(policy.total_vat_fen)} (6.0%)</dd>"
            in page.text)


def test_the_policy_page_shows_the_schedule_payments_and_days_past_due_of_today(console):
    container, client = console
    view = container.uow
    with view() as u:
        loan = u.loans.get(u.policies.get(1).loan_id)
    first = loan.installments[0]
    servicing.record_repayment(RecordRepayment(
        loan.id, 1, first.due_date, first.principal_fen, first.interest_fen, "TX-1"), view())
    sign_in(container, client, "li.audit", ["auditor"])

    page = client.get("/console/policies/1")

    today = date.today()
    paid = {1: (first.principal_fen, first.interest_fen)}
    expected = position(loan.installments, paid_by_installment([]) | paid, today)
    schedule = page.text.split('id="schedule"')[1].split("</table>")[0]
    payments = page.text.split('id="payments"')[1].split("</table>")[0]
    dpd = page.text.split('data-testid="dpd"')[1].split("</dd>")[0]
    assert schedule.count("<tr>") == 1 + 12
    assert str(loan.installments[5].due_date) in schedule
    assert schedule.count(">Paid<") == 1
    overdue = sum(1 for i in loan.installments[1:] if i.due_date < today)
    assert schedule.count(">Overdue<") == overdue
    assert first.due_date.isoformat() in payments and "TX-1" not in payments
    assert f">{expected.days_past_due}<" in dpd
    assert expected.days_past_due == (today - loan.installments[1].due_date).days


def test_the_ledger_section_shows_the_policys_entries_with_their_lines(console):
    container, client = console
    sign_in(container, client, "wang.fin", ["finance"])
    with container.uow() as u:
        entries = u.ledger.entries(reference="policy:2")

    page = client.get("/console/policies/2")

    ledger = page.text.split('id="ledger"')[1]
    assert "Ledger entries" in ledger
    assert entries and all(f">{e.id}<" in ledger for e in entries)
    assert ledger.count("Written premium") >= 1 and "Unearned premium reserve" in ledger
    premium = next(line.amount_fen for e in entries for line in e.lines
                   if line.account == "6031")
    assert f"{-premium / 100:,.2f}" in ledger


def test_who_may_not_read_the_ledger_sees_no_ledger_section(console):
    container, client = console
    sign_in(container, client, "zhao.uw", ["underwriter"])

    page = client.get("/console/policies/2")

    assert page.status_code == 200
    assert 'id="ledger"' not in page.text and "Ledger entries" not in page.text


def test_an_unknown_policy_is_a_404_page(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])

    assert client.get("/console/policies/999").status_code == 404


def test_who_may_not_read_policies_is_refused_with_a_403_page(console):
    container, client = console
    sign_in(container, client, "root.admin", ["admin"])

    listed = client.get("/console/policies")
    one = client.get("/console/policies/1")

    assert listed.status_code == 403 and one.status_code == 403
    assert "Not allowed" in listed.text


def test_a_quote_is_not_listed_and_its_page_says_there_is_no_loan_yet(console):
    container, client = console
    application = applications.submit_application(b.consumer_application(
        external_ref="APP-Q-1", borrower_id_number=resident_id(1)), container.uow())
    quote = b.approve(container.uow, application.id).policy
    sign_in(container, client, "li.audit", ["auditor"])

    listed = client.get("/console/policies")
    page = client.get(f"/console/policies/{quote.id}")

    assert quote.policy_no not in policy_numbers(listed.text)
    assert page.status_code == 200 and "Quoted" in page.text
    assert "No loan yet: the policy is not issued." in page.text
    assert 'id="schedule"' not in page.text


def test_the_policy_page_offers_its_epolicy_and_says_when_it_was_issued(console):
    container, client = console
    sign_in(container, client, "li.audit", ["auditor"])
    assert 'id="epolicy-issued"' not in client.get("/console/policies/1").text

    pdf = client.get("/console/policies/1/epolicy.pdf")
    again = client.get("/console/policies/1/epolicy.pdf")
    page = client.get("/console/policies/1").text

    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert again.content == pdf.content
    assert 'href="/console/policies/1/epolicy.pdf"' in page
    assert pdf.headers["x-document-sha256"] in page and "XB-GUAR v1" in page
    sign_in(container, client, "bank.b", ["funder"], funder_code="BANK-B")
    assert client.get("/console/policies/1/epolicy.pdf").status_code == 404


def test_an_underwriting_approver_cancels_a_policy_from_its_page(console):
    container, client = console
    sign_in(container, client, "wu.uw", ["underwriting_approver"])
    page = client.get("/console/policies/2").text
    assert "Cancel the policy" in page and "No endorsement: the policy is as issued." in page

    refused = client.post("/console/policies/2/cancel", data={
        "csrf_token": csrf_of(page), "on": "2025-01-20", "reason": "asked"})
    done = client.post("/console/policies/2/cancel", data={
        "csrf_token": csrf_of(page), "on": "2025-01-20", "reason": "the borrower asked",
        "insured_consent": "true"}, follow_redirects=False)

    assert refused.status_code == 422 and "policy.insured_consent" in refused.text
    assert done.status_code == 303
    after = client.get(done.headers["location"]).text
    assert "The policy is cancelled; its refund is posted." in after
    assert "Cancellation" in after and "cooling-off period" in after
    assert "Cancel the policy" not in after  # nothing more to cancel
    sign_in(container, client, "li.audit", ["auditor"])
    assert "Cancel the policy" not in client.get("/console/policies/1").text
