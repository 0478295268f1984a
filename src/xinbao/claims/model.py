"""Liability determination (责任认定) and claims.

A claim is covered only when every check holds (DOMAIN §2, §3); each check that fails is a
finding with a reason code, so a declined claim explains itself:

- CLM-NOT-IN-FORCE: the policy is not in force, or the unpaid installment fell due outside
  its period of cover.
- CLM-TRIGGER-NOT-REACHED: days past due below the product's claim trigger (赔款等候期).
- CLM-WAITING-PERIOD: the first unpaid installment fell due within the waiting period after
  cover started.
- CLM-LOAN-NOT-AS-INSURED: the loan's principal or term differs from what was insured.
- CLM-EXCLUSION-<NAME>: an exclusion of the wording applies (lender broke lending rules, loan
  terms changed without the insurer's consent, collusion or fraud by the insured, force
  majeure).

Payout: (outstanding principal + overdue interest) × the insurer's coverage share, rounded to
the fen; penalty interest is excluded (DOMAIN §3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from xinbao.catalogue.model.products import Product
from xinbao.kernel.errors import IllegalTransition
from xinbao.kernel.events import Event
from xinbao.kernel.money import apply_rate
from xinbao.loans.model import Loan, Position
from xinbao.policy.model import Policy, PolicyStatus


class Exclusion(StrEnum):
    LENDING_RULES_BROKEN = "lending_rules_broken"
    TERMS_CHANGED_WITHOUT_CONSENT = "terms_changed_without_consent"
    INSURED_FRAUD = "insured_fraud"
    FORCE_MAJEURE = "force_majeure"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Determination:
    covered: bool
    findings: tuple[Finding, ...]
    principal_fen: int
    interest_fen: int
    amount_fen: int  # payable when covered


def trigger_reached(days_past_due: int, trigger_dpd: int) -> bool:
    """The claim event (DOMAIN §3): the borrower has not paid for the product's trigger
    days or more (60 to 90 in the market; ``claim_trigger_dpd`` in ``params/products.toml``).
    The end-of-day batch opens a claim when it holds; liability determination checks it
    again with the rest."""
    return days_past_due >= trigger_dpd


def determine_liability(
    *, policy: Policy, product: Product, loan: Loan, position: Position,
    exclusions: frozenset[Exclusion] = frozenset(),
) -> Determination:
    findings: list[Finding] = []
    default_on = position.first_unpaid_due_date
    if policy.status is not PolicyStatus.IN_FORCE:
        findings.append(Finding("CLM-NOT-IN-FORCE", f"policy is {policy.status.value}"))
    elif default_on is not None and not policy.covers(default_on):
        findings.append(Finding("CLM-NOT-IN-FORCE",
                                f"the unpaid installment fell due on {default_on}, outside cover"))
    if not trigger_reached(position.days_past_due, product.claim_trigger_dpd):
        findings.append(Finding(
            "CLM-TRIGGER-NOT-REACHED",
            f"{position.days_past_due} days past due, trigger is {product.claim_trigger_dpd}",
        ))
    if policy.start_date is not None and position.first_unpaid_due_date is not None:
        waiting_ends = policy.start_date + timedelta(days=product.waiting_period_days)
        if position.first_unpaid_due_date <= waiting_ends:
            findings.append(Finding(
                "CLM-WAITING-PERIOD",
                f"first unpaid installment due {position.first_unpaid_due_date}, "
                f"within the waiting period ending {waiting_ends}",
            ))
    if loan.principal_fen != policy.sum_insured_fen or loan.term_months != policy.term_months:
        findings.append(Finding("CLM-LOAN-NOT-AS-INSURED",
                                "loan principal or term differs from the insured terms"))
    for exclusion in sorted(exclusions):
        findings.append(Finding(f"CLM-EXCLUSION-{exclusion.value.upper()}",
                                f"exclusion applies: {exclusion.value}"))
    principal = position.outstanding_principal_fen
    interest = position.overdue_interest_fen
    amount = apply_rate(principal + interest, policy.coverage_share)
    return Determination(
        covered=not findings, findings=tuple(findings), principal_fen=principal,
        interest_fen=interest, amount_fen=amount if not findings else 0,
    )


#: The checks of liability determination, each by the reason code of its finding when it
#: fails (an exclusion's code is ``CLM-EXCLUSION-`` and the exclusion's name).
CHECKS = ("CLM-NOT-IN-FORCE", "CLM-TRIGGER-NOT-REACHED", "CLM-WAITING-PERIOD",
          "CLM-LOAN-NOT-AS-INSURED", "CLM-EXCLUSION-")


class ClaimStatus(StrEnum):
    OPEN = "open"  # liability accepted, reserve set, awaiting payment
    DECLINED = "declined"
    PAID = "paid"  # indemnity paid; recovery under way
    CLOSED = "closed"  # recovery finished


@dataclass(eq=False, slots=True)
class Claim:
    policy_id: int
    loan_id: int
    opened_on: date
    days_past_due: int
    principal_fen: int
    interest_fen: int
    amount_fen: int
    status: ClaimStatus
    reason_codes: tuple[str, ...] = ()
    paid_on: date | None = None
    recovered_fen: int = 0
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, *, policy: Policy, loan: Loan, determination: Determination,
             days_past_due: int, on: date) -> Claim:
        assert policy.id is not None and loan.id is not None
        claim = cls(
            policy_id=policy.id, loan_id=loan.id, opened_on=on, days_past_due=days_past_due,
            principal_fen=determination.principal_fen, interest_fen=determination.interest_fen,
            amount_fen=determination.amount_fen,
            status=ClaimStatus.OPEN if determination.covered else ClaimStatus.DECLINED,
            reason_codes=tuple(f.code for f in determination.findings),
        )
        name = "ClaimOpened" if determination.covered else "ClaimDeclined"
        claim.events.append(Event(name, "claim", None, on, {
            "to": claim.status.value, "policy_id": policy.id, "amount_fen": claim.amount_fen,
            "reason_codes": list(claim.reason_codes),
        }))
        return claim

    def pay(self, on: date) -> None:
        if self.status is not ClaimStatus.OPEN:
            raise IllegalTransition("claim", self.id, self.status.value, "pay")
        self.status = ClaimStatus.PAID
        self.paid_on = on
        self.events.append(Event("ClaimPaid", "claim", self.id, on, {
            "from": ClaimStatus.OPEN.value, "to": self.status.value,
            "amount_fen": self.amount_fen}))

    @property
    def recoverable_fen(self) -> int:
        """What may still be recovered: the indemnity paid less recoveries so far.

        Penalty and costs owed by the obligor join the recovery scope with the recovery stage.
        """
        return self.amount_fen - self.recovered_fen if self.status is ClaimStatus.PAID else 0

    def record_recovery(self, amount_fen: int, on: date, *, final: bool) -> None:
        if self.status is not ClaimStatus.PAID:
            raise IllegalTransition("claim", self.id, self.status.value, "record a recovery")
        self.recovered_fen += amount_fen
        self.events.append(Event("RecoveryRecorded", "claim", self.id, on,
                                 {"amount_fen": amount_fen, "final": final}))
        if final or self.recovered_fen >= self.amount_fen:
            self.status = ClaimStatus.CLOSED
            self.events.append(Event("ClaimClosed", "claim", self.id, on, {
                "from": ClaimStatus.PAID.value, "to": self.status.value,
                "recovered_fen": self.recovered_fen}))


@dataclass(frozen=True, slots=True)
class Recovery:
    claim_id: int
    received_on: date
    amount_fen: int
    source: str  # borrower, guarantor, collateral, debt sale, ...
    id: int | None = None
