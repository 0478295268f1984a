"""A funder's disbursement, loan-status and early-settlement files applied (issue 21), on
SQLite and PostgreSQL: each with its effects, the same file again (renamed) and an
overlapping file adding nothing but their new rows, one bad row leaving the book untouched
with its row and rule, and concurrent loads of one file applying it once."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests import builders, support
from xinbao.batch import feeds, files
from xinbao.batch.feeds import FileType, Manifest
from xinbao.bootstrap import Container
from xinbao.entrypoints.cli.main import app
from xinbao.iam.model.security import Forbidden, Principal, Role
from xinbao.kernel.events import Event
from xinbao.loans.model import Loan, LoanStatus, Repayment
from xinbao.policy.model import Policy, PolicyStatus
from xinbao.servicing.feeds import FeedReport, LoadFeed, load_feed
from xinbao.underwriting import services as applications

HEADERS = {
    FileType.DISBURSEMENTS: "contract_no,application_ref,disbursed_on,principal,term_months,"
                            "reference",
    FileType.LOAN_STATUS: "contract_no,as_of,status,outstanding_principal,days_past_due",
    FileType.EARLY_SETTLEMENTS: "contract_no,settled_on,principal,interest,reference",
}


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _load(c: Container, tmp_path: Path, kind: FileType, name: str, lines: list[str], *,
          day: date, principal: Principal | None = None) -> FeedReport:
    path = tmp_path / name
    path.write_text("\n".join([HEADERS[kind], *lines]) + "\n", encoding="utf-8")
    raw = files.read(path)
    return load_feed(LoadFeed("BANK-A", name, files.content_hash(path),
                              Manifest(kind, "BANK-A", day, raw.height), raw,
                              datetime(2025, 5, 1, 2, 0)), c.uow(principal))


def _entries(c: Container) -> int:
    with c.uow() as uow:
        return len(uow.ledger.entries())


def _events(c: Container, name: str) -> list[Event]:
    with c.uow() as uow:
        return [e for e in uow.events.list(aggregate="loan") if e.name == name]


def _issued(c: Container, ref: str, **changes: object) -> Loan:
    policy = builders.issued_policy(c.uow, builders.consumer_application(
        external_ref=ref, **changes))
    with c.uow() as uow:
        found = uow.loans.get(policy.loan_id)
    assert found is not None
    return found


# -- disbursements ---------------------------------------------------------------------

DISBURSED = date(2025, 1, 20)
ISSUE_DAY = date(2025, 1, 31)


def _quoted(c: Container, ref: str) -> Policy:
    submitted = applications.submit_application(
        builders.consumer_application(external_ref=ref), c.uow())
    decided = builders.approve(c.uow, submitted.id)
    assert decided.policy is not None, decided.decision
    return decided.policy


def _disbursement(ref: str, policy: Policy, *, principal: int | None = None,
                  term: int = 12) -> str:
    amount = policy.principal_insured_fen if principal is None else principal
    return f"LN-{ref},{ref},{DISBURSED},{_yuan(amount)},{term},DB-{ref}"


def _policies(c: Container, *policies: Policy) -> list[tuple[str, str | None]]:
    """Each policy's status and the contract of the loan it is issued on."""
    out = []
    with c.uow() as uow:
        for p in policies:
            stored = uow.policies.get(p.id)  # type: ignore[arg-type]
            assert stored is not None
            loan = uow.loans.get(stored.loan_id) if stored.loan_id else None
            out.append((stored.status.value, loan.contract_no if loan else None))
    return out


def test_a_disbursement_file_issues_each_quoted_policy_once_and_an_overlap_only_the_new(
        decided_container, tmp_path):
    c = decided_container
    one, two, three = (_quoted(c, ref) for ref in ("APP-1", "APP-2", "APP-3"))
    lines = [_disbursement("APP-1", one), _disbursement("APP-2", two)]

    first = _load(c, tmp_path, FileType.DISBURSEMENTS, "d1.csv", lines, day=ISSUE_DAY)
    disbursed = len(_events(c, "LoanDisbursed"))
    again = _load(c, tmp_path, FileType.DISBURSEMENTS, "d1-again.csv", lines, day=ISSUE_DAY)
    overlap = _load(c, tmp_path, FileType.DISBURSEMENTS, "d2.csv",
                    [_disbursement("APP-2", two), _disbursement("APP-3", three)], day=ISSUE_DAY)

    assert (first.status, first.accepted, first.repeated) == ("applied", 2, 0)
    assert first.principal_fen == one.principal_insured_fen + two.principal_insured_fen
    assert disbursed == 2
    assert (again.status, again.accepted) == ("repeat", 0)
    assert (overlap.status, overlap.accepted, overlap.repeated) == ("applied", 1, 1)
    assert _policies(c, one, two, three) == [(PolicyStatus.IN_FORCE.value, "LN-APP-1"),
                                             (PolicyStatus.IN_FORCE.value, "LN-APP-2"),
                                             (PolicyStatus.IN_FORCE.value, "LN-APP-3")]
    assert len(_events(c, "LoanDisbursed")) == 3
    with c.uow() as uow:
        loan = uow.loans.get_by_contract(1, "LN-APP-1")
    assert loan is not None
    assert (loan.principal_fen, loan.term_months, loan.start_date) == (
        one.principal_insured_fen, 12, DISBURSED)


def test_a_disbursed_single_premium_policy_posts_its_premium_as_issuing_it_does(
        decided_container, tmp_path):
    c = decided_container
    submitted = applications.submit_application(builders.car_application(), c.uow())
    quote = builders.approve(c.uow, submitted.id).policy
    assert quote is not None and quote.single_premium_fen > 0
    entries = _entries(c)

    report = _load(c, tmp_path, FileType.DISBURSEMENTS, "car.csv", [
        f"LN-CAR,APP-CAR-1,{DISBURSED},{_yuan(quote.principal_insured_fen)},24,DB-CAR"],
        day=ISSUE_DAY)

    assert (report.status, report.premium_fen) == ("applied", quote.single_premium_fen)
    assert _policies(c, quote) == [(PolicyStatus.IN_FORCE.value, "LN-CAR")]
    assert _entries(c) == entries + 1


def test_a_disbursement_file_with_one_bad_row_issues_nothing_and_says_the_row_and_rule(
        decided_container, tmp_path):
    c = decided_container
    one, two = _quoted(c, "APP-1"), _quoted(c, "APP-2")
    entries = _entries(c)

    amount = _load(c, tmp_path, FileType.DISBURSEMENTS, "amount.csv", [
        _disbursement("APP-1", one), _disbursement("APP-2", two,
                                                   principal=two.principal_insured_fen - 100)],
        day=ISSUE_DAY)
    term = _load(c, tmp_path, FileType.DISBURSEMENTS, "term.csv", [
        _disbursement("APP-1", one, term=24)], day=ISSUE_DAY)
    unknown = _load(c, tmp_path, FileType.DISBURSEMENTS, "unknown.csv", [
        _disbursement("APP-1", one), "LN-X,APP-NOPE,2025-01-20,100.00,12,DB-X"], day=ISSUE_DAY)

    assert amount.status == "refused"
    assert amount.rejects.select(feeds.ROW, "rule").rows() == [(2, "feed.disbursement_amount")]
    assert term.rejects.select(feeds.ROW, "rule").rows() == [(1, "feed.term_mismatch")]
    assert unknown.rejects.select(feeds.ROW, "rule").rows() == [(2, "feed.application")]
    assert _policies(c, one, two) == [(PolicyStatus.QUOTED.value, None)] * 2
    assert _entries(c) == entries and _events(c, "LoanDisbursed") == []


def test_a_contract_insured_for_another_application_is_refused(decided_container, tmp_path):
    c = decided_container
    one, two = _quoted(c, "APP-1"), _quoted(c, "APP-2")
    _load(c, tmp_path, FileType.DISBURSEMENTS, "d1.csv", [_disbursement("APP-1", one)],
          day=ISSUE_DAY)

    taken = _load(c, tmp_path, FileType.DISBURSEMENTS, "d2.csv", [
        f"LN-APP-1,APP-2,{DISBURSED},{_yuan(two.principal_insured_fen)},12,DB-2"], day=ISSUE_DAY)

    assert taken.rejects.select(feeds.ROW, "rule").rows() == [(1, "feed.contract_taken")]
    assert _policies(c, two) == [(PolicyStatus.QUOTED.value, None)]


def test_a_disbursement_file_needs_the_right_to_issue_policies(decided_container, tmp_path):
    c = decided_container
    one = _quoted(c, "APP-1")
    finance = Principal("user", "wang.finance", frozenset({Role.FINANCE}))
    with pytest.raises(Forbidden):
        _load(c, tmp_path, FileType.DISBURSEMENTS, "d.csv", [_disbursement("APP-1", one)],
              day=ISSUE_DAY, principal=finance)
    assert _policies(c, one) == [(PolicyStatus.QUOTED.value, None)]


def test_concurrent_loads_of_one_disbursement_file_issue_it_once(decided_container, tmp_path):
    c = decided_container
    one, two = _quoted(c, "APP-1"), _quoted(c, "APP-2")
    lines = [_disbursement("APP-1", one), _disbursement("APP-2", two)]

    reports = support.race(4, lambda i: _load(c, tmp_path, FileType.DISBURSEMENTS,
                                              f"copy-{i}.csv", lines, day=ISSUE_DAY))

    assert sorted(r.status for r in reports) == ["applied"] + ["repeat"] * 3
    assert len(_events(c, "LoanDisbursed")) == 2


# -- loan status -----------------------------------------------------------------------

STATUS_DAY = date(2025, 3, 20)  # nothing repaid: 33 days past due since 2025-02-15


def _status(loan: Loan, as_of: date, status: str, outstanding: int, dpd: int) -> str:
    return f"{loan.contract_no},{as_of},{status},{_yuan(outstanding)},{dpd}"


def test_a_loan_status_file_keeps_what_differs_from_our_book_once_and_changes_nothing(
        loan, tmp_path):
    c, ln = loan
    other = _issued(c, "APP-0002", borrower_id_number=builders.RESIDENT_ID)
    dpd = (STATUS_DAY - ln.installments[0].due_date).days
    lines = [_status(ln, STATUS_DAY, "active", ln.principal_fen, dpd),  # as our book says
             _status(other, STATUS_DAY, "written_off", 0, dpd)]
    entries = _entries(c)

    first = _load(c, tmp_path, FileType.LOAN_STATUS, "s1.csv", lines, day=STATUS_DAY)
    again = _load(c, tmp_path, FileType.LOAN_STATUS, "s1-again.csv", lines, day=STATUS_DAY)
    later = date(2025, 3, 21)
    overlap = _load(c, tmp_path, FileType.LOAN_STATUS, "s2.csv", [
        lines[1], _status(ln, later, "active", ln.principal_fen, 0)], day=later)

    assert (first.status, first.accepted, first.repeated) == ("applied", 2, 0)
    assert (first.differing, first.flagged) == (1, 1)
    assert first.differences.select("contract_no", "differs_in", "for_a_person").rows() == [
        (other.contract_no, "status outstanding_principal", True)]
    assert (again.status, again.accepted, again.differing) == ("repeat", 0, 1)
    assert (overlap.status, overlap.accepted, overlap.repeated) == ("applied", 1, 1)
    assert overlap.differences.select("contract_no", "differs_in").rows() == [
        (ln.contract_no, "days_past_due")]
    kept = _events(c, "LoanStatusDiffers")
    assert [(e.aggregate_id, e.on) for e in kept] == [(other.id, STATUS_DAY), (ln.id, later)]
    assert kept[0].data["theirs"] == {"status": "written_off", "outstanding_principal_fen": 0,
                                      "days_past_due": dpd}
    assert kept[0].data["ours"] == {"status": "active",
                                    "outstanding_principal_fen": other.principal_fen,
                                    "days_past_due": dpd}
    with c.uow() as uow:  # the funder's view is never applied to our book
        assert uow.loans.get(other.id).status is LoanStatus.ACTIVE  # type: ignore[union-attr]
    assert _entries(c) == entries


def test_our_side_of_a_status_counts_only_repayments_paid_by_its_day(loan, tmp_path):
    c, ln = loan
    first = ln.installments[0]
    with c.uow() as uow:
        uow.repayments.add_many([(Repayment(
            loan_id=ln.id, installment_number=1, paid_on=date(2025, 3, 25),
            principal_fen=first.principal_fen, interest_fen=first.interest_fen), "TX-1")])
        uow.commit()
    dpd = (STATUS_DAY - first.due_date).days

    report = _load(c, tmp_path, FileType.LOAN_STATUS, "s.csv", [
        _status(ln, STATUS_DAY, "active", ln.principal_fen, dpd)], day=STATUS_DAY)

    assert (report.status, report.differing) == ("applied", 0)


def test_a_loan_status_file_with_one_bad_row_keeps_nothing(loan, tmp_path):
    c, ln = loan
    report = _load(c, tmp_path, FileType.LOAN_STATUS, "bad.csv", [
        _status(ln, STATUS_DAY, "written_off", 0, 0),
        _status(ln, date(2025, 3, 19), "frozen", 0, 0)], day=STATUS_DAY)

    assert report.status == "refused"
    assert report.rejects.select(feeds.ROW, "rule").rows() == [(2, "feed.status")]
    assert _events(c, "LoanStatusDiffers") == []


def test_concurrent_loads_of_one_loan_status_file_keep_each_difference_once(loan, tmp_path):
    c, ln = loan
    lines = [_status(ln, STATUS_DAY, "restructured", 100_000, 0)]

    reports = support.race(4, lambda i: _load(c, tmp_path, FileType.LOAN_STATUS,
                                              f"copy-{i}.csv", lines, day=STATUS_DAY))

    assert sorted(r.status for r in reports) == ["applied"] + ["repeat"] * 3
    assert len(_events(c, "LoanStatusDiffers")) == 1


def test_concurrent_overlapping_status_files_keep_a_shared_rows_difference_once(
        loan, tmp_path):
    c, ln = loan
    shared = _status(ln, STATUS_DAY, "restructured", 100_000, 0)

    reports = support.race(4, lambda i: _load(
        c, tmp_path, FileType.LOAN_STATUS, f"file-{i}.csv",
        [shared, _status(ln, date(2025, 3, 1 + i), "active", ln.principal_fen, 14 + i)],
        day=STATUS_DAY))

    assert sorted((r.status, r.repeated) for r in reports) == [("applied", 0)] + [
        ("applied", 1)] * 3
    assert [e.on for e in _events(c, "LoanStatusDiffers")].count(STATUS_DAY) == 1


def test_the_cli_writes_a_status_files_differences_beside_it(loan, tmp_path):
    c, ln = loan
    path = tmp_path / "status.csv"
    path.write_text("\n".join([HEADERS[FileType.LOAN_STATUS], _status(
        ln, STATUS_DAY, "written_off", 0, 0)]) + "\n", encoding="utf-8")
    (tmp_path / "status.csv.manifest.json").write_text(json.dumps({
        "type": "loan_status", "funder": "BANK-A", "business_date": str(STATUS_DAY),
        "rows": 1}), encoding="utf-8")

    result = CliRunner().invoke(app, ["feed", "load", str(path), "--funder", "BANK-A",
                                      "--type", "loan_status", "--json", "--database-url",
                                      c.settings.database_url])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["differing"], summary["flagged"]) == ("applied", 1, 1)
    written = pl.read_csv(summary["differences_file"])
    assert written.select("contract_no", "their_status", "our_status").rows() == [
        (ln.contract_no, "written_off", "active")]


# -- early settlements -----------------------------------------------------------------

SETTLED = date(2025, 2, 10)  # before the first installment falls due


def _settlement(loan: Loan, reference: str, *, principal: int | None = None,
                on: date = SETTLED, interest: int = 10_000) -> str:
    amount = loan.principal_fen if principal is None else principal
    return f"{loan.contract_no},{on},{_yuan(amount)},{_yuan(interest)},{reference}"


def _statuses(c: Container, *loans: Loan) -> list[str]:
    with c.uow() as uow:
        return [uow.loans.get(ln.id).status.value for ln in loans]  # type: ignore[union-attr, arg-type]


def test_an_early_settlement_file_settles_each_loan_once_with_its_refund(loan, tmp_path):
    c, ln = loan
    car_policy = builders.issued_policy(c.uow, builders.car_application())
    with c.uow() as uow:
        car = uow.loans.get(car_policy.loan_id)
    assert car is not None
    third = _issued(c, "APP-0003", borrower_id_number=builders.RESIDENT_ID)
    lines = [_settlement(ln, "ES-1"), _settlement(car, "ES-2")]

    first = _load(c, tmp_path, FileType.EARLY_SETTLEMENTS, "e1.csv", lines, day=SETTLED)
    entries = _entries(c)
    again = _load(c, tmp_path, FileType.EARLY_SETTLEMENTS, "e1-again.csv", lines, day=SETTLED)
    entries_again = _entries(c)
    overlap = _load(c, tmp_path, FileType.EARLY_SETTLEMENTS, "e2.csv",
                    [lines[1], _settlement(third, "ES-3")], day=SETTLED)

    prepaid = _events(c, "LoanPrepaid")
    assert (first.status, first.accepted, first.repeated) == ("applied", 2, 0)
    assert first.principal_fen == ln.principal_fen + car.principal_fen
    assert first.premium_refunded_fen > 0
    assert first.premium_refunded_fen == sum(e.data["refunded_fen"] for e in prepaid[:2])
    assert (again.status, again.accepted) == ("repeat", 0)
    assert (overlap.status, overlap.accepted, overlap.repeated) == ("applied", 1, 1)
    assert [e.aggregate_id for e in prepaid] == [ln.id, car.id, third.id]
    assert _statuses(c, ln, car, third) == ["paid_off"] * 3
    assert entries_again == entries
    with c.uow() as uow:
        repaid = uow.repayments.for_loan(ln.id)  # type: ignore[arg-type]
        assert sum(r.principal_fen for r in repaid) == ln.principal_fen
        assert uow.policies.get_by_loan(car.id).status in (  # type: ignore[union-attr, arg-type]
            PolicyStatus.CANCELLED, PolicyStatus.CLOSED)


@pytest.mark.parametrize(("row", "rule"), [
    (lambda ln: _settlement(ln, "ES-2", principal=ln.principal_fen - 1),
     "feed.settlement_principal"),
    (lambda ln: _settlement(ln, "ES-2", on=date(2025, 3, 1)), "feed.past_due"),
    (lambda ln: _settlement(ln, "ES-2", interest=ln.installments[0].interest_fen + 1),
     "repayment.overpayment"),
])
def test_an_early_settlement_file_with_one_bad_row_settles_nothing(loan, tmp_path, row, rule):
    c, ln = loan
    other = _issued(c, "APP-0002", borrower_id_number=builders.RESIDENT_ID)
    entries = _entries(c)

    report = _load(c, tmp_path, FileType.EARLY_SETTLEMENTS, "bad.csv",
                   [_settlement(other, "ES-1"), row(ln)], day=date(2025, 3, 1))

    assert report.status == "refused"
    assert report.rejects.select(feeds.ROW, "rule").rows() == [(2, rule)]
    assert _statuses(c, ln, other) == ["active", "active"]
    assert _entries(c) == entries and _events(c, "LoanPrepaid") == []


def test_concurrent_loads_of_one_settlement_file_settle_once(loan, tmp_path):
    c, ln = loan
    lines = [_settlement(ln, "ES-1")]

    reports = support.race(4, lambda i: _load(c, tmp_path, FileType.EARLY_SETTLEMENTS,
                                              f"copy-{i}.csv", lines, day=SETTLED))

    assert sorted(r.status for r in reports) == ["applied"] + ["repeat"] * 3
    assert len(_events(c, "LoanPrepaid")) == 1


@pytest.mark.parametrize("kind", list(HEADERS))
def test_a_file_with_no_rows_is_applied_with_no_effect(loan, tmp_path, kind):
    c, _ = loan
    entries = _entries(c)

    report = _load(c, tmp_path, kind, "empty.csv", [], day=SETTLED)

    assert (report.status, report.rows, report.accepted) == ("applied", 0, 0)
    assert _entries(c) == entries
