"""The root ``xinbao`` command: every area's commands under one Typer application."""

from __future__ import annotations

import typer

from xinbao.config import ConfigError
from xinbao.entrypoints.cli import (
    capital,
    catalogue,
    claims,
    compliance,
    db,
    feeds,
    funders,
    iam,
    ledger,
    policy,
    reinsurance,
    reporting,
    risk,
    serve,
    servicing,
    setup,
    simulation,
    underwriting,
)
from xinbao.entrypoints.cli.common import err

app = typer.Typer(help="Xinbao 信保: financing credit & guarantee insurance core system.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(db.db_app, name="db")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(catalogue.products_app, name="products")
app.add_typer(funders.funders_app, name="funders")
app.add_typer(capital.capital_app, name="capital")
app.add_typer(underwriting.applications_app, name="applications")
app.add_typer(iam.users_app, name="users")
app.add_typer(iam.clients_app, name="clients")
app.add_typer(compliance.audit_app, name="audit")
app.add_typer(compliance.keys_app, name="keys")
app.add_typer(compliance.retention_app, name="retention")
app.add_typer(risk.model_app, name="model")
app.add_typer(risk.decision_app, name="decision")
app.add_typer(risk.blacklist_app, name="blacklist")
app.add_typer(risk.limits_app, name="limits")
app.add_typer(policy.policies_app, name="policies")
app.add_typer(servicing.loans_app, name="loans")
app.add_typer(servicing.repayments_app, name="repayments")
app.add_typer(servicing.eod_app, name="eod")
app.add_typer(feeds.feed_app, name="feed")
app.add_typer(claims.claims_app, name="claims")
app.add_typer(claims.recoveries_app, name="recoveries")
app.add_typer(reinsurance.reinsurance_app, name="reinsurance")
setup.register(app)
reporting.register(app)
simulation.register(app)
serve.register(app)


def main() -> None:
    """Run a command; a refused setting is said in one line (exit 2), not a traceback."""
    try:
        app()
    except ConfigError as exc:
        err.print(f"[bold red]Configuration refused[/]: {exc}")
        raise SystemExit(2) from None
