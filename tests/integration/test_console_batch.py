"""The console's batch pages over HTTP (issue 21), on SQLite and PostgreSQL: the end-of-day
snapshots (the days, a day's totals, classes by bucket, aggregates by dimension and signals
with their filters; a day without a snapshot a 404 page, a date that is none a 422), the
classification overrides (listed, set and lifted by a risk manager; refusals with their
rule; no form and a 403 for who may not), and the funder files (uploaded and applied, a
repeat, a refused file with its rejects; listed and filtered; a funder's user kept to its own
funder's files). The same forms in a browser: ``tests/browser/test_console_batch.py``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from tests import support
from xinbao.batch import services as batch
from xinbao.bootstrap import Container, bootstrap
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.console.i18n import yuan
from xinbao.loans.model import Loan
from xinbao.policy.model import Policy

sign_in, csrf_of = support.console_sign_in, support.csrf_of
#: The first policy's loan starts on START (first installment due 2025-02-15), the second's
#: a month later (due 2025-03-14): on DAY the first is 43 days past due, the second 16.
DAY, EARLIER = date(2025, 3, 30), date(2025, 2, 20)
REASON = "borrower's business closed; collateral sold"
HEADER = "contract_no,installment_number,paid_on,principal,interest,reference"


@dataclass(frozen=True, slots=True)
class Book:
    container: Container
    client: TestClient
    policies: tuple[Policy, Policy]  # BANK-A's
    other: Policy  # BANK-B's

    def loan(self, policy: Policy) -> Loan:
        with self.container.uow() as u:
            return u.loans.get(policy.loan_id)


@pytest.fixture
def book(database_url: str, tmp_path) -> Iterator[Book]:
    """Two funders: BANK-A with two insured loans unpaid, BANK-B with one; snapshots kept in
    the test's own folder; a console client reading English."""
    container = bootstrap(support.settings(database_url,
                                           snapshot_dir=str(tmp_path / "snapshots")))
    container.risk = b.engine()
    b.seed(container.uow, funders=(b.bank("BANK-A"), b.bank("BANK-B")))
    first = b.issued_policy(container.uow, b.consumer_application(external_ref="APP-A-1"))
    second = b.issued_policy(container.uow, b.consumer_application(
        external_ref="APP-A-2", borrower_id_number=b.RESIDENT_ID), on=date(2025, 2, 14))
    other = b.issued_policy(container.uow, b.consumer_application(
        funder_code="BANK-B", external_ref="APP-B-1", borrower_id_number=b.RESIDENT_ID))
    with TestClient(create_app(container), base_url="https://testserver") as client:
        client.cookies.set("xinbao_lang", "en")
        yield Book(container, client, (first, second), other)
    container.close()


def _snapshot(c: Container, on: date) -> batch.DaySnapshot:
    return batch.snapshot_day(c.uow(), c.snapshots, on, c.classification, c.early_warning)


def _rows(html: str, table: str) -> list[str]:
    """The rows of the table with that id, as their visible text (tags dropped)."""
    body = html.split(f'id="{table}"')[1].split("</table>")[0].split("<tbody>")[1]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in body.split("</tr>") if "<td" in row]


# End of day ----------------------------------------------------------------------------------


def test_the_days_with_a_snapshot_are_listed_newest_first(book):
    _snapshot(book.container, EARLIER)
    _snapshot(book.container, DAY)
    root = book.container.snapshots.root
    (root / ".date=2025-04-01.0123abcd").mkdir()  # a day being written: not one yet
    (root / "date=someday").mkdir()
    sign_in(book.container, book.client, "wang.risk", ["risk_manager"])

    page = book.client.get("/console/eod")
    oldest_first = book.client.get("/console/eod?sort=date&dir=asc")

    assert page.status_code == 200
    days = re.findall(r'<a href="/console/eod/(\d{4}-\d\d-\d\d)">', page.text)
    assert days == [DAY.isoformat(), EARLIER.isoformat()]
    assert re.findall(r'<a href="/console/eod/(\d{4}-\d\d-\d\d)">', oldest_first.text) \
        == [EARLIER.isoformat(), DAY.isoformat()]


def test_a_days_page_shows_its_totals_classes_by_bucket_aggregates_and_signals(book):
    taken = _snapshot(book.container, DAY)
    sign_in(book.container, book.client, "zhao.fin", ["finance"])

    page = book.client.get(f"/console/eod/{DAY}")

    assert page.status_code == 200, page.text
    html = page.text
    assert taken.loans == 3 and taken.overdue == 3
    assert 'id="total-loans">3<' in html and 'id="total-overdue">3<' in html
    assert f'id="total-exposure">{yuan(taken.exposure_fen, "en")}<' in html
    # 43 and 16 days past due (BANK-A), 43 (BANK-B): all 关注, two in M2 and one in M1.
    classes = _rows(html, "class-bucket")
    assert classes[1] == "Special mention 0 1 2 0 0 0 0 3"
    assert classes[0] == "Normal 0 0 0 0 0 0 0 0"
    assert [r.split()[0] for r in _rows(html, "by-dimension")] == ["CONSUMER-G"]
    by_funder = _rows(book.client.get(f"/console/eod/{DAY}?dimension=funder").text,
                      "by-dimension")
    assert [r.split()[:3] for r in by_funder] == [["BANK-A", "2", "2"], ["BANK-B", "1", "1"]]
    signals = _rows(html, "signals")
    assert len(signals) == 3 and all(s.startswith("EW-FPD") for s in signals)
    first = book.policies[0]
    assert f'<a href="/console/policies/{first.id}">Loan {first.loan_id}</a>' in html


def test_the_signals_filter_by_code_and_level(book):
    _snapshot(book.container, DAY)
    sign_in(book.container, book.client, "li.audit", ["auditor"])

    high = book.client.get(f"/console/eod/{DAY}?code=EW-FPD&level=high")
    medium = book.client.get(f"/console/eod/{DAY}?level=medium")
    none = book.client.get(f"/console/eod/{DAY}?code=EW-ROLL")

    assert len(_rows(high.text, "signals")) == 2
    assert '<option value="high" selected>' in high.text
    (row,) = _rows(medium.text, "signals")
    assert f"Loan {book.policies[1].loan_id}" in row and "16 days past due" in row
    assert "No signals match these filters." in none.text


def test_a_day_without_a_snapshot_is_a_404_page_and_a_date_that_is_none_a_422(book):
    _snapshot(book.container, DAY)
    sign_in(book.container, book.client, "wang.risk", ["risk_manager"])

    missing = book.client.get("/console/eod/2025-03-31")
    wrong = book.client.get("/console/eod/2025-13-01")
    words = book.client.get("/console/eod/yesterday")

    assert missing.status_code == 404 and "Not found" in missing.text
    assert wrong.status_code == 422 and "date.format" in wrong.text
    assert words.status_code == 422 and "Please correct the form" in words.text


def test_who_may_not_read_reports_has_no_end_of_day_menu_and_gets_a_403(book):
    _snapshot(book.container, DAY)
    sign_in(book.container, book.client, "sun.uw", ["underwriter"])

    home = book.client.get("/console/")

    assert 'href="/console/eod"' not in home.text
    assert book.client.get("/console/eod").status_code == 403
    assert book.client.get(f"/console/eod/{DAY}").status_code == 403
    assert book.client.get("/console/eod/overrides").status_code == 403
    sign_in(book.container, book.client, "bank.a", ["funder"], funder_code="BANK-A")
    assert book.client.get(f"/console/eod/{DAY}").status_code == 403


# Classification overrides ------------------------------------------------------------------


def _override(book: Book, path: str, **form: str):
    csrf = csrf_of(book.client.get("/console/eod/overrides").text)
    return book.client.post(path, data={"csrf_token": csrf, **form}, follow_redirects=False)


def test_a_risk_manager_sets_and_lifts_an_override_which_is_listed_and_audited(book):
    loan = book.policies[0].loan_id
    sign_in(book.container, book.client, "wang.risk", ["risk_manager"])

    done = _override(book, "/console/eod/overrides", loan_id=str(loan), tier="4",
                     reason=REASON, effective_from="2025-03-01")
    again = _override(book, "/console/eod/overrides", loan_id=str(loan), tier="4",
                      reason=REASON, effective_from="2025-03-01")
    lifted = _override(book, "/console/eod/overrides/lift", loan_id=str(loan),
                       reason="collateral recovered in full", effective_from="2025-03-20")

    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/console/eod/overrides?loan={loan}&done=set"
    assert again.headers["location"].endswith("done=same")
    assert lifted.headers["location"].endswith("done=lifted")
    page = book.client.get(done.headers["location"])
    assert "The override is recorded" in page.text
    rows = _rows(book.client.get(f"/console/eod/overrides?loan={loan}").text, "overrides")
    assert len(rows) == 2
    assert "Lifted" in rows[0] and "collateral recovered in full" in rows[0]
    assert "4 · Doubtful" in rows[1] and REASON.replace("'", "&#39;") in rows[1]
    assert "wang.risk" in rows[1]
    assert "No overrides match" in book.client.get(
        f"/console/eod/overrides?loan={book.policies[1].loan_id}").text
    with book.container.uow() as u:
        names = [r.name for r in u.events.records(limit=10_000)
                 if r.aggregate == "loan" and r.aggregate_id == loan]
    assert names.count("ClassificationOverridden") == 1
    assert names.count("ClassificationOverrideLifted") == 1
    # The snapshot classifies by it from its date until it is lifted.
    _snapshot(book.container, date(2025, 3, 10))
    with book.container.uow() as u:
        assert len(u.overrides.list(loan)) == 2
    frame = book.container.snapshots.frame(date(2025, 3, 10), "loans")
    assert frame is not None
    assert frame.filter(frame["loan_id"] == loan)["tier"].to_list() == [4]


def test_a_policys_page_links_to_its_loans_overrides_for_who_may_read_them(book):
    first = book.policies[0]
    link = f'href="/console/eod/overrides?loan={first.loan_id}"'
    sign_in(book.container, book.client, "wang.risk", ["risk_manager"])
    assert link in book.client.get(f"/console/policies/{first.id}").text
    sign_in(book.container, book.client, "sun.uw", ["underwriter"])
    page = book.client.get(f"/console/policies/{first.id}")
    assert page.status_code == 200 and link not in page.text


def test_refused_overrides_are_shown_with_their_rule_and_change_nothing(book):
    loan = book.policies[0].loan_id
    sign_in(book.container, book.client, "wang.risk", ["risk_manager"])

    short = _override(book, "/console/eod/overrides", loan_id=str(loan), tier="3",
                      reason="too short", effective_from="2025-03-01")
    tier = _override(book, "/console/eod/overrides", loan_id=str(loan), tier="9",
                     reason=REASON, effective_from="2025-03-01")
    nothing = _override(book, "/console/eod/overrides/lift", loan_id=str(loan),
                        reason="nothing to lift here at all", effective_from="2025-03-01")
    no_loan = _override(book, "/console/eod/overrides", loan_id="abc", tier="3",
                        reason=REASON, effective_from="2025-03-01")
    no_date = _override(book, "/console/eod/overrides", loan_id=str(loan), tier="3",
                        reason=REASON, effective_from="someday")
    unknown = _override(book, "/console/eod/overrides", loan_id="999999", tier="3",
                        reason=REASON, effective_from="2025-03-01")

    for answer, rule in ((short, "override.reason"), (tier, "override.tier"),
                         (nothing, "override.none"), (no_loan, "override.loan"),
                         (no_date, "date.format")):
        assert answer.status_code == 422, (rule, answer.text)
        assert f"<code>{rule}</code>" in answer.text or rule in answer.text
    assert unknown.status_code == 404
    with book.container.uow() as u:
        assert u.overrides.list() == []


def test_who_may_not_override_sees_no_form_and_a_post_is_forbidden(book):
    loan = book.policies[0].loan_id
    for username, roles in (("zhao.fin", ["finance"]), ("li.audit", ["auditor"])):
        sign_in(book.container, book.client, username, roles)
        page = book.client.get("/console/eod/overrides")
        assert page.status_code == 200
        assert 'method="post" action="/console/eod/overrides"' not in page.text
        refused = book.client.post("/console/eod/overrides", data={
            "csrf_token": csrf_of(page.text), "loan_id": str(loan), "tier": "4",
            "reason": REASON, "effective_from": "2025-03-01"})
        assert refused.status_code == 403, refused.text
        assert "Not allowed" in refused.text
    sign_in(book.container, book.client, "wang.risk", ["risk_manager"])
    forged = book.client.post("/console/eod/overrides", data={
        "csrf_token": "forged", "loan_id": str(loan), "tier": "4", "reason": REASON,
        "effective_from": "2025-03-01"})
    assert forged.status_code == 403
    with book.container.uow() as u:
        assert u.overrides.list() == []


# Funder files --------------------------------------------------------------------------------


def csv_of(loan: Loan, paid: list[tuple[int, str]]) -> bytes:
    lines = [HEADER]
    for number, reference in paid:
        i = loan.installments[number - 1]
        lines.append(f"{loan.contract_no},{number},{i.due_date},{i.principal_fen / 100:.2f},"
                     f"{i.interest_fen / 100:.2f},{reference}")
    return ("\n".join(lines) + "\n").encode()


def manifest_of(rows: int, funder: str = "BANK-A", kind: str = "repayments") -> bytes:
    return json.dumps({"type": kind, "funder": funder, "business_date": "2025-04-30",
                       "rows": rows}).encode()


def upload(book: Book, content: bytes, rows: int, *, funder: str = "BANK-A",
           name: str = "0430.csv", kind: str = "repayments", csrf: str | None = None):
    token = csrf or csrf_of(book.client.get("/console/").text)
    return book.client.post("/console/feeds", data={
        "csrf_token": token, "funder": funder, "file_type": kind},
        files={"file": (name, content, "text/csv"),
               "manifest": ("m.json", manifest_of(rows, funder, kind), "application/json")})


def _repayments(book: Book, policy: Policy) -> int:
    with book.container.uow() as u:
        return len(u.repayments.for_loan(policy.loan_id))


def _file_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/console/feeds/(\d+)">', html)]


def test_an_uploaded_file_is_applied_listed_and_the_same_content_again_a_repeat(book):
    loan = book.loan(book.policies[0])
    content = csv_of(loan, [(1, "TX-1"), (2, "TX-2")])
    sign_in(book.container, book.client, "zhao.fin", ["finance"])

    applied = upload(book, content, 2)
    again = upload(book, content, 2, name="renamed.csv")

    assert applied.status_code == 200, applied.text
    assert 'id="report-status">Applied<' in applied.text
    assert 'id="report-accepted">2<' in applied.text
    principal = sum(i.principal_fen for i in loan.installments[:2])
    assert yuan(principal, "en") in applied.text
    assert again.status_code == 200 and 'id="report-status">Already applied<' in again.text
    assert _repayments(book, book.policies[0]) == 2
    listed = book.client.get("/console/feeds")
    (file_id,) = _file_ids(listed.text)
    (row,) = _rows(listed.text, "feeds")
    assert row.startswith("0430.csv BANK-A Repayments 2025-04-30") and "Applied" in row
    page = book.client.get(f"/console/feeds/{file_id}")
    assert page.status_code == 200
    assert 'id="report-accepted">2<' in page.text and yuan(principal, "en") in page.text
    assert book.client.get("/console/feeds/999999").status_code == 404
    assert book.client.get("/console/feeds/0").status_code == 422


def test_a_refused_file_shows_its_rejects_up_to_200_with_the_total_and_applies_nothing(book):
    loan = book.loan(book.policies[0])
    sign_in(book.container, book.client, "zhao.fin", ["finance"])
    lines = [HEADER] + [f"LN-NONE-{n:04d},1,2025-02-15,3000.00,360.00,TX-{n:04d}"
                        for n in range(250)]

    bad = upload(book, csv_of(loan, [(1, "TX-1"), (2, "")]), 2)
    many = upload(book, ("\n".join(lines) + "\n").encode(), 250)
    short = upload(book, csv_of(loan, [(1, "TX-1")]), 3)
    wrong_type = upload(book, csv_of(loan, [(1, "TX-1")]), 1, kind="nonsense")

    assert bad.status_code == 422
    assert 'id="report-status">Refused<' in bad.text
    (reject,) = _rows(bad.text, "rejects")
    assert reject.startswith("2 reference feed.required ")
    assert many.status_code == 422
    assert len(_rows(many.text, "rejects")) == 200
    total = re.search(r'id="rejects-total">250 rows rejected \(200 of ([\d,]+) rejects',
                      many.text)
    assert total is not None and int(total.group(1).replace(",", "")) >= 250
    assert short.status_code == 422 and "manifest.rows" in short.text
    assert wrong_type.status_code == 422 and "feed.type" in wrong_type.text
    assert _repayments(book, book.policies[0]) == 0
    assert _file_ids(book.client.get("/console/feeds").text) == []


def test_a_file_above_the_ordinary_body_limit_is_taken_by_the_upload_form(book):
    rows = 35_000  # about 2 MB (the other forms' bodies stop at 1 MiB): loans BANK-A lacks
    lines = [HEADER] + [f"LN-NONE-{n:06d},1,2025-02-15,3000.00,360.00,TX-{n:06d}"
                        for n in range(rows)]
    content = ("\n".join(lines) + "\n").encode()
    assert len(content) > book.container.settings.max_body_bytes
    sign_in(book.container, book.client, "zhao.fin", ["finance"])

    refused = upload(book, content, rows)

    assert refused.status_code == 422, refused.text[:300]
    assert len(_rows(refused.text, "rejects")) == 200
    assert f"{rows:,} rows rejected" in refused.text


def test_the_list_filters_by_funder_and_type(book):
    sign_in(book.container, book.client, "zhao.fin", ["finance"])
    upload(book, csv_of(book.loan(book.policies[0]), [(1, "TX-A")]), 1)
    upload(book, csv_of(book.loan(book.other), [(1, "TX-B")]), 1, funder="BANK-B",
           name="b.csv")
    with book.container.uow() as u:
        bank_b = u.funders.get_by_code("BANK-B").id

    everything = _rows(book.client.get("/console/feeds").text, "feeds")
    of_b = _rows(book.client.get(f"/console/feeds?funder={bank_b}").text, "feeds")
    status = book.client.get("/console/feeds?type=loan_status").text

    assert [r.split()[:2] for r in everything] == [["b.csv", "BANK-B"], ["0430.csv", "BANK-A"]]
    assert [r.split()[:2] for r in of_b] == [["b.csv", "BANK-B"]]
    assert "No files match these filters." in status
    oldest = _rows(book.client.get("/console/feeds?sort=id&dir=asc").text, "feeds")
    assert [r.split()[0] for r in oldest] == ["0430.csv", "b.csv"]


def test_a_funders_user_sees_and_uploads_only_its_own_funders_files(book):
    sign_in(book.container, book.client, "zhao.fin", ["finance"])
    upload(book, csv_of(book.loan(book.policies[0]), [(1, "TX-A")]), 1)
    (of_a,) = _file_ids(book.client.get("/console/feeds").text)
    sign_in(book.container, book.client, "bank.b", ["funder"], funder_code="BANK-B")

    listed = book.client.get("/console/feeds")
    asked = book.client.get(f"/console/feeds?funder={book.policies[0].funder_id}")
    others = book.client.get(f"/console/feeds/{of_a}")
    for_a = upload(book, csv_of(book.loan(book.policies[0]), [(2, "TX-A2")]), 1)
    own = upload(book, csv_of(book.loan(book.other), [(1, "TX-B")]), 1, funder="BANK-B")

    assert listed.status_code == 200 and _file_ids(listed.text) == []
    assert '<option value="BANK-A">' not in listed.text
    assert 'method="post" action="/console/feeds"' in listed.text  # BANK-B's upload form
    assert _file_ids(asked.text) == []
    assert others.status_code == 404
    assert for_a.status_code == 404
    assert _repayments(book, book.policies[0]) == 1
    assert own.status_code == 200 and 'id="report-status">Applied<' in own.text
    (mine,) = _file_ids(book.client.get("/console/feeds").text)
    assert mine != of_a and book.client.get(f"/console/feeds/{mine}").status_code == 200


def test_an_auditor_reads_the_files_but_has_no_upload_form_and_an_upload_is_forbidden(book):
    sign_in(book.container, book.client, "zhao.fin", ["finance"])
    upload(book, csv_of(book.loan(book.policies[0]), [(1, "TX-A")]), 1)
    sign_in(book.container, book.client, "li.audit", ["auditor"])

    page = book.client.get("/console/feeds")
    refused = upload(book, csv_of(book.loan(book.policies[0]), [(2, "TX-A2")]), 1,
                     csrf=csrf_of(page.text))
    forged = upload(book, csv_of(book.loan(book.policies[0]), [(2, "TX-A2")]), 1,
                    csrf="forged")

    assert len(_file_ids(page.text)) == 1
    assert 'method="post" action="/console/feeds"' not in page.text
    assert refused.status_code == 403 and forged.status_code == 403
    assert _repayments(book, book.policies[0]) == 1


def test_an_uploaded_claim_notice_file_says_which_claim_each_notice_made(book):
    loan = book.loan(book.policies[0])
    content = (f"contract_no,reference,notified_on,claimed,document,document_sha256\n"
               f"{loan.contract_no},N-1,2025-04-30,,,\n").encode()
    sign_in(book.container, book.client, "qian.claims", ["claims_adjuster"])

    applied = upload(book, content, 1, kind="claim_notices")

    assert applied.status_code == 200, applied.text
    with book.container.uow() as u:
        [claim] = u.claims.for_policy(book.policies[0].id)
    [row] = _rows(applied.text, "notice-claims")
    # 74 days past due on the business date, the trigger is 80: the notice is kept.
    assert f'href="/console/claims/{claim.id}"' in applied.text
    assert row.startswith(f"1 {loan.contract_no} N-1 {claim.id} Notified")
    assert claim.reference == "N-1" and claim.opened_on == date(2025, 4, 30)
