"""Decisions over HTTP: throughput and latency of ``POST /v1/applications/{id}/approve``
against ``xinbao serve``, from a load generator in a separate process on loopback (printed,
never asserted).

    .venv/bin/python bench/decisions.py [--applications 3000] [--concurrency 8]
                                        [--workers 1] [--batch 1] [--database-url URL]
                                        [--model]
    .venv/bin/python bench/decisions.py --smoke    # 130 applications, 2 connections

Set-up (not timed): a fresh SQLite database (or the empty one given), the shipped catalogue,
a funder, paid-in capital, the applications submitted (each a different borrower), and an
API client of the insurer's operations (underwriting approver). The server runs the real
engine: shipped rules and parameters, the simulated bureau, and the fallback score, or with
``--model`` a champion trained on 20,000 simulated past loans. Each request is a full
decision, persisted (decision record, status, quote, limit counters, audit records) and
committed before the answer. The server's per-client rate limit is lifted for the run (one
client sends everything). On PostgreSQL the set-up ends with ``ANALYZE``, as autovacuum
would within a minute of the bulk load on a running system: without statistics the planner
scans whole tables for the anti-fraud look-ups (seq scans on applications and policies,
seen in ``pg_stat_user_tables``), which a live book never sees.

The load generator is one process with one event loop: ``--concurrency`` keep-alive
connections, each sending its next request when the last is answered. The first hundred
requests warm the server up and are not counted. ``--workers`` starts that many server
processes (``xinbao serve --workers``); ``--batch K`` sends K applications a request to
``POST /v1/applications/approve`` (latency is then a whole request's). The run's folder
(database, server log) is removed afterwards, unless ``--keep`` is given or the run fails.

Where Linux's /proc is there, it also prints the CPU the server's processes spent per
decision (and how many cores that kept busy) and the load generator's CPU per request: once
the cores are busy, throughput is the cores over the CPU a decision.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import loadgen  # bench/loadgen.py, next to this script

ON = "2025-03-01"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _all_started(log: Path, workers: int) -> None:
    """Wait until every server process listens (each logs it once its application is
    loaded): the first answers /health while the others may still be loading, and
    connections opened then would all go to it."""
    said = "Uvicorn running on" if workers == 1 else " listening on http://"
    for _ in range(600):
        if log.read_text().count(said) >= workers:
            return
        time.sleep(0.2)
    raise SystemExit(f"not all {workers} server processes started; see {log}")


def prepare(url: str, work: Path, n: int, model: bool) -> tuple[str, str]:
    """The database with n submitted applications; (client id, secret)."""
    from sqlalchemy import text

    from xinbao.bootstrap import bootstrap
    from xinbao.catalogue import services as catalogue
    from xinbao.catalogue.commands import RegisterFunder
    from xinbao.catalogue.model.parties import FunderKind, PartyKind
    from xinbao.catalogue.model.products import RepaymentMethod
    from xinbao.config import Settings
    from xinbao.iam import services as accounts
    from xinbao.ledger import services as ledger
    from xinbao.ledger.commands import InjectCapital
    from xinbao.parameters import load_product_catalogue
    from xinbao.simulation.identities import IdentityFactory
    from xinbao.underwriting import services as applications
    from xinbao.underwriting.commands import SubmitApplication, SubmitApplicationFile
    from xinbao.underwriting.model import Evidence, EvidenceKind, Profile

    settings = replace(Settings.from_env(), database_url=url)
    c = bootstrap(settings, upgrade=True)
    ledger.inject_capital(InjectCapital(100_000_000_000, date(2025, 1, 1), "capital:bench"),
                          c.uow())
    for cmd in load_product_catalogue():
        catalogue.register_product(cmd, c.uow())
    ids = IdentityFactory(42)
    catalogue.register_funder(RegisterFunder("BANK-A", "示例银行", ids.credit_code(),
                                             FunderKind.BANK, True, Decimal("0.1"),
                                             ("CONSUMER-G",), effective_from=date(2025, 1, 1)),
                              c.uow())
    sha = "ab" * 32
    rows = []
    for i in range(n):
        rows.append(SubmitApplication(
            funder_code="BANK-A", external_ref=f"B-{i:06d}", product_code="CONSUMER-G",
            borrower_kind=PartyKind.INDIVIDUAL, borrower_name=ids.person_name(),
            borrower_id_number=ids.resident_id(born_between=(date(1970, 1, 1),
                                                            date(1998, 1, 1))),
            borrower_phone=ids.phone(), borrower_bank_card=ids.bank_card(),
            amount_fen=ids.rng.randrange(10_000, 80_000) * 100, term_months=12,
            annual_rate=Decimal("0.08"), repayment_method=RepaymentMethod.EQUAL_INSTALLMENT,
            applied_on=date.fromisoformat(ON),
            profile=Profile(monthly_income_fen=ids.rng.randrange(5_000, 40_000) * 100,
                            employment="salaried", device_id=f"DEV-{i}"),
            evidence=(Evidence(EvidenceKind.CONSENT, f"archive://{i}/c", sha),
                      Evidence(EvidenceKind.SALES_RECORDING, f"archive://{i}/s", sha))))
    for lo in range(0, n, 2000):
        applications.submit_application_file(SubmitApplicationFile(tuple(rows[lo:lo + 2000])),
                                             c.uow())
    _, secret = accounts.add_client(
        accounts.AddClient("bench-ops", "bench", ["underwriting_approver"], None), c.uow(),
        c.credentials, now=datetime.now(UTC).replace(tzinfo=None))
    if model:
        from xinbao.parameters import load_collateral_rules
        from xinbao.risk import model_store
        from xinbao.risk.scoring.scorecard import TrainingSpec, train
        from xinbao.simulation import history as h
        from xinbao.simulation.scenario import resolve_scenario

        data = h.draw_history(resolve_scenario("base"), 20_000, load_collateral_rules())
        spec = TrainingSpec(target=h.TARGET, features=h.FEATURES, categorical=h.CATEGORICAL,
                            monotonic=h.MONOTONIC)
        path = work / "history.parquet"
        data.write_parquet(path)
        folder, _ = model_store.save(train(data.drop(h.TRUTH), spec), spec, path,
                                     Path(settings.models_dir), "pd")
        model_store.ModelRegistry(Path(settings.models_dir)).promote(
            f"pd/{folder.name}", role="champion")
    if c.engine.dialect.name == "postgresql":
        with c.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    c.close()
    return "bench-ops", secret


def requests(port: int, token: str, ids: list[int], batch: int) -> list[bytes]:
    """One approve request per application, or one batch request per ``batch`` of them."""
    auth = {"Authorization": f"Bearer {token}"}
    if batch == 1:
        return [loadgen.post(port, f"/v1/applications/{i}/approve", {"on": ON}, auth)
                for i in ids]
    return [loadgen.post(port, "/v1/applications/approve",
                         {"application_ids": ids[lo:lo + batch], "on": ON}, auth)
            for lo in range(0, len(ids), batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (xinbao serve --workers)")
    parser.add_argument("--batch", type=int, default=1,
                        help="applications per request: 1 asks POST /v1/applications/{id}/"
                             "approve, more ask POST /v1/applications/approve")
    parser.add_argument("--model", action="store_true",
                        help="decide with a trained champion instead of the fallback score")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (database, server log) after the run")
    parser.add_argument("--smoke", action="store_true",
                        help="130 applications (100 to warm up), 2 connections: the whole "
                             "path (server, load generator, decisions) in seconds")
    args = parser.parse_args()
    if args.smoke:
        args.applications, args.concurrency = 130, 2
    work = Path(tempfile.mkdtemp(prefix="xinbao-bench-decisions-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    env = {**os.environ, "XINBAO_DATABASE_URL": url,
           "XINBAO_SECRETS_FILE": str(work / "secrets.toml"),
           "XINBAO_MODELS_DIR": str(work / "models"), "XINBAO_LOG_LEVEL": "WARNING",
           "XINBAO_RATE_LIMIT_PER_SECOND": "1000000", "XINBAO_RATE_LIMIT_BURST": "1000000"}
    os.environ.update(env)
    print(f"Preparing {args.applications:,} applications in {url} …", flush=True)
    client_id, secret = prepare(url, work, args.applications, args.model)
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "xinbao"), "serve", "--port", str(port),
         *(["--workers", str(args.workers)] if args.workers > 1 else [])], env=env,
        stdout=subprocess.DEVNULL, stderr=(work / "server.log").open("w"))
    try:
        for _ in range(300):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        _all_started(work / "server.log", args.workers)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/oauth/token",
                     f"grant_type=client_credentials&client_id={client_id}"
                     f"&client_secret={secret}",
                     {"Content-Type": "application/x-www-form-urlencoded"})
        token = json.loads(conn.getresponse().read())["access_token"]
        ids = list(range(1, args.applications + 1))
        warm, rest = ids[:100], ids[100:]
        loadgen.measure(port, requests(port, token, warm, args.batch),
                        args.concurrency)  # the first hundred warm the server up
        sent = requests(port, token, rest, args.batch)
        before = loadgen.tree_cpu_seconds(server.pid)
        run = loadgen.measure(port, sent, args.concurrency)
        after = loadgen.tree_cpu_seconds(server.pid)
        per = ("one application a request" if args.batch == 1
               else f"{args.batch} applications a request")
        print(f"{len(rest):,} decisions over HTTP, {per}, {args.concurrency} connections, "
              f"{args.workers} server process{'es' if args.workers > 1 else ''}, "
              f"{'champion scorecard' if args.model else 'fallback score'}, "
              f"{url.split(':')[0]}: {run.seconds:.1f} s = "
              f"{len(rest) / run.seconds:,.0f} decisions/s; request latency "
              f"{loadgen.summary(run.latencies)}; errors {len(run.errors)}"
              + (f" (first: {run.errors[0]})" if run.errors else ""))
        if before is not None and after is not None:  # where /proc tells
            print(f"CPU: server {(after - before) / len(rest) * 1000:.2f} ms a decision "
                  f"({(after - before) / run.seconds:.2f} cores); load generator "
                  f"{run.cpu_seconds / len(sent) * 1000:.2f} ms a request "
                  f"({run.cpu_seconds / run.seconds:.2f} cores)")
    except BaseException:
        args.keep = True  # what went wrong is in the server's log
        raise
    finally:
        server.terminate()
        server.wait(10)
        if args.keep:
            print(f"Work folder kept: {work} (server log: {work / 'server.log'})",
                  file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
