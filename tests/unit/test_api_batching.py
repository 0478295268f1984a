"""The decision batcher: concurrent approve requests decided together, each answered with its
own decision or its own error."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from tests import builders as b
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.entrypoints.api.batching import DecisionBatcher
from xinbao.iam.model.security import Unauthenticated, system
from xinbao.kernel.errors import NotFound
from xinbao.risk import approval
from xinbao.simulation.identities import IdentityFactory
from xinbao.underwriting import services as applications
from xinbao.underwriting.model import ApplicationStatus


def _store_with(n: int) -> tuple[Store, list[int]]:
    store = Store()
    b.seed(lambda: InMemoryUnitOfWork(store))
    ids = IdentityFactory(3)
    apps = [applications.submit_application(b.consumer_application(
        external_ref=f"Q-{i}", borrower_id_number=ids.resident_id(
            born_between=(date(1975, 1, 1), date(1990, 1, 1)))), InMemoryUnitOfWork(store))
        for i in range(n)]
    return store, [a.id for a in apps]


def test_concurrent_requests_are_decided_together_each_with_its_own_answer():
    store, ids = _store_with(6)
    batches: list[int] = []

    def uow(principal):
        return InMemoryUnitOfWork(store, actor=principal)

    engine = b.engine()
    batcher = DecisionBatcher(uow, lambda: engine, max_batch=4, max_wait_s=0.05)
    original = approval.approve_applications
    start = threading.Barrier(len(ids) + 1)
    answers: dict[int, object] = {}

    def counting(cmd, u, e):
        batches.append(len(cmd.application_ids))
        return original(cmd, u, e)

    def ask(app_id: int) -> None:
        start.wait()
        answers[app_id] = batcher.decide(system("test"), app_id, b.START)

    approval.approve_applications = counting
    try:
        threads = [threading.Thread(target=ask, args=(i,)) for i in ids]
        for t in threads:
            t.start()
        start.wait()
        for t in threads:
            t.join(10)
    finally:
        approval.approve_applications = original
        batcher.stop()
    assert sorted(answers) == sorted(ids)
    assert all(answers[i].application.id == i for i in ids)
    assert all(answers[i].application.status is ApplicationStatus.APPROVED for i in ids)
    assert sum(batches) == len(ids) and max(batches) <= 4 and len(batches) < len(ids)


def test_a_batch_refused_as_a_whole_is_decided_one_by_one():
    store, (good,) = _store_with(1)
    engine = b.engine()
    batcher = DecisionBatcher(lambda p: InMemoryUnitOfWork(store, actor=p), lambda: engine)
    try:
        missing = batcher.submit(system("test"), 999, b.START)
        decided = batcher.submit(system("test"), good, b.START)
        assert decided.result(10).application.status is ApplicationStatus.APPROVED
        with pytest.raises(NotFound):
            missing.result(10)
        again = batcher.decide(system("test"), good, b.START)  # decided before: its answer
        assert again.policy.id == decided.result().policy.id
    finally:
        batcher.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        batcher.decide(system("test"), good, b.START)


def test_a_client_named_by_id_is_read_once_per_batch_just_before_it_is_decided():
    store, ids = _store_with(4)
    engine = b.engine()
    reads: list[str] = []

    def client(client_id: str):
        reads.append(client_id)
        return system(client_id)

    batcher = DecisionBatcher(lambda p: InMemoryUnitOfWork(store, actor=p), lambda: engine,
                              client=client, max_wait_s=0.05)
    try:
        with batcher.exclusive():  # the first batch waits to write; the rest queue behind it
            first = batcher.submit("ops", ids[0], b.START)
            while not reads:
                threading.Event().wait(0.001)
            rest = [batcher.submit("ops", i, b.START) for i in ids[1:]]
        answers = [f.result(10) for f in (first, *rest)]
    finally:
        batcher.stop()
    assert [a.application.id for a in answers] == ids
    assert all(a.application.status is ApplicationStatus.APPROVED for a in answers)
    assert reads == ["ops", "ops"]  # two batches: the first alone, then the three together


def test_a_client_refused_when_read_refuses_each_request_of_its_batch_and_decides_nothing():
    store, (app_id,) = _store_with(1)
    engine = b.engine()

    def disabled(client_id: str):
        raise Unauthenticated("invalid or expired token")

    batcher = DecisionBatcher(lambda p: InMemoryUnitOfWork(store, actor=p), lambda: engine,
                              client=disabled)
    plain = DecisionBatcher(lambda p: InMemoryUnitOfWork(store, actor=p), lambda: engine)
    try:
        with pytest.raises(Unauthenticated):
            batcher.decide("ops", app_id, b.START)
        with pytest.raises(ValueError, match="reads no clients"):
            plain.submit("ops", app_id, b.START)
    finally:
        batcher.stop()
        plain.stop()
    with InMemoryUnitOfWork(store) as u:
        assert u.applications.get(app_id).status is ApplicationStatus.SUBMITTED
