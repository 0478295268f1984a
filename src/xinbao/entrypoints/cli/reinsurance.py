"""``xinbao reinsurance``: the treaties the book cedes under, and closing their accounts
(``reinsurance.services.close_reinsurance``: each treaty's terms applied to the gross figures
moved in its period, the difference from what it ceded before posted)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    JsonOption,
    UserOption,
    business_date,
    container_for,
    emit_json,
    out,
    use_case,
)
from xinbao.kernel.money import format_yuan
from xinbao.ledger.model import ACCOUNTS
from xinbao.reinsurance.model import TreatyKind
from xinbao.reinsurance.services import (
    TreatyAccount,
    close_reinsurance,
    settle_reinsurance,
    shipped,
)

reinsurance_app = typer.Typer(help="Reinsurance: treaties and their accounts.",
                              no_args_is_help=True)


@reinsurance_app.command("treaties")
def treaties(as_json: JsonOption = False) -> None:
    """The treaties of params/reinsurance.toml."""
    book = shipped()
    if as_json:
        emit_json({"version": book.version, "items": [{
            "code": t.code, "kind": t.kind.value, "reinsurer": t.reinsurer,
            "effective_from": t.effective_from.isoformat(),
            "effective_to": t.effective_to.isoformat() if t.effective_to else None,
            "cession": str(t.cession), "ceding_commission": str(t.ceding_commission),
            "retention_fen": t.retention_fen, "limit_fen": t.limit_fen,
            "premium_rate": str(t.premium_rate)} for t in book.treaties]})
        return
    table = Table("treaty", "kind", "reinsurer", "from", "to", "terms",
                  title=f"Treaties ({book.version})")
    for t in book.treaties:
        terms = (f"cedes {t.cession:%}, commission {t.ceding_commission:%}"
                 if t.kind is TreatyKind.QUOTA_SHARE else
                 f"{format_yuan(t.limit_fen)} xs {format_yuan(t.retention_fen)} yuan per risk, "
                 f"premium {t.premium_rate:%} of the premium retained")
        table.add_row(t.code, t.kind.value, t.reinsurer, str(t.effective_from),
                      str(t.effective_to or "-"), terms)
    out.print(table)


@reinsurance_app.command("close")
def close(
    through: Annotated[str | None, typer.Option(
        "--through", help="Close the accounts to this day, YYYY-MM-DD (default: today).")]
    = None,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """Close each treaty's account to a day: its terms on the gross figures of its period,
    what is left to cede posted (run again: nothing more)."""
    container = container_for(database_url, user=user)
    with use_case():
        accounts = close_reinsurance(container.uow(), through=business_date(through))
    if as_json:
        emit_json({"items": [_data(a) for a in accounts]})
        return
    for a in accounts:
        table = Table("account", "ceded to date (yuan, debit +)",
                      title=f"{a.treaty.code} ({a.treaty.kind.value}) {a.period_from} to "
                            f"{a.period_to}: " + ("posted the difference" if a.posted
                                                 else "nothing new"))
        for code, fen in sorted(a.ceded.items()):
            table.add_row(f"{code} {ACCOUNTS[code].name_en}", format_yuan(fen))
        out.print(table)


@reinsurance_app.command("settle")
def settle(
    treaty: Annotated[str, typer.Argument(help="The treaty's code, e.g. QS-2024.")],
    reference: Annotated[str, typer.Option(help="The bank transaction's reference: the same "
                                                "again settles nothing more.")],
    on: Annotated[str | None, typer.Option(help="The day of the payment, YYYY-MM-DD "
                                                "(default: today).")] = None,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """Settle a treaty's account in cash: the payable and receivable its closes left,
    netted through the bank."""
    container = container_for(database_url, user=user)
    with use_case():
        done = settle_reinsurance(container.uow(), treaty, on=business_date(on),
                                  reference=reference)
    if as_json:
        emit_json({"treaty": done.treaty.code, "receivable_fen": done.receivable_fen,
                   "payable_fen": done.payable_fen,
                   "net_to_reinsurer_fen": done.net_to_reinsurer_fen,
                   "entry_id": done.entry.id, "repeat": done.repeat})
        return
    way = (f"paid {format_yuan(done.net_to_reinsurer_fen)} yuan to"
           if done.net_to_reinsurer_fen >= 0
           else f"received {format_yuan(-done.net_to_reinsurer_fen)} yuan from")
    out.print(f"{'Settled before: ' if done.repeat else ''}{done.treaty.code}: "
              f"{way} {done.treaty.reinsurer} (payable {format_yuan(done.payable_fen)}, "
              f"receivable {format_yuan(done.receivable_fen)} yuan).", markup=False)


def _data(a: TreatyAccount) -> dict[str, object]:
    return {"treaty": a.treaty.code, "kind": a.treaty.kind.value,
            "period_from": a.period_from.isoformat(), "period_to": a.period_to.isoformat(),
            "gross": {"written_premium_fen": a.gross.written_premium_fen,
                      "upr_change_fen": a.gross.upr_change_fen,
                      "net_claims_paid_fen": a.gross.net_claims_paid_fen,
                      "claim_reserve_change_fen": a.gross.claim_reserve_change_fen,
                      "claims_paid": len(a.gross.claims_paid)},
            "ceded": dict(sorted(a.ceded.items())),
            "posted_entry_id": a.posted.id if a.posted is not None else None}
