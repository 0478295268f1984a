"""``xinbao serve``: the REST API and the console under uvicorn, in one process or several."""

from __future__ import annotations

import copy
import os
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from xinbao.entrypoints.cli.common import DatabaseUrl, container_for, err, out, safe_url


def server_log_config() -> dict[str, Any]:
    """uvicorn's logging, with its lines redacted like ours. Its access log is off
    (``access_log=False``): the application writes its own, cheaper, in the same format
    (``create_app(access_log=...)``, ``platform/log_writer.py``)."""
    import uvicorn.config

    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["filters"] = {"redact": {"()": "xinbao.platform.redaction.RedactingFilter"}}
    for handler in log_config["handlers"].values():
        handler["filters"] = ["redact"]
    return log_config


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
    container = container_for(database_url, upgrade=True)
    out.print(f"Serving {safe_url(container)} on http://{host}:{port} with {workers} "
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


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root command."""
    app.command("serve")(serve)
