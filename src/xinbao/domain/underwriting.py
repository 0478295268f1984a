"""Applications and the approval decision.

The approval rule here is the placeholder of the thin lifecycle: the amount and term must lie
within the limits of the product version the application is bound to. Each rule that fails
becomes a reason code on the decision, so a decline explains itself:

- UW-AMOUNT-RANGE: amount outside the product's range.
- UW-TERM-RANGE: term outside the product's range.
- UW-REPAYMENT-METHOD: repayment method not offered by the product.

The risk approval engine (anti-fraud, scoring, limits, pricing) replaces this rule later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from xinbao.domain.errors import IllegalTransition
from xinbao.domain.events import Event
from xinbao.domain.parties import Borrower, InsuranceMode, Roles
from xinbao.domain.products import Product, RepaymentMethod

_RULE_TO_REASON = {
    "product.amount_range": "UW-AMOUNT-RANGE",
    "loan.amount_positive": "UW-AMOUNT-RANGE",
    "product.term_range": "UW-TERM-RANGE",
    "loan.term_positive": "UW-TERM-RANGE",
    "product.repayment_method": "UW-REPAYMENT-METHOD",
}


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    reason_codes: tuple[str, ...]
    messages: tuple[str, ...]


@dataclass(eq=False, slots=True)
class Application:
    funder_id: int
    product_code: str
    product_version: int
    mode: InsuranceMode
    borrower: Borrower
    roles: Roles
    amount_fen: int
    term_months: int
    annual_rate: Decimal
    repayment_method: RepaymentMethod
    applied_on: date
    external_ref: str  # the funder's application number, unique per funder
    status: ApplicationStatus = ApplicationStatus.SUBMITTED
    decided_on: date | None = None
    reason_codes: tuple[str, ...] = ()
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    def decide(self, decision: Decision, on: date) -> None:
        if self.status is not ApplicationStatus.SUBMITTED:
            raise IllegalTransition("application", self.id, self.status.value, "decide")
        self.status = (ApplicationStatus.APPROVED if decision.approved
                       else ApplicationStatus.DECLINED)
        self.decided_on = on
        self.reason_codes = decision.reason_codes
        name = "ApplicationApproved" if decision.approved else "ApplicationDeclined"
        self.events.append(Event(name, "application", self.id, on, {
            "from": ApplicationStatus.SUBMITTED.value, "to": self.status.value,
            "reason_codes": list(decision.reason_codes)}))


def evaluate(application: Application, product: Product) -> Decision:
    """The placeholder approval rule: the loan lies within the product's limits."""
    findings = product.check_loan_terms(
        amount_fen=application.amount_fen, term_months=application.term_months,
        repayment_method=application.repayment_method,
    )
    codes = tuple(dict.fromkeys(_RULE_TO_REASON[f.rule] for f in findings))
    return Decision(approved=not findings, reason_codes=codes,
                    messages=tuple(f.message for f in findings))
