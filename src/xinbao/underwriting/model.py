"""Applications: what the funder sends, what the borrower declares, and its status.

An application carries the borrower, the loan asked for, the borrower's declared profile
(income, employment, device, address, employer), the collateral offered and the evidence of
consent and of the sale (双录: stored by reference and SHA-256, never the recording itself).

Product-range checks become reason codes of the decision (``decision.assess``):

- UW-AMOUNT-RANGE: amount outside the product's range.
- UW-TERM-RANGE: term outside the product's range.
- UW-REPAYMENT-METHOD: repayment method not offered by the product.

Status: submitted → approved | declined | referred; a referral is then approved or declined
by an underwriter (``risk/referrals.review_application``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from xinbao.catalogue.model.parties import (
    Borrower,
    InsuranceMode,
    Roles,
    has_control_characters,
)
from xinbao.catalogue.model.products import Product, RepaymentMethod
from xinbao.kernel.errors import FieldError, IllegalTransition
from xinbao.kernel.events import Event

#: The largest amount any one field may carry: 10 billion yuan, far above any loan or asset
#: the products cover, while a million of them still sum inside a 64-bit integer (storage is
#: BIGINT fen). Larger values are refused at the door, not by the database or the engine.
MAX_AMOUNT_FEN = 1_000_000_000_000
#: Annual rates are (0, 100 %], in at most six decimal places (0.0001 %): the engine divides
#: by the monthly rate, and a rate of 1e-999999 is no one's price. The all-in cost cap is
#: the risk price's rule (a decline), not intake's.
MAX_ANNUAL_RATE = Decimal(1)
RATE_PLACES = 6
#: Application dates this system can mean (the product versions, the calendar of the book).
APPLICATION_DATES = (date(2000, 1, 1), date(2099, 12, 31))
#: Longest funder's application number (characters).
MAX_REFERENCE = 64


def intake_bounds(*, amount_fen: int, annual_rate: Decimal, applied_on: date,
                  external_ref: str, income_fen: int | None,
                  received_on: date | None = None) -> list[FieldError]:
    """The bounds every application must keep whatever its product: amounts and income
    within ``MAX_AMOUNT_FEN``, a real rate, a date this system can mean and not after the
    business day it reached us (``received_on``, a day's grace for time zones), a reference
    of printable text. The same rules serve the API, the CLI and the funders' files."""
    errors: list[FieldError] = []
    for name, value in (("amount_fen", amount_fen), ("monthly_income_fen", income_fen)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            errors.append(FieldError(name, "amount.type", "an amount is a whole number of fen"))
        elif value is not None and value > MAX_AMOUNT_FEN:
            errors.append(FieldError(name, "amount.maximum",
                                     f"at most {MAX_AMOUNT_FEN} fen (10 billion yuan)"))
    if not isinstance(annual_rate, Decimal) or not annual_rate.is_finite():
        errors.append(FieldError("annual_rate", "loan.rate_range", "a rate is a number"))
    elif not Decimal(0) < annual_rate <= MAX_ANNUAL_RATE:
        errors.append(FieldError("annual_rate", "loan.rate_range",
                                 "annual rate must be above 0 and at most 1"))
    elif int(annual_rate.as_tuple().exponent) < -RATE_PLACES:
        errors.append(FieldError("annual_rate", "loan.rate_places",
                                 f"annual rate has at most {RATE_PLACES} decimal places"))
    first, last = APPLICATION_DATES
    if not first <= applied_on <= last:
        errors.append(FieldError("applied_on", "application.date_window",
                                 f"an application date lies between {first} and {last}"))
    elif received_on is not None and applied_on > received_on + timedelta(days=1):
        errors.append(FieldError("applied_on", "application.date_window",
                                 f"an application is dated on or before the day it reaches "
                                 f"the insurer ({received_on})"))
    if len(external_ref) > MAX_REFERENCE or has_control_characters(external_ref):
        errors.append(FieldError("external_ref", "application.external_ref",
                                 f"the funder's application number is 1 to {MAX_REFERENCE} "
                                 "printable characters"))
    return errors


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
    REFERRED = "referred"  # waits in the manual review queue


class EvidenceKind(StrEnum):
    CONSENT = "consent"  # the borrower's authorization (credit enquiry, insurance)
    SALES_RECORDING = "sales_recording"  # 双录: audio/video of an offline sale
    ONLINE_SALES_RECORD = "online_sales_record"  # the kept record of an online sale


SHA256_HEX = 64


@dataclass(frozen=True, slots=True)
class Evidence:
    """A document kept elsewhere (the funder's or the insurer's archive), by reference and
    SHA-256 so that any later copy can be checked against what was shown at approval."""

    kind: EvidenceKind
    reference: str
    sha256: str

    def check(self, where: str) -> list[FieldError]:
        errors = []
        if not self.reference.strip() or len(self.reference) > 500:
            errors.append(FieldError(f"{where}.reference", "evidence.reference",
                                     "a reference of 1 to 500 characters is required"))
        digest = self.sha256.lower()
        if len(digest) != SHA256_HEX or any(c not in "0123456789abcdef" for c in digest):
            errors.append(FieldError(f"{where}.sha256", "evidence.sha256",
                                     "the SHA-256 is 64 hexadecimal digits"))
        return errors


class CollateralKind(StrEnum):
    CAR = "car"
    HOUSE = "house"


@dataclass(frozen=True, slots=True)
class CollateralOffer:
    """The security offered: a car (new price, brand tier, first registration) or a house
    (appraised value, city tier), and what is already secured on it."""

    kind: CollateralKind
    new_price_fen: int | None = None
    brand_tier: str | None = None
    first_registered: date | None = None
    appraised_fen: int | None = None
    city_tier: int | None = None
    prior_liens_fen: int = 0

    def check(self, where: str = "collateral") -> list[FieldError]:
        need = (("new_price_fen", "brand_tier", "first_registered")
                if self.kind is CollateralKind.CAR else ("appraised_fen", "city_tier"))
        errors = [FieldError(f"{where}.{name}", f"collateral.{self.kind.value}",
                             f"a {self.kind.value} is described by {', '.join(need)}")
                  for name in need if getattr(self, name) is None]
        if self.prior_liens_fen < 0:
            errors.append(FieldError(f"{where}.prior_liens_fen", "collateral.liens",
                                     "prior liens cannot be negative"))
        for name in ("new_price_fen", "appraised_fen", "prior_liens_fen"):
            value = getattr(self, name)
            if value is not None and value > MAX_AMOUNT_FEN:
                errors.append(FieldError(f"{where}.{name}", "amount.maximum",
                                         f"at most {MAX_AMOUNT_FEN} fen (10 billion yuan)"))
            elif name != "prior_liens_fen" and value is not None and value <= 0:
                errors.append(FieldError(f"{where}.{name}", "amount.positive",
                                         "a value is a positive amount"))
        return errors


@dataclass(frozen=True, slots=True)
class Profile:
    """What the borrower declares (all optional; missing income or collateral is referred)."""

    monthly_income_fen: int | None = None  # individuals: income; enterprises: revenue / 12
    employment: str | None = None  # salaried, civil_servant, self_employed, gig
    industry: str | None = None  # enterprises
    device_id: str | None = None
    address: str | None = None
    employer: str | None = None


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
    profile: Profile = field(default_factory=Profile)
    collateral: CollateralOffer | None = None
    evidence: tuple[Evidence, ...] = ()
    status: ApplicationStatus = ApplicationStatus.SUBMITTED
    decided_on: date | None = None
    reason_codes: tuple[str, ...] = ()
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    def value_of(self, name: str) -> str | None:
        """The application's value of an anti-fraud field (``antifraud.FIELDS``)."""
        b, p = self.borrower, self.profile
        return {"id_number": b.id_number, "phone": b.phone, "bank_card": b.bank_card,
                "device_id": p.device_id, "address": p.address, "employer": p.employer}[name]

    def decide(self, approved: bool | None, reason_codes: tuple[str, ...], on: date) -> None:
        """The engine's decision: approved, declined, or referred (``None``) to a person."""
        if self.status is not ApplicationStatus.SUBMITTED:
            raise IllegalTransition("application", self.id, self.status.value, "decide")
        target = (ApplicationStatus.REFERRED if approved is None
                  else ApplicationStatus.APPROVED if approved else ApplicationStatus.DECLINED)
        self._move(target, reason_codes, on)

    def conclude_review(self, approved: bool, reason_codes: tuple[str, ...], on: date) -> None:
        """A person's verdict on a referral."""
        if self.status is not ApplicationStatus.REFERRED:
            raise IllegalTransition("application", self.id, self.status.value, "review")
        self._move(ApplicationStatus.APPROVED if approved else ApplicationStatus.DECLINED,
                   reason_codes, on)

    def _move(self, target: ApplicationStatus, reason_codes: tuple[str, ...], on: date) -> None:
        before = self.status
        self.status = target
        self.decided_on = on
        self.reason_codes = reason_codes
        name = {ApplicationStatus.APPROVED: "ApplicationApproved",
                ApplicationStatus.DECLINED: "ApplicationDeclined",
                ApplicationStatus.REFERRED: "ApplicationReferred"}[target]
        self.events.append(Event(name, "application", self.id, on, {
            "from": before.value, "to": target.value, "reason_codes": list(reason_codes)}))


def range_codes(application: Application, product: Product) -> list[tuple[str, str]]:
    """(reason code, message) for each product range the loan breaks."""
    findings = product.check_loan_terms(
        amount_fen=application.amount_fen, term_months=application.term_months,
        repayment_method=application.repayment_method,
    )
    seen: dict[str, str] = {}
    for f in findings:
        seen.setdefault(_RULE_TO_REASON[f.rule], f.message)
    return list(seen.items())
