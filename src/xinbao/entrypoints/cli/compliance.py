"""``xinbao audit|keys|retention``: the audit trail, the encryption and signing keys, and
data retention, for the insurer's administrators on the server.

Commands here act as ``system:cli:<os user>``: whoever runs them already holds the database
credentials and the secrets file, and every change they make is recorded with that name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xinbao.compliance import services as audit
from xinbao.compliance.services import DEFAULT_RETENTION_DAYS, anonymize_expired
from xinbao.entrypoints.cli.common import (
    DbOption,
    UserOption,
    container_for,
    err,
    out,
    use_case,
    utc_now,
)

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption and signing keys (the secrets file).",
                       no_args_is_help=True)
retention_app = typer.Typer(help="Anonymizing personal data after the retention period.",
                            no_args_is_help=True)


@audit_app.command("verify")
def audit_verify( user: UserOption = None, database_url: DbOption = None) -> None:
    """Check every record's hash, the links between them, gaps and the head; exit 1 and say
    where if anything was edited, deleted or reordered."""
    container = container_for(database_url, user=user)
    report = audit.verify_trail(container.uow())
    if report.intact:
        out.print(f"Audit trail intact: {report.records:,} records. Head: record "
                  f"{report.head_seq}, hash {report.head_hash} (note it somewhere safe "
                  "to detect a rewrite of the whole chain later).")
        return
    err.print(f"[bold red]Audit trail broken[/]: {len(report.problems)} problem(s) in "
              f"{report.records:,} records.")
    for p in report.problems[:50]:
        err.print(f"  {p}")
    if len(report.problems) > 50:
        err.print(f"  ... and {len(report.problems) - 50} more")
    raise typer.Exit(1)


@audit_app.command("tail")
def audit_tail(limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
               actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
               user: UserOption = None,
               database_url: DbOption = None) -> None:
    """The newest audit records."""
    container = container_for(database_url, user=user)
    table = Table("seq", "recorded (UTC)", "actor", "what", "object", "data", title="Audit")
    for r in audit.recent_records(container.uow(), limit=limit, actor=actor):
        table.add_row(str(r.seq), r.recorded_at[:19], r.actor, r.name,
                      f"{r.aggregate} {r.aggregate_id or ''}", str(r.data)[:80])
    out.print(table)


@keys_app.command("rotate-pii")
def keys_rotate_pii(database_url: DbOption = None) -> None:
    """Add a new personal-data key, make it active and re-encrypt stored data with it."""
    from xinbao.compliance.pii_rotation import reencrypt_all
    from xinbao.platform.secrets import add_pii_key

    container = container_for(database_url)
    kid = add_pii_key(Path(container.settings.secrets_file))
    container = container_for(database_url)  # a cipher that holds the new key
    counts = reencrypt_all(container.engine, container.cipher, container.uow())
    out.print(f"Key {kid} active; re-encrypted {counts['applications']:,} applications "
              f"and {counts['policies']:,} policies. Old keys stay in the secrets file "
              "until backups made with them have expired.")


@keys_app.command("rotate-token")
def keys_rotate_token() -> None:
    """Add a new token-signing key and make it active (tokens signed before stay valid until
    they expire, 15 minutes at most). Restart the API servers to pick it up."""
    from xinbao.config import Settings
    from xinbao.platform.secrets import add_token_key

    kid = add_token_key(Path(Settings.from_env().secrets_file))
    out.print(f"Token key {kid} active.")


@retention_app.command("run")
def retention_run(
    days: Annotated[int, typer.Option(
        "--days", min=1, help="Retention period after a case closes (default 5 years).")]
    = DEFAULT_RETENTION_DAYS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count the cases due.")]
    = False,
    user: UserOption = None,
    database_url: DbOption = None,
) -> None:
    """Anonymize the personal data of declined and closed, fully settled cases whose
    retention period is over; the ledger, figures and audit trail stay intact."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    uow = container_for(database_url, user=user).uow
    today = utc_now().date()
    with use_case(), Progress(SpinnerColumn(), TextColumn("{task.description}"),
                              TimeElapsedColumn(), console=out, transient=True) as bar:
        task = bar.add_task("Anonymizing", total=None)
        report = anonymize_expired(uow, today=today, retention_days=days, dry_run=dry_run,
                                   progress=lambda n: bar.update(
                                       task, description=f"Anonymized {n:,} cases"))
    if report.dry_run:
        out.print(f"{report.due:,} cases closed before {report.cutoff} are due for "
                  "anonymizing (dry run: nothing changed).")
    else:
        out.print(f"Anonymized the personal data of {report.anonymized:,} cases closed "
                  f"before {report.cutoff}; ledger and figures unchanged.")
