"""The book in bulk: one SQL query per frame, read straight into Polars (no object per row).

Only loans that still carry risk are read: their policy in force (being repaid) or claimed
(the insurer paid and recovers; its days past due keep counting for the classification).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any, Protocol

import adbc_driver_postgresql.dbapi as adbc
import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Integer,
    Row,
    Select,
    TextualSelect,
    bindparam,
    cast,
    column,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Dialect

from xinbao.batch import tables as batch_tables
from xinbao.batch.repository import (
    FEED_FILE_SORTS,
    BookDay,
    FeedFile,
    FeedFileEntry,
    FeedFileFilter,
    Override,
)
from xinbao.catalogue import tables as catalogue_tables
from xinbao.iam import tables as iam_tables
from xinbao.kernel.paging import Page, PageRequest
from xinbao.loans import tables as loans_tables
from xinbao.platform.sql_lists import in_list
from xinbao.policy import tables as policy_tables
from xinbao.policy.model import PolicyStatus

_CARRYING_RISK = (PolicyStatus.IN_FORCE.value, PolicyStatus.CLAIMED.value)
#: A wanted loan's installments: from ``from_date``, all of them for a loan replayed
#: (``whole``), else those due before the day (``open_installments``).
_SCHEDULE_RANGE = "x.due_date >= w.from_date AND (w.whole = 1 OR x.due_date < :on)"
_SCHEDULE_OF_WANTED = ("SELECT x.number, x.due_date, x.principal_fen, x.interest_fen "
                       f"FROM installments x WHERE x.loan_id = w.loan_id AND {_SCHEDULE_RANGE}")
_PAID_OF_WANTED = ("SELECT x.installment_number, x.principal_fen, x.interest_fen "
                   "FROM repayments x WHERE x.loan_id = w.loan_id AND x.paid_on <= :on")
_SCHEDULE = {"loan_id": pl.Int64, "number": pl.Int32, "due_date": pl.Date,
             "principal_fen": pl.Int64, "interest_fen": pl.Int64}


class SqlBookFrames:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def day(self, on: date) -> BookDay:
        """The day's reads (``BookFrames.day``). On PostgreSQL through ADBC on a connection
        of their own, in one repeatable-read transaction (``_ArrowReads``); elsewhere on the
        unit of work's connection."""
        if self._c.dialect.name == "postgresql":
            with _ArrowReads(self._c) as reads:
                return _read_day(reads, on)
        return _read_day(_RowReads(self._c), on)

    def funder_loans(self, funder_id: int, contract_nos: list[str]) -> pl.DataFrame:
        ln = loans_tables.loans
        # The contract numbers bound as one list (any number of them: an expanding IN
        # would need a parameter each, past PostgreSQL's 65,535 for a large file).
        q = (select(ln.c.contract_no, ln.c.id, ln.c.start_date, ln.c.term_months, ln.c.status)
             .where(ln.c.funder_id == funder_id, in_list(ln.c.contract_no, "contracts")))
        rows = self._c.execute(q, {"contracts": contract_nos}).all()
        return pl.DataFrame(rows, orient="row", schema={
            "contract_no": pl.String, "loan_id": pl.Int64, "start_date": pl.Date,
            "term_months": pl.Int64, "status": pl.String})


_Query = Select[Any] | TextualSelect


class _Reads(Protocol):
    dialect: Dialect

    def frame(self, query: _Query, schema: dict[str, Any]) -> pl.DataFrame: ...

    def stage(self, table: str, create: str, frame: pl.DataFrame) -> None: ...


class _RowReads:
    """Reads on the unit of work's connection (SQLite), fetched as the driver's rows: no
    SQLAlchemy result row a loan, and the dates parsed as a column (SQLite keeps them as
    text) rather than one value at a time. Only queries of our own values, their literals
    inlined."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection
        self.dialect = connection.dialect

    def frame(self, query: _Query, schema: dict[str, Any]) -> pl.DataFrame:
        raw = self._c.connection.driver_connection
        assert raw is not None
        rows = raw.execute(str(query.compile(dialect=self.dialect,
                                             compile_kwargs={"literal_binds": True})))
        as_read = {name: pl.String if kind == pl.Date else kind
                   for name, kind in schema.items()}
        frame = pl.DataFrame(rows.fetchall(), schema=as_read, orient="row")
        return frame.with_columns(pl.col(name).str.to_date("%Y-%m-%d")
                                  for name, kind in schema.items() if kind == pl.Date)

    def stage(self, table: str, create: str, frame: pl.DataFrame) -> None:
        self._c.execute(text(f"DROP TABLE IF EXISTS {table}"))
        self._c.execute(text(create))
        raw = self._c.connection.driver_connection
        assert raw is not None
        marks = ", ".join("?" for _ in frame.columns)
        raw.executemany(f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES ({marks})",
                        frame.with_columns(pl.col(pl.Date).cast(pl.String)).iter_rows())


class _ArrowReads:
    """PostgreSQL: the reads on a connection of their own through ADBC, which streams each
    result out by binary ``COPY`` straight into Arrow columns (no text to print and parse:
    the day's loans at ten million in about a quarter less time than CSV), all in one
    ``REPEATABLE READ`` transaction, so every frame sees the same committed book; rolled
    back at the end (it writes only its temporary tables). Only queries of our own values
    are sent, with their literals inlined."""

    def __init__(self, connection: Connection) -> None:
        self.dialect = connection.dialect
        self._uri = connection.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._conn: Any = None
        self._cursor: Any = None

    def __enter__(self) -> _ArrowReads:
        self._conn = adbc.connect(self._uri, autocommit=True)
        try:
            self._cursor = self._conn.cursor()
            self._begin()
        except BaseException:
            self._conn.close()
            raise
        return self

    def _begin(self) -> None:
        for statement in ("BEGIN ISOLATION LEVEL REPEATABLE READ",
                          # Each query here is one pass over the book: compiling it to
                          # machine code (JIT) takes longer than it saves; and the day's
                          # sorts and hashes fit in memory rather than spill to disk.
                          "SET LOCAL jit = off", "SET LOCAL work_mem = '256MB'"):
            self._cursor.execute(statement)

    def __exit__(self, *exc: object) -> None:
        try:
            self._cursor.execute("ROLLBACK")
        finally:
            self._cursor.close()
            self._conn.close()

    def frame(self, query: _Query, schema: dict[str, Any]) -> pl.DataFrame:
        self._cursor.execute(str(query.compile(dialect=self.dialect,
                                               compile_kwargs={"literal_binds": True})))
        found = pl.DataFrame(self._cursor.fetch_arrow())
        return found.rename(dict(zip(found.columns, schema, strict=True))).cast(
            pl.Schema(schema))

    def stage(self, table: str, create: str, frame: pl.DataFrame) -> None:
        self._cursor.execute(create + " ON COMMIT DROP")
        self._cursor.adbc_ingest(table, frame, mode="append", temporary=True)
        self._cursor.execute(f"ANALYZE {table}")


def _read_day(reads: _Reads, on: date) -> BookDay:
    took = {}
    started = time.perf_counter()
    loans = _loans(reads, on)
    took["loans"] = time.perf_counter() - started
    started = time.perf_counter()
    installments, paid = _open_installments(reads, on, loans)
    took["open installments"] = time.perf_counter() - started
    started = time.perf_counter()
    overrides = _overrides(reads, on)
    took["overrides"] = time.perf_counter() - started
    return BookDay(loans, installments, paid, overrides, took)


def _risk_loans() -> Any:
    il = policy_tables.insured_loans
    return select(il.c.loan_id).where(il.c.policy_status.in_(_CARRYING_RISK)).scalar_subquery()


def _loans(reads: _Reads, on: date) -> pl.DataFrame:
    """One narrow row per insured loan carrying risk (``insured_loans``) with its loan's
    kept state, and whether it is replayed."""
    il, f, ln = policy_tables.insured_loans, catalogue_tables.funders, loans_tables.loans
    r = loans_tables.repayments
    # The loans replayed joined as a set (a subquery per row would probe the repayments
    # once for each of millions of loans).
    later = (select(r.c.loan_id.label("loan_id")).where(r.c.paid_on > on).distinct()
             .subquery("later"))
    q = (select(ln.c.id, il.c.policy_id, f.c.code, il.c.product_code, il.c.region,
                ln.c.start_date, il.c.borrower_id_index, il.c.borrower_kind,
                il.c.coverage_share, ln.c.principal_fen, ln.c.principal_paid_fen,
                ln.c.first_unpaid_due_date, cast(later.c.loan_id.is_not(None), Integer))
         .select_from(il.join(f, f.c.id == il.c.funder_id)
                      .join(ln, ln.c.id == il.c.loan_id)
                      .outerjoin(later, later.c.loan_id == ln.c.id))
         .where(il.c.policy_status.in_(_CARRYING_RISK)))
    raw = reads.frame(q, {"loan_id": pl.Int64, "policy_id": pl.Int64, "funder": pl.String,
                          "product": pl.String, "region": pl.String, "start": pl.Date,
                          "obligor": pl.String, "kind": pl.String,
                          "coverage_share": pl.String, "principal_fen": pl.Int64,
                          "principal_paid_fen": pl.Int64, "first_unpaid_due_date": pl.Date,
                          "replay": pl.Int32})
    return raw.sort("loan_id").select(
        "loan_id", "policy_id", "funder", "product", "region",
        pl.col("start").dt.strftime("%Y-%m").alias("vintage"), "obligor",
        (pl.col("kind") != "enterprise").alias("retail"),
        pl.col("coverage_share").cast(pl.Float64), "principal_fen", "principal_paid_fen",
        "first_unpaid_due_date", (pl.col("replay") == 1).alias("replay"))


def _open_installments(reads: _Reads, on: date,
                       loans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The installments of the loans replayed or past due by their state, from
    ``batch_wanted`` (a temporary table of those loans), and their repayments."""
    wanted = loans.filter(pl.col("replay") | (pl.col("first_unpaid_due_date") < on))
    reads.stage("batch_wanted", "CREATE TEMPORARY TABLE batch_wanted (loan_id BIGINT "
                "PRIMARY KEY, from_date DATE NOT NULL, whole SMALLINT NOT NULL)",
                wanted.select("loan_id", pl.when(pl.col("replay")).then(pl.lit(date.min))
                              .otherwise(pl.col("first_unpaid_due_date")).alias("from_date"),
                              pl.col("replay").cast(pl.Int16).alias("whole")))
    if reads.dialect.name == "postgresql":
        # Driven from the wanted loans, an index range a loan: a plain join is planned as
        # a scan of every installment or repayment due before the day (tens of millions of
        # rows) for a few hundred thousand loans. OFFSET 0 keeps each LATERAL subquery
        # from being pulled up into such a join.
        schedule, paid = (f"FROM batch_wanted w CROSS JOIN LATERAL ({inner} OFFSET 0) x"
                          for inner in (_SCHEDULE_OF_WANTED, _PAID_OF_WANTED))
    else:  # SQLite: a CROSS JOIN keeps the wanted loans the outer loop
        schedule = ("FROM batch_wanted w CROSS JOIN installments x "
                    f"WHERE x.loan_id = w.loan_id AND {_SCHEDULE_RANGE}")
        paid = ("FROM batch_wanted w CROSS JOIN repayments x "
                "WHERE x.loan_id = w.loan_id AND x.paid_on <= :on")
    when = bindparam("on", on, type_=Date)
    installments = reads.frame(text(
        f"SELECT w.loan_id, x.number, x.due_date, x.principal_fen, x.interest_fen {schedule}")
        .bindparams(when).columns(
            column("loan_id", BigInteger), column("number", Integer), column("due_date", Date),
            column("principal_fen", BigInteger), column("interest_fen", BigInteger)),
        _SCHEDULE)
    repayments = reads.frame(text(
        f"SELECT w.loan_id, x.installment_number, x.principal_fen, x.interest_fen {paid}")
        .bindparams(when).columns(
            column("loan_id", BigInteger), column("installment_number", Integer),
            column("principal_fen", BigInteger), column("interest_fen", BigInteger)),
        {"loan_id": pl.Int64, "number": pl.Int32, "principal_fen": pl.Int64,
         "interest_fen": pl.Int64})
    return installments, repayments


def _overrides(reads: _Reads, on: date) -> pl.DataFrame:
    o = batch_tables.classification_overrides
    newest = (select(func.max(o.c.id).label("id"))
              .where(o.c.effective_from <= on, o.c.loan_id.in_(_risk_loans()))
              .group_by(o.c.loan_id).subquery())
    q = (select(o.c.loan_id, o.c.tier, o.c.reason)
         .join(newest, newest.c.id == o.c.id).where(o.c.tier.is_not(None))
         .order_by(o.c.loan_id))
    return reads.frame(q, {"loan_id": pl.Int64, "tier": pl.Int8, "reason": pl.String})


class SqlFeedFiles:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, funder_id: int, file_type: str, content_hash: str) -> FeedFile | None:
        t = batch_tables.feed_files
        row = self._c.execute(select(t).where(
            t.c.funder_id == funder_id, t.c.file_type == file_type,
            t.c.content_hash == content_hash)).first()
        if row is None:
            return None
        return FeedFile(row.funder_id, row.file_type, row.content_hash, row.file_name,
                        row.business_date, row.received_at, row.rows, dict(row.report))

    def list(self, where: FeedFileFilter, page: PageRequest) -> Page[FeedFileEntry]:
        t, f = batch_tables.feed_files, catalogue_tables.funders
        terms: list[Any] = []
        if where.funder_id is not None:
            terms.append(t.c.funder_id == where.funder_id)
        if where.file_type is not None:
            terms.append(t.c.file_type == where.file_type)
        total = self._c.execute(select(func.count()).select_from(t).where(*terms)).scalar_one()
        columns = dict(zip(FEED_FILE_SORTS, (t.c.id, t.c.business_date, t.c.rows),
                           strict=True))
        if page.sort not in columns:
            raise ValueError(f"files do not sort by {page.sort!r}")
        column = columns[page.sort]
        order = ((column.desc(), t.c.id.desc()) if page.descending
                 else (column.asc(), t.c.id.asc()))
        rows = self._c.execute(select(t, f.c.code.label("funder_code"))
                               .select_from(t.join(f, f.c.id == t.c.funder_id)).where(*terms)
                               .order_by(*order).limit(page.size).offset(page.offset))
        return Page([self._entry(r) for r in rows], total, page)

    def find(self, file_id: int) -> FeedFileEntry | None:
        t, f = batch_tables.feed_files, catalogue_tables.funders
        row = self._c.execute(select(t, f.c.code.label("funder_code"))
                              .select_from(t.join(f, f.c.id == t.c.funder_id))
                              .where(t.c.id == file_id)).first()
        return self._entry(row) if row is not None else None

    @staticmethod
    def _entry(row: Row[Any]) -> FeedFileEntry:
        return FeedFileEntry(row.id, row.funder_code, FeedFile(
            row.funder_id, row.file_type, row.content_hash, row.file_name, row.business_date,
            row.received_at, row.rows, dict(row.report)))

    def add(self, feed: FeedFile) -> None:
        self._c.execute(insert(batch_tables.feed_files).values(
            funder_id=feed.funder_id, file_type=feed.file_type,
            content_hash=feed.content_hash, file_name=feed.file_name,
            business_date=feed.business_date, received_at=feed.received_at, rows=feed.rows,
            report=feed.report))


class SqlOverrides:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def lock(self, loan_id: int) -> bool:
        """PostgreSQL: the loan's row ``FOR UPDATE``. SQLite: its one writer's lock taken
        first (``BEGIN IMMEDIATE``; the driver would otherwise begin only at the insert, after
        the newest row was read outside any transaction)."""
        ln = loans_tables.loans
        q = select(ln.c.id).where(ln.c.id == loan_id)
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update()
        else:
            dbapi = self._c.connection.dbapi_connection
            if dbapi is not None and not dbapi.in_transaction:
                dbapi.execute("BEGIN IMMEDIATE")
        return self._c.execute(q).first() is not None

    def carries_risk(self, loan_id: int) -> bool:
        p = policy_tables.policies
        return self._c.execute(select(p.c.id).where(
            p.c.loan_id == loan_id, p.c.status.in_(_CARRYING_RISK)).limit(1)).first() is not None

    def _select(self) -> Select[Any]:
        o, u = batch_tables.classification_overrides, iam_tables.users
        return (select(o.c.id, o.c.loan_id, o.c.tier, o.c.reason, o.c.effective_from,
                       u.c.username, o.c.set_at)
                .select_from(o.join(u, u.c.id == o.c.set_by)))

    @staticmethod
    def _of(row: Row[Any]) -> Override:
        return Override(row.id, row.loan_id, row.tier, row.reason, row.effective_from,
                        row.username, row.set_at)

    def newest(self, loan_id: int) -> Override | None:
        o = batch_tables.classification_overrides
        row = self._c.execute(self._select().where(o.c.loan_id == loan_id)
                              .order_by(o.c.id.desc()).limit(1)).first()
        return self._of(row) if row else None

    def add(self, loan_id: int, tier: int | None, reason: str, effective_from: date, *,
            set_by: int, set_at: datetime) -> Override:
        o = batch_tables.classification_overrides
        new_id = self._c.execute(insert(o).values(
            loan_id=loan_id, tier=tier, reason=reason, effective_from=effective_from,
            set_by=set_by, set_at=set_at).returning(o.c.id)).scalar_one()
        row = self._c.execute(self._select().where(o.c.id == new_id)).one()
        return self._of(row)

    def list(self, loan_id: int | None = None) -> list[Override]:
        o = batch_tables.classification_overrides
        q = self._select().order_by(o.c.id)
        if loan_id is not None:
            q = q.where(o.c.loan_id == loan_id)
        return [self._of(r) for r in self._c.execute(q)]
