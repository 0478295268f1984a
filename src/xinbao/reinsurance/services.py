"""Closing the treaties' accounts (issue 23; ``reinsurance.model`` for the arithmetic).

``close_reinsurance`` applies each treaty's terms to the gross figures the ledger moved from
the treaty's first day to the close (or its last day), and posts, per treaty, what that
gives less what the treaty has ceded already (its entries carry ``treaty:CODE``). Run again
it posts nothing; after a late posting it posts the difference. Concurrent closes compute
the same entry under the same key: one is kept, the other finds it.
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


def _gross(uow: UnitOfWork, start: date, end: date, treaty: Treaty) -> Gross:
    after, before = _balances(uow, end), _balances(uow, start - timedelta(days=1))
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
        for treaty in book.treaties:
            if treaty.effective_from > through:
                continue
            end = min(through, treaty.effective_to or through)
            gross = _gross(uow, treaty.effective_from, end, treaty)
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
