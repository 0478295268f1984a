"""Premium settlement with funders (结算, issue 23): each settlement cycle of a funder's
agreement, a statement of the money between us and it, and its settlement through the bank.

What a statement holds is read from the ledger lines whose party is the funder
(``ledger.model.funder_party``):
- **premium held**: premium the funder collected for us (its agreement's
  ``premium_collector`` is the funder), with its borrowers' installments or at disbursement
  (Dr premium held by funders 1221);
- **refunds**: premium it paid back to borrowers for us out of what it held (Cr 1221);
- **commission**: its commission on the premium written (Cr commission payable 2221);
- **commission clawed back** on the refunds (Dr 2221);
- **net due**: premium held − refunds − commission + clawback; positive, the funder pays us;
  negative, we pay it. It is exactly what the funder's lines on 1221 and 2221 moved.
The claims paid to the funder in the cycle are shown for its reconciliation: they were paid
by the claims' own payment batches (their statements), so they are not netted again.

Statements are cumulative so that nothing is lost: a statement holds the funder's lines
posted through its cycle's end less what earlier statements settled (a posting dated into a
settled cycle comes on the next statement). Settling posts the net through the bank (Dr bank
/ Cr 1221 the premium held net, Dr 2221 / Cr bank the commission net) under the funder's
party: afterwards its 1221 and 2221 lines through the cycle sum to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from xinbao.ledger.model import (
    BANK,
    COMMISSION_PAYABLE,
    DUE_FROM_FUNDERS,
    JournalEntry,
    entry,
    funder_party,
)

#: The source command of a settlement's entry: its lines are never a statement's figures.
SETTLE = "SettleFunder"
#: The source command of a refund's entry (``policy.postings.premium_refunded``).
REFUND = "RefundPremium"


@dataclass(frozen=True, slots=True)
class Figures:
    """The money of a statement, fen (each as the funder sees it, non-negative unless a
    reversal made it otherwise)."""

    premium_held_fen: int = 0
    refunds_fen: int = 0
    commission_fen: int = 0
    clawback_fen: int = 0

    @property
    def net_fen(self) -> int:
        """What the funder owes us (negative: what we owe it)."""
        return (self.premium_held_fen - self.refunds_fen - self.commission_fen
                + self.clawback_fen)

    @property
    def held_net_fen(self) -> int:
        """Premium held less refunds: what the settlement takes off 1221."""
        return self.premium_held_fen - self.refunds_fen

    @property
    def commission_net_fen(self) -> int:
        """Commission less clawback: what the settlement takes off 2221."""
        return self.commission_fen - self.clawback_fen

    def __sub__(self, other: Figures) -> Figures:
        return Figures(self.premium_held_fen - other.premium_held_fen,
                       self.refunds_fen - other.refunds_fen,
                       self.commission_fen - other.commission_fen,
                       self.clawback_fen - other.clawback_fen)

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.premium_held_fen + other.premium_held_fen,
                       self.refunds_fen + other.refunds_fen,
                       self.commission_fen + other.commission_fen,
                       self.clawback_fen + other.clawback_fen)

    @property
    def empty(self) -> bool:
        return self == Figures()


def figures_of(totals: Iterable[tuple[str, str, int]]) -> Figures:
    """A funder's figures from its ledger lines summed by (source command, account): on
    premium held (1221) a refund's lines are refunds and every other's premium held; on
    commission payable (2221) a refund's are clawback and every other's commission. A
    settlement's own lines are left out."""
    held = refunds = commission = clawback = 0
    for source, account, fen in totals:
        if source == SETTLE:
            continue
        if account == DUE_FROM_FUNDERS:
            if source == REFUND:
                refunds -= fen
            else:
                held += fen
        elif account == COMMISSION_PAYABLE:
            if source == REFUND:
                clawback += fen
            else:
                commission -= fen
    return Figures(held, refunds, commission, clawback)


def statement_number(funder_code: str, cycle_to: date) -> str:
    """A premium settlement statement's number: ``PS-<funder>-<cycle end>``."""
    return f"PS-{funder_code}-{cycle_to:%Y%m%d}"


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    """A payment batch of the funder's claims paid in the cycle (its own statement)."""

    number: str
    paid_on: date
    claims: int
    total_fen: int


@dataclass(frozen=True, slots=True)
class FunderStatement:
    """One settlement cycle of a funder: its figures, the claims paid to it meanwhile, and
    (once settled) the day and the bank transaction."""

    funder_id: int
    funder_code: str
    funder_name: str
    number: str
    cycle_from: date
    cycle_to: date
    premium_collector: str
    figures: Figures
    claim_batches: tuple[ClaimBatch, ...] = field(default=())
    settled_on: date | None = None
    bank_reference: str | None = None
    id: int | None = None

    @property
    def claims_paid_fen(self) -> int:
        return sum(b.total_fen for b in self.claim_batches)

    @property
    def settled(self) -> bool:
        return self.settled_on is not None


def funder_settled(*, on: date, funder_code: str, number: str, figures: Figures,
                   bank_reference: str) -> JournalEntry | None:
    """The settlement of a statement through the bank, under the funder's party: the premium
    it held net of refunds off 1221 (Dr bank / Cr 1221) and the commission net of clawback
    off 2221 (Dr 2221 / Cr bank), the bank moving the net. Keyed by the statement."""
    party = funder_party(funder_code)
    return entry(on=on, description=f"Premium settlement {number} (bank {bank_reference})",
                 source=SETTLE, key=number, reference=f"funder-statement:{number}",
                 moves=[(BANK, DUE_FROM_FUNDERS, figures.held_net_fen, "", party),
                        (COMMISSION_PAYABLE, BANK, figures.commission_net_fen, party, "")])
