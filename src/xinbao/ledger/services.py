"""Posting to the ledger: idempotent, append-only, corrections by reversal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, FieldError, InvalidInput, collect, require
from xinbao.kernel.events import Event
from xinbao.kernel.money import format_yuan
from xinbao.kernel.paging import Page, PageRequest
from xinbao.kernel.retries import retried
from xinbao.ledger import model as ledger
from xinbao.ledger.commands import InjectCapital, ReverseEntry
from xinbao.ledger.model import ACCOUNTS, JournalEntry, TrialBalance
from xinbao.ledger.repository import ENTRY_SORTS, EntryFilter, UnitOfWork

#: The longest payment reference (the entry's idempotency key holds 200 characters).
MAX_REFERENCE = 200


def post(uow: UnitOfWork, entry: JournalEntry | None) -> JournalEntry | None:
    """Add ``entry`` unless its source key was posted before (then return that one).

    A repeat with the same key but other lines is a conflict, never a second posting.
    """
    if entry is None:
        return None
    existing = posted_before(uow, entry)
    return existing if existing is not None else uow.ledger.add(entry)


def posted_before(uow: UnitOfWork, entry: JournalEntry) -> JournalEntry | None:
    """The entry posted before under ``entry``'s source key, if any; a conflict when it has
    other lines. A use case that changes state before posting asks this first, so that a
    refused posting leaves nothing behind."""
    existing = uow.ledger.get_by_key(entry.source_command, entry.idempotency_key)
    if existing is not None and sorted(existing.lines, key=repr) != sorted(entry.lines,
                                                                         key=repr):
        raise Conflict(f"entry {entry.key} was posted before with other lines")
    return existing


@dataclass(frozen=True, slots=True)
class CapitalReceived:
    """The entry of a capital injection, and whether its reference was recorded before
    (then nothing new was posted)."""

    entry: JournalEntry
    repeat: bool


@retried
def receive_capital(cmd: InjectCapital, uow: UnitOfWork) -> CapitalReceived:
    """Post paid-in capital (实收资本), once per payment reference: a repeat with the same
    amount returns the entry posted before; with another amount it is a conflict."""
    reference = cmd.reference.strip()
    errors = collect(
        None if cmd.amount_fen > 0 else
        FieldError("amount_fen", "amount.positive", "amount must be positive"),
        None if 0 < len(reference) <= MAX_REFERENCE else FieldError(
            "reference", "capital.reference",
            f"the payment's reference: 1 to {MAX_REFERENCE} characters"))
    if errors:
        raise InvalidInput(errors)
    authorize(uow, Action.LEDGER_POST, amount_fen=cmd.amount_fen)
    with uow:
        capital = ledger.capital_paid_in(on=cmd.on, amount_fen=cmd.amount_fen,
                                         reference=reference)
        assert capital is not None  # the amount is positive
        repeat = uow.ledger.get_by_key(capital.source_command, capital.idempotency_key)
        if repeat is not None:
            before = sum(line.amount_fen for line in repeat.lines if line.amount_fen > 0)
            if before != cmd.amount_fen:
                raise Conflict(f"capital reference {reference!r} was recorded before with "
                               f"{format_yuan(before)} yuan (entry {repeat.id}), not "
                               f"{format_yuan(cmd.amount_fen)}")
            return CapitalReceived(repeat, True)
        # Added, not posted: a concurrent sender that committed since the read above makes
        # the entry's unique key collide (run again, this is then the repeat above).
        posted = uow.ledger.add(capital)
        uow.events.add([Event("CapitalInjected", "journal_entry", posted.id, cmd.on, {
            "amount_fen": cmd.amount_fen, "reference": reference})])
        uow.commit()
    return CapitalReceived(posted, False)


def inject_capital(cmd: InjectCapital, uow: UnitOfWork) -> JournalEntry:
    return receive_capital(cmd, uow).entry


@retried
def reverse_entry(cmd: ReverseEntry, uow: UnitOfWork) -> JournalEntry:
    if not cmd.reason.strip():
        raise InvalidInput.single("reason", "reversal.reason", "a reversal states its reason")
    authorize(uow, Action.LEDGER_POST)
    with uow:
        original = require(uow.ledger.get(cmd.entry_id), "journal entry", cmd.entry_id)
        assert original.id is not None
        authorize(uow, Action.LEDGER_POST,
                  amount_fen=sum(line.amount_fen for line in original.lines
                                 if line.amount_fen > 0))
        if original.reverses_id is not None:
            raise Conflict(f"entry {original.id} is itself a reversal; post a new entry instead")
        earlier = uow.ledger.reversal_of(original.id)
        if earlier is not None and earlier.idempotency_key != cmd.idempotency_key:
            raise Conflict(f"entry {original.id} was already reversed by entry {earlier.id}")
        if earlier is not None:  # the same reversal again (same key, the same lines negated)
            return earlier
        # Added, not posted: a concurrent reversal committed since ``earlier`` was read makes
        # the unique keys collide, and the run again finds it as ``earlier``.
        posted = uow.ledger.add(ledger.reverse(original, on=cmd.on, key=cmd.idempotency_key,
                                               reason=cmd.reason))
        uow.events.add([Event("EntryReversed", "journal_entry", posted.id, cmd.on, {
            "reverses": original.id, "reason": cmd.reason})])
        uow.commit()
    return posted


def trial_balance(uow: UnitOfWork, *, through: date | None = None) -> TrialBalance:
    authorize(uow, Action.LEDGER_READ)
    with uow:
        return ledger.trial_balance(uow.ledger.lines(through=through))


def entries_page(uow: UnitOfWork, where: EntryFilter, request: PageRequest) -> Page[JournalEntry]:
    """One page of the journal, filtered and sorted on the database (an unknown account or
    sort key is refused, never silently ignored)."""
    authorize(uow, Action.LEDGER_READ)
    errors = collect(
        None if where.account is None or where.account in ACCOUNTS else
        FieldError("account", "ledger.account", "not an account of the chart"),
        None if request.sort in ENTRY_SORTS else
        FieldError("sort", "page.sort", f"entries sort by: {', '.join(ENTRY_SORTS)}"),
        None if (where.posted_from is None or where.posted_to is None
                 or where.posted_from <= where.posted_to) else
        FieldError("posted_to", "period.order", "the period ends on or after its start"))
    if errors:
        raise InvalidInput(errors)
    with uow:
        return uow.ledger.page(where, request)


def get_entry(uow: UnitOfWork, entry_id: int) -> JournalEntry:
    """One journal entry with its lines; NotFound when there is none."""
    authorize(uow, Action.LEDGER_READ)
    with uow:
        return require(uow.ledger.get(entry_id), "journal entry", entry_id)
