"""A funder's file uploaded over HTTP (``POST /v1/funders/{code}/feeds``, issue 21), on
SQLite and PostgreSQL: applied, the same file again a repeat, a bad file refused whole with
its rejects (the first 1,000 listed, the total said), read with the funder's agreement
mapping, another funder's client refused, a body over the upload limit a 413, uploads of one
file at once applied once, and an Idempotency-Key answered the first answer again."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from tests import support
from xinbao.batch.feeds import SCHEMAS
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import AmendAgreement
from xinbao.entrypoints.api.app import create_app
from xinbao.loans.model import Loan

URL = "/v1/funders/BANK-A/feeds"
HEADER = "contract_no,installment_number,paid_on,principal,interest,reference"


def csv_of(loan: Loan, paid: list[tuple[int, str]], header: str = HEADER) -> bytes:
    lines = [header]
    for number, reference in paid:
        i = loan.installments[number - 1]
        lines.append(f"{loan.contract_no},{number},{i.due_date},{i.principal_fen / 100:.2f},"
                     f"{i.interest_fen / 100:.2f},{reference}")
    return ("\n".join(lines) + "\n").encode()


def manifest_of(rows: int, funder: str = "BANK-A") -> bytes:
    return json.dumps({"type": "repayments", "funder": funder,
                       "business_date": "2025-04-30", "rows": rows}).encode()


def upload(client: TestClient, content: bytes, rows: int, *, name: str = "0430.csv",
           url: str = URL, headers: dict[str, str] | None = None):
    return client.post(url, files={"file": (name, content, "text/csv"),
                                   "manifest": ("m.json", manifest_of(rows), "application/json")},
                       data={"type": "repayments"}, headers=headers or {})


@pytest.fixture
def api(loan):
    """(container, loan, a client acting as BANK-A's API client, the token of BANK-B's)."""
    c, ln = loan
    catalogue.register_funder(b.bank("BANK-B"), c.uow())
    bank_a = support.api_token(c, "bank-a-api", ["funder"], "BANK-A")
    bank_b = support.api_token(c, "bank-b-api", ["funder"], "BANK-B")
    with TestClient(create_app(c)) as client:
        client.headers.update(support.bearer(bank_a))
        yield c, ln, client, bank_b


def _repayments(c, loan: Loan) -> int:
    with c.uow() as uow:
        return len(uow.repayments.for_loan(loan.id))  # type: ignore[arg-type]


def test_a_file_is_applied_and_the_same_file_renamed_is_a_repeat(api):
    c, ln, client, _ = api
    content = csv_of(ln, [(1, "TX-1"), (2, "TX-2")])

    applied = upload(client, content, 2)
    again = upload(client, content, 2, name="renamed.csv")

    assert applied.status_code == 200, applied.text
    body = applied.json()
    assert (body["status"], body["accepted"], body["file_name"], body["rejects_total"]) == (
        "applied", 2, "0430.csv", 0)
    assert body["principal_fen"] == sum(i.principal_fen for i in ln.installments[:2])
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["file_name"]) == ("repeat", "renamed.csv")
    assert again.json()["content_hash"] == body["content_hash"]
    assert _repayments(c, ln) == 2


def test_a_bad_file_is_refused_whole_with_its_rejects(api):
    c, ln, client, _ = api

    refused = upload(client, csv_of(ln, [(1, "TX-1"), (2, "")]), 2)
    short = upload(client, csv_of(ln, [(1, "TX-1")]), 3)

    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["status"] == "refused" and body["rejects_total"] == 1
    assert body["rejects"] == [{"row": 2, "column": "reference", "rule": "feed.required",
                                "message": body["rejects"][0]["message"]}]
    assert short.status_code == 422
    assert short.json()["refusals"][0]["rule"] == "manifest.rows"
    assert _repayments(c, ln) == 0


def test_a_file_of_a_few_megabytes_is_taken_and_its_rejects_listed_up_to_a_thousand(api):
    c, ln, client, _ = api
    rows = 60_000  # about 4 MB, every row of a loan the funder does not have
    lines = [HEADER] + [f"LN-NONE-{n:06d},1,2025-02-15,3000.00,360.00,TX-{n:06d}"
                        for n in range(rows)]
    content = ("\n".join(lines) + "\n").encode()
    assert len(content) > 3_000_000

    refused = upload(client, content, rows)

    assert refused.status_code == 422, refused.text[:300]
    body = refused.json()
    assert body["rows"] == rows and body["rejected_rows"] == rows
    assert len(body["rejects"]) == 1_000 and body["rejects_total"] >= rows
    assert _repayments(c, ln) == 0


def test_the_file_is_read_with_the_funders_agreement_mapping(api):
    c, ln, client, _ = api
    theirs = "合同号,期数,还款日,本金,利息,流水号"
    content = csv_of(ln, [(1, "TX-1")], header=theirs)
    before = upload(client, content, 1)
    catalogue.amend_agreement(AmendAgreement("BANK-A", on=date.today(), feed_mapping={
        "repayments": dict(zip(theirs.split(","), HEADER.split(","), strict=True))}),
        c.uow(), feed_columns={k.value: {col.name for col in cols}
                               for k, cols in SCHEMAS.items()})

    after = upload(client, content, 1)

    assert before.status_code == 422  # their names are not ours
    assert after.status_code == 200 and after.json()["status"] == "applied", after.text
    assert _repayments(c, ln) == 1


def test_a_funders_client_uploads_for_its_own_funder_only(api):
    c, ln, client, bank_b = api

    theirs = upload(client, csv_of(ln, [(1, "TX-1")]), 1,
                    headers=support.bearer(bank_b))
    unknown = upload(client, csv_of(ln, [(1, "TX-1")]), 1, url="/v1/funders/NOBODY/feeds")
    bad_code = upload(client, csv_of(ln, [(1, "TX-1")]), 1, url="/v1/funders/a b/feeds")

    assert theirs.status_code == 404, theirs.text
    assert unknown.status_code == 404
    assert bad_code.status_code == 422 and bad_code.json()["detail"][0]["type"] == "funder.code"
    assert _repayments(c, ln) == 0


def test_an_unreadable_manifest_or_a_type_it_contradicts_is_refused_at_the_door(api):
    c, ln, client, _ = api
    content = csv_of(ln, [(1, "TX-1")])

    garbled = client.post(URL, files={"file": ("f.csv", content),
                                      "manifest": ("m.json", b"{nope")})
    other_type = client.post(URL, files={"file": ("f.csv", content),
                                         "manifest": ("m.json", manifest_of(1))},
                             data={"type": "loan_status"})

    assert garbled.status_code == 422
    assert garbled.json()["detail"][0]["type"] == "feed.manifest"
    assert other_type.status_code == 422
    assert other_type.json()["detail"][0]["type"] == "feed.manifest"
    assert _repayments(c, ln) == 0


def test_a_body_over_the_upload_limit_is_a_413_and_applies_nothing(loan):
    c, ln = loan
    small = replace(c, settings=replace(c.settings, max_upload_bytes=200_000))
    token = support.api_token(c, "fin", ["finance"])
    padding = "\n".join(f"LN-NONE-{n:06d},1,2025-02-15,1.00,0.00,TX-{n}" for n in range(9_000))
    with TestClient(create_app(small)) as client:
        client.headers.update(support.bearer(token))
        big = upload(client, (HEADER + "\n" + padding + "\n").encode(), 9_000)
        fits = upload(client, csv_of(ln, [(1, "TX-1")]), 1)

    assert big.status_code == 413
    assert fits.status_code == 200, fits.text
    assert _repayments(c, ln) == 1


def test_uploads_of_one_file_at_once_apply_it_once(loan, decided_app):
    c, ln = loan
    token = support.api_token(c, "bank-a-api", ["funder"], "BANK-A")
    content = csv_of(ln, [(1, "TX-1"), (2, "TX-2")])

    def send(i: int):
        with TestClient(decided_app) as client:
            return upload(client, content, 2, name=f"copy-{i}.csv",
                          headers=support.bearer(token))

    answers = support.race(4, send)

    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert sorted(a.json()["status"] for a in answers) == ["applied"] + ["repeat"] * 3
    assert _repayments(c, ln) == 2


def test_an_idempotency_key_gets_the_first_answer_again(api):
    c, ln, client, _ = api
    content = csv_of(ln, [(1, "TX-1")])
    key = {"Idempotency-Key": "upload-0430"}

    first = upload(client, content, 1, headers=key)
    retried = upload(client, content, 1, headers=key)
    other = upload(client, csv_of(ln, [(2, "TX-2")]), 1, headers=key)

    assert first.status_code == 200 and first.headers["Idempotent-Replayed"] == "false"
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json() and retried.json()["status"] == "applied"
    assert other.status_code == 409
    assert _repayments(c, ln) == 1
