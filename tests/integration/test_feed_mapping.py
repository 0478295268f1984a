"""A funder's column names kept on its agreement (issue 21), on SQLite and PostgreSQL:
``funders agreement --feed-map`` stores them as a new version, ``funders show`` shows them,
``feed load`` reads a file with them when no ``--map`` is given (``--map`` overrides them for
that run), and a bad mapping is refused with its rule."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from xinbao.bootstrap import Container
from xinbao.entrypoints.cli.main import app
from xinbao.loans.model import Loan

runner = CliRunner()
HEADER = "合同号,期数,还款日,本金,利息,流水号"
FEED_MAP = ["--feed-map", "repayments:合同号=contract_no", "--feed-map",
            "repayments:期数=installment_number", "--feed-map", "repayments:还款日=paid_on",
            "--feed-map", "repayments:本金=principal", "--feed-map", "repayments:利息=interest",
            "--feed-map", "repayments:流水号=reference"]


def xinbao(c: Container, *args: str):
    return runner.invoke(app, [*args, "--database-url", c.settings.database_url])


def write_file(folder: Path, name: str, loan: Loan, paid: list[tuple[int, str]],
               header: str = HEADER) -> Path:
    """A repayment file in the funder's own column names, with its manifest beside it."""
    lines, principal = [header], 0
    for number, reference in paid:
        i = loan.installments[number - 1]
        principal += i.principal_fen
        lines.append(f"{loan.contract_no},{number},{i.due_date},{i.principal_fen / 100:.2f},"
                     f"{i.interest_fen / 100:.2f},{reference}")
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / f"{name}.manifest.json").write_text(json.dumps({
        "type": "repayments", "funder": "BANK-A", "business_date": "2025-04-30",
        "rows": len(paid), "totals": {"principal": f"{principal / 100:.2f}"}}),
        encoding="utf-8")
    return path


def agree_mapping(c: Container) -> None:
    stored = xinbao(c, "funders", "agreement", "BANK-A", *FEED_MAP, "--json")
    assert stored.exit_code == 0, stored.output


def test_a_mapping_is_stored_as_a_new_version_and_shown(loan):
    c, _ = loan

    stored = xinbao(c, "funders", "agreement", "BANK-A", *FEED_MAP, "--json")
    again = xinbao(c, "funders", "agreement", "BANK-A", *FEED_MAP, "--json")
    shown = xinbao(c, "funders", "show", "BANK-A")
    as_json = json.loads(xinbao(c, "funders", "show", "BANK-A", "--json").stdout)

    assert stored.exit_code == 0, stored.output
    version = json.loads(stored.stdout)
    assert (version["version"], version["stored"]) == (2, True)
    assert version["feed_mapping"]["repayments"]["合同号"] == "contract_no"
    assert json.loads(again.stdout)["stored"] is False
    assert [a["feed_mapping"] for a in as_json["agreements"]] == [
        {}, version["feed_mapping"]]
    assert shown.exit_code == 0 and "流水号" in shown.stdout and "reference" in shown.stdout


def test_feed_load_reads_the_file_with_its_funders_mapping_unless_told_otherwise(
        loan, tmp_path):
    c, ln = loan
    path = write_file(tmp_path, "0430.csv", ln, [(1, "TX-1"), (2, "TX-2")])
    unmapped = xinbao(c, "feed", "load", str(path), "--funder", "BANK-A", "--json")
    agree_mapping(c)

    applied = xinbao(c, "feed", "load", str(path), "--funder", "BANK-A", "--json")
    other = write_file(tmp_path, "0501.csv", ln, [(3, "TX-3")],
                       header="合同号,期数,还款日,本金,利息,交易号")
    overridden = xinbao(c, "feed", "load", str(other), "--funder", "BANK-A", "--json",
                        "--map", "合同号=contract_no", "--map", "期数=installment_number",
                        "--map", "还款日=paid_on", "--map", "本金=principal",
                        "--map", "利息=interest", "--map", "交易号=reference")

    assert unmapped.exit_code == 2  # the funder's names are not ours: nothing applied
    assert json.loads(unmapped.stdout)["status"] == "refused"
    assert applied.exit_code == 0, applied.output
    assert (json.loads(applied.stdout)["status"], json.loads(applied.stdout)["accepted"]) == (
        "applied", 2)
    assert overridden.exit_code == 0, overridden.output
    with c.uow() as uow:
        assert len(uow.repayments.for_loan(ln.id)) == 3  # type: ignore[arg-type]


def test_a_bad_mapping_is_refused_with_its_rule_and_stores_nothing(loan):
    c, _ = loan

    unknown_column = xinbao(c, "funders", "agreement", "BANK-A", "--feed-map",
                            "repayments:合同号=contract_number")
    unknown_type = xinbao(c, "funders", "agreement", "BANK-A", "--feed-map",
                          "mortgages:合同号=contract_no")
    malformed = xinbao(c, "funders", "agreement", "BANK-A", "--feed-map", "合同号=contract_no")
    twice = xinbao(c, "funders", "agreement", "BANK-A", "--feed-map",
                   "repayments:合同号=contract_no", "--feed-map", "repayments:编号=contract_no")

    for result, rule in ((unknown_column, "agreement.feed_column"),
                         (unknown_type, "agreement.feed_type"),
                         (malformed, "agreement.feed_mapping"),
                         (twice, "agreement.feed_mapping")):
        assert result.exit_code == 2 and rule in result.output, result.output
    shown = json.loads(xinbao(c, "funders", "show", "BANK-A", "--json").stdout)
    assert len(shown["agreements"]) == 1
