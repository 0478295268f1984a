"""An application the engine raises on is referred SYS-DECISION-ERROR with a DecisionFailed
event and reserves nothing; the rest of its batch is decided as if it were not there (issue
19). The poison is stored behind intake's back: intake refuses such values at the door."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from tests import builders as b
from tests.fakes import memory
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.kernel.errors import NotFound
from xinbao.risk import approval
from xinbao.risk import services as decisions
from xinbao.risk.commands import ApproveApplications
from xinbao.risk.model import exposure
from xinbao.risk.model.decision import DECISION_ERROR, Outcome
from xinbao.simulation.identities import IdentityFactory
from xinbao.underwriting import services as applications
from xinbao.underwriting.model import ApplicationStatus

RETAINED = (exposure.RETAINED, "all")


@pytest.fixture
def store() -> Store:
    s = Store()
    b.seed(lambda: InMemoryUnitOfWork(s))
    return s


def uow(store: Store) -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(store)


def submitted(store: Store, n: int, *, seed: int = 19) -> list[int]:
    ids = IdentityFactory(seed)
    return [applications.submit_application(b.consumer_application(
        external_ref=f"OK-{i}", borrower_id_number=ids.resident_id(
        born_between=(date(1975, 1, 1), date(1995, 1, 1)))), uow(store)).id
        for i in range(n)]


def poison(store: Store, application_id: int, **stored: object) -> None:
    """Change an application's stored values the way no intake would let them in."""
    with uow(store) as u:
        a = u.applications.get(application_id)
        for name, value in stored.items():
            setattr(a, name, value)
        u.applications.save(a)
        u.commit()


def decide(store: Store, ids: list[int], risk=None) -> list[approval.ApprovalResult]:
    return approval.approve_applications(ApproveApplications(tuple(ids), b.START), uow(store),
                                         risk or b.engine())


def retained_used(store: Store) -> int:
    with uow(store) as u:
        return u.counters.get([RETAINED])[RETAINED].used_fen


def failure_events(store: Store) -> list:
    with uow(store) as u:
        return [e for e in u.events.list(aggregate="application") if e.name == "DecisionFailed"]


class OneBadRow(b.FixedScorer):
    """A model that cannot take one application's row: the batch's call raises with it."""

    def __init__(self, bad_key: int) -> None:
        super().__init__()
        self.bad_key = bad_key

    def score(self, rows, keys):
        if self.bad_key in keys:
            raise ValueError("Input contains NaN, infinity or a value too large")
        return super().score(rows, keys)


def test_a_rate_the_engine_cannot_divide_by_refers_that_application_and_decides_the_rest(store):
    ids = submitted(store, 3)
    poison(store, ids[1], annual_rate=Decimal("1e-999999"))
    alone = Store()
    b.seed(lambda: InMemoryUnitOfWork(alone))
    clean = decide(alone, submitted(alone, 3)[::2])  # the same good ones, without the poison

    results = decide(store, ids)

    assert [r.application.status for r in results] == [
        ApplicationStatus.APPROVED, ApplicationStatus.REFERRED, ApplicationStatus.APPROVED]
    bad = results[1]
    assert bad.application.reason_codes == (DECISION_ERROR,)
    assert (bad.decision.outcome, bad.decision.approved_fen, bad.decision.final) == (
        Outcome.REFER, 0, False)
    assert bad.decision.detail["error"]["type"] == "DivisionByZero"
    assert bad.policy is None
    assert [(e.aggregate_id, e.data["error"]) for e in failure_events(store)] == [
        (ids[1], "DivisionByZero")]
    # the good ones are decided exactly as they would be without it, and it reserves nothing
    assert [(r.decision.outcome, r.decision.approved_fen, r.decision.monthly_premium_rate)
            for r in (results[0], results[2])] == [
        (r.decision.outcome, r.decision.approved_fen, r.decision.monthly_premium_rate)
        for r in clean]
    assert retained_used(store) == retained_used(alone) > 0
    with uow(store) as u:
        assert u.applications.waiting(applied_by=b.START, funder_id=None) == []


def test_an_income_too_large_to_store_refers_it_before_it_reserves_any_room(store):
    ids = submitted(store, 2)
    with uow(store) as u:
        profile = u.applications.get(ids[0]).profile
    poison(store, ids[0], profile=replace(profile, monthly_income_fen=2 ** 63 - 1))

    first, second = decide(store, ids)

    assert first.application.status is ApplicationStatus.REFERRED
    assert first.decision.detail["error"]["where"].endswith("check_storable")
    assert second.application.status is ApplicationStatus.APPROVED
    assert retained_used(store) == exposure.retained_fen(
        second.decision.approved_fen, Decimal("1"))
    assert len(failure_events(store)) == 1


def test_a_row_the_model_cannot_score_fails_alone_and_the_others_are_scored(store):
    ids = submitted(store, 3)
    scorer = OneBadRow(ids[2])

    results = decide(store, ids, b.engine(scorer=scorer))

    assert [r.application.status for r in results] == [
        ApplicationStatus.APPROVED, ApplicationStatus.APPROVED, ApplicationStatus.REFERRED]
    error = results[2].decision.detail["error"]
    assert error["type"] == "ValueError" and "NaN" in error["message"]


def test_a_model_that_cannot_score_anything_refuses_the_batch_as_before(store):
    ids = submitted(store, 2)
    scorer = OneBadRow(0)
    scorer.score = lambda rows, keys: (_ for _ in ()).throw(RuntimeError("model file gone"))

    with pytest.raises(RuntimeError):
        decide(store, ids, b.engine(scorer=scorer))
    with uow(store) as u:
        assert u.applications.waiting(applied_by=b.START, funder_id=None) == ids


def test_a_domain_refusal_still_refuses_the_whole_batch(store):
    ids = submitted(store, 2)
    with pytest.raises(NotFound):
        decide(store, [*ids, 999_999])
    with uow(store) as u:
        assert u.applications.waiting(applied_by=b.START, funder_id=None) == ids


def test_the_error_kept_with_the_decision_masks_personal_data():
    error = ValueError(f"bad row for 张三 {b.RESIDENT_ID} {b.PHONE} {b.BANK_CARD}")
    record = decisions._failure(uow(Store()), b.engine(), _application(), error, "", b.START)
    kept = str(record.detail) + str(record.events[0].data)
    assert "张三" not in kept and b.RESIDENT_ID not in kept and b.PHONE not in kept
    assert b.BANK_CARD not in kept and "ValueError" in kept


def _application():
    s = Store()
    b.seed(lambda: InMemoryUnitOfWork(s))
    (app_id,) = submitted(s, 1)
    with InMemoryUnitOfWork(s) as u:
        return u.applications.get(app_id)


def test_a_database_error_while_reserving_is_the_batchs_not_a_referral(store, monkeypatch):
    ids = submitted(store, 2)

    def locked(self, keys, amount):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(memory._Counters, "reserve_many", lambda self, planned: False)
    monkeypatch.setattr(memory._Counters, "reserve", locked)
    with pytest.raises(RuntimeError, match="locked"):
        decide(store, ids)
    assert failure_events(store) == []
    with uow(store) as u:
        assert u.applications.waiting(applied_by=b.START, funder_id=None) == ids
