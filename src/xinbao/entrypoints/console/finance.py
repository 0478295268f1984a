"""The console's finance pages (issue 20): the trial balance as of a day, and the journal,
a page at a time, each entry with its lines; the reinsurance treaties with what each has
ceded (issue 23). Read only: posting is the CLI's and the API's.

Every figure comes from the ledger's read use cases (``ledger.read``); money is integer fen
shown in yuan by the ``yuan`` filter.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from xinbao.entrypoints.console import web
from xinbao.entrypoints.console.web import Listing, RecordId, Signed
from xinbao.kernel.errors import InvalidInput
from xinbao.ledger import services as ledger
from xinbao.ledger.model import ACCOUNTS, CHART, Account, JournalEntry
from xinbao.ledger.repository import ENTRY_SORTS, EntryFilter
from xinbao.reinsurance.services import treaty_balances

router = APIRouter(include_in_schema=False)  # under routes.router's /console

Text = Annotated[str, Query(max_length=80, pattern="^[^\\x00]*$")]


def parse_date(value: str, field: str) -> date | None:
    """A date from a filter form (``YYYY-MM-DD``; empty: none); InvalidInput otherwise."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput.single(field, "date.format", "a date as YYYY-MM-DD") from None


def account_name(account: Account, locale: str) -> str:
    """The account's name in the reader's language (the chart carries both)."""
    return account.name_zh if locale.startswith("zh") else account.name_en


@router.get("/finance", response_class=HTMLResponse)
def trial_balance(console: Signed, on: Text = "") -> Response:
    """Each account's debit, credit and balance as of the day asked for (default today), and
    whether the book balances."""
    through = parse_date(on, "on") or web.today()
    tb = ledger.trial_balance(console.uow(), through=through)
    rows = [{"account": a, "name": account_name(a, console.locale), "debit": debit,
             "credit": credit, "balance": tb.balance(a.code)}
            for a, debit, credit in tb.rows()]
    return console.render(
        "finance/trial_balance.html", "finance", on=through, rows=rows,
        debits=sum(r["debit"] for r in rows), credits=sum(r["credit"] for r in rows),
        total=tb.total)


@router.get("/finance/reinsurance", response_class=HTMLResponse)
def reinsurance(console: Signed) -> Response:
    """The treaties the book cedes under, each with what its closes have ceded so far."""
    balances = [{"treaty": b.treaty, "closes": b.closes, "rows": [
        {"account": ACCOUNTS[code], "name": account_name(ACCOUNTS[code], console.locale),
         "amount": fen} for code, fen in b.ceded.items()]}
        for b in treaty_balances(console.uow())]
    return console.render("finance/reinsurance.html", "finance", balances=balances)


@router.get("/finance/entries", response_class=HTMLResponse)
def entries(console: Signed, account: Text = "", posted_from: Text = "",
            posted_to: Text = "", reference: Text = "") -> Response:
    """The journal, newest first by default, filtered by account, period and reference."""
    listing = Listing.of(console.request, ENTRY_SORTS, default="id", size=25)
    where = EntryFilter(account=account.strip() or None,
                        posted_from=parse_date(posted_from, "posted_from"),
                        posted_to=parse_date(posted_to, "posted_to"),
                        reference=reference.strip() or None)
    result = ledger.entries_page(console.uow(), where, listing.page_request())
    return console.render(
        "finance/entries.html", "finance", listing=listing, result=result,
        rows=[_entry_view(e, console.locale) for e in result.items],
        accounts=[(a.code, account_name(a, console.locale)) for a in CHART],
        filters={"account": account.strip(), "posted_from": posted_from.strip(),
                 "posted_to": posted_to.strip(), "reference": reference.strip()})


@router.get("/finance/entries/{entry_id}", response_class=HTMLResponse)
def entry(console: Signed, entry_id: RecordId) -> Response:
    """One journal entry: where it came from and its lines."""
    found = ledger.get_entry(console.uow(), entry_id)
    return console.render("finance/entry.html", "finance",
                          entry=_entry_view(found, console.locale))


def _entry_view(e: JournalEntry, locale: str) -> dict[str, object]:
    """An entry as a page shows it: its lines split into debit and credit columns."""
    lines = [{"code": line.account, "name": account_name(ACCOUNTS[line.account], locale),
              "debit": max(line.amount_fen, 0), "credit": max(-line.amount_fen, 0)}
             for line in e.lines]
    return {"entry": e, "lines": lines,
            "amount": sum(max(line.amount_fen, 0) for line in e.lines)}
