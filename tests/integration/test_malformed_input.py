"""A corpus of malformed applications, as a funder's system might send them: more than 2,000
lines of more than 50 kinds, through ``xinbao applications load`` and ``POST
/v1/applications``, on each backend. None may be stored, none may break anything: no
traceback, no 5xx, and every refusal names its line (or field) and rule."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container, bootstrap
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.cli.main import app

COPIES = 40  # of each kind, each with its own application number


def good(ref: str) -> dict[str, Any]:
    """A valid consumer application (the API's and the file's fields)."""
    return {"funder_code": "BANK-A", "external_ref": ref, "product_code": "CONSUMER-G",
            "borrower_kind": "individual", "borrower_name": "张三",
            "borrower_id_number": b.RESIDENT_ID_2, "borrower_phone": b.PHONE,
            "borrower_bank_card": b.BANK_CARD, "amount_fen": 3_600_000, "term_months": 12,
            "annual_rate": "0.12", "repayment_method": "equal_installment",
            "applied_on": "2025-01-15", "monthly_income_fen": 2_000_000,
            "employment": "salaried"}


def change(**fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda row: {**row, **fields}


def drop(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda row: {k: v for k, v in row.items() if k != name}


#: (kind, how a good row is spoiled). Every one must be refused.
KINDS: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    ("amount 2^63-1", change(amount_fen=2**63 - 1)),
    ("amount 2^64", change(amount_fen=2**64)),
    ("amount above the cap", change(amount_fen=1_000_000_000_001)),
    ("amount negative", change(amount_fen=-1)),
    ("amount zero", change(amount_fen=0)),
    ("amount true", change(amount_fen=True)),
    ("amount text", change(amount_fen="lots")),
    ("amount fraction", change(amount_fen=1.5)),
    ("amount null", change(amount_fen=None)),
    ("amount missing", drop("amount_fen")),
    ("income 2^63-1", change(monthly_income_fen=2**63 - 1)),
    ("income negative", change(monthly_income_fen=-5)),
    ("income true", change(monthly_income_fen=True)),
    ("rate 1e-999999", change(annual_rate="1e-999999")),
    ("rate zero", change(annual_rate="0")),
    ("rate negative", change(annual_rate="-0.1")),
    ("rate above 1", change(annual_rate="2")),
    ("rate NaN", change(annual_rate="NaN")),
    ("rate Infinity", change(annual_rate="Infinity")),
    ("rate true", change(annual_rate=True)),
    ("rate text", change(annual_rate="twelve percent")),
    ("rate seven places", change(annual_rate="0.1200001")),
    ("date 9999-12-31", change(applied_on="9999-12-31")),
    ("date 1900", change(applied_on="1900-01-01")),
    ("date impossible", change(applied_on="2025-02-30")),
    ("date day first", change(applied_on="15/01/2025")),
    ("date number", change(applied_on=20250115)),
    ("name empty", change(borrower_name="")),
    ("name bell", change(borrower_name="张\u0007三")),
    ("name right-to-left override", change(borrower_name="张\u202e三")),
    ("name zero-width space", change(borrower_name="张\u200b三")),
    ("name line break", change(borrower_name="张\n三")),
    ("name NUL", change(borrower_name="张\x00三")),
    ("name too long", change(borrower_name="张" * 201)),
    ("id checksum", change(borrower_id_number="110105194912310021")),
    ("id empty", change(borrower_id_number="")),
    ("id short", change(borrower_id_number="11010519")),
    ("phone short", change(borrower_phone="123")),
    ("phone letters", change(borrower_phone="1381234abcd")),
    ("card Luhn", change(borrower_bank_card="6222021234567890124")),
    ("product unknown", change(product_code="TRAVEL-X")),
    ("funder unknown", change(funder_code="NO-SUCH-BANK")),
    ("funder null", change(funder_code=None)),
    ("term zero", change(term_months=0)),
    ("term beyond product", change(term_months=48)),
    ("term negative", change(term_months=-1)),
    ("term true", change(term_months=True)),
    ("term text", change(term_months="twelve")),
    ("method unknown", change(repayment_method="weekly")),
    ("borrower kind unknown", change(borrower_kind="alien")),
    ("reference empty", change(external_ref="")),
    ("reference too long", lambda row: {**row, "external_ref": row["external_ref"] * 20}),
    ("reference line break", lambda row: {**row, "external_ref": row["external_ref"] + "\n1"}),
    ("unknown field", change(nickname="小张")),
    ("employment bell", change(employment="salaried\u0007")),
    ("employment too long", change(employment="x" * 31)),
    ("evidence digest", change(evidence=[{"kind": "consent", "reference": "a://1",
                                          "sha256": "not-a-digest"}])),
    ("evidence kind", change(evidence=[{"kind": "selfie", "reference": "a://1",
                                        "sha256": "0" * 64}])),
]

#: Lines only a file can hold.
FILE_ONLY = [("not an object", b"[1, 2, 3]"), ("truncated", b'{"funder_code": "BANK-A", '),
             ("not UTF-8", b'{"borrower_name": "\xff\xfe"}'), ("a number", b"42")]


def corpus() -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for copy in range(COPIES):
        for number, (kind, spoil) in enumerate(KINDS):
            rows.append((kind, spoil(good(f"BAD-{copy:02d}-{number:02d}"))))
    return rows


def test_the_corpus_is_large_and_varied_enough():
    assert len(KINDS) + len(FILE_ONLY) >= 50
    assert len(corpus()) >= 2000


@pytest.fixture
def container(database_url: str) -> Iterator[Container]:
    """The shipped catalogue and BANK-A; no rate limit (the corpus is sent at once)."""
    c = bootstrap(support.settings(database_url, rate_limit_per_second=1_000_000,
                                   rate_limit_burst=1_000_000))
    c.risk = b.engine()
    b.seed(c.uow)
    yield c
    c.close()


def stored(c: Container) -> int:
    with c.uow() as u:
        return u.applications.count()


def test_a_file_of_malformed_lines_stores_nothing_and_refuses_each_line_with_its_number(
        container: Container, tmp_path: Any) -> None:
    rows = corpus()
    lines = [json.dumps(row, ensure_ascii=False).encode() for _, row in rows]
    lines += [raw for _, raw in FILE_ONLY] * COPIES
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    result = CliRunner().invoke(app, ["applications", "load", str(path), "--database-url",
                                      container.settings.database_url])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 2, result.output[-2000:]
    assert "Traceback" not in result.output
    assert f"0 applications stored, {len(lines):,} lines refused" in result.output
    refused = [line for line in result.output.splitlines() if line.startswith("  line ")]
    assert len(refused) == len(lines)
    assert stored(container) == 0


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        token = support.api_token(container, "keyer", ["underwriter"])
        test_client.headers.update(support.bearer(token))
        yield test_client


def test_the_api_refuses_every_malformed_application_with_its_field_and_rule(
        container: Container, client: TestClient) -> None:
    answers: dict[int, int] = {}
    unnamed = []
    for kind, row in corpus():
        response = client.post("/v1/applications", json=row)
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        detail = response.json().get("detail")
        if response.status_code != 422 or not isinstance(detail, list) or not all(
                d.get("loc") and d.get("type") for d in detail):
            unnamed.append((kind, response.status_code, response.text[:200]))
    assert not unnamed, unnamed
    assert set(answers) == {422}
    assert stored(container) == 0
