"""The credit-bureau adapter: concurrent queries under one timeout, errors as results, a cache
that holds no ID numbers, and a cost for every query that reaches the bureau."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from xinbao.catalogue.model.parties import PartyKind
from xinbao.risk.bureau import BureauClient
from xinbao.risk.model.bureau import Report, Standing, Status
from xinbao.risk.services import BureauQuery
from xinbao.simulation.bureau import SimulatedBureau

ON = date(2025, 3, 1)
A, B, C = "110105198001011238", "11010519491231002X", "440305199003071234"


def query(number: str, on: date = ON) -> BureauQuery:
    return BureauQuery(number, "张三", PartyKind.INDIVIDUAL, on)


def client(service, **kw) -> BureauClient:
    return BureauClient(service, timeout_s=kw.pop("timeout_s", 2.0), cost_fen=300,
                        cache_days=kw.pop("cache_days", 30), **kw)


def test_each_borrower_gets_a_report_and_each_query_is_charged():
    c = client(SimulatedBureau(no_record_share=0.0))
    results = c.fetch_many([query(A), query(B)])
    assert [r.status for r in results] == [Status.OK, Status.OK]
    assert [r.cost_fen for r in results] == [300, 300]
    assert (c.stats.queries, c.stats.cost_fen) == (2, 600)


def test_a_report_is_reused_within_the_cache_period_and_costs_nothing_then():
    service = SimulatedBureau(no_record_share=0.0)
    c = client(service, cache_days=30)
    first = c.fetch_many([query(A)])[0]
    again = c.fetch_many([query(A, ON + timedelta(days=29))])[0]
    assert again.cached and again.cost_fen == 0 and again.report == first.report
    later = c.fetch_many([query(A, ON + timedelta(days=31))])[0]
    assert not later.cached and service.queries == 2
    assert A not in "".join(c._cache)  # keyed by a hash of the number


def test_the_same_borrower_twice_in_a_batch_is_asked_once_and_charged_once():
    service = SimulatedBureau(no_record_share=0.0)
    results = client(service).fetch_many([query(A), query(A)])
    assert service.queries == 1
    assert [r.cost_fen for r in results] == [300, 0]
    assert results[0].report == results[1].report


def test_a_slow_bureau_times_out_for_the_whole_batch_at_once():
    gate = threading.Event()

    class Slow:
        name, version = "slow", "1"

        def query(self, number: str, on: date) -> Report:
            if number == C:
                gate.wait(5)
            return Report("R", on, 700, 0, 0, 1, Standing.CLEAN)

    c = client(Slow(), timeout_s=0.2)
    results = c.fetch_many([query(A), query(C)])
    gate.set()
    assert [r.status for r in results] == [Status.OK, Status.TIMEOUT]
    assert results[1].cost_fen == 0 and "0.2 s" in results[1].detail
    assert c.stats.timeouts == 1
    c.close()


def test_a_failing_query_is_an_error_result_not_an_exception():
    c = client(SimulatedBureau(failing={B}))
    ok, failed = c.fetch_many([query(A), query(B)])
    assert ok.available and failed.status is Status.ERROR and not failed.available
    assert failed.detail == "BureauDown" and c.stats.errors == 1


def test_the_simulated_bureau_is_stable_and_says_what_it_was_told():
    bureau = SimulatedBureau(no_record_share=0.0)
    assert bureau.query(A, ON) == bureau.query(A, ON)
    told = Report("SIM-1", ON, 512, 4, 123_400, 3, Standing.OVERDUE)
    bureau.register(B, told)
    assert bureau.query(B, ON) == told
    bureau.register(C, None)
    assert bureau.query(C, ON) is None


def test_inline_queries_give_the_same_answers_and_report_failures():
    pooled = client(SimulatedBureau(no_record_share=0.0, failing={B}))
    inline = client(SimulatedBureau(no_record_share=0.0, failing={B}), workers=0)
    batch = [query(A), query(B), query(A), query(C)]
    assert inline.fetch_many(batch) == pooled.fetch_many(batch)
    assert (inline.stats.queries, inline.stats.errors, inline.stats.cost_fen) == (2, 1, 600)
    assert [r.cached for r in inline.fetch_many([query(A)])] == [True]
    pooled.close()
    inline.close()
