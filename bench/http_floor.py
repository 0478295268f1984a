"""The HTTP stack's own ceiling: requests/s that do no work, next to an authenticated request
of the real API (printed, never asserted).

    .venv/bin/python bench/http_floor.py [--requests 6000] [--concurrency 16]
    .venv/bin/python bench/http_floor.py --smoke   # every row, 100 requests, 2 connections

Each row is a server in its own process (uvicorn, as ``xinbao serve`` runs it) and the load
generator of ``bench/loadgen.py`` in another, on loopback:

1. a bare FastAPI application: one POST route that validates a small JSON body and answers
   a small model;
2. the same with Xinbao's three middlewares (body size cap, per-IP limit on the credential
   routes, security headers);
3. ``GET /v1/me`` of the real application on a fresh SQLite database: the bearer token is
   checked and the client read from the database, then a small answer;
4. ``POST /v1/applications/{id}/approve`` of the real application, through the decision
   lane (``entrypoints/api/lane.py``: token, rate limit, the batcher's hand-off, the
   answer, the access log), with the decision itself answered from memory: one application
   is decided for real, and every request gets that decision back. What a decision request
   costs beyond the decision, and so the ceiling of one server process's decisions/s.

Whatever a request costs comes on top of row 3 when FastAPI routes it. An API client's
approve request skips FastAPI's routing and row 3's worker thread: row 4.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import loadgen  # bench/loadgen.py, next to this script

_MINIMAL = """
import sys
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()
if sys.argv[2] == "middlewares":
    from xinbao.entrypoints.api.hardening import (
        BodySizeLimit, IpRateLimit, RateLimiter, SecurityHeaders)
    app.add_middleware(BodySizeLimit, max_bytes=1 << 20)
    app.add_middleware(IpRateLimit, limiter=RateLimiter(1, 10), paths=("/oauth/token",))
    app.add_middleware(SecurityHeaders)

class In(BaseModel):
    on: str | None = None

class Out(BaseModel):
    id: int
    outcome: str

@app.post("/echo/{item}", response_model=Out)
async def echo(item: int, body: In) -> Out:
    return Out(id=item, outcome="approve")

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


_LANE = """
import sys

import uvicorn

from xinbao.bootstrap import bootstrap
from xinbao.config import Settings
from xinbao.entrypoints.api.app import create_app, settle
from xinbao.entrypoints.cli.serve import server_log_config
from xinbao.risk import approval

decide, first = approval.approve_applications, []


def remembered(cmd, uow, engine):  # the first batch decided for real, then its first answer
    if not first:
        first.extend(decide(cmd, uow, engine))
    return [first[0]] * len(cmd.application_ids)


approval.approve_applications = remembered
container = bootstrap(Settings.from_env(), upgrade=False)
app = create_app(container, access_log=sys.stdout)
settle(container)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            log_config=server_log_config(), server_header=False, access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no server on port {port}")


@contextlib.contextmanager
def _running(server: subprocess.Popen, work: Path, log: Path) -> Iterator[None]:
    """Stop the server afterwards; if the row failed, say where its folder and log are."""
    try:
        yield
    except BaseException:
        print(f"Work folder kept: {work} (server log: {log})", file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(10)


def _token(port: int, client_id: str, secret: str) -> str:
    """An access token of the API client (OAuth2 client credentials)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/oauth/token", f"grant_type=client_credentials&client_id="
                 f"{client_id}&client_secret={secret}",
                 {"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(conn.getresponse().read())["access_token"]


def _row(label: str, port: int, requests: list[bytes], concurrency: int) -> None:
    loadgen.measure(port, requests[:200], concurrency)  # warm-up
    run = loadgen.measure(port, requests, concurrency)
    print(f"{label}: {len(requests) / run.seconds:,.0f} requests/s; latency "
          f"{loadgen.summary(run.latencies)}; errors {len(run.errors)}"
          + (f" (first: {run.errors[0]})" if run.errors else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--smoke", action="store_true",
                        help="100 requests a row on 2 connections: every row's servers and "
                             "load generator in seconds")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.concurrency = 100, 2
    work = Path(tempfile.mkdtemp(prefix="xinbao-bench-http-"))
    script = work / "minimal.py"
    script.write_text(_MINIMAL)
    for variant in ("bare", "middlewares"):
        port = _free_port()
        server = subprocess.Popen([sys.executable, str(script), str(port), variant],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(port)
            body = [loadgen.post(port, f"/echo/{i}", {"on": "2025-03-01"})
                    for i in range(args.requests)]
            _row(f"FastAPI, {variant}", port, body, args.concurrency)
        finally:
            server.terminate()
            server.wait(10)

    env = {**os.environ, "XINBAO_DATABASE_URL": f"sqlite:///{work / 'x.db'}",
           "XINBAO_SECRETS_FILE": str(work / "secrets.toml"),
           "XINBAO_MODELS_DIR": str(work / "models"), "XINBAO_LOG_LEVEL": "WARNING",
           "XINBAO_RATE_LIMIT_PER_SECOND": "1000000", "XINBAO_RATE_LIMIT_BURST": "1000000"}
    xinbao = str(Path(sys.executable).parent / "xinbao")
    subprocess.run([xinbao, "db", "upgrade"], env=env, check=True, capture_output=True)
    added = subprocess.run([xinbao, "clients", "add", "bench-me", "--name", "bench",
                            "--role", "underwriter"], env=env, check=True,
                           capture_output=True, text=True)
    secret = added.stdout.strip().splitlines()[-1].strip()
    port = _free_port()
    server = subprocess.Popen([xinbao, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=(work / "server.log").open("w"))
    with _running(server, work, work / "server.log"):
        _wait(port)
        token = _token(port, "bench-me", secret)
        me = (f"GET /v1/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
              f"Authorization: Bearer {token}\r\n\r\n").encode()
        _row("Xinbao GET /v1/me (token, client read, access log)", port,
             [me] * args.requests, args.concurrency)
    _lane_row(work, env, args.requests, args.concurrency)
    shutil.rmtree(work, ignore_errors=True)


def _lane_row(work: Path, env: dict[str, str], n: int, concurrency: int) -> None:
    """Row 4: approve requests through the decision lane, decisions answered from memory."""
    import decisions  # bench/decisions.py, next to this script

    lane = work / "lane"
    lane.mkdir()
    env = {**env, "XINBAO_DATABASE_URL": f"sqlite:///{lane / 'x.db'}",
           "XINBAO_SECRETS_FILE": str(lane / "secrets.toml"),
           "XINBAO_MODELS_DIR": str(lane / "models")}
    os.environ.update(env)
    client_id, secret = decisions.prepare(env["XINBAO_DATABASE_URL"], lane, 1, False)
    script = lane / "lane.py"
    script.write_text(_LANE)
    port = _free_port()
    server = subprocess.Popen([sys.executable, str(script), str(port)], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=(lane / "server.log").open("w"))
    with _running(server, work, lane / "server.log"):
        _wait(port)
        token = _token(port, client_id, secret)
        approve = decisions.requests(port, token, [1] * n, 1)
        loadgen.measure(port, approve[:200], concurrency)  # warm-up (and the real decision)
        before = loadgen.tree_cpu_seconds(server.pid)
        run = loadgen.measure(port, approve, concurrency)
        after = loadgen.tree_cpu_seconds(server.pid)
        print(f"Xinbao decision lane, decisions from memory (token, rate limit, batcher, "
              f"answer, access log): {n / run.seconds:,.0f} requests/s; latency "
              f"{loadgen.summary(run.latencies)}; errors {len(run.errors)}"
              + (f" (first: {run.errors[0]})" if run.errors else "")
              + (f"; server CPU {(after - before) / n * 1000:.2f} ms a request"
                 if before is not None and after is not None else ""), flush=True)


if __name__ == "__main__":
    main()
