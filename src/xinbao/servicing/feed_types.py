"""A funder's disbursement, loan-status and early-settlement files applied (issue 21).

Each applier runs inside ``servicing.feeds.load_feed``'s unit of work, on the rows
``batch.feeds.check`` typed and accepted; it returns what it did (``Applied``) or the rows it
refuses, each with its rule, and then the caller rolls the whole file back. A row whose key
(``batch.feeds.ROW_KEYS``) was applied before, from an overlapping file, is a repeat: counted,
with no second effect.

- **Disbursements** issue each application's quoted policy on the funder's contract, as
  ``policy.services.issue_items`` issues a disbursement file (the loan and its schedule, the
  policy in force, single premium posted, their events): the principal is the amount the
  policy covers and the term the application's, or the row is refused. A contract already
  insured for that same application is a repeat.
- **Loan status** is the funder's own view of each loan on a day; it never changes our book.
  Each row is compared with our position on that day (``batch.kernels.positions`` over the
  schedule and the repayments paid by then) and our status; a row that differs is kept as a
  ``LoanStatusDiffers`` event on the loan with both sides (once per row key), and a loan we
  hold active that the funder wrote off or restructured is flagged for a person.
- **Early settlements** settle each loan early as ``servicing.services.prepay`` does (the
  principal left recorded as repaid, the policy settled with its refund); the principal must
  be what our book has outstanding, and any row refused refuses the file. A transaction
  number already recorded on the loan is a repeat.
- **Claim notices** give each row's notice on its loan's policy as the funder's notice
  through the API is given (``claims.services.give_notice``): assessed on the file's business
  date with every check and claim anti-fraud, then routed (approved automatically, to the
  claims queue, declined, or kept until the loan reaches its trigger). A notice number the
  funder gave before is a repeat; given before for another loan, the row is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from xinbao.batch import feeds, kernels
from xinbao.catalogue.model.parties import Funder
from xinbao.claims.model import ClaimSource, Document, Notice, check_notice
from xinbao.claims.services import give_notice
from xinbao.kernel.errors import Conflict, DomainError, InvalidInput
from xinbao.kernel.events import Event
from xinbao.kernel.results import FileOutcome
from xinbao.loans.model import LoanStatus
from xinbao.policy.commands import IssuePolicy
from xinbao.policy.model import PolicyStatus
from xinbao.policy.services import issue_items
from xinbao.servicing.claim_screen import ring_lookup
from xinbao.servicing.commands import RecordPrepayment
from xinbao.servicing.repository import STATUS_DIFFERS, FeedUnitOfWork
from xinbao.servicing.services import prepay

#: Our loan status -> the funder's statuses that agree with it. A loan we indemnified
#: (claimed) has left the funder's book: written off, or paid off by the indemnity.
STATUS_AGREES: dict[str, tuple[str, ...]] = {
    LoanStatus.ACTIVE.value: ("active",),
    LoanStatus.PAID_OFF.value: ("paid_off",),
    LoanStatus.CLAIMED.value: ("written_off", "paid_off"),
}
#: The funder's statuses that, on a loan we hold active, a person must look at: never
#: applied to our book by a file.
FOR_A_PERSON = ("written_off", "restructured")


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying a file's rows did, or the rows refused (then nothing is kept)."""

    accepted: int  # rows with an effect now
    repeated: int  # rows applied before (their key): no second effect
    rejects: pl.DataFrame  # ``feeds.no_rejects`` columns
    principal_fen: int = 0
    interest_fen: int = 0
    premium_fen: int = 0  # disbursements: single premium posted at issue
    premium_refunded_fen: int = 0  # early settlements: unearned premium refunded
    differences: pl.DataFrame = field(default_factory=pl.DataFrame)  # loan status
    flagged: int = 0  # differences for a person
    claims: pl.DataFrame = field(default_factory=pl.DataFrame)  # claim notices: ``CLAIMS``


#: A rule over a frame: (column, rule code, message, expression true where a row breaks it).
Rule = tuple[str, str, pl.Expr, pl.Expr]


def apply_disbursements(uow: FeedUnitOfWork, funder: Funder, rows: pl.DataFrame, *,
                        on: date, file_reference: str) -> Applied:
    """Issue each row's policy on its contract (see the module's docstring); ``on``: the
    file's business date, the day the policies are issued."""
    assert funder.id is not None
    if rows.is_empty():
        return Applied(0, 0, feeds.no_rejects())
    found = uow.feed_book.applications(funder.id, rows["application_ref"].unique().to_list())
    frame = rows.join(found, on="application_ref", how="left")
    repeat = (pl.col("issued_contract_no") == pl.col("contract_no")).fill_null(False)
    fresh = ~repeat
    known = pl.col("application_id").is_not_null()
    rejects = _broken(frame, [
        ("application_ref", "feed.application",
         pl.lit("no application of this funder has this number"), ~known),
        ("application_ref", "feed.policy",
         pl.lit("the application has no policy: it was not approved"),
         known & pl.col("policy_id").is_null()),
        ("application_ref", "feed.duplicate", pl.lit("the same application twice in the file"),
         pl.col("application_ref").is_duplicated()),
        ("contract_no", "feed.contract_taken",
         pl.lit("a loan of this funder has this contract number already, for another "
                "application"), fresh & pl.col("loan_id").is_not_null()),
        ("application_ref", "feed.policy_issued",
         pl.format("the application's policy is {} (contract {}): only a quote is issued",
                   "policy_status", pl.col("issued_contract_no").fill_null("none")),
         fresh & (pl.col("policy_status") != PolicyStatus.QUOTED.value)),
        ("principal", "feed.disbursement_amount",
         pl.format("the policy covers {} fen: the loan disbursed is the amount approved",
                   "principal_insured_fen"),
         pl.col("principal_fen") != pl.col("principal_insured_fen")),
        ("term_months", "feed.term_mismatch",
         pl.format("the application's term is {} months", "app_term_months"),
         pl.col("term_months_int") != pl.col("app_term_months")),
        ("disbursed_on", "feed.disbursement_date",
         pl.format("the policy was quoted on {}: no loan is disbursed before",
                   pl.col("quoted_on").cast(pl.String)),
         pl.col("disbursed_on_date") < pl.col("quoted_on")),
    ])
    repeated = frame.filter(repeat).height
    if rejects.height:
        return Applied(0, repeated, rejects)
    new = frame.filter(fresh)
    items = [IssuePolicy(policy_id, contract, disbursed_on, on)
             for policy_id, contract, disbursed_on
             in new.select("policy_id", "contract_no", "disbursed_on_date").iter_rows()]
    outcome = issue_items(uow, items) if items else FileOutcome((), ())
    if outcome.rejected:
        numbers = new[feeds.ROW].to_list()
        return Applied(0, repeated, _refusals(
            [(numbers[r.index], r.error) for r in outcome.rejected], "contract_no",
            "feed.issue"))
    return Applied(len(items), repeated, feeds.no_rejects(),
                   principal_fen=int(rows["principal_fen"].sum()),
                   premium_fen=sum(i.policy.single_premium_fen for i in outcome.accepted))


def apply_loan_status(uow: FeedUnitOfWork, funder: Funder, rows: pl.DataFrame, *,
                      on: date, file_reference: str) -> Applied:
    """Keep how each row differs from our book (see the module's docstring)."""
    assert funder.id is not None
    # Each day the file speaks of is held until the commit: a concurrent file with a row of
    # the same key waits, then finds that row's difference kept (one event per key).
    for as_of in sorted(rows["as_of_date"].unique().to_list()):
        uow.batch_runs.claim(f"feed.loan_status:{funder.id}", as_of)
    loan_ids = rows["loan_id"].unique().to_list()
    kept = uow.feed_book.status_differences(loan_ids).with_columns(pl.lit(True).alias("_kept"))
    keyed = rows.join(kept, left_on=["loan_id", "as_of_date"], right_on=["loan_id", "as_of"],
                      how="left")
    new = keyed.filter(pl.col("_kept").is_null()).drop("_kept")
    compared = new.join(_our_positions(uow, funder, new), on=["loan_id", "as_of_date"],
                        how="left")
    agrees = pl.lit(False)
    for ours, theirs in STATUS_AGREES.items():
        agrees = agrees | ((pl.col("our_status") == ours) & pl.col("status").is_in(theirs))
    differs_in = {
        "status": ~agrees,
        "outstanding_principal": pl.col("outstanding_principal_fen")
        != pl.col("our_outstanding_principal_fen"),
        "days_past_due": pl.col("days_past_due_int") != pl.col("our_days_past_due"),
    }
    differences = (
        compared.with_columns(
            pl.concat_str([pl.when(expr).then(pl.lit(name + " ")).otherwise(pl.lit(""))
                           for name, expr in differs_in.items()])
            .str.strip_chars_end().alias("differs_in"),
            (pl.col("status").is_in(FOR_A_PERSON)
             & (pl.col("our_status") == LoanStatus.ACTIVE.value)).alias("for_a_person"))
        .filter(pl.col("differs_in") != "")
        .select(feeds.ROW, "contract_no", "loan_id", pl.col("as_of_date").alias("as_of"),
                "differs_in", "for_a_person", pl.col("status").alias("their_status"),
                "our_status",
                pl.col("outstanding_principal_fen").alias("their_outstanding_principal_fen"),
                "our_outstanding_principal_fen",
                pl.col("days_past_due_int").alias("their_days_past_due"), "our_days_past_due")
        .sort(feeds.ROW))
    uow.events.add(_difference_event(r, funder, file_reference)
                   for r in differences.iter_rows(named=True))
    return Applied(new.height, rows.height - new.height, feeds.no_rejects(),
                   principal_fen=int(rows["outstanding_principal_fen"].sum()),
                   differences=differences,
                   flagged=int(differences["for_a_person"].sum()))


def _our_positions(uow: FeedUnitOfWork, funder: Funder, rows: pl.DataFrame) -> pl.DataFrame:
    """Our side of each row: the loan's status, outstanding principal and days past due on
    the row's day, from the schedule and the repayments paid by that day (a loan paid off
    only later was still active then)."""
    assert funder.id is not None
    schema = {"loan_id": pl.Int64, "as_of_date": pl.Date, "our_status": pl.String,
              "our_outstanding_principal_fen": pl.Int64, "our_days_past_due": pl.Int64}
    if rows.is_empty():
        return pl.DataFrame(schema=schema)
    loan_ids = rows["loan_id"].unique().to_list()
    statuses = uow.book.funder_loans(funder.id, rows["contract_no"].unique().to_list())
    schedules = uow.feed_book.schedules(loan_ids)
    paid = uow.feed_book.repayments(loan_ids)
    parts = []
    for as_of in rows["as_of_date"].unique().to_list():
        those = rows.filter(pl.col("as_of_date") == as_of)["loan_id"]
        position = kernels.positions(
            schedules.filter(pl.col("loan_id").is_in(those.implode())),
            paid.filter(pl.col("paid_on") <= as_of).drop("paid_on", "reference"), as_of)
        parts.append(position.select("loan_id", "outstanding_principal_fen", "days_past_due",
                                     "paid_off").with_columns(pl.lit(as_of).alias("as_of_date")))
    positions = pl.concat(parts).join(statuses.select("loan_id", "status"), on="loan_id")
    paid_off = LoanStatus.PAID_OFF.value
    return positions.select(
        "loan_id", "as_of_date",
        pl.when((pl.col("status") == paid_off) & ~pl.col("paid_off"))
        .then(pl.lit(LoanStatus.ACTIVE.value)).otherwise(pl.col("status")).alias("our_status"),
        pl.col("outstanding_principal_fen").cast(pl.Int64)
        .alias("our_outstanding_principal_fen"),
        pl.col("days_past_due").cast(pl.Int64).alias("our_days_past_due"))


def _difference_event(row: dict[str, Any], funder: Funder, file_reference: str) -> Event:
    return Event(STATUS_DIFFERS, "loan", row["loan_id"], row["as_of"], {
        "funder": funder.code, "file": file_reference, "contract_no": row["contract_no"],
        "differs_in": row["differs_in"].split(), "for_a_person": row["for_a_person"],
        "theirs": {"status": row["their_status"],
                   "outstanding_principal_fen": row["their_outstanding_principal_fen"],
                   "days_past_due": row["their_days_past_due"]},
        "ours": {"status": row["our_status"],
                 "outstanding_principal_fen": row["our_outstanding_principal_fen"],
                 "days_past_due": row["our_days_past_due"]}})


def apply_early_settlements(uow: FeedUnitOfWork, funder: Funder, rows: pl.DataFrame, *,
                            on: date, file_reference: str) -> Applied:
    """Settle each row's loan early (see the module's docstring)."""
    assert funder.id is not None
    if rows.is_empty():
        return Applied(0, 0, feeds.no_rejects())
    loan_ids = rows["loan_id"].unique().to_list()
    statuses = uow.book.funder_loans(funder.id, rows["contract_no"].unique().to_list())
    schedules = uow.feed_book.schedules(loan_ids)
    # The evidence of a repeat is read last: each read sees what is committed when it runs,
    # so a concurrent file that settled a loan after its status was read is seen here. A
    # settlement's repayments carry its transaction number and the installment's
    # (``prepay``): a row whose number is on its loan already is a repeat, which ``prepay``
    # answers with the settlement made then (or refuses, when it was a repayment's).
    paid = uow.feed_book.repayments(loan_ids)
    recorded = (paid.select("loan_id", pl.col("reference").str.extract(r"^(.*):[0-9]+$", 1))
                .drop_nulls().unique().with_columns(pl.lit(True).alias("again")))
    frame = (rows.join(recorded, on=["loan_id", "reference"], how="left")
             .with_columns(pl.col("again").fill_null(False))
             .join(_settlement_positions(rows, statuses, schedules, paid),
                   on=["loan_id", "settled_on_date"], how="left"))
    new = ~pl.col("again")
    active = pl.col("loan_status") == LoanStatus.ACTIVE.value
    rejects = _broken(frame, [
        ("contract_no", "feed.loan_state",
         pl.format("the loan is {}: only an active loan is settled early", "loan_status"),
         new & ~active),
        ("settled_on", "feed.past_due",
         pl.format("the loan is {} days past due that day: its overdue repayments come first",
                   "days_past_due"), new & active & (pl.col("days_past_due") > 0)),
        ("principal", "feed.settlement_principal",
         pl.format("our book has {} fen of principal outstanding", "outstanding_principal_fen"),
         new & active & (pl.col("principal_fen") != pl.col("outstanding_principal_fen"))),
    ])
    if rejects.height:
        return Applied(0, frame.filter(pl.col("again")).height, rejects)
    settled = repeated = refunded = 0
    refused: list[tuple[int, DomainError]] = []
    for row, loan_id, settled_on, interest, reference, again in frame.select(
            feeds.ROW, "loan_id", "settled_on_date", "interest_fen", "reference",
            "again").iter_rows():
        try:
            settlement = prepay(uow, RecordPrepayment(loan_id, settled_on, interest, reference))
        except DomainError as error:
            refused.append((row, error))
            continue
        if again:
            repeated += 1
        else:
            settled += 1
            refunded += settlement.refunded_fen
    if refused:
        return Applied(0, repeated, _refusals(refused, "contract_no", "feed.loan_state"))
    return Applied(settled, repeated, feeds.no_rejects(),
                   principal_fen=int(rows["principal_fen"].sum()),
                   interest_fen=int(rows["interest_fen"].sum()),
                   premium_refunded_fen=refunded)


def _settlement_positions(rows: pl.DataFrame, statuses: pl.DataFrame,
                          schedules: pl.DataFrame, paid: pl.DataFrame) -> pl.DataFrame:
    """Each row's loan on its settlement day as ``prepay`` sees it: its status, days past
    due and principal outstanding after every repayment recorded."""
    repaid = paid.drop("paid_on", "reference")
    parts = [kernels.positions(
        schedules.filter(pl.col("loan_id").is_in(
            rows.filter(pl.col("settled_on_date") == day)["loan_id"].implode())), repaid, day)
        .select("loan_id", "days_past_due", "outstanding_principal_fen")
        .with_columns(pl.lit(day).alias("settled_on_date"))
        for day in rows["settled_on_date"].unique().to_list()]
    return (pl.concat(parts).join(statuses.select("loan_id", pl.col("status").alias(
        "loan_status")), on="loan_id")
        .with_columns(pl.col("days_past_due", "outstanding_principal_fen").cast(pl.Int64)))


#: What a claim notice file's rows became: the row, its notice, the claim and where it went.
CLAIMS = {feeds.ROW: pl.Int64, "contract_no": pl.String, "reference": pl.String,
          "claim_id": pl.Int64, "status": pl.String, "amount_fen": pl.Int64,
          "reason_codes": pl.String, "referrals": pl.String, "repeat": pl.Boolean}


def apply_claim_notices(uow: FeedUnitOfWork, funder: Funder, rows: pl.DataFrame, *,
                        on: date, file_reference: str) -> Applied:
    """Give each row's notice (see the module's docstring); ``on``: the file's business
    date, the day the notices are assessed."""
    assert funder.id is not None
    if rows.is_empty():
        return Applied(0, 0, feeds.no_rejects(), claims=pl.DataFrame(schema=CLAIMS))
    rings = ring_lookup(uow)
    asked = pl.col("claimed").is_not_null() & (pl.col("claimed") != "")
    frame = rows.with_columns(pl.when(asked).then(pl.col("claimed_fen")).alias("_asked"))
    made, refused = [], []
    for row, loan_id, contract, reference, notified_on, claimed, document, digest in \
            frame.select(feeds.ROW, "loan_id", "contract_no", "reference", "notified_on_date",
                         "_asked", "document", "document_sha256").iter_rows():
        documents = (Document(document, digest.lower()),) if document else ()
        try:
            check_notice(reference=reference, claimed_fen=claimed, documents=documents,
                         needs_reference=True)
            policy = uow.policies.get_by_loan(loan_id)
            if policy is None:
                raise Conflict(f"loan {contract} has no policy to claim on")
            claim, again = give_notice(
                uow, policy, Notice(ClaimSource.NOTICE, notified_on, reference, claimed),
                on=on, documents=documents, rings=rings)
        except DomainError as error:
            refused.append((row, error))
            continue
        made.append((row, contract, reference, claim.id, claim.status.value, claim.amount_fen,
                     " ".join(claim.reason_codes), " ".join(claim.referrals), again))
    if refused:
        return Applied(0, 0, _refusals(refused, "reference", "feed.claim"))
    claims = pl.DataFrame(made, schema=CLAIMS, orient="row")
    repeated = int(claims["repeat"].sum())
    return Applied(claims.height - repeated, repeated, feeds.no_rejects(), claims=claims)


def _broken(frame: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """One reject a broken rule: the row's number, the column, the rule and its message."""
    parts = [frame.filter(broken.fill_null(False)).select(
        pl.col(feeds.ROW).cast(pl.Int64), pl.lit(column).alias("column"),
        pl.lit(rule).alias("rule"), message.cast(pl.String).alias("message"))
        for column, rule, message, broken in rules]
    return pl.concat(parts).sort(feeds.ROW, "column", "rule") if parts else feeds.no_rejects()


def _refusals(refused: list[tuple[int, DomainError]], column: str,
              rule: str) -> pl.DataFrame:
    """The rows a use case refused, as rejects: a refusal with its field and rule as it
    says them, any other under ``column`` and ``rule`` with its message."""
    out = []
    for row, error in refused:
        if isinstance(error, InvalidInput):
            out += [(row, e.field, e.rule, e.message) for e in error.errors]
        else:
            out.append((row, column, rule, str(error)))
    return pl.DataFrame(out, schema=feeds.no_rejects().schema, orient="row")
