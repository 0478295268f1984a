"""Endorsements that change the cover (issue 23), on SQLite and PostgreSQL: a partial
prepayment lowers the installments left (the term kept) and the cover with them, refunds the
unearned single premium's share of the principal repaid with the commission on it, and lowers
installment premiums; the rest of the premium runs off to the full prepayment or maturity,
to the fen. A restructuring with the insurer's consent moves the cover to the new schedule
(a later default is claimed); without it the policy notes it and a claim is declined as not
as insured. The refusals of each, their repeats, and racing partial prepayments over HTTP
with one effect and no 5xx."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container
from xinbao.claims.model import ClaimStatus
from xinbao.entrypoints.api.app import create_app
from xinbao.iam.model.security import Principal, Role
from xinbao.kernel.errors import Conflict, InvalidInput
from xinbao.kernel.money import apply_fraction, apply_rate
from xinbao.ledger import model as accounts
from xinbao.ledger import services as ledger
from xinbao.loans.model import Installment, Loan, paid_by_installment, position
from xinbao.policy.commands import PrepayInPart, RestructureLoan
from xinbao.policy.endorsements import prepay_in_part, restructure_loan
from xinbao.policy.model import EndorsementKind, Policy, PolicyStatus
from xinbao.reporting import services as reporting
from xinbao.risk import services as decisions
from xinbao.risk.model import exposure
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordPrepayment, RecordRepayment, RunEndOfDay

STAFF = Principal("user", "wu.uw", frozenset({Role.UNDERWRITING_APPROVER}))
RATE = b.bank().commission_rate


@pytest.fixture
def c(decided_container: Container) -> Container:
    return decided_container


def _loan(c: Container, policy: Policy) -> Loan:
    with c.uow() as u:
        return u.loans.get(policy.loan_id)


def _stored(c: Container, policy: Policy) -> Policy:
    with c.uow() as u:
        return u.policies.get(policy.id)


def _pay(c: Container, policy: Policy, *numbers: int) -> None:
    """Pay what is left of these installments on their due dates, with their premium and
    its VAT."""
    loan = _loan(c, policy)
    premium = _stored(c, policy).installment_with_vat_fen
    paid = paid_by_installment(_repayments(c, loan))
    for n in numbers:
        i = loan.installments[n - 1]
        p, r = paid.get(n, (0, 0))
        servicing.record_repayment(RecordRepayment(
            loan.id, n, i.due_date, i.principal_fen - p, i.interest_fen - r,
            f"TX-{loan.id}-{n}", premium_fen=premium), c.uow())


def _books_whole(c: Container, *policies: Policy) -> None:
    """The ledger balanced; its written premium = earned + unearned, each the policies'."""
    tb = ledger.trial_balance(c.uow())
    assert tb.total == 0
    statement = reporting.portfolio_kpis(c.uow()).statement
    stored = [_stored(c, p) for p in policies]
    unearned = sum(p.unearned_fen for p in stored)
    assert -tb.balance(accounts.UNEARNED_PREMIUM_RESERVE) == unearned
    assert statement.written_premium_fen == sum(p.written_premium_fen for p in stored)
    assert statement.earned_premium_fen == sum(p.earned_premium_fen for p in stored)
    assert statement.written_premium_fen == statement.earned_premium_fen + unearned


def test_a_partial_prepayment_lowers_the_installments_and_refunds_its_share(c):
    policy = b.issued_policy(c.uow, b.car_application())  # 720,000 fen single, Rule of 78
    _pay(c, policy, 1, 2, 3)
    on = date(2025, 4, 30)
    servicing.run_end_of_day(RunEndOfDay(date(2025, 4, 30)), c.uow())  # a month-end close
    before, loan = _stored(c, policy), _loan(c, policy)
    outstanding = sum(i.principal_fen for i in loan.installments[3:])

    made = prepay_in_part(PrepayInPart(loan.id, on, 3_000_000, 12_345, "PP-1"), c.uow())

    after, rescheduled = _stored(c, policy), _loan(c, policy)
    unearned = before.single_premium_fen - before.earned_to(on)
    refund = apply_fraction(unearned, 3_000_000, outstanding)
    assert (made.kind, made.version, made.refund_fen) == (
        EndorsementKind.PARTIAL_PREPAYMENT, 2, refund)
    assert made.commission_clawback_fen == apply_rate(refund, RATE)
    assert (after.version, after.refunded_fen, after.principal_insured_fen) == (
        2, refund, before.principal_insured_fen - 3_000_000)
    assert after.unearned_fen == unearned - refund == after.upr_base_fen
    # The sum insured is the principal and the interest the schedule bears: less of both.
    interest_after = sum(i.interest_fen for i in rescheduled.installments)
    assert before.interest_insured_fen == sum(i.interest_fen for i in loan.installments)
    assert after.interest_insured_fen == interest_after < before.interest_insured_fen
    assert after.sum_insured_fen == after.principal_insured_fen + interest_after
    # The term stays; the principal still sums to the loan's; what is left is smaller.
    assert rescheduled.term_months == 24 and len(rescheduled.installments) == 24
    assert sum(i.principal_fen for i in rescheduled.installments) == loan.principal_fen
    assert rescheduled.installments[:3] == loan.installments[:3]
    assert rescheduled.installments[3].principal_fen > 3_000_000
    assert all(new.total_fen < old.total_fen for new, old in
               zip(rescheduled.installments[4:], loan.installments[4:], strict=True))
    now = position(rescheduled.installments,
                   paid_by_installment(_repayments(c, loan)), on)
    assert now.outstanding_principal_fen == outstanding - 3_000_000
    assert now.days_past_due == 0
    assert after.schedule_sha256 is not None
    _books_whole(c, policy)
    tb = ledger.trial_balance(c.uow())
    assert tb.balance(accounts.COMMISSION_EXPENSE) == (
        apply_rate(720_000, RATE) - apply_rate(refund, RATE))

    # The rest runs off: month-ends, then the loan repaid early; all premium accounted for.
    for n in range(4, 8):
        _pay(c, policy, n)
    servicing.run_end_of_day(RunEndOfDay(date(2025, 6, 30)), c.uow())
    _books_whole(c, policy)
    servicing.record_prepayment(RecordPrepayment(loan.id, date(2025, 8, 20), 0, "PP-ALL"),
                                c.uow())
    final = _stored(c, policy)
    assert final.status is PolicyStatus.CLOSED
    assert final.earned_fen + final.refunded_fen == 720_000
    _books_whole(c, policy)
    tb = ledger.trial_balance(c.uow())
    assert tb.balance(accounts.COMMISSION_EXPENSE) == (
        apply_rate(720_000, RATE) - apply_rate(final.refunded_fen, RATE))


def _repayments(c: Container, loan: Loan) -> list[Any]:
    with c.uow() as u:
        return u.repayments.for_loan(loan.id)


def test_the_retained_liability_after_a_partial_prepayment_is_the_principal_left(c):
    policy = b.issued_policy(c.uow, b.car_application())
    _pay(c, policy, 1, 2)
    prepay_in_part(PrepayInPart(_loan(c, policy).id, date(2025, 4, 1), 3_000_000, 0, "PP-L"),
                   c.uow())
    loan = _loan(c, policy)
    outstanding = loan.principal_fen - sum(r.principal_fen for r in _repayments(c, loan))
    assert outstanding == _stored(c, policy).principal_insured_fen - sum(
        i.principal_fen for i in loan.installments[:2])

    counters = decisions.refresh_limits(c.uow(), b.engine().params.limits, date(2025, 4, 1))

    used = {(k.dimension, k.key): k.used_fen for k in counters}
    assert used[(exposure.RETAINED, "all")] == exposure.retained_fen(
        outstanding, policy.coverage_share)


def test_installment_premiums_fall_with_the_sum_insured(c):
    policy = b.issued_policy(c.uow, b.consumer_application())  # 36,000 yuan, per installment
    _pay(c, policy, 1, 2)
    loan = _loan(c, policy)
    before = _stored(c, policy)

    made = prepay_in_part(PrepayInPart(loan.id, date(2025, 4, 1), 1_200_000, 0, "PP-C"),
                          c.uow())

    after = _stored(c, policy)
    assert made.refund_fen == 0  # installment premiums not yet due are never charged
    assert after.principal_insured_fen == before.principal_insured_fen - 1_200_000
    assert after.installment_premium_fen == apply_rate(after.principal_insured_fen,
                                                       after.monthly_premium_rate)
    assert after.installment_premium_fen < before.installment_premium_fen
    assert (after.earlier_installments, after.earlier_installments_fen) == (
        2, 2 * before.installment_premium_fen)
    _pay(c, policy, 3, 4)
    paid = _stored(c, policy)
    assert paid.written_premium_fen == (2 * before.installment_premium_fen
                                        + 2 * after.installment_premium_fen)
    _books_whole(c, policy)


def test_a_partial_prepayment_asked_again_answers_with_what_it_made(c):
    policy = b.issued_policy(c.uow, b.car_application())
    loan = _loan(c, policy)
    cmd = PrepayInPart(loan.id, date(2025, 2, 1), 2_000_000, 0, "PP-R")
    first = prepay_in_part(cmd, c.uow())
    again = prepay_in_part(cmd, c.uow())
    assert again == first
    assert _stored(c, policy).version == 2
    with c.uow() as u:
        refunds = [e for e in u.ledger.entries() if e.source_command == "RefundPremium"]
    assert len(refunds) == 1
    _pay(c, policy, 1)
    with pytest.raises(Conflict, match="another repayment"):
        prepay_in_part(PrepayInPart(loan.id, date(2025, 2, 20), 100, 0,
                                    f"TX-{loan.id}-1"), c.uow())


@pytest.mark.parametrize(("principal", "interest", "reference", "rule"), [
    (0, 0, "PP-X", "amount.positive"),
    (100, -1, "PP-X", "amount.nonnegative"),
    (100, 0, " ", "repayment.reference"),
    (12_000_000, 0, "PP-X", "prepayment.partial_amount"),  # all of it: a prepayment
])
def test_bad_partial_prepayments_are_refused_with_the_rule(c, principal, interest, reference,
                                                           rule):
    policy = b.issued_policy(c.uow, b.car_application())
    loan = _loan(c, policy)
    with pytest.raises(InvalidInput) as refused:
        prepay_in_part(PrepayInPart(loan.id, date(2025, 2, 1), principal, interest,
                                    reference), c.uow())
    assert rule in {e.rule for e in refused.value.errors}
    assert _stored(c, policy).version == 1
    assert _repayments(c, loan) == []


def test_a_loan_past_due_is_not_prepaid_in_part(c):
    policy = b.issued_policy(c.uow, b.car_application())
    loan = _loan(c, policy)
    with pytest.raises(Conflict, match="past due"):
        prepay_in_part(PrepayInPart(loan.id, date(2025, 3, 1), 100_000, 0, "PP-L"), c.uow())


def _defaulted(c: Container) -> tuple[Policy, Loan]:
    """A car loan whose borrower paid three installments and stopped (the fourth due on
    15 May)."""
    policy = b.issued_policy(c.uow, b.car_application())
    _pay(c, policy, 1, 2, 3)
    return policy, _loan(c, policy)


def _claim_after_the_new_schedule_defaults(c: Container, policy: Policy) -> Any:
    """The borrower pays nothing of the new schedule: the end-of-day batch on the day the
    trigger is reached opens the claim and decides it."""
    loan = _loan(c, policy)
    with c.uow() as u:
        product = u.products.get(policy.product_code, policy.product_version)
        paid = paid_by_installment(u.repayments.for_loan(loan.id))
    first_unpaid = next(i for i in loan.installments
                        if paid.get(i.number, (0, 0)) != (i.principal_fen, i.interest_fen))
    trigger = first_unpaid.due_date + timedelta(days=product.claim_trigger_dpd)
    report = servicing.run_end_of_day(RunEndOfDay(trigger), c.uow())
    made = report.claims_opened + report.claims_declined
    assert len(made) == 1
    with c.uow() as u:
        return u.claims.get(made[0])


def test_a_restructuring_with_consent_moves_the_cover_and_a_later_default_is_claimed(c):
    policy, loan = _defaulted(c)
    on = date(2025, 5, 25)  # 10 days past due
    before = _stored(c, policy)

    made = restructure_loan(RestructureLoan(policy.id, on, 30, "RS-1", "hardship",
                                            consent=True, annual_rate=Decimal("0.05")),
                            c.uow(STAFF))

    after, rescheduled = _stored(c, policy), _loan(c, policy)
    assert (made.kind, made.version, made.details["consent"]) == (
        EndorsementKind.RESTRUCTURE, 2, True)
    # Installment 4 fell due on 15 May: it keeps its number with nothing to pay; thirty new
    # ones are due monthly from 15 June, numbered 5 to 34; its interest comes with 5.
    assert rescheduled.installments[3] == Installment(4, date(2025, 5, 15), 0, 0)
    assert [i.number for i in rescheduled.installments[4:]] == list(range(5, 35))
    assert rescheduled.installments[4].due_date == date(2025, 6, 15)
    assert rescheduled.annual_rate == Decimal("0.05") and rescheduled.term_months == 34
    assert sum(i.principal_fen for i in rescheduled.installments) == loan.principal_fen
    assert rescheduled.installments[4].interest_fen > loan.installments[3].interest_fen
    assert position(rescheduled.installments, paid_by_installment(_repayments(c, loan)),
                    on).days_past_due == 0
    assert (after.end_date, after.term_months) == (date(2027, 11, 15), 34)
    assert after.unearned_fen == before.single_premium_fen - after.earned_fen
    # The cover follows the new schedule's interest; the principal insured stays.
    assert after.interest_insured_fen == sum(i.interest_fen for i in rescheduled.installments)
    assert after.interest_insured_fen != before.interest_insured_fen
    assert after.principal_insured_fen == before.principal_insured_fen
    _books_whole(c, policy)

    claim = _claim_after_the_new_schedule_defaults(c, policy)
    # Covered: every check passes (a claim this large waits for a person's approval).
    assert claim.reason_codes == ()
    assert claim.status in (ClaimStatus.APPROVED, ClaimStatus.UNDER_REVIEW)


def test_a_restructuring_without_consent_is_noted_and_its_claim_declined(c):
    policy, _ = _defaulted(c)
    made = restructure_loan(RestructureLoan(policy.id, date(2025, 5, 25), 30, "RS-2",
                                            "the funder's own"), c.uow(STAFF))
    after = _stored(c, policy)
    assert (made.details["consent"], after.version, after.schedule_sha256) == (False, 2, None)
    assert after.end_date == policy.end_date
    assert after.sum_insured_fen == policy.sum_insured_fen  # the cover stays what it was

    claim = _claim_after_the_new_schedule_defaults(c, policy)
    assert claim.status is ClaimStatus.DECLINED
    assert "CLM-LOAN-NOT-AS-INSURED" in claim.reason_codes


def test_a_funder_cannot_consent_for_the_insurer_and_a_repeat_answers_the_same(c):
    policy, _ = _defaulted(c)
    funder = Principal("client", "bank-a-api", frozenset({Role.FUNDER}), policy.funder_id)
    with pytest.raises(InvalidInput) as refused:
        restructure_loan(RestructureLoan(policy.id, date(2025, 5, 25), 30, "RS-3", "asked",
                                         consent=True), c.uow(funder))
    assert {e.rule for e in refused.value.errors} == {"restructure.consent"}
    cmd = RestructureLoan(policy.id, date(2025, 5, 25), 30, "RS-3", "reported")
    first = restructure_loan(cmd, c.uow(funder))
    assert restructure_loan(cmd, c.uow(funder)) == first
    assert _stored(c, policy).version == 2
    with pytest.raises(InvalidInput) as bad:
        restructure_loan(RestructureLoan(policy.id, date(2025, 5, 25), 0, "RS-4", "x"),
                         c.uow(STAFF))
    assert {e.rule for e in bad.value.errors} == {"restructure.installments"}


def test_racing_partial_prepayments_over_http_make_one(c):
    policy = b.issued_policy(c.uow, b.car_application())
    loan = _loan(c, policy)
    token = support.api_token(c, "bank-a-api", ["funder"], "BANK-A")
    app = create_app(c)
    body = {"paid_on": "2025-02-01", "principal_fen": 1_500_000, "interest_fen": 0,
            "reference": "PP-RACE"}

    def send(_: int) -> Any:
        with TestClient(app, raise_server_exceptions=False) as client:
            return client.post(f"/v1/loans/{loan.id}/partial-prepayments", json=body,
                               headers=support.bearer(token))

    answers = support.race(12, send)

    assert sorted(a.status_code for a in answers) == [200] * 12, [
        a.text for a in answers if a.status_code != 200]
    assert {(a.json()["version"], a.json()["refund_fen"]) for a in answers} == {
        (2, _stored(c, policy).refunded_fen)}
    with c.uow() as u:
        refunds = [e for e in u.ledger.entries() if e.source_command == "RefundPremium"]
        endorsed = [e for e in u.events.list(aggregate="policy", aggregate_id=policy.id)
                    if e.name == "PolicyEndorsed"]
        assert len(u.repayments.for_loan(loan.id)) == 1
    assert len(refunds) == 1 and len(endorsed) == 1
    with TestClient(app, raise_server_exceptions=False) as client:
        bad = client.post(f"/v1/loans/{loan.id}/partial-prepayments",
                          json={**body, "principal_fen": -5, "reference": "PP-BAD"},
                          headers=support.bearer(token))
    assert bad.status_code == 422


def test_racing_restructurings_of_one_agreement_make_one(c):
    policy, _ = _defaulted(c)
    token = support.api_token(c, "risk-desk", ["underwriting_approver"])
    app = create_app(c)
    body = {"installments": 30, "reference": "RS-RACE", "reason": "hardship",
            "consent": True, "on": "2025-05-25"}

    def send(_: int) -> Any:
        with TestClient(app, raise_server_exceptions=False) as client:
            return client.post(f"/v1/policies/{policy.id}/restructure", json=body,
                               headers=support.bearer(token))

    answers = support.race(12, send)

    assert sorted(a.status_code for a in answers) == [200] * 12, [
        a.text for a in answers if a.status_code != 200]
    assert {a.json()["version"] for a in answers} == {2}
    with c.uow() as u:
        endorsed = [e for e in u.events.list(aggregate="policy", aggregate_id=policy.id)
                    if e.name == "PolicyEndorsed"]
        rescheduled = [e for e in u.events.list(aggregate="loan", aggregate_id=policy.loan_id)
                       if e.name == "LoanRescheduled"]
    assert len(endorsed) == len(rescheduled) == 1
    assert _loan(c, policy).term_months == 34
    with TestClient(app, raise_server_exceptions=False) as client:
        bad = client.post(f"/v1/policies/{policy.id}/restructure",
                          json={**body, "installments": 0, "reference": "RS-BAD"},
                          headers=support.bearer(token))
    assert bad.status_code == 422


def test_the_cli_prepays_in_part_and_restructures_by_the_policys_number(c):
    from typer.testing import CliRunner

    from xinbao.entrypoints.cli.main import app

    policy, _ = _defaulted(c)
    url = ["--database-url", c.settings.database_url]
    run = CliRunner().invoke
    past_due = run(app, ["policies", "prepay-part", policy.policy_no, "--principal", "1000",
                         "--reference", "PP-CLI", "--on", "2025-05-25", *url])
    bad = run(app, ["policies", "restructure", policy.policy_no, "--reason", "hardship",
                    "--installments", "30", "--reference", "RS-CLI", "--rate", "abc",
                    "--on", "2025-05-25", *url])
    done = run(app, ["policies", "restructure", policy.policy_no, "--reason", "hardship",
                     "--installments", "30", "--reference", "RS-CLI", "--consent",
                     "--on", "2025-05-25", "--json", *url])
    part = run(app, ["policies", "prepay-part", policy.policy_no, "--principal", "1000.50",
                     "--interest", "3.20", "--reference", "PP-CLI", "--on", "2025-06-01",
                     "--json", *url])
    listed = run(app, ["policies", "endorsements", policy.policy_no, "--json", *url])

    assert past_due.exit_code == 4 and "past due" in past_due.output, past_due.output
    assert bad.exit_code == 2 and "rate.format" in bad.output
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["details"]["consent"] is True
    assert part.exit_code == 0, part.output
    made = json.loads(part.stdout)
    assert (made["kind"], made["version"], made["details"]["principal_fen"],
            made["details"]["interest_fen"]) == ("partial_prepayment", 3, 100_050, 320)
    assert [e["kind"] for e in json.loads(listed.stdout)["items"]] == [
        "restructure", "partial_prepayment"]


def test_a_funders_file_carries_partial_prepayments_each_bad_row_refused_alone(c, tmp_path):
    from typer.testing import CliRunner

    from xinbao.entrypoints.cli.main import app

    policy = b.issued_policy(c.uow, b.car_application())
    loan = _loan(c, policy)
    path = tmp_path / "bank-a.csv"
    path.write_text(
        "type,contract_no,paid_on,principal,interest,reference\n"
        f"partial_prepayment,{loan.contract_no},2025-02-01,20000.00,5.00,PP-F1\n"
        f"partial_prepayment,{loan.contract_no},2025-02-01,,0,PP-F2\n"
        f"partial_prepayment,{loan.contract_no},2025-02-01,99999999.00,0,PP-F3\n"
        f"partial_prepayment,NO-SUCH,2025-02-01,1.00,0,PP-F4\n", encoding="utf-8")
    url = ["--database-url", c.settings.database_url]
    run = CliRunner().invoke
    loaded = run(app, ["repayments", "load", str(path), "--funder", "BANK-A",
                       "--received-on", "2025-02-01", "--json", *url])

    assert loaded.exit_code == 2, loaded.output
    result = json.loads(loaded.stdout)
    assert result["partial_prepayments"] == 1
    assert {r["line"]: r["errors"][0]["rule"] for r in result["refused"]} == {
        3: "principal.required", 4: "prepayment.partial_amount", 5: "loan.known"}
    stored = _stored(c, policy)
    assert stored.version == 2 and result["premium_refunded_fen"] == stored.refunded_fen > 0
    again = run(app, ["repayments", "load", str(path), "--funder", "BANK-A",
                      "--received-on", "2025-02-01", "--json", *url])
    assert json.loads(again.stdout)["repeats_ignored"] == 1
    assert _stored(c, policy).version == 2
    assert len(_repayments(c, loan)) == 1


def test_two_partial_prepayments_in_one_period_both_stay_with_the_installment(c):
    policy = b.issued_policy(c.uow, b.car_application())
    loan = _loan(c, policy)
    prepay_in_part(PrepayInPart(loan.id, date(2025, 1, 20), 1_000_000, 100, "PP-A"), c.uow())
    prepay_in_part(PrepayInPart(loan.id, date(2025, 2, 5), 2_000_000, 200, "PP-B"), c.uow())

    after = _loan(c, policy)
    paid = paid_by_installment(_repayments(c, loan))
    assert paid[1] == (3_000_000, 300)
    assert after.installments[0].principal_fen > 3_000_000
    assert sum(i.principal_fen for i in after.installments) == loan.principal_fen
    assert position(after.installments, paid, date(2025, 2, 5)).outstanding_principal_fen == (
        loan.principal_fen - 3_000_000)
    assert _stored(c, policy).version == 3
    _pay(c, policy, 1)
    _books_whole(c, policy)


def test_the_epolicy_of_an_endorsed_policy_shows_each_installments_own_premium(c):
    from xinbao.reporting.documents import issue_epolicy

    policy = b.issued_policy(c.uow, b.consumer_application())
    _pay(c, policy, 1, 2)
    loan = _loan(c, policy)
    prepay_in_part(PrepayInPart(loan.id, date(2025, 4, 1), 1_200_000, 0, "PP-E"), c.uow())
    after = _stored(c, policy)

    issued = issue_epolicy(c.uow(), policy.id, on=date(2025, 4, 2))

    premiums = [line.premium_fen for line in issued.epolicy.schedule]
    assert premiums[:2] == [policy.installment_premium_fen] * 2
    assert premiums[2:] == [after.installment_premium_fen] * 10
    assert issued.epolicy.version == 2
    assert sum(premiums) == after.total_premium_fen


def test_a_product_earning_by_exposure_earns_and_refunds_following_the_principal(c):
    from xinbao.policy import services as policies
    from xinbao.policy.commands import IssuePolicy
    from xinbao.policy.model import exposure_share, unearned_share
    from xinbao.policy.rules import PolicyRules
    from xinbao.underwriting import services as applications

    rules = PolicyRules("test", 15, earning={"CAR-G": "exposure"})
    submitted = applications.submit_application(b.car_application(external_ref="APP-EXP"),
                                                c.uow())
    decided = b.approve(c.uow, submitted.id, b.START)
    assert decided.policy is not None
    policy = policies.issue_policy(IssuePolicy(decided.policy.id, "LN-EXP", b.START, b.START),
                                   c.uow(), rules)
    assert policy.earning == "exposure"
    loan = _loan(c, policy)
    _pay(c, policy, 1, 2)
    servicing.run_end_of_day(RunEndOfDay(date(2025, 3, 31)), c.uow())

    on = date(2025, 3, 31)
    by_exposure = exposure_share(loan.installments, start=b.START, on=on)
    by_time = unearned_share(policy.refund_method, start=b.START, end=policy.end_date,
                             term_months=24, on=on)
    stored = _stored(c, policy)
    assert stored.earned_fen == 720_000 - apply_fraction(720_000, by_exposure.numerator,
                                                         by_exposure.denominator)
    assert stored.earned_fen != 720_000 - apply_fraction(720_000, by_time.numerator,
                                                         by_time.denominator)
    _books_whole(c, policy)
    prepay_in_part(PrepayInPart(loan.id, date(2025, 4, 1), 3_000_000, 0, "PP-X"), c.uow())
    servicing.run_end_of_day(RunEndOfDay(date(2025, 4, 30)), c.uow())
    _books_whole(c, policy)
    _pay(c, policy, 3, 4)
    servicing.record_prepayment(RecordPrepayment(loan.id, date(2025, 5, 20), 0, "PP-ALL"),
                                c.uow())
    final = _stored(c, policy)
    assert final.earned_fen + final.refunded_fen == 720_000 and final.earning == "exposure"
    _books_whole(c, policy)
