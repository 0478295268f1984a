"""Concurrent approvals never take a portfolio limit past its cap.

Sixteen approvals race from eight threads, each its own connection and transaction, for
room enough for about four of them. On PostgreSQL they really run at once (the conditional
UPDATE waits on the counter's row lock and re-checks the cap); SQLite serializes writers.
Whatever the interleaving: the counter never passes its cap, it holds exactly the liability
of the approvals made, and a recount from the book agrees.
"""

from __future__ import annotations

import threading

import pytest

from tests import builders as b
from xinbao.bootstrap import Container
from xinbao.risk import approval
from xinbao.risk import services as decisions
from xinbao.risk.commands import ApproveApplication
from xinbao.risk.model import exposure
from xinbao.simulation.identities import IdentityFactory
from xinbao.underwriting import services as applications
from xinbao.underwriting.model import ApplicationStatus

APPLICANTS = 16
THREADS = 8
ROOM_FEN = 4 * 3_600_000 + 1_000_000  # four loans of 36,000 yuan and a bit


@pytest.fixture
def container(decided_container: Container) -> Container:
    return decided_container


def test_racing_approvals_never_overshoot_the_retained_liability_limit(container):
    from datetime import date

    ids = IdentityFactory(11)
    people = [ids.resident_id(born_between=(date(1975, 1, 1), date(1995, 1, 1)))
              for _ in range(APPLICANTS)]
    apps = [applications.submit_application(b.consumer_application(
        external_ref=f"C-{i}", borrower_id_number=n, borrower_phone=f"139000000{i:02d}"),
        container.uow()).id for i, n in enumerate(people)]
    # Set the limits up with one approval, then leave ROOM_FEN of the total.
    first = approval.approve_application(ApproveApplication(apps[0], b.START),
                                             container.uow(), container.risk)
    assert first.application.status is ApplicationStatus.APPROVED
    total = (exposure.RETAINED, "all")
    with container.uow() as u:
        counter = u.counters.get([total])[total]
        u.counters.reserve([total], counter.cap_fen - counter.used_fen - ROOM_FEN)
        u.commit()
    before = counter.cap_fen - ROOM_FEN

    start = threading.Barrier(THREADS)
    queue = list(apps[1:])
    lock = threading.Lock()
    results, errors = [], []

    def work() -> None:
        start.wait()
        while True:
            with lock:
                if not queue:
                    return
                app_id = queue.pop()
            try:
                results.append(approval.approve_application(
                    ApproveApplication(app_id, b.START), container.uow(), container.risk))
            except Exception as exc:  # noqa: BLE001 - any failure fails the test below
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    approved = [r for r in results if r.application.status is ApplicationStatus.APPROVED]
    taken = sum(r.decision.approved_fen for r in approved)  # coverage share 1
    with container.uow() as u:
        after = u.counters.get([total])[total]
    assert after.used_fen <= after.cap_fen
    assert after.used_fen - before == taken <= ROOM_FEN
    assert len(approved) >= 4 and taken > ROOM_FEN - 100_000  # the room was used, not lost
    declined = [r for r in results if r.application.status is ApplicationStatus.DECLINED]
    assert all("LIM-PORTFOLIO-APPETITE" in r.application.reason_codes for r in declined)
    # The recount from the book gives what the approvals reserved (less the filler).
    recount = decisions.refresh_limits(container.uow(), container.risk.params.limits, b.START)
    by_key = {(c.dimension, c.key): c.used_fen for c in recount}
    assert by_key[total] == first.decision.approved_fen + taken


def test_a_batch_takes_the_write_lock_only_after_every_application_is_assessed(container,
                                                                                 monkeypatch):
    """The first write of a decision batch (making the counters of new obligors) waits until
    every application of the batch is assessed: the lock a write takes (SQLite's one writer,
    the counters' rows on PostgreSQL) is held for the writes and the commit, not the
    deciding."""
    from datetime import date

    from sqlalchemy import event

    from xinbao.risk.commands import ApproveApplications
    from xinbao.risk.model import decision as rules

    ids = IdentityFactory(12)
    apps = [applications.submit_application(b.consumer_application(
        external_ref=f"W-{i}", borrower_phone=f"138000000{i:02d}",
        borrower_id_number=ids.resident_id(born_between=(date(1975, 1, 1),
                                                         date(1995, 1, 1)))),
        container.uow()).id for i in range(4)]
    approval.approve_application(ApproveApplication(apps.pop(), b.START), container.uow(),
                                     container.risk)  # the first decision sets the caps up
    seen: list[str] = []

    def statement(conn, cursor, text, params, context, executemany) -> None:
        seen.append(text.split(None, 1)[0].upper())

    assess = rules.assess

    def assessing(*args, **kwargs):
        seen.append("assess")
        return assess(*args, **kwargs)

    monkeypatch.setattr(rules, "assess", assessing)
    event.listen(container.engine, "before_cursor_execute", statement)
    try:
        results = approval.approve_applications(ApproveApplications(tuple(apps), b.START),
                                                    container.uow(), container.risk)
    finally:
        event.remove(container.engine, "before_cursor_execute", statement)
    assert all(r.application.status is ApplicationStatus.APPROVED for r in results)
    first_write = next(i for i, s in enumerate(seen) if s in ("INSERT", "UPDATE", "DELETE"))
    assert seen.count("assess") == 3
    assert "assess" not in seen[first_write:]
    assert seen[first_write] == "INSERT"  # the new obligors' counters


def test_new_counters_are_inserted_in_key_order(container):
    """Two transactions making the same new counters in opposite orders could deadlock on
    PostgreSQL (each waiting for a row the other inserted): rows always go in key order, the
    total first, as reservations do."""
    from sqlalchemy import event

    from xinbao.risk.model.exposure import Counter

    sent: list[list[tuple[str, str]]] = []

    def statement(conn, cursor, text, params, context, executemany) -> None:
        if text.lstrip().upper().startswith("INSERT INTO RISK_COUNTERS"):
            rows = params if executemany else [params]
            if isinstance(rows[0], dict):
                sent.append([(r["dimension"], r["key"]) for r in rows])
            else:  # positional parameters: dimension and key come first
                sent.append([(r[0], r[1]) for r in rows])

    wanted = [Counter("region", "440300", 9, 0), Counter("funder", "BANK-Z", 9, 0),
              Counter("region", "110100", 9, 0), Counter("retained", "all", 9, 0)]
    event.listen(container.engine, "before_cursor_execute", statement)
    try:
        with container.uow() as u:
            u.counters.ensure(wanted, basis_fen=100, on=b.START)
            u.commit()
    finally:
        event.remove(container.engine, "before_cursor_execute", statement)
    assert sent == [[("retained", "all"), ("funder", "BANK-Z"), ("region", "110100"),
                     ("region", "440300")]]


def test_a_funders_risk_share_leaves_the_rest_retained_and_a_recount_agrees(container):
    from datetime import date
    from decimal import Decimal

    from xinbao.catalogue import services as catalogue
    from xinbao.catalogue.commands import AmendAgreement

    catalogue.amend_agreement(AmendAgreement("BANK-A", on=date(2024, 12, 31),
                                             risk_share=Decimal("0.25")), container.uow())
    person = IdentityFactory(12).resident_id(born_between=(date(1975, 1, 1),
                                                           date(1995, 1, 1)))
    app = applications.submit_application(b.consumer_application(
        external_ref="RS-1", borrower_id_number=person), container.uow())
    made = approval.approve_application(ApproveApplication(app.id, b.START),
                                        container.uow(), container.risk)
    assert made.application.status is ApplicationStatus.APPROVED
    key = (exposure.FUNDER, "BANK-A")
    with container.uow() as u:
        used = u.counters.get([key])[key].used_fen
    # BANK-A's first approval: its counter holds the 75 % the insurer retains of it.
    assert used == exposure.retained_fen(made.policy.principal_insured_fen, Decimal("0.75"))
    recount = decisions.refresh_limits(container.uow(), container.risk.params.limits,
                                       b.START)
    assert {(c.dimension, c.key): c.used_fen for c in recount}[key] == used
