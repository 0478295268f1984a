"""The end-of-day snapshot (``batch.services.snapshot_day``) over a book of insured loans, on
SQLite or PostgreSQL (issue 21): wall time, loans a second, peak memory and the ratio to a
bare Polars aggregation over the same loans, printed (never asserted).

    .venv/bin/python bench/eod_batch.py                          # 1,000,000 loans, SQLite
    .venv/bin/python bench/eod_batch.py --database-url postgresql+psycopg://…/empty
    .venv/bin/python bench/eod_batch.py --loans 1000000,10000000  # growth: each size in turn
    .venv/bin/python bench/eod_batch.py --engine dask --partitions 8
    .venv/bin/python bench/eod_batch.py --smoke                  # 2,000 loans

Set-up (not timed; its time printed, in a process of its own so that the batch's peak
memory is the batch's): the schema migrated (``bootstrap(upgrade=True)``), the shipped
catalogue and four funders through the use cases, then ``--loans`` insured loans written in
bulk, in chunks of 1,000,000 loans (Polars frames; ``COPY`` on PostgreSQL, ``executemany`` on
SQLite), through the real tables: ``applications``, ``policies``, ``insured_loans``,
``loans``, ``installments`` and ``repayments``. Each loan has 12 monthly installments and
started in the business date's month (2025-08-31) or one of the 11 before (so that every
loan is still active);
products CONSUMER-G 60 %, CAR-G 20 %, MORTGAGE-C 15 %, SME-C 5 % (enterprise borrowers: the
non-retail contagion rule), four funders and 16 regions. Borrowers are told apart by their
blind index (``applications.borrower_id_index``): an individual's loan is given one of
loans ÷ 1.2 indexes (some hold two or more loans), an enterprise's one of loans ÷ 200 (about
10 loans each); the encrypted columns hold the same sealed values on every row (the batch
never decrypts). Most loans are current; about 3 % miss their last installment (M1), 1 %
two (M2) … and 0.7 % six or more (M6+); a quarter of the overdue loans paid their first
unpaid installment in part, some of those the next one too (repeated partial payments); 60 %
of the loans four or more installments behind are claimed (their policy and loan
``claimed``: the batch still classifies them). 10 % of the repayments are reported up to 5
days late. Each loan's ``first_unpaid_due_date`` (the earliest installment not paid in full)
and ``principal_paid_fen`` (migration 0013: the principal repaid) agree with its
repayments: the loan state the batch reads. A column added later with a default needs
nothing here; one the batch reads and the default does not answer is filled in
``generate``. The tables' secondary indexes (and on PostgreSQL their foreign keys) are
dropped for the load and put back after it from their own definitions, as a restore does; on
PostgreSQL the sequences are moved past the ids written and the set-up ends with
``ANALYZE``, as autovacuum would.

Timed: ``snapshot_day`` of the business date with the shipped rules (the container's
``classification`` and ``early_warning``, as the CLI's ``xinbao eod run``), into a fresh
snapshot folder, on ``--engine`` over ``--partitions``: its wall time and loans a second,
then the same day again (a rerun: the data warm), and the process's peak resident memory
after both. Then, to split the day, each part again on its own: the book read as the batch
reads it (``uow.book.day``, with the time of each read), the kernels, aggregates and signals
computed from those frames (the compute), and the snapshot written into another folder.
The floor: one group-by of the loans frame read (loans and a sum per funder, bare Polars,
the best of 3), in the same run, and the ratios to it.

A list of sizes runs each in a fresh database (a SQLite file, or a PostgreSQL database
created beside the one given, dropped after) and a process of its own, then prints the
growth table: size, set-up seconds, batch seconds, peak resident memory of the batch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ON = date(2025, 8, 31)  # the business date: a month's last day
TERM = 12
CHUNK = 1_000_000  # loans generated and written at a time
#: (code, share of loans, mode, policyholder, borrower kind, repayment method, amount range
#: in fen, annual rate, premium basis, monthly premium rate, refund method, coverage share)
PRODUCTS = [
    ("CONSUMER-G", 0.60, "guarantee", "debtor", "individual", "equal_principal",
     (300_000, 5_000_000), "0.12", "per_installment", "0.0060", "pro_rata", "1"),
    ("CAR-G", 0.20, "guarantee", "debtor", "individual", "equal_installment",
     (5_000_000, 30_000_000), "0.07", "single", "0.0025", "rule_of_78", "1"),
    ("MORTGAGE-C", 0.15, "credit", "creditor", "individual", "equal_principal",
     (20_000_000, 100_000_000), "0.05", "single", "0.0010", "pro_rata", "0.8"),
    ("SME-C", 0.05, "credit", "creditor", "enterprise", "interest_first",
     (10_000_000, 50_000_000), "0.09", "per_installment", "0.0050", "pro_rata", "0.9"),
]
METHODS = ("equal_principal", "equal_installment", "interest_first")
#: (code, name, kind, share of loans)
FUNDERS = [("BANK-A", "示例银行", "bank", 0.45),
           ("CFC-B", "示例消费金融", "consumer_finance", 0.30),
           ("TRUST-C", "示例信托", "trust", 0.15), ("MICRO-D", "示例小贷", "micro_loan", 0.10)]
REGIONS = ["44", "31", "11", "32", "33", "37", "51", "42", "41", "35", "50", "61", "21", "13",
           "34", "43"]
#: Installments missed (the last ones due), with the share of loans: 0 current, 1 ≈ M1 …
MISSED = [(0, 0.940), (1, 0.03), (2, 0.01), (3, 0.006), (4, 0.004), (5, 0.003),
          (6, 0.004), (8, 0.0025), (11, 0.0005)]


def _month(index: pl.Expr, day: pl.Expr) -> pl.Expr:
    """The date of ``day`` in the month ``index`` (year × 12 + month − 1)."""
    return pl.date(index // 12, index % 12 + 1, day)


def _schedules(principal: np.ndarray, bp: np.ndarray, method: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """Principal and interest of each loan's 12 installments (loans × 12, integer fen; the
    principal sums to the loan's): monthly interest on the balance at ``bp`` basis points a
    year, the principal by method: equal parts, an annuity (equal installments, the payment
    from the annuity factor as a fraction) or all at the end (interest first)."""
    n = principal.shape[0]
    p_out = np.zeros((n, TERM), dtype=np.int64)
    i_out = np.zeros((n, TERM), dtype=np.int64)
    payment = np.zeros(n, dtype=np.int64)
    for rate in np.unique(bp):
        r = Fraction(int(rate), 120_000)
        factor = (r / (1 - (1 + r) ** -TERM)).limit_denominator(1_000_000)
        mine = bp == rate
        payment[mine] = principal[mine] * factor.numerator // factor.denominator
    balance = principal.copy()
    for k in range(TERM):
        interest = balance * bp // 120_000
        last = k == TERM - 1
        part = np.where(method == METHODS.index("equal_principal"), principal // TERM,
                        np.where(method == METHODS.index("equal_installment"),
                                 np.maximum(payment - interest, 0), 0))
        part = balance if last else np.minimum(part, balance)
        p_out[:, k], i_out[:, k] = part, interest
        balance = balance - part
    return p_out, i_out


def generate(lo: int, hi: int, total: int, funder_ids: list[int], sealed: dict[str, str],
             seed: int) -> dict[str, pl.DataFrame]:
    """Loans ``lo + 1`` … ``hi`` of a book of ``total``: the rows of each table, as frames
    (vectorized: no Python loop a loan)."""
    rng = np.random.default_rng(seed)
    n = hi - lo
    ids = np.arange(lo + 1, hi + 1, dtype=np.int64)
    product = rng.choice(len(PRODUCTS), n, p=[p[1] for p in PRODUCTS])
    col = {name: pl.Series(name, [p[i] for p in PRODUCTS]).gather(product) for i, name in (
        (0, "code"), (2, "mode"), (3, "holder"), (4, "kind"), (5, "method"), (7, "rate"),
        (8, "basis"), (9, "premium_rate"), (10, "refund"), (11, "coverage"))}
    bp = np.array([int(Decimal(p[7]) * 10_000) for p in PRODUCTS])[product]
    premium_bp = np.array([int(Decimal(p[9]) * 10_000) for p in PRODUCTS])[product]
    method = np.array([METHODS.index(p[5]) for p in PRODUCTS])[product]
    single = np.array([p[8] == "single" for p in PRODUCTS])[product]
    low = np.array([p[6][0] for p in PRODUCTS])[product]
    high = np.array([p[6][1] for p in PRODUCTS])[product]
    principal = (rng.integers(low, high) // 100 * 100).astype(np.int64)  # whole yuan
    funder = np.array(funder_ids, dtype=np.int64)[
        rng.choice(len(FUNDERS), n, p=[f[3] for f in FUNDERS])]
    region = np.array(REGIONS)[np.minimum(rng.geometric(0.18, n) - 1, len(REGIONS) - 1)]
    due_count = rng.integers(0, TERM, n)  # installments due by ON: started that many months ago
    day = rng.integers(1, 29, n)
    start_month = ON.year * 12 + ON.month - 1 - due_count
    missed = np.minimum(rng.choice([m for m, _ in MISSED], n, p=[s for _, s in MISSED]),
                        due_count)
    first_unpaid = due_count - missed + 1  # 1-based; ≤ 12 as due_count ≤ 11
    partial_first = (missed > 0) & (rng.random(n) < 0.25)
    partial_next = partial_first & (missed > 1) & (rng.random(n) < 0.4)
    claimed = (missed >= 4) & (rng.random(n) < 0.6)
    enterprise = (col["kind"] == "enterprise").to_numpy()
    obligor = np.where(enterprise, rng.integers(0, max(total // 200, 1), n),
                       rng.integers(0, max(int(total / 1.2), 1), n))
    index = pl.Series(obligor).hash(seed=21).cast(pl.String).str.zfill(20)
    index = pl.select(pl.when(pl.lit(pl.Series(enterprise))).then("E" + index)
                      .otherwise("P" + index)).to_series()

    p_sched, i_sched = _schedules(principal, bp, method)
    number = np.arange(1, TERM + 1)
    full = number[None, :] < first_unpaid[:, None]
    part = (((number[None, :] == first_unpaid[:, None]) & partial_first[:, None])
            | ((number[None, :] == first_unpaid[:, None] + 1) & partial_next[:, None]))
    p_paid = np.where(full, p_sched, np.where(part, p_sched // 2, 0))
    i_paid = np.where(full, i_sched, np.where(part, i_sched // 2, 0))

    starts = pl.DataFrame({"m": start_month, "d": day}).select(
        _month(pl.col("m"), pl.col("d")).alias("start")).to_series()
    schedule = pl.DataFrame({
        "loan_id": np.repeat(ids, TERM), "number": np.tile(number, n).astype(np.int32),
        "m": np.repeat(start_month, TERM) + np.tile(number, n), "d": np.repeat(day, TERM),
        "principal_fen": p_sched.ravel(), "interest_fen": i_sched.ravel()}).select(
        "loan_id", "number", _month(pl.col("m"), pl.col("d")).alias("due_date"),
        "principal_fen", "interest_fen")
    paid_rows = (full | part).ravel()
    late = np.where(rng.random(paid_rows.sum()) < 0.1,
                    rng.integers(1, 6, paid_rows.sum()), 0)
    repayments = schedule.filter(pl.Series(paid_rows)).select(
        "loan_id", pl.col("number").alias("installment_number"),
        pl.min_horizontal(pl.col("due_date") + pl.duration(days=pl.Series(late)), pl.lit(ON))
        .alias("paid_on"),
        pl.Series("principal_fen", p_paid.ravel()[paid_rows]),
        pl.Series("interest_fen", i_paid.ravel()[paid_rows]),
        pl.format("TX{}-{}", "loan_id", "number").alias("reference"))
    first_due = schedule["due_date"].to_numpy().reshape(n, TERM)[np.arange(n),
                                                                 first_unpaid - 1]
    loans = pl.DataFrame({
        "id": ids, "funder_id": funder, "principal_fen": principal,
        "annual_rate": col["rate"], "term_months": TERM, "method": col["method"],
        "start_date": starts, "status": np.where(claimed, "claimed", "active"),
        "first_unpaid_due_date": first_due, "principal_paid_fen": p_paid.sum(axis=1)},
    ).with_columns(pl.format("LN{}", pl.col("id").cast(pl.String).str.zfill(10))
                   .alias("contract_no"))
    applications = pl.DataFrame({
        "id": ids, "funder_id": funder, "product_code": col["code"], "product_version": 1,
        "mode": col["mode"], "borrower_kind": col["kind"], "borrower_id_index": index,
        "policyholder": col["holder"], "insured": "creditor", "amount_fen": principal,
        "term_months": TERM, "annual_rate": col["rate"], "repayment_method": col["method"],
        "applied_on": starts,
        "status": "approved", "decided_on": starts, "reason_codes": "",
        "region": region, "evidence": "[]", "borrower_name": sealed["borrower_name"],
        "borrower_id_number": sealed["borrower_id_number"],
        "borrower_phone": sealed["borrower_phone"]}).with_columns(
        pl.format("APP{}", pl.col("id").cast(pl.String).str.zfill(10)).alias("external_ref"))
    monthly = principal * premium_bp // 10_000  # the monthly premium, fen
    ends = pl.DataFrame({"m": start_month + TERM, "d": day}).select(
        _month(pl.col("m"), pl.col("d"))).to_series()
    written = np.where(single, 0, due_count)
    policies = pl.DataFrame({
        "id": ids, "application_id": ids, "product_code": col["code"], "product_version": 1,
        "mode": col["mode"], "funder_id": funder,
        "borrower_id_number": sealed["policy_borrower_id_number"],
        "policyholder": col["holder"], "insured": "creditor", "principal_insured_fen": principal,
        "coverage_share": col["coverage"], "premium_basis": col["basis"],
        "monthly_premium_rate": col["premium_rate"], "refund_method": col["refund"],
        "term_months": TERM,
        "single_premium_fen": np.where(single, monthly * TERM, 0),
        "installment_premium_fen": np.where(single, 0, monthly), "quoted_on": starts,
        "status": np.where(claimed, "claimed", "in_force"), "start_date": starts,
        "end_date": ends, "issued_on": starts, "loan_id": ids,
        "earned_fen": np.where(single, monthly * due_count, monthly * written),
        "installments_written": written, "refunded_fen": 0})
    insured = pl.DataFrame({
        "loan_id": ids, "policy_id": ids, "funder_id": funder, "product_code": col["code"],
        "region": region, "borrower_id_index": index, "borrower_kind": col["kind"],
        "coverage_share": col["coverage"], "policy_status": policies["status"]})
    return {"applications": applications, "loans": loans, "installments": schedule,
            "repayments": repayments, "policies": policies, "insured_loans": insured}


def prepare(url: str, loans: int) -> dict[str, int]:
    """The book, written in bulk a chunk of loans at a time; returns the rows written per
    table."""
    from sqlalchemy import inspect as inspect_schema
    from sqlalchemy import text

    from xinbao.bootstrap import bootstrap
    from xinbao.catalogue import services as catalogue
    from xinbao.catalogue.commands import RegisterFunder
    from xinbao.catalogue.model.parties import FunderKind
    from xinbao.config import Settings
    from xinbao.parameters import load_product_catalogue
    from xinbao.simulation.identities import IdentityFactory

    c = bootstrap(replace(Settings.from_env(), database_url=url), upgrade=True)
    for cmd in load_product_catalogue():
        catalogue.register_product(cmd, c.uow())
    for n, (code, name, kind, _) in enumerate(FUNDERS):
        catalogue.register_funder(RegisterFunder(
            code, name, IdentityFactory(42 + n).credit_code(), FunderKind(kind), True,
            Decimal("0.1"), tuple(p[0] for p in PRODUCTS), effective_from=date(2024, 1, 1)),
            c.uow())
    with c.engine.begin() as conn:
        ids = dict(conn.execute(text("SELECT code, id FROM funders")).all())
    funder_ids = [int(ids[f[0]]) for f in FUNDERS]
    id_number = "11010519491231002X"
    sealed = {f: c.cipher.encrypt(v, field=f) for f, v in (
        ("borrower_name", "张三"), ("borrower_id_number", id_number),
        ("borrower_phone", "13812345678"))}
    sealed["policy_borrower_id_number"] = c.cipher.encrypt(
        id_number, field="policy_borrower_id_number")
    with c.engine.connect() as conn:  # a schema before migration 0014 has no insured_loans
        present = set(inspect_schema(conn).get_table_names())
    counts = dict.fromkeys((t for t in ("applications", "loans", "installments", "repayments",
                                        "policies", "insured_loans") if t in present), 0)
    restore = _drop_secondary(c.engine, list(counts))
    with c.engine.connect() as conn:  # a schema before migration 0013 has no loan state
        loan_columns = {col["name"] for col in inspect_schema(conn).get_columns("loans")}
    absent = [name for name in ("principal_paid_fen",) if name not in loan_columns]
    repayment_id = 0
    try:
        for lo in range(0, loans, CHUNK):
            started = time.perf_counter()
            frames = generate(lo, min(lo + CHUNK, loans), loans, funder_ids, sealed, seed=lo)
            frames["repayments"] = frames["repayments"].with_row_index(
                "id", offset=repayment_id + 1).with_columns(pl.col("id").cast(pl.Int64))
            repayment_id += frames["repayments"].height
            frames["loans"] = frames["loans"].drop(absent)
            with c.engine.begin() as conn:
                if conn.dialect.name == "sqlite":  # the pages in memory while loading
                    conn.exec_driver_sql("PRAGMA cache_size=-1048576")
                for table in counts:  # parents first
                    _bulk(conn, table, frames[table])
                    counts[table] += frames[table].height
            del frames
            if loans > CHUNK:
                print(f"  loans {lo + 1:,} to {min(lo + CHUNK, loans):,} written in "
                      f"{time.perf_counter() - started:,.1f} s", flush=True)
    finally:
        started = time.perf_counter()
        with c.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
            for statement in restore:
                conn.exec_driver_sql(statement)
        if loans > CHUNK:
            print(f"  indexes and foreign keys back in {time.perf_counter() - started:,.1f} s",
                  flush=True)
    if c.engine.dialect.name == "postgresql":
        with c.engine.begin() as conn:
            for table in ("applications", "loans", "repayments", "policies"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        with c.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    with c.engine.connect() as conn:
        size = conn.execute(text(
            "SELECT pg_database_size(current_database())" if conn.dialect.name == "postgresql"
            else "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        )).scalar_one()
    c.close()
    return {**counts, "bytes": int(size)}


def _drop_secondary(engine: Any, tables: list[str]) -> list[str]:
    """Drop the tables' indexes other than their primary keys' and unique constraints' (and
    on PostgreSQL their foreign keys) for the load, as a restore does; returns the
    statements that put each back as the catalogue defines it (the foreign keys validated
    in one pass)."""
    from sqlalchemy import bindparam, text

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            found = conn.execute(text(
                "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, "
                "conname), format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, "
                "conname, pg_get_constraintdef(oid)), 2 FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid::regclass::text IN :tables "
                "UNION ALL SELECT format('DROP INDEX %I', indexname), indexdef, 1 "
                "FROM pg_indexes WHERE schemaname = current_schema() AND tablename IN :tables "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY 3"
            ).bindparams(bindparam("tables", expanding=True)), {"tables": tables}).all()
        else:
            found = conn.execute(text(
                "SELECT 'DROP INDEX \"' || name || '\"', sql FROM sqlite_master "
                "WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN :tables"
            ).bindparams(bindparam("tables", expanding=True)), {"tables": tables}).all()
        for drop, _, *_ in found:
            conn.exec_driver_sql(drop)
    return [create for _, create, *_ in found]


def _bulk(conn: Any, table: str, frame: pl.DataFrame) -> None:
    """Rows in bulk: COPY … FROM STDIN on PostgreSQL, executemany elsewhere."""
    columns = ", ".join(frame.columns)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            for lo in range(0, frame.height, 1_000_000):
                copy.write(frame.slice(lo, 1_000_000).write_csv(include_header=False))
    else:
        marks = ", ".join("?" for _ in frame.columns)
        raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                        frame.with_columns(pl.col(pl.Date).cast(pl.String)).iter_rows())


def _peak_gib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 2**20


def run(url: str, loans: int, work: Path, engine: str, partitions: int) -> dict[str, float]:
    """Set-up in a child process, then the timed step here; returns the figures."""
    from xinbao.batch import kernels, services
    from xinbao.batch.engines import DaskEngine, LocalEngine
    from xinbao.batch.store import ParquetSnapshots
    from xinbao.bootstrap import bootstrap
    from xinbao.config import Settings

    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--prepare", "--loans", str(loans),
                    "--database-url", url], check=True)
    setup = time.perf_counter() - started
    print(f"set-up: {loans:,} loans written in bulk in {setup:,.1f} s "
          f"({url.split(':')[0]}; its process's peak {_peak_gib(resource.RUSAGE_CHILDREN):.2f} "
          "GiB)")
    c = bootstrap(replace(Settings.from_env(), database_url=url,
                          snapshot_dir=str(work / "snapshots")))
    kernels_on = (DaskEngine(None, partitions=partitions) if engine == "dask"
                  else LocalEngine(partitions))
    took = []
    try:
        for _ in range(2):  # the day, then the same day again (the data warm)
            started = time.perf_counter()
            day = services.snapshot_day(c.uow(), c.snapshots, ON, c.classification,
                                        c.early_warning, engine=kernels_on)
            took.append(time.perf_counter() - started)
    finally:
        kernels_on.close()
    peak = _peak_gib()
    whole = took[0]
    where = f"{engine} engine, {partitions} partition{'s' if partitions > 1 else ''}"
    print(f"snapshot_day {ON} ({where}): {day.loans:,} loans in {whole:,.2f} s = "
          f"{day.loans / whole:,.0f} loans/s; the same day again {took[1]:,.2f} s")
    print(f"peak resident memory {peak:.2f} GiB (this process, after the step"
          + ("; the Dask workers' not counted)" if engine == "dask" else ")"))
    print(f"  overdue {day.overdue:,}; classes: "
          + ", ".join(f"{k} {v:,}" for k, v in day.by_tier.items()))
    print("  buckets: " + ", ".join(f"{k} {v:,}" for k, v in day.by_bucket.items()))
    print("  signals: " + (", ".join(f"{k} {v:,}" for k, v in day.signals.items()) or "none"))

    uow = c.uow()
    with uow:
        day_read = uow.book.day(ON)
    reading = sum(day_read.seconds.values())
    kernels_on = (DaskEngine(None, partitions=partitions) if engine == "dask"
                  else LocalEngine(partitions))
    try:
        started = time.perf_counter()
        state = services.day_state(day_read.loans, day_read.installments, day_read.paid, ON,
                                   c.classification, kernels_on,
                                   overrides=day_read.overrides)
        frames = {"loans": state, "aggregates": services.aggregate(state),
                  "signals": kernels.day_signals(state, None, c.early_warning)}
        compute = time.perf_counter() - started
    finally:
        kernels_on.close()
    started = time.perf_counter()
    ParquetSnapshots(work / "rewritten").write(ON, frames)
    writing = time.perf_counter() - started
    print(f"split, each part of the day again on its own: read {reading:,.2f} s ("
          + ", ".join(f"{name} {seconds:,.2f} s, {frame.height:,} rows"
                      for name, (seconds, frame) in (
                          ("loans", (day_read.seconds["loans"], day_read.loans)),
                          ("open installments", (day_read.seconds["open installments"],
                                                 day_read.installments)),
                          ("their repayments", (0.0, day_read.paid)),
                          ("overrides", (day_read.seconds["overrides"], day_read.overrides))))
          + f"); compute (kernels, aggregates, signals, on the frames read) {compute:,.2f} s; "
          f"write {writing:,.2f} s")
    book = day_read.loans
    figure = "principal_fen" if "principal_fen" in book.columns else "coverage_share"
    floor = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        book.group_by("funder").agg(pl.len(), pl.col(figure).sum())
        floor = min(floor, time.perf_counter() - started)
    print(f"floor: one group-by of the {book.height:,} loans read (loans and {figure} per "
          f"funder, bare Polars, best of 3) {floor:.3f} s; compute {compute / floor:,.1f}x "
          f"the floor, the whole step {whole / floor:,.1f}x")
    c.close()
    return {"loans": loans, "setup_s": setup, "batch_s": whole, "again_s": took[1],
            "read_s": reading,
            "compute_s": compute, "write_s": writing, "floor_s": floor, "peak_gib": peak}


def growth(sizes: list[int], url: str | None, work: Path, args: argparse.Namespace) -> None:
    """Each size in a fresh database and a process of its own, then the table."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    rows = []
    for size in sizes:
        if url is None:
            target = f"sqlite:///{work / f'bench-{size}.db'}"
        else:
            given = make_url(url)
            target = given.set(database=f"{given.database}_eod_{size}").render_as_string(
                hide_password=False)
            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(target).database}"'))
                conn.execute(text(f'CREATE DATABASE "{make_url(target).database}"'))
        out = work / f"result-{size}.json"
        subprocess.run([sys.executable, __file__, "--loans", str(size), "--database-url",
                        target, "--engine", args.engine, "--partitions", str(args.partitions),
                        "--result", str(out)], check=True)
        rows.append(json.loads(out.read_text()))
        if url is not None and not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{make_url(target).database}"'))
            admin.dispose()
        elif url is None and not args.keep:
            for leftover in work.glob(f"bench-{size}.db*"):
                leftover.unlink()
    print(f"\ngrowth ({url.split(':')[0] if url else 'sqlite'}, {args.engine} engine)")
    print(f"{'loans':>12} {'set-up s':>9} {'batch s':>8} {'again s':>8} {'read s':>7} "
          f"{'compute s':>9} {'write s':>8} {'loans/s':>10} {'peak GiB':>9}")
    for r in rows:
        print(f"{r['loans']:>12,} {r['setup_s']:>9.1f} {r['batch_s']:>8.2f} "
              f"{r['again_s']:>8.2f} "
              f"{r['read_s']:>7.2f} {r['compute_s']:>9.2f} {r['write_s']:>8.2f} "
              f"{r['loans'] / r['batch_s']:>10,.0f} {r['peak_gib']:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", default="1000000",
                        help="loans in the book, or a list of sizes (1000000,10000000): each "
                             "run in turn in a fresh database, then the growth table")
    parser.add_argument("--database-url", default=None, help="an empty database (default: "
                        "a fresh SQLite file in a temporary folder)")
    parser.add_argument("--engine", choices=("local", "dask"), default="local")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (and "
                        "the databases a list of sizes made)")
    parser.add_argument("--smoke", action="store_true", help="2,000 loans")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [2_000] if args.smoke else [int(s.replace("_", "")) for s in args.loans.split(",")]
    if args.prepare:
        counts = prepare(args.database_url, sizes[0])
        size = counts.pop("bytes")
        print("  " + ", ".join(f"{table} {n:,}" for table, n in counts.items())
              + f" rows; the database {size / 2**20:,.0f} MiB")
        return
    work = Path(tempfile.mkdtemp(prefix="xinbao-eod-batch-"))
    os.environ.setdefault("XINBAO_SECRETS_FILE", str(work / "secrets.toml"))
    try:
        if len(sizes) > 1:
            growth(sizes, args.database_url, work, args)
            return
        url = args.database_url or f"sqlite:///{work / 'bench.db'}"
        figures = run(url, sizes[0], work, args.engine, args.partitions)
        if args.result:
            Path(args.result).write_text(json.dumps(figures))
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("XINBAO_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # --engine dask: quiet
    main()
