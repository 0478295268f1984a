"""``xinbao init``: a new installation in one command (the schema, the shipped products, a
first administrator), then what to do next.

Safe to run again: the schema is only migrated forward, a product version that is already
stored is kept, and an existing user is left alone (no password is asked); each step says
what it found. It acts as ``system:cli:<os user>``, as the other commands run on the server.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from xinbao.catalogue import queries as catalogue_queries
from xinbao.catalogue import services as catalogue
from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    container_for,
    out,
    safe_url,
    use_case,
    utc_now,
)
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Role
from xinbao.parameters import load_product_catalogue, load_risk_parameters
from xinbao.risk import services as risk


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    admin: Annotated[str, typer.Option(
        "--admin", help="Log-in name of the first administrator (a-z, 0-9, '.', '_', '-').")],
    name: Annotated[str, typer.Option("--name", help="The administrator's display name.")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the administrator's password from standard input "
                                 "(for scripts); otherwise asked at a hidden prompt.")] = False,
    products: Annotated[Path | None, typer.Option(
        "--products", exists=True, dir_okay=False,
        help="Product catalogue TOML; the shipped one if omitted.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set up a new installation: schema, products, first administrator; then what next.

    Creates or upgrades the schema, loads the product catalogue and creates the first
    administrator (role admin). Running it again keeps what exists and says so."""
    container = container_for(database_url, upgrade=False)
    before, _ = container.schema_state()
    container.upgrade_database()
    after, _ = container.schema_state()
    where = safe_url(container)
    if before is None:
        out.print(f"Schema created at revision [bold]{after}[/] ({where}).")
    elif before != after:
        out.print(f"Schema upgraded from revision {before} to [bold]{after}[/] ({where}).")
    else:
        out.print(f"Schema already at revision [bold]{after}[/] ({where}).")

    with use_case():
        stored = {(p.code, p.version) for p in catalogue_queries.list_products(container.uow())}
        loaded = [catalogue.register_product(cmd, container.uow())
                  for cmd in load_product_catalogue(products)]
    new = [p for p in loaded if (p.code, p.version) not in stored]
    out.print(f"Products: {len(new)} version(s) loaded"
              + (f" ({', '.join(f'{p.code} v{p.version}' for p in new)})" if new else "")
              + (f", {len(loaded) - len(new)} already stored." if len(loaded) > len(new)
                 else "."))

    with use_case():
        users = accounts.list_users(container.uow())
    existing = next((u for u in users if u.username == admin.strip()), None)
    if existing is not None:
        out.print(f"User [bold]{existing.username}[/] exists (roles "
                  f"{', '.join(sorted(existing.roles)) or 'none'}): kept, no password asked.")
    else:
        password = (sys.stdin.readline().rstrip("\n") if password_stdin else
                    typer.prompt(f"Password for {admin}", hide_input=True,
                                 confirmation_prompt=True, err=True))
        with use_case():
            user = accounts.add_user(
                accounts.AddUser(admin.strip(), name, password, [Role.ADMIN.value]),
                container.uow(), container.credentials, now=utc_now())
        out.print(f"Administrator [bold]{user.username}[/] created (role admin: users, "
                  "audit trail, retention).")

    with use_case():
        funders = catalogue_queries.list_funders(container.uow())
        capital = risk.capital_position(container.uow(), load_risk_parameters().limits)
    staff = [u for u in users if Role.ADMIN not in u.roles]

    def step(done: bool, text: str) -> str:
        return ("  [green]✓[/] " if done else "  • ") + text

    out.print("\nNext:")
    out.print(step(bool(funders), "partner funders and their cooperation agreements: "
                   "xinbao funders add BANK-A --name 示例银行 --credit-code 911100001000033177 "
                   "--kind bank --licensed --products CONSUMER-G,CAR-G --commission 0.08"))
    out.print(step(capital.paid_in_fen > 0, "paid-in capital, the basis of the limits: "
                   "xinbao capital inject --amount 500000000 --reference CAP-001; then "
                   "xinbao capital show"))
    out.print(step(bool(staff), "staff and their roles: xinbao users add li.na --name 李娜 "
                   "--role underwriter (the roles: xinbao users roles)"))
    out.print(step(False, "applications: xinbao applications submit --funder BANK-A …, or "
                   "xinbao serve for the API and the console"))
