"""The credit-bureau adapter: queries run concurrently with a timeout, reports are cached,
and every query that reaches the bureau is charged.

``BureauClient.fetch_many`` asks for a batch of borrowers at once on a thread pool and waits
at most ``timeout_s`` for the whole batch; a borrower whose report has not come back by then
is ``timeout`` (the decision refers it: nobody is approved without a report), a failed query
is ``error``. A report is reused for ``cache_days`` (keyed by a hash of the ID number, so the
cache holds no ID numbers); a cached answer costs nothing. ``stats`` counts queries, cache
hits, timeouts, errors and the cost so far.

With ``workers=0`` the queries run one after another on the calling thread and no timeout
applies: for a service in the same process that answers at once (the simulated bureau
without latency), where handing each query to a thread costs more than the query.

Behind the client is a ``BureauService``, the adapter of one bureau: the simulated one
(``simulation/bureau.py``) or a real connection, chosen by ``XINBAO_BUREAU`` and made by the
composition root (``bootstrap.load_bureau``). Every result carries the adapter's declared
``name/version`` (``BureauResult.source``), which the decision record keeps. How to write
and configure an adapter: ``docs/BUREAU.md``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Protocol

from xinbao.risk.model.bureau import BureauResult, Report, Status
from xinbao.risk.services import BureauQuery


class BureauService(Protocol):
    """A credit bureau adapter: what ``BureauClient`` asks of a bureau connection.

    ``name`` and ``version`` say which bureau answers (kept with every decision as
    ``name/version``: a short lower-case name such as ``pbccrc``, and the version of the
    adapter or of the bureau's interface it speaks). ``query`` asks for one borrower's
    report on a business date: the ``Report``, ``None`` when the bureau has no record of
    the ID number, or an exception when the query failed (the decision refers it:
    ``BUR-UNAVAILABLE``). ``query`` is called from several threads at once and is abandoned,
    not interrupted, after the client's timeout: keep a shorter timeout of its own on the
    connection. An adapter that holds connections may also have a ``close()``, called once
    when the process stops. Caching and cost are the client's; nobody retries (a failed or
    late query refers the application).
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def query(self, id_number: str, on: date) -> Report | None: ...


def identity(service: BureauService) -> str:
    """The ``name/version`` a service declares; refuses a service that declares none."""
    name, version = getattr(service, "name", None), getattr(service, "version", None)
    if not (isinstance(name, str) and name.strip() and isinstance(version, str)
            and version.strip()):
        raise TypeError(f"{type(service).__qualname__} is not a bureau adapter: it declares "
                        "no name and version (risk/bureau.BureauService, docs/BUREAU.md)")
    return f"{name.strip()}/{version.strip()}"


@dataclass
class BureauStats:
    queries: int = 0
    cache_hits: int = 0
    timeouts: int = 0
    errors: int = 0
    cost_fen: int = 0


class BureauClient:
    def __init__(self, service: BureauService, *, timeout_s: float, cost_fen: int,
                 cache_days: int, workers: int = 8, cache_size: int = 200_000) -> None:
        self._service = service
        #: Which bureau answers, on every result: the service's ``name/version``.
        self.source = identity(service)
        self._timeout = timeout_s
        self._cost = cost_fen
        self._ttl = timedelta(days=cache_days)
        if workers < 0:
            raise ValueError("workers is 0 (inline) or more")
        self._pool = (ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bureau")
                      if workers else None)
        self._cache: OrderedDict[str, tuple[date, Report | None]] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()
        self.stats = BureauStats()

    @staticmethod
    def _key(id_number: str) -> str:
        return hashlib.sha256(f"bureau-cache:{id_number}".encode()).hexdigest()

    def _cached(self, key: str, on: date) -> tuple[bool, Report | None]:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None or not on - self._ttl <= hit[0] <= on:
                return False, None
            self._cache.move_to_end(key)
            self.stats.cache_hits += 1
            return True, hit[1]

    def _store(self, key: str, on: date, report: Report | None) -> None:
        with self._lock:
            self._cache[key] = (on, report)
            self._cache.move_to_end(key)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)

    def fetch_many(self, queries: Sequence[BureauQuery]) -> list[BureauResult]:
        results: list[BureauResult | None] = [None] * len(queries)
        pending: dict[Future, tuple[int, str, date]] = {}
        asked: dict[str, Future] = {}
        for i, q in enumerate(queries):
            key = self._key(q.id_number)
            hit, report = self._cached(key, q.on)
            if hit:
                results[i] = BureauResult(Status.OK if report else Status.NO_RECORD, report,
                                          0, cached=True, source=self.source)
                continue
            future = asked.get(key)
            if future is None:  # one query per borrower per batch
                future = asked[key] = self._ask(q)
            pending.setdefault(future, (i, key, q.on))
        done, _ = wait(list(asked.values()), timeout=self._timeout)
        outcome: dict[str, BureauResult] = {}
        for key, future in asked.items():
            if future not in done:
                future.cancel()
                outcome[key] = BureauResult(Status.TIMEOUT, detail=(
                    f"no answer within {self._timeout:g} s"), source=self.source)
                with self._lock:
                    self.stats.timeouts += 1
                continue
            on = pending[future][2]
            try:
                report = future.result()
            except Exception as exc:  # the service's failure is the decision's finding
                outcome[key] = BureauResult(Status.ERROR, detail=type(exc).__name__,
                                            source=self.source)
                with self._lock:
                    self.stats.errors += 1
                continue
            self._store(key, on, report)
            outcome[key] = BureauResult(Status.OK if report else Status.NO_RECORD, report,
                                        self._cost, source=self.source)
            with self._lock:
                self.stats.queries += 1
                self.stats.cost_fen += self._cost
        charged: set[str] = set()
        for i, q in enumerate(queries):
            if results[i] is None:
                key = self._key(q.id_number)
                r = outcome[key]
                if key in charged and r.cost_fen:  # the second ask in a batch rode along
                    r = replace(r, cost_fen=0, cached=True)
                charged.add(key)
                results[i] = r
        return [r for r in results if r is not None]

    def _ask(self, q: BureauQuery) -> Future:
        if self._pool is not None:
            return self._pool.submit(self._service.query, q.id_number, q.on)
        future: Future = Future()
        try:
            future.set_result(self._service.query(q.id_number, q.on))
        except Exception as exc:  # noqa: BLE001 - the service's failure, reported below
            future.set_exception(exc)
        return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        close = getattr(self._service, "close", None)  # an adapter holding connections
        if callable(close):
            close()
