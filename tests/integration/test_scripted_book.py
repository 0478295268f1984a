"""The scripted book runs the whole lifecycle through the services on every backend and
always gives the same figures for the same seed."""

from __future__ import annotations

import pytest

from xinbao.adapters.database import create_db_engine
from xinbao.adapters.memory import InMemoryUnitOfWork, Store
from xinbao.adapters.parameters import load_product_catalogue
from xinbao.adapters.unit_of_work import SqlUnitOfWork
from xinbao.domain.claims import ClaimStatus
from xinbao.services import reporting
from xinbao.simulation.scripted_book import BookConfig, run_book

CONFIG = BookConfig(loans=40, months=9, seed=11, default_multiplier=3.0)


def _figures(factory) -> tuple:
    k = reporting.portfolio_kpis(factory())
    return (k.applications, k.policies_by_status, k.statement, dict(k.trial_balance.balances))


@pytest.fixture(scope="module")
def memory_book():
    store = Store()
    factory = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    result = run_book(factory, load_product_catalogue(), CONFIG)
    return result, _figures(factory), factory


def test_the_book_exercises_every_stage_and_balances(memory_book):
    result, (applications, by_status, statement, balances), factory = memory_book
    assert result.applications == applications == CONFIG.loans
    assert result.policies > 0 and result.declined > 0
    assert result.claims_opened > 0 and result.claims_paid > 0 and result.recoveries > 0
    assert result.prepayments > 0
    assert sum(balances.values()) == 0
    assert statement.written_premium_fen > statement.earned_premium_fen > 0
    assert statement.claims_paid_fen > 0 and statement.recoveries_fen > 0
    with factory() as u:
        paid = [c for p in u.policies.list_by_status(by_status)
                for c in u.claims.for_policy(p.id)
                if c.status in (ClaimStatus.PAID, ClaimStatus.CLOSED)]
    assert sum(c.amount_fen for c in paid) == statement.claims_paid_fen
    assert sum(c.recovered_fen for c in paid) == statement.recoveries_fen


def test_a_sql_database_gives_the_same_figures_as_the_in_memory_fake(memory_book,
                                                                      database_url):
    engine = create_db_engine(database_url)
    run_book(lambda: SqlUnitOfWork(engine), load_product_catalogue(), CONFIG)
    assert _figures(lambda: SqlUnitOfWork(engine)) == memory_book[1]
    engine.dispose()


def test_the_same_seed_gives_the_same_book_and_another_seed_another(memory_book):
    store = Store()
    run_book(lambda: InMemoryUnitOfWork(store), load_product_catalogue(), CONFIG)
    assert _figures(lambda: InMemoryUnitOfWork(store)) == memory_book[1]
    other = Store()
    run_book(lambda: InMemoryUnitOfWork(other), load_product_catalogue(),
             BookConfig(loans=40, months=9, seed=12, default_multiplier=3.0))
    assert _figures(lambda: InMemoryUnitOfWork(other)) != memory_book[1]
