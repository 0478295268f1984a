"""The end-of-day batch's postings set-based (issue 21): the day's earned single premium as one
journal entry per product, the sum of each policy's earning by its own rules; claims opened
for exactly the policies at their trigger, with their reads made once for all of them; a
rerun posts nothing; and the API's batch and the simulator keep the day's snapshot. On
SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests import builders as b
from tests import support
from xinbao.batch.store import ParquetSnapshots
from xinbao.bootstrap import Container, bootstrap
from xinbao.claims import services as claims
from xinbao.claims.commands import FileClaim
from xinbao.claims.model import ClaimStatus, Exclusion
from xinbao.entrypoints.api.app import create_app
from xinbao.ledger import model as gl
from xinbao.ledger import services as ledger
from xinbao.loans.model import Loan
from xinbao.policy.model import Policy, PolicyStatus
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment, RunEndOfDay
from xinbao.simulation.identities import IdentityFactory
from xinbao.underwriting.model import CollateralKind, CollateralOffer

MARCH_END, APRIL_END = date(2025, 3, 31), date(2025, 4, 30)
_PEOPLE = IdentityFactory(21)


def _someone() -> str:
    """Another borrower's valid ID number (each borrower's cover is capped)."""
    return _PEOPLE.resident_id(born_between=(date(1975, 1, 1), date(1985, 12, 31)))


def _car(ref: str, **changes: object):
    return b.car_application(external_ref=ref, borrower_id_number=_someone(), **changes)


def _consumer(ref: str):
    return b.consumer_application(external_ref=ref, borrower_id_number=_someone())


def _mortgage(ref: str):
    """A house-backed loan on MORTGAGE-C: single premium earned pro rata."""
    return b.consumer_application(
        external_ref=ref, borrower_id_number=_someone(), product_code="MORTGAGE-C",
        amount_fen=20_000_000, term_months=24, annual_rate=Decimal("0.05"),
        collateral=CollateralOffer(CollateralKind.HOUSE, appraised_fen=100_000_000,
                                   city_tier=1))


@pytest.fixture
def book(decided_container: Container) -> tuple[Container, list[Policy]]:
    """Two car loans (CAR-G, Rule of 78), two mortgages (MORTGAGE-C, pro rata) and a
    consumer loan (installment premium: nothing to earn), all issued on START."""
    c = decided_container
    issued = [b.issued_policy(c.uow, _car("CAR-1")),
              b.issued_policy(c.uow, _car("CAR-2", amount_fen=8_000_000, term_months=36)),
              b.issued_policy(c.uow, _mortgage("HOME-1")),
              b.issued_policy(c.uow, _mortgage("HOME-2")),
              b.issued_policy(c.uow, _consumer("CONS-1"))]
    assert [p.product_code for p in issued] == ["CAR-G", "CAR-G", "MORTGAGE-C", "MORTGAGE-C",
                                                "CONSUMER-G"]
    return c, issued


def _policies(c: Container, ids: list[int]) -> dict[int, Policy]:
    with c.uow() as u:
        return {p.id: p for p in u.policies.get_many(ids)}


def _earning_entries(c: Container, on: date) -> dict[str, gl.JournalEntry]:
    """The day's EarnPremium entries of the batch, by product (from their keys)."""
    with c.uow() as u:
        found = [e for e in u.ledger.entries(reference=f"eod:{on.isoformat()}")
                 if e.source_command == "EarnPremium"]
    by_product = {e.idempotency_key.split(":")[2]: e for e in found}
    assert len(by_product) == len(found)  # one entry per product
    return by_product


def _released(entry: gl.JournalEntry) -> int:
    return sum(line.amount_fen for line in entry.lines
               if line.account == gl.UNEARNED_PREMIUM_RESERVE)


def test_the_month_close_posts_one_entry_per_product_with_the_sum_of_each_policys_earning(
        book):
    c, issued = book
    ids = [p.id for p in issued]
    for on in (MARCH_END, APRIL_END):
        before = _policies(c, ids)
        # what each policy earns by its own rules (Policy.earn, on the whole object)
        expected: dict[str, int] = {}
        for p in before.values():
            if p.single_premium_fen:
                expected[p.product_code] = (expected.get(p.product_code, 0)
                                            + p.earned_to(on) - p.earned_fen)
        assert set(expected) == {"CAR-G", "MORTGAGE-C"} and all(expected.values())

        report = servicing.run_end_of_day(RunEndOfDay(on), c.uow())

        entries = _earning_entries(c, on)
        assert {code: _released(e) for code, e in entries.items()} == expected
        assert report.premium_earned_fen == sum(expected.values())
        after = _policies(c, ids)
        for p in after.values():
            assert p.earned_fen == before[p.id].earned_to(on)
            assert p.status is PolicyStatus.IN_FORCE
        # only the earning changed: the borrower's ID number is still readable and the same
        assert all(after[i].borrower_id_number == before[i].borrower_id_number for i in ids)
    assert ledger.trial_balance(c.uow()).total == 0
    balance = ledger.trial_balance(c.uow()).balance(gl.UNEARNED_PREMIUM_RESERVE)
    singles = [p for p in _policies(c, ids).values() if p.single_premium_fen]
    assert balance == -sum(p.single_premium_fen - p.earned_fen for p in singles)


def test_running_the_month_close_again_posts_and_changes_nothing(book):
    c, issued = book
    servicing.run_end_of_day(RunEndOfDay(MARCH_END), c.uow())
    with c.uow() as u:
        entries, events = len(u.ledger.entries()), len(u.events.list())
    earned = {p.id: p.earned_fen for p in _policies(c, [p.id for p in issued]).values()}

    again = servicing.run_end_of_day(RunEndOfDay(MARCH_END), c.uow())

    assert (again.run, again.premium_earned_fen) == (2, 0)
    with c.uow() as u:
        assert (len(u.ledger.entries()), len(u.events.list())) == (entries, events)
    assert {p.id: p.earned_fen for p in _policies(c, list(earned)).values()} == earned


def test_a_loan_repaid_to_maturity_is_settled_and_its_earning_joins_the_products_entry(
        decided_container):
    c = decided_container
    car = b.issued_policy(c.uow, _car("CAR-1", term_months=12))
    other = b.issued_policy(c.uow, _car("CAR-2"))
    with c.uow() as u:
        loan, current = u.loans.get(car.loan_id), u.loans.get(other.loan_id)
    assert isinstance(loan, Loan) and isinstance(current, Loan)
    on = loan.maturity_date.replace(day=1) + timedelta(days=40)
    on = on.replace(day=1) - timedelta(days=1)  # the maturity month's last day
    for i in (*loan.installments, *(i for i in current.installments if i.due_date <= on)):
        servicing.record_repayment(RecordRepayment(
            i_loan := (loan.id if i in loan.installments else current.id), i.number,
            i.due_date, i.principal_fen, i.interest_fen, f"TX-{i_loan}-{i.number}"), c.uow())
    before = _policies(c, [car.id, other.id])

    report = servicing.run_end_of_day(RunEndOfDay(on), c.uow())

    after = _policies(c, [car.id, other.id])
    assert after[car.id].status is PolicyStatus.CLOSED
    assert after[car.id].earned_fen == car.single_premium_fen  # all of it, at maturity
    assert report.policies_expired == 1
    (entry,) = _earning_entries(c, on).values()
    assert _released(entry) == sum(after[i].earned_fen - before[i].earned_fen
                                   for i in (car.id, other.id))
    with c.uow() as u:
        # the settlement's per-policy entry is the refund's only (none at maturity)
        assert [e.source_command for e in u.ledger.entries(reference=f"policy:{car.id}")
                ] == ["IssuePolicy"]
    assert ledger.trial_balance(c.uow()).total == 0


def _count_claim_reads(c: Container) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM claims" in statement:
            seen.append(statement)

    event.listen(c.engine, "before_cursor_execute", record)
    return seen


def test_claims_open_for_exactly_the_policies_at_their_trigger_read_once_for_all(
        decided_container):
    c = decided_container
    unpaid = [b.issued_policy(c.uow, _consumer(f"LATE-{n}"))
              for n in range(3)]  # consumer: trigger 80 days
    car = b.issued_policy(c.uow, _car("CAR-1"))  # trigger 90 days
    paying = b.issued_policy(c.uow, _consumer("PAYS"))
    declined_before = b.issued_policy(c.uow, _consumer("EXCL"))
    with c.uow() as u:
        loan = u.loans.get(paying.loan_id)
    assert isinstance(loan, Loan)
    first = loan.installments[0]
    servicing.record_repayment(RecordRepayment(
        loan.id, 1, first.due_date, first.principal_fen, first.interest_fen, "TX-1"), c.uow())
    trigger_day = first.due_date + timedelta(days=80)
    refused = claims.file_claim(FileClaim(declined_before.id, trigger_day - timedelta(days=5),
                                          frozenset({Exclusion.INSURED_FRAUD})), c.uow())
    assert refused.status is ClaimStatus.DECLINED
    reads = _count_claim_reads(c)

    report = servicing.run_end_of_day(RunEndOfDay(trigger_day), c.uow())
    claim_reads = len(reads)

    with c.uow() as u:
        opened = {u.claims.get(i).policy_id for i in report.claims_opened}
        states = {p.id: p.status for p in u.policies.get_many(
            [p.id for p in (*unpaid, car, paying, declined_before)])}
    assert opened == {p.id for p in unpaid}
    assert report.claims_declined == []
    # Three reads for all the claims: the notices waiting for their trigger, the claims of
    # all the triggered policies at once, and claim anti-fraud's figures of the one month
    # their loans started in.
    assert claim_reads == 3
    with c.uow() as u:
        made = [u.claims.get(i) for i in report.claims_opened]
    # Never repaid: first-payment defaults, and the borrowers share the builders' phone and
    # bank card (an identity ring in the underwriting engine's graph): each referred to a
    # person, the policy in force until a person approves.
    assert {(m.status, m.referrals) for m in made} == {
        (ClaimStatus.UNDER_REVIEW, ("CLM-FRAUD-FPD", "CLM-FRAUD-RING"))}
    assert all(states[p.id] is PolicyStatus.IN_FORCE for p in unpaid)
    assert states[car.id] is states[paying.id] is states[declined_before.id] \
        is PolicyStatus.IN_FORCE

    again = servicing.run_end_of_day(RunEndOfDay(trigger_day), c.uow())
    car_day = servicing.run_end_of_day(RunEndOfDay(first.due_date + timedelta(days=90)),
                                       c.uow())

    assert (again.claims_opened, again.claims_declined) == ([], [])
    with c.uow() as u:
        assert [u.claims.get(i).policy_id for i in car_day.claims_opened] == [car.id]
        assert [cl.status for cl in u.claims.for_policy(declined_before.id)] == [
            ClaimStatus.DECLINED]
    assert ledger.trial_balance(c.uow()).total == 0


def test_the_api_batch_keeps_the_days_snapshot(database_url, tmp_path):
    c = bootstrap(support.settings(database_url, snapshot_dir=str(tmp_path / "snapshots")))
    c.risk = b.engine()
    b.seed(c.uow)
    policy = b.issued_policy(c.uow)
    on = MARCH_END
    token = support.api_token(c, "ops", ["finance", "risk_manager"])
    with TestClient(create_app(c)) as client:
        answer = client.post("/v1/batch/end-of-day", json={"on": on.isoformat()},
                             headers=support.bearer(token))
    assert answer.status_code == 200, answer.text
    taken = answer.json()["snapshot"]
    kept = ParquetSnapshots(tmp_path / "snapshots").read(on)
    assert kept is not None
    assert kept["loans"]["loan_id"].to_list() == [policy.loan_id]
    assert taken["on"] == on.isoformat() and taken["loans"] == 1
    assert sum(taken["by_bucket"].values()) == sum(taken["by_tier"].values()) == 1
    assert taken["overdue"] == 1  # nothing repaid: two installments past due on the 31st
    c.close()


def test_the_simulator_keeps_a_snapshot_at_each_month_end_and_on_its_last_day(
        database_url, tmp_path):
    from xinbao.batch import services as batch
    from xinbao.bootstrap import risk_engine
    from xinbao.config import Settings
    from xinbao.iam.model.security import system
    from xinbao.parameters import load_parameters, load_product_catalogue
    from xinbao.simulation.bureau import SimulatedBureau
    from xinbao.simulation.runner import run_market
    from xinbao.simulation.scenario import resolve_scenario

    c = bootstrap(support.settings(database_url))
    store = ParquetSnapshots(tmp_path / "snapshots")
    scenario = replace(resolve_scenario("base"), applications=80, months=2,
                       start=date(2025, 1, 10))
    bureau = SimulatedBureau()
    risk = risk_engine(Settings(models_dir="/nonexistent/models"), load_parameters(),
                       bureau_service=bureau)
    actor = system("simulator")
    result = run_market(scenario, lambda: c.uow(actor), load_product_catalogue(), engine=risk,
                        bureau=bureau, snapshot=lambda day: batch.snapshot_day(
                            c.uow(actor), store, day, c.classification, c.early_warning))

    days = sorted(p.name for p in store.root.iterdir() if p.name.startswith("date="))
    assert result.end == date(2025, 3, 9)
    assert days == ["date=2025-01-31", "date=2025-02-28", "date=2025-03-09"]
    assert result.snapshots == 3 and result.last_snapshot is not None
    last = store.read(result.end)
    assert last is not None
    assert result.last_snapshot.loans == last["loans"].height > 0
    c.close()
