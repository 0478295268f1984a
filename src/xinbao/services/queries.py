"""Read-side use cases for the edges: fetch one object, or a loan with its position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from xinbao.domain.claims import Claim
from xinbao.domain.errors import require
from xinbao.domain.loans import Loan, Position, Repayment, paid_by_installment, position
from xinbao.domain.policy import Policy
from xinbao.domain.products import Product
from xinbao.domain.underwriting import Application
from xinbao.services.unit_of_work import UnitOfWork


def get_application(uow: UnitOfWork, application_id: int) -> Application:
    with uow:
        return require(uow.applications.get(application_id), "application", application_id)


def get_policy(uow: UnitOfWork, policy_id: int) -> Policy:
    with uow:
        return require(uow.policies.get(policy_id), "policy", policy_id)


def get_claim(uow: UnitOfWork, claim_id: int) -> Claim:
    with uow:
        return require(uow.claims.get(claim_id), "claim", claim_id)


def list_products(uow: UnitOfWork) -> list[Product]:
    with uow:
        return uow.products.list_latest()


@dataclass(frozen=True, slots=True)
class LoanView:
    loan: Loan
    repayments: list[Repayment]
    position: Position


def get_loan(uow: UnitOfWork, loan_id: int, *, as_of: date) -> LoanView:
    with uow:
        loan = require(uow.loans.get(loan_id), "loan", loan_id)
        repayments = uow.repayments.for_loan(loan_id)
    return LoanView(loan, repayments,
                    position(loan.installments, paid_by_installment(repayments), as_of))
