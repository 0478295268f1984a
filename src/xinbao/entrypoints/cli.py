"""The ``xinbao`` command line (Typer + rich).

Exit codes: 0 done; 2 refused input (each field and rule printed); 3 not found; 4 conflict
with what is recorded; 5 not permitted; 1 anything unexpected.

Operator commands run on the server and act as the system (``system:cli:<os user>`` in the
audit trail); the simulator acts as ``system:simulator``.
"""

from __future__ import annotations

import copy
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from xinbao.bootstrap import Container, bootstrap, risk_engine
from xinbao.catalogue import queries as catalogue_queries
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.model.parties import PartyKind
from xinbao.catalogue.model.products import RepaymentMethod
from xinbao.config import Settings
from xinbao.entrypoints.cli_admin import (
    audit_app,
    clients_app,
    keys_app,
    model_app,
    retention_app,
    users_app,
)
from xinbao.entrypoints.cli_risk import blacklist_app, decision_app, limits_app
from xinbao.iam.model.security import Forbidden, Principal, system
from xinbao.kernel.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from xinbao.kernel.money import Money, format_yuan
from xinbao.ledger import services as ledger
from xinbao.ledger.model import Statement
from xinbao.policy.model import PolicyStatus
from xinbao.reporting import services as reporting
from xinbao.simulation.bureau import SimulatedBureau
from xinbao.simulation.scenario import Scenario
from xinbao.underwriting import services as applications
from xinbao.underwriting.commands import SubmitApplication
from xinbao.underwriting.model import Evidence, EvidenceKind, Profile

app = typer.Typer(help="Xinbao 信保: financing credit & guarantee insurance core system.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
ledger_app = typer.Typer(help="The general ledger.", no_args_is_help=True)
products_app = typer.Typer(help="The product catalogue.", no_args_is_help=True)
applications_app = typer.Typer(help="Applications from funders.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(products_app, name="products")
app.add_typer(applications_app, name="applications")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(retention_app, name="retention")
app.add_typer(model_app, name="model")
app.add_typer(decision_app, name="decision")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(limits_app, name="limits")

# Off a terminal (CI logs, pipes) rich would assume 80 columns and cut the tables.
out = Console() if sys.stdout.isatty() else Console(width=120)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=120)

DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", envvar="XINBAO_DATABASE_URL",
    help="SQLAlchemy URL (sqlite:///PATH or postgresql+psycopg://...).")]


def _container(database_url: str | None, *, upgrade: bool = True,
               models_dir: Path | None = None) -> Container:
    settings = Settings.from_env()
    if database_url:
        settings = replace(settings, database_url=database_url)
    if models_dir is not None:
        settings = replace(settings, models_dir=str(models_dir))
    container = bootstrap(settings, upgrade=upgrade)
    container.actor = operator()
    return container


def operator() -> Principal:
    """Who runs this command: ``system:cli:<os user>`` in the audit trail."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return system(f"cli:{who}")


@contextmanager
def _use_case() -> Iterator[None]:
    """Map refusals to exit codes with a readable message; nothing was written."""
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
    except (Conflict, IllegalTransition) as exc:
        err.print(f"[bold red]Conflict[/]: {exc}")
        raise typer.Exit(4) from None
    except Forbidden as exc:
        err.print(f"[bold red]Not permitted[/]: {exc}")
        raise typer.Exit(5) from None


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or migrate the schema to the newest revision."""
    container = _container(database_url, upgrade=True)
    revision, _ = container.schema_state()
    out.print(f"Database at revision [bold]{revision}[/] ({_safe_url(container)})")


@db_app.command("current")
def db_current(database_url: DatabaseUrl = None) -> None:
    """Show the schema revision and whether it is the newest."""
    container = _container(database_url, upgrade=False)
    revision, current = container.schema_state()
    out.print(f"revision {revision or '(empty database)'}: "
              f"{'current' if current else 'needs `xinbao db upgrade`'}")
    if not current:
        raise typer.Exit(1)


def _safe_url(container: Container) -> str:
    return make_url(container.settings.database_url).render_as_string(hide_password=True)


@products_app.command("load")
def products_load(
    file: Annotated[Path | None, typer.Option(help="Catalogue TOML; the shipped one if omitted.")]
    = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register the products of a catalogue file (new versions where a code exists)."""
    from xinbao.parameters import load_product_catalogue

    container = _container(database_url)
    with _use_case():
        for cmd in load_product_catalogue(file):
            p = catalogue.register_product(cmd, container.uow())
            out.print(f"{p.code} v{p.version}: {p.name}")


@products_app.command("list")
def products_list(database_url: DatabaseUrl = None) -> None:
    """The newest version of every product."""
    container = _container(database_url)
    table = Table("code", "v", "name", "mode", "family", "amount (yuan)", "term", "trigger DPD",
                  "premium", title="Products")
    for p in catalogue_queries.list_products(container.uow()):
        table.add_row(p.code, str(p.version), p.name, p.mode.value, p.family.value,
                      f"{format_yuan(p.min_amount_fen)}–{format_yuan(p.max_amount_fen)}",
                      f"{p.min_term_months}–{p.max_term_months}", str(p.claim_trigger_dpd),
                      f"{p.premium_basis.value} {p.monthly_premium_rate}/month")
    out.print(table)


def _parse(field: str, parse: Callable[[str], Any], value: str) -> Any:
    try:
        return parse(value)
    except (ValueError, InvalidOperation, TypeError) as exc:
        raise InvalidInput.single(field, f"{field}.format", f"cannot read {value!r}: {exc}") \
            from None


@applications_app.command("submit")
def applications_submit(
    funder: Annotated[str, typer.Option(help="Funder code.")],
    ref: Annotated[str, typer.Option(help="The funder's application number.")],
    product: Annotated[str, typer.Option(help="Product code.")],
    name: Annotated[str, typer.Option(help="Borrower's name.")],
    id_number: Annotated[str, typer.Option(help="Resident ID, or credit code for enterprises.")],
    phone: Annotated[str, typer.Option(help="Borrower's mobile phone.")],
    amount: Annotated[str, typer.Option(help="Loan amount in yuan, e.g. 50000.00.")],
    term: Annotated[int, typer.Option(help="Term in months.")],
    rate: Annotated[str, typer.Option(help="Annual interest rate, e.g. 0.0825.")],
    method: Annotated[RepaymentMethod, typer.Option(help="Repayment method.")] =
    RepaymentMethod.EQUAL_INSTALLMENT,
    kind: Annotated[PartyKind, typer.Option(help="Borrower kind.")] = PartyKind.INDIVIDUAL,
    bank_card: Annotated[str | None, typer.Option(help="Borrower's bank card.")] = None,
    applied_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD; today if omitted.")] = None,
    policyholder_id: Annotated[str | None, typer.Option(help="Policyholder's ID/credit code.")]
    = None,
    insured_id: Annotated[str | None, typer.Option(help="Insured's ID/credit code.")] = None,
    income: Annotated[str | None, typer.Option(
        help="Declared monthly income in yuan (enterprises: revenue / 12).")] = None,
    employment: Annotated[str | None, typer.Option(help="salaried, self_employed, …")] = None,
    evidence: Annotated[list[str] | None, typer.Option(
        help="KIND=REFERENCE@SHA256, repeated: consent, sales_recording, "
             "online_sales_record.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Submit one application; print its number, or every rule it breaks."""
    container = _container(database_url)
    with _use_case():
        cmd = SubmitApplication(
            funder_code=funder, external_ref=ref, product_code=product, borrower_kind=kind,
            borrower_name=name, borrower_id_number=id_number, borrower_phone=phone,
            borrower_bank_card=bank_card,
            amount_fen=_parse("amount", lambda v: Money.yuan(v).fen, amount),
            term_months=term, annual_rate=_parse("rate", Decimal, rate),
            repayment_method=method,
            applied_on=_parse("applied_on", date.fromisoformat, applied_on)
            if applied_on else date.today(),
            policyholder_id=policyholder_id, insured_id=insured_id,
            profile=Profile(monthly_income_fen=_parse("income", lambda v: Money.yuan(v).fen,
                                                      income) if income else None,
                            employment=employment),
            evidence=tuple(_evidence(e) for e in evidence or ()))
        a = applications.submit_application(cmd, container.uow())
    out.print(f"Application {a.id} submitted ({a.product_code} v{a.product_version}, "
              f"{a.mode.value} insurance)")


def _evidence(text: str) -> Evidence:
    kind, _, rest = text.partition("=")
    reference, _, digest = rest.rpartition("@")
    try:
        return Evidence(EvidenceKind(kind), reference, digest)
    except ValueError:
        raise InvalidInput.single("evidence", "evidence.kind",
                                  f"KIND=REFERENCE@SHA256 with KIND one of "
                                  f"{', '.join(k.value for k in EvidenceKind)}") from None


@applications_app.command("load")
def applications_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="JSON lines: one application per line, the "
                                              "fields of POST /v1/applications.")],
    database_url: DatabaseUrl = None,
) -> None:
    """A funder's file of applications in one transaction: good lines stored, each bad line
    refused alone with its reasons (exit 2 if any was refused)."""
    from pydantic import ValidationError

    from xinbao.entrypoints.api.schemas import ApplicationIn
    from xinbao.underwriting.commands import SubmitApplicationFile

    commands, malformed = [], []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                commands.append((number, ApplicationIn.model_validate_json(line).command()))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(x) for x in first["loc"])
                malformed.append((number, f"line {number}: {where}: {first['msg']}"))
    container = _container(database_url)
    with _use_case():
        outcome = applications.submit_application_file(
            SubmitApplicationFile(tuple(c for _, c in commands)), container.uow())
    for r in outcome.rejected:
        line = commands[r.index][0]
        reasons = (", ".join(f"{e.field} [{e.rule}]" for e in r.error.errors)
                   if isinstance(r.error, InvalidInput) else str(r.error))
        malformed.append((line, f"line {line} ({r.reference}): {reasons}"))
    out.print(f"{len(outcome.accepted):,} applications stored, {len(malformed):,} lines "
              "refused.")
    if outcome.accepted:
        ids = sorted(a.id for a in outcome.accepted if a.id is not None)
        where = (f"Stored as applications {ids[0]} to {ids[-1]}; "
                 if ids and ids[-1] - ids[0] + 1 == len(ids) else "")
        out.print(f"{where}decide them with `xinbao decision run --submitted`.",
                  markup=False)
    for _, text in sorted(malformed):
        err.print(f"  {text}", markup=False)
    if malformed:
        raise typer.Exit(2)


@ledger_app.command("trial-balance")
def ledger_trial_balance(
    through: Annotated[str | None, typer.Option(help="Up to this date (YYYY-MM-DD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Debit and credit balance of every account; the totals must agree."""
    container = _container(database_url)
    with _use_case():
        until = _parse("through", date.fromisoformat, through) if through else None
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
        ("Trial balance (must be 0)", format_yuan(k.trial_balance.total)),
    ]


@app.command("kpis")
def kpis(database_url: DatabaseUrl = None) -> None:
    """Portfolio KPIs from the ledger and the policy register."""
    container = _container(database_url)
    out.print(kpi_table(reporting.portfolio_kpis(container.uow())))


def _train_on_history(scenario: Scenario, rows: int, out_dir: Path, models: Path) -> None:
    """Train the first champion on a simulated credit history and promote it; show how close
    its AUC comes to the ground truth's on the held-out part."""
    from xinbao.parameters import load_collateral_rules
    from xinbao.risk import model_store
    from xinbao.risk.scoring.metrics import Validation
    from xinbao.risk.scoring.scorecard import TrainingSpec, split_frame, train
    from xinbao.simulation import history as h

    with out.status(f"Training the champion scorecard on {rows:,} simulated past loans"):
        data = h.draw_history(scenario, rows, load_collateral_rules())
        path = out_dir / "history.parquet"
        data.write_parquet(path)
        spec = TrainingSpec(target=h.TARGET, features=h.FEATURES, categorical=h.CATEGORICAL,
                            monotonic=h.MONOTONIC)
        result = train(data.drop(h.TRUTH), spec)
        folder, _ = model_store.save(result, spec, path, models, "pd")
        ref = f"pd/{folder.name}"
        model_store.ModelRegistry(models).promote(ref, role="champion", by="simulator")
        truth = split_frame(data.select(h.TRUTH, h.TARGET),
                            TrainingSpec(target=h.TARGET, features=(h.TRUTH,)))
        truth_auc = Validation.of(truth[3], truth[2][h.TRUTH].to_numpy()).auc
    out.print(f"Champion {ref}: AUC {result.test.auc:.4f} on {result.rows[1]:,} held-out "
              f"loans; the ground-truth PD's AUC on them is {truth_auc:.4f} (gap "
              f"{truth_auc - result.test.auc:+.4f}). Report: {folder / 'report.html'}")


def _simulate(scenario: Scenario, out_dir: Path, database_url: str | None,
              history: int = 0) -> None:
    """Run a scenario into a fresh database; write the ground truth and the HTML report.
    With ``history``, a champion scorecard is first trained on that many simulated past
    loans; without, decisions use the fallback bureau-score PD."""
    from xinbao.analytics.portfolio import monthly_statement, summary_by, to_frame, vintage_curves
    from xinbao.parameters import load_product_catalogue
    from xinbao.reporting.html import write_report
    from xinbao.simulation.runner import run_market

    out_dir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{out_dir / 'xinbao.db'}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    models = out_dir / "models"
    container = _container(url, upgrade=True, models_dir=models)
    with container.uow() as uow:
        if uow.applications.count():
            err.print("[red]The simulation needs an empty database[/]; give another "
                      "--database-url.")
            raise typer.Exit(4)
    if history:
        _train_on_history(scenario, history, out_dir, models)
    bureau = SimulatedBureau()
    engine = risk_engine(container.settings, container.parameters, bureau_service=bureau)
    with Progress(TextColumn("[bold]Simulating[/] {task.description}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("days"), TimeElapsedColumn(),
                  console=out, transient=False) as progress:
        task = progress.add_task(
            f"{scenario.name}: {scenario.applications:,} applications, {scenario.months} "
            "months", total=None)
        result = run_market(scenario, lambda: container.uow(system("simulator")),
                            load_product_catalogue(), engine=engine, bureau=bureau,
                            progress=lambda done, total: progress.update(
                                task, completed=done, total=total))
    truth_path = out_dir / "ground_truth.parquet"
    result.truth.write_parquet(truth_path)
    k = reporting.portfolio_kpis(container.uow())
    title = f"{scenario.name} v{scenario.version}: {scenario.start} to {result.end}, seed " \
            f"{scenario.seed}"
    out.print(kpi_table(k, title=title))
    frame = summary_by(to_frame(reporting.policy_rows(container.uow())), "family")
    fam = Table("family", "policies", "sum insured", "premium", "claims paid", "recovered",
                "net loss ratio", title="By product family (yuan)")
    for row in frame.iter_rows(named=True):
        ratio_ = row["net_loss_ratio"]
        fam.add_row(row["family"], str(row["policies"]), format_yuan(row["sum_insured_fen"]),
                    format_yuan(row["premium_fen"]), format_yuan(row["claims_paid_fen"]),
                    format_yuan(row["recovered_fen"]),
                    f"{ratio_ * 100:.1f}%" if ratio_ is not None else "n/a")
    out.print(fam)
    report_path = out_dir / "report.html"
    write_report(
        report_path, title=f"信保 Xinbao · {scenario.name}", subtitle=title, kpis=kpi_rows(k),
        monthly=monthly_statement(reporting.ledger_by_month(container.uow())),
        vintages=vintage_curves(reporting.policy_vintages(container.uow()), result.end))
    out.print(f"Repayments {result.repayments:,}, prepayments {result.prepayments:,}, claims "
              f"opened {result.claims_opened:,} (declined {result.claims_declined:,}), paid "
              f"{result.claims_paid:,}, recoveries {result.recoveries:,}.")
    out.print(f"Report: {report_path}   Ground truth: {truth_path}")
    out.print(f"Database: {_safe_url(container)} — browse it with "
              f"`XINBAO_DATABASE_URL={url} xinbao serve`")
    if k.trial_balance.total != 0:
        err.print("[red]Trial balance is not zero[/]")
        raise typer.Exit(1)


ScenarioOption = Annotated[str, typer.Option(
    "--scenario", help="Scenario file, or a shipped one: base, downturn, stress2019.")]


@app.command("simulate")
def simulate(
    scenario: ScenarioOption = "base",
    applications: Annotated[int | None, typer.Option(min=1, help="Override the volume.")] = None,
    months: Annotated[int | None, typer.Option(min=1, max=120, help="Override the months.")]
    = None,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the database, report and ground truth "
                      "(default out/<scenario name>).")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="An empty database instead of OUT/xinbao.db.")] = None,
    history: Annotated[int, typer.Option(
        min=0, help="First train the champion scorecard on this many simulated past loans "
                    "(0: decide with the fallback bureau-score PD).")] = 30_000,
) -> None:
    """Simulate a market scenario through Xinbao; print KPIs, write report and ground truth."""
    from xinbao.simulation.scenario import resolve_scenario

    try:
        chosen = resolve_scenario(scenario)
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[bold red]Refused[/]: scenario: {exc}")
        raise typer.Exit(2) from None
    chosen = replace(chosen, applications=applications or chosen.applications,
                     months=months or chosen.months,
                     seed=seed if seed is not None else chosen.seed)
    _simulate(chosen, out_dir or Path("out") / chosen.name, database_url, history)


@app.command("demo")
def demo(
    applications: Annotated[int | None, typer.Option(min=1, help="Override the volume.")] = None,
    months: Annotated[int | None, typer.Option(min=1, max=120, help="Override the months.")]
    = None,
) -> None:
    """The base market: 20,000 applications over 24 months into out/demo (SQLite)."""
    simulate(scenario="base", applications=applications, months=months, seed=None,
             out_dir=Path("out") / "demo", database_url=None, history=30_000)


def server_log_config() -> dict[str, Any]:
    """uvicorn's logging, with its lines redacted like ours. Its access log is off
    (``access_log=False``): the application writes its own, cheaper, in the same format
    (``create_app(access_log=...)``, ``adapters/log_writer.py``)."""
    import uvicorn.config

    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["filters"] = {"redact": {"()": "xinbao.platform.redaction.RedactingFilter"}}
    for handler in log_config["handlers"].values():
        handler["filters"] = ["redact"]
    return log_config


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Server processes (each decides its own requests in batches; "
        "PostgreSQL suits several best, SQLite has one writer at a time).")] = 1,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the REST API and the console (put TLS in front of it: cookies are Secure)."""
    import uvicorn

    from xinbao.entrypoints.api import processes
    from xinbao.entrypoints.api.app import create_app, settle

    if port == 0 and workers > 1:
        err.print("[bold red]Refused[/]: --port 0 (any free port) needs --workers 1: each "
                  "process would listen on a port of its own")
        raise typer.Exit(2)
    taken = processes.unavailable(host, port)
    if taken is not None:
        err.print("[bold red]Cannot listen[/] on " + escape(f"{host}:{port}: {taken}"))
        raise typer.Exit(1)
    container = _container(database_url, upgrade=True)
    out.print(f"Serving {_safe_url(container)} on http://{host}:{port} with {workers} "
              f"process{'es' if workers > 1 else ''} (OpenAPI spec at /openapi.json, console "
              "at /console/)")
    log_config = server_log_config()
    if workers == 1:
        application = create_app(container, access_log=sys.stdout)
        settle(container)
        uvicorn.run(application, host=host, port=port, log_level="info",
                    log_config=log_config, server_header=False, access_log=False)
        return
    # Each process builds its own application from the environment; the schema is current.
    os.environ["XINBAO_DATABASE_URL"] = container.settings.database_url
    container.close()
    if processes.available():  # a socket each: connections spread over the processes
        raise typer.Exit(processes.serve_processes(host, port, workers, log_config))
    uvicorn.run(processes.APP, factory=True, workers=workers, host=host, port=port,
                log_level="info", log_config=log_config, server_header=False,
                access_log=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
