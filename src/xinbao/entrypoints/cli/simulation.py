"""``xinbao simulate|demo``: run a simulated market through the use cases into a fresh
database, with its ground truth and an HTML report. The simulator acts as
``system:simulator``."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from xinbao.batch import services as batch
from xinbao.batch.model import BUCKET_LABELS, TIER_LABELS
from xinbao.batch.store import ParquetSnapshots
from xinbao.bootstrap import risk_engine
from xinbao.claims import queries as claim_queries
from xinbao.claims.model import ServiceLevel
from xinbao.entrypoints.cli.common import (
    container_for,
    err,
    kpi_rows,
    kpi_table,
    out,
    print_service_levels,
    safe_url,
)
from xinbao.iam.model.security import system
from xinbao.kernel.money import format_yuan
from xinbao.reporting import services as reporting
from xinbao.simulation.bureau import SimulatedBureau
from xinbao.simulation.scenario import Scenario


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
              history: int = 0, *, overwrite: bool = False) -> None:
    """Run a scenario into a fresh database; write the ground truth and the HTML report.
    With ``history``, a champion scorecard is first trained on that many simulated past
    loans; without, decisions use the fallback bureau-score PD. An existing SQLite file is
    deleted first only with ``overwrite``."""
    from xinbao.analytics.portfolio import monthly_statement, summary_by, to_frame, vintage_curves
    from xinbao.parameters import load_product_catalogue
    from xinbao.reporting.html import write_report
    from xinbao.simulation.runner import run_market

    url = database_url or f"sqlite:///{out_dir / 'xinbao.db'}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if Path(parsed.database).exists() and not overwrite:
            err.print(f"[bold red]Refused[/]: {escape(parsed.database)} exists; pass "
                      "--overwrite to replace it.", soft_wrap=True)
            raise typer.Exit(2)
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    # The simulation's snapshots live beside its database: a replaced database must not
    # find the days of the one before it (the early warnings compare a day with the last).
    snapshots = ParquetSnapshots(out_dir / "snapshots")
    if overwrite:
        shutil.rmtree(snapshots.root, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    models = out_dir / "models"
    container = container_for(url, upgrade=True, models_dir=models)
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
        actor = system("simulator")
        result = run_market(scenario, lambda: container.uow(actor),
                            load_product_catalogue(), engine=engine, bureau=bureau,
                            progress=lambda done, total: progress.update(
                                task, completed=done, total=total),
                            snapshot=lambda day: batch.snapshot_day(
                                container.uow(actor), snapshots, day,
                                container.classification, container.early_warning))
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
    figures = kpi_rows(k)
    taken = result.last_snapshot
    if taken is not None:
        by_tier = " · ".join(f"{t} {taken.by_tier.get(t, 0):,}" for t in TIER_LABELS.values())
        by_bucket = " · ".join(f"{b} {taken.by_bucket.get(b, 0):,}" for b in BUCKET_LABELS)
        out.print(f"Snapshot of {taken.on} ({result.snapshots} kept in {snapshots.root}): "
                  f"{taken.loans:,} insured loans, {taken.overdue:,} overdue; by class "
                  f"{by_tier}; by bucket {by_bucket}.")
        figures += [(f"Loans by class on {taken.on}", by_tier),
                    (f"Loans by bucket on {taken.on}", by_bucket)]
    levels = claim_queries.claim_service_levels(container.uow())
    figures += [
        ("Claims approved automatically / by claims staff / declined",
         f"{result.claims_automatic:,} / {result.claims_reviewed:,} / "
         f"{result.claims_declined:,}"),
        ("Claim notices from funders · payment batches (statements)",
         f"{result.claim_notices:,} · {result.settlements:,}"),
        ("Policies cancelled in the cooling-off period · treaty accounts closed",
         f"{result.cancellations:,} · {result.reinsurance_closes:,} month ends"),
        ("Funders' premium statements settled",
         f"{result.premium_settlements:,}"),
        ("Partial prepayments · loans restructured (with the insurer's consent)",
         f"{result.partial_prepayments:,} · {result.restructures:,} "
         f"({result.restructures_consented:,})"),
        ("Days from trigger to decision / to payment (mean, all claims)",
         f"{_mean_days(levels, 'decision')} / {_mean_days(levels, 'payment')}")]
    report_path = out_dir / "report.html"
    write_report(
        report_path, title=f"信保 Xinbao · {scenario.name}", subtitle=title, kpis=figures,
        monthly=monthly_statement(reporting.ledger_by_month(container.uow())),
        vintages=vintage_curves(reporting.policy_vintages(container.uow()), result.end))
    out.print(f"Repayments {result.repayments:,}, prepayments {result.prepayments:,}, claim "
              f"notices {result.claim_notices:,}, claims opened {result.claims_opened:,} "
              f"(approved automatically {result.claims_automatic:,}, by claims staff "
              f"{result.claims_reviewed:,}; declined {result.claims_declined:,}), paid "
              f"{result.claims_paid:,} in {result.settlements:,} payment batches with their "
              f"statements, recoveries {result.recoveries:,}; policies cancelled "
              f"{result.cancellations:,}; partial prepayments "
              f"{result.partial_prepayments:,}; loans restructured {result.restructures:,} "
              f"({result.restructures_consented:,} with consent); funders' premium "
              f"statements settled {result.premium_settlements:,}; reinsurance accounts "
              f"closed at "
              f"{result.reinsurance_closes:,} month ends.")
    print_service_levels(levels)
    out.print(f"Report: {report_path}   Ground truth: {truth_path}")
    out.print(f"Database: {safe_url(container)} — browse it with "
              f"`XINBAO_DATABASE_URL={url} xinbao serve`")
    if k.trial_balance.total != 0:
        err.print("[red]Trial balance is not zero[/]")
        raise typer.Exit(1)


ScenarioOption = Annotated[str, typer.Option(
    "--scenario", help="Scenario file, or a shipped one: base, downturn, stress2019.")]


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
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Delete an existing SQLite database (OUT/xinbao.db or the "
                            "--database-url file) first; without it, the run is refused.")]
    = False,
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
    _simulate(chosen, out_dir or Path("out") / chosen.name, database_url, history,
              overwrite=overwrite)


def demo(
    applications: Annotated[int | None, typer.Option(min=1, help="Override the volume.")] = None,
    months: Annotated[int | None, typer.Option(min=1, max=120, help="Override the months.")]
    = None,
) -> None:
    """The base market: 20,000 applications over 24 months into out/demo (SQLite); the
    previous demo's database there is replaced."""
    simulate(scenario="base", applications=applications, months=months, seed=None,
             out_dir=Path("out") / "demo", database_url=None, history=30_000, overwrite=True)


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and ``demo`` to the root command."""
    app.command("simulate")(simulate)
    app.command("demo")(demo)


def _mean_days(levels: Sequence[ServiceLevel], which: str) -> str:
    """The mean days over every funder and product, weighted by their claims."""
    pairs = [(getattr(x, f"{which}_days_mean"), x.decided if which == "decision" else x.paid)
             for x in levels]
    total = sum(n for mean, n in pairs if mean is not None)
    if not total:
        return "—"
    return f"{sum(mean * n for mean, n in pairs if mean is not None) / total:.1f}"
