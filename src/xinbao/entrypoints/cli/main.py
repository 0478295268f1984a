"""The root ``xinbao`` command: every area's commands under one Typer application."""

from __future__ import annotations

import typer

from xinbao.entrypoints.cli import (
    catalogue,
    compliance,
    db,
    iam,
    ledger,
    reporting,
    risk,
    serve,
    simulation,
    underwriting,
)

app = typer.Typer(help="Xinbao 信保: financing credit & guarantee insurance core system.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(db.db_app, name="db")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(catalogue.products_app, name="products")
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
reporting.register(app)
simulation.register(app)
serve.register(app)


def main() -> None:
    app()
