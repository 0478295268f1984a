"""The book in bulk: one SQL query per frame, read straight into Polars (no object per row).

Only loans that still carry risk are read: their policy in force (being repaid) or claimed
(the insurer paid and recovers; its days past due keep counting for the classification).
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    Row,
    Select,
    cast,
    exists,
    func,
    insert,
    select,
    union_all,
)

from xinbao.batch import tables as batch_tables
from xinbao.batch.repository import (
    FEED_FILE_SORTS,
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
from xinbao.underwriting import tables as underwriting_tables

_CARRYING_RISK = (PolicyStatus.IN_FORCE.value, PolicyStatus.CLAIMED.value)
_SCHEDULE = {"loan_id": pl.Int64, "number": pl.Int32, "due_date": pl.Date,
             "principal_fen": pl.Int64, "interest_fen": pl.Int64}


class SqlBookFrames:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _frame(self, query: Select[Any] | CompoundSelect,
               schema: dict[str, Any]) -> pl.DataFrame:
        """The query's rows as a frame: on PostgreSQL streamed out by ``COPY … TO STDOUT``
        as CSV and parsed by Polars (no Python object a row); elsewhere fetched. Only for
        queries of our own values: COPY takes no bound parameters, and values a funder sent
        are never written into SQL (``funder_loans`` binds them)."""
        if self._c.dialect.name == "postgresql":
            return self._copy_out(query, schema)
        rows = self._c.execute(query).all()
        return pl.DataFrame(rows, schema=schema, orient="row")

    def _copy_out(self, query: Select[Any] | CompoundSelect,
                  schema: dict[str, Any]) -> pl.DataFrame:
        sql = str(query.compile(dialect=self._c.dialect,
                                compile_kwargs={"literal_binds": True}))
        raw = self._c.connection.driver_connection
        assert raw is not None
        # Spooled to a temporary file, not held in memory beside the frame parsed from it:
        # at ten million loans the text alone is more than a gigabyte.
        with tempfile.TemporaryDirectory(prefix="xinbao-copy-") as folder:
            path = Path(folder) / "rows.csv"
            with path.open("wb") as spool, raw.cursor() as cursor, cursor.copy(
                    f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    spool.write(block)
            if not path.stat().st_size:
                return pl.DataFrame(schema=schema)
            return pl.read_csv(path, has_header=False, new_columns=list(schema),
                               schema_overrides=schema)

    def _risk_loans(self) -> Any:
        p = policy_tables.policies
        return select(p.c.loan_id).where(p.c.loan_id.is_not(None),
                                         p.c.status.in_(_CARRYING_RISK)).scalar_subquery()

    def _replayed(self, on: date) -> Any:
        """Loans with repayments reported paid after ``on``: their kept state is later."""
        r = loans_tables.repayments
        return select(r.c.loan_id).where(r.c.paid_on > on).distinct().scalar_subquery()

    def _not_replayed(self, loan_id: Any, on: date) -> Any:
        """No repayment of the loan reported paid after ``on``: an anti-join (``NOT IN`` a
        subquery is planned as one only while the subquery's rows fit ``work_mem``, past
        which PostgreSQL scans them again for every row)."""
        r = loans_tables.repayments
        return ~exists().where(r.c.loan_id == loan_id, r.c.paid_on > on)

    def loans(self, on: date) -> pl.DataFrame:
        p, a = policy_tables.policies, underwriting_tables.applications
        f, ln = catalogue_tables.funders, loans_tables.loans
        r = loans_tables.repayments
        # The loans replayed joined as a set (a subquery per row would probe the repayments
        # once for each of millions of loans).
        later = (select(r.c.loan_id.label("loan_id")).where(r.c.paid_on > on).distinct()
                 .subquery("later"))
        q = (select(ln.c.id, p.c.id, f.c.code, p.c.product_code, a.c.region, ln.c.start_date,
                    a.c.borrower_id_index, a.c.borrower_kind, p.c.coverage_share,
                    ln.c.principal_fen, ln.c.principal_paid_fen, ln.c.first_unpaid_due_date,
                    cast(later.c.loan_id.is_not(None), Integer))
             .select_from(p.join(a, a.c.id == p.c.application_id)
                          .join(f, f.c.id == p.c.funder_id)
                          .join(ln, ln.c.id == p.c.loan_id)
                          .outerjoin(later, later.c.loan_id == ln.c.id))
             .where(p.c.status.in_(_CARRYING_RISK)).order_by(ln.c.id))
        raw = self._frame(q, {"loan_id": pl.Int64, "policy_id": pl.Int64, "funder": pl.String,
                              "product": pl.String, "region": pl.String, "start": pl.Date,
                              "obligor": pl.String, "kind": pl.String,
                              "coverage_share": pl.String, "principal_fen": pl.Int64,
                              "principal_paid_fen": pl.Int64,
                              "first_unpaid_due_date": pl.Date, "replay": pl.Int8})
        return raw.select(
            "loan_id", "policy_id", "funder", "product", "region",
            pl.col("start").dt.strftime("%Y-%m").alias("vintage"), "obligor",
            (pl.col("kind") != "enterprise").alias("retail"),
            pl.col("coverage_share").cast(pl.Float64), "principal_fen", "principal_paid_fen",
            "first_unpaid_due_date", (pl.col("replay") == 1).alias("replay"))

    def _past_due(self, on: date) -> Any:
        """Loans carrying risk, past due on ``on`` by their kept state and not replayed."""
        ln = loans_tables.loans
        return select(ln.c.id).where(
            ln.c.first_unpaid_due_date < on, ln.c.id.in_(self._risk_loans()),
            self._not_replayed(ln.c.id, on))

    def installments(self, on: date) -> pl.DataFrame:
        i, ln = loans_tables.installments, loans_tables.loans
        cols = (i.c.loan_id, i.c.number, i.c.due_date, i.c.principal_fen, i.c.interest_fen)
        due = (select(*cols).select_from(i.join(ln, ln.c.id == i.c.loan_id))
               .where(ln.c.id.in_(self._past_due(on).scalar_subquery()),
                      i.c.due_date >= ln.c.first_unpaid_due_date, i.c.due_date < on))
        replayed = select(*cols).where(i.c.loan_id.in_(self._replayed(on)),
                                       i.c.loan_id.in_(self._risk_loans()))
        return self._frame(union_all(due, replayed), _SCHEDULE)

    def overrides(self, on: date) -> pl.DataFrame:
        o = batch_tables.classification_overrides
        newest = (select(func.max(o.c.id).label("id"))
                  .where(o.c.effective_from <= on, o.c.loan_id.in_(self._risk_loans()))
                  .group_by(o.c.loan_id).subquery())
        q = (select(o.c.loan_id, o.c.tier, o.c.reason)
             .join(newest, newest.c.id == o.c.id).where(o.c.tier.is_not(None))
             .order_by(o.c.loan_id))
        return self._frame(q, {"loan_id": pl.Int64, "tier": pl.Int8, "reason": pl.String})

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

    def repayments(self, through: date) -> pl.DataFrame:
        r = loans_tables.repayments
        sums = (r.c.loan_id, r.c.installment_number, func.sum(r.c.principal_fen),
                func.sum(r.c.interest_fen))
        by = (r.c.loan_id, r.c.installment_number)
        due = (select(*sums).where(r.c.loan_id.in_(self._past_due(through).scalar_subquery()),
                                   r.c.paid_on <= through).group_by(*by))
        replayed = (select(*sums).where(r.c.loan_id.in_(self._replayed(through)),
                                        r.c.loan_id.in_(self._risk_loans()),
                                        r.c.paid_on <= through).group_by(*by))
        return self._frame(union_all(due, replayed),
                           {"loan_id": pl.Int64, "number": pl.Int32,
                            "principal_fen": pl.Int64, "interest_fen": pl.Int64})


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
