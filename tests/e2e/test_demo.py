"""`xinbao simulate` as a user runs it: a fresh process, a SQLite file, a KPI table, an
offline HTML report and a ground-truth file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
from sqlalchemy import create_engine, func, select

from xinbao.ledger import tables as ledger_tables
from xinbao.underwriting import tables as underwriting_tables


def test_simulate_prints_kpis_and_writes_report_truth_and_database(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "xinbao.entrypoints.cli", "simulate", "--scenario", "base",
         "--applications", "150", "--months", "5", "--history", "5000",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for label in ("Applications", "Approval rate", "Policies issued", "Written premium",
                  "Earned premium", "Claims paid", "Recoveries", "Loss ratio", "Expense ratio",
                  "Combined ratio", "Underwriting profit", "By product family"):
        assert label in out, label
    assert re.search(r"Trial balance \(must be 0\)\s*│\s*0\.00", out)
    assert re.search(r"Applications\s*│\s*150\b", out)
    assert re.search(r"Champion pd/v1: AUC 0\.\d+ on [\d,]+ held-out loans", out)
    assert (tmp_path / "models" / "pd" / "v1" / "report.html").exists()
    assert '"champion": "pd/v1"' in (tmp_path / "models" / "registry.json").read_text()

    # the end-of-day batch kept a snapshot at each month end and on the last day, beside
    # the database, and the report shows the last one's loans by class and bucket
    kept = sorted(p.name for p in (tmp_path / "snapshots").glob("date=*"))
    assert len(kept) == 5 and kept[-1] == "date=2025-05-31", kept
    assert re.search(r"Snapshot of 2025-05-31 \(5 kept in .*\): [\d,]+ insured loans",
                     " ".join(out.split()))

    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert report.count("<svg") >= 4
    assert "Loans by class on 2025-05-31" in report and "Loans by bucket on 2025-05-31" in report
    assert "http://" not in report and "https://" not in report and "<script src" not in report

    truth = pl.read_parquet(tmp_path / "ground_truth.parquet")
    assert truth.height == 150
    assert {"true_pd_12m", "fraud", "default_installment", "expected_claim_by_end"} <= set(
        truth.columns)

    engine = create_engine(f"sqlite:///{tmp_path / 'xinbao.db'}")
    with engine.connect() as c:
        applications = underwriting_tables.applications
        assert c.execute(select(func.count()).select_from(applications)).scalar_one() == 150
        total = c.execute(select(func.sum(ledger_tables.journal_lines.c.amount_fen))).scalar_one()
    assert total == 0
    engine.dispose()
