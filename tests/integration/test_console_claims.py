"""The console's claims pages over HTTP (issue 20): the list's filters, sorting and pages,
opening a claim, its page, paying it under four-eyes and recording recoveries; who may see
and do what (the same journey in a real browser: ``tests/browser/test_console_claims.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container, bootstrap
from xinbao.claims.model import Claim, ClaimStatus
from xinbao.entrypoints.api.app import create_app
from xinbao.kernel.money import format_yuan
from xinbao.policy.model import Policy
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment

PASSWORD = support.CONSOLE_PASSWORD
sign_in, csrf_of = support.console_sign_in, support.csrf_of


@dataclass(frozen=True, slots=True)
class Claimable:
    """An issued policy whose loan is past the claim trigger on ``notice_on``."""

    policy: Policy
    notice_on: date


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[Container, TestClient]]:
    """Two funders, BANK-A and BANK-B, and a console client reading English."""
    container = bootstrap(support.settings(database_url))
    container.risk = b.engine()
    b.seed(container.uow, funders=(b.bank("BANK-A"), b.bank("BANK-B")))
    with TestClient(create_app(container), base_url="https://testserver") as client:
        client.cookies.set("xinbao_lang", "en")
        yield container, client
    container.close()


def claimable(container: Container, funder: str = "BANK-A",
              id_number: str = b.RESIDENT_ID_2) -> Claimable:
    """A policy of ``funder`` whose borrower paid nothing: 95 days past the first due date
    (the product's trigger is 80 days), so a claim on it is covered."""
    cmd = b.consumer_application(funder_code=funder, external_ref=f"APP-{funder}",
                                 borrower_id_number=id_number)
    policy = b.issued_policy(container.uow, cmd)
    with container.uow() as u:
        loan = u.loans.get(policy.loan_id)
    for i in loan.installments[:3]:  # three paid: no early default, nothing referred
        servicing.record_repayment(RecordRepayment(
            loan.id, i.number, i.due_date, i.principal_fen, i.interest_fen,
            f"{funder}-TX-{i.number}", premium_fen=policy.installment_with_vat_fen),
            container.uow())
    return Claimable(policy, loan.installments[3].due_date + timedelta(days=95))






def _open(client: TestClient, policy: Policy, on: date, **extra: object) -> str:
    """Submit the open-claim form; the URL of the claim's page it redirects to."""
    form = client.get("/console/claims").text
    answer = client.post("/console/claims", data={
        "csrf_token": csrf_of(form), "policy": policy.policy_no, "on": on.isoformat(), **extra},
        follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def _claims(container: Container, policy: Policy, *rows: tuple[date, int, ClaimStatus]
            ) -> list[int]:
    """Claims stored as they are (dates, amounts, statuses): list data. The first is on the
    policy; a policy has one claim that stands, so each other one is on a copy of it (its
    own application and loan, copied too)."""
    ids = []
    with container.uow() as u:
        for n, (opened_on, amount, status) in enumerate(rows):
            on = policy
            if n:
                app = u.applications.get(policy.application_id)
                loan = u.loans.get(policy.loan_id)
                app = u.applications.add(replace(app, id=None, events=[],
                                                 external_ref=f"{app.external_ref}-{n}"))
                loan = u.loans.add(replace(loan, id=None, events=[],
                                           contract_no=f"{loan.contract_no}-{n}"))
                on = u.policies.add(replace(policy, id=None, events=[],
                                            application_id=app.id, loan_id=loan.id))
            ids.append(u.claims.add(Claim(
                policy_id=on.id, loan_id=on.loan_id, funder_id=on.funder_id,
                opened_on=opened_on, days_past_due=90, principal_fen=amount, interest_fen=0,
                amount_fen=amount, status=status)).id)
        u.commit()
    return ids


def _listed(html: str) -> list[int]:
    """The claim ids of a list page's rows, in order."""
    return [int(i) for i in re.findall(r'<td><a href="/console/claims/(\d+)">', html)]


def _paid_events(container: Container, claim_id: int) -> int:
    with container.uow() as u:
        return sum(1 for e in u.events.list(aggregate="claim", aggregate_id=claim_id)
                   if e.name == "ClaimPaid")


def test_the_list_filters_by_status_funder_and_opening_dates(world):
    container, client = world
    a = claimable(container, "BANK-A", b.RESIDENT_ID_2).policy
    bb = claimable(container, "BANK-B", b.RESIDENT_ID).policy
    early, paid, late = _claims(container, a, (date(2025, 5, 1), 100_00, ClaimStatus.APPROVED),
                                (date(2025, 6, 1), 200_00, ClaimStatus.PAID),
                                (date(2025, 7, 1), 300_00, ClaimStatus.DECLINED))
    (other,) = _claims(container, bb, (date(2025, 6, 15), 400_00, ClaimStatus.PAID))
    sign_in(container, client, "qian.claims", ["claims_adjuster"])
    with container.uow() as u:
        bank_b = u.funders.get_by_code("BANK-B").id

    assert _listed(client.get("/console/claims").text) == [other, late, paid, early]
    assert _listed(client.get("/console/claims?status=paid").text) == [other, paid]
    assert _listed(client.get(f"/console/claims?funder={bank_b}").text) == [other]
    dated = client.get("/console/claims?opened_from=2025-06-01&opened_to=2025-06-30")
    assert _listed(dated.text) == [other, paid]
    assert 'value="2025-06-01"' in dated.text and 'value="2025-06-30"' in dated.text
    assert _listed(client.get("/console/claims?status=nonsense&opened_from=x").text) \
        == [other, late, paid, early]


def test_the_list_sorts_by_a_column_both_ways_and_its_links_keep_the_filters(world):
    container, client = world
    a = claimable(container).policy
    small, big, middle = _claims(container, a, (date(2025, 5, 1), 100, ClaimStatus.APPROVED),
                                 (date(2025, 5, 2), 900, ClaimStatus.APPROVED),
                                 (date(2025, 5, 3), 500, ClaimStatus.PAID))
    sign_in(container, client, "qian.claims", ["claims_adjuster"])

    down = client.get("/console/claims?sort=amount&dir=desc&status=approved")
    up = client.get("/console/claims?sort=amount&dir=asc&status=approved")

    assert _listed(down.text) == [big, small] and _listed(up.text) == [small, big]
    assert 'aria-sort="descending"' in down.text
    assert "/console/claims?dir=asc&amp;sort=amount&amp;status=approved" in down.text
    assert _listed(client.get("/console/claims?sort=opened&dir=asc").text) \
        == [small, big, middle]
    assert _listed(client.get("/console/claims?sort=drop+table&dir=asc").text) \
        == [small, big, middle]


def test_the_list_is_paginated_on_the_server(world):
    container, client = world
    a = claimable(container).policy
    ids = _claims(container, a, *[(date(2025, 5, 1), 100 + i, ClaimStatus.APPROVED)
                                  for i in range(55)])
    sign_in(container, client, "qian.claims", ["claims_adjuster"])

    first = client.get("/console/claims?status=approved")
    second = client.get("/console/claims?status=approved&page=2")

    assert _listed(first.text) == ids[::-1][:50]
    assert _listed(second.text) == ids[::-1][50:]
    assert "55 in all · page 1 of 2" in first.text
    assert 'href="/console/claims?page=2&amp;status=approved" rel="next"' in first.text


def test_a_funders_user_sees_only_its_own_claims_and_not_another_funders(world):
    container, client = world
    a = claimable(container, "BANK-A", b.RESIDENT_ID_2).policy
    bb = claimable(container, "BANK-B", b.RESIDENT_ID).policy
    (mine,) = _claims(container, a, (date(2025, 5, 1), 100, ClaimStatus.APPROVED))
    (theirs,) = _claims(container, bb, (date(2025, 5, 1), 100, ClaimStatus.APPROVED))
    sign_in(container, client, "bank.a", ["funder"], funder_code="BANK-A")
    with container.uow() as u:
        bank_b = u.funders.get_by_code("BANK-B").id

    assert _listed(client.get("/console/claims").text) == [mine]
    assert _listed(client.get(f"/console/claims?funder={bank_b}").text) == [mine]
    assert client.get(f"/console/claims/{mine}").status_code == 200
    refused = client.get(f"/console/claims/{theirs}")
    assert refused.status_code == 404 and "Not found" in refused.text


def test_a_claim_opened_from_the_form_is_determined_and_a_second_submission_opens_nothing(
        world):
    container, client = world
    c = claimable(container)
    sign_in(container, client, "qian.claims", ["claims_adjuster"])

    first = _open(client, c.policy, c.notice_on)
    again = _open(client, c.policy, c.notice_on)

    with container.uow() as u:
        stored = u.claims.for_policy(c.policy.id)
    assert [s.status for s in stored] == [ClaimStatus.APPROVED]
    assert first == f"/console/claims/{stored[0].id}?done=opened"
    assert again == f"/console/claims/{stored[0].id}?done=exists"
    page = client.get(first)
    assert "The claim was opened." in page.text
    assert "user:qian.claims" in page.text
    assert f'href="/console/policies/{c.policy.id}"' in page.text
    # The sum insured: the 36,000 yuan principal and the interest its schedule bears.
    with container.uow() as uow:
        policy = uow.policies.get(c.policy.id)
    assert policy is not None and policy.principal_insured_fen == 3_600_000
    assert f"<dd>{format_yuan(policy.sum_insured_fen)}</dd>" in page.text


def test_a_declined_claim_shows_the_checks_that_failed_with_their_reason_codes(world):
    container, client = world
    c = claimable(container)
    sign_in(container, client, "qian.claims", ["claims_adjuster"])

    location = _open(client, c.policy, c.notice_on - timedelta(days=30),
                     exclusion="insured_fraud")
    page = client.get(location)

    assert location.endswith("?done=declined")
    assert "CLM-TRIGGER-NOT-REACHED" in page.text
    assert "CLM-EXCLUSION-INSURED_FRAUD" in page.text
    # Every check of the assessment, each with what it found and the evidence it read.
    assert page.text.count("Not met") == 2 and page.text.count(">Met<") == 8
    assert "days_past_due: 65" in page.text and "declared: insured_fraud" in page.text
    assert "Declined" in page.text and "/pay" not in page.text


def test_whoever_opened_a_claim_is_refused_its_payment_by_the_four_eyes_rule(world):
    container, client = world
    c = claimable(container)
    sign_in(container, client, "qian.claims", ["claims_adjuster"])
    location = _open(client, c.policy, c.notice_on)
    page = client.get(location)

    refused = client.post(location.split("?")[0] + "/pay", data={
        "csrf_token": csrf_of(page.text), "on": c.notice_on.isoformat()})

    assert refused.status_code == 403
    assert "four-eyes" in refused.text
    claim_id = int(location.split("/")[-1].split("?")[0])
    assert _paid_events(container, claim_id) == 0


def test_another_handler_pays_the_claim_once_even_when_the_form_is_sent_twice(world):
    container, client = world
    c = claimable(container)
    sign_in(container, client, "qian.claims", ["claims_adjuster"])
    location = _open(client, c.policy, c.notice_on)
    claim_page = location.split("?")[0]
    sign_in(container, client, "sun.approver", ["claims_approver"])
    page = client.get(claim_page)
    assert 'action="' + claim_page + '/pay"' in page.text
    form = {"csrf_token": csrf_of(page.text), "on": c.notice_on.isoformat()}

    answers = [client.post(claim_page + "/pay", data=form, follow_redirects=False)
               for _ in range(2)]

    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == claim_page + "?done=paid"
    claim_id = int(claim_page.rsplit("/", 1)[1])
    assert _paid_events(container, claim_id) == 1
    paid = client.get(answers[0].headers["location"])
    assert "The claim is paid." in paid.text and "user:sun.approver" in paid.text
    assert 'action="' + claim_page + '/pay"' not in paid.text


def test_a_read_only_auditor_sees_no_forms_and_a_forged_payment_is_refused(world):
    container, client = world
    c = claimable(container)
    (claim_id,) = _claims(container, c.policy, (c.notice_on, 100_00, ClaimStatus.APPROVED))
    sign_in(container, client, "li.audit", ["auditor"])

    listing = client.get("/console/claims")
    page = client.get(f"/console/claims/{claim_id}")
    forged = client.post(f"/console/claims/{claim_id}/pay", data={
        "csrf_token": csrf_of(page.text), "on": c.notice_on.isoformat()})

    assert listing.status_code == 200 and "Open a claim" not in listing.text
    assert page.status_code == 200 and "/pay" not in page.text
    assert forged.status_code == 403 and "Not allowed" in forged.text
    assert _paid_events(container, claim_id) == 0


def test_a_payment_with_a_wrong_csrf_token_is_refused(world):
    container, client = world
    c = claimable(container)
    (claim_id,) = _claims(container, c.policy, (c.notice_on, 100_00, ClaimStatus.APPROVED))
    sign_in(container, client, "sun.approver", ["claims_approver"])

    refused = client.post(f"/console/claims/{claim_id}/pay", data={
        "csrf_token": "not-the-token", "on": c.notice_on.isoformat()})

    assert refused.status_code == 403
    assert _paid_events(container, claim_id) == 0


def test_a_recovery_is_recorded_once_per_receipt_reference(world):
    container, client = world
    c = claimable(container)
    sign_in(container, client, "qian.claims", ["claims_adjuster"])
    claim_page = _open(client, c.policy, c.notice_on).split("?")[0]
    sign_in(container, client, "sun.approver", ["claims_approver"])
    page = client.get(claim_page)
    client.post(claim_page + "/pay", data={"csrf_token": csrf_of(page.text),
                                           "on": c.notice_on.isoformat()})
    sign_in(container, client, "zhou.collect", ["collector"])
    page = client.get(claim_page)
    form = {"csrf_token": csrf_of(page.text), "amount": "1,234.50", "source": "borrower",
            "received_on": (c.notice_on + timedelta(days=10)).isoformat(),
            "reference": "RCPT-1"}

    answers = [client.post(claim_page + "/recoveries", data=form, follow_redirects=False)
               for _ in range(2)]
    bad = client.post(claim_page + "/recoveries", data={**form, "amount": "1.234",
                                                         "reference": "RCPT-2"})

    assert [a.status_code for a in answers] == [303, 303]
    shown = client.get(answers[0].headers["location"])
    assert "The recovery is recorded." in shown.text
    assert shown.text.count("1,234.50") == 2  # the recovery's row and the claim's total
    assert bad.status_code == 422 and "amount.yuan" in bad.text


def test_an_unknown_claim_is_a_404_page_and_an_id_out_of_range_a_422_page(world):
    container, client = world
    sign_in(container, client, "qian.claims", ["claims_adjuster"])

    missing = client.get("/console/claims/999")
    malformed = client.get(f"/console/claims/{2**64}")

    assert missing.status_code == 404 and "Not found" in missing.text
    assert malformed.status_code == 422 and "<h1>" in malformed.text


def test_a_funders_user_cannot_open_a_claim_on_another_funders_policy(world):
    container, client = world
    theirs = claimable(container, "BANK-B", b.RESIDENT_ID)
    sign_in(container, client, "bank.a", ["funder"], funder_code="BANK-A")
    form = client.get("/console/claims").text

    refused = client.post("/console/claims", data={
        "csrf_token": csrf_of(form), "policy": str(theirs.policy.id),
        "on": theirs.notice_on.isoformat(), "reference": "N-1"})

    assert refused.status_code == 404
    with container.uow() as u:
        assert u.claims.for_policy(theirs.policy.id) == []


def test_the_queue_shows_what_waits_for_a_person_and_a_paid_claim_links_its_statement(world):
    from xinbao.claims import services as claims
    from xinbao.claims.commands import ApproveClaim, FileClaim, SettleClaims

    container, client = world
    policy = b.issued_policy(container.uow, b.consumer_application(
        funder_code="BANK-A", external_ref="APP-FPD", borrower_id_number=b.RESIDENT_ID))
    with container.uow() as u:
        due = u.loans.get(policy.loan_id).installments[0].due_date
    claim = claims.file_claim(FileClaim(policy.id, due + timedelta(days=95)), container.uow())
    sign_in(container, client, "qian.claims", ["claims_adjuster"])

    queue = client.get("/console/claims/queue")

    assert queue.status_code == 200
    assert f'href="/console/claims/{claim.id}"' in queue.text
    assert "CLM-FRAUD-FPD" in queue.text and "days late" in queue.text
    assert 'href="/console/claims/queue"' in client.get("/console/claims").text
    claims.approve_claim(ApproveClaim(claim.id, due + timedelta(days=96)), container.uow())
    batch = claims.settle_claims(SettleClaims("BANK-A", due + timedelta(days=130)),
                                 container.uow())
    assert "No claim is waiting for a person." in client.get("/console/claims/queue").text
    page = client.get(f"/console/claims/{claim.id}").text
    pdf_link = f"/console/claim-settlements/{batch.settlement.id}/statement.pdf"
    assert pdf_link in page
    pdf = client.get(pdf_link)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    csv = client.get(pdf_link.replace(".pdf", ".csv"))
    assert csv.status_code == 200 and batch.settlement.number in csv.headers[
        "content-disposition"]
    listed = client.get("/console/claims/settlements").text
    assert batch.settlement.number in listed and pdf_link in listed
    sign_in(container, client, "bank.b", ["funder"], funder_code="BANK-B")
    assert client.get(pdf_link).status_code == 404  # another funder's statement
    assert batch.settlement.number not in client.get("/console/claims/settlements").text


def test_a_paid_claims_recovery_right_is_on_its_page_and_in_collections_list(world):
    from xinbao.claims import services as claims
    from xinbao.claims.commands import FileClaim, PayClaim, RecordRecovery

    container, client = world
    mine = claimable(container)
    theirs = claimable(container, "BANK-B", b.RESIDENT_ID)
    paid = []
    for c in (mine, theirs):
        claim = claims.file_claim(FileClaim(c.policy.id, c.notice_on), container.uow())
        paid.append(claims.pay_claim(PayClaim(claim.id, c.notice_on + timedelta(days=2)),
                                     container.uow()))
    sign_in(container, client, "zhou.col", ["collector"])

    page = client.get(f"/console/claims/{paid[0].id}").text
    listed = client.get("/console/claims/recovery-rights").text

    assert "handed to collection on " + str(mine.notice_on + timedelta(days=2)) in page
    for claim in paid:
        assert f'href="/console/claims/{claim.id}"' in listed
    assert mine.policy.policy_no in listed and "Open" in listed
    claims.record_recovery(RecordRecovery(paid[0].id, paid[0].amount_fen,
                                          mine.notice_on + timedelta(days=40), "borrower",
                                          "RC-1"), container.uow())
    still_open = client.get("/console/claims/recovery-rights").text
    closed = client.get("/console/claims/recovery-rights?status=closed").text
    assert f'href="/console/claims/{paid[0].id}"' not in still_open
    assert f'href="/console/claims/{paid[0].id}"' in closed
    assert "Closed on " + str(mine.notice_on + timedelta(days=40)) in closed
    sign_in(container, client, "bank.b", ["funder"], funder_code="BANK-B")
    theirs_only = client.get("/console/claims/recovery-rights?status=all").text
    assert f'href="/console/claims/{paid[1].id}"' in theirs_only
    assert f'href="/console/claims/{paid[0].id}"' not in theirs_only
