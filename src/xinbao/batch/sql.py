"""The book in bulk: one SQL query per frame, read straight into Polars (no object per row).

Only loans that still carry risk are read: their policy in force (being repaid) or claimed
(the insurer paid and recovers; its days past due keep counting for the classification).
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, Select, func, insert, select

from xinbao.batch import tables as batch_tables
from xinbao.batch.repository import FeedFile
from xinbao.catalogue import tables as catalogue_tables
from xinbao.loans import tables as loans_tables
from xinbao.policy import tables as policy_tables
from xinbao.policy.model import PolicyStatus
from xinbao.underwriting import tables as underwriting_tables

_CARRYING_RISK = (PolicyStatus.IN_FORCE.value, PolicyStatus.CLAIMED.value)
_SCHEDULE = {"loan_id": pl.Int64, "number": pl.Int32, "due_date": pl.Date,
             "principal_fen": pl.Int64, "interest_fen": pl.Int64}


class SqlBookFrames:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _frame(self, query: Select[Any], schema: dict[str, Any], *,
               bulk: bool = True) -> pl.DataFrame:
        """The query's rows as a frame: on PostgreSQL streamed out by ``COPY … TO STDOUT``
        as CSV and parsed by Polars (no Python object a row); elsewhere, or for a query on
        values a funder sent (``bulk=False``: COPY takes no bound parameters, and those are
        never written into SQL), fetched."""
        if bulk and self._c.dialect.name == "postgresql":
            return self._copy_out(query, schema)
        rows = self._c.execute(query).all()
        return pl.DataFrame(rows, schema=schema, orient="row")

    def _copy_out(self, query: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
        sql = str(query.compile(dialect=self._c.dialect,
                                compile_kwargs={"literal_binds": True}))
        raw = self._c.connection.driver_connection
        assert raw is not None
        buffer = io.BytesIO()
        with raw.cursor() as cursor, cursor.copy(
                f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
        if not buffer.tell():
            return pl.DataFrame(schema=schema)
        buffer.seek(0)
        return pl.read_csv(buffer, has_header=False, new_columns=list(schema),
                           schema_overrides=schema)

    def _risk_loans(self) -> Any:
        p = policy_tables.policies
        return select(p.c.loan_id).where(p.c.loan_id.is_not(None),
                                         p.c.status.in_(_CARRYING_RISK)).scalar_subquery()

    def loans(self) -> pl.DataFrame:
        p, a = policy_tables.policies, underwriting_tables.applications
        f, ln = catalogue_tables.funders, loans_tables.loans
        q = (select(ln.c.id, p.c.id, f.c.code, p.c.product_code, a.c.region, ln.c.start_date,
                    a.c.borrower_id_index, a.c.borrower_kind, p.c.coverage_share)
             .select_from(p.join(a, a.c.id == p.c.application_id)
                          .join(f, f.c.id == p.c.funder_id)
                          .join(ln, ln.c.id == p.c.loan_id))
             .where(p.c.status.in_(_CARRYING_RISK)).order_by(ln.c.id))
        raw = self._frame(q, {"loan_id": pl.Int64, "policy_id": pl.Int64, "funder": pl.String,
                              "product": pl.String, "region": pl.String, "start": pl.Date,
                              "obligor": pl.String, "kind": pl.String,
                              "coverage_share": pl.String})
        return raw.select(
            "loan_id", "policy_id", "funder", "product", "region",
            pl.col("start").dt.strftime("%Y-%m").alias("vintage"), "obligor",
            (pl.col("kind") != "enterprise").alias("retail"),
            pl.col("coverage_share").cast(pl.Float64))

    def installments(self) -> pl.DataFrame:
        i = loans_tables.installments
        q = (select(i.c.loan_id, i.c.number, i.c.due_date, i.c.principal_fen, i.c.interest_fen)
             .where(i.c.loan_id.in_(self._risk_loans())))
        return self._frame(q, _SCHEDULE)

    def funder_loans(self, funder_id: int, contract_nos: list[str]) -> pl.DataFrame:
        ln = loans_tables.loans
        q = (select(ln.c.contract_no, ln.c.id, ln.c.start_date, ln.c.term_months, ln.c.status)
             .where(ln.c.funder_id == funder_id, ln.c.contract_no.in_(contract_nos)))
        return self._frame(q, {"contract_no": pl.String, "loan_id": pl.Int64,
                               "start_date": pl.Date, "term_months": pl.Int64,
                               "status": pl.String}, bulk=False)

    def repayments(self, through: date) -> pl.DataFrame:
        r = loans_tables.repayments
        q = (select(r.c.loan_id, r.c.installment_number, func.sum(r.c.principal_fen),
                    func.sum(r.c.interest_fen))
             .where(r.c.loan_id.in_(self._risk_loans()), r.c.paid_on <= through)
             .group_by(r.c.loan_id, r.c.installment_number))
        return self._frame(q, {"loan_id": pl.Int64, "number": pl.Int32,
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

    def add(self, feed: FeedFile) -> None:
        self._c.execute(insert(batch_tables.feed_files).values(
            funder_id=feed.funder_id, file_type=feed.file_type,
            content_hash=feed.content_hash, file_name=feed.file_name,
            business_date=feed.business_date, received_at=feed.received_at, rows=feed.rows,
            report=feed.report))
