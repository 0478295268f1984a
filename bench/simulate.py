"""The demo's wall time, phase by phase (printed, never asserted).

    .venv/bin/python bench/simulate.py                       # what `make demo` runs
    .venv/bin/python bench/simulate.py --applications 100000 --months 24
    .venv/bin/python bench/simulate.py --history 0           # no champion: the fallback PD
    .venv/bin/python bench/simulate.py --scaling 10000 100000  # wall-time ratio of two sizes
    .venv/bin/python bench/simulate.py --smoke               # tiny, a few seconds

It runs ``xinbao simulate`` in this process exactly as ``xinbao demo`` does (the base
scenario, 20,000 applications over 24 months, a champion trained first on 30,000 simulated
past loans), into a temporary folder (``--out`` keeps one) on SQLite (or ``--database-url``,
an empty database), prints the command's own KPI table, and then the wall time of each phase.
The phases are timed by wrapping the functions the command and the simulator call (the
simulator's use cases, training, the report's queries); nothing else changes, so the
figures are the demo's. ``simulator's own`` is the simulator's drawing of the market and
its bookkeeping; ``set-up and the rest`` the migrations, the ground-truth file and printing.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - after the clock starts, so that imports are a phase
import importlib  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import wraps  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

# (label, module, function): the phases in the order the demo meets them. Those indented
# under "simulation" are parts of it.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("history drawn", "xinbao.simulation.history", "draw_history"),
    ("champion trained", "xinbao.risk.scoring.scorecard", "train"),
    ("model saved, its report", "xinbao.risk.model_store", "save"),
    ("simulation", "xinbao.simulation.runner", "run_market"),
    ("  application files", "xinbao.underwriting.services", "submit_application_file"),
    ("  decisions", "xinbao.risk.approval", "approve_applications"),
    ("  policies issued", "xinbao.policy.services", "issue_policies"),
    ("  repayment files", "xinbao.servicing.services", "ingest_repayment_files"),
    ("  prepayments", "xinbao.servicing.services", "record_prepayments"),
    ("  end-of-day batches", "xinbao.servicing.services", "run_end_of_day"),
    ("  claim notices", "xinbao.claims.services", "file_claim"),
    ("  claims approved by staff", "xinbao.claims.services", "approve_claim"),
    ("  claims paid in batches", "xinbao.claims.services", "settle_claims"),
    ("  recoveries", "xinbao.claims.services", "record_recoveries"),
    ("KPIs", "xinbao.reporting.services", "portfolio_kpis"),
    ("report: policy rows", "xinbao.reporting.services", "policy_rows"),
    ("report: ledger by month", "xinbao.reporting.services", "ledger_by_month"),
    ("report: vintages", "xinbao.reporting.services", "policy_vintages"),
    ("report: HTML written", "xinbao.reporting.html", "write_report"),
)


class Clock:
    """Wall seconds and calls per phase, by wrapping each phase's function in its module
    (callers that look the function up in its module at call time see the wrapper)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, label: str, module: str, name: str) -> None:
        target = importlib.import_module(module)
        inner: Callable[..., Any] = getattr(target, name)

        @wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] = (self.seconds.get(label, 0.0)
                                       + time.perf_counter() - started)
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(target, name, timed)


def run_once(args: argparse.Namespace) -> None:
    from xinbao.entrypoints.cli import simulation

    clock = Clock()
    for label, module, name in PHASES:
        clock.wrap(label, module, name)
    imports = time.perf_counter() - STARTED
    with tempfile.TemporaryDirectory(prefix="xinbao-bench-simulate-") as tmp:
        started = time.perf_counter()
        simulation.simulate(scenario=args.scenario, applications=args.applications,
                            months=args.months, seed=args.seed,
                            out_dir=args.out or Path(tmp), database_url=args.database_url,
                            history=args.history, overwrite=True)  # the bench's own run
        command = time.perf_counter() - started
    wall = time.perf_counter() - STARTED
    print_phases(clock, imports, command, wall)


def print_phases(clock: Clock, imports: float, command: float, wall: float) -> None:
    s, n = clock.seconds, clock.calls
    parts = [label for label, _, _ in PHASES if label.startswith("  ")]
    top = [label for label, _, _ in PHASES if not label.startswith("  ")]
    simulation = s.get("simulation", 0.0)
    print("phase                            wall s   share   calls")

    def line(label: str, seconds: float, calls: int | None = None) -> None:
        print(f"{label:<32} {seconds:7.2f} {seconds / wall:7.1%} "
              f"{'' if calls is None else f'{calls:7,}'}")

    line("imports", imports)
    for label in top:
        line(label, s.get(label, 0.0), n.get(label, 0))
        if label == "simulation":
            for part in parts:
                line(part, s.get(part, 0.0), n.get(part, 0))
            line("  simulator's own", simulation - sum(s.get(p, 0.0) for p in parts))
    line("set-up and the rest", command - sum(s.get(label, 0.0) for label in top))
    line("wall time", wall)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory                      {peak_mib:7.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="base")
    parser.add_argument("--applications", type=int, help="default: the scenario's (20,000)")
    parser.add_argument("--months", type=int, help="default: the scenario's (24)")
    parser.add_argument("--seed", type=int, help="default: the scenario's")
    parser.add_argument("--history", type=int, default=30_000,
                        help="simulated past loans to train the champion on (0: none)")
    parser.add_argument("--out", type=Path, help="keep the database, report and ground "
                                                  "truth here, replacing a database there "
                                                  "(default: a temporary folder)")
    parser.add_argument("--database-url", help="an empty database instead of OUT/xinbao.db")
    parser.add_argument("--scaling", nargs=2, type=int, metavar=("SMALL", "LARGE"),
                        help="run both sizes in fresh processes and print the time ratio")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes (150 applications, 4 months, 3,000 past loans): "
                             "the same code path in a few seconds")
    args = parser.parse_args()
    if args.smoke:
        args.applications, args.months, args.history = 150, 4, 3000
    if not args.scaling:
        run_once(args)
        return
    walls = []
    for n in args.scaling:
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--scenario", args.scenario,
                        "--applications", str(n), "--history", str(args.history)]
                       + (["--months", str(args.months)] if args.months else []), check=True)
        walls.append(time.perf_counter() - started)
    small, large = args.scaling
    print(f"scaling             {small:,} -> {large:,}: wall x{walls[1] / walls[0]:.2f} "
          f"for volume x{large / small:.1f}")


if __name__ == "__main__":
    main()
