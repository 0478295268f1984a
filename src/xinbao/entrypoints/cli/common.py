"""What the commands share: the container they work on, who they act as, the console they
print to, the common options, the mapping of refusals to exit codes, and the KPI table that
``kpis`` and ``simulate`` both print.

Exit codes: 0 done; 2 refused input (each field and rule printed); 3 not found; 4 conflict
with what is recorded; 5 not permitted (or ``--user`` with wrong credentials); 1 anything
unexpected.

Who acts: a command run on the server acts as ``system:cli:<os user>`` (whoever runs it holds
the database credentials and the secrets file). A person who says ``--user NAME`` (or sets
``XINBAO_USER``) acts as that console user instead, password from a hidden prompt or the first
line of standard input: the user's roles, authority limits and four-eyes then hold exactly as
in the API and the console, and the audit trail names the user.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from xinbao.bootstrap import Container, bootstrap
from xinbao.claims.model import ServiceLevel
from xinbao.config import Settings
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Forbidden, Principal, Unauthenticated, system
from xinbao.kernel.errors import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
    WriteConflict,
)
from xinbao.kernel.money import format_yuan
from xinbao.ledger.model import Statement
from xinbao.policy.model import PolicyStatus
from xinbao.reporting import services as reporting

# Off a terminal (CI logs, pipes) rich would assume 80 columns and cut the tables.
out = Console() if sys.stdout.isatty() else Console(width=120)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=120)

DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", envvar="XINBAO_DATABASE_URL",
    help="SQLAlchemy URL (sqlite:///PATH or postgresql+psycopg://...).")]
DbOption = Annotated[str | None, typer.Option(
    "--database-url", envvar="XINBAO_DATABASE_URL", help="SQLAlchemy URL of the database.")]
OnOption = Annotated[str | None, typer.Option("--on", help="Business date (default today).")]
UserOption = Annotated[str | None, typer.Option(
    "--user", envvar="XINBAO_USER",
    help="Act as this console user (its roles, limits and four-eyes apply); the password is "
         "asked at a hidden prompt, or read from the first line of standard input.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON).")]
AfterOption = Annotated[int, typer.Option("--after", help="Start after this id (the last one "
                                                          "of the page before).", min=0)]
LimitOption = Annotated[int, typer.Option(help="At most this many (1 to 1,000).", min=1,
                                          max=1000)]


def page_end(ids: list[int | None], limit: int) -> int | None:
    """The id to pass as ``--after`` for the next page, when this page was full."""
    return ids[-1] if len(ids) == limit and ids else None


def say_more(next_after: int | None) -> None:
    """Tell the reader of a table how to ask for the next page, if there is one."""
    if next_after is not None:
        out.print(f"More after this page: --after {next_after}", markup=False)


def container_for(database_url: str | None, *, upgrade: bool = True,
                   models_dir: Path | None = None, user: str | None = None) -> Container:
    """The composition root for one command, acting as the operator who runs it, or as the
    console user ``user`` once their password is checked."""
    settings = Settings.from_env()
    if database_url:
        settings = replace(settings, database_url=database_url)
    if models_dir is not None:
        settings = replace(settings, models_dir=str(models_dir))
    container = bootstrap(settings, upgrade=upgrade)
    container.actor = operator() if user is None else signed_in(container, user)
    return container


def signed_in(container: Container, username: str) -> Principal:
    """The principal of a console user, checked as a console log-in is (lock-outs and audit
    records included); exit 5 on wrong credentials, saying nothing more."""
    if sys.stdin.isatty():
        password = typer.prompt(f"Password for {username}", hide_input=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        return accounts.authenticate(username, password, container.uow(system("cli:login")),
                                     container.credentials, now=utc_now())
    except Unauthenticated as exc:
        err.print(f"[bold red]Not permitted[/]: {exc}")
        raise typer.Exit(5) from None


def operator() -> Principal:
    """Who runs this command: ``system:cli:<os user>`` in the audit trail."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return system(f"cli:{who}")


@contextmanager
def use_case() -> Iterator[None]:
    """Map refusals to exit codes with a readable message; nothing was written. A collision
    with a concurrent transaction left after the use case ran again (``WriteConflict``) is
    a conflict (4) too: running the command again is the cure."""
    try:
        yield
    except InvalidInput as exc:
        err.print("[bold red]Refused[/]: nothing was written.")
        for e in exc.errors:
            err.print(f"  {e.field}: {e.message} [dim]({e.rule})[/]")
        raise typer.Exit(2) from None
    except NotFound as exc:
        err.print(f"[bold red]Not found[/]: {exc}")
        raise typer.Exit(3) from None
    except (Conflict, IllegalTransition, WriteConflict) as exc:
        err.print(f"[bold red]Conflict[/]: {exc}")
        raise typer.Exit(4) from None
    except Forbidden as exc:
        err.print(f"[bold red]Not permitted[/]: {exc}")
        raise typer.Exit(5) from None


def file_lines(path: Path) -> Iterator[tuple[int, str | UnicodeDecodeError]]:
    """(line number, text) of each non-blank line of a funder's file, read as bytes so that
    one bad line cannot stop the rest: a UTF-8 byte-order mark is dropped, and a line that
    is not UTF-8 comes as its decoding error, to be refused with its number."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                yield number, exc
                continue
            if text.strip():
                yield number, text


def emit_json(document: Any) -> None:
    """Print a JSON document for scripts: plain, unwrapped, UTF-8, dates as ISO strings."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


def safe_url(container: Container) -> str:
    """The database URL without its password, to print."""
    return make_url(container.settings.database_url).render_as_string(hide_password=True)


def parse_field(field: str, parse: Callable[[str], Any], value: str) -> Any:
    """``parse(value)``, or a refusal of ``field`` saying why it cannot be read."""
    try:
        return parse(value)
    except (ValueError, InvalidOperation, TypeError) as exc:
        raise InvalidInput.single(field, f"{field}.format", f"cannot read {value!r}: {exc}") \
            from None


def business_date(text: str | None) -> date:
    """The ``--on`` date: today if omitted; exit 2 if it is not YYYY-MM-DD."""
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        err.print(f"[bold red]Refused[/]: --on {text!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None


def utc_now() -> datetime:
    """Now in UTC, naive, as the identity and audit records keep it."""
    return datetime.now(UTC).replace(tzinfo=None)


def _pct(value: Decimal | None) -> str:
    return f"{value * 100:.1f}%" if value is not None else "n/a"


def kpi_table(k: reporting.PortfolioKpis, title: str = "Portfolio KPIs") -> Table:
    table = Table("KPI", "value", title=title)
    for name, value in kpi_rows(k):
        table.add_row(name, value)
    return table


def kpi_rows(k: reporting.PortfolioKpis) -> list[tuple[str, str]]:
    st: Statement = k.statement
    return [
        ("Applications", f"{k.applications:,}"),
        ("Approval rate", _pct(k.approval_rate)),
        ("Policies issued", f"{k.policies:,}"),
        ("  of which in force", f"{k.policies_by_status.get(PolicyStatus.IN_FORCE, 0):,}"),
        ("  of which claimed", f"{k.policies_by_status.get(PolicyStatus.CLAIMED, 0):,}"),
        ("  of which closed", f"{k.policies_by_status.get(PolicyStatus.CLOSED, 0):,}"),
        ("Written premium (yuan)", format_yuan(st.written_premium_fen)),
        ("Earned premium (yuan)", format_yuan(st.earned_premium_fen)),
        ("Claims paid (yuan)", format_yuan(st.claims_paid_fen)),
        ("Recoveries (yuan)", format_yuan(st.recoveries_fen)),
        ("Claims incurred, net (yuan)", format_yuan(st.claims_incurred_fen)),
        ("Commission (yuan)", format_yuan(st.commission_fen)),
        ("Loss ratio (net incurred / earned)", _pct(st.loss_ratio)),
        ("Expense ratio (commission / earned)", _pct(st.expense_ratio)),
        ("Combined ratio", _pct(st.combined_ratio)),
        ("Underwriting profit (yuan)", format_yuan(st.underwriting_result_fen)),
        ("Ceded premium (yuan)", format_yuan(st.ceded_premium_fen)),
        ("Net written premium (yuan)", format_yuan(st.net_written_premium_fen)),
        ("Net earned premium (yuan)", format_yuan(st.net_earned_premium_fen)),
        ("Net claims incurred (yuan)", format_yuan(st.net_claims_incurred_fen)),
        ("Net loss ratio", _pct(st.net_loss_ratio)),
        ("Net combined ratio", _pct(st.net_combined_ratio)),
        ("Net underwriting profit (yuan)", format_yuan(st.net_underwriting_result_fen)),
        ("Trial balance (must be 0)", format_yuan(k.trial_balance.total)),
    ]


def print_service_levels(levels: Sequence[ServiceLevel]) -> None:
    """The claims' service levels as a table (``claims sla`` and the demo's report)."""
    table = Table("funder", "product", "claims", "automatic", "decided", "days to decide "
                  "(mean / max)", "in time", "paid", "days to pay (mean / max)", "in time",
                  title="Claims service levels (days from the trigger)")
    for x in levels:
        table.add_row(x.funder, x.product, str(x.claims), str(x.automatic), str(x.decided),
                      f"{x.decision_days_mean or '-'} / {x.decision_days_max or '-'}",
                      str(x.decided_in_time), str(x.paid),
                      f"{x.payment_days_mean or '-'} / {x.payment_days_max or '-'}",
                      str(x.paid_in_time))
    out.print(table)
