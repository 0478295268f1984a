"""The console's finance pages (issue 20): the trial balance as of a day, and the journal,
a page at a time, each entry with its lines; the reinsurance treaties with what each has
ceded, and the funders' premium settlement statements, downloaded as CSV or PDF and settled
as the bank moved them (issue 23). Otherwise read only: posting is the CLI's and the API's.

Every figure comes from the ledger's read use cases (``ledger.read``); money is integer fen
shown in yuan by the ``yuan`` filter.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xinbao.billing import services as billing
from xinbao.billing.commands import SettleFunder
from xinbao.catalogue import queries as catalogue
from xinbao.entrypoints.console import web
from xinbao.entrypoints.console.web import N_, Listing, RecordId, Signed
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import InvalidInput
from xinbao.ledger import services as ledger
from xinbao.ledger.model import ACCOUNTS, CHART, Account, JournalEntry
from xinbao.ledger.repository import ENTRY_SORTS, EntryFilter
from xinbao.reinsurance.services import treaty_balances
from xinbao.reporting.funder_statement import funder_statement_csv, funder_statement_pdf

router = APIRouter(include_in_schema=False)  # under routes.router's /console

Text = Annotated[str, Query(max_length=80, pattern="^[^\\x00]*$")]
FunderCode = Annotated[str, Path(min_length=1, max_length=40, pattern="^[A-Za-z0-9_-]+$")]
#: The flash after a statement is settled.
SETTLED = N_("The statement is settled; its entry is posted.")


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


@router.get("/finance/funders", response_class=HTMLResponse)
def funder_statements(console: Signed, on: Text = "", done: str | None = None) -> Response:
    """Each funder's premium settlement statement of its last whole cycle ending by the day
    asked for (default today): settled, or the draft a form settles."""
    day = parse_date(on, "on") or web.today()
    statements = []
    for view in catalogue.list_funders(console.uow()):
        try:
            statements.append(billing.funder_statement(console.uow(), view.funder.code,
                                                       on=day))
        except InvalidInput:  # its first cycle has not ended by that day
            continue
    return console.render("finance/funders.html", "finance", on=day, statements=statements,
                          may_settle=console.may(Action.LEDGER_POST),
                          notice=console.gettext(SETTLED) if done == "settled" else None)


@router.get("/finance/funders/{code}/statement.{kind}")
def funder_statement_file(console: Signed, code: FunderCode, kind: str,
                          on: Text = "") -> Response:
    """A funder's statement as CSV or PDF."""
    if kind not in ("csv", "pdf"):
        raise InvalidInput.single("kind", "statement.kind", "a statement is csv or pdf")
    s = billing.funder_statement(console.uow(), code, on=parse_date(on, "on") or web.today())
    body, media = ((funder_statement_csv(s), "text/csv; charset=utf-8") if kind == "csv"
                   else (funder_statement_pdf(s), "application/pdf"))
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{s.number}.{kind}"'})


@router.post("/finance/funders/{code}/settle")
def settle_funder(console: Signed, code: FunderCode,
                  csrf_token: Annotated[str, Form(max_length=100)],
                  on: Annotated[str, Form(max_length=10)],
                  bank_reference: Annotated[str, Form(max_length=64)] = "",
                  amount: Annotated[str, Form(max_length=24)] = "") -> Response:
    """Settle the statement as the bank moved it (the amount in yuan; negative when paid to
    the funder)."""
    console.check_csrf(csrf_token)
    text = amount.strip().replace(",", "")
    negative = text.startswith("-")
    fen = web.form_yuan("amount", text.lstrip("-") or "x", zero=True)
    day = web.form_date("on", on)
    billing.settle_funder(SettleFunder(code, day, bank_reference, -fen if negative else fen),
                          console.uow())
    return RedirectResponse(f"/console/finance/funders?on={day.isoformat()}&done=settled",
                            status_code=303)


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
