"""Time the scripted book (the `make demo` job) on SQLite and print figures.

    .venv/bin/python bench/demo_book.py [--loans 200] [--months 12] [--database-url URL]

Prints wall time, service calls (use cases) per second and peak memory. A benchmark prints;
it never asserts a time.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from xinbao.adapters.parameters import load_product_catalogue
from xinbao.bootstrap import bootstrap
from xinbao.config import Settings
from xinbao.services import reporting
from xinbao.simulation.scripted_book import BookConfig, run_book


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=200)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None,
                        help="an empty database; a temporary SQLite file if omitted")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        container = bootstrap(Settings(database_url=url, log_level="WARNING"), upgrade=True)
        config = BookConfig(loans=args.loans, months=args.months, seed=args.seed)
        started = time.perf_counter()
        result = run_book(container.uow, load_product_catalogue(), config)
        wall = time.perf_counter() - started
        kpis = reporting.portfolio_kpis(container.uow())
        calls = (result.applications * 2 + result.policies + result.repayments
                 + result.prepayments + result.claims_paid + result.recoveries
                 + config.months)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"database           {container.engine.dialect.name}")
        print(f"loans / months     {args.loans} / {args.months}")
        print(f"policies issued    {result.policies}")
        print(f"use-case calls     {calls}")
        print(f"wall time          {wall:.2f} s")
        print(f"calls per second   {calls / wall:.0f}")
        print(f"peak memory        {peak_mib:.0f} MiB")
        print(f"trial balance      {kpis.trial_balance.total} fen")
        container.close()


if __name__ == "__main__":
    main()
