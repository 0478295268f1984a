"""Claims as a workflow (issue 22): where a claim comes from, the states it moves through,
liability determination (责任认定) as a list of checks with their evidence, and the amount.

A claim comes from the end-of-day batch (the loan reached its product's trigger), from the
funder's claim notice, or from claims staff (``ClaimSource``). It moves

    notified → under review → approved | declined → paid → recovering → closed

and a declined claim is reopened (under review again) on appeal (``TRANSITIONS``); every move
is an event with the claim's states before and after and why, and the audit trail records who
(``domain_events``). A move the table does not allow is refused (``IllegalTransition``).

Liability determination runs every check and keeps each one's result, reason code, message
and evidence (what it read), so a declined claim explains itself (``assess``):

- CLM-NOT-IN-FORCE: the policy is not in force, or the first unpaid installment fell due
  outside its period of cover.
- CLM-WAITING-PERIOD: the first unpaid installment fell due within the waiting period after
  cover started.
- CLM-TRIGGER-NOT-REACHED: days past due below the product's claim trigger (赔款等候期).
- CLM-LOAN-NOT-AS-INSURED: the loan's principal, term, rate or start differ from what was
  insured.
- CLM-PREMIUM-UNPAID: premium due before the default left unpaid past the agreement's grace.
- CLM-NOTICE-LATE: the funder's notice came later after the trigger than its agreement allows.
- CLM-DUPLICATE: the policy has another claim that stands (not declined).
- CLM-EXCLUSION-<NAME>: an exclusion of the wording applies: the lender broke lending rules,
  the loan was changed without the insurer's consent, collusion or fraud by the insured,
  force majeure (each declared by a handler with what shows it), the loan's rate above the
  cap, a cancelled policy (both read from the book).

Claim anti-fraud (``screen``) refers a claim whose checks pass to a person instead of paying
it automatically: CLM-FRAUD-FPD (first-payment default), CLM-FRAUD-EARLY-DEFAULT,
CLM-FRAUD-RING (the borrower in an identity ring), CLM-FRAUD-VINTAGE (claims concentrated on
the funder's month of loans), CLM-FRAUD-NOTICES (repeated or conflicting notices).

The amount (DOMAIN §3): (outstanding principal + interest due and unpaid at the trigger date,
+ penalty interest only where the wording includes it) × the insurer's share − the deductible;
a partial claim asks for less and gets at most what it asks (``Amount``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from xinbao.catalogue.model.agreements import insurer_share
from xinbao.catalogue.model.products import Product
from xinbao.iam.model.security import Action, Forbidden
from xinbao.kernel.errors import FieldError, IllegalTransition, InvalidInput
from xinbao.kernel.events import Event
from xinbao.kernel.money import apply_rate
from xinbao.loans.model import Installment, Loan, build_schedule, position, schedule_digest
from xinbao.policy.model import Policy, PolicyStatus


class Exclusion(StrEnum):
    """Exclusions a handler declares, with what shows them (the book cannot see them)."""

    LENDING_RULES_BROKEN = "lending_rules_broken"
    TERMS_CHANGED_WITHOUT_CONSENT = "terms_changed_without_consent"
    INSURED_FRAUD = "insured_fraud"  # collusion or fraud by the insured
    FORCE_MAJEURE = "force_majeure"


#: Exclusions read from the book: their codes are checked on every claim.
RATE_ABOVE_CAP = "CLM-EXCLUSION-RATE_ABOVE_CAP"
POLICY_CANCELLED = "CLM-EXCLUSION-POLICY_CANCELLED"

#: The checks in the order they run and are shown, by the reason code each fails with (the
#: declared exclusions follow, one check each).
CHECKS = ("CLM-NOT-IN-FORCE", "CLM-WAITING-PERIOD", "CLM-TRIGGER-NOT-REACHED",
          "CLM-LOAN-NOT-AS-INSURED", "CLM-PREMIUM-UNPAID", "CLM-NOTICE-LATE", "CLM-DUPLICATE",
          RATE_ABOVE_CAP, POLICY_CANCELLED)
TRIGGER = "CLM-TRIGGER-NOT-REACHED"


def exclusion_code(exclusion: Exclusion) -> str:
    return f"CLM-EXCLUSION-{exclusion.value.upper()}"


class ClaimStatus(StrEnum):
    NOTIFIED = "notified"  # known, its checks not all run or its trigger not yet reached
    UNDER_REVIEW = "under_review"  # in the claims queue, for a person
    APPROVED = "approved"  # liability accepted; scheduled for payment
    DECLINED = "declined"
    PAID = "paid"  # indemnity paid; the recovery right is the insurer's
    RECOVERING = "recovering"  # money recovered from the obligor, more may come
    CLOSED = "closed"


class ClaimSource(StrEnum):
    TRIGGER = "trigger"  # the end-of-day batch: days past due reached the trigger
    NOTICE = "notice"  # the funder's claim notice (API or file)
    MANUAL = "manual"  # entered by claims staff


#: Where each state may go; anything else is refused.
TRANSITIONS: Mapping[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.NOTIFIED: frozenset({ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED,
                                     ClaimStatus.DECLINED}),
    ClaimStatus.UNDER_REVIEW: frozenset({ClaimStatus.APPROVED, ClaimStatus.DECLINED}),
    ClaimStatus.APPROVED: frozenset({ClaimStatus.PAID, ClaimStatus.DECLINED}),
    ClaimStatus.DECLINED: frozenset({ClaimStatus.UNDER_REVIEW}),  # reopened on appeal
    ClaimStatus.PAID: frozenset({ClaimStatus.RECOVERING, ClaimStatus.CLOSED}),
    ClaimStatus.RECOVERING: frozenset({ClaimStatus.CLOSED}),
    ClaimStatus.CLOSED: frozenset(),
}

#: Who approves automatic claims (kept in the claim's approvals and its events).
AUTOMATIC = "system:auto-claims"

#: States in which a claim stands against its policy (a second one is a duplicate).
STANDING = frozenset(set(ClaimStatus) - {ClaimStatus.DECLINED})
#: States whose amount may still be assessed again (nothing paid yet).
OPEN = frozenset({ClaimStatus.NOTIFIED, ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED})

_EVENTS = {ClaimStatus.UNDER_REVIEW: "ClaimReviewStarted", ClaimStatus.APPROVED: "ClaimApproved",
           ClaimStatus.DECLINED: "ClaimDeclined", ClaimStatus.PAID: "ClaimPaid",
           ClaimStatus.RECOVERING: "ClaimRecovering", ClaimStatus.CLOSED: "ClaimClosed"}


def trigger_reached(days_past_due: int, trigger_dpd: int) -> bool:
    """The claim event (DOMAIN §3): the borrower has not paid for the product's trigger
    days or more (60 to 90 in the market; ``claim_trigger_dpd`` in ``params/products.toml``)."""
    return days_past_due >= trigger_dpd


Evidence = Mapping[str, str | int | bool | None]


@dataclass(frozen=True, slots=True)
class Check:
    """One check of liability determination: its reason code (the code a failure carries),
    whether it passed, what it found, and the data it read."""

    code: str
    passed: bool
    message: str
    evidence: Evidence

    def as_data(self) -> dict[str, Any]:
        return {"code": self.code, "passed": self.passed, "message": self.message,
                "evidence": dict(self.evidence)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Check:
        return cls(str(data["code"]), bool(data["passed"]), str(data["message"]),
                   dict(data["evidence"]))


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """The claims parameters (``params/claims.toml``) and the funder's agreement terms the
    checks and the amount read (``Agreement.claim_notice_days``, ``premium_grace_days``,
    ``risk_share``)."""

    notice_days: int = 30  # a notice within this many days after the trigger date
    premium_grace_days: int = 30  # premium due may be this late before the default
    risk_share: Decimal = Decimal(0)  # the share of each loss the funder keeps
    rate_cap: Decimal = Decimal("0.24")  # a loan's annual rate above it is excluded
    penalty_included: bool = False  # the wording pays penalty interest
    penalty_daily_rate: Decimal = Decimal("0.0005")  # on overdue amounts, per day
    deductible_fen: int = 0
    automatic_limit_fen: int = 0  # automatic claims up to this amount (0: none)
    # Claim anti-fraud: what refers a claim to a person instead of paying it automatically.
    early_default_installments: int = 3  # a default on one of the first installments
    notices_referred: int = 2  # this many notices on one policy (repeated or conflicting)
    vintage_claim_share: Decimal = Decimal("0.05")  # a funder's month of loans claiming this
    vintage_min_loans: int = 20  # … once the month has this many loans
    ring_min_size: int = 3  # the borrower's application in an identity ring this large


@dataclass(frozen=True, slots=True)
class ClaimParameters:
    """``params/claims.toml``: the rules of each product (the defaults where a product has
    none of its own) and the claims queue's service levels in days from the trigger."""

    version: str
    defaults: ClaimRules
    products: Mapping[str, ClaimRules] = field(default_factory=dict)
    decision_days: int = 5
    payment_days: int = 10

    def for_product(self, code: str) -> ClaimRules:
        return self.products.get(code, self.defaults)


_RULE_FIELDS = {"penalty_included": bool,
                "penalty_daily_rate": Decimal, "deductible_fen": int,
                "automatic_limit_fen": int, "early_default_installments": int,
                "notices_referred": int, "vintage_claim_share": Decimal,
                "vintage_min_loans": int, "ring_min_size": int}


def parse_claim_parameters(data: Mapping[str, Any], *, rate_cap: Decimal) -> ClaimParameters:
    """The parameters from the file's data; ValueError naming the first bad value."""

    def rules(part: Mapping[str, Any], base: ClaimRules) -> ClaimRules:
        values: dict[str, Any] = {}
        for name, value in part.items():
            kind = _RULE_FIELDS.get(name)
            if kind is None:
                raise ValueError(f"claims parameters: unknown setting {name!r}")
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"claims parameters: {name} is true or false")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)
                                or value < 0):
                raise ValueError(f"claims parameters: {name} is a whole number, 0 or more")
            values[name] = Decimal(str(value)) if kind is Decimal else value
        found = ClaimRules(**{**{n: getattr(base, n) for n in _RULE_FIELDS}, **values,
                              "rate_cap": rate_cap})
        if not Decimal(0) <= found.penalty_daily_rate < Decimal("0.01"):
            raise ValueError("claims parameters: penalty_daily_rate is in [0, 0.01)")
        if not Decimal(0) < found.vintage_claim_share <= Decimal(1):
            raise ValueError("claims parameters: vintage_claim_share is in (0, 1]")
        return found

    defaults = rules(data.get("defaults", {}), ClaimRules(rate_cap=rate_cap))
    products = {code: rules(part, defaults) for code, part in data.get("products", {}).items()}
    levels = data.get("service_levels", {})
    return ClaimParameters(str(data["version"]), defaults, products,
                           int(levels.get("decision_days", 5)),
                           int(levels.get("payment_days", 10)))


@dataclass(frozen=True, slots=True)
class Amount:
    """What is payable and how it is made up (all fen; the share as a rate)."""

    principal_fen: int  # outstanding at the trigger date
    interest_fen: int  # contractual interest due and unpaid at the trigger date
    penalty_fen: int  # penalty interest to the trigger date (0 unless the wording pays it)
    share: Decimal  # the insurer's share: the coverage share less the funder's risk share
    gross_fen: int  # (principal + interest + penalty) × share
    deductible_fen: int
    claimed_fen: int | None  # what a partial claim asks for (None: all of it)
    payable_fen: int  # min(gross − deductible, claimed, limit), never below 0
    limit_fen: int  # the limit of liability: the policy's sum insured (以保险金额为限)

    @property
    def capped(self) -> bool:
        """The limit of liability, not the loss, sets what is payable."""
        return self.payable_fen == self.limit_fen < min(
            self.gross_fen - self.deductible_fen,
            self.claimed_fen if self.claimed_fen is not None else self.gross_fen)

    def as_data(self) -> dict[str, Any]:
        return {"principal_fen": self.principal_fen, "interest_fen": self.interest_fen,
                "penalty_fen": self.penalty_fen, "share": str(self.share),
                "gross_fen": self.gross_fen, "deductible_fen": self.deductible_fen,
                "claimed_fen": self.claimed_fen, "payable_fen": self.payable_fen,
                "limit_fen": self.limit_fen}


@dataclass(frozen=True, slots=True)
class Assessment:
    """One run of liability determination: every check, the trigger date and the amount."""

    assessed_on: date
    checks: tuple[Check, ...]
    days_past_due: int
    trigger_on: date | None  # the day days past due reached the trigger (None: not yet)
    amount: Amount
    referrals: tuple[Referral, ...] = ()  # claim anti-fraud: for a person, not automatic

    @property
    def covered(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.checks if not c.passed)

    @property
    def waiting_for_trigger(self) -> bool:
        """Only the trigger is missing: a notice is kept and checked again each day."""
        return self.reason_codes == (TRIGGER,)


@dataclass(frozen=True, slots=True)
class Referral:
    """A claim anti-fraud finding: the claim goes to a person, never paid automatically;
    its reason code, what it found and the data it read."""

    code: str
    message: str
    evidence: Evidence

    def as_data(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "evidence": dict(self.evidence)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Referral:
        return cls(str(data["code"]), str(data["message"]), dict(data["evidence"]))


@dataclass(frozen=True, slots=True)
class RingFacts:
    """The identity ring the borrower's application belongs to (the underwriting engine's
    graph: applications sharing a phone, device, address, bank card or employer)."""

    size: int
    overdue_share: Decimal
    linked_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScreenFacts:
    """What claim anti-fraud reads beside the loan: the policy's notices (this one
    included), the funder's month of loans (its loans, and those with a claim that
    stands, this one included) and the borrower's ring (None: none, or not looked up)."""

    notices: int
    vintage: str  # the month the loan started, YYYY-MM
    vintage_loans: int
    vintage_claims: int
    ring: RingFacts | None = None


#: The referral reason codes, in the order they are screened.
REFERRALS = ("CLM-FRAUD-FPD", "CLM-FRAUD-EARLY-DEFAULT", "CLM-FRAUD-RING",
             "CLM-FRAUD-VINTAGE", "CLM-FRAUD-NOTICES")


def screen(*, loan: Loan, default_on: date | None, facts: ScreenFacts,
           rules: ClaimRules) -> tuple[Referral, ...]:
    """Claim anti-fraud (issue 22): first-payment or very early default, membership in an
    identity ring, claims concentrated on the funder's month of loans, repeated or
    conflicting notices; each a referral with its evidence."""
    found = []
    unpaid = next((i for i in loan.installments if i.due_date == default_on), None)
    if unpaid is not None and unpaid.number == 1:
        found.append(Referral("CLM-FRAUD-FPD", "first-payment default: the first installment "
                              "was never paid", {"installment": 1,
                                                 "due_date": unpaid.due_date.isoformat()}))
    elif unpaid is not None and unpaid.number <= rules.early_default_installments:
        found.append(Referral(
            "CLM-FRAUD-EARLY-DEFAULT", f"very early default: installment {unpaid.number} of "
            f"{loan.term_months} left unpaid",
            {"installment": unpaid.number, "due_date": unpaid.due_date.isoformat(),
             "early_installments": rules.early_default_installments}))
    ring = facts.ring
    if ring is not None and ring.size >= rules.ring_min_size:
        found.append(Referral(
            "CLM-FRAUD-RING", f"the borrower's application is in an identity ring of "
            f"{ring.size} applications", {"ring_size": ring.size,
                                          "overdue_share": str(ring.overdue_share),
                                          "linked_by": ",".join(ring.linked_by),
                                          "min_size": rules.ring_min_size}))
    if facts.vintage_loans >= rules.vintage_min_loans and facts.vintage_loans and \
            Decimal(facts.vintage_claims) / facts.vintage_loans >= rules.vintage_claim_share:
        found.append(Referral(
            "CLM-FRAUD-VINTAGE", f"{facts.vintage_claims} of the funder's {facts.vintage_loans} "
            f"loans of {facts.vintage} have claims", {
                "vintage": facts.vintage, "loans": facts.vintage_loans,
                "claims": facts.vintage_claims, "share": str(rules.vintage_claim_share)}))
    if facts.notices >= rules.notices_referred:
        found.append(Referral(
            "CLM-FRAUD-NOTICES", f"{facts.notices} notices on the policy",
            {"notices": facts.notices, "referred_from": rules.notices_referred}))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Notice:
    """What the claim's source said: the funder's reference and the day it was given, what
    it asks for (None: all that is owed)."""

    source: ClaimSource
    notified_on: date
    reference: str | None = None
    claimed_fen: int | None = None


def assess(*, policy: Policy, product: Product, loan: Loan,
           paid: Mapping[int, tuple[int, int]], on: date, notice: Notice, rules: ClaimRules,
           standing_claims: Sequence[int] = (),
           exclusions: Mapping[Exclusion, str] | None = None,
           claimed_by_this: bool = False) -> Assessment:
    """Run every check on ``on`` (see the module's docstring). ``paid``: principal and
    interest paid per installment; ``standing_claims``: the ids of the policy's other claims
    that stand; ``exclusions``: declared exclusions, each with what shows it;
    ``claimed_by_this``: the policy is claimed by the claim being assessed again."""
    now = position(loan.installments, paid, on)
    default_on = now.first_unpaid_due_date
    trigger_on = (default_on + timedelta(days=product.claim_trigger_dpd)
                  if default_on is not None else None)
    reached = trigger_on is not None and trigger_on <= on
    checks = [
        _in_force(policy, default_on, claimed_by_this),
        _waiting(policy, product, default_on),
        Check(TRIGGER, reached,
              f"{now.days_past_due} days past due, the trigger is {product.claim_trigger_dpd}",
              {"days_past_due": now.days_past_due, "trigger_dpd": product.claim_trigger_dpd,
               "first_unpaid_due_date": _iso(default_on), "trigger_on": _iso(trigger_on),
               "as_of": on.isoformat()}),
        _as_insured(policy, loan),
        _premium(policy, loan, default_on, on, rules),
        _notice(notice, trigger_on, rules),
        Check("CLM-DUPLICATE", not standing_claims,
              (f"the policy has claim {standing_claims[0]} already" if standing_claims
               else "no other claim stands on the policy"),
              {"standing_claims": ",".join(str(c) for c in standing_claims)}),
        Check(RATE_ABOVE_CAP, loan.annual_rate <= rules.rate_cap,
              f"the loan's annual rate {loan.annual_rate} "
              f"{'is above' if loan.annual_rate > rules.rate_cap else 'is within'} the cap "
              f"{rules.rate_cap}",
              {"annual_rate": str(loan.annual_rate), "cap": str(rules.rate_cap)}),
        Check(POLICY_CANCELLED, policy.status is not PolicyStatus.CANCELLED,
              f"the policy is {policy.status.value}", {"policy_status": policy.status.value}),
    ]
    for exclusion, shown_by in sorted((exclusions or {}).items()):
        checks.append(Check(exclusion_code(exclusion), False,
                            f"exclusion applies: {exclusion.value}",
                            {"declared": exclusion.value, "shown_by": shown_by}))
    at = position(loan.installments, paid, trigger_on) if reached and trigger_on else now
    return Assessment(on, tuple(checks), now.days_past_due, trigger_on if reached else None,
                      _amount(policy, loan, paid, at.outstanding_principal_fen,
                              at.overdue_interest_fen, trigger_on if reached else None,
                              notice.claimed_fen, rules))


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _in_force(policy: Policy, default_on: date | None, claimed_by_this: bool) -> Check:
    evidence: Evidence = {"policy_status": policy.status.value,
                          "start_date": _iso(policy.start_date),
                          "end_date": _iso(policy.end_date),
                          "first_unpaid_due_date": _iso(default_on)}
    in_force = policy.status is PolicyStatus.IN_FORCE or (
        claimed_by_this and policy.status is PolicyStatus.CLAIMED)
    if not in_force:
        return Check("CLM-NOT-IN-FORCE", False, f"the policy is {policy.status.value}",
                     evidence)
    within = (default_on is None or (
        policy.start_date is not None and policy.end_date is not None
        and policy.start_date <= default_on <= policy.end_date))
    message = ("in force when the first unpaid installment fell due" if within else
               f"the first unpaid installment fell due on {default_on}, outside cover")
    return Check("CLM-NOT-IN-FORCE", within, message, evidence)


def _waiting(policy: Policy, product: Product, default_on: date | None) -> Check:
    ends = (policy.start_date + timedelta(days=product.waiting_period_days)
            if policy.start_date is not None else None)
    within = ends is not None and default_on is not None and default_on <= ends
    evidence: Evidence = {"start_date": _iso(policy.start_date),
                          "waiting_period_days": product.waiting_period_days,
                          "waiting_ends": _iso(ends), "first_unpaid_due_date": _iso(default_on)}
    message = (f"the first unpaid installment fell due {default_on}, within the waiting "
               f"period ending {ends}" if within else "the waiting period had passed")
    return Check("CLM-WAITING-PERIOD", not within, message, evidence)


def _as_insured(policy: Policy, loan: Loan) -> Check:
    """The loan is the one insured: its contract (principal, term, start and the schedule at
    its rate), or, once an endorsement changed the cover (a partial prepayment, a
    restructuring the insurer consented to), the schedule that endorsement insured. A
    schedule changed without the insurer's consent fails it (the wording's exclusion)."""
    if policy.schedule_sha256 is not None:
        digest = schedule_digest(loan.installments)
        same = digest == policy.schedule_sha256 and (
            policy.start_date is None or loan.start_date == policy.start_date)
        return Check("CLM-LOAN-NOT-AS-INSURED", same,
                     "the loan's schedule is the one its last endorsement insured" if same
                     else "the loan's schedule is not the one insured: it was changed without "
                          "the insurer's consent",
                     {"schedule_sha256": digest, "insured_schedule_sha256":
                      policy.schedule_sha256, "policy_version": policy.version,
                      "start_date": loan.start_date.isoformat(),
                      "cover_start": _iso(policy.start_date)})
    differences = []
    if loan.principal_fen != policy.principal_insured_fen:
        differences.append(f"principal {loan.principal_fen} fen, insured "
                           f"{policy.principal_insured_fen}")
    if loan.term_months != policy.term_months:
        differences.append(f"term {loan.term_months} months, insured {policy.term_months}")
    if policy.start_date is not None and loan.start_date != policy.start_date:
        differences.append(f"start {loan.start_date}, cover from {policy.start_date}")
    expected = loan.installments == _schedule(loan)
    if not expected:
        differences.append("the schedule is not the loan's contract at its rate")
    return Check("CLM-LOAN-NOT-AS-INSURED", not differences,
                 "; ".join(differences) or "the loan is as insured",
                 {"principal_fen": loan.principal_fen,
                  "principal_insured_fen": policy.principal_insured_fen,
                  "term_months": loan.term_months, "insured_term_months": policy.term_months,
                  "annual_rate": str(loan.annual_rate), "start_date": loan.start_date.isoformat(),
                  "cover_start": _iso(policy.start_date)})


def _schedule(loan: Loan) -> tuple[Installment, ...]:
    return build_schedule(principal_fen=loan.principal_fen, annual_rate=loan.annual_rate,
                          term_months=loan.term_months, method=loan.method,
                          start=loan.start_date)


def _premium(policy: Policy, loan: Loan, default_on: date | None, on: date,
             rules: ClaimRules) -> Check:
    """Single premium: collected at issue. Installment premiums: each installment's premium
    is written when the funder reports the installment paid with it; those due more than the
    grace before the default (a loan not in default: before ``on``) must be written."""
    if policy.installment_premium_fen == 0:
        paid = policy.issued_on is not None
        return Check("CLM-PREMIUM-UNPAID", paid,
                     "the single premium was collected at issue" if paid
                     else "the single premium was never collected",
                     {"premium_basis": policy.premium_basis.value,
                      "single_premium_fen": policy.single_premium_fen,
                      "issued_on": _iso(policy.issued_on)})
    cutoff = (default_on if default_on is not None else on) - timedelta(
        days=rules.premium_grace_days)
    due = sum(1 for i in loan.installments if i.due_date < cutoff)
    written = policy.installments_written
    return Check("CLM-PREMIUM-UNPAID", written >= due,
                 f"{written} installment premiums paid, {due} due before {cutoff} "
                 f"({rules.premium_grace_days} days' grace before the default)",
                 {"premium_basis": policy.premium_basis.value,
                  "installment_premium_fen": policy.installment_premium_fen,
                  "installments_paid": written, "installments_due": due,
                  "grace_days": rules.premium_grace_days})


def _notice(notice: Notice, trigger_on: date | None, rules: ClaimRules) -> Check:
    evidence: Evidence = {"source": notice.source.value,
                          "notified_on": notice.notified_on.isoformat(),
                          "trigger_on": _iso(trigger_on), "notice_days": rules.notice_days}
    if notice.source is not ClaimSource.NOTICE or trigger_on is None:
        return Check("CLM-NOTICE-LATE", True, "no notice limit applies", evidence)
    late = (notice.notified_on - trigger_on).days > rules.notice_days
    return Check("CLM-NOTICE-LATE", not late,
                 f"noticed {(notice.notified_on - trigger_on).days} days after the trigger "
                 f"date, the agreement allows {rules.notice_days}", evidence)


def _amount(policy: Policy, loan: Loan, paid: Mapping[int, tuple[int, int]], principal: int,
            interest: int, trigger_on: date | None, claimed_fen: int | None,
            rules: ClaimRules) -> Amount:
    penalty = 0
    if rules.penalty_included and trigger_on is not None:
        for i in loan.installments:
            if i.due_date >= trigger_on:
                break
            p, r = paid.get(i.number, (0, 0))
            unpaid = i.principal_fen - p + i.interest_fen - r
            if unpaid > 0:
                penalty += apply_rate(unpaid * (trigger_on - i.due_date).days,
                                      rules.penalty_daily_rate)
    share = insurer_share(policy.coverage_share, rules.risk_share)
    gross = apply_rate(principal + interest + penalty, share)
    payable = min(max(0, gross - rules.deductible_fen), policy.sum_insured_fen)
    if claimed_fen is not None:
        payable = min(payable, claimed_fen)
    return Amount(principal, interest, penalty, share, gross,
                  rules.deductible_fen, claimed_fen, payable, policy.sum_insured_fen)


@dataclass(frozen=True, slots=True)
class Document:
    """A document a notice comes with, by the funder's reference and its SHA-256."""

    reference: str
    sha256: str

    def errors(self, index: int) -> list[tuple[str, str, str]]:
        found = []
        if not self.reference.strip() or len(self.reference) > 200:
            found.append((f"documents[{index}].reference", "claim.document_reference",
                          "a document is named by a reference of 1 to 200 characters"))
        digest = self.sha256.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            found.append((f"documents[{index}].sha256", "claim.document_hash",
                          "a document's SHA-256 is 64 hexadecimal digits"))
        return found


def check_notice(*, reference: str | None, claimed_fen: int | None,
                 documents: Sequence[Document], needs_reference: bool) -> None:
    """InvalidInput with every rule a notice breaks (before anything is read)."""
    problems: list[tuple[str, str, str]] = []
    if needs_reference and (reference is None or not reference.strip()):
        problems.append(("reference", "claim.reference",
                         "a funder's notice carries its own reference"))
    if reference is not None and len(reference) > 64:
        problems.append(("reference", "claim.reference", "a reference is at most 64 characters"))
    if claimed_fen is not None and claimed_fen <= 0:
        problems.append(("claimed_fen", "claim.claimed_amount",
                         "a partial claim asks for a positive amount"))
    for index, document in enumerate(documents):
        problems += document.errors(index)
    if len({d.reference for d in documents}) != len(documents):
        problems.append(("documents", "claim.document_repeated",
                         "each document is named once"))
    if problems:
        raise InvalidInput([FieldError(*p) for p in problems])


@dataclass(eq=False, slots=True)
class Claim:
    policy_id: int
    loan_id: int
    opened_on: date  # the day the claim became known (notice, trigger or entry)
    days_past_due: int
    principal_fen: int
    interest_fen: int
    amount_fen: int  # payable, as last assessed
    status: ClaimStatus
    reason_codes: tuple[str, ...] = ()
    paid_on: date | None = None
    recovered_fen: int = 0
    funder_id: int = 0  # the insured funder (the policy's)
    source: ClaimSource = ClaimSource.TRIGGER
    reference: str | None = None  # the funder's reference of its notice
    claimed_fen: int | None = None  # a partial claim's ask
    trigger_on: date | None = None
    decided_on: date | None = None  # approved or declined
    penalty_fen: int = 0
    deductible_fen: int = 0
    reserve_fen: int = 0  # the case reserve held now
    approvals: tuple[str, ...] = ()  # who approved so far (a second one above authority)
    settlement_id: int | None = None  # the payment batch that paid it
    referrals: tuple[str, ...] = ()  # claim anti-fraud's codes, as last assessed
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def notify(cls, *, policy: Policy, loan: Loan, notice: Notice) -> Claim:
        """A claim becomes known: notified, nothing decided yet."""
        assert policy.id is not None and loan.id is not None
        claim = cls(policy_id=policy.id, loan_id=loan.id, funder_id=policy.funder_id,
                    opened_on=notice.notified_on,
                    days_past_due=0, principal_fen=0, interest_fen=0, amount_fen=0,
                    status=ClaimStatus.NOTIFIED, source=notice.source,
                    reference=notice.reference, claimed_fen=notice.claimed_fen)
        claim.events.append(Event("ClaimNotified", "claim", None, notice.notified_on, {
            "to": ClaimStatus.NOTIFIED.value, "policy_id": policy.id,
            "source": notice.source.value, "reference": notice.reference,
            "claimed_fen": notice.claimed_fen}))
        return claim

    @property
    def notice(self) -> Notice:
        return Notice(self.source, self.opened_on, self.reference, self.claimed_fen)

    def take(self, assessment: Assessment, *, reason: str) -> int:
        """The assessment's figures become the claim's; returns the change in the amount.
        Refused once paid (the indemnity is fixed)."""
        if self.status not in OPEN:
            raise IllegalTransition("claim", self.id, self.status.value, "be assessed again")
        a = assessment.amount
        before = self.amount_fen
        self.days_past_due = assessment.days_past_due
        self.trigger_on = assessment.trigger_on
        self.principal_fen, self.interest_fen = a.principal_fen, a.interest_fen
        self.penalty_fen, self.deductible_fen = a.penalty_fen, a.deductible_fen
        self.amount_fen = a.payable_fen
        self.reason_codes = assessment.reason_codes
        self.referrals = tuple(r.code for r in assessment.referrals)
        self.events.append(Event("ClaimAssessed", "claim", self.id, assessment.assessed_on, {
            "reason": reason, "covered": assessment.covered,
            "reason_codes": list(assessment.reason_codes), "amount_fen": a.payable_fen,
            "difference_fen": a.payable_fen - before, "referrals": list(self.referrals)}))
        return a.payable_fen - before

    def reserve(self, amount_fen: int, on: date) -> int:
        """The case reserve becomes ``amount_fen``; returns the change to post."""
        change, self.reserve_fen = amount_fen - self.reserve_fen, amount_fen
        if change:
            self.events.append(Event("ClaimReserveSet", "claim", self.id, on, {
                "reserve_fen": amount_fen, "change_fen": change}))
        return change

    def _move(self, target: ClaimStatus, on: date, action: str, **data: object) -> None:
        if target not in TRANSITIONS[self.status]:
            raise IllegalTransition("claim", self.id, self.status.value, action)
        before, self.status = self.status, target
        name = ("ClaimReopened" if before is ClaimStatus.DECLINED
                else _EVENTS[target])
        self.events.append(Event(name, "claim", self.id, on, {
            "from": before.value, "to": target.value, **data}))

    def review(self, on: date, why: str) -> None:
        """Into the claims queue for a person (a declined claim: reopened on appeal)."""
        self._move(ClaimStatus.UNDER_REVIEW, on, "be reviewed", why=why)
        self.approvals = ()

    def approve(self, *, by: str, authority_fen: int | None, on: date, why: str,
                assessment_covered: bool) -> bool:
        """``by`` approves the claim (``authority_fen``: the most they may approve, None
        without limit). Only a claim whose every check passed. Within the approver's
        authority it is approved; above it, their approval is kept and a second approver,
        never the same person, with authority for the amount completes it. True when the
        claim is approved now."""
        if self.status not in (ClaimStatus.NOTIFIED, ClaimStatus.UNDER_REVIEW):
            raise IllegalTransition("claim", self.id, self.status.value, "be approved")
        if not assessment_covered:
            raise InvalidInput.single("status", "claim.checks_failing",
                                      "a claim is approved only when every check passes; "
                                      f"failing: {', '.join(self.reason_codes)}")
        if by in self.approvals:
            raise Forbidden(by, Action.CLAIM_APPROVE,
                            "four-eyes: the second approval is another person's")
        within = authority_fen is None or self.amount_fen <= authority_fen
        if not within and not self.approvals:
            self.approvals = (by,)
            self.events.append(Event("ClaimApprovalRecorded", "claim", self.id, on, {
                "by": by, "amount_fen": self.amount_fen, "authority_fen": authority_fen,
                "why": why}))
            return False
        if not within:
            raise Forbidden(by, Action.CLAIM_APPROVE,
                            f"{self.amount_fen} fen is above the authority limit of "
                            f"{authority_fen} fen")
        self.approvals = (*self.approvals, by)
        self._move(ClaimStatus.APPROVED, on, "be approved", by=by, why=why,
                   approvals=list(self.approvals), amount_fen=self.amount_fen)
        self.decided_on = on
        return True

    def decline(self, *, on: date, why: str, reason_codes: tuple[str, ...]) -> None:
        self._move(ClaimStatus.DECLINED, on, "be declined", why=why,
                   reason_codes=list(reason_codes))
        self.reason_codes = reason_codes
        self.decided_on = on
        self.approvals = ()
        self.amount_fen = 0  # it pays nothing; its assessments keep the figures

    def pay(self, on: date) -> None:
        if self.status is not ClaimStatus.APPROVED:
            raise IllegalTransition("claim", self.id, self.status.value, "pay")
        self._move(ClaimStatus.PAID, on, "pay", amount_fen=self.amount_fen)
        self.paid_on = on

    @property
    def recoverable_fen(self) -> int:
        """What may still be recovered: the indemnity paid less recoveries so far.

        Penalty and costs owed by the obligor join the recovery scope with the recovery stage.
        """
        if self.status not in (ClaimStatus.PAID, ClaimStatus.RECOVERING):
            return 0
        return self.amount_fen - self.recovered_fen

    def record_recovery(self, amount_fen: int, on: date, *, final: bool) -> None:
        if self.status not in (ClaimStatus.PAID, ClaimStatus.RECOVERING):
            raise IllegalTransition("claim", self.id, self.status.value, "record a recovery")
        self.recovered_fen += amount_fen
        self.events.append(Event("RecoveryRecorded", "claim", self.id, on,
                                 {"amount_fen": amount_fen, "final": final}))
        if final or self.recovered_fen >= self.amount_fen:
            self._move(ClaimStatus.CLOSED, on, "close", recovered_fen=self.recovered_fen)
        elif self.status is ClaimStatus.PAID:
            self._move(ClaimStatus.RECOVERING, on, "recover", recovered_fen=self.recovered_fen)


@dataclass(frozen=True, slots=True)
class ClaimTimes:
    """One claim's dates as the service levels read them (days from its trigger)."""

    funder: str
    product: str
    trigger_on: date | None
    decided_on: date | None
    paid_on: date | None
    automatic: bool  # approved by the system at once


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    """A funder's and product's claims against the service levels: how many were decided
    and paid, the mean and the slowest days from the trigger to each, and how many within
    the level; how many were automatic."""

    funder: str
    product: str
    claims: int
    automatic: int
    decided: int
    decision_days_mean: Decimal | None
    decision_days_max: int | None
    decided_in_time: int
    paid: int
    payment_days_mean: Decimal | None
    payment_days_max: int | None
    paid_in_time: int


def service_levels(times: Sequence[ClaimTimes], *, decision_days: int,
                   payment_days: int) -> list[ServiceLevel]:
    """Per funder and product (sorted), from each claim's trigger to its decision and to
    its payment, against the levels of ``params/claims.toml`` (a claim without a trigger
    date, a notice still waiting, counts only in ``claims``)."""
    groups: dict[tuple[str, str], list[ClaimTimes]] = {}
    for t in times:
        groups.setdefault((t.funder, t.product), []).append(t)
    found = []
    for (funder, product), rows in sorted(groups.items()):
        decided = [(t.decided_on - t.trigger_on).days for t in rows
                   if t.trigger_on is not None and t.decided_on is not None]
        paid = [(t.paid_on - t.trigger_on).days for t in rows
                if t.trigger_on is not None and t.paid_on is not None]
        found.append(ServiceLevel(
            funder, product, len(rows), sum(t.automatic for t in rows), len(decided),
            _mean(decided), max(decided) if decided else None,
            sum(d <= decision_days for d in decided), len(paid), _mean(paid),
            max(paid) if paid else None, sum(d <= payment_days for d in paid)))
    return found


def _mean(days: Sequence[int]) -> Decimal | None:
    return (Decimal(sum(days)) / len(days)).quantize(Decimal("0.1")) if days else None


@dataclass(frozen=True, slots=True)
class Settlement:
    """A payment batch: a funder's approved claims of one settlement cycle paid together,
    with the statement's number, the cycle and the payment date."""

    funder_id: int
    number: str
    cycle_from: date
    cycle_to: date
    paid_on: date
    claims: int
    total_fen: int
    id: int | None = None


def settlement_cycle(*, starts: date, days: int, on: date) -> tuple[date, date]:
    """The last whole settlement cycle ending on or before ``on``: cycles of ``days`` days
    run back to back from ``starts`` (the agreement's first day). ValueError before the
    first cycle has ended."""
    if days < 1:
        raise ValueError("a settlement cycle is at least one day")
    whole = ((on - starts).days + 1) // days
    if whole < 1:
        raise ValueError(f"the first settlement cycle ends on "
                         f"{starts + timedelta(days=days - 1)}")
    end = starts + timedelta(days=whole * days - 1)
    return end - timedelta(days=days - 1), end


@dataclass(frozen=True, slots=True)
class Recovery:
    claim_id: int
    received_on: date
    amount_fen: int
    source: str  # borrower, guarantor, collateral, debt sale, ...
    id: int | None = None


class RightStatus(StrEnum):
    OPEN = "open"  # with collection: the obligor owes what the insurer paid
    CLOSED = "closed"  # recovered in full, or recovery finished


@dataclass(eq=False, slots=True)
class RecoveryRight:
    """The insurer's right against the obligor once it has paid (代位追偿权): created with
    the payment for collection to work, one per paid claim. What the indemnity paid stood
    for (the insurer's share of the principal, interest and penalty it paid, net of the
    deductible, as the claim's breakdown had them) is the scope; what has come back is the
    claim's recoveries."""

    claim_id: int
    policy_id: int
    loan_id: int
    funder_id: int
    application_id: int  # the obligor's application (their identity, as underwriting has it)
    opened_on: date  # the day the indemnity was paid
    amount_fen: int  # the indemnity paid: what the insurer stands in for
    principal_fen: int  # the loan's outstanding principal at the trigger, as assessed
    interest_fen: int
    penalty_fen: int
    status: RightStatus = RightStatus.OPEN
    closed_on: date | None = None
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def of(cls, claim: Claim, *, application_id: int, on: date) -> RecoveryRight:
        """The right a paid claim gives (its event names the claim and the amount)."""
        if claim.status is not ClaimStatus.PAID or claim.id is None:
            raise IllegalTransition("claim", claim.id, claim.status.value,
                                    "hand a recovery right to collection")
        right = cls(claim.id, claim.policy_id, claim.loan_id, claim.funder_id, application_id,
                    on, claim.amount_fen, claim.principal_fen, claim.interest_fen,
                    claim.penalty_fen)
        right.events.append(Event("RecoveryRightCreated", "claim", claim.id, on, {
            "amount_fen": claim.amount_fen, "loan_id": claim.loan_id,
            "application_id": application_id}))
        return right

    def close(self, on: date, *, recovered_fen: int) -> None:
        if self.status is RightStatus.CLOSED:
            raise IllegalTransition("recovery right", self.id, self.status.value, "close")
        self.status, self.closed_on = RightStatus.CLOSED, on
        self.events.append(Event("RecoveryRightClosed", "claim", self.claim_id, on, {
            "recovered_fen": recovered_fen, "amount_fen": self.amount_fen}))
