"""``xinbao users|clients|audit|keys|retention``: identities, the audit trail, keys and data
retention, for the insurer's administrators on the server.

Commands here act as ``system:cli:<os user>``: whoever runs them already holds the database
credentials and the secrets file, and every change they make is recorded with that name.
Passwords are typed at a hidden prompt or piped on standard input, never given as options
(options end up in shell history and process lists).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xinbao.compliance import services as audit
from xinbao.compliance.services import DEFAULT_RETENTION_DAYS, anonymize_expired
from xinbao.iam import services as accounts
from xinbao.iam.model.security import AUTHORITY, Role

users_app = typer.Typer(help="Console users, roles and lock-outs.", no_args_is_help=True)
clients_app = typer.Typer(help="Funders' API clients (OAuth2 client credentials).",
                          no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption and signing keys (the secrets file).",
                       no_args_is_help=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _cli():  # noqa: ANN202 - the cli module (imported late: it imports this one)
    from xinbao.entrypoints import cli

    return cli


def _uow(database_url: str | None) -> tuple[object, Callable]:
    container = _cli()._container(database_url)
    return container, container.uow


def _read_password(stdin: bool, username: str) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt(f"Password for {username}", hide_input=True,
                        confirmation_prompt=True)


RolesOption = Annotated[list[str], typer.Option(
    "--role", help=f"Repeat for each role: {', '.join(r.value for r in Role)}.")]
FunderOption = Annotated[str | None, typer.Option(
    "--funder", help="Funder code: for the funder role, which funder it belongs to.")]
DbOption = Annotated[str | None, typer.Option(
    "--database-url", envvar="XINBAO_DATABASE_URL", help="SQLAlchemy URL of the database.")]
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
    cli = _cli()
    container, uow = _uow(database_url)
    password = _read_password(password_stdin, username)
    with cli._use_case():
        user = accounts.add_user(accounts.AddUser(username, name, password, role, funder),
                                 uow(), container.credentials, now=_now())
    cli.out.print(f"User [bold]{user.username}[/] created with roles "
                  f"{', '.join(sorted(user.roles))}.")


@users_app.command("list")
def users_list(database_url: DbOption = None) -> None:
    """Users, their roles and state."""
    cli = _cli()
    _, uow = _uow(database_url)
    now = _now()
    table = Table("user", "name", "roles", "funder", "state", "failed logins", title="Users")
    for u in accounts.list_users(uow()):
        state = ("disabled" if not u.active
                 else f"locked until {u.locked_until:%Y-%m-%d %H:%M} UTC"
                 if u.is_locked(now) else "active")
        table.add_row(u.username, u.display_name, ", ".join(sorted(u.roles)),
                      str(u.funder_id or ""), state, str(u.failed_logins))
    cli.out.print(table)


def _user_change(database_url: str | None, action: Callable, message: str) -> None:
    cli = _cli()
    _, uow = _uow(database_url)
    with cli._use_case():
        user = action(uow())
    cli.out.print(message.format(user=user.username))


@users_app.command("set-roles")
def users_set_roles(username: str, role: RolesOption, database_url: DbOption = None) -> None:
    """Replace a user's roles."""
    _user_change(database_url, lambda u: accounts.set_user_roles(username, role, u, now=_now()),
                 "Roles of {user} replaced.")


@users_app.command("disable")
def users_disable(username: str, database_url: DbOption = None) -> None:
    """Disable a user and end their sessions."""
    _user_change(database_url,
                 lambda u: accounts.set_user_active(username, False, u, now=_now()),
                 "User {user} disabled; their sessions are ended.")


@users_app.command("enable")
def users_enable(username: str, database_url: DbOption = None) -> None:
    """Enable a disabled user."""
    _user_change(database_url,
                 lambda u: accounts.set_user_active(username, True, u, now=_now()),
                 "User {user} enabled.")


@users_app.command("unlock")
def users_unlock(username: str, database_url: DbOption = None) -> None:
    """Lift a lock-out after repeated failed logins."""
    _user_change(database_url, lambda u: accounts.unlock_user(username, u, now=_now()),
                 "User {user} unlocked.")


@users_app.command("reset-password")
def users_reset_password(username: str, password_stdin: StdinOption = False,
                         database_url: DbOption = None) -> None:
    """Set a new password (ends the user's sessions)."""
    container, uow = _uow(database_url)
    password = _read_password(password_stdin, username)
    _user_change(database_url, lambda u: accounts.reset_password(
        username, password, uow(), container.credentials, now=_now()),
        "Password of {user} reset; their sessions are ended.")


@users_app.command("roles")
def users_roles() -> None:
    """The authority matrix: what each role may do, and up to which amount."""
    cli = _cli()
    table = Table("role", "action", "limit (yuan)", title="Authority matrix")
    for role in Role:
        for action, cap in AUTHORITY[role].items():
            table.add_row(role.value, action.value,
                          "no limit" if cap is None else f"{cap / 100:,.2f}")
    cli.out.print(table)


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
    cli = _cli()
    container, uow = _uow(database_url)
    with cli._use_case():
        client, secret = accounts.add_client(
            accounts.AddClient(client_id, name, role or [Role.FUNDER.value], funder), uow(),
            container.credentials, now=_now())
    cli.out.print(f"Client [bold]{client.client_id}[/] created. Its secret, shown once:")
    print(secret)


@clients_app.command("rotate")
def clients_rotate(client_id: str, database_url: DbOption = None) -> None:
    """A new secret; the old one keeps working for 24 hours. Prints the new one once."""
    cli = _cli()
    container, uow = _uow(database_url)
    with cli._use_case():
        client, secret = accounts.rotate_client_secret(client_id, uow(),
                                                       container.credentials, now=_now())
    cli.out.print(f"New secret of [bold]{client.client_id}[/] (the old one works until "
                  f"{client.previous_valid_until:%Y-%m-%d %H:%M} UTC):")
    print(secret)


def _client_active(client_id: str, active: bool, database_url: str | None) -> None:
    cli = _cli()
    _, uow = _uow(database_url)
    with cli._use_case():
        accounts.set_client_active(client_id, active, uow(), now=_now())
    cli.out.print(f"Client {client_id} {'enabled' if active else 'disabled'}.")


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
    cli = _cli()
    _, uow = _uow(database_url)
    table = Table("client", "name", "funder", "roles", "state", "rotated", title="API clients")
    for c in accounts.list_clients(uow()):
        table.add_row(c.client_id, c.name, str(c.funder_id or ""), ", ".join(sorted(c.roles)),
                      "active" if c.active else "disabled",
                      f"{c.rotated_at:%Y-%m-%d}" if c.rotated_at else "")
    cli.out.print(table)


@audit_app.command("verify")
def audit_verify(database_url: DbOption = None) -> None:
    """Check every record's hash, the links between them, gaps and the head; exit 1 and say
    where if anything was edited, deleted or reordered."""
    cli = _cli()
    _, uow = _uow(database_url)
    report = audit.verify_trail(uow())
    if report.intact:
        cli.out.print(f"Audit trail intact: {report.records:,} records. Head: record "
                      f"{report.head_seq}, hash {report.head_hash} (note it somewhere safe "
                      "to detect a rewrite of the whole chain later).")
        return
    cli.err.print(f"[bold red]Audit trail broken[/]: {len(report.problems)} problem(s) in "
                  f"{report.records:,} records.")
    for p in report.problems[:50]:
        cli.err.print(f"  {p}")
    if len(report.problems) > 50:
        cli.err.print(f"  ... and {len(report.problems) - 50} more")
    raise typer.Exit(1)


@audit_app.command("tail")
def audit_tail(limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
               actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
               database_url: DbOption = None) -> None:
    """The newest audit records."""
    cli = _cli()
    _, uow = _uow(database_url)
    table = Table("seq", "recorded (UTC)", "actor", "what", "object", "data", title="Audit")
    for r in audit.recent_records(uow(), limit=limit, actor=actor):
        table.add_row(str(r.seq), r.recorded_at[:19], r.actor, r.name,
                      f"{r.aggregate} {r.aggregate_id or ''}", str(r.data)[:80])
    cli.out.print(table)


@keys_app.command("rotate-pii")
def keys_rotate_pii(database_url: DbOption = None) -> None:
    """Add a new personal-data key, make it active and re-encrypt stored data with it."""
    from xinbao.compliance.pii_rotation import reencrypt_all
    from xinbao.platform.secrets import add_pii_key

    cli = _cli()
    container, _ = _uow(database_url)
    kid = add_pii_key(Path(container.settings.secrets_file))
    container = cli._container(database_url)
    counts = reencrypt_all(container.engine, container.cipher, container.uow())
    cli.out.print(f"Key {kid} active; re-encrypted {counts['applications']:,} applications "
                  f"and {counts['policies']:,} policies. Old keys stay in the secrets file "
                  "until backups made with them have expired.")


@keys_app.command("rotate-token")
def keys_rotate_token() -> None:
    """Add a new token-signing key and make it active (tokens signed before stay valid until
    they expire, 15 minutes at most). Restart the API servers to pick it up."""
    from xinbao.config import Settings
    from xinbao.platform.secrets import add_token_key

    kid = add_token_key(Path(Settings.from_env().secrets_file))
    _cli().out.print(f"Token key {kid} active.")


retention_app = typer.Typer(help="Anonymizing personal data after the retention period.",
                            no_args_is_help=True)


@retention_app.command("run")
def retention_run(
    days: Annotated[int, typer.Option(
        "--days", min=1, help="Retention period after a case closes (default 5 years).")]
    = DEFAULT_RETENTION_DAYS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count the cases due.")]
    = False,
    database_url: DbOption = None,
) -> None:
    """Anonymize the personal data of declined and closed, fully settled cases whose
    retention period is over; the ledger, figures and audit trail stay intact."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    cli = _cli()
    _, uow = _uow(database_url)
    today = _now().date()
    with cli._use_case(), Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                   TimeElapsedColumn(), console=cli.out,
                                   transient=True) as bar:
        task = bar.add_task("Anonymizing", total=None)
        report = anonymize_expired(uow, today=today, retention_days=days, dry_run=dry_run,
                                   progress=lambda n: bar.update(
                                       task, description=f"Anonymized {n:,} cases"))
    if report.dry_run:
        cli.out.print(f"{report.due:,} cases closed before {report.cutoff} are due for "
                      "anonymizing (dry run: nothing changed).")
    else:
        cli.out.print(f"Anonymized the personal data of {report.anonymized:,} cases closed "
                      f"before {report.cutoff}; ledger and figures unchanged.")


model_app = typer.Typer(help="Credit-scoring models.", no_args_is_help=True)


@model_app.command("train")
def model_train(
    data: Annotated[Path, typer.Option("--data", exists=True, dir_okay=False,
                                       help="CSV or Parquet, one row per application.")],
    target: Annotated[str, typer.Option("--target", help="Binary column: 1 = default.")],
    feature: Annotated[list[str] | None, typer.Option(
        "--feature", help="Repeat for each feature (default: every other column).")] = None,
    categorical: Annotated[list[str] | None, typer.Option(
        "--categorical", help="Features to bin as categories.")] = None,
    monotonic: Annotated[list[str] | None, typer.Option(
        "--monotonic", help="Numeric features whose bins must be monotonic.")] = None,
    name: Annotated[str, typer.Option(help="Model name (a folder under --out).")] = "pd",
    out: Annotated[Path | None, typer.Option(
        help="Model registry folder (default XINBAO_MODELS_DIR or out/models).")] = None,
    test_share: Annotated[float, typer.Option(min=0.05, max=0.95)] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the train/test split.")] = 42,
) -> None:
    """Train a WoE scorecard (optbinning) and a LightGBM challenger; write the model with its
    validation report (AUC, KS, Gini, PSI, calibration, bins) as HTML and JSON."""
    import polars as pl

    from xinbao.risk import model_store
    from xinbao.risk.scoring.scorecard import TrainingDataError, TrainingSpec, train

    cli = _cli()
    try:
        frame = (pl.read_parquet(data) if data.suffix.lower() in (".parquet", ".pq")
                 else pl.read_csv(data, infer_schema_length=10_000))
    except (pl.exceptions.PolarsError, OSError) as exc:
        cli.err.print(f"[bold red]Refused[/]: cannot read {data}: {type(exc).__name__}")
        raise typer.Exit(2) from None
    spec = TrainingSpec(target=target, features=tuple(feature or ()),
                        categorical=tuple(categorical or ()), monotonic=tuple(monotonic or ()),
                        test_share=test_share, seed=seed)
    try:
        with cli.out.status(f"Training on {frame.height:,} rows"):
            result = train(frame, spec)
    except TrainingDataError as exc:
        cli.err.print(f"[bold red]Refused[/]: {exc}")
        raise typer.Exit(2) from None
    folder, doc = model_store.save(result, spec, data, out or _models_dir(), name)
    table = Table("model", "AUC", "KS", "Gini", title=f"{name} {folder.name}")
    for label, v in (("scorecard, train", result.train), ("scorecard, test", result.test),
                     ("challenger, test", result.challenger_test)):
        table.add_row(label, f"{v.auc:.4f}", f"{v.ks:.4f}", f"{v.gini:.4f}")
    cli.out.print(table)
    cli.out.print(f"PSI train/test {result.psi_train_test:.4f}. Model and report: {folder}")


def _models_dir() -> Path:
    from xinbao.config import Settings

    return Path(Settings.from_env().models_dir)


@model_app.command("list")
def model_list(root: Annotated[Path | None, typer.Option(
        "--models", help="Model registry folder (default XINBAO_MODELS_DIR).")] = None) -> None:
    """Trained versions with their test AUC, and which one decides."""
    from xinbao.risk.model_store import ModelRegistry

    registry = ModelRegistry(root or _models_dir())
    assignment = registry.read()
    table = Table("model", "trained", "rows", "AUC (test)", "KS", "role")
    for ref, doc in registry.versions():
        test = doc.get("scorecard", {}).get("test", {})
        role = ("champion" if ref == assignment.champion else
                f"challenger ({assignment.challenger_share} %)"
                if ref == assignment.challenger else "")
        table.add_row(ref, doc.get("trained_at", ""),
                      f"{doc.get('data', {}).get('rows_train', 0):,}",
                      str(test.get("auc", "")), str(test.get("ks", "")), role)
    cli = _cli()
    cli.out.print(table)
    if assignment.champion is None:
        cli.out.print("No champion: decisions use the fallback bureau-score PD.")


@model_app.command("promote")
def model_promote(
    ref: Annotated[str, typer.Argument(help="NAME/vN, as `xinbao model list` shows it.")],
    challenger: Annotated[bool, typer.Option(
        "--challenger", help="Make it the challenger instead of the champion.")] = False,
    share: Annotated[int | None, typer.Option(
        min=1, max=99, help="Percentage of applications the challenger scores.")] = None,
    root: Annotated[Path | None, typer.Option("--models")] = None,
) -> None:
    """Make a trained version the champion (it decides) or the challenger (it decides a
    share of applications); takes effect on the next decision, recorded in the registry."""
    import getpass

    from xinbao.risk.model_store import ModelRegistry, RegistryError

    cli = _cli()
    try:
        done = ModelRegistry(root or _models_dir()).promote(
            ref, role="challenger" if challenger else "champion", share=share,
            by=f"cli:{getpass.getuser()}")
    except RegistryError as exc:
        cli.err.print(f"[bold red]Refused[/]: {exc}")
        raise typer.Exit(2) from None
    cli.out.print(f"Champion {done.champion}" + (
        f"; challenger {done.challenger} on {done.challenger_share} % of applications"
        if done.challenger else ""))
