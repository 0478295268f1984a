"""A funder's repayment file applied through ``servicing.feeds.load_feed`` (issue 21):
rows a second from reading the file to the commit, validation included (printed, never
asserted), beside the floor of the same rows bulk-loaded into a bare table.

    .venv/bin/python bench/feed_ingest.py [--rows 1000000] [--paid 10]
                                          [--database-url URL] [--keep]
    .venv/bin/python bench/feed_ingest.py --smoke    # 2,000 rows

Set-up (not timed): a fresh SQLite database (or the empty PostgreSQL given by URL), the
shipped catalogue, a funder, and rows/``--paid`` loans of 12 monthly installments written
in bulk (no policy on them: the file carries no premium), then the file: ``--paid``
installments of each loan repaid in full, in CSV with its manifest (row count, totals,
business date). On PostgreSQL the set-up ends with ``ANALYZE``, as autovacuum would.

Timed: ``batch.files.read`` (the CSV as text columns), ``batch.feeds.check`` (manifest,
formats, the funder's loans), and ``load_feed`` (the schedule's checks, repeats, the rows
written, each loan's first unpaid installment moved, the file kept), one transaction.
The floors: the same rows written into a table with no index or constraint, in one
transaction, the way the adapter writes them (``COPY`` of CSV made by Polars on PostgreSQL,
``executemany`` on SQLite); on PostgreSQL also binary ``COPY`` with psycopg encoding a row
at a time, the way to binary without another dependency. Then the write alone (from that
bare table into one keyed like ``repayments``), the rows through the driver straight into
the keyed table, and one look-up a row into the schedules: the least any path takes that
gets the rows in and checks them against their installments, nothing else.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

START = date(2024, 1, 15)
BUSINESS_DATE = date(2025, 1, 31)
TERM = 12
PRINCIPAL_FEN = 1_200_000  # 12,000 yuan: 1,000 a month
INTEREST_FEN = 8_000  # 80 yuan a month


def _due(n: int) -> date:
    month = START.month - 1 + n
    return date(START.year + month // 12, month % 12 + 1, START.day)


def prepare(url: str, loans: int) -> int:
    """The book: the catalogue, a funder and ``loans`` loans with their schedules;
    returns the funder's id."""
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
    catalogue.register_funder(RegisterFunder(
        "BANK-A", "示例银行", IdentityFactory(42).credit_code(), FunderKind.BANK, True,
        Decimal("0.1"), ("CONSUMER-G",), effective_from=date(2024, 1, 1)), c.uow())
    engine = c.engine
    with engine.begin() as conn:
        funder_id = conn.execute(text("SELECT id FROM funders WHERE code = 'BANK-A'")).scalar()
    ids = pl.int_range(1, loans + 1, eager=True, dtype=pl.Int64)
    book = pl.DataFrame({
        "id": ids, "funder_id": funder_id,
        "contract_no": "LN" + ids.cast(pl.String).str.zfill(9),
        "principal_fen": PRINCIPAL_FEN, "annual_rate": "0.08", "term_months": TERM,
        "method": "equal_principal", "start_date": START, "status": "active",
        "first_unpaid_due_date": _due(1)})
    schedule = (pl.DataFrame({"loan_id": ids}).join(
        pl.DataFrame({"number": list(range(1, TERM + 1)),
                      "due_date": [_due(n) for n in range(1, TERM + 1)]}), how="cross")
        .with_columns(pl.lit(PRINCIPAL_FEN // TERM).alias("principal_fen"),
                      pl.lit(INTEREST_FEN).alias("interest_fen")))
    with engine.begin() as conn:
        _bulk(conn, "loans", book)
        _bulk(conn, "installments", schedule)
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('loans', 'id'), "
                              f"{loans})"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return int(funder_id)


def _bulk(conn, table: str, frame: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """Rows in bulk: COPY … FROM STDIN on PostgreSQL, executemany elsewhere."""
    columns = ", ".join(frame.columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            for lo in range(0, frame.height, 1_000_000):
                copy.write(frame.slice(lo, 1_000_000).write_csv(include_header=False))
    else:
        marks = ", ".join("?" for _ in frame.columns)
        raw = conn.connection.driver_connection
        raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                        frame.with_columns(pl.col(pl.Date).cast(pl.String)).iter_rows())


def write_file(folder: Path, loans: int, paid: int) -> tuple[Path, dict[str, object]]:
    """The repayment file: installments 1..paid of every loan, repaid on their due dates."""
    ids = pl.int_range(1, loans + 1, eager=True, dtype=pl.Int64)
    rows = (pl.DataFrame({"loan": ids}).join(
        pl.DataFrame({"installment_number": list(range(1, paid + 1)),
                      "paid_on": [_due(n).isoformat() for n in range(1, paid + 1)]}),
        how="cross")
        .select(pl.format("LN{}", pl.col("loan").cast(pl.String).str.zfill(9))
                .alias("contract_no"), "installment_number", "paid_on",
                pl.lit(f"{PRINCIPAL_FEN // TERM // 100}.00").alias("principal"),
                pl.lit(f"{INTEREST_FEN // 100}.00").alias("interest"),
                pl.lit("").alias("premium"),
                pl.format("TX{}-{}", "loan", "installment_number").alias("reference")))
    path = folder / "repayments.csv"
    rows.write_csv(path)
    n = rows.height
    manifest = {"type": "repayments", "funder": "BANK-A",
                "business_date": BUSINESS_DATE.isoformat(), "rows": n,
                "totals": {"principal": f"{n * PRINCIPAL_FEN // TERM // 100}.00",
                           "interest": f"{n * INTEREST_FEN // 100}.00"}}
    return path, manifest


def floor(url: str, path: Path) -> float:
    """Seconds to write the file's typed rows into a bare table, in one transaction."""
    from sqlalchemy import create_engine, text

    frame = (pl.read_csv(path, infer_schema=False)
             .select(pl.col("installment_number").cast(pl.Int32),
                     pl.col("paid_on").str.to_date(),
                     pl.lit(PRINCIPAL_FEN // TERM).alias("principal_fen"),
                     pl.lit(INTEREST_FEN).alias("interest_fen"), "reference"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bare (installment_number INTEGER, paid_on DATE, "
                          "principal_fen BIGINT, interest_fen BIGINT, reference TEXT)"))
    started = time.perf_counter()
    with engine.begin() as conn:
        _bulk(conn, "bare", frame)
    took = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        started = time.perf_counter()
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(
                    "COPY bare FROM STDIN WITH (FORMAT binary)") as copy:
                copy.set_types(["int4", "date", "int8", "int8", "text"])
                for row in frame.iter_rows():
                    copy.write_row(row)
        binary = time.perf_counter() - started
        print(f"floor, binary COPY (psycopg, a row at a time) {binary:,.2f} s = "
              f"{frame.height / binary:,.0f} rows/s; CSV from Polars {took:,.2f} s")
    keyed = frame.with_columns(pl.col("reference").str.extract(r"^TX([0-9]+)-", 1)
                               .cast(pl.Int64).alias("loan_id"))
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bare_keyed (loan_id BIGINT, installment_number "
                          "INTEGER, paid_on DATE, principal_fen BIGINT, interest_fen BIGINT, "
                          "reference TEXT)"))
        _bulk(conn, "bare_keyed", keyed.select("loan_id", *frame.columns))
        conn.execute(text(
            f"CREATE TABLE like_repayments (id {'BIGSERIAL' if pg else 'INTEGER'} PRIMARY "
            "KEY, loan_id BIGINT NOT NULL REFERENCES loans (id), installment_number INTEGER "
            "NOT NULL, paid_on DATE NOT NULL, principal_fen BIGINT NOT NULL, interest_fen "
            "BIGINT NOT NULL, reference VARCHAR(64) NOT NULL, UNIQUE (loan_id, reference))"))
        conn.execute(text("CREATE INDEX like_repayments_day ON like_repayments (paid_on)"))
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO like_repayments (loan_id, installment_number, paid_on, principal_fen, "
            "interest_fen, reference) SELECT loan_id, installment_number, paid_on, "
            "principal_fen, interest_fen, reference FROM bare_keyed"))
    write = time.perf_counter() - started
    print(f"floor of the write alone: the same rows into a table like repayments (its "
          f"indexes, its key to loans) {write:,.2f} s = {frame.height / write:,.0f} rows/s")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM like_repayments"))
    with engine.begin() as conn:
        started = time.perf_counter()
        _bulk(conn, "like_repayments", keyed.select("loan_id", *frame.columns))
    direct = time.perf_counter() - started
    print(f"floor of the rows through the driver straight into that table: {direct:,.2f} s = "
          f"{frame.height / direct:,.0f} rows/s")
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(text(
            "SELECT COUNT(*) FROM bare_keyed b JOIN installments i ON i.loan_id = b.loan_id "
            "AND i.number = b.installment_number WHERE b.principal_fen > i.principal_fen")).one()
    look = time.perf_counter() - started
    least = min(direct, took + write) + look
    print(f"floor of the schedules' check alone (one look-up a row into installments) "
          f"{look:,.2f} s; rows in and checked, nothing else: {least:,.2f} s = "
          f"{frame.height / least:,.0f} rows/s")
    engine.dispose()
    return took


def run(url: str, rows: int, paid: int, work: Path) -> None:
    from xinbao.batch import feeds, files
    from xinbao.bootstrap import bootstrap
    from xinbao.config import Settings
    from xinbao.servicing.feeds import LoadFeed, load_feed

    loans = max(1, rows // paid)
    started = time.perf_counter()
    prepare(url, loans)
    path, manifest_data = write_file(work, loans, paid)
    print(f"set-up: {loans:,} loans, {loans * TERM:,} installments, a file of "
          f"{loans * paid:,} rows ({path.stat().st_size / 2**20:,.0f} MiB) in "
          f"{time.perf_counter() - started:,.1f} s ({url.split(':')[0]})")
    c = bootstrap(replace(Settings.from_env(), database_url=url))
    manifest = feeds.Manifest.from_data(manifest_data)
    t0 = time.perf_counter()
    raw = files.read(path)
    digest = files.content_hash(path)
    t1 = time.perf_counter()
    report = load_feed(LoadFeed("BANK-A", path.name, digest, manifest, raw,
                                datetime(2025, 2, 1, 2, 0)), c.uow())
    t2 = time.perf_counter()
    if report.status != "applied" or report.accepted != raw.height:
        raise SystemExit(f"the file was not applied whole: {report.summary()}")
    n = raw.height
    total = t2 - t0
    print(f"read and hash      {t1 - t0:8.2f} s")
    print(f"check and apply    {t2 - t1:8.2f} s")
    print(f"ingestion: {n:,} rows in {total:,.2f} s = {n / total:,.0f} rows/s "
          "(read, validation and write, one transaction)")
    bare = floor(url, path)
    print(f"floor: the same rows into a bare table {bare:,.2f} s = {n / bare:,.0f} rows/s; "
          f"ingestion is {total / bare:,.1f}x the floor")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident memory {peak:.2f} GiB")
    c.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--paid", type=int, default=10, help="installments repaid a loan")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    rows = 2_000 if args.smoke else args.rows
    if not 1 <= args.paid <= TERM:
        raise SystemExit(f"--paid is 1 to {TERM}")
    work = Path(tempfile.mkdtemp(prefix="xinbao-ingest-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    try:
        run(url, rows, args.paid, work)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("XINBAO_LOG_LEVEL", "WARNING")
    main()
