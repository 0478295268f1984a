"""``xinbao decision|blacklist|limits|model``: run and explain approval decisions, review
referrals, keep the anti-fraud lists, watch the portfolio limits, and train and promote the
credit-scoring models.

Commands act as ``system:cli:<os user>``; a review is recorded under that name, so a second
approval must come from another operator account.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from xinbao.bootstrap import Container
from xinbao.config import SIMULATED_BUREAU
from xinbao.entrypoints.cli import common
from xinbao.entrypoints.cli.common import (
    DbOption,
    OnOption,
    UserOption,
    business_date,
    container_for,
    err,
    out,
    use_case,
)
from xinbao.kernel.identity import mask_id_number, mask_name
from xinbao.kernel.money import format_yuan
from xinbao.reinsurance.services import shipped as treaties
from xinbao.risk import approval, lists, referrals
from xinbao.risk import services as decisions
from xinbao.risk.commands import ApproveApplications
from xinbao.risk.model import exposure
from xinbao.risk.model.decision import DECISION_ERROR, DecisionRecord
from xinbao.underwriting.model import Application

decision_app = typer.Typer(help="Approval decisions: run, explain, review referrals.",
                           no_args_is_help=True)
blacklist_app = typer.Typer(help="The anti-fraud lists (values kept as blind indexes only).",
                            no_args_is_help=True)
limits_app = typer.Typer(help="Portfolio and regulatory limits (retained liability).",
                         no_args_is_help=True)
model_app = typer.Typer(help="Credit-scoring models.", no_args_is_help=True)

_ACTION_STYLE = {"decline": "bold red", "refer": "bold yellow", "pass": "dim"}
_OUTCOME_STYLE = {"approve": "bold green", "approve_changed": "bold green",
                  "refer": "bold yellow", "decline": "bold red"}


@decision_app.command("run")
def decision_run(
    ids: Annotated[list[int] | None, typer.Argument(
        help="Application ids (or --submitted).", show_default=False)] = None,
    submitted: Annotated[bool, typer.Option(
        "--submitted", help="Every application still waiting for a decision that was "
                            "applied for by --on, oldest first.")] = False,
    funder: Annotated[str | None, typer.Option(
        help="With --submitted: only this funder's applications (its code).")] = None,
    batch: Annotated[int, typer.Option(
        min=1, max=5000, help="With --submitted: applications decided and committed "
                              "together.")] = 256,
    on: OnOption = None, user: UserOption = None, database_url: DbOption = None,
) -> None:
    """Decide submitted applications with the risk approval engine: the ones named, or with
    --submitted every one still waiting (in batches, each committed as it is decided: an
    interrupted run keeps what it decided, and running it again decides the rest)."""
    if bool(ids) == submitted:
        err.print("[bold red]Refused[/]: give application ids, or --submitted for every "
                  "application waiting for a decision (not both).")
        raise typer.Exit(2)
    if funder is not None and not submitted:
        err.print("[bold red]Refused[/]: --funder goes with --submitted.")
        raise typer.Exit(2)
    day = business_date(on)
    container = container_for(database_url, user=user)
    if ids:
        with use_case():
            results = approval.approve_applications(
                ApproveApplications(tuple(ids), day), container.uow(), container.risk)
        out.print(_results_table(results))
        return
    with use_case():
        waiting = approval.waiting_for_decision(container.uow(), applied_by=day,
                                                funder_code=funder)
    if not waiting:
        out.print(f"No application applied for by {day} is waiting for a decision.")
        return
    _decide_all(container, waiting, day, batch)


def _results_table(results: list[approval.ApprovalResult]) -> Table:
    table = Table("application", "outcome", "amount", "premium / month", "reason codes")
    for r in results:
        d = r.decision
        outcome = d.outcome.value if d else r.application.status.value
        table.add_row(str(r.application.id), f"[{_OUTCOME_STYLE.get(outcome, '')}]{outcome}[/]",
                      format_yuan(d.approved_fen) if d else "",
                      f"{d.monthly_premium_rate:.4%}" if d and d.monthly_premium_rate else "",
                      ", ".join(r.application.reason_codes))
    return table


def _decide_all(container: Container, waiting: list[int], day: date, batch: int) -> None:
    """Decide the waiting applications batch by batch, with a progress bar; then how many
    ended each way. An application the engine could not decide is referred
    (``SYS-DECISION-ERROR``) and named; the run still exits 0, the others decided."""
    count: dict[str, int] = {}
    amount: dict[str, int] = {}
    failed: list[int] = []
    decided = 0
    started = time.perf_counter()
    try:
        with use_case(), Progress(
                TextColumn("[bold]Deciding[/]"), BarColumn(), MofNCompleteColumn(),
                TextColumn("applications"), TimeElapsedColumn(), console=err,
                transient=True) as progress:
            task = progress.add_task("", total=len(waiting))
            for lo in range(0, len(waiting), batch):
                chunk = tuple(waiting[lo:lo + batch])
                for r in approval.approve_applications(
                        ApproveApplications(chunk, day), container.uow(), container.risk):
                    outcome = r.decision.outcome.value if r.decision else \
                        r.application.status.value
                    count[outcome] = count.get(outcome, 0) + 1
                    amount[outcome] = amount.get(outcome, 0) + (
                        r.decision.approved_fen if r.decision else 0)
                    if r.decision and DECISION_ERROR in r.decision.reason_codes:
                        failed.append(r.decision.application_id)
                decided += len(chunk)
                progress.update(task, completed=decided)
    except BaseException as stopped:  # a refusal, Ctrl-C, a database error: say what stays
        if isinstance(stopped, KeyboardInterrupt):
            err.print("[bold red]Interrupted[/]: the batch being decided was rolled back.")
        if decided:
            err.print(f"{decided:,} application(s) were decided and kept before that; "
                      "running the command again decides the rest.")
        if isinstance(stopped, KeyboardInterrupt):
            raise typer.Exit(130) from None
        raise
    seconds = time.perf_counter() - started
    table = Table("outcome", "applications", "approved / proposed (yuan)",
                  title=f"{decided:,} application(s) decided on {day} in {seconds:.1f} s")
    order = ["approve", "approve_changed", "refer", "decline"]
    for outcome in sorted(count, key=lambda o: (order.index(o) if o in order else 9, o)):
        table.add_row(f"[{_OUTCOME_STYLE.get(outcome, '')}]{outcome}[/]",
                      f"{count[outcome]:,}",
                      format_yuan(amount[outcome]) if amount[outcome] else "")
    out.print(table)
    if failed:
        shown = ", ".join(map(str, failed[:20])) + (", …" if len(failed) > 20 else "")
        err.print(f"[bold yellow]{len(failed):,} application(s) the engine could not "
                  f"decide[/] were referred {DECISION_ERROR} (the error is in each "
                  f"decision): {shown}")
    out.print("Each decision: xinbao decision explain ID; referrals: xinbao decision "
              "queue.")


def explain(application: Application, d: DecisionRecord) -> Group:
    """The decision on one screen: outcome, what decided it, limit, price, score, inputs."""
    b = application.borrower
    name = mask_name(b.name) if b.kind.value == "individual" else b.name
    outcome = d.outcome.value + ("" if d.final else " (waiting for review)")
    head = Table.grid(padding=(0, 2))
    head.add_row("Application", f"{application.id} ({application.external_ref}), "
                 f"{application.product_code} v{application.product_version}, "
                 f"{application.mode.value} insurance")
    head.add_row("Borrower", f"{name}, {mask_id_number(b.id_number)}")
    head.add_row("Loan", f"{format_yuan(application.amount_fen)} yuan asked, "
                 f"{application.term_months} months at {application.annual_rate:.2%}")
    head.add_row("Outcome", f"[{_OUTCOME_STYLE[d.outcome.value]}]{outcome}[/]: "
                 f"{format_yuan(d.approved_fen)} yuan"
                 + (f" at {d.monthly_premium_rate:.4%} a month" if d.monthly_premium_rate
                    else ""))
    head.add_row("Decided", f"{d.decided_on} by {d.decided_by}; rules {d.rule_set_version}, "
                 f"model {d.model}, parameters {d.params_version}")
    findings = Table("stage", "code", "action", "what was found", title="Reasons",
                     title_justify="left", expand=True)
    rank = {"decline": 0, "refer": 1, "pass": 2}
    for f in sorted(d.detail.get("findings", []), key=lambda f: rank.get(f["action"], 3)):
        style = _ACTION_STYLE.get(f["action"], "")
        findings.add_row(f["stage"], f["code"], f"[{style}]{f['action']}[/]", f["detail"])
    parts: list[Any] = [Panel(head, title="Decision", title_align="left"), findings]
    limit = d.detail.get("limit")
    if limit:
        lt = Table("constraint", "allows (yuan)", "basis", title="Limit", title_justify="left",
                   expand=True)
        for c in limit["constraints"]:
            mark = " ◀" if c["code"] in limit["binding"] else ""
            lt.add_row(c["code"] + mark, format_yuan(c["cap_fen"]), c["basis"])
        parts.append(lt)
    price, score, bureau = d.detail.get("price"), d.detail.get("score"), d.detail.get("bureau")
    facts = Table.grid(padding=(0, 2))
    if score:
        facts.add_row("Score", f"PD {Decimal(score['pd']):.2%}, score {score['score']}, "
                      f"model {score['model']}; costs most: "
                      f"{', '.join(score['reasons']) or 'nothing'}")
    if price:
        facts.add_row("Price", f"expected loss {Decimal(price['expected_loss']):.4%} + expenses "
                      f"{Decimal(price['expense_loading']):.4%} + capital "
                      f"{Decimal(price['cost_of_capital']):.4%} + margin "
                      f"{Decimal(price['margin']):.4%} = {Decimal(price['technical_rate']):.4%}"
                      f"; charged {Decimal(price['annual_rate']):.4%} a year; borrower's all-in "
                      f"cost {Decimal(price['all_in_cost']):.2%} (cap "
                      f"{Decimal(price['cost_cap']):.0%})")
    if bureau:
        r = bureau.get("report")
        facts.add_row("Bureau", f"{_bureau_name(d.bureau_source)}: {bureau['status']}" + (
            f": report {r['report_id']}, score {r['score']}, {r['inquiries_6m']} inquiries "
            f"in 6 months, {format_yuan(r['monthly_debt_fen'])} yuan a month due, "
            f"{r['standing']}" if r else "") + (" (cached)" if bureau.get("cached") else ""))
    if d.detail.get("collateral"):
        c = d.detail["collateral"]
        facts.add_row("Collateral", f"{c['explanation']}: {format_yuan(c['value_fen'])} yuan, "
                      f"LTV up to {c['max_ltv']}")
    for r in d.reviews:
        facts.add_row("Review", f"{r.on} {r.actor}: {r.verdict} — {r.note}")
    parts.append(facts)
    return Group(*parts)


def _bureau_name(source: str) -> str:
    """Which bureau answered, said plainly when it was the simulated one."""
    if not source:
        return "bureau not named"
    if source.partition("/")[0] == SIMULATED_BUREAU:
        return f"{source} (simulated: not a real credit report)"
    return source


@decision_app.command("explain")
def decision_explain(application_id: int,
                     user: UserOption = None, database_url: DbOption = None) -> None:
    """Why an application was approved, referred or declined, on one screen."""
    container = container_for(database_url, user=user)
    with use_case():
        application, record = referrals.get_decision(container.uow(), application_id)
    out.print(explain(application, record))


@decision_app.command("queue")
def decision_queue(limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
                   user: UserOption = None,
                   database_url: DbOption = None) -> None:
    """Referrals waiting for review, oldest first."""
    container = container_for(database_url, user=user)
    with use_case():
        pending = referrals.referral_queue(container.uow(), limit=limit)
    table = Table("application", "since", "proposed (yuan)", "PD", "reasons",
                  title=f"{len(pending)} referral(s) waiting")
    for d in pending:
        deciding = [f["code"] for f in d.detail.get("findings", []) if f["action"] != "pass"]
        waiting = " (1 of 2 approvals)" if d.pending_second_approval else ""
        table.add_row(str(d.application_id), str(d.decided_on), format_yuan(d.approved_fen),
                      f"{d.pd:.2%}" if d.pd is not None else "", ", ".join(deciding) + waiting)
    out.print(table)


@decision_app.command("review")
def decision_review(
    application_id: int,
    approve: Annotated[bool, typer.Option("--approve/--decline",
                                          help="Approve the proposal, or decline.")],
    note: Annotated[str, typer.Option(help="Why (kept in the audit trail).")],
    on: OnOption = None, user: UserOption = None, database_url: DbOption = None,
) -> None:
    """Approve or decline a referral; an approval beyond your authority waits for a second
    approver."""
    container = container_for(database_url, user=user)
    with use_case():
        result = referrals.review_application(referrals.ReviewApplication(
            application_id, approve, business_date(on), note), container.uow(),
            container.risk, approval.quote)
    if result.awaiting_second_approver:
        out.print(f"Recommended {application_id} for approval; it needs a second approver "
                  "with the authority for this amount.")
    else:
        out.print(f"Application {application_id}: {result.application.status.value}.")


@blacklist_app.command("add")
def blacklist_add(field: Annotated[str, typer.Option(help="id_number, phone, bank_card, "
                                                          "device_id, address or employer")],
                  reason: Annotated[str, typer.Option(help="Why it is listed.")],
                  on: OnOption = None,
                  user: UserOption = None, database_url: DbOption = None) -> None:
    """List a value (read from standard input, so it stays out of shell history)."""
    import sys

    value = sys.stdin.readline().strip()
    container = container_for(database_url, user=user)
    with use_case():
        added = lists.add_to_blacklist(
            lists.ListValue(field, value, reason, business_date(on)), container.uow())
    out.print("Listed." if added else "Already listed; reason updated.")


@blacklist_app.command("remove")
def blacklist_remove(field: Annotated[str, typer.Option()],
                     reason: Annotated[str, typer.Option(help="Why it is taken off.")],
                     on: OnOption = None,
                     user: UserOption = None, database_url: DbOption = None) -> None:
    """Take a value (read from standard input) off the list."""
    import sys

    value = sys.stdin.readline().strip()
    container = container_for(database_url, user=user)
    with use_case():
        removed = lists.remove_from_blacklist(
            lists.ListValue(field, value, reason, business_date(on)), container.uow())
    out.print("Removed." if removed else "It was not listed.")
    if not removed:
        raise typer.Exit(3)


@blacklist_app.command("list")
def blacklist_list( user: UserOption = None, database_url: DbOption = None) -> None:
    """The listed entries (field, the start of the blind index, reason, who and when)."""
    container = container_for(database_url, user=user)
    with use_case():
        entries = lists.blacklist_entries(container.uow())
    table = Table("id", "field", "index", "reason", "added", "by")
    for e in entries:
        table.add_row(str(e.id), e.field, e.key_prefix + "…", e.reason, str(e.added_on),
                      e.added_by)
    out.print(table)


@limits_app.command("show")
def limits_show(top: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 20,
                user: UserOption = None,
                database_url: DbOption = None) -> None:
    """Each limit's cap and use, fullest first."""
    container = container_for(database_url, user=user)
    with use_case():
        basis, counters = decisions.limit_usage(container.uow())
    if basis is None:
        out.print("No limits set yet: they are set at the first decision, or run "
                  "`xinbao limits refresh`.")
        return
    def table_of(rows: list, title: str) -> Table:
        table = Table("limit", "key", "used (yuan)", "cap (yuan)", "used", title=title)
        for c in rows:
            key = c.key if c.dimension != "obligor" else c.key[:12] + "…"
            share = f"{c.used_fen / c.cap_fen:.1%}" if c.cap_fen else "no room"
            table.add_row(c.dimension, key, format_yuan(c.used_fen), format_yuan(c.cap_fen),
                          share)
        return table

    portfolio = [c for c in counters if c.dimension != "obligor"]
    obligors = [c for c in counters if c.dimension == "obligor"]
    out.print(table_of(portfolio[:top], f"Portfolio limits, net assets "
                                        f"{format_yuan(basis)} yuan"))
    retained = next((c.used_fen for c in counters if c.dimension == exposure.RETAINED), 0)
    ceded = treaties().quota_share_on(date.today())
    out.print(f"Retained liability {format_yuan(retained)} yuan; net of the quota share in "
              f"force ({ceded:.0%} ceded) "
              f"{format_yuan(retained - exposure.retained_fen(retained, ceded))} yuan. The "
              "limits count the gross.")
    out.print(table_of(obligors[:top], f"The {min(top, len(obligors))} fullest of "
                                       f"{len(obligors):,} obligors (blind index)"))


@limits_app.command("refresh")
def limits_refresh(on: OnOption = None,
                   user: UserOption = None, database_url: DbOption = None) -> None:
    """Recount the limits from the book and set the caps from today's net assets."""
    container = container_for(database_url, user=user)
    with use_case():
        counters = decisions.refresh_limits(container.uow(), container.risk.params.limits,
                                            business_date(on))
    out.print(f"Recounted {len(counters):,} limit counters.")


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

    try:
        frame = (pl.read_parquet(data) if data.suffix.lower() in (".parquet", ".pq")
                 else pl.read_csv(data, infer_schema_length=10_000))
    except (pl.exceptions.PolarsError, OSError) as exc:
        err.print(f"[bold red]Refused[/]: cannot read {data}: {type(exc).__name__}")
        raise typer.Exit(2) from None
    spec = TrainingSpec(target=target, features=tuple(feature or ()),
                        categorical=tuple(categorical or ()), monotonic=tuple(monotonic or ()),
                        test_share=test_share, seed=seed)
    try:
        with common.out.status(f"Training on {frame.height:,} rows"):  # --out is a path here
            result = train(frame, spec)
    except TrainingDataError as exc:
        err.print(f"[bold red]Refused[/]: {exc}")
        raise typer.Exit(2) from None
    folder, doc = model_store.save(result, spec, data, out or _models_dir(), name)
    table = Table("model", "AUC", "KS", "Gini", title=f"{name} {folder.name}")
    for label, v in (("scorecard, train", result.train), ("scorecard, test", result.test),
                     ("challenger, test", result.challenger_test)):
        table.add_row(label, f"{v.auc:.4f}", f"{v.ks:.4f}", f"{v.gini:.4f}")
    common.out.print(table)
    common.out.print(f"PSI train/test {result.psi_train_test:.4f}. Model and report: {folder}")


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
    out.print(table)
    if assignment.champion is None:
        out.print("No champion: decisions use the fallback bureau-score PD.")


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

    try:
        done = ModelRegistry(root or _models_dir()).promote(
            ref, role="challenger" if challenger else "champion", share=share,
            by=f"cli:{getpass.getuser()}")
    except RegistryError as exc:
        err.print(f"[bold red]Refused[/]: {exc}")
        raise typer.Exit(2) from None
    out.print(f"Champion {done.champion}" + (
        f"; challenger {done.challenger} on {done.challenger_share} % of applications"
        if done.challenger else ""))
