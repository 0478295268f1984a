"""Closing the treaties' accounts (issue 23; ``reinsurance.model`` for the arithmetic).

``close_reinsurance`` applies each treaty's terms to the gross figures the ledger moved from
the treaty's first day to the close (or its last day), and posts, per treaty, what that
gives less what the treaty has ceded already (its entries carry ``treaty:CODE``). Run again
it posts nothing; after a late posting it posts the difference. Concurrent closes compute
the same entry under the same key: one is kept, the other finds it.

``settle_reinsurance`` pays a treaty's account off in cash: the payable and receivable its
closes left, netted through the bank, once per bank transaction.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources

from xinbao.claims.repository import UnitOfWork
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, InvalidInput, NotFound
from xinbao.kernel.retries import retried
from xinbao.ledger import model as gl
from xinbao.ledger.model import JournalEntry, Line, key_digest
from xinbao.ledger.services import post
from xinbao.reinsurance.model import (
    Ceded,
    Gross,
    Treaties,
    Treaty,
    TreatyKind,
    ceded,
    parse_treaties,
    still_to_cede,
)


@functools.cache
def shipped() -> Treaties:
    text = resources.files("xinbao.params").joinpath("reinsurance.toml").read_text("utf-8")
    return parse_treaties(tomllib.loads(text))


@dataclass(frozen=True, slots=True)
class TreatyAccount:
    """A treaty's account at a close: the gross figures of its period to date, what its
    terms cede of them (by account), and what this close posted (None: nothing new)."""

    treaty: Treaty
    period_from: date
    period_to: date
    gross: Gross
    ceded: Ceded
    posted: JournalEntry | None


_GROSS_ACCOUNTS = (gl.WRITTEN_PREMIUM, gl.UPR_CHARGE, gl.CLAIMS_PAID, gl.RECOVERIES,
                   gl.CLAIM_RESERVE_CHARGE)


def _balances(uow: UnitOfWork, through: date) -> dict[str, int]:
    totals = dict.fromkeys(_GROSS_ACCOUNTS, 0)
    for line in uow.ledger.lines(through=through):
        if line.account in totals:
            totals[line.account] += line.amount_fen
    return totals


def _gross(uow: UnitOfWork, start: date, end: date, treaty: Treaty,
           read: Callable[[date], dict[str, int]]) -> Gross:
    after, before = read(end), read(start - timedelta(days=1))
    moved = {account: after[account] - before[account] for account in _GROSS_ACCOUNTS}
    return Gross(
        written_premium_fen=-moved[gl.WRITTEN_PREMIUM], upr_change_fen=moved[gl.UPR_CHARGE],
        net_claims_paid_fen=moved[gl.CLAIMS_PAID] + moved[gl.RECOVERIES],
        claim_reserve_change_fen=moved[gl.CLAIM_RESERVE_CHARGE],
        claims_paid=tuple(uow.claims.paid_between(start, end))
        if treaty.kind is TreatyKind.EXCESS_OF_LOSS else ())


def _entry(treaty: Treaty, left: Ceded, end: date) -> JournalEntry | None:
    if not left:
        return None
    lines = tuple(Line(account, fen) for account, fen in sorted(left.items()))
    key = f"{treaty.code}:{end.isoformat()}:" + key_digest(
        [f"{line.account}={line.amount_fen}" for line in lines])
    return JournalEntry(posted_on=end, description=f"Reinsurance ceded under {treaty.code} "
                                                   f"to {end}",
                        source_command="CedeReinsurance", idempotency_key=key,
                        reference=treaty.reference(), lines=lines)


@retried
def close_reinsurance(uow: UnitOfWork, *, through: date,
                      treaties: Treaties | None = None) -> list[TreatyAccount]:
    """Each treaty begun by ``through``: its account to ``through`` (or its last day),
    posted (see the module's docstring)."""
    authorize(uow, Action.LEDGER_POST)
    book = treaties or shipped()
    quota_share_on: Callable[[date], object] = book.quota_share_on
    accounts = []
    with uow:
        read = functools.cache(lambda day: _balances(uow, day))  # the ledger once a date
        for treaty in book.treaties:
            if treaty.effective_from > through:
                continue
            end = min(through, treaty.effective_to or through)
            gross = _gross(uow, treaty.effective_from, end, treaty, read)
            target = ceded(treaty, gross, quota_share_on=quota_share_on)
            so_far = [(line.account, line.amount_fen)
                      for e in uow.ledger.entries(reference=treaty.reference())
                      for line in e.lines]
            entry = _entry(treaty, still_to_cede(target, so_far), end)
            accounts.append(TreatyAccount(treaty, treaty.effective_from, end, gross,
                                          {k: v for k, v in target.items() if v},
                                          post(uow, entry)))
        uow.commit()
    return accounts


@dataclass(frozen=True, slots=True)
class TreatyBalance:
    """What a treaty has ceded to date, by account (debit positive), from its postings."""

    treaty: Treaty
    ceded: dict[str, int]
    closes: int  # entries posted under it


def treaty_balances(uow: UnitOfWork, treaties: Treaties | None = None) -> list[TreatyBalance]:
    """Each treaty with what its closes have posted so far (``ledger.read``)."""
    authorize(uow, Action.LEDGER_READ)
    found = []
    with uow:
        for treaty in (treaties or shipped()).treaties:
            entries = uow.ledger.entries(reference=treaty.reference())
            totals: dict[str, int] = {}
            for e in entries:
                for line in e.lines:
                    totals[line.account] = totals.get(line.account, 0) + line.amount_fen
            found.append(TreatyBalance(treaty, {k: v for k, v in sorted(totals.items()) if v},
                                       len(entries)))
    return found


@dataclass(frozen=True, slots=True)
class TreatySettlement:
    """A treaty's account settled in cash with the reinsurer: what it owed us (the
    receivable), what we owed it (the payable), and the entry (the bank moved by their
    difference); ``repeat`` when the reference had settled it before."""

    treaty: Treaty
    receivable_fen: int
    payable_fen: int
    entry: JournalEntry
    repeat: bool = False

    @property
    def net_to_reinsurer_fen(self) -> int:
        """Paid to the reinsurer (negative: received from it)."""
        return self.payable_fen - self.receivable_fen


def settlement_reference(treaty: Treaty) -> str:
    """Settlements carry their own reference, so a close's ``still_to_cede`` never reads
    them as ceded."""
    return f"treaty-settlement:{treaty.code}"


@retried
def settle_reinsurance(uow: UnitOfWork, code: str, *, on: date, reference: str,
                       treaties: Treaties | None = None) -> TreatySettlement:
    """Settle a treaty's account with its reinsurer on ``on``: the reinsurance payable and
    receivable its closes left, less what earlier settlements cleared, paid off against
    each other through the bank (Dr reinsurance payable / Cr reinsurance receivable, the
    difference to or from the bank). Once per ``reference`` (the bank transaction): the same
    again answers with the settlement made. Nothing left to settle is a conflict."""
    authorize(uow, Action.LEDGER_POST)
    text = reference.strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise InvalidInput.single("reference", "reinsurance.reference",
                                  "the bank transaction's reference, 1 to 64 characters")
    treaty = next((t for t in (treaties or shipped()).treaties if t.code == code), None)
    if treaty is None:
        raise NotFound("treaty", code)
    key = f"{treaty.code}:{text}"
    with uow:
        entries = [*uow.ledger.entries(reference=treaty.reference()),
                   *uow.ledger.entries(reference=settlement_reference(treaty))]
        # The reference last: a concurrent settlement under it that committed after the
        # balances were read is found here (its balances read as settled already).
        seen = uow.ledger.get_by_key("SettleReinsurance", key)
        if seen is not None:
            return TreatySettlement(treaty, -_moved(seen, gl.REINSURANCE_RECEIVABLE),
                                    _moved(seen, gl.REINSURANCE_PAYABLE), seen, repeat=True)
        receivable = sum(_moved(e, gl.REINSURANCE_RECEIVABLE) for e in entries)
        payable = -sum(_moved(e, gl.REINSURANCE_PAYABLE) for e in entries)
        if receivable == 0 and payable == 0:
            raise Conflict(f"{treaty.code} has nothing left to settle")
        lines = [Line(account, fen) for account, fen in (
            (gl.REINSURANCE_PAYABLE, payable), (gl.REINSURANCE_RECEIVABLE, -receivable),
            (gl.BANK, receivable - payable)) if fen]
        entry = uow.ledger.add(JournalEntry(
            posted_on=on, description=f"Reinsurance account settled under {treaty.code}",
            source_command="SettleReinsurance", idempotency_key=key,
            reference=settlement_reference(treaty), lines=tuple(lines)))
        uow.commit()  # a concurrent one under the key: a write conflict, retried as a repeat
    return TreatySettlement(treaty, receivable, payable, entry)


def _moved(entry: JournalEntry, account: str) -> int:
    return sum(line.amount_fen for line in entry.lines if line.account == account)
