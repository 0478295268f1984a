"""The ``xinbao`` command line over a real database, once per backend (SQLite always,
PostgreSQL when ``XINBAO_TEST_POSTGRES_URL`` is set); the demo runs on SQLite only.

Commands run in-process through Typer's ``CliRunner``; what was written is checked through
the unit of work.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests import builders as b
from tests import support
from xinbao import migrate
from xinbao.bootstrap import Container, bootstrap
from xinbao.entrypoints.cli.main import app
from xinbao.policy import services as policies
from xinbao.policy.commands import IssuePolicy
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.underwriting import services as applications

PRODUCT_CODES = ("CONSUMER-G", "CAR-G", "MORTGAGE-C", "SME-C")
REFUSED = 2  # the CLI's exit code for refused input

runner = CliRunner()


def xinbao(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def seeded(database_url: str) -> Iterator[Container]:
    """The shipped catalogue and a licensed bank, BANK-A."""
    c = bootstrap(support.settings(database_url))
    b.seed(c.uow)
    yield c
    c.close()


def stored(container: Container) -> tuple[int, int]:
    """(applications, journal entries): compared before and after a refused command."""
    with container.uow() as u:
        return u.applications.count(), len(u.ledger.entries())


def submit_options(database_url: str, **changes: str) -> list[str]:
    """``applications submit`` for ``builders.consumer_application()``, options changed."""
    options = {"funder": "BANK-A", "ref": "APP-0001", "product": "CONSUMER-G", "name": "张三",
               "id-number": b.RESIDENT_ID, "phone": b.PHONE, "bank-card": b.BANK_CARD,
               "amount": "36000.00", "term": "12", "rate": "0.12",
               "applied-on": b.START.isoformat(), "database-url": database_url}
    options.update({k.replace("_", "-"): v for k, v in changes.items()})
    return ["applications", "submit", *(a for k, v in options.items() for a in (f"--{k}", v))]


def test_db_upgrade_then_db_current_succeed_on_a_fresh_database(
        database_url: str, empty_database_url: str) -> None:
    before = xinbao("db", "current", "--database-url", empty_database_url)
    assert before.exit_code == 1, before.output
    assert "empty database" in before.stdout

    upgraded = xinbao("db", "upgrade", "--database-url", empty_database_url)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"revision {migrate.head_revision()}" in upgraded.stdout

    current = xinbao("db", "current", "--database-url", empty_database_url)
    assert current.exit_code == 0, current.output
    assert current.stdout.strip() == f"revision {migrate.head_revision()}: current"


def test_products_load_then_list_shows_the_four_shipped_products(database_url: str) -> None:
    loaded = xinbao("products", "load", "--database-url", database_url)
    assert loaded.exit_code == 0, loaded.output
    assert sorted(re.findall(r"^(\S+) v1:", loaded.stdout, re.MULTILINE)) == sorted(PRODUCT_CODES)

    listed = xinbao("products", "list", env={"XINBAO_DATABASE_URL": database_url})

    assert listed.exit_code == 0, listed.output
    codes = re.findall(r"^│ (\S+)\s+│ 1 ", listed.stdout, re.MULTILINE)
    assert sorted(codes) == sorted(PRODUCT_CODES)
    trigger_days = dict(re.findall(r"^│ (\S+)\s+│.*│ (\d+)\s+│[^│]*│$", listed.stdout,
                                   re.MULTILINE))
    assert trigger_days == {"CONSUMER-G": "80", "CAR-G": "90", "MORTGAGE-C": "90",
                            "SME-C": "80"}


def test_applications_submit_prints_the_number_of_the_stored_application(
        seeded: Container, database_url: str) -> None:
    result = xinbao(*submit_options(database_url))

    assert result.exit_code == 0, result.output
    match = re.search(r"Application (\d+) submitted \(CONSUMER-G v1, guarantee insurance\)",
                      result.stdout)
    assert match, result.stdout
    with seeded.uow() as u:
        application = u.applications.get(int(match.group(1)))
    assert application is not None
    assert (application.external_ref, application.amount_fen, application.term_months) == (
        "APP-0001", 3_600_000, 12)
    assert application.borrower.id_number == b.RESIDENT_ID


def test_applications_submit_takes_the_declared_income_and_the_evidence(
        seeded: Container, database_url: str) -> None:
    result = xinbao(*submit_options(database_url, income="18000.50", employment="salaried"),
                    "--evidence", f"consent=archive://c/1@{b.SHA}",
                    "--evidence", f"sales_recording=archive://s/1@{b.SHA}")
    assert result.exit_code == 0, result.output
    with seeded.uow() as u:
        (application,) = u.applications.find_by_id_number(b.RESIDENT_ID)
    assert application.profile.monthly_income_fen == 1_800_050
    assert [e.kind.value for e in application.evidence] == ["consent", "sales_recording"]
    bad = xinbao(*submit_options(database_url, ref="APP-0002"), "--evidence", "selfie=x@y")
    assert bad.exit_code == 2 and "evidence.kind" in bad.output


def test_applications_load_stores_good_lines_and_names_each_bad_one(
        seeded: Container, database_url: str, tmp_path: Path) -> None:
    good = {"funder_code": "BANK-A", "external_ref": "L-1", "product_code": "CONSUMER-G",
            "borrower_kind": "individual", "borrower_name": "张三",
            "borrower_id_number": b.RESIDENT_ID_2, "borrower_phone": b.PHONE,
            "amount_fen": 3_600_000, "term_months": 12, "annual_rate": "0.12",
            "repayment_method": "equal_installment", "applied_on": "2025-01-15",
            "monthly_income_fen": 2_000_000}
    lines = [good, {**good, "external_ref": "L-2", "term_months": 48},
             {**good, "external_ref": "L-3", "amount_fen": "lots"}]
    path = tmp_path / "apps.jsonl"
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n",
                    encoding="utf-8")
    result = xinbao("applications", "load", str(path), "--database-url", database_url)
    assert result.exit_code == 2, result.output
    assert "1 applications stored, 2 lines refused" in result.output
    assert "Stored as applications 1 to 1; decide them with `xinbao decision run --submitted`" \
        in result.output
    assert "line 2 (L-2): term_months [product.term_range]" in result.output
    assert "line 3: amount_fen" in result.output
    with seeded.uow() as u:
        assert u.applications.count() == 1

    # A byte-order mark is not part of line 1; a line that is not UTF-8 is refused alone.
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({**good, "external_ref": "L-4"}).encode()
                     + b"\n" + b'{"external_ref": "L-\xff"}\n')
    again = xinbao("applications", "load", str(path), "--database-url", database_url)
    assert again.exit_code == 2, again.output
    assert "1 applications stored, 1 lines refused" in again.output
    assert "line 2: not UTF-8 text (byte 21) [file.encoding]" in again.output


@pytest.mark.parametrize(("changes", "field", "rule"), [
    pytest.param({"id_number": "110105194912310021"}, "borrower_id_number", "resident_id.gb11643",
                 id="invalid-resident-id"),
    pytest.param({"amount": "0"}, "amount_fen", "loan.amount_positive", id="zero-amount"),
    pytest.param({"amount": "-500"}, "amount_fen", "loan.amount_positive",
                 id="negative-amount"),
    pytest.param({"amount": "lots"}, "amount", "amount.format", id="unreadable-amount"),
    pytest.param({"product": "TRAVEL-X"}, "product_code", "product.known",
                 id="unknown-product"),
    pytest.param({"term": "48"}, "term_months", "product.term_range", id="term-out-of-range"),
    pytest.param({"policyholder_id": b.CREDIT_CODE_BANK}, "policyholder_id",
                 "roles.guarantee.policyholder", id="funder-as-policyholder-of-guarantee"),
    pytest.param({"applied_on": "2025-02-30"}, "applied_on", "applied_on.format",
                 id="impossible-date"),
])
def test_applications_submit_refuses_a_broken_rule_with_exit_2_naming_it_and_writes_nothing(
        seeded: Container, database_url: str, changes: dict[str, str], field: str,
        rule: str) -> None:
    before = stored(seeded)

    result = xinbao(*submit_options(database_url, **changes))

    assert result.exit_code == REFUSED, result.output
    assert "Refused" in result.stderr and "nothing was written" in result.stderr
    assert re.search(rf"\b{re.escape(field)}: .*\({re.escape(rule)}\)", result.stderr,
                     re.DOTALL), result.stderr
    assert "submitted" not in result.stdout
    assert stored(seeded) == before


def test_ledger_trial_balance_prints_balanced_and_its_json_totals_zero(
        seeded: Container, database_url: str) -> None:
    application = applications.submit_application(b.car_application(), seeded.uow())
    quote = approval.approve_application(ApproveApplication(application.id, b.START),
                                             seeded.uow(), b.engine()).policy
    assert quote is not None
    issued = policies.issue_policy(IssuePolicy(quote.id, "LN-CAR-1", b.START, b.START),
                                   seeded.uow())
    assert issued.single_premium_fen > 0

    table = xinbao("ledger", "trial-balance", "--database-url", database_url)
    as_json = xinbao("ledger", "trial-balance", "--json", "--database-url", database_url)

    assert table.exit_code == 0, table.output
    assert table.stdout.rstrip().endswith("Balanced")
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["total_fen"] == 0
    rows = {r["account"]: r for r in document["rows"]}
    assert rows["6031"]["credit_fen"] == issued.single_premium_fen  # written premium
    assert sum(r["debit_fen"] for r in document["rows"]) == sum(
        r["credit_fen"] for r in document["rows"])


def test_ledger_trial_balance_refuses_an_unreadable_date_with_exit_2(database_url: str) -> None:
    result = xinbao("ledger", "trial-balance", "--through", "yesterday",
                    "--database-url", database_url)

    assert result.exit_code == REFUSED, result.output
    assert "through" in result.stderr and "(through.format)" in result.stderr


def test_simulate_writes_a_small_market_and_prints_a_zero_trial_balance(tmp_path: Path) -> None:
    result = xinbao("simulate", "--scenario", "base", "--applications", "40", "--months", "4",
                    "--out", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert re.search(r"│ Applications\s+│ 40\s+│", result.stdout), result.stdout
    trial_balance = re.search(r"│ Trial balance \(must be 0\)\s+│ (\S+)\s+│", result.stdout)
    assert trial_balance, result.stdout
    assert trial_balance.group(1) == "0.00"
    for name in ("xinbao.db", "report.html", "ground_truth.parquet"):
        assert (tmp_path / name).exists(), name


def test_simulate_refuses_an_unknown_scenario_with_exit_2(tmp_path: Path) -> None:
    result = xinbao("simulate", "--scenario", "no-such-market", "--out", str(tmp_path))

    assert result.exit_code == REFUSED
    assert "no-such-market" in result.stderr
    assert not (tmp_path / "xinbao.db").exists()


def test_simulate_refuses_to_replace_an_existing_database_without_overwrite(
        tmp_path: Path) -> None:
    existing = tmp_path / "xinbao.db"
    existing.write_bytes(b"an earlier book")

    refused = xinbao("simulate", "--applications", "5", "--months", "1", "--history", "0",
                     "--out", str(tmp_path))

    assert refused.exit_code == REFUSED, refused.output
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert str(existing) in refused.stderr and "--overwrite" in refused.stderr
    assert existing.read_bytes() == b"an earlier book"
    assert not (tmp_path / "report.html").exists()

    replaced = xinbao("simulate", "--applications", "5", "--months", "1", "--history", "0",
                      "--out", str(tmp_path), "--overwrite")

    assert replaced.exit_code == 0, replaced.output
    assert existing.read_bytes() != b"an earlier book"


def test_commands_start_without_loading_the_scoring_stack():
    """scikit-learn and optbinning take seconds to import: only training, reports and a
    promoted model load them, not every command (``xinbao --help`` included)."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, xinbao.entrypoints.cli.main, xinbao.bootstrap; "
         "print(sorted(m for m in ('sklearn', 'optbinning', 'lightgbm', 'matplotlib') "
         "if m in sys.modules))"], capture_output=True, text=True, check=True, timeout=120)
    assert loaded.stdout.strip() == "[]"
