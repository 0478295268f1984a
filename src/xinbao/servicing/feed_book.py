"""What a funder's disbursement, loan-status and early-settlement files are checked against
(``servicing.repository.FeedBook``): one statement a frame, over a list of any length passed
as one parameter (``platform.sql_lists.in_list``), fetched straight into Polars."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Connection, Select, select

from xinbao.loans import tables as loans_tables
from xinbao.platform import tables as platform_tables
from xinbao.platform.sql_lists import in_list
from xinbao.policy import tables as policy_tables
from xinbao.servicing.repository import STATUS_DIFFERS
from xinbao.underwriting import tables as underwriting_tables

_APPLICATIONS = {"application_ref": pl.String, "application_id": pl.Int64,
                 "app_term_months": pl.Int64, "policy_id": pl.Int64,
                 "policy_status": pl.String, "principal_insured_fen": pl.Int64,
                 "quoted_on": pl.Date, "issued_contract_no": pl.String}
_SCHEDULE = {"loan_id": pl.Int64, "number": pl.Int32, "due_date": pl.Date,
             "principal_fen": pl.Int64, "interest_fen": pl.Int64}
_REPAYMENTS = {"loan_id": pl.Int64, "number": pl.Int32, "paid_on": pl.Date,
               "principal_fen": pl.Int64, "interest_fen": pl.Int64, "reference": pl.String}


class SqlFeedBook:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _frame(self, query: Select[Any], params: dict[str, Any],
               schema: dict[str, Any]) -> pl.DataFrame:
        rows = self._c.execute(query, params).all()
        return pl.DataFrame(rows, schema=schema, orient="row")

    def applications(self, funder_id: int, refs: list[str]) -> pl.DataFrame:
        a, p = underwriting_tables.applications, policy_tables.policies
        ln = loans_tables.loans
        q = (select(a.c.external_ref, a.c.id, a.c.term_months, p.c.id, p.c.status,
                    p.c.principal_insured_fen, p.c.quoted_on, ln.c.contract_no)
             .select_from(a.outerjoin(p, p.c.application_id == a.c.id)
                          .outerjoin(ln, ln.c.id == p.c.loan_id))
             .where(a.c.funder_id == funder_id, in_list(a.c.external_ref, "refs")))
        return self._frame(q, {"refs": refs}, _APPLICATIONS)

    def schedules(self, loan_ids: list[int]) -> pl.DataFrame:
        i = loans_tables.installments
        q = (select(i.c.loan_id, i.c.number, i.c.due_date, i.c.principal_fen, i.c.interest_fen)
             .where(in_list(i.c.loan_id, "loans")))
        return self._frame(q, {"loans": loan_ids}, _SCHEDULE)

    def repayments(self, loan_ids: list[int]) -> pl.DataFrame:
        r = loans_tables.repayments
        q = (select(r.c.loan_id, r.c.installment_number, r.c.paid_on, r.c.principal_fen,
                    r.c.interest_fen, r.c.reference)
             .where(in_list(r.c.loan_id, "loans")))
        return self._frame(q, {"loans": loan_ids}, _REPAYMENTS)

    def status_differences(self, loan_ids: list[int]) -> pl.DataFrame:
        e = platform_tables.domain_events
        q = (select(e.c.aggregate_id, e.c.occurred_on).distinct()
             .where(e.c.name == STATUS_DIFFERS, e.c.aggregate == "loan",
                    in_list(e.c.aggregate_id, "loans")))
        return self._frame(q, {"loans": loan_ids}, {"loan_id": pl.Int64, "as_of": pl.Date})
