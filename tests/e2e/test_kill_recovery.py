"""Killed at any point, then run again, the funder's file and the end-of-day batch end in
exactly the state of an uninterrupted run (issue 21), on SQLite and PostgreSQL.

Two identical books: on one, ``xinbao feed load`` and ``xinbao eod run`` run once each,
undisturbed (in process); on the other, each runs as its own process and is killed with
SIGKILL at random moments (``KILLS`` times each, 20 in all by default), then run to the end.
The books are then compared row by row, ids of journal entries aside (a killed transaction
may have spent sequence values): repayments, the journal's entries and lines, claims,
loans, policies, the files applied, the events, and the day's snapshot.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select
from stdnum.cn import ric
from typer.testing import CliRunner

from tests import builders as b
from tests import support
from tests.conftest import BACKENDS, provision
from xinbao.batch import tables as batch_tables
from xinbao.bootstrap import bootstrap
from xinbao.claims import tables as claims_tables
from xinbao.entrypoints.cli.main import app
from xinbao.ledger import tables as ledger_tables
from xinbao.loans import tables as loans_tables
from xinbao.platform import tables as platform_tables
from xinbao.policy import tables as policy_tables

KILLS = int(os.environ.get("XINBAO_KILLS", "10"))  # each for the file and for the batch
LOANS = 12
DAY = date(2025, 7, 10)  # loans 3 months late are past the 80 days of the trigger
XINBAO = [sys.executable, "-m", "xinbao.entrypoints.cli"]


@pytest.fixture(params=BACKENDS)
def books(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(undisturbed, killed): two migrated databases of one backend, the same book in each."""
    with ExitStack() as stack:
        urls = []
        for name in ("calm", "killed"):
            folder = tmp_path / name
            folder.mkdir()
            url = stack.enter_context(provision(request.param, request, folder))
            _book(url)
            urls.append(url)
        yield urls[0], urls[1]


def _book(url: str) -> None:
    container = bootstrap(support.settings(url))
    container.risk = b.engine()
    b.seed(container.uow)
    for n in range(LOANS):
        body = f"11010519800101{n:03d}"  # a borrower each: a borrower's cover is capped
        b.issued_policy(container.uow, b.consumer_application(
            external_ref=f"APP-{n:04d}",
            borrower_id_number=body + ric.calc_check_digit(body + "0")))
    container.close()


def _file(folder: Path, url: str) -> Path:
    """Each loan's first three installments paid, but for every third loan after the first:
    those stop paying and reach the claim trigger by ``DAY``."""
    container = bootstrap(support.settings(url))
    lines = ["contract_no,installment_number,paid_on,principal,interest,reference"]
    with container.uow() as uow:
        for loan_id in range(1, LOANS + 1):
            loan = uow.loans.get(loan_id)
            assert loan is not None
            for i in loan.installments[: 1 if loan_id % 3 == 0 else 3]:
                lines.append(f"{loan.contract_no},{i.number},{i.due_date},"
                             f"{i.principal_fen / 100:.2f},{i.interest_fen / 100:.2f},"
                             f"TX-{loan_id}-{i.number}")
    container.close()
    path = folder / "repayments.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "repayments.csv.manifest.json").write_text(json.dumps({
        "type": "repayments", "funder": "BANK-A", "business_date": DAY.isoformat(),
        "rows": len(lines) - 1}), encoding="utf-8")
    return path


def _commands(path: Path, url: str) -> list[list[str]]:
    return [["feed", "load", str(path), "--funder", "BANK-A", "--database-url", url],
            ["eod", "run", "--date", DAY.isoformat(), "--database-url", url]]


def _killed(args: list[str], env: dict[str, str], rng: random.Random) -> int:
    """Run the command ``KILLS`` times, killed at a random moment, then to the end; how many
    of the runs were still going when killed."""
    interrupted = 0
    for _ in range(KILLS):
        process = subprocess.Popen([*XINBAO, *args], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(1.5, 3.5))  # the import takes about 2 s, the work 1 to 2 s
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            interrupted += 1
        process.wait()
    done = subprocess.run([*XINBAO, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return interrupted


def _state(url: str, snapshots: Path) -> dict[str, object]:
    container = bootstrap(support.settings(url))
    e, ln = ledger_tables.journal_entries, ledger_tables.journal_lines
    r, c = loans_tables.repayments, claims_tables.claims
    loans, policies = loans_tables.loans, policy_tables.policies
    f, ev = batch_tables.feed_files, platform_tables.domain_events
    with container.engine.connect() as conn:
        lines: dict[int, list[tuple[str, int]]] = {}
        for entry_id, account, amount in conn.execute(
                select(ln.c.entry_id, ln.c.account, ln.c.amount_fen)):
            lines.setdefault(entry_id, []).append((account, amount))
        state: dict[str, object] = {
            "repayments": sorted(conn.execute(select(
                r.c.loan_id, r.c.installment_number, r.c.paid_on, r.c.principal_fen,
                r.c.interest_fen, r.c.reference)).all()),
            "journal": sorted((row.source_command, row.idempotency_key, row.reference,
                               row.posted_on, tuple(sorted(lines.get(row.id, []))))
                              for row in conn.execute(select(e))),
            "claims": sorted(conn.execute(select(c.c.policy_id, c.c.status, c.c.opened_on,
                                                 c.c.principal_fen, c.c.interest_fen)).all()),
            "loans": sorted(conn.execute(select(loans.c.id, loans.c.status,
                                                loans.c.first_unpaid_due_date,
                                                loans.c.principal_paid_fen)).all()),
            "policies": sorted(conn.execute(select(policies.c.id, policies.c.status)).all()),
            "files": sorted((row.content_hash, row.rows, json.dumps(row.report, sort_keys=True))
                            for row in conn.execute(select(f))),
            "events": sorted(conn.execute(select(ev.c.name, ev.c.aggregate,
                                                 ev.c.aggregate_id)).all()),
        }
    container.close()
    state["snapshot"] = pl.read_parquet(
        snapshots / f"date={DAY.isoformat()}" / "loans.parquet").rows()
    return state


def test_killed_at_random_then_run_again_ends_as_an_undisturbed_run(books, tmp_path):
    calm, killed = books
    file = _file(tmp_path, calm)
    for args in _commands(file, calm):
        ran = CliRunner().invoke(app, args, env={"XINBAO_SNAPSHOT_DIR": str(tmp_path / "a")})
        assert ran.exit_code == 0, ran.output
    env = {**os.environ, "XINBAO_SNAPSHOT_DIR": str(tmp_path / "b"),
           "XINBAO_LOG_LEVEL": "WARNING"}
    rng = random.Random(20)
    interrupted = [_killed(args, env, rng) for args in _commands(file, killed)]

    assert all(n >= KILLS // 4 for n in interrupted), interrupted  # not all ran to the end
    expected, got = _state(calm, tmp_path / "a"), _state(killed, tmp_path / "b")
    assert expected["claims"], "the book should reach the claim trigger"
    assert {k: v for k, v in got.items() if v != expected[k]} == {}
