"""Policies' lives through the whole stack, drawn at random (issue 23): single-premium
(earned by time or by exposure) and installment-premium policies whose borrowers pay on time
while, for each, up to two things
happen: a partial prepayment, a restructuring (with the insurer's consent or without), a
full early repayment, a cancellation (in or after the cooling-off period) or the loan's
sale, with month-end closes in between. After every event: refunds never exceed the premium
paid; the ledger balances; its written premium = earned + unearned, and its written and
earned premium and UPR are the policies' own, to the fen; the commission kept is the
funder's rate on the premium kept; and once cover has ended, earned premium = written −
refunded."""

from __future__ import annotations

import contextlib
import shutil
from datetime import date, timedelta
from decimal import Decimal
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import builders as b
from tests import support
from xinbao.bootstrap import bootstrap
from xinbao.kernel.errors import DomainError
from xinbao.kernel.money import apply_rate
from xinbao.ledger import model as gl
from xinbao.ledger import services as ledger
from xinbao.loans.model import add_months, paid_by_installment, position
from xinbao.policy.commands import CancelPolicy, PrepayInPart, RestructureLoan, TransferPolicy
from xinbao.policy.endorsements import (
    cancel_policy,
    prepay_in_part,
    restructure_loan,
    transfer_policy,
)
from xinbao.policy.model import EndorsementKind, PolicyStatus
from xinbao.policy.rules import PolicyRules
from xinbao.reporting import services as reporting
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordPrepayment, RecordRepayment, RunEndOfDay
from xinbao.simulation.identities import IdentityFactory

_DBS = count()
FATES = st.sampled_from(["prepay", "cancel", "transfer", "partial", "restructure"])
#: What happens to a policy: (day after the start, fate, a share of the principal left for a
#: partial prepayment in per cent, the insurer's consent and the installments of a
#: restructuring).
HAPPENINGS = st.lists(st.tuples(st.integers(1, 330), FATES, st.integers(1, 99),
                                st.booleans(), st.integers(1, 36)), max_size=2)
#: (a single premium, earned by exposure rather than time, what happens to it)
LIVES = st.lists(st.tuples(st.booleans(), st.booleans(), HAPPENINGS), min_size=1, max_size=4)
EXPOSURE = PolicyRules("test", 15, earning={"CAR-G": "exposure"})


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(lives=LIVES, closes=st.sets(st.integers(0, 11), max_size=5))
def test_random_lives_keep_the_premium_and_the_ledger_whole(sqlite_template, tmp_path, lives,
                                                             closes):
    path = tmp_path / f"life-{next(_DBS)}.db"
    shutil.copy(sqlite_template, path)
    c = bootstrap(support.settings(f"sqlite:///{path}"))
    try:
        c.risk = b.engine()
        b.seed(c.uow, funders=(b.bank("BANK-A"), b.bank("BANK-B")))
        people = IdentityFactory(5)
        policies, events = [], []
        for n, (single, exposure, happenings) in enumerate(lives):
            app = (b.car_application if single else b.consumer_application)(
                external_ref=f"L-{n}", borrower_id_number=people.resident_id(
                    born_between=(date(1970, 1, 1), date(1990, 12, 31))))
            policy = b.issued_policy(c.uow, app, rules=EXPOSURE if exposure else None)
            with c.uow() as u:
                loan = u.loans.get(policy.loan_id)
            policies.append(policy)
            for i in loan.installments:  # paid on time, whatever the schedule is then
                events.append((i.due_date, 0, "pay", (loan.id, policy)))
            for k, (day, fate, share, consent, count) in enumerate(happenings):
                events.append((b.START + timedelta(days=day), 1, fate,
                               (loan.id, policy, f"{n}-{k}", share, consent, count)))
        for month in sorted(closes):
            end = add_months(b.START.replace(day=1), month + 1) - timedelta(days=1)
            events.append((end, 2, "close", None))
        for on, _, kind, data in sorted(events, key=lambda e: (e[0], e[1])):
            _happen(c, on, kind, data)
            _the_ledger_is_the_policies(c, policies)  # at every date, not only at the end
    finally:
        c.close()


def _the_ledger_is_the_policies(c, policies) -> None:
    """Refunds within the premium paid; the ledger balanced, and its written and earned
    premium, UPR and commission each the policies' own, to the fen."""
    tb = ledger.trial_balance(c.uow())
    assert tb.total == 0
    statement = reporting.portfolio_kpis(c.uow()).statement
    with c.uow() as u:
        stored = [u.policies.get(p.id) for p in policies]
    unearned = 0
    for p in stored:
        assert 0 <= p.refunded_fen <= p.single_premium_fen  # paid in full at issue
        assert 0 <= p.earned_fen <= p.single_premium_fen - p.refunded_fen
        left = p.single_premium_fen - p.earned_fen - p.refunded_fen
        if p.status in (PolicyStatus.CANCELLED, PolicyStatus.CLOSED):
            assert left == 0  # nothing left unearned once cover has ended
        unearned += left
    # Written (net of refunds) = earned + unearned, in the ledger as in the policies.
    assert statement.written_premium_fen == sum(p.written_premium_fen for p in stored)
    assert statement.earned_premium_fen == sum(p.earned_premium_fen for p in stored)
    assert -tb.balance(gl.UNEARNED_PREMIUM_RESERVE) == unearned
    assert statement.written_premium_fen == statement.earned_premium_fen + unearned
    rate = b.bank().commission_rate
    assert tb.balance(gl.COMMISSION_EXPENSE) == sum(
        apply_rate(p.single_premium_fen, rate) - apply_rate(p.refunded_fen, rate)
        + _installment_commission(c, p, rate) for p in stored)
    # The VAT owed is the rate on each premium kept: the single premium less refunds, and
    # each installment premium written at its own premium.
    vat = [p.vat_rate for p in stored]
    assert all(v == Decimal("0.06") for v in vat)
    assert -tb.balance(gl.OUTPUT_VAT) == sum(p.output_vat_fen for p in stored) == sum(
        apply_rate(p.single_premium_fen - p.refunded_fen, v)
        + _installment_commission(c, p, v) for p, v in zip(stored, vat, strict=True))
    for p in stored:
        if p.status is PolicyStatus.CLOSED or p.status is PolicyStatus.CANCELLED:
            assert p.earned_premium_fen == p.written_premium_fen  # = premium − refunds


def _installment_commission(c, policy, rate) -> int:
    """The commission (or the VAT) on a policy's installment premiums written: the funder's
    rate (the VAT rate) on each installment's premium, which a partial prepayment lowers
    from the next one written."""
    with c.uow() as u:
        changes = [e for e in u.policies.endorsements(policy.id)
                   if e.kind is EndorsementKind.PARTIAL_PREPAYMENT]
    levels = [(0, policy.installment_premium_fen if not changes
               else changes[0].details["premium_before_fen"])]
    levels += [(e.details["installments_written"], e.details["installment_premium_fen"])
               for e in changes]
    total = 0
    for (since, premium), (until, _) in zip(levels, [*levels[1:],
                                                     (policy.installments_written, 0)],
                                            strict=True):
        total += apply_rate(premium, rate) * (until - since)
    return total


def _happen(c, on: date, kind: str, data: object) -> None:
    if kind == "pay":
        loan_id, policy = data  # type: ignore[misc]
        with c.uow() as u:
            loan = u.loans.get(loan_id)
            paid = paid_by_installment(u.repayments.for_loan(loan_id))
            premium = u.policies.get(policy.id).installment_premium_fen
        for i in loan.installments:
            p, r = paid.get(i.number, (0, 0))
            if i.due_date > on or (p, r) == (i.principal_fen, i.interest_fen):
                continue
            # Prepaid or cancelled before: the insurer follows the loan no more.
            with contextlib.suppress(DomainError):
                servicing.record_repayment(RecordRepayment(
                    loan_id, i.number, i.due_date, i.principal_fen - p, i.interest_fen - r,
                    f"TX-{loan_id}-{i.number}", premium_fen=premium), c.uow())
    elif kind == "close":
        servicing.run_end_of_day(RunEndOfDay(on), c.uow())
    else:
        loan_id, policy, name, share, consent, count = data  # type: ignore[misc]
        try:
            if kind == "prepay":
                servicing.record_prepayment(RecordPrepayment(loan_id, on, 0, f"PP-{name}"),
                                            c.uow())
            elif kind == "cancel":
                cancel_policy(CancelPolicy(policy.id, on, "asked", insured_consent=True),
                              c.uow())
            elif kind == "partial":
                with c.uow() as u:
                    loan = u.loans.get(loan_id)
                    paid = paid_by_installment(u.repayments.for_loan(loan_id))
                left = position(loan.installments, paid, on).outstanding_principal_fen
                prepay_in_part(PrepayInPart(loan_id, on, max(left * share // 100, 1), 0,
                                            f"PART-{name}"), c.uow())
            elif kind == "restructure":
                restructure_loan(RestructureLoan(policy.id, on, count, f"RS-{name}", "asked",
                                                 consent=consent), c.uow())
            else:
                transfer_policy(TransferPolicy(policy.id, "BANK-B", f"HT-B-{name}", on,
                                               "sold"), c.uow())
        except DomainError:  # a day the loan cannot take it (already past due, ...)
            pass
