"""``xinbao db``: the database schema."""

from __future__ import annotations

import typer

from xinbao.entrypoints.cli.common import DatabaseUrl, container_for, out, safe_url

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or migrate the schema to the newest revision."""
    container = container_for(database_url, upgrade=True)
    revision, _ = container.schema_state()
    out.print(f"Database at revision [bold]{revision}[/] ({safe_url(container)})")


@db_app.command("current")
def db_current(database_url: DatabaseUrl = None) -> None:
    """Show the schema revision and whether it is the newest."""
    container = container_for(database_url, upgrade=False)
    revision, current = container.schema_state()
    out.print(f"revision {revision or '(empty database)'}: "
              f"{'current' if current else 'needs `xinbao db upgrade`'}")
    if not current:
        raise typer.Exit(1)
