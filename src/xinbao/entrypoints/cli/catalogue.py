"""``xinbao products``: the product catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xinbao.catalogue import queries as catalogue_queries
from xinbao.catalogue import services as catalogue
from xinbao.entrypoints.cli.common import DatabaseUrl, UserOption, container_for, out, use_case
from xinbao.kernel.money import format_yuan

products_app = typer.Typer(help="The product catalogue.", no_args_is_help=True)


@products_app.command("load")
def products_load(
    file: Annotated[Path | None, typer.Option(help="Catalogue TOML; the shipped one if omitted.")]
    = None,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register the products of a catalogue file (new versions where a code exists)."""
    from xinbao.parameters import load_product_catalogue

    container = container_for(database_url, user=user)
    with use_case():
        for cmd in load_product_catalogue(file):
            p = catalogue.register_product(cmd, container.uow())
            out.print(f"{p.code} v{p.version}: {p.name}")


@products_app.command("list")
def products_list( user: UserOption = None, database_url: DatabaseUrl = None) -> None:
    """The newest version of every product."""
    container = container_for(database_url, user=user)
    table = Table("code", "v", "name", "mode", "family", "amount (yuan)", "term", "trigger DPD",
                  "premium", title="Products")
    for p in catalogue_queries.list_products(container.uow()):
        table.add_row(p.code, str(p.version), p.name, p.mode.value, p.family.value,
                      f"{format_yuan(p.min_amount_fen)}–{format_yuan(p.max_amount_fen)}",
                      f"{p.min_term_months}–{p.max_term_months}", str(p.claim_trigger_dpd),
                      f"{p.premium_basis.value} {p.monthly_premium_rate}/month")
    out.print(table)
