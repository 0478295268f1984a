"""A funder's repayment file recorded as a set (issue 21): the rows ``batch.feeds.check``
typed are staged in the database, checked against the loans' schedules and what was paid
before, and written, each step one statement over the whole file
(``servicing.repository.StagedRepayments``); then the effects a repayment has, once for the
file: the installment premiums written for policies with an installment premium, and the
premium the file collected posted as one entry.

Inside the caller's unit of work (``servicing.feeds.load_feed``), which commits: a row the
schedule refuses is returned as a reject, and the caller rolls the file back whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from xinbao.batch import feeds
from xinbao.catalogue.model.parties import Funder
from xinbao.ledger.services import post
from xinbao.policy import postings
from xinbao.policy.premiums import funder_share, write_installment_premiums
from xinbao.servicing.repository import FeedUnitOfWork


@dataclass(frozen=True, slots=True)
class RowsRecorded:
    accepted: int
    repeated: int  # rows whose transaction number the loan has recorded already
    rejects: pl.DataFrame  # the rows the schedules refused (``feeds.no_rejects`` columns)
    premium_collected_fen: int


def record_repayment_rows(uow: FeedUnitOfWork, funder: Funder, rows: pl.DataFrame, *,
                          received_on: date, file_reference: str) -> RowsRecorded:
    """Record the file's rows (see the module's docstring); nothing is written when any
    row is refused."""
    staged = uow.staged_repayments
    staged.stage(rows)
    once = not rows.select(pl.struct("loan_id", "installment_number_int")
                           .is_duplicated().any()).item()
    # The schedules' check first, seeing in one statement both what was paid and which rows
    # are recorded already; the repeats are marked after it, so a concurrent sender of the
    # same rows that commits in between is seen as a repeat, never as an overpayment (and
    # one that commits after collides with this file's writes: the whole file is retried).
    overpaid = staged.overpaid(installments_once=once)
    repeats = staged.mark_repeats()
    rejects = _rejects(overpaid, staged.premium_without_terms())
    if rejects.height:
        return RowsRecorded(0, repeats.height, rejects, 0)
    accepted = rows.join(repeats, on=feeds.ROW, how="anti")
    due = staged.installment_premium_due()
    written = staged.apply()
    assert written == accepted.height, (written, accepted.height)
    source = f"file:{funder.code}:{file_reference}"
    if due:
        terms = {t.id: t for t in uow.policies.premium_terms(policy_ids=[p for p, _ in due])}
        assert funder.id is not None
        write_installment_premiums(uow, [(terms[p], through) for p, through in due],
                                   {funder.id: funder}, on=received_on, source=source)
    premium = int(accepted["premium_fen"].sum() or 0)
    if premium:
        by_loan = accepted.filter(pl.col("premium_fen") > 0).group_by("loan_id").agg(
            pl.col("premium_fen").sum())
        loans = dict(by_loan.iter_rows())
        uow.policies.add_collected({t.id: int(loans[t.loan_id]) for t in
                                    uow.policies.premium_terms(loan_ids=list(loans))})
        post(uow, postings.premium_collected(
            on=received_on, amount_fen=premium, funder_code=funder.code,
            file_reference=file_reference,
            repayments=accepted.select("loan_id", "reference").iter_rows(),
            share=funder_share(funder)))
    return RowsRecorded(accepted.height, repeats.height, feeds.no_rejects(), premium)


def _rejects(overpaid: pl.DataFrame, no_terms: pl.DataFrame) -> pl.DataFrame:
    """The schedules' refusals as rejects, each with its rule and what was left to pay."""
    over = overpaid.select(
        feeds.ROW, pl.lit("principal").alias("column"),
        pl.lit("repayment.overpayment").alias("rule"),
        pl.format("installment {} has {} fen principal and {} fen interest left before this "
                  "file; with the file's earlier rows for it, this row pays more",
                  "installment_number", "principal_left_fen", "interest_left_fen")
        .alias("message"))
    premium = no_terms.select(
        feeds.ROW, pl.lit("premium").alias("column"), pl.lit("repayment.premium").alias("rule"),
        pl.lit("no premium is due on this loan: its policy has no "
               "installment premium, or is not in force").alias("message"))
    return pl.concat([over, premium]).sort(feeds.ROW, "column")
