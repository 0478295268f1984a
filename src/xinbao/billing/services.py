"""Premium settlement with funders (issue 23; ``billing.model`` for what a statement holds).

``funder_statement`` shows a funder's statement for the last whole settlement cycle of its
agreement ending by a day: the settled one, or the draft of what settling would post.
``settle_funder`` settles it as the bank moved it: the amount the bank shows must be the
statement's net (the bank movement reconciled), and a statement is settled once, by one bank
transaction; asked again it answers with the statement settled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from xinbao.billing.commands import SettleFunder
from xinbao.billing.model import (
    ClaimBatch,
    Figures,
    FunderStatement,
    figures_of,
    funder_settled,
    statement_number,
)
from xinbao.billing.repository import UnitOfWork
from xinbao.catalogue.model.parties import Funder
from xinbao.claims.model import settlement_cycle
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, FieldError, InvalidInput, require
from xinbao.kernel.retries import retried
from xinbao.ledger.model import JournalEntry, funder_party
from xinbao.ledger.services import post

_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


@dataclass(frozen=True, slots=True)
class Settled:
    """A settled statement, the entry that settled it (None when asked again), and whether
    it was settled before (a repeat)."""

    statement: FunderStatement
    entry: JournalEntry | None
    repeat: bool = False


def _funder(uow: UnitOfWork, code: str) -> tuple[Funder, date, int]:
    """The funder (its own users see only theirs), its agreement's first day and its
    settlement cycle in days."""
    funder = require(uow.funders.get_by_code(code), "funder", code)
    assert funder.id is not None
    own(uow, funder.id, "funder", code)
    versions = uow.funders.agreements(funder.id)
    if not versions:
        raise Conflict(f"funder {funder.code} has no agreement with a settlement cycle")
    return funder, versions[0].effective_from, versions[-1].settlement_days


def _draft(uow: UnitOfWork, funder: Funder, starts: date, days: int,
           on: date) -> tuple[FunderStatement, FunderStatement | None]:
    """The statement of the last whole cycle ending by ``on``: the funder's lines posted
    through its end less what earlier statements settled, from the day after the last
    settled one; the claim batches paid to it meanwhile. And the settled statement that
    covers that cycle already, if one does (itself, or a later one that took it in)."""
    assert funder.id is not None
    try:
        _, cycle_to = settlement_cycle(starts=starts, days=days, on=on)
    except ValueError as exc:
        raise InvalidInput.single("on", "settlement.cycle", str(exc)) from None
    stored = uow.funder_statements.for_funder(funder.id)
    earlier = [s for s in stored if s.cycle_to < cycle_to]
    covering = next((s for s in stored if s.cycle_to >= cycle_to), None)
    cycle_from = earlier[-1].cycle_to + timedelta(days=1) if earlier else starts
    totals = uow.ledger.party_totals(funder_party(funder.code), posted_from=starts,
                                     posted_to=cycle_to)
    figures = figures_of(totals) - sum((s.figures for s in earlier), Figures())
    batches = tuple(ClaimBatch(s.number, s.paid_on, s.claims, s.total_fen)
                    for s in uow.settlements.paid_between(funder.id, cycle_from, cycle_to))
    draft = FunderStatement(funder.id, funder.code, funder.name,
                            statement_number(funder.code, cycle_to), cycle_from, cycle_to,
                            funder.premium_collector, figures, batches)
    return draft, covering


def _with_batches(uow: UnitOfWork, statement: FunderStatement) -> FunderStatement:
    """A settled statement with the claim batches paid to the funder in its cycle."""
    return replace(statement, claim_batches=tuple(
        ClaimBatch(s.number, s.paid_on, s.claims, s.total_fen)
        for s in uow.settlements.paid_between(statement.funder_id, statement.cycle_from,
                                              statement.cycle_to)))


def funder_statement(uow: UnitOfWork, funder_code: str, *, on: date) -> FunderStatement:
    """The funder's statement of its last whole cycle ending by ``on``: settled (with its
    day and bank transaction; a later statement that took the cycle in, if one did) or a
    draft of what settling it would post."""
    authorize(uow, Action.LEDGER_READ)
    with uow:
        funder, starts, days = _funder(uow, funder_code)
        draft, covering = _draft(uow, funder, starts, days, on)
        return _with_batches(uow, covering) if covering is not None else draft


def funder_statements(uow: UnitOfWork, funder_code: str) -> list[FunderStatement]:
    """The funder's settled statements, the oldest first."""
    authorize(uow, Action.LEDGER_READ)
    with uow:
        funder, _, _ = _funder(uow, funder_code)
        assert funder.id is not None
        return uow.funder_statements.for_funder(funder.id)


@retried
def settle_funder(cmd: SettleFunder, uow: UnitOfWork) -> Settled:
    """Settle the funder's statement of its last whole cycle ending by ``on`` (see the
    module's docstring): refused when the bank moved another amount than the net, or
    nothing is left to settle."""
    authorize(uow, Action.LEDGER_POST)
    reference = cmd.bank_reference.strip()
    problems = []
    if not _TEXT.match(reference):
        problems.append(FieldError("bank_reference", "settlement.bank_reference",
                                   "the bank transaction's reference, 1 to 64 characters"))
    if isinstance(cmd.bank_amount_fen, bool) or not isinstance(cmd.bank_amount_fen, int):
        problems.append(FieldError("bank_amount_fen", "settlement.bank_amount",
                                   "the amount the bank moved, whole fen"))
    if problems:
        raise InvalidInput(problems)
    with uow:
        funder, starts, days = _funder(uow, cmd.funder_code)
        assert funder.id is not None
        draft, cycle = _draft(uow, funder, starts, days, cmd.on)
        # The evidence of a repeat is read last, the bank transaction's after the cycle's: a
        # concurrent settlement that committed after the ledger (or the cycle) was read is
        # found under its reference.
        seen = uow.funder_statements.by_reference(reference)
        if seen is not None:
            if seen.funder_id != funder.id or not (
                    seen.cycle_from <= draft.cycle_to <= seen.cycle_to):
                raise Conflict(f"bank transaction {reference} settled {seen.number}")
            return Settled(_with_batches(uow, seen), None, repeat=True)
        if cycle is not None:
            raise Conflict(f"{cycle.number} settled this cycle on {cycle.settled_on} by bank "
                           f"transaction {cycle.bank_reference}")
        if draft.figures.empty:
            raise Conflict(f"{draft.number}: nothing to settle through {draft.cycle_to}")
        net = draft.figures.net_fen
        authorize(uow, Action.LEDGER_POST, amount_fen=abs(net))
        if cmd.bank_amount_fen != net:
            raise InvalidInput.single(
                "bank_amount_fen", "settlement.bank_amount",
                f"the bank moved {cmd.bank_amount_fen} fen; {draft.number} nets {net} fen "
                f"({'the funder pays us' if net >= 0 else 'we pay the funder'} "
                f"{abs(net)} fen)")
        if cmd.on < draft.cycle_to:
            raise InvalidInput.single("on", "settlement.date",
                                      f"a cycle is settled after it ends ({draft.cycle_to})")
        posted = post(uow, funder_settled(on=cmd.on, funder_code=funder.code,
                                          number=draft.number, figures=draft.figures,
                                          bank_reference=reference))
        stored = uow.funder_statements.add(replace(draft, settled_on=cmd.on,
                                                   bank_reference=reference))
        uow.commit()
    return Settled(stored, posted)
