"""``xinbao kpis``: the portfolio's figures."""

from __future__ import annotations

import typer

from xinbao.entrypoints.cli.common import DatabaseUrl, UserOption, container_for, kpi_table, out
from xinbao.reporting import services as reporting


def kpis( user: UserOption = None, database_url: DatabaseUrl = None) -> None:
    """Portfolio KPIs from the ledger and the policy register."""
    container = container_for(database_url, user=user)
    out.print(kpi_table(reporting.portfolio_kpis(container.uow())))


def register(app: typer.Typer) -> None:
    """Add ``kpis`` to the root command."""
    app.command("kpis")(kpis)
