"""The rules the end-of-day kernels apply, as plain values: overdue buckets and the five-tier
risk classification (《商业银行金融资产风险分类办法》, DOMAIN.md §3), with its thresholds
a versioned parameter (``params/classification.toml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum

#: Overdue buckets by days past due: M0 current, M1 1–30, M2 31–60 … M5 121–150, M6+ 151 on.
BUCKET_LABELS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6+")
BUCKET_DAYS = 30


class Tier(IntEnum):
    """The five tiers, in order of worsening (the value orders them)."""

    NORMAL = 1  # 正常
    SPECIAL_MENTION = 2  # 关注
    SUBSTANDARD = 3  # 次级
    DOUBTFUL = 4  # 可疑
    LOSS = 5  # 损失

    @property
    def label(self) -> str:
        return TIER_LABELS[self]

    @property
    def non_performing(self) -> bool:
        """次级, 可疑 and 损失 are non-performing."""
        return self >= Tier.SUBSTANDARD


TIER_LABELS = {Tier.NORMAL: "正常", Tier.SPECIAL_MENTION: "关注", Tier.SUBSTANDARD: "次级",
               Tier.DOUBTFUL: "可疑", Tier.LOSS: "损失"}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The least days past due that put a loan at least in each tier worse than normal."""

    special_mention: int
    substandard: int
    doubtful: int
    loss: int

    def __post_init__(self) -> None:
        steps = (self.special_mention, self.substandard, self.doubtful, self.loss)
        if steps[0] < 1 or list(steps) != sorted(set(steps)):
            raise ValueError(f"tier thresholds must rise from 1 or more: {steps}")

    def tier(self, days_past_due: int) -> Tier:
        """The tier days past due alone put a loan in (one loan; the kernels do it by
        column)."""
        for least, tier in ((self.loss, Tier.LOSS), (self.doubtful, Tier.DOUBTFUL),
                            (self.substandard, Tier.SUBSTANDARD),
                            (self.special_mention, Tier.SPECIAL_MENTION)):
            if days_past_due >= least:
                return tier
        return Tier.NORMAL


@dataclass(frozen=True, slots=True)
class ClassificationRules:
    """Thresholds for retail and non-retail debtors, and the non-retail contagion rule: when
    more than ``contagion_share`` of a debtor's exposure is non-performing, all of it is."""

    version: str
    retail: Thresholds
    non_retail: Thresholds
    contagion_share: Decimal

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.contagion_share < Decimal(1):
            raise ValueError("the contagion share is a fraction from 0 up to 1")


def bucket(days_past_due: int) -> str:
    """The overdue bucket of days past due (one loan; the kernels do it by column)."""
    if days_past_due <= 0:
        return BUCKET_LABELS[0]
    return BUCKET_LABELS[min((days_past_due - 1) // BUCKET_DAYS + 1, len(BUCKET_LABELS) - 1)]


@dataclass(frozen=True, slots=True)
class EarlyWarningRules:
    """When the end-of-day snapshot raises an early-warning signal, and how loud."""

    fpd_high_days: int
    partial_installments: int
    vintage_default_rate: Decimal
    vintage_min_loans: int
    #: The concentration limits: dimension (``funder``, ``region``, ``product``,
    #: ``obligor``) -> the most of the day's exposure one key of it may hold (none: no
    #: concentration signal).
    concentration: Mapping[str, Decimal] = field(default_factory=dict)
    #: A key's share from this fraction of its limit is a low signal (near the limit), above
    #: the limit medium, above this multiple of it high.
    concentration_near: Decimal = Decimal("0.9")
    concentration_high: Decimal = Decimal("1.25")
    #: No concentration signal on a day's book of fewer loans (any key of a handful of
    #: loans holds a large share).
    concentration_min_loans: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.concentration) - set(CONCENTRATION_CODES)
        if unknown:
            raise ValueError(f"no concentration limit by {sorted(unknown)}")
        if any(not Decimal(0) < v <= Decimal(1) for v in self.concentration.values()):
            raise ValueError("a concentration limit is a share above 0 and up to 1")
        if not Decimal(0) < self.concentration_near <= Decimal(1) <= self.concentration_high:
            raise ValueError("near the limit is a fraction of it, high a multiple of it")


#: The signals' codes.
FIRST_PAYMENT_DEFAULT, ROLL, PARTIAL_PAYMENTS, VINTAGE = (
    "EW-FPD", "EW-ROLL", "EW-PARTIAL", "EW-VINTAGE")
#: A concentration signal's code by dimension: one funder's, region's, product's or
#: obligor's share of the day's exposure near or above its limit.
CONCENTRATION_CODES = {"funder": "EW-CONC-FUNDER", "region": "EW-CONC-REGION",
                       "product": "EW-CONC-PRODUCT", "obligor": "EW-CONC-OBLIGOR"}
#: Signal levels, in order.
LEVELS = ("low", "medium", "high")
