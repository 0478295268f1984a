"""Group commit for decisions: concurrent approve requests are decided together.

Each ``POST /v1/applications/{id}/approve`` hands its application to one worker thread and
waits. The worker takes what is waiting (up to ``max_batch``, or whatever came within
``max_wait_s``; it waits only while requests come together, so a lone request is decided at
once) for the same principal and business date and decides it in one transaction
(``risk/approval.approve_applications``): one bureau round, one scoring call, one
commit, instead of many transactions fighting for SQLite's single writer lock. The answer to
each request is its own decision; if the batch is refused as a whole (one application not
permitted, not found, not decidable), its applications are decided one by one so that each
request gets its own answer or error. Every decision is committed before its request is
answered.

Who decides is a ``Principal``, or an API client's id (the decision lane, ``lane.py``): the
client is then read once per batch, just before it is decided, and a client disabled by
then is refused (``Unauthenticated``) instead of being read once per request.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date

from xinbao.iam.model.security import Principal
from xinbao.risk import approval
from xinbao.risk.approval import ApprovalResult
from xinbao.risk.commands import ApproveApplication, ApproveApplications
from xinbao.risk.services import RiskEngine
from xinbao.unit_of_work import UnitOfWork

#: Who asks for a decision: a principal, or the id of an API client read at decision time.
Who = Principal | str


@dataclass
class _Item:
    who: Who
    application_id: int
    on: date
    future: Future = field(default_factory=Future)


class DecisionBatcher:
    def __init__(self, uow: Callable[[Principal], UnitOfWork], engine: Callable[[], RiskEngine], *,
                 client: Callable[[str], Principal] | None = None, max_batch: int = 64,
                 max_wait_s: float = 0.002) -> None:
        """``client`` reads an API client's principal by its id (``accounts.client_principal``),
        for requests that name their client instead of bringing a principal."""
        self._uow, self._engine, self._client = uow, engine, client
        self._max_batch, self._max_wait = max_batch, max_wait_s
        self._queue: deque[_Item] = deque()
        self._ready = threading.Condition()
        self._writing = threading.Lock()
        self._last = 1  # the size of the last batch: one alone means no one to wait for
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="decision-batcher",
                                        daemon=True)
        self._thread.start()

    def decide(self, who: Who, application_id: int, on: date) -> ApprovalResult:
        """The decision on one application (blocks until it is committed)."""
        return self.submit(who, application_id, on).result()

    def submit(self, who: Who, application_id: int, on: date) -> Future[ApprovalResult]:
        """The decision on one application, to come: the future is set once it is committed
        (``asyncio.wrap_future`` awaits it on an event loop)."""
        if isinstance(who, str) and self._client is None:
            raise ValueError("this batcher reads no clients: give it a principal")
        item = _Item(who, application_id, on)
        with self._ready:
            if self._stopped:
                raise RuntimeError("the decision batcher is stopped")
            self._queue.append(item)
            self._ready.notify()
        return item.future

    def exclusive(self) -> threading.Lock:
        """Held while a batch is decided: a request deciding its own batch holds it too, so
        that the process's decisions never wait on each other for the database's writer
        lock (SQLite's busy waits would add their sleeps to every answer)."""
        return self._writing

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify()
        self._thread.join(5)

    def _take(self) -> list[_Item] | None:
        with self._ready:
            while not self._queue and not self._stopped:
                self._ready.wait()
            if not self._queue:
                return None
            first = self._queue.popleft()
            batch = [first]
            if self._last > 1 or self._queue:  # requests are coming together: gather them
                self._ready.wait_for(lambda: len(self._queue) >= self._max_batch - 1,
                                     timeout=self._max_wait)
            keep: deque[_Item] = deque()
            while self._queue:
                item = self._queue.popleft()
                same = (item.who == first.who and item.on == first.on)
                (batch if same and len(batch) < self._max_batch else keep).append(item)
            self._queue.extendleft(reversed(keep))
            self._last = len(batch)
            return batch

    def _principal(self, who: Who) -> Principal:
        if isinstance(who, Principal):
            return who
        assert self._client is not None, "decide() refuses a client id without a reader"
        return self._client(who)

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            first = batch[0]
            try:
                principal = self._principal(first.who)
            except Exception as exc:  # noqa: BLE001 - the whole batch's own error
                for item in batch:
                    item.future.set_exception(exc)
                continue
            try:
                with self._writing:
                    results = approval.approve_applications(
                        ApproveApplications(tuple(i.application_id for i in batch), first.on),
                        self._uow(principal), self._engine())
            except Exception:  # noqa: BLE001 - decided one by one below, each its own answer
                with self._writing:
                    self._one_by_one(batch, principal)
                continue
            for item, result in zip(batch, results, strict=True):
                item.future.set_result(result)

    def _one_by_one(self, batch: list[_Item], principal: Principal) -> None:
        for item in batch:
            try:
                item.future.set_result(approval.approve_application(
                    ApproveApplication(item.application_id, item.on),
                    self._uow(principal), self._engine()))
            except Exception as exc:  # noqa: BLE001 - the request's own error
                item.future.set_exception(exc)
