"""A funder's repayment file applied whole or not at all (issue 21), on SQLite and
PostgreSQL: the same file again (renamed too) and an overlapping file have no new effect,
any bad row leaves the book untouched, a row the schedule refuses refuses the file."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from tests import support
from xinbao.batch import feeds, files
from xinbao.batch.feeds import FileType, Manifest
from xinbao.bootstrap import Container
from xinbao.iam.model.security import Forbidden, Principal, Role
from xinbao.loans.model import Loan
from xinbao.servicing.feeds import LoadFeed, load_feed

DAY = date(2025, 4, 30)
HEADER = "contract_no,installment_number,paid_on,principal,interest,premium,reference"




def _row(loan: Loan, number: int, reference: str, *, principal: int | None = None) -> str:
    i = loan.installments[number - 1]
    p = i.principal_fen if principal is None else principal
    return (f"{loan.contract_no},{number},{i.due_date},{p // 100}.{p % 100:02d},"
            f"{i.interest_fen // 100}.{i.interest_fen % 100:02d},,{reference}")


def _load(c: Container, tmp_path: Path, name: str, lines: list[str],
          funder: str = "BANK-A", principal: Principal | None = None):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    raw = files.read(path)
    manifest = Manifest(FileType.REPAYMENTS, funder, DAY, raw.height)
    return load_feed(LoadFeed("BANK-A", name, files.content_hash(path), manifest, raw,
                              datetime(2025, 5, 1, 2, 0)), c.uow(principal))


def _repayments(c: Container, loan: Loan) -> list[tuple[int, str]]:
    with c.uow() as uow:
        return sorted((r.installment_number, r.principal_fen) for r in
                      uow.repayments.for_loan(loan.id))  # type: ignore[misc]


def _entries(c: Container) -> int:
    with c.uow() as uow:
        return len(uow.ledger.entries())


def test_a_file_is_applied_once_whatever_its_name_and_an_overlap_adds_only_the_new(
        loan, tmp_path):
    c, ln = loan
    first = _load(c, tmp_path, "0501.csv", [_row(ln, 1, "TX-1"), _row(ln, 2, "TX-2")])
    entries = _entries(c)

    same = _load(c, tmp_path, "0501.csv", [_row(ln, 1, "TX-1"), _row(ln, 2, "TX-2")])
    again = _load(c, tmp_path, "0501-resent.csv", [_row(ln, 1, "TX-1"), _row(ln, 2, "TX-2")])
    assert _entries(c) == entries  # sent three times (once renamed): no new effect
    overlap = _load(c, tmp_path, "0502.csv", [_row(ln, 2, "TX-2"), _row(ln, 3, "TX-3")])

    assert (first.status, first.accepted, first.repeated) == ("applied", 2, 0)
    assert first.principal_fen == sum(i.principal_fen for i in ln.installments[:2])
    assert (same.status, same.accepted, again.status, again.accepted) == (
        "repeat", 0, "repeat", 0)
    assert (overlap.status, overlap.accepted, overlap.repeated) == ("applied", 1, 1)
    assert [n for n, _ in _repayments(c, ln)] == [1, 2, 3]
    assert _entries(c) > entries  # the third installment's premium, once
    with c.uow() as uow:
        assert uow.loans.get(ln.id).first_unpaid_due_date == ln.installments[3].due_date  # type: ignore[union-attr]


def test_one_bad_row_or_one_the_schedule_refuses_leaves_the_book_untouched(loan, tmp_path):
    c, ln = loan
    entries = _entries(c)

    bad = _load(c, tmp_path, "bad.csv", [_row(ln, 1, "TX-1"), "LN-nope,1,2025-02-15,1,1,,X"])
    over = _load(c, tmp_path, "over.csv", [
        _row(ln, 1, "TX-1"), _row(ln, 2, "TX-2", principal=ln.installments[1].principal_fen + 1)])

    assert bad.status == "refused" and bad.rejects.select(feeds.ROW, "rule").rows() == [
        (2, "feed.contract")]
    assert over.status == "refused" and over.rejects.select(feeds.ROW, "rule").rows() == [
        (2, "repayment.overpayment")]
    assert _repayments(c, ln) == [] and _entries(c) == entries


def test_a_manifest_of_another_funder_or_who_may_not_record_is_refused(loan, tmp_path):
    c, ln = loan
    other = _load(c, tmp_path, "a.csv", [_row(ln, 1, "TX-1")], funder="BANK-B")
    assert other.status == "refused" and other.refusals[0][0] == "manifest.funder"
    with pytest.raises(Forbidden):
        _load(c, tmp_path, "b.csv", [_row(ln, 1, "TX-1")],
              principal=Principal("user", "li.audit", frozenset({Role.AUDITOR})))
    assert _repayments(c, ln) == []


def test_concurrent_loads_of_one_file_apply_it_once(loan, tmp_path):
    c, ln = loan
    lines = [_row(ln, 1, "TX-1"), _row(ln, 2, "TX-2")]

    reports = support.race(6, lambda i: _load(c, tmp_path, f"copy-{i}.csv", lines))

    assert sorted(r.status for r in reports) == ["applied"] + ["repeat"] * 5
    assert [n for n, _ in _repayments(c, ln)] == [1, 2]

