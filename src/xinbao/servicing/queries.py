"""Read-side use cases: a loan with its position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from xinbao.claims.model import Claim
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import require
from xinbao.loans.model import Loan, Position, Repayment, paid_by_installment, position
from xinbao.servicing.repository import UnitOfWork


@dataclass(frozen=True, slots=True)
class LoanView:
    loan: Loan
    repayments: list[Repayment]
    position: Position


def get_loan(uow: UnitOfWork, loan_id: int, *, as_of: date) -> LoanView:
    authorize(uow, Action.LOAN_READ)
    with uow:
        loan = require(uow.loans.get(loan_id), "loan", loan_id)
        own(uow, loan.funder_id, "loan", loan_id)
        repayments = uow.repayments.for_loan(loan_id)
    return LoanView(loan, repayments,
                    position(loan.installments, paid_by_installment(repayments), as_of))


def claims_of_policy(uow: UnitOfWork, policy_id: int) -> list[Claim]:
    """The claims made on one policy, oldest first, within the principal's tenant (a policy
    page links to each)."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        p = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, p.funder_id, "policy", policy_id)
        return sorted(uow.claims.for_policy(policy_id), key=lambda c: c.id or 0)
