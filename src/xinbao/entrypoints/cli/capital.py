"""``xinbao capital``: the insurer's paid-in capital (实收资本) and what it allows.

Net assets (paid-in capital plus results) are the basis of the regulatory limits: retained
liability ≤ k × net assets, one obligor ≤ a share of them (``params/regulatory.toml``,
银保监办发〔2020〕39号). ``capital inject`` posts a payment once per reference (a repeat with
the same amount posts nothing; another amount is a conflict, exit 4); ``capital show`` puts
each limit's cap at today's net assets beside what the book uses of it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table

from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    JsonOption,
    OnOption,
    UserOption,
    business_date,
    container_for,
    emit_json,
    out,
    parse_field,
    use_case,
)
from xinbao.iam.model.security import Forbidden
from xinbao.kernel.money import Money, format_yuan
from xinbao.ledger import services as ledger
from xinbao.ledger.commands import InjectCapital
from xinbao.ledger.model import JournalEntry
from xinbao.reinsurance.services import shipped
from xinbao.risk import services as risk
from xinbao.risk.model.exposure import LimitRules

capital_app = typer.Typer(help="Paid-in capital, net assets and the limits they allow.",
                          no_args_is_help=True)


@capital_app.command("inject")
def capital_inject(
    amount: Annotated[str, typer.Option(
        "--amount", help="Amount paid in, in yuan (e.g. 500000000 or 500000000.00).")],
    reference: Annotated[str, typer.Option(
        "--reference", help="The payment's reference (bank transfer number, resolution): "
                            "each is posted once.")],
    on: OnOption = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Post paid-in capital (Dr bank / Cr paid-in capital), once per reference."""
    container = container_for(database_url, user=user)
    with use_case():
        received = ledger.receive_capital(InjectCapital(
            amount_fen=parse_field("amount_fen", lambda v: Money.yuan(v).fen, amount),
            on=business_date(on), reference=reference), container.uow())
    try:  # what it allows now, for whoever may read the figures
        position: risk.CapitalPosition | None = risk.capital_position(container.uow(),
                                                                      _limit_rules())
    except Forbidden:
        position = None
    entry = received.entry
    if as_json:
        emit_json({"entry_id": entry.id, "posted_on": entry.posted_on.isoformat(),
                   "reference": reference.strip(), "repeat": received.repeat,
                   **(_position_json(position) if position else {})})
        return
    if received.repeat:
        out.print(f"Reference {reference.strip()!r} was posted before (entry {entry.id} on "
                  f"{entry.posted_on}): nothing new posted.")
    else:
        out.print(f"Paid-in capital of [bold]{_yuan(_received(entry))}[/] posted as "
                  f"entry {entry.id} on {entry.posted_on}.")
    if position is None:
        return
    out.print(f"Paid-in capital {_yuan(position.paid_in_fen)}; net assets "
              f"{_yuan(position.net_assets_fen)}.")
    if position.stale:
        out.print("The limits in force stand on other net assets: `xinbao limits refresh` "
                  "sets their caps from today's.")


@capital_app.command("show")
def capital_show(as_json: JsonOption = False, user: UserOption = None,
                 database_url: DatabaseUrl = None) -> None:
    """Net assets, retained liability and each limit's headroom at today's net assets."""
    container = container_for(database_url, user=user)
    with use_case():
        position = risk.capital_position(container.uow(), _limit_rules(),
                                         ceded_share=quota_share_today())
    if as_json:
        emit_json(_position_json(position))
        return
    head = Table.grid(padding=(0, 2))
    head.add_row("Paid-in capital", _yuan(position.paid_in_fen))
    head.add_row("Net assets", _yuan(position.net_assets_fen))
    head.add_row("Retained liability", _yuan(position.retained_fen))
    head.add_row("  net of the quota share", _yuan(position.net_retained_fen))
    head.add_row("Limits in force", "not set yet: set at the first decision, or by "
                 "`xinbao limits refresh`" if position.basis_fen is None else
                 f"on net assets of {_yuan(position.basis_fen)} (set {position.basis_on})"
                 + ("; [yellow]`xinbao limits refresh` sets them from today's[/]"
                    if position.stale else ""))
    out.print(head)
    table = Table("limit", "code", "cap (yuan)", "used (yuan)", "room (yuan)", "fullest",
                  title="Headroom at today's net assets")
    for h in position.limits:
        table.add_row(h.dimension, h.code, format_yuan(h.cap_fen),
                      "per obligor" if h.used_fen is None else format_yuan(h.used_fen),
                      "" if h.room_fen is None else format_yuan(h.room_fen), h.key or "")
    top = position.fullest_obligor
    if top is not None:
        table.add_row("fullest obligor", "", format_yuan(top.cap_fen), format_yuan(top.used_fen),
                      format_yuan(top.room_fen), top.key[:12] + "…")
    out.print(table)


def quota_share_today() -> Decimal:
    """The share of every risk the quota shares in force today take."""
    return shipped().quota_share_on(date.today())


def _received(entry: JournalEntry) -> int:
    return sum(line.amount_fen for line in entry.lines if line.amount_fen > 0)


def _limit_rules() -> LimitRules:
    from xinbao.parameters import load_risk_parameters

    return load_risk_parameters().limits


def _yuan(fen: int) -> str:
    return f"{format_yuan(fen)} yuan"


def _position_json(p: risk.CapitalPosition) -> dict[str, Any]:
    top = p.fullest_obligor
    return {
        "paid_in_fen": p.paid_in_fen, "net_assets_fen": p.net_assets_fen,
        "retained_fen": p.retained_fen, "net_retained_fen": p.net_retained_fen,
        "limits_basis_fen": p.basis_fen,
        "limits_basis_on": p.basis_on.isoformat() if p.basis_on else None,
        "limits_stale": p.stale,
        "limits": [{"dimension": h.dimension, "code": h.code, "cap_fen": h.cap_fen,
                    "used_fen": h.used_fen, "room_fen": h.room_fen, "key": h.key}
                   for h in p.limits],
        "fullest_obligor": None if top is None else {
            "key": top.key, "cap_fen": top.cap_fen, "used_fen": top.used_fen}}
