"""The commands claims accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from xinbao.claims.model import Document, Exclusion


@dataclass(frozen=True, slots=True)
class FileClaim:
    """A claim notice: from a funder's client, or received from the funder another way
    (``notice``) — ``reference`` its own, required; the same reference again is the same
    notice — or entered by claims staff. ``exclusions``: those a
    handler declares, each with what shows it (a set: declared without a note);
    ``claimed_fen``: a partial claim's ask."""

    policy_id: int
    on: date
    exclusions: Mapping[Exclusion, str] | frozenset[Exclusion] = frozenset()
    reference: str | None = None
    claimed_fen: int | None = None
    documents: tuple[Document, ...] = field(default=())
    #: The funder's notice received another way (a file, a letter) and entered for it: a
    #: notice as from the funder, its reference required.
    notice: bool = False


@dataclass(frozen=True, slots=True)
class ReviewClaim:
    """Take a notified claim into review, or reopen a declined one on appeal."""

    claim_id: int
    on: date
    why: str


@dataclass(frozen=True, slots=True)
class ApproveClaim:
    claim_id: int
    on: date
    why: str = ""


@dataclass(frozen=True, slots=True)
class DeclineClaim:
    """Decline with the exclusions found (each with what shows it); without any, only a
    claim whose checks fail already may be declined."""

    claim_id: int
    on: date
    why: str
    exclusions: Mapping[Exclusion, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecalculateClaim:
    """Assess the claim again (the funder corrected its data): the new amount and its
    difference from the old are kept."""

    claim_id: int
    on: date


@dataclass(frozen=True, slots=True)
class SettleClaims:
    """Pay a funder's approved claims of its last whole settlement cycle ending on or before
    ``on`` together (the agreement's settlement days), on ``on``."""

    funder_code: str
    on: date


@dataclass(frozen=True, slots=True)
class PayClaim:
    claim_id: int
    on: date


@dataclass(frozen=True, slots=True)
class RecordRecovery:
    claim_id: int
    amount_fen: int
    received_on: date
    source: str
    reference: str
    final: bool = False
