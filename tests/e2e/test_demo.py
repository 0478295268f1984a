"""`xinbao demo` as a user runs it: a fresh process, a SQLite file, a KPI table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from xinbao.adapters import orm


def test_demo_prints_the_kpis_with_a_zero_trial_balance_and_leaves_a_database(tmp_path: Path):
    db = tmp_path / "demo.db"
    done = subprocess.run(
        [sys.executable, "-m", "xinbao.entrypoints.cli", "demo", "--loans", "30", "--months", "6",
         "--database-url", f"sqlite:///{db}"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for label in ("Applications", "Policies issued", "Written premium", "Earned premium",
                  "Claims paid", "Recoveries", "Loss ratio", "By product family"):
        assert label in out
    assert re.search(r"Trial balance \(must be 0\)\s*│\s*0\.00", out)
    assert re.search(r"Applications\s*│\s*30\b", out)
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(orm.applications)).scalar_one() == 30
        total = c.execute(select(func.sum(orm.journal_lines.c.amount_fen))).scalar_one()
    assert total == 0
    engine.dispose()
