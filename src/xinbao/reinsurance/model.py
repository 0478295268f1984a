"""Reinsurance ceded (issue 23): the treaties and what each cedes from the book's gross figures.

A treaty's account is kept on the accounting basis, as cedants and reinsurers settle it: over
the treaty's period, its terms are applied to the gross figures the ledger moved (written
premium, the change in the unearned premium reserve, claims paid less recoveries, the change
in the claim reserve; each claim paid, for an excess of loss). Each close posts the
difference between what the terms give for everything moved to date and what the treaty has
ceded already, so a close is idempotent, a late posting is trued up at the next close, and
at any close the treaty's postings equal its terms applied to the gross figures, to the fen.

- **Quota share** (成数分保): the reinsurer takes ``cession`` of every premium, reserve and
  claim, and returns ``ceding_commission`` of the premium ceded.
- **Per-risk excess of loss** (险位超赔): on each claim paid, the loss the quota shares leave
  retained above ``retention_fen`` is recovered, up to ``limit_fen``; its premium is
  ``premium_rate`` of the premium retained after the quota shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from xinbao.kernel.money import apply_rate
from xinbao.ledger.model import (
    CEDED_CLAIM_RESERVE,
    CEDED_CLAIMS_RECOVERED,
    CEDED_PREMIUM,
    CEDED_RESERVE_RECOVERED,
    CEDED_UPR,
    CEDED_UPR_RECOVERED,
    CEDING_COMMISSION,
    REINSURANCE_PAYABLE,
    REINSURANCE_RECEIVABLE,
)


class TreatyKind(StrEnum):
    QUOTA_SHARE = "quota_share"
    EXCESS_OF_LOSS = "excess_of_loss"


@dataclass(frozen=True, slots=True)
class Treaty:
    code: str
    kind: TreatyKind
    reinsurer: str
    effective_from: date
    effective_to: date | None = None
    cession: Decimal = Decimal(0)  # quota share
    ceding_commission: Decimal = Decimal(0)  # quota share
    retention_fen: int = 0  # excess of loss, per risk
    limit_fen: int = 0  # excess of loss, per risk
    premium_rate: Decimal = Decimal(0)  # excess of loss, on the premium retained

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None
                                              or on <= self.effective_to)

    def reference(self) -> str:
        return f"treaty:{self.code}"


@dataclass(frozen=True, slots=True)
class Treaties:
    version: str
    treaties: tuple[Treaty, ...]

    def quota_share_on(self, on: date) -> Decimal:
        """The share of a loss on ``on`` the quota shares in force take together."""
        return sum((t.cession for t in self.treaties
                    if t.kind is TreatyKind.QUOTA_SHARE and t.in_force(on)), Decimal(0))


def parse_treaties(data: Mapping[str, Any]) -> Treaties:
    """The treaties of a ``reinsurance.toml``; ValueError naming the first bad term."""
    found = []
    for raw in data.get("treaty", []):
        kind = TreatyKind(raw["kind"])
        to = raw.get("effective_to")
        treaty = Treaty(
            str(raw["code"]), kind, str(raw["reinsurer"]),
            date.fromisoformat(raw["effective_from"]),
            date.fromisoformat(to) if to else None,
            Decimal(str(raw.get("cession", "0"))),
            Decimal(str(raw.get("ceding_commission", "0"))),
            int(raw.get("retention_fen", 0)), int(raw.get("limit_fen", 0)),
            Decimal(str(raw.get("premium_rate", "0"))))
        if kind is TreatyKind.QUOTA_SHARE and not (
                Decimal(0) < treaty.cession < Decimal(1)
                and Decimal(0) <= treaty.ceding_commission < Decimal(1)):
            raise ValueError(f"{treaty.code}: a cession in (0, 1), a commission in [0, 1)")
        if kind is TreatyKind.EXCESS_OF_LOSS and not (
                treaty.retention_fen >= 0 and treaty.limit_fen > 0
                and Decimal(0) <= treaty.premium_rate < Decimal(1)):
            raise ValueError(f"{treaty.code}: a retention, a positive limit and a rate")
        found.append(treaty)
    codes = [t.code for t in found]
    if len(set(codes)) != len(codes):
        raise ValueError("each treaty has its own code")
    total = sum((t.cession for t in found if t.kind is TreatyKind.QUOTA_SHARE), Decimal(0))
    if total >= 1:
        raise ValueError("the quota shares cede less than the whole book")
    return Treaties(str(data["version"]), tuple(found))


@dataclass(frozen=True, slots=True)
class Gross:
    """The book's gross figures moved over a treaty's period to date (fen; each as the
    statement reads it: premium written, the UPR's increase, claims paid less recoveries,
    the claim reserve's increase) and, for an excess of loss, each claim paid with its
    payment date."""

    written_premium_fen: int
    upr_change_fen: int
    net_claims_paid_fen: int
    claim_reserve_change_fen: int
    claims_paid: tuple[tuple[int, date], ...] = ()  # (indemnity, paid on)


#: A treaty's ceded figures by account (debit positive), the shape a journal entry takes.
Ceded = dict[str, int]


def ceded(treaty: Treaty, gross: Gross, *, quota_share_on: Any) -> Ceded:
    """What ``treaty`` cedes of ``gross``, by account (debit positive; they sum to zero).
    ``quota_share_on(date)``: the quota shares' share of a loss on that day (an excess of
    loss protects what they leave)."""
    out: Ceded = {}

    def move(debit: str, credit: str, fen: int) -> None:
        out[debit] = out.get(debit, 0) + fen
        out[credit] = out.get(credit, 0) - fen

    if treaty.kind is TreatyKind.QUOTA_SHARE:
        premium = apply_rate(gross.written_premium_fen, treaty.cession)
        move(CEDED_PREMIUM, REINSURANCE_PAYABLE, premium)
        move(REINSURANCE_PAYABLE, CEDING_COMMISSION,
             apply_rate(premium, treaty.ceding_commission))
        move(CEDED_UPR, CEDED_UPR_RECOVERED,
             apply_rate(gross.upr_change_fen, treaty.cession))
        move(REINSURANCE_RECEIVABLE, CEDED_CLAIMS_RECOVERED,
             apply_rate(gross.net_claims_paid_fen, treaty.cession))
        move(CEDED_CLAIM_RESERVE, CEDED_RESERVE_RECOVERED,
             apply_rate(gross.claim_reserve_change_fen, treaty.cession))
        return out
    retained_premium = gross.written_premium_fen - apply_rate(
        gross.written_premium_fen, quota_share_on(treaty.effective_from))
    move(CEDED_PREMIUM, REINSURANCE_PAYABLE,
         apply_rate(retained_premium, treaty.premium_rate))
    move(REINSURANCE_RECEIVABLE, CEDED_CLAIMS_RECOVERED,
         sum(layer_loss(treaty, indemnity - apply_rate(indemnity, quota_share_on(paid_on)))
             for indemnity, paid_on in gross.claims_paid))
    return out


def layer_loss(treaty: Treaty, retained_fen: int) -> int:
    """What an excess of loss pays on one risk's retained loss."""
    return min(max(retained_fen - treaty.retention_fen, 0), treaty.limit_fen)


def still_to_cede(target: Ceded, posted: Sequence[tuple[str, int]]) -> Ceded:
    """What is left to post: ``target`` less the treaty's postings so far (account, fen)."""
    left = dict(target)
    for account, fen in posted:
        left[account] = left.get(account, 0) - fen
    return {account: fen for account, fen in left.items() if fen}
