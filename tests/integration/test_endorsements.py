"""Endorsements (issue 23), on SQLite and PostgreSQL: a cancellation in the cooling-off period
gives every premium back (what was earned too), after it the unearned premium by the
product's method, each with the commission clawed back and the ledger balanced; the refusals
(the insured's consent, a loan past due, a date outside cover, a bad reason); a change of
insured on the loan's sale; racing cancellations over HTTP with one refund, one event and no
5xx."""

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
from xinbao.catalogue import services as catalogue
from xinbao.entrypoints.api.app import create_app
from xinbao.iam.model.security import Principal, Role
from xinbao.kernel.errors import Conflict, InvalidInput, NotFound
from xinbao.kernel.money import apply_rate
from xinbao.ledger import model as accounts
from xinbao.ledger import services as ledger
from xinbao.loans.model import Installment
from xinbao.policy.commands import CancelPolicy, TransferPolicy
from xinbao.policy.endorsements import cancel_policy, transfer_policy
from xinbao.policy.model import EndorsementKind, Policy, PolicyStatus, unearned_share
from xinbao.reporting import services as reporting
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment, RunEndOfDay

STAFF = Principal("user", "wu.uw", frozenset({Role.UNDERWRITING_APPROVER}))
RATE = b.bank().commission_rate


@pytest.fixture
def c(decided_container: Container) -> Container:
    return decided_container


def _car(c: Container, on: date = b.START) -> Policy:
    """A car loan's guarantee policy: 720,000 fen single premium, Rule of 78, 24 months."""
    return b.issued_policy(c.uow, b.car_application(), on=on)


def _cancel(c: Container, policy: Policy, on: date, *, consent: bool = True,
            actor: Principal = STAFF, reason: str = "the borrower asked") -> Any:
    return cancel_policy(CancelPolicy(policy.id, on, reason, consent), c.uow(actor))


def _repaid(loan_id: int, i: Installment, reference: str, premium_fen: int = 0,
            ) -> RecordRepayment:
    return RecordRepayment(loan_id, i.number, i.due_date, i.principal_fen, i.interest_fen,
                           reference, premium_fen=premium_fen)


def _stored(c: Container, policy: Policy) -> Policy:
    with c.uow() as u:
        return u.policies.get(policy.id)


def test_in_the_cooling_off_period_every_premium_comes_back(c):
    policy = _car(c)
    endorsement = _cancel(c, policy, b.START + timedelta(days=10))

    assert (endorsement.kind, endorsement.version, endorsement.refund_fen) == (
        EndorsementKind.CANCELLATION, 2, 720_000)
    assert endorsement.commission_clawback_fen == apply_rate(720_000, RATE)
    assert endorsement.details["cooling_off"] is True
    stored = _stored(c, policy)
    assert (stored.status, stored.version, stored.refunded_fen, stored.earned_fen) == (
        PolicyStatus.CANCELLED, 2, 720_000, 0)
    tb = ledger.trial_balance(c.uow())
    assert tb.total == 0
    for account in (accounts.WRITTEN_PREMIUM, accounts.UNEARNED_PREMIUM_RESERVE,
                    accounts.COMMISSION_EXPENSE, accounts.COMMISSION_PAYABLE,
                    accounts.OUTPUT_VAT, accounts.PREMIUM_RECEIVABLE):
        assert tb.balance(account) == 0, account  # the VAT paid on it comes back too
    assert (policy.single_vat_fen, stored.single_vat_fen) == (43_200, 0)


def test_premium_earned_at_a_month_end_in_the_cooling_off_period_is_given_back_too(c):
    policy = _car(c, on=date(2025, 1, 25))  # cooling off to 9 February
    servicing.run_end_of_day(RunEndOfDay(date(2025, 1, 31)), c.uow())
    assert _stored(c, policy).earned_fen > 0

    endorsement = _cancel(c, policy, date(2025, 2, 5))

    assert endorsement.details["earned_reversed_fen"] > 0
    assert endorsement.refund_fen == policy.single_premium_fen
    statement = reporting.portfolio_kpis(c.uow()).statement
    assert statement.written_premium_fen == statement.earned_premium_fen == 0
    assert ledger.trial_balance(c.uow()).balance(accounts.UNEARNED_PREMIUM_RESERVE) == 0


def test_after_the_cooling_off_period_the_unearned_premium_comes_back(c):
    policy = _car(c)
    with c.uow() as u:
        loan = u.loans.get(policy.loan_id)
    for n in range(6):  # six installments paid: not past due on the day
        i = loan.installments[n]
        servicing.record_repayment(_repaid(loan.id, i, f"TX-{n}"), c.uow())
    on = date(2025, 7, 20)
    stored_before = _stored(c, policy)

    endorsement = _cancel(c, policy, on)

    share = unearned_share(stored_before.refund_method, start=stored_before.start_date,
                           end=stored_before.end_date, term_months=24, on=on)
    assert endorsement.details["cooling_off"] is False
    assert endorsement.refund_fen == stored_before.refund_on_prepayment(on) \
        == 720_000 * share.numerator * 2 // share.denominator - \
        720_000 * share.numerator // share.denominator  # half up, as apply_fraction rounds
    stored = _stored(c, policy)
    assert stored.earned_fen + stored.refunded_fen == 720_000
    statement = reporting.portfolio_kpis(c.uow()).statement
    assert statement.written_premium_fen == 720_000 - endorsement.refund_fen
    assert statement.earned_premium_fen == stored.earned_fen
    tb = ledger.trial_balance(c.uow())
    assert tb.total == 0 and tb.balance(accounts.UNEARNED_PREMIUM_RESERVE) == 0
    assert tb.balance(accounts.COMMISSION_EXPENSE) == apply_rate(720_000, RATE) - apply_rate(
        endorsement.refund_fen, RATE)
    # The VAT on the premium refunded goes back with it: what is owed is 6 % on the rest.
    kept = 720_000 - endorsement.refund_fen
    assert -tb.balance(accounts.OUTPUT_VAT) == apply_rate(kept, Decimal("0.06")) \
        == stored.output_vat_fen


def test_an_installment_premium_policy_cancelled_stops_its_premiums(c):
    policy = b.issued_policy(c.uow)  # CONSUMER-G: premium with each installment
    with c.uow() as u:
        loan = u.loans.get(policy.loan_id)
    first = loan.installments[0]
    servicing.record_repayment(_repaid(loan.id, first, "TX-1",
                                       premium_fen=policy.installment_with_vat_fen), c.uow())
    endorsement = _cancel(c, policy, first.due_date + timedelta(days=3))
    assert (endorsement.refund_fen, endorsement.commission_clawback_fen) == (0, 0)
    second = loan.installments[1]
    with pytest.raises(InvalidInput, match="repayment.premium"):  # no premium is due now
        servicing.record_repayment(_repaid(loan.id, second, "TX-2",
                                           premium_fen=policy.installment_with_vat_fen),
                                   c.uow())
    servicing.record_repayment(_repaid(loan.id, second, "TX-2"), c.uow())  # the loan runs on
    servicing.run_end_of_day(RunEndOfDay(loan.installments[2].due_date + timedelta(days=5)),
                             c.uow())
    stored = _stored(c, policy)
    assert stored.status is PolicyStatus.CANCELLED and stored.installments_written == 1
    with c.uow() as u:
        assert u.claims.for_policy(policy.id) == []


def test_a_cancellation_is_refused_with_its_rule(c):
    policy = _car(c)
    with pytest.raises(InvalidInput, match="policy.insured_consent"):
        _cancel(c, policy, b.START + timedelta(days=3), consent=False)
    with pytest.raises(InvalidInput, match="policy.reason"):
        _cancel(c, policy, b.START + timedelta(days=3), reason="  ")
    with pytest.raises(InvalidInput, match="policy.cancel_date"):
        _cancel(c, policy, b.START - timedelta(days=1))
    with pytest.raises(Conflict, match="past due"):  # nothing repaid by then
        _cancel(c, policy, date(2025, 3, 1))
    assert _stored(c, policy).status is PolicyStatus.IN_FORCE
    assert ledger.trial_balance(c.uow()).balance(accounts.WRITTEN_PREMIUM) == -720_000


def test_the_funders_own_request_is_its_consent_and_again_is_the_same_cancellation(c):
    policy = _car(c)
    with c.uow() as u:
        funder_id = u.funders.get_by_code("BANK-A").id
    bank_a = Principal("client", "bank-a-api", frozenset({Role.FUNDER}), funder_id=funder_id)
    first = _cancel(c, policy, b.START + timedelta(days=2), consent=False, actor=bank_a)
    again = _cancel(c, policy, b.START + timedelta(days=4), consent=False, actor=bank_a)
    assert again == first
    with c.uow() as u:
        assert len([e for e in u.events.list(aggregate="policy", aggregate_id=policy.id)
                    if e.name == "PolicyCancelled"]) == 1


def test_racing_cancellations_refund_once_without_a_5xx(c):
    policy = _car(c)
    token = support.api_token(c, "bank-a-api", ["funder"], "BANK-A")
    app = create_app(c)
    body = {"on": (b.START + timedelta(days=5)).isoformat(), "reason": "the borrower asked"}

    def send(_: int) -> Any:
        with TestClient(app, raise_server_exceptions=False) as client:
            return client.post(f"/v1/policies/{policy.id}/cancel", json=body,
                               headers=support.bearer(token))

    answers = support.race(20, send)

    assert sorted(a.status_code for a in answers) == [200] * 20
    assert {a.json()["refund_fen"] for a in answers} == {720_000}
    with c.uow() as u:
        refunds = [e for e in u.ledger.entries() if e.source_command == "RefundPremium"]
        cancelled = [e for e in u.events.list(aggregate="policy", aggregate_id=policy.id)
                     if e.name == "PolicyCancelled"]
    assert len(refunds) == 1 and len(cancelled) == 1
    assert ledger.trial_balance(c.uow()).total == 0


def test_the_insured_changes_with_the_loans_sale_and_the_borrower_stays(c):
    policy = _car(c)
    catalogue.register_funder(b.bank("BANK-B"), c.uow())
    endorsement = transfer_policy(TransferPolicy(policy.id, "BANK-B", "HT-B-0001",
                                                 b.START + timedelta(days=40), "loan sold"),
                                  c.uow(STAFF))
    with c.uow() as u:
        bank_b = u.funders.get_by_code("BANK-B")
        stored, loan = u.policies.get(policy.id), u.loans.get(policy.loan_id)
        events = [e.name for e in u.events.list(aggregate="loan", aggregate_id=loan.id)]
    assert (endorsement.kind, endorsement.version) == (EndorsementKind.TRANSFER, 2)
    assert (stored.funder_id, stored.version, stored.borrower_id_number) == (
        bank_b.id, 2, policy.borrower_id_number)
    assert (loan.funder_id, loan.contract_no) == (bank_b.id, "HT-B-0001")
    assert "LoanTransferred" in events
    again = transfer_policy(TransferPolicy(policy.id, "BANK-B", "HT-B-0001",
                                           b.START + timedelta(days=41), "loan sold"),
                            c.uow(STAFF))
    assert again == endorsement
    seller = Principal("client", "bank-a-api", frozenset({Role.FUNDER}),
                       funder_id=policy.funder_id)
    with pytest.raises(NotFound):
        cancel_policy(CancelPolicy(policy.id, b.START + timedelta(days=42), "x"),
                      c.uow(seller))


def test_a_transfer_is_refused_to_a_funder_without_the_product_or_onto_a_taken_contract(c):
    policy = _car(c)
    catalogue.register_funder(b.bank("BANK-C", products=("CONSUMER-G",)), c.uow())
    with pytest.raises(InvalidInput, match="policy.transfer_product"):
        transfer_policy(TransferPolicy(policy.id, "BANK-C", "HT-C-1", b.START, "sold"),
                        c.uow(STAFF))
    other = b.issued_policy(c.uow, b.consumer_application(
        external_ref="APP-2", borrower_id_number=b.RESIDENT_ID))
    with c.uow() as u:
        taken = u.loans.get(other.loan_id).contract_no
    with pytest.raises(Conflict, match="contract number"):
        transfer_policy(TransferPolicy(policy.id, "BANK-A", taken, b.START, "sold"),
                        c.uow(STAFF))
    with pytest.raises(InvalidInput, match="policy.contract_no"):
        transfer_policy(TransferPolicy(policy.id, "BANK-C", "", b.START, "sold"),
                        c.uow(STAFF))


def test_the_cli_cancels_by_the_policys_number_and_lists_the_endorsements(c):
    from typer.testing import CliRunner

    from xinbao.entrypoints.cli.main import app

    policy = _car(c)
    url = ["--database-url", c.settings.database_url]
    run = CliRunner().invoke
    refused = run(app, ["policies", "cancel", policy.policy_no, "--reason", "asked",
                        "--on", "2025-01-20", *url])
    done = run(app, ["policies", "cancel", policy.policy_no, "--reason", "asked",
                     "--on", "2025-01-20", "--insured-consent", "--json", *url])
    listed = run(app, ["policies", "endorsements", policy.policy_no, "--json", *url])

    assert refused.exit_code == 2 and "policy.insured_consent" in refused.output
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["refund_fen"] == 720_000
    [only] = json.loads(listed.stdout)["items"]
    assert (only["kind"], only["version"], only["details"]["cooling_off"]) == (
        "cancellation", 2, True)


def test_a_funders_file_charges_no_premium_on_a_cancelled_policy(c, tmp_path):
    from datetime import datetime

    from xinbao.batch import files
    from xinbao.batch.feeds import FileType, Manifest
    from xinbao.servicing.feeds import LoadFeed, load_feed

    policy = b.issued_policy(c.uow)
    with c.uow() as u:
        loan = u.loans.get(policy.loan_id)
    _cancel(c, policy, b.START + timedelta(days=3))
    first = loan.installments[0]

    def load(name: str, premium: str) -> Any:
        path = tmp_path / name
        path.write_text("contract_no,installment_number,paid_on,principal,interest,premium,"
                        f"reference\n{loan.contract_no},1,{first.due_date},"
                        f"{first.principal_fen / 100:.2f},{first.interest_fen / 100:.2f},"
                        f"{premium},TX-1\n", encoding="utf-8")
        raw = files.read(path)
        return load_feed(LoadFeed("BANK-A", name, files.content_hash(path), Manifest(
            FileType.REPAYMENTS, "BANK-A", first.due_date, raw.height), raw,
            datetime(2025, 3, 1)), c.uow())

    refused = load("with-premium.csv", f"{policy.installment_premium_fen / 100:.2f}")
    applied = load("without.csv", "")

    assert refused.status == "refused"
    assert refused.rejects["rule"].to_list() == ["repayment.premium"]
    assert applied.status == "applied" and applied.accepted == 1
    assert _stored(c, policy).installments_written == 0


def test_racing_transfers_of_one_sale_change_the_insured_once(c):
    policy = _car(c)
    catalogue.register_funder(b.bank("BANK-B"), c.uow())
    cmd = TransferPolicy(policy.id, "BANK-B", "HT-B-9", b.START + timedelta(days=40), "sold")

    made = support.race(6, lambda _: transfer_policy(cmd, c.uow(STAFF)))

    assert len({(e.version, e.id) for e in made}) == 1
    with c.uow() as u:
        assert [e.kind for e in u.policies.endorsements(policy.id)] == [
            EndorsementKind.TRANSFER]
        changed = [e for e in u.events.list(aggregate="policy", aggregate_id=policy.id)
                   if e.name == "PolicyInsuredChanged"]
        assert len(changed) == 1
        assert u.loans.get(policy.loan_id).contract_no == "HT-B-9"
