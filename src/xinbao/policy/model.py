"""The policy: its life as a state machine, its premium, earning and refund.

States: quoted → issued → in force → expired | cancelled | claimed → closed. An issued policy
that never came into force may be cancelled. Every other transition is refused
(``IllegalTransition``) and every allowed one records an event.

Premium (DOMAIN §3, Ping An wording) is charged on the principal insured (the loan principal);
the sum insured, the limit of liability, is that principal and the scheduled interest covered.
- per installment: each installment's premium = principal insured × monthly rate;
- single: principal insured × monthly rate × term, paid at disbursement.
Written premium follows CAS 25 (《企业会计准则第25号——原保险合同》): a single premium is written
in full at issue and earned over the cover; an installment premium is written when it falls
due, for cover already given, so it is earned as it is written.

Earning and refund share one pattern, the product's refund method, so that the premium refunded
on prepayment is exactly the unearned premium reserve released:
- pro rata: unearned share = days left / days of cover (level cover);
- Rule of 78: unearned share = (m)(m+1) / (n)(n+1) with m whole months left of n at a
  month's start (decreasing cover), the month in progress earning its share day by day
  (m(m+1) − 2m·d/D, d of its D days gone), so the first partial month earns too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

from stdnum import luhn

from xinbao.catalogue.model.parties import InsuranceMode, PolicyRole
from xinbao.catalogue.model.products import PremiumBasis, RefundMethod
from xinbao.kernel.errors import IllegalTransition, InvalidInput
from xinbao.kernel.events import Event
from xinbao.kernel.money import PRECISION, apply_fraction, apply_rate, round_fen
from xinbao.loans.model import Installment, add_months

#: How a single premium is earned: by time (the product's refund method) or by exposure.
TIME, EXPOSURE = "time", "exposure"


def policy_number(policy_id: int) -> str:
    """A policy's number as documents show it: ``XB``, its id in ten digits and a Luhn check
    digit over them (a mistyped digit or two swapped neighbours do not name another
    policy)."""
    digits = f"{policy_id:010d}"
    return f"XB{digits}{luhn.calc_check_digit(digits)}"


def parse_policy_number(text: str) -> int | None:
    """The policy id a number names: ``XB`` (any case), ten digits and their check digit,
    as ``policy_number`` writes it; None for anything else, a wrong check digit included."""
    value = text.strip().upper()
    if len(value) != 13 or not value.startswith("XB") or not value[2:].isascii() \
            or not value[2:].isdigit() or not luhn.is_valid(value[2:]):
        return None
    return int(value[2:12])


def policy_id_of(text: str) -> int | None:
    """The policy a person names: its number (``parse_policy_number``, the check digit
    right) or its bare id (at most twelve ASCII digits); None for anything else."""
    value = text.strip()
    if value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    return parse_policy_number(value)


class PolicyStatus(StrEnum):
    QUOTED = "quoted"
    ISSUED = "issued"
    IN_FORCE = "in_force"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    CLAIMED = "claimed"
    CLOSED = "closed"


_TRANSITIONS: dict[PolicyStatus, frozenset[PolicyStatus]] = {
    PolicyStatus.QUOTED: frozenset({PolicyStatus.ISSUED}),
    PolicyStatus.ISSUED: frozenset({PolicyStatus.IN_FORCE, PolicyStatus.CANCELLED}),
    PolicyStatus.IN_FORCE: frozenset(
        {PolicyStatus.EXPIRED, PolicyStatus.CANCELLED, PolicyStatus.CLAIMED}
    ),
    PolicyStatus.EXPIRED: frozenset({PolicyStatus.CLOSED}),
    PolicyStatus.CANCELLED: frozenset({PolicyStatus.CLOSED}),
    PolicyStatus.CLAIMED: frozenset({PolicyStatus.CLOSED}),
    PolicyStatus.CLOSED: frozenset(),
}

_EVENT_NAMES = {
    PolicyStatus.ISSUED: "PolicyIssued",
    PolicyStatus.IN_FORCE: "PolicyCameIntoForce",
    PolicyStatus.EXPIRED: "PolicyExpired",
    PolicyStatus.CANCELLED: "PolicyCancelled",
    PolicyStatus.CLAIMED: "PolicyClaimed",
    PolicyStatus.CLOSED: "PolicyClosed",
}


def can_transition(current: PolicyStatus, target: PolicyStatus) -> bool:
    return target in _TRANSITIONS[current]


def installment_premium(principal_insured_fen: int, monthly_rate: Decimal) -> int:
    return apply_rate(principal_insured_fen, monthly_rate)


def premium_vat(premium_fen: int, vat_rate: Decimal) -> int:
    """The VAT on ``premium_fen`` of premium at ``vat_rate``, half up to the fen: charged on
    top of each premium (``params/regulatory.toml [vat]``)."""
    return apply_rate(premium_fen, vat_rate)


def premium_schedule(
    basis: PremiumBasis, principal_insured_fen: int, monthly_rate: Decimal, term_months: int,
) -> tuple[int, tuple[int, ...]]:
    """(premium due at issue, premium due with each installment 1..n)."""
    per_month = installment_premium(principal_insured_fen, monthly_rate)
    if basis is PremiumBasis.SINGLE:
        with localcontext() as ctx:
            ctx.prec = PRECISION
            single = round_fen(Decimal(principal_insured_fen) * monthly_rate * term_months)
        return single, (0,) * term_months
    return 0, (per_month,) * term_months


def exposure_share(schedule: Sequence[Installment], *, start: date, on: date) -> Fraction:
    """Share of the cover's exposure still to come on ``on``: the outstanding principal the
    schedule leaves each day (principal less the installments fallen due), summed over the
    days from ``on`` to the last due date, over the same sum from ``start``; exact."""
    total = remaining = 0
    outstanding = sum(i.principal_fen for i in schedule)
    previous = start
    for i in schedule:
        days = max((i.due_date - previous).days, 0)
        total += outstanding * days
        if on <= previous:
            remaining += outstanding * days
        elif on < i.due_date:
            remaining += outstanding * (i.due_date - on).days
        outstanding -= i.principal_fen
        previous = max(previous, i.due_date)
    return Fraction(remaining, total) if total else Fraction(0)


def unearned_share(
    method: RefundMethod, *, start: date, end: date, term_months: int, on: date,
    schedule: Sequence[Installment] | None = None,
) -> Fraction:
    """Share of a single premium still unearned on ``on`` (1 before cover, 0 after it),
    as an exact fraction of whole days or months; by exposure (``exposure_share``) when the
    loan's ``schedule`` is given (a product earning by exposure)."""
    if on <= start:
        return Fraction(1)
    if on >= end:
        return Fraction(0)
    if schedule is not None:
        return exposure_share(schedule, start=start, on=on)
    if method is RefundMethod.PRO_RATA:
        return Fraction((end - on).days, (end - start).days)
    # Rule of 78: month k of n earns (n − k + 1) / (n(n + 1)/2), day by day within it, so a
    # policy earns from its first day (not only from its first whole month).
    done = _whole_months_between(start, on)
    left = term_months - done
    month_from, month_to = add_months(start, done), add_months(start, done + 1)
    into = Fraction((on - month_from).days, (month_to - month_from).days)
    return (left * (left + 1) - 2 * left * into) / (term_months * (term_months + 1))


def single_premium_earned(
    single_premium_fen: int, method: RefundMethod, *, start: date | None, end: date | None,
    term_months: int, on: date, refunded_fen: int = 0, upr_base_fen: int | None = None,
    upr_base_on: date | None = None, schedule: Sequence[Installment] | None = None,
) -> int:
    """Single premium earned by the end of ``on``: the premium less its unearned share
    (``unearned_share``) rounded half up to the fen; 0 before the cover has dates. The one
    arithmetic of earning, for a policy (``Policy.earned_to``) and for the month-end close
    over many policies' columns (``policy.premiums.close_month``).

    After an endorsement that changed the cover (a partial prepayment, a restructuring) the
    premium written is what was not refunded, and what it left unearned on its day
    (``upr_base_fen`` on ``upr_base_on``) runs off from there along the same curve: its
    unearned part on ``on`` is ``upr_base × share(on) / share(base day)``."""
    if not single_premium_fen or start is None or end is None:
        return 0
    share = unearned_share(method, start=start, end=end, term_months=term_months, on=on,
                           schedule=schedule)
    if upr_base_fen is None or upr_base_on is None:
        return single_premium_fen - apply_fraction(single_premium_fen, share.numerator,
                                                   share.denominator)
    written = single_premium_fen - refunded_fen
    at_base = unearned_share(method, start=start, end=end, term_months=term_months,
                             on=upr_base_on, schedule=schedule)
    if on <= upr_base_on or not at_base:
        return written - (upr_base_fen if at_base else 0)
    left = share / at_base
    return written - apply_fraction(upr_base_fen, left.numerator, left.denominator)


def _whole_months_between(start: date, on: date) -> int:
    months = (on.year - start.year) * 12 + (on.month - start.month)
    if add_months(start, months) > on:
        months -= 1
    return months


class EndorsementKind(StrEnum):
    CANCELLATION = "cancellation"  # cover ends at the policyholder's request
    LAPSE = "lapse"  # cover ends: premium unpaid past the agreement's grace (the wording's)
    TRANSFER = "transfer"  # the loan sold to another funder: the insured changes
    PARTIAL_PREPAYMENT = "partial_prepayment"  # part of the principal repaid: smaller cover
    RESTRUCTURE = "restructure"  # a new schedule the insurer consented to


@dataclass(frozen=True, slots=True)
class Endorsement:
    """A change to a policy in force (批改): each makes a new version of the policy, kept
    with what it changed and its money (refund and commission clawed back, fen)."""

    policy_id: int
    version: int  # the policy's version it made
    kind: EndorsementKind
    effective_on: date
    reason: str
    refund_fen: int = 0
    commission_clawback_fen: int = 0
    details: dict[str, object] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PolicyCancellation:
    """What cancelling a policy on request leaves to post (fen): the premium earned now, the
    earned premium given back (within the cooling-off period), and the refund."""

    cooling_off: bool
    earned_fen: int  # single premium newly earned to the cancellation (after cooling-off)
    earned_reversed_fen: int  # single premium earned before, refunded in the cooling-off
    refunded_fen: int


@dataclass(frozen=True, slots=True)
class CoverChange:
    """What an endorsement that changes the cover leaves to post (fen): the single premium
    earned to its day, and what is refunded (a partial prepayment's share of the premium
    still unearned)."""

    earned_fen: int
    refunded_fen: int


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """An e-policy as issued: its SHA-256 (the same policy renders the same bytes), the
    renderer and wording it was made with, and the day it was first issued."""

    policy_id: int
    sha256: str
    renderer: str
    wording: str  # the wording's code and version, e.g. "XB-GUAR v1"
    first_issued_on: date
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PolicySettlement:
    """What settling a repaid loan's policy leaves to post (fen)."""

    expired: bool  # repaid at or after maturity; otherwise cancelled on prepayment
    earned_fen: int  # single premium earned by the settlement (0 when nothing was left)
    earned_through_fen: int  # the policy's earned premium after it
    refunded_fen: int  # unearned premium refunded (before maturity only)


@dataclass(eq=False, slots=True)
class Policy:
    application_id: int
    product_code: str
    product_version: int
    mode: InsuranceMode
    funder_id: int
    borrower_id_number: str
    policyholder: PolicyRole
    insured: PolicyRole
    principal_insured_fen: int
    coverage_share: Decimal
    premium_basis: PremiumBasis
    monthly_premium_rate: Decimal
    refund_method: RefundMethod
    term_months: int
    single_premium_fen: int  # due at issue (single basis), else 0
    installment_premium_fen: int  # due with each installment (per-installment basis), else 0
    quoted_on: date
    status: PolicyStatus = PolicyStatus.QUOTED
    start_date: date | None = None
    end_date: date | None = None
    issued_on: date | None = None
    loan_id: int | None = None
    earned_fen: int = 0  # single premium earned and posted so far
    installments_written: int = 0  # installment premiums written so far
    refunded_fen: int = 0  # single premium refunded (on prepayment or cancellation)
    version: int = 1  # one more with each endorsement
    #: Single premium left unearned by the last endorsement that changed the cover, and its
    #: day (None: none did): it runs off from there (``single_premium_earned``).
    upr_base_fen: int | None = None
    upr_base_on: date | None = None
    #: Installment premiums written at an earlier premium per installment (before a partial
    #: prepayment lowered it): their fen and how many.
    earlier_installments_fen: int = 0
    earlier_installments: int = 0
    #: SHA-256 of the schedule an endorsement insured (``loans.model.schedule_digest``);
    #: None: the loan's contract schedule.
    schedule_sha256: str | None = None
    #: Installment premium collected so far (with repayments, or netted against a claim).
    installments_collected_fen: int = 0
    #: How the single premium is earned: ``time`` (by the refund method) or ``exposure``
    #: (following the outstanding principal), the product's at issue (``params/policy.toml``).
    earning: str = "time"
    #: The scheduled interest the cover includes (承保利息): the loan's at issue, the
    #: endorsed schedule's after a partial prepayment or a restructuring consented to.
    interest_insured_fen: int = 0
    #: VAT on premium (``params/regulatory.toml [vat]``), the quote's: charged on top of
    #: each premium, which is the premium excluding VAT (the insurer's revenue).
    vat_rate: Decimal = Decimal(0)
    #: The VAT on each installment premium at today's premium, and on the installments
    #: written at an earlier premium (beside ``earlier_installments_fen``).
    installment_vat_fen: int = 0
    earlier_installments_vat_fen: int = 0
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)
    #: The loan's schedule, set by the use case that earns a policy earning by exposure (not
    #: stored with the policy): earning reads the outstanding principal from it.
    schedule: tuple[Installment, ...] | None = field(default=None, repr=False)

    @property
    def policy_no(self) -> str:
        return policy_number(self.id) if self.id is not None else "(unnumbered)"

    @property
    def sum_insured_fen(self) -> int:
        """The sum insured (保险金额), the limit of liability: the principal insured and the
        scheduled interest the cover includes. The premium rate applies to the principal."""
        return self.principal_insured_fen + self.interest_insured_fen

    @property
    def total_premium_fen(self) -> int:
        """The premium of the whole cover as it stands: the single premium less refunds, or
        the installment premiums written and those still to come at today's premium."""
        return (self.single_premium_fen - self.refunded_fen + self.earlier_installments_fen
                + self.installment_premium_fen * (self.term_months - self.earlier_installments))

    @property
    def installment_premium_written_fen(self) -> int:
        """Installment premiums written so far, at each one's premium."""
        return self.earlier_installments_fen + self.installment_premium_fen * (
            self.installments_written - self.earlier_installments)

    def vat_on(self, premium_fen: int) -> int:
        """The VAT on ``premium_fen`` of premium at the policy's rate (``premium_vat``)."""
        return premium_vat(premium_fen, self.vat_rate)

    @property
    def installment_with_vat_fen(self) -> int:
        """What the borrower pays for cover with each installment from the next: the
        installment premium and its VAT."""
        return self.installment_premium_fen + self.installment_vat_fen

    @property
    def installment_vat_written_fen(self) -> int:
        """VAT on the installment premiums written so far (each installment's own)."""
        return self.earlier_installments_vat_fen + self.installment_vat_fen * (
            self.installments_written - self.earlier_installments)

    @property
    def single_vat_fen(self) -> int:
        """VAT on the single premium the policy keeps (less refunds): what its entries
        leave on output VAT, however many refunds it made."""
        return self.vat_on(self.single_premium_fen - self.refunded_fen)

    @property
    def output_vat_fen(self) -> int:
        """VAT on the premium written so far: the policy's part of output VAT."""
        single = self.single_vat_fen if self.issued_on else 0
        return single + self.installment_vat_written_fen

    @property
    def total_vat_fen(self) -> int:
        """The VAT on ``total_premium_fen``: what the borrower pays on top of it."""
        return (self.single_vat_fen + self.earlier_installments_vat_fen
                + self.installment_vat_fen * (self.term_months - self.earlier_installments))

    @property
    def premium_due_fen(self) -> int:
        """Installment premium written and not collected, with its VAT: the policy's premium
        receivable (collections are what the borrower pays, VAT included)."""
        written = self.installment_premium_written_fen + self.installment_vat_written_fen
        return max(written - self.installments_collected_fen, 0)

    def first_unpaid_premium(self) -> int | None:
        """The number of the first installment whose premium is written and not collected
        (None: every one written is paid). Collections pay the oldest premium first, each
        with its VAT; the installments written at an earlier premium count at their
        average."""
        if not self.premium_due_fen:
            return None
        collected, earlier = self.installments_collected_fen, self.earlier_installments
        earlier_fen = self.earlier_installments_fen + self.earlier_installments_vat_fen
        if earlier and collected < earlier_fen:
            return collected * earlier // earlier_fen + 1
        each = self.installment_premium_fen + self.installment_vat_fen
        return earlier + (collected - earlier_fen) // each + 1 if each else None

    @property
    def written_premium_fen(self) -> int:
        """Premium written so far (CAS 25): a single premium in full at issue, less what was
        refunded on prepayment; installment premiums as each falls due."""
        single = self.single_premium_fen - self.refunded_fen if self.issued_on else 0
        return single + self.installment_premium_written_fen

    @property
    def earned_premium_fen(self) -> int:
        """Premium earned so far: the single premium's earned part, and every installment
        premium written (it pays for cover already given)."""
        return self.earned_fen + self.installment_premium_written_fen

    def _move(self, target: PolicyStatus, on: date, action: str, **data: object) -> None:
        if not can_transition(self.status, target):
            raise IllegalTransition("policy", self.id, self.status.value, action)
        before, self.status = self.status, target
        self.events.append(Event(_EVENT_NAMES[target], "policy", self.id, on,
                                 {"from": before.value, "to": target.value, **data}))

    def issue(self, *, on: date, start: date, loan_id: int, interest_fen: int) -> None:
        """Bind cover for the loan disbursed on ``start``; it runs to the loan's maturity and
        covers its principal and ``interest_fen``, the interest its schedule bears."""
        self._move(PolicyStatus.ISSUED, on, "issue", start=start.isoformat(), loan_id=loan_id)
        self.issued_on = on
        self.interest_insured_fen = interest_fen
        self.start_date = start
        self.end_date = add_months(start, self.term_months)
        self.loan_id = loan_id

    def come_into_force(self, on: date) -> None:
        self._move(PolicyStatus.IN_FORCE, on, "come into force")

    def expire(self, on: date) -> None:
        self._move(PolicyStatus.EXPIRED, on, "expire")

    def cancel(self, on: date, reason: str) -> None:
        self._move(PolicyStatus.CANCELLED, on, "cancel", reason=reason)

    def mark_claimed(self, on: date, claim_id: int) -> None:
        self._move(PolicyStatus.CLAIMED, on, "be claimed", claim_id=claim_id)

    def close(self, on: date, reason: str) -> None:
        self._move(PolicyStatus.CLOSED, on, "close", reason=reason)

    def covers(self, on: date) -> bool:
        """In force and within its period of cover on ``on``."""
        return (
            self.status is PolicyStatus.IN_FORCE
            and self.start_date is not None
            and self.end_date is not None
            and self.start_date <= on <= self.end_date
        )

    def earned_to(self, on: date) -> int:
        """Single premium earned by the end of ``on`` (0 for installment premiums); by
        exposure, following the loan's ``schedule`` (which the caller sets)."""
        schedule = None
        if self.earning == EXPOSURE and self.single_premium_fen:
            if self.schedule is None:
                raise ValueError(f"policy {self.id} earns by exposure: its loan's schedule "
                                 "is needed")
            schedule = self.schedule
        return single_premium_earned(
            self.single_premium_fen, self.refund_method, start=self.start_date,
            end=self.end_date, term_months=self.term_months, on=on,
            refunded_fen=self.refunded_fen, upr_base_fen=self.upr_base_fen,
            upr_base_on=self.upr_base_on, schedule=schedule)

    @property
    def unearned_fen(self) -> int:
        """Single premium written and not yet earned (the policy's UPR)."""
        return self.single_premium_fen - self.refunded_fen - self.earned_fen

    def _endorse(self, on: date, action: str) -> None:
        if self.status is not PolicyStatus.IN_FORCE or self.start_date is None \
                or self.end_date is None or not self.start_date <= on < self.end_date:
            raise IllegalTransition("policy", self.id, self.status.value, action)

    def prepay_partly(self, on: date, *, principal_fen: int, outstanding_fen: int,
                      schedule_sha256: str, interest_fen: int) -> CoverChange:
        """Part of the loan's principal is repaid early on ``on`` (an endorsement: the next
        version, a smaller cover). The single premium is earned to ``on``; of what is still
        unearned, the share of the outstanding principal repaid (``principal_fen`` of
        ``outstanding_fen``) is refunded and the rest runs off by the product's method. The
        principal insured falls by the principal repaid, and so does each installment premium
        from the next one written (the principal insured × the monthly rate); the interest
        insured becomes ``interest_fen``, what the rebuilt schedule bears."""
        self._endorse(on, "be prepaid in part")
        if not 0 < principal_fen < outstanding_fen:
            raise InvalidInput.single("principal_fen", "prepayment.partial_amount",
                                      "a partial prepayment is less than what is owed")
        earned = self.earn(on)
        refund = apply_fraction(self.unearned_fen, principal_fen, outstanding_fen)
        self.refunded_fen += refund
        self.upr_base_fen, self.upr_base_on = self.unearned_fen, on
        self.principal_insured_fen = max(self.principal_insured_fen - principal_fen, 0)
        self.interest_insured_fen = interest_fen
        if self.installment_premium_fen:
            self.earlier_installments_fen = self.installment_premium_written_fen
            self.earlier_installments_vat_fen = self.installment_vat_written_fen
            self.earlier_installments = self.installments_written
            self.installment_premium_fen = installment_premium(self.principal_insured_fen,
                                                               self.monthly_premium_rate)
            self.installment_vat_fen = self.vat_on(self.installment_premium_fen)
        self.schedule_sha256 = schedule_sha256
        self.version += 1
        self.events.append(Event("PolicyEndorsed", "policy", self.id, on, {
            "kind": EndorsementKind.PARTIAL_PREPAYMENT.value, "version": self.version,
            "principal_fen": principal_fen, "refunded_fen": refund,
            "principal_insured_fen": self.principal_insured_fen,
            "interest_insured_fen": interest_fen}))
        return CoverChange(earned, refund)

    def note_restructure(self, on: date) -> None:
        """The loan was restructured on ``on`` without the insurer's consent: the cover
        stays the schedule insured (a claim finds the loan not as insured and the wording's
        exclusion applies); the policy's next version notes it."""
        self._endorse(on, "note a restructuring")
        self.version += 1
        self.events.append(Event("PolicyEndorsed", "policy", self.id, on, {
            "kind": EndorsementKind.RESTRUCTURE.value, "version": self.version,
            "consent": False}))

    def restructure(self, on: date, *, end: date, term_months: int,
                    schedule_sha256: str, interest_fen: int) -> CoverChange:
        """The loan is restructured on ``on`` with the insurer's consent (an endorsement:
        the next version): the cover follows the new schedule to ``end`` (``term_months``
        months from the start) and the interest it bears (``interest_fen``). The single
        premium is earned to ``on`` and what is left unearned runs off over the new cover by
        the product's method; installment premiums go on with each installment of the new
        schedule."""
        self._endorse(on, "be restructured")
        if end <= on or term_months < 1:
            raise InvalidInput.single("installments", "restructure.installments",
                                      "the new schedule ends after the restructuring")
        earned = self.earn(on)
        self.upr_base_fen, self.upr_base_on = self.unearned_fen, on
        self.end_date, self.term_months = end, term_months
        self.interest_insured_fen = interest_fen
        self.schedule_sha256 = schedule_sha256
        self.version += 1
        self.events.append(Event("PolicyEndorsed", "policy", self.id, on, {
            "kind": EndorsementKind.RESTRUCTURE.value, "version": self.version,
            "consent": True, "end_date": end.isoformat(), "term_months": term_months,
            "interest_insured_fen": interest_fen}))
        return CoverChange(earned, 0)

    def earn(self, on: date, *, all_of_it: bool = False) -> int:
        """Earn the single premium to the end of ``on`` (``all_of_it`` when cover ends early:
        a claim, or repayment at maturity); returns the fen newly earned, never negative.

        ``earned_fen`` only grows: what is posted is earned once.
        """
        target = self.single_premium_fen - self.refunded_fen if all_of_it \
            else self.earned_to(on)
        earned = target - self.earned_fen
        if earned <= 0:
            return 0
        self.earned_fen = target
        return earned

    def settle(self, on: date, maturity_date: date) -> PolicySettlement:
        """The loan is repaid on ``on`` (DOMAIN §3). Before maturity: the premium is earned
        to date, the unearned rest refunded by the product's refund method, and the policy
        cancelled; at or after maturity: the rest of the premium is earned and the policy
        expires. Either way it is then closed. A policy whose state cannot move so (claimed,
        expired, closed) is refused (``IllegalTransition``) and left as it was.
        """
        expired = on >= maturity_date
        if expired:
            self.expire(on)
            earned, refunded = self.earn(on, all_of_it=True), 0
        else:
            self.cancel(on, "loan prepaid")
            earned, refunded = self.earn(on), self.refund_on_prepayment(on)
            self.refunded_fen += refunded
        self.close(on, "loan repaid")
        return PolicySettlement(expired=expired, earned_fen=earned,
                                earned_through_fen=self.earned_fen, refunded_fen=refunded)

    def cancel_on_request(self, on: date, *, cooling_off_ends: date,
                          reason: str) -> PolicyCancellation:
        """Cover ends on ``on`` at the policyholder's request (an endorsement: the next
        version). Within the cooling-off period (to ``cooling_off_ends`` inclusive, which the
        caller ends before the first installment premium falls due) every premium paid is
        refunded, what was earned given back; after it the single premium is earned to
        ``on`` and the unearned rest refunded by the product's method; installment premiums
        not yet due are never charged. Only a policy in force."""
        if self.status is not PolicyStatus.IN_FORCE or self.start_date is None:
            raise IllegalTransition("policy", self.id, self.status.value, "be cancelled")
        cooling_off = on <= cooling_off_ends
        if cooling_off:
            earned, reversed_ = 0, self.earned_fen
            refund = self.single_premium_fen - self.refunded_fen
            self.earned_fen = 0
        else:
            earned, reversed_ = self.earn(on), 0
            refund = self.unearned_fen
        self.refunded_fen += refund
        self.version += 1
        self._move(PolicyStatus.CANCELLED, on, "be cancelled", reason=reason,
                   cooling_off=cooling_off, refunded_fen=refund, version=self.version)
        return PolicyCancellation(cooling_off, earned, reversed_, refund)

    def lapse(self, on: date, *, installment: int) -> int:
        """Cover ends on ``on``: the premium of ``installment`` is unpaid past the grace the
        agreement allows, and the wording makes the policy lapse (an endorsement: the next
        version). Premium written for the cover given stays owed; the single premium, if any,
        is earned to the day. Returns the single premium newly earned."""
        self._endorse(on, "lapse")
        earned = self.earn(on)
        self.version += 1
        self._move(PolicyStatus.CANCELLED, on, "lapse", reason="premium unpaid",
                   installment=installment, version=self.version)
        return earned

    def transfer(self, on: date, *, to_funder_id: int) -> None:
        """The loan was sold to another funder: it becomes the insured (and, in credit
        insurance, the policyholder); the obligor never changes. An endorsement: the next
        version. Only a policy in force, to another funder."""
        if self.status is not PolicyStatus.IN_FORCE:
            raise IllegalTransition("policy", self.id, self.status.value, "be transferred")
        if to_funder_id == self.funder_id:
            raise InvalidInput.single("to", "policy.transfer_same",
                                      "the loan is that funder's already")
        before, self.funder_id = self.funder_id, to_funder_id
        self.version += 1
        self.events.append(Event("PolicyInsuredChanged", "policy", self.id, on, {
            "from_funder_id": before, "to_funder_id": to_funder_id, "version": self.version}))

    def refund_on_prepayment(self, on: date) -> int:
        """Premium returned when the loan is repaid early on ``on``: the unearned part.

        Installment premiums not yet due are simply never charged, so nothing is refunded.
        """
        return self.single_premium_fen - self.refunded_fen - self.earned_to(on)
