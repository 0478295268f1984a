"""Cooperation agreements (合作协议) between the insurer and a funder, versioned.

An agreement names the products the funder may sell with cover, the commission the insurer
pays it (a share of premium), the share of the insurer's new business it is planned to bring,
the share of each loss it keeps (risk share), the settlement cycle of premium and claims in
days, and the format of the files it sends (DOMAIN §2, marketing: "partner funders
(cooperation agreements: risk share, fees, settlement cycle, file formats)"), with the
funder's own column names for our file types (``feed_mapping``: per file type, theirs ->
ours; issue 21).

Versions are numbered from 1 and never change once stored. The newest version is the one in
force: its products and commission are the funder's (``Funder.adopt``), which intake
(``funder.agreement``) and the premium postings read. Intake reads them without a date, so a
version is stored on or after the day it takes effect (``agreement.effective_from``), and
never takes effect before the version it follows (``agreement.version_order``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import Any

from xinbao.kernel.errors import FieldError, InvalidInput
from xinbao.kernel.money import PRECISION


class PremiumCollector(StrEnum):
    """Who collects the borrowers' premium (issue 23): the insurer into its own account, or
    the funder with each installment (and at disbursement), holding it for us until its
    settlement statement."""

    INSURER = "insurer"
    FUNDER = "funder"


class FileFormat(StrEnum):
    """How the funder sends its application and repayment files."""

    CSV = "csv"  # with a header row
    JSONL = "jsonl"  # JSON lines: one record a line


#: The longest settlement cycle an agreement may set, in days (a year).
MAX_SETTLEMENT_DAYS = 366

#: The terms of an agreement: what a new version may change.
TERMS = ("products", "commission_rate", "volume_share", "risk_share", "settlement_days",
         "file_format", "feed_mapping", "claim_notice_days", "premium_grace_days",
         "premium_collector")
#: The longest claim-notice limit and premium grace an agreement may set, in days.
MAX_CLAIM_DAYS = 365

#: A funder's column names for ours: file type -> {theirs: ours}.
FeedMapping = dict[str, dict[str, str]]
#: The file types a mapping may name and each one's columns (the schemas are the batch's,
#: a layer above: whoever validates passes them in).
FeedColumns = Mapping[str, Collection[str]]
#: The longest column name of a funder's that a mapping keeps.
MAX_COLUMN_NAME = 64


@dataclass(frozen=True, slots=True)
class Agreement:
    """One version of a funder's cooperation agreement."""

    funder_code: str
    version: int
    effective_from: date
    products: tuple[str, ...]  # product codes the funder may sell with cover
    commission_rate: Decimal  # share of premium paid to the funder as channel fee
    #: Planned share of the insurer's new business this funder brings (None: none agreed).
    volume_share: Decimal | None = None
    risk_share: Decimal = Decimal(0)  # share of each loss the funder keeps
    settlement_days: int = 30  # settlement cycle of premium and claims
    file_format: str = FileFormat.CSV
    #: The funder's column names: file type -> {theirs: ours} (empty: it sends ours).
    feed_mapping: FeedMapping = field(default_factory=dict)
    #: Claims (issue 22): its claim notice within this many days of the trigger date, and
    #: premium due may be this many days late before a default without losing cover.
    claim_notice_days: int = 30
    premium_grace_days: int = 30
    #: Who collects the premium (``PremiumCollector``): the funder's premium held is settled
    #: on its statement each settlement cycle.
    premium_collector: str = PremiumCollector.INSURER

    def validate(self, feed_columns: FeedColumns | None = None) -> list[FieldError]:
        """Every rule the terms break (empty when they are sound); the column mapping is
        checked against ``feed_columns`` when given (None: a mapping left as it was)."""
        errors = check_terms(self.products, self.commission_rate)
        if feed_columns is not None:
            errors += check_feed_mapping(self.feed_mapping, feed_columns)
        if self.volume_share is not None and not _within(self.volume_share, low_open=True):
            errors.append(FieldError("volume_share", "agreement.volume_share",
                                     "volume share must be in (0, 1]"))
        if not _within(self.risk_share, high_open=True):
            errors.append(FieldError("risk_share", "agreement.risk_share",
                                     "risk share must be in [0, 1): the insurer keeps some"))
        if not 1 <= self.settlement_days <= MAX_SETTLEMENT_DAYS:
            errors.append(FieldError(
                "settlement_days", "agreement.settlement_days",
                f"settlement cycle must be 1 to {MAX_SETTLEMENT_DAYS} days"))
        for name in ("claim_notice_days", "premium_grace_days"):
            if not 0 <= getattr(self, name) <= MAX_CLAIM_DAYS:
                errors.append(FieldError(name, f"agreement.{name}",
                                         f"must be 0 to {MAX_CLAIM_DAYS} days"))
        if self.premium_collector not in set(PremiumCollector):
            errors.append(FieldError(
                "premium_collector", "agreement.premium_collector",
                f"premium is collected by the {' or the '.join(PremiumCollector)}"))
        if self.file_format not in set(FileFormat):
            errors.append(FieldError(
                "file_format", "agreement.file_format",
                f"file format must be one of {', '.join(f.value for f in FileFormat)}"))
        return errors

    def terms(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TERMS}

    def as_data(self) -> dict[str, Any]:
        """The version as JSON gives it back (the audit trail, ``--json``)."""
        return {"funder": self.funder_code, "version": self.version,
                "effective_from": self.effective_from.isoformat(),
                "products": list(self.products), "commission_rate": str(self.commission_rate),
                "volume_share": None if self.volume_share is None else str(self.volume_share),
                "risk_share": str(self.risk_share), "settlement_days": self.settlement_days,
                "file_format": str(self.file_format),
                "claim_notice_days": self.claim_notice_days,
                "premium_grace_days": self.premium_grace_days,
                "premium_collector": str(self.premium_collector),
                "feed_mapping": {kind: dict(names) for kind, names
                                 in sorted(self.feed_mapping.items())}}

    def mapping_for(self, file_type: str) -> dict[str, str]:
        """The funder's column names for one file type (theirs -> ours; empty: none)."""
        return dict(self.feed_mapping.get(file_type, {}))


def check_terms(products: tuple[str, ...], commission_rate: Decimal) -> list[FieldError]:
    """The rules a funder's current terms and every agreement version share."""
    errors = []
    if not products or len(set(products)) != len(products) or not all(products):
        errors.append(FieldError("products", "funder.products",
                                 "the agreement covers one or more products, each once"))
    if not _within(commission_rate, high_open=True):
        errors.append(
            FieldError("commission_rate", "funder.commission_rate", "must be in [0, 1)"))
    return errors


def check_feed_mapping(mapping: Mapping[str, Mapping[str, str]],
                       feed_columns: FeedColumns) -> list[FieldError]:
    """The rules on a funder's column names: each file type known, each of theirs a plain
    name, each of ours a column of that type's schema, named by one of theirs at most (two
    of theirs onto one of ours would make two columns of one name)."""
    errors = []
    for kind, names in mapping.items():
        where = f"feed_mapping.{kind}"
        if kind not in feed_columns:
            errors.append(FieldError(where, "agreement.feed_type", (
                f"no file type {kind!r}: one of {', '.join(sorted(feed_columns)) or 'none'}")))
            continue
        for theirs, ours in names.items():
            if not theirs.strip() or len(theirs) > MAX_COLUMN_NAME or not theirs.isprintable():
                errors.append(FieldError(where, "agreement.feed_mapping", (
                    f"a funder's column name is 1 to {MAX_COLUMN_NAME} printable characters")))
            if ours not in feed_columns[kind]:
                errors.append(FieldError(where, "agreement.feed_column", (
                    f"{kind} files have no column {ours!r}")))
        targets = list(names.values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            errors.append(FieldError(where, "agreement.feed_mapping", (
                f"one of ours named by two of theirs: {', '.join(twice)}")))
    return errors


def next_version(newest: Agreement, proposed: Agreement, *, on: date,
                 feed_columns: FeedColumns | None = None) -> Agreement | None:
    """``proposed`` as the version after ``newest``, or None when it repeats newest's terms
    (nothing to store). Refused (InvalidInput, every rule at once) when a term breaks a rule
    (a new column mapping checked against ``feed_columns``: none given, none is sound), or
    it takes effect before ``newest`` or after ``on``, the day it is stored."""
    if proposed.terms() == newest.terms():
        return None
    changed = proposed.feed_mapping != newest.feed_mapping
    errors = proposed.validate((feed_columns or {}) if changed else None)
    if proposed.effective_from < newest.effective_from:
        errors.append(FieldError(
            "effective_from", "agreement.version_order",
            f"a new version cannot take effect before v{newest.version} "
            f"({newest.effective_from})"))
    if proposed.effective_from > on:
        errors.append(FieldError(
            "effective_from", "agreement.effective_from",
            f"a version is stored on or after the day it takes effect ({on} is before "
            f"{proposed.effective_from})"))
    if errors:
        raise InvalidInput(errors)
    return replace(proposed, version=newest.version + 1)


def _within(value: Decimal, *, low_open: bool = False, high_open: bool = False) -> bool:
    """Whether ``value`` is a finite share between 0 and 1 (ends open as asked)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return False
    above = value > 0 if low_open else value >= 0
    below = value < 1 if high_open else value <= 1
    return above and below


def insurer_share(coverage_share: Decimal, risk_share: Decimal) -> Decimal:
    """The share of a loss the insurer bears: the policy's coverage share of it, less the
    share the funder keeps under its agreement (``risk_share``: 风险共担), exact. What a
    claim pays, what the risk pricing expects to lose and what the limits count as retained
    all take it."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return coverage_share * (1 - risk_share)


def risk_shares(agreements: Iterable[Agreement]) -> dict[str, Decimal]:
    """Each funder's risk share under its newest agreement version, by funder code."""
    newest: dict[str, Agreement] = {}
    for a in agreements:
        if a.funder_code not in newest or a.version > newest[a.funder_code].version:
            newest[a.funder_code] = a
    return {code: a.risk_share for code, a in newest.items()}
