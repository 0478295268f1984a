"""The risk approval engine without HTTP: CPU a decision by batch size (printed, never
asserted).

    .venv/bin/python bench/decision_engine.py [--applications 3000] [--batches 1 32 256]
    .venv/bin/python bench/decision_engine.py --smoke   # 160 applications, batches of 1, 16

Set-up (not timed): the database of ``bench/decisions.py`` (a fresh SQLite file, the shipped
catalogue, a funder, capital, the applications submitted, the operations client). Each batch
size runs on its own copy of that database, acting as the client, through the use case the
API's batcher calls (``risk/approval.approve_applications``): every decision is
stored and committed as over HTTP. The first hundred decisions warm the engine up and are
not counted; a batch size of 1 decides only the next 1,000.

Per batch size it prints the process's CPU per decision (what the server's core spends on
the engine), the wall time per decision (adds the commits' waits for the disk) and their
split into a fixed cost per batch and a cost per decision, fitted from the first and the
last batch size.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import decisions  # bench/decisions.py, next to this script

ON = date.fromisoformat(decisions.ON)


def measure(template: Path, batch: int, n: int) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, decisions) deciding applications 101.. in batches."""
    from xinbao.bootstrap import bootstrap
    from xinbao.config import Settings
    from xinbao.risk import approval
    from xinbao.risk.commands import ApproveApplications

    work = Path(tempfile.mkdtemp(prefix="xinbao-bench-engine-"))
    for f in template.iterdir():
        if f.is_file():
            shutil.copy(f, work / f.name)
    os.environ["XINBAO_DATABASE_URL"] = f"sqlite:///{work / 'bench.db'}"
    c = bootstrap(Settings.from_env(), upgrade=False)
    try:
        with c.uow() as u:
            client = u.clients.get_by_client_id("bench-ops")
        assert client is not None
        principal = client.principal()
        ids = list(range(1, n + 1))
        approval.approve_applications(ApproveApplications(tuple(ids[:100]), ON),
                                          c.uow(principal), c.risk)
        rest = ids[100:1100] if batch == 1 else ids[100:]
        gc.collect()
        gc.freeze()  # as a server does before it serves (entrypoints/api/app.settle)
        cpu, wall = time.process_time(), time.perf_counter()
        for lo in range(0, len(rest), batch):
            approval.approve_applications(
                ApproveApplications(tuple(rest[lo:lo + batch]), ON), c.uow(principal), c.risk)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        gc.unfreeze()
        return cpu, wall, len(rest)
    finally:
        c.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=3000)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--smoke", action="store_true",
                        help="160 applications (100 to warm up), batches of 1 and 16: the "
                             "code path in seconds")
    args = parser.parse_args()
    if args.smoke:
        args.applications, args.batches = 160, [1, 16]
    elif args.applications < 1100:
        parser.error("--applications must be at least 1,100 (100 warm the engine up)")
    template = Path(tempfile.mkdtemp(prefix="xinbao-bench-engine-template-"))
    os.environ.update({"XINBAO_SECRETS_FILE": str(template / "secrets.toml"),
                       "XINBAO_MODELS_DIR": str(template / "models"),
                       "XINBAO_LOG_LEVEL": "WARNING"})
    print(f"Preparing {args.applications:,} applications …", flush=True)
    decisions.prepare(f"sqlite:///{template / 'bench.db'}", template, args.applications, False)
    per: dict[int, float] = {}
    for batch in args.batches:
        cpu, wall, n = measure(template, batch, args.applications)
        per[batch] = cpu / n
        print(f"batches of {batch:>4}: {n:,} decisions, {cpu / n * 1000:.2f} ms CPU and "
              f"{wall / n * 1000:.2f} ms wall a decision = {n / wall:,.0f} decisions/s on "
              "one core", flush=True)
    small, large = min(per), max(per)
    if small != large:
        each = (per[large] * large - per[small] * small) / (large - small)
        fixed = (per[small] - each) * small
        print(f"fitted: {fixed * 1000:.1f} ms CPU a batch + {each * 1000:.2f} ms a decision")
    shutil.rmtree(template, ignore_errors=True)


if __name__ == "__main__":
    main()
