"""Costs of the security layer, printed (never asserted).

    .venv/bin/python bench/security.py                 # on a copy of out/demo/xinbao.db
    .venv/bin/python bench/security.py --sqlite PATH   # on a copy of another SQLite book
    .venv/bin/python bench/security.py --smoke         # on a small book made first

Prints: verifying the audit trail (records a second), encrypting and decrypting personal
data (values a second), the blind index, verifying an access token, and an authenticated
API request end to end (requests a second, in process).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from xinbao.bootstrap import bootstrap
from xinbao.compliance import services as audit
from xinbao.config import Settings
from xinbao.iam import services as accounts


def rate(label: str, n: int, seconds: float, unit: str) -> None:
    print(f"{label:<34} {n:>10,} {unit} in {seconds:7.2f} s = {n / seconds:>12,.0f} /s")


def small_book(folder: Path) -> Path:
    """A book of the base market's first 150 applications over 3 months (``--smoke``)."""
    from xinbao.entrypoints.cli import simulation

    os.environ.setdefault("XINBAO_LOG_LEVEL", "WARNING")  # as the measured part runs
    simulation.simulate(scenario="base", applications=150, months=3, seed=None,
                        out_dir=folder, database_url=None, history=0)
    return folder / "xinbao.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, default=Path("out/demo/xinbao.db"),
                        help="a book made by `make demo` or `xinbao simulate` (left untouched)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true",
                        help="on a small book simulated first (150 applications, 3 months), "
                             "50 requests and 500 values: every figure in seconds")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xinbao-bench-"))
    values_n = 20_000
    if args.smoke:
        args.sqlite, args.requests, values_n = small_book(work / "small"), 50, 500
    elif not args.sqlite.exists():
        shutil.rmtree(work)
        parser.error(f"{args.sqlite} does not exist: run `make demo` first")
    shutil.copy(args.sqlite, work / "book.db")
    settings = replace(Settings.from_env(), database_url=f"sqlite:///{work / 'book.db'}",
                       log_level="WARNING", rate_limit_burst=10**9,
                       rate_limit_per_second=10**9)
    c = bootstrap(settings, upgrade=True)

    started = time.perf_counter()
    report = audit.verify_trail(c.uow())
    rate("audit verify", report.records, time.perf_counter() - started, "records")
    print(f"{'':<34} intact: {report.intact}")

    values = [f"1101051949123{i:05d}" for i in range(values_n)]
    started = time.perf_counter()
    tokens = [c.cipher.encrypt(v, field="borrower_id_number") for v in values]
    rate("AES-GCM encrypt", len(values), time.perf_counter() - started, "values")
    started = time.perf_counter()
    for t in tokens:
        c.cipher.decrypt(t, field="borrower_id_number")
    rate("AES-GCM decrypt", len(values), time.perf_counter() - started, "values")
    started = time.perf_counter()
    for v in values:
        c.cipher.blind_index(v, field="borrower_id_number")
    rate("blind index (HMAC-SHA256)", len(values), time.perf_counter() - started, "values")

    now = datetime.now(UTC).replace(tzinfo=None)
    client_id = f"bench-{int(time.time())}"
    started = time.perf_counter()
    _, secret = accounts.add_client(accounts.AddClient(client_id, "bench", ["auditor"]),
                                    c.uow(), c.credentials, now=now)
    token = accounts.issue_token(client_id, secret, c.uow(), c.credentials, now=now).token
    print(f"{'client created + token (argon2id x2)':<34} {time.perf_counter() - started:7.3f} s")
    started = time.perf_counter()
    for _ in range(args.requests):
        c.credentials.read_token(token, now)
    rate("token signature + expiry check", args.requests, time.perf_counter() - started,
         "tokens")

    from fastapi.testclient import TestClient

    from xinbao.entrypoints.api.app import create_app

    with TestClient(create_app(c)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        client.get("/v1/me", headers=headers)
        started = time.perf_counter()
        for _ in range(args.requests):
            client.get("/v1/me", headers=headers)
        rate("GET /v1/me (auth, rate limit)", args.requests, time.perf_counter() - started,
             "requests")
        started = time.perf_counter()
        for _ in range(args.requests // 4):
            client.get("/health")
        rate("GET /health (no auth)", args.requests // 4, time.perf_counter() - started,
             "requests")
    c.close()
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
