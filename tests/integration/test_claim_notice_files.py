"""A funder's claim notice file (issue 22), on SQLite and PostgreSQL: each notice given as the
API gives one (assessed, routed, its document kept) and said where its claim went; the same
file again and an overlapping one give no second claim; a bad row, or a notice number given
before for another loan, refuses the file whole; concurrent loads give each notice once."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests import builders, support
from xinbao.batch import files
from xinbao.batch.feeds import FileType, Manifest
from xinbao.bootstrap import Container
from xinbao.claims.model import ClaimSource, ClaimStatus
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.cli.main import app
from xinbao.iam.model.security import Forbidden, Principal, Role
from xinbao.loans.model import Loan
from xinbao.policy.model import Policy
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment
from xinbao.servicing.feeds import FeedReport, LoadFeed, load_feed
from xinbao.simulation.identities import IdentityFactory

HEADER = "contract_no,reference,notified_on,claimed,document,document_sha256"
DIGEST = "ab" * 32
_PEOPLE = IdentityFactory(23)


@pytest.fixture
def container(decided_container: Container) -> Container:
    return decided_container


def _defaulted(c: Container, ref: str, paid: int) -> tuple[Policy, Loan, date]:
    """An issued policy whose borrower paid ``paid`` installments, and its trigger day."""
    policy = builders.issued_policy(c.uow, builders.consumer_application(
        external_ref=ref, borrower_id_number=_PEOPLE.resident_id(
            born_between=(date(1975, 1, 1), date(1985, 12, 31)))))
    with c.uow() as u:
        loan = u.loans.get(policy.loan_id)
        product = u.products.get(policy.product_code, policy.product_version)
    assert loan is not None and product is not None
    for i in loan.installments[:paid]:
        servicing.record_repayment(RecordRepayment(
            loan.id, i.number, i.due_date, i.principal_fen, i.interest_fen,
            f"TX-{loan.id}-{i.number}", premium_fen=policy.installment_with_vat_fen), c.uow())
    return policy, loan, loan.installments[paid].due_date + timedelta(
        days=product.claim_trigger_dpd)


def _write(tmp_path: Path, name: str, lines: list[str], day: date) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    (tmp_path / f"{name}.manifest.json").write_text(json.dumps({
        "type": "claim_notices", "funder": "BANK-A", "business_date": str(day),
        "rows": len(lines)}), encoding="utf-8")
    return path


def _load(c: Container, tmp_path: Path, name: str, lines: list[str], day: date,
          principal: Principal | None = None) -> FeedReport:
    path = _write(tmp_path, name, lines, day)
    raw = files.read(path)
    return load_feed(LoadFeed("BANK-A", name, files.content_hash(path),
                              Manifest(FileType.CLAIM_NOTICES, "BANK-A", day, raw.height), raw,
                              datetime(2025, 9, 1, 2, 0)), c.uow(principal))


def _claims(c: Container, *policies: Policy) -> list[list[tuple[str, str, str | None]]]:
    """Each policy's claims: status, source and the funder's reference."""
    with c.uow() as u:
        return [[(x.status.value, x.source.value, x.reference)
                 for x in u.claims.for_policy(p.id)] for p in policies]  # type: ignore[arg-type]


def test_a_notice_file_gives_each_notice_once_and_says_where_its_claim_went(container,
                                                                           tmp_path):
    c = container
    due, due_loan, trigger = _defaulted(c, "NF-1", paid=3)
    early, early_loan, _ = _defaulted(c, "NF-2", paid=8)  # not past its trigger yet
    lines = [f"{due_loan.contract_no},N-1,{trigger},,scan-1.pdf,{DIGEST.upper()}",
             f"{early_loan.contract_no},N-2,{trigger},1000.50,,"]
    path = _write(tmp_path, "notices.csv", lines, trigger)

    result = CliRunner().invoke(app, [
        "feed", "load", str(path), "--funder", "BANK-A", "--type", "claim_notices", "--json",
        "--database-url", c.settings.database_url])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["accepted"], summary["repeated"]) == ("applied", 2, 0)
    assert summary["claims_by_status"] == {"approved": 1, "notified": 1}
    written = pl.read_csv(summary["claims_file"])
    assert written.select("reference", "status", "repeat").rows() == [
        ("N-1", "approved", False), ("N-2", "notified", False)]
    assert _claims(c, due, early) == [[("approved", "notice", "N-1")],
                                      [("notified", "notice", "N-2")]]
    with c.uow() as u:
        given = u.claims.get_by_reference(due.funder_id, "N-1")
        waiting = u.claims.get_by_reference(due.funder_id, "N-2")
        assert given is not None and waiting is not None
        assert [(d.reference, d.sha256) for d in u.claims.documents(given.id)] == [
            ("scan-1.pdf", DIGEST)]
        assert [a.reason for a in u.claims.assessments(given.id)] == ["notice"]
    assert given.source is ClaimSource.NOTICE and given.opened_on == trigger
    assert waiting.status is ClaimStatus.NOTIFIED and waiting.claimed_fen == 100_050
    assert written["claim_id"].to_list() == [given.id, waiting.id]

    again = _load(c, tmp_path, "renamed.csv", lines, trigger)
    overlap = _load(c, tmp_path, "overlap.csv", [lines[0]], trigger)

    assert (again.status, again.accepted, again.repeated) == ("repeat", 0, 2)
    assert (overlap.status, overlap.accepted, overlap.repeated) == ("applied", 0, 1)
    assert overlap.claims.select("claim_id", "repeat").rows() == [(given.id, True)]
    assert _claims(c, due, early) == [[("approved", "notice", "N-1")],
                                      [("notified", "notice", "N-2")]]


@pytest.mark.parametrize(("row", "rule"), [
    ("{contract},N-9,{day},,scan.pdf,abc", "claim.document_hash"),
    ("{contract},N-9,{day},,scan.pdf,", "claim.document"),
    ("{contract},N-9,{day},0.00,,", "claim.claimed_amount"),
    ("{contract},N-9,{after},,,", "feed.after_business_date"),
    ("LN-NOBODY,N-9,{day},,,", "feed.contract"),
    ("{contract},N-1,{day},,,", "feed.duplicate"),
    ("{contract},,{day},,,", "feed.required"),
])
def test_a_notice_file_with_one_bad_row_gives_no_notice(container, tmp_path, row, rule):
    c = container
    policy, loan, trigger = _defaulted(c, "NF-3", paid=3)
    good = f"{loan.contract_no},N-1,{trigger},,,"
    bad = row.format(contract=loan.contract_no, day=trigger,
                     after=trigger + timedelta(days=1))

    report = _load(c, tmp_path, "bad.csv", [good, bad], trigger)

    assert report.status == "refused"
    assert rule in report.rejects["rule"].to_list()
    assert _claims(c, policy) == [[]]


def test_a_notice_number_given_before_for_another_loan_refuses_the_file(container, tmp_path):
    c = container
    first, first_loan, trigger = _defaulted(c, "NF-4", paid=3)
    second, second_loan, _ = _defaulted(c, "NF-5", paid=3)
    assert _load(c, tmp_path, "one.csv", [f"{first_loan.contract_no},N-7,{trigger},,,"],
                 trigger).status == "applied"

    report = _load(c, tmp_path, "two.csv", [f"{second_loan.contract_no},N-7,{trigger},,,"],
                   trigger)

    assert report.status == "refused"
    assert report.rejects.select("rule", "message").rows() == [
        ("feed.claim", "notice 'N-7' was given for another policy")]
    assert _claims(c, first, second) == [[("approved", "notice", "N-7")], []]


def test_a_notice_file_needs_the_right_to_give_claims(container, tmp_path):
    c = container
    policy, loan, trigger = _defaulted(c, "NF-6", paid=3)
    with pytest.raises(Forbidden):
        _load(c, tmp_path, "notices.csv", [f"{loan.contract_no},N-1,{trigger},,,"], trigger,
              Principal("user", "wu.uw", frozenset({Role.UNDERWRITER})))
    assert _claims(c, policy) == [[]]


def test_concurrent_loads_of_one_notice_file_give_each_notice_once(container, tmp_path):
    c = container
    one, one_loan, trigger = _defaulted(c, "NF-7", paid=3)
    two, two_loan, _ = _defaulted(c, "NF-8", paid=3)
    lines = [f"{one_loan.contract_no},N-1,{trigger},,,",
             f"{two_loan.contract_no},N-2,{trigger},,,"]

    reports = support.race(4, lambda i: _load(c, tmp_path, f"copy-{i}.csv", lines, trigger))

    assert sorted(r.status for r in reports) == ["applied"] + ["repeat"] * 3
    assert _claims(c, one, two) == [[("approved", "notice", "N-1")],
                                    [("approved", "notice", "N-2")]]
    with c.uow() as u:
        notified = [e for e in u.events.list(aggregate="claim") if e.name == "ClaimNotified"]
    assert len(notified) == 2


def test_a_funders_client_uploads_its_notices_and_is_told_each_claim(container, tmp_path):
    c = container
    policy, loan, trigger = _defaulted(c, "NF-9", paid=3)
    path = _write(tmp_path, "notices.csv", [f"{loan.contract_no},N-1,{trigger},,,"], trigger)
    token = support.api_token(c, "bank-a-api", ["funder"], "BANK-A")
    with TestClient(create_app(c)) as client:
        answer = client.post("/v1/funders/BANK-A/feeds", headers=support.bearer(token), files={
            "file": ("notices.csv", path.read_bytes(), "text/csv"),
            "manifest": ("m.json", (tmp_path / "notices.csv.manifest.json").read_bytes(),
                         "application/json")})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["file_type"], body["status"], body["claims_by_status"]) == (
        "claim_notices", "applied", {"approved": 1})
    [made] = body["claims"]
    with c.uow() as u:
        [claim] = u.claims.for_policy(policy.id)  # type: ignore[arg-type]
    assert (made["claim_id"], made["reference"], made["status"], made["amount_fen"],
            made["repeat"]) == (claim.id, "N-1", "approved", claim.amount_fen, False)
