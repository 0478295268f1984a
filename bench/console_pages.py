"""Server time of every console page on the demo's book, printed (never asserted).

    .venv/bin/python bench/console_pages.py                 # on a copy of out/demo/xinbao.db
    .venv/bin/python bench/console_pages.py --sqlite PATH   # on a copy of another SQLite book
    .venv/bin/python bench/console_pages.py --smoke         # on a small book made first

A user with every staff role signs in; the pages are found as a person finds them (the
menu, the first row of each list, the sub-pages, a list sorted and paged deep, a search by
borrower ID number); each is requested ``--rounds`` times in process (the app behind
FastAPI's test client: the time is the server's, without a network) after one warm-up.
Prints, a line a page: p50, p95 and the slowest, in milliseconds, and whether the p95 is
within the issue's 300 ms. Last, apart, the audit trail's verification (``/console/audit/
verify``, 3 rounds): an action rather than a page, it re-hashes every record of the chain, so
its time grows with the trail (as ``xinbao audit verify`` does).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient

from xinbao.bootstrap import bootstrap
from xinbao.config import Settings
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.api.deps import utcnow
from xinbao.iam import services as accounts
from xinbao.iam.model.security import system

TARGET_MS = 300
PASSWORD = "bench console passphrase"
STAFF = ["admin", "auditor", "finance", "risk_manager", "underwriting_approver",
         "claims_approver", "actuary"]
#: Pages below the menu's, reached by link from their area.
SUB_PAGES = ("/console/finance/entries", "/console/admin/clients", "/console/eod/overrides")
#: Menu pages that are not paged lists (their first link is a page of its own, all the same).
NOT_LISTS = ("/console/", "/console/finance")


class _Links(HTMLParser):
    """The menu's links, and the first link in the body of each ``table.list``."""

    def __init__(self) -> None:
        super().__init__()
        self.menu: list[str] = []
        self.rows: list[str] = []
        self._in_menu = self._in_list = self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "nav" and "main-nav" in (a.get("class") or ""):
            self._in_menu = True
        elif tag == "table" and "list" in (a.get("class") or "").split():
            self._in_list = True
        elif tag == "tbody" and self._in_list:
            self._in_body = True
        elif tag == "a" and a.get("href"):
            if self._in_menu:
                self.menu.append(str(a["href"]))
            elif self._in_body and not self.rows:
                self.rows.append(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_menu = False
        elif tag == "table":
            self._in_list = self._in_body = False


def links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def small_book(folder: Path) -> Path:
    """A book of the base market's first 400 applications over 12 months (``--smoke``)."""
    from xinbao.entrypoints.cli import simulation

    os.environ.setdefault("XINBAO_LOG_LEVEL", "WARNING")
    simulation.simulate(scenario="base", applications=400, months=12, seed=None,
                        out_dir=folder, database_url=None, history=0)
    return folder / "xinbao.db"


def sign_in(client: TestClient) -> None:
    form = client.get("/console/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = client.post("/console/login", data={"username": "bench.console",
                                                 "password": PASSWORD,
                                                 "csrf_token": token.group(1)},
                         follow_redirects=False)
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: {answer.status_code}")


def pages(client: TestClient) -> list[str]:
    """Every page's path: menu items, their lists' first rows, sub-pages, and each list
    sorted the other way and on its fifth page."""
    found: list[str] = []
    for path in [*links(client.get("/console/").text).menu, *SUB_PAGES]:
        found.append(path)
        listing = links(client.get(path).text)
        found += listing.rows
        if listing.rows and path not in NOT_LISTS:
            found.append(f"{path}?page=5")
            found.append(f"{path}?dir=asc&page=5")
    return list(dict.fromkeys(found))


def time_page(client: TestClient, path: str, rounds: int,
              form: dict[str, str] | None = None) -> list[float]:
    def once() -> float:
        started = time.perf_counter()
        answer = (client.post(path, data=form) if form is not None else client.get(path))
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code}")
        return elapsed

    once()
    return [once() for _ in range(rounds)]


def report(path: str, times: list[float]) -> bool:
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    ok = p95 <= TARGET_MS
    print(f"{path[:58]:<58} {statistics.median(ordered):8.1f} {p95:8.1f} "
          f"{ordered[-1]:8.1f}  {'ok' if ok else 'OVER'}")
    return ok


def borrower_id_number(container) -> str:  # type: ignore[no-untyped-def]
    """One borrower's ID number, read as the system (for the POST searches)."""
    with container.uow(system("bench")) as uow:
        application = uow.applications.get(1)
        return str(application.borrower.id_number)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, default=Path("out/demo/xinbao.db"),
                        help="a book made by `make demo` or `xinbao simulate` (left untouched)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--smoke", action="store_true",
                        help="on a small book simulated first, 3 rounds a page")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xinbao-bench-"))
    try:
        if args.smoke:
            args.sqlite, args.rounds = small_book(work / "small"), 3
        elif not args.sqlite.exists():
            parser.error(f"{args.sqlite} does not exist: run `make demo` first")
        shutil.copy(args.sqlite, work / "book.db")
        # The book's end-of-day snapshots, read where the simulation kept them (beside it).
        settings = replace(Settings.from_env(), database_url=f"sqlite:///{work / 'book.db'}",
                           snapshot_dir=str(args.sqlite.parent / "snapshots"),
                           log_level="WARNING")
        container = bootstrap(settings, upgrade=True)
        accounts.add_user(accounts.AddUser("bench.console", "Bench", PASSWORD, STAFF),
                          container.uow(system("bench")), container.credentials, now=utcnow())
        accounts.add_client(accounts.AddClient("bench-client", "Bench", ["auditor"]),
                            container.uow(system("bench")), container.credentials, now=utcnow())
        with TestClient(create_app(container), base_url="https://testserver") as client:
            sign_in(client)
            print(f"{'page':<58} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  "
                  f"(p95 target {TARGET_MS} ms, {args.rounds} rounds)")
            results = [report(path, time_page(client, path, args.rounds))
                       for path in pages(client)]
            csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                             client.get("/console/").text)
            assert csrf is not None
            id_number = borrower_id_number(container)
            for path in ("/console/applications/borrower", "/console/policies/borrower"):
                results.append(report(f"POST {path}", time_page(
                    client, path, args.rounds,
                    {"id_number": id_number, "csrf_token": csrf.group(1)})))
            print(f"{sum(results)} of {len(results)} pages within {TARGET_MS} ms at p95")
            verify = time_page(client, "/console/audit/verify", 3)
            print(f"audit trail verification: {statistics.median(verify):,.0f} ms "
                  f"(median of 3; the whole chain re-hashed)")
        container.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
