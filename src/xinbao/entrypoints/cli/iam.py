"""``xinbao users|clients``: console users with their roles and lock-outs, and the funders'
API clients, for the insurer's administrators on the server.

Commands here act as ``system:cli:<os user>``: whoever runs them already holds the database
credentials and the secrets file, and every change they make is recorded with that name.
Passwords are typed at a hidden prompt or piped on standard input, never given as options
(options end up in shell history and process lists).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table

from xinbao.entrypoints.cli.common import DbOption, container_for, out, use_case, utc_now
from xinbao.iam import services as accounts
from xinbao.iam.model.security import AUTHORITY, Role

users_app = typer.Typer(help="Console users, roles and lock-outs.", no_args_is_help=True)
clients_app = typer.Typer(help="Funders' API clients (OAuth2 client credentials).",
                          no_args_is_help=True)


def _read_password(stdin: bool, username: str) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt(f"Password for {username}", hide_input=True,
                        confirmation_prompt=True)


RolesOption = Annotated[list[str], typer.Option(
    "--role", help=f"Repeat for each role: {', '.join(r.value for r in Role)}.")]
FunderOption = Annotated[str | None, typer.Option(
    "--funder", help="Funder code: for the funder role, which funder it belongs to.")]
StdinOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from standard input (for scripts).")]


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Log-in name: a-z, 0-9, '.', '_', '-'.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    role: RolesOption,
    funder: FunderOption = None,
    password_stdin: StdinOption = False,
    database_url: DbOption = None,
) -> None:
    """Create a console user with a password (at least 12 characters)."""
    container = container_for(database_url)
    password = _read_password(password_stdin, username)
    with use_case():
        user = accounts.add_user(accounts.AddUser(username, name, password, role, funder),
                                 container.uow(), container.credentials, now=utc_now())
    out.print(f"User [bold]{user.username}[/] created with roles "
              f"{', '.join(sorted(user.roles))}.")


@users_app.command("list")
def users_list(database_url: DbOption = None) -> None:
    """Users, their roles and state."""
    container = container_for(database_url)
    now = utc_now()
    table = Table("user", "name", "roles", "funder", "state", "failed logins", title="Users")
    for u in accounts.list_users(container.uow()):
        state = ("disabled" if not u.active
                 else f"locked until {u.locked_until:%Y-%m-%d %H:%M} UTC"
                 if u.is_locked(now) else "active")
        table.add_row(u.username, u.display_name, ", ".join(sorted(u.roles)),
                      str(u.funder_id or ""), state, str(u.failed_logins))
    out.print(table)


def _user_change(database_url: str | None, action: Callable, message: str) -> None:
    container = container_for(database_url)
    with use_case():
        user = action(container.uow())
    out.print(message.format(user=user.username))


@users_app.command("set-roles")
def users_set_roles(username: str, role: RolesOption, database_url: DbOption = None) -> None:
    """Replace a user's roles."""
    _user_change(database_url,
                 lambda u: accounts.set_user_roles(username, role, u, now=utc_now()),
                 "Roles of {user} replaced.")


@users_app.command("disable")
def users_disable(username: str, database_url: DbOption = None) -> None:
    """Disable a user and end their sessions."""
    _user_change(database_url,
                 lambda u: accounts.set_user_active(username, False, u, now=utc_now()),
                 "User {user} disabled; their sessions are ended.")


@users_app.command("enable")
def users_enable(username: str, database_url: DbOption = None) -> None:
    """Enable a disabled user."""
    _user_change(database_url,
                 lambda u: accounts.set_user_active(username, True, u, now=utc_now()),
                 "User {user} enabled.")


@users_app.command("unlock")
def users_unlock(username: str, database_url: DbOption = None) -> None:
    """Lift a lock-out after repeated failed logins."""
    _user_change(database_url, lambda u: accounts.unlock_user(username, u, now=utc_now()),
                 "User {user} unlocked.")


@users_app.command("reset-password")
def users_reset_password(username: str, password_stdin: StdinOption = False,
                         database_url: DbOption = None) -> None:
    """Set a new password (ends the user's sessions)."""
    container = container_for(database_url)
    password = _read_password(password_stdin, username)
    _user_change(database_url, lambda u: accounts.reset_password(
        username, password, container.uow(), container.credentials, now=utc_now()),
        "Password of {user} reset; their sessions are ended.")


@users_app.command("roles")
def users_roles() -> None:
    """The authority matrix: what each role may do, and up to which amount."""
    table = Table("role", "action", "limit (yuan)", title="Authority matrix")
    for role in Role:
        for action, cap in AUTHORITY[role].items():
            table.add_row(role.value, action.value,
                          "no limit" if cap is None else f"{cap / 100:,.2f}")
    out.print(table)


@clients_app.command("add")
def clients_add(
    client_id: Annotated[str, typer.Argument(help="Client id: a-z, 0-9, '.', '_', '-'.")],
    name: Annotated[str, typer.Option("--name", help="What the client is.")],
    funder: FunderOption = None,
    role: Annotated[list[str] | None, typer.Option(
        "--role", help="Roles (default: funder).")] = None,
    database_url: DbOption = None,
) -> None:
    """Register an API client; prints its secret once (only a hash is kept)."""
    container = container_for(database_url)
    with use_case():
        client, secret = accounts.add_client(
            accounts.AddClient(client_id, name, role or [Role.FUNDER.value], funder),
            container.uow(), container.credentials, now=utc_now())
    out.print(f"Client [bold]{client.client_id}[/] created. Its secret, shown once:")
    print(secret)


@clients_app.command("rotate")
def clients_rotate(client_id: str, database_url: DbOption = None) -> None:
    """A new secret; the old one keeps working for 24 hours. Prints the new one once."""
    container = container_for(database_url)
    with use_case():
        client, secret = accounts.rotate_client_secret(client_id, container.uow(),
                                                       container.credentials, now=utc_now())
    out.print(f"New secret of [bold]{client.client_id}[/] (the old one works until "
              f"{client.previous_valid_until:%Y-%m-%d %H:%M} UTC):")
    print(secret)


def _client_active(client_id: str, active: bool, database_url: str | None) -> None:
    container = container_for(database_url)
    with use_case():
        accounts.set_client_active(client_id, active, container.uow(), now=utc_now())
    out.print(f"Client {client_id} {'enabled' if active else 'disabled'}.")


@clients_app.command("disable")
def clients_disable(client_id: str, database_url: DbOption = None) -> None:
    """Refuse the client's tokens from now on."""
    _client_active(client_id, False, database_url)


@clients_app.command("enable")
def clients_enable(client_id: str, database_url: DbOption = None) -> None:
    """Accept the client's tokens again."""
    _client_active(client_id, True, database_url)


@clients_app.command("list")
def clients_list(database_url: DbOption = None) -> None:
    """API clients, their funders and state."""
    container = container_for(database_url)
    table = Table("client", "name", "funder", "roles", "state", "rotated", title="API clients")
    for c in accounts.list_clients(container.uow()):
        table.add_row(c.client_id, c.name, str(c.funder_id or ""), ", ".join(sorted(c.roles)),
                      "active" if c.active else "disabled",
                      f"{c.rotated_at:%Y-%m-%d}" if c.rotated_at else "")
    out.print(table)
