"""Read-side use cases for the edges: fetch one object, or a loan with its position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from xinbao.domain.claims import Claim
from xinbao.domain.errors import InvalidInput, require
from xinbao.domain.events import Event
from xinbao.domain.loans import Loan, Position, Repayment, paid_by_installment, position
from xinbao.domain.policy import Policy
from xinbao.domain.products import Product
from xinbao.domain.security import Action
from xinbao.domain.underwriting import Application
from xinbao.services.access import authorize, own
from xinbao.services.unit_of_work import UnitOfWork


def get_application(uow: UnitOfWork, application_id: int) -> Application:
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        a = require(uow.applications.get(application_id), "application", application_id)
        own(uow, a.funder_id, "application", application_id)
        return a


def unmask_application(uow: UnitOfWork, application_id: int, *, reason: str,
                       on: date) -> Application:
    """The application for showing its personal data in full: needs pii.unmask and a stated
    reason, and the unmasking is recorded in the audit trail (who, what, why)."""
    authorize(uow, Action.PII_UNMASK)
    if len(reason.strip()) < 5:
        raise InvalidInput.single("reason", "SEC-UNMASK-REASON",
                                  "say why the full personal data is needed")
    with uow:
        a = require(uow.applications.get(application_id), "application", application_id)
        own(uow, a.funder_id, "application", application_id)
        uow.events.add([Event("PiiUnmasked", "application", application_id, on, {
            "fields": ["borrower_name", "borrower_id_number", "borrower_phone",
                       "borrower_bank_card"], "reason": reason.strip()[:200]})])
        uow.commit()
    return a


def find_applications(uow: UnitOfWork, *, id_number: str) -> list[Application]:
    """The applications of one borrower, by exact ID number (within the principal's
    tenant); the search is itself recorded in the audit trail, as a search by ID is a read
    of personal data."""
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        found = [a for a in uow.applications.find_by_id_number(id_number)
                 if uow.actor.sees_funder(a.funder_id)]
        uow.events.add([Event("BorrowerSearched", "application", None, date.today(),
                              {"results": len(found)})])
        uow.commit()
    return found


def get_policy(uow: UnitOfWork, policy_id: int) -> Policy:
    authorize(uow, Action.POLICY_READ)
    with uow:
        p = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, p.funder_id, "policy", policy_id)
        return p


def list_policies(uow: UnitOfWork, *, after_id: int = 0, limit: int = 100) -> list[Policy]:
    """Issued policies in id order, a page at a time; a funder's client gets only its own."""
    authorize(uow, Action.POLICY_READ)
    with uow:
        return uow.policies.page(funder_id=uow.actor.funder_id, after_id=after_id,
                                 limit=min(max(limit, 1), 1000))


def get_claim(uow: UnitOfWork, claim_id: int) -> Claim:
    authorize(uow, Action.CLAIM_READ)
    with uow:
        claim = require(uow.claims.get(claim_id), "claim", claim_id)
        policy = require(uow.policies.get(claim.policy_id), "policy", claim.policy_id)
        own(uow, policy.funder_id, "claim", claim_id)
        return claim


def list_products(uow: UnitOfWork) -> list[Product]:
    authorize(uow, Action.CATALOGUE_READ)
    with uow:
        return uow.products.list_latest()


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
