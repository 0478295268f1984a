"""Time the market simulator and print figures (never asserts a time).

    .venv/bin/python bench/simulate.py                       # the demo: base, 20,000 x 24
    .venv/bin/python bench/simulate.py --applications 100000 --months 24
    .venv/bin/python bench/simulate.py --scaling 10000 100000  # wall-time ratio of two sizes

Each run writes a fresh SQLite database in a temporary folder (or --database-url) and
prints wall time, use-case throughput and peak memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from xinbao.bootstrap import bootstrap
from xinbao.config import Settings
from xinbao.parameters import load_product_catalogue
from xinbao.reporting import services as reporting
from xinbao.simulation.runner import run_market
from xinbao.simulation.scenario import resolve_scenario


def run_once(scenario_name: str, applications: int | None, months: int | None,
             database_url: str | None) -> None:
    scenario = resolve_scenario(scenario_name)
    scenario = replace(scenario, applications=applications or scenario.applications,
                       months=months or scenario.months)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        container = bootstrap(Settings(database_url=url, log_level="WARNING"), upgrade=True)
        started = time.perf_counter()
        result = run_market(scenario, container.uow, load_product_catalogue())
        wall = time.perf_counter() - started
        k = reporting.portfolio_kpis(container.uow())
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"scenario            {scenario.name} ({container.engine.dialect.name})")
        print(f"applications        {result.applications:,} over {scenario.months} months")
        print(f"policies            {result.policies:,}")
        print(f"repayment records   {result.repayments:,}")
        print(f"claims paid         {result.claims_paid:,}")
        print(f"wall time           {wall:.1f} s")
        print(f"applications / s    {result.applications / wall:.0f}")
        print(f"peak memory         {peak_mib:.0f} MiB")
        print(f"trial balance       {k.trial_balance.total} fen")
        container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="base")
    parser.add_argument("--applications", type=int)
    parser.add_argument("--months", type=int)
    parser.add_argument("--database-url")
    parser.add_argument("--scaling", nargs=2, type=int, metavar=("SMALL", "LARGE"),
                        help="run both sizes in fresh processes and print the time ratio")
    args = parser.parse_args()
    if not args.scaling:
        run_once(args.scenario, args.applications, args.months, args.database_url)
        return
    walls = []
    for n in args.scaling:
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--scenario", args.scenario,
                        "--applications", str(n)]
                       + (["--months", str(args.months)] if args.months else []), check=True)
        walls.append(time.perf_counter() - started)
    small, large = args.scaling
    print(f"scaling             {small:,} -> {large:,}: wall x{walls[1] / walls[0]:.2f} "
          f"for volume x{large / small:.1f}")


if __name__ == "__main__":
    main()
