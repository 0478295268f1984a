"""``xinbao ledger``: the general ledger."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    UserOption,
    container_for,
    out,
    parse_field,
    use_case,
)
from xinbao.kernel.money import format_yuan
from xinbao.ledger import services as ledger

ledger_app = typer.Typer(help="The general ledger.", no_args_is_help=True)


@ledger_app.command("trial-balance")
def ledger_trial_balance(
    through: Annotated[str | None, typer.Option(help="Up to this date (YYYY-MM-DD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Debit and credit balance of every account; the totals must agree."""
    container = container_for(database_url, user=user)
    with use_case():
        until = parse_field("through", date.fromisoformat, through) if through else None
    tb = ledger.trial_balance(container.uow(), through=until)
    rows = tb.rows()
    if as_json:
        out.print_json(json.dumps({
            "rows": [{"account": a.code, "name": a.name_en, "debit_fen": d, "credit_fen": c}
                     for a, d, c in rows], "total_fen": tb.total}))
        return
    table = Table("account", "name", "科目", "debit", "credit", title="Trial balance (yuan)")
    for a, d, c in rows:
        table.add_row(a.code, a.name_en, a.name_zh, format_yuan(d) if d else "",
                      format_yuan(c) if c else "")
    debit, credit = sum(r[1] for r in rows), sum(r[2] for r in rows)
    table.add_row("", "[bold]Total[/]", "", format_yuan(debit), format_yuan(credit))
    out.print(table)
    out.print("[green]Balanced[/]" if tb.total == 0 else f"[red]Out of balance by "
              f"{format_yuan(tb.total)}[/]")
    if tb.total != 0:
        raise typer.Exit(1)
