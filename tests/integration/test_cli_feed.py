"""``xinbao feed load`` and ``feed columns`` (issue 21), on SQLite and PostgreSQL: a file with
its manifest applied, the same file renamed changing nothing, a bad file refused whole with
its rejects written beside it row by row, and bad options refused with their rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from xinbao.bootstrap import Container
from xinbao.entrypoints.cli.main import app
from xinbao.loans.model import Loan

runner = CliRunner()
HEADER = "合同号,期数,还款日,本金,利息,流水号"
MAPPING = ["--map", "合同号=contract_no", "--map", "期数=installment_number", "--map",
           "还款日=paid_on", "--map", "本金=principal", "--map", "利息=interest", "--map",
           "流水号=reference"]




def _write(folder: Path, name: str, loan: Loan, paid: list[tuple[int, str]],
           **manifest: object) -> Path:
    lines = [HEADER]
    principal = 0
    for number, reference in paid:
        i = loan.installments[number - 1]
        principal += i.principal_fen
        lines.append(f"{loan.contract_no},{number},{i.due_date},{i.principal_fen / 100:.2f},"
                     f"{i.interest_fen / 100:.2f},{reference}")
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    document = {"type": "repayments", "funder": "BANK-A", "business_date": "2025-04-30",
                "rows": len(paid), "totals": {"principal": f"{principal / 100:.2f}"},
                **manifest}
    (folder / f"{name}.manifest.json").write_text(json.dumps(document), encoding="utf-8")
    return path


def feed(c: Container, *args: str):
    return runner.invoke(app, ["feed", *args, "--database-url", c.settings.database_url])


def test_a_file_is_applied_and_the_same_file_renamed_changes_nothing(loan, tmp_path):
    c, ln = loan
    path = _write(tmp_path, "0430.csv", ln, [(1, "TX-1"), (2, "TX-2")])

    applied = feed(c, "load", str(path), "--funder", "BANK-A", *MAPPING, "--json")
    renamed = tmp_path / "0430-again.csv"
    shutil.copy(path, renamed)
    shutil.copy(tmp_path / "0430.csv.manifest.json", tmp_path / "0430-again.csv.manifest.json")
    again = feed(c, "load", str(renamed), "--funder", "BANK-A", *MAPPING, "--json")

    assert applied.exit_code == 0, applied.output
    first = json.loads(applied.stdout)
    assert (first["status"], first["accepted"], first["rejects_file"]) == ("applied", 2, None)
    assert json.loads(again.stdout)["status"] == "repeat"
    with c.uow() as uow:
        assert len(uow.repayments.for_loan(ln.id)) == 2  # type: ignore[arg-type]


def test_a_refused_file_writes_its_rejects_beside_it_and_applies_nothing(loan, tmp_path):
    c, ln = loan
    path = _write(tmp_path, "bad.csv", ln, [(1, "TX-1"), (2, "")])

    refused = feed(c, "load", str(path), "--funder", "BANK-A", *MAPPING)

    assert refused.exit_code == 2, refused.output
    assert "refused" in refused.output
    rejects = pl.read_csv(tmp_path / "bad.csv.rejects.csv")
    assert rejects.select("_row", "column", "rule").rows() == [(2, "reference", "feed.required")]
    with c.uow() as uow:
        assert uow.repayments.for_loan(ln.id) == []  # type: ignore[arg-type]


def test_a_manifest_that_disagrees_refuses_the_file_whole(loan, tmp_path):
    c, ln = loan
    path = _write(tmp_path, "short.csv", ln, [(1, "TX-1")], rows=3)

    refused = feed(c, "load", str(path), "--funder", "BANK-A", *MAPPING, "--json")

    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["refusals"][0][0] == "manifest.rows"


@pytest.mark.parametrize(("args", "rule"), [
    (["--type", "mortgages"], "feed.type"),
    (["--map", "nonsense"], "feed.mapping"),
    (["--manifest", "/nonexistent/m.json"], "feed.manifest"),
])
def test_bad_options_are_refused_with_their_rule(loan, tmp_path, args, rule):
    c, ln = loan
    path = _write(tmp_path, "f.csv", ln, [(1, "TX-1")])

    refused = feed(c, "load", str(path), "--funder", "BANK-A", *args)

    assert refused.exit_code == 2 and rule in refused.output, refused.output


def test_the_columns_of_each_file_type_are_listed():
    listed = runner.invoke(app, ["feed", "columns", "--type", "loan_status"])
    assert listed.exit_code == 0 and "outstanding_principal" in listed.stdout
