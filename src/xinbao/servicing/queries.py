"""Read-side use cases: a loan with its position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
