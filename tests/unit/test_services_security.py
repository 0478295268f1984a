"""Permissions, tenants, four-eyes and accounts, enforced by the use cases themselves (on
the in-memory unit of work: no route in sight)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests import builders as b
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.claims import services as claims
from xinbao.claims.commands import ApproveClaim, FileClaim, PayClaim
from xinbao.iam import services as accounts
from xinbao.iam.credentials import Argon2JwtCredentials
from xinbao.iam.model.accounts import MAX_FAILED_LOGINS, SESSION_IDLE
from xinbao.iam.model.security import Forbidden, Principal, Role, Unauthenticated
from xinbao.kernel.errors import DomainError, InvalidInput, NotFound
from xinbao.ledger import services as ledger
from xinbao.ledger.commands import InjectCapital, ReverseEntry
from xinbao.platform.crypto import PasswordHasher, TokenSigner
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RunEndOfDay
from xinbao.underwriting import queries as application_queries
from xinbao.underwriting import services as applications
from xinbao.underwriting.model import ApplicationStatus

NOW = datetime(2025, 3, 1, 9, 0)
PASSWORD = "correct horse battery"


@pytest.fixture
def store() -> Store:
    s = Store()
    b.seed(lambda: InMemoryUnitOfWork(s), funders=(b.bank(), b.bank("BANK-B")))
    return s


def acting(store: Store, principal: Principal):
    return lambda: InMemoryUnitOfWork(store, actor=principal)


def system_uow(store: Store):
    return lambda: InMemoryUnitOfWork(store)


def user(name: str, *roles: Role, funder_id: int | None = None) -> Principal:
    return Principal("user", name, frozenset(roles), funder_id)


def funder_id(store: Store, code: str) -> int:
    with InMemoryUnitOfWork(store) as u:
        return u.funders.get_by_code(code).id


def test_a_funder_reads_its_own_application_and_never_another_funders(store):
    a_id, b_id = funder_id(store, "BANK-A"), funder_id(store, "BANK-B")
    mine = applications.submit_application(b.consumer_application(), system_uow(store)())
    theirs = applications.submit_application(
        b.consumer_application(funder_code="BANK-B"), system_uow(store)())
    bank_a = acting(store, Principal("client", "bank-a", frozenset({Role.FUNDER}), a_id))
    assert application_queries.get_application(bank_a(), mine.id).id == mine.id
    with pytest.raises(NotFound, match="application"):
        application_queries.get_application(bank_a(), theirs.id)
    bank_b = acting(store, Principal("client", "bank-b", frozenset({Role.FUNDER}), b_id))
    found = application_queries.find_applications(bank_b(), id_number=b.RESIDENT_ID_2)
    assert [a.id for a in found] == [theirs.id]


def test_a_funder_cannot_submit_under_another_funders_code(store):
    bank_a = acting(store, Principal("client", "bank-a", frozenset({Role.FUNDER}),
                                     funder_id(store, "BANK-A")))
    with pytest.raises(InvalidInput, match="unknown funder 'BANK-B'"):
        applications.submit_application(b.consumer_application(funder_code="BANK-B"),
                                        bank_a())
    with InMemoryUnitOfWork(store) as u:
        assert u.applications.count() == 0


def test_an_auditor_reads_but_cannot_submit(store):
    auditor = acting(store, user("audit.one", Role.AUDITOR))
    with pytest.raises(Forbidden, match="application.submit"):
        applications.submit_application(b.consumer_application(), auditor())


def test_the_applications_waiting_for_a_decision_are_listed_within_the_tenant(store):
    a_app = applications.submit_application(b.consumer_application(), system_uow(store)())
    b_app = applications.submit_application(b.consumer_application(funder_code="BANK-B"),
                                            system_uow(store)())
    staff = acting(store, user("zhang.uw", Role.UNDERWRITER))
    assert approval.waiting_for_decision(staff(), applied_by=b.START) == [a_app.id,
                                                                               b_app.id]
    assert approval.waiting_for_decision(staff(), applied_by=b.START,
                                             funder_code="BANK-B") == [b_app.id]
    assert approval.waiting_for_decision(
        staff(), applied_by=b.START - timedelta(days=1)) == []
    bound = acting(store, user("bank.a.uw", Role.UNDERWRITER,
                               funder_id=funder_id(store, "BANK-A")))
    assert approval.waiting_for_decision(bound(), applied_by=b.START) == [a_app.id]
    with pytest.raises(NotFound):
        approval.waiting_for_decision(bound(), applied_by=b.START, funder_code="BANK-B")
    with pytest.raises(Forbidden, match="application.approve"):
        approval.waiting_for_decision(acting(store, user("audit.one", Role.AUDITOR))(),
                                          applied_by=b.START)


def test_an_underwriter_approves_cover_only_up_to_the_authority_limit(store):
    big = applications.submit_application(
        b.car_application(amount_fen=30_000_000, external_ref="BIG"), system_uow(store)())
    with pytest.raises(Forbidden, match="authority limit"):
        approval.approve_application(ApproveApplication(big.id, b.START),
                                         acting(store, user("zhang.uw", Role.UNDERWRITER))(),
                                         b.engine())
    decided = approval.approve_application(
        ApproveApplication(big.id, b.START),
        acting(store, user("chen.boss", Role.UNDERWRITING_APPROVER))(), b.engine())
    assert decided.application.status is ApplicationStatus.APPROVED


def test_whoever_keyed_an_application_in_cannot_approve_it(store):
    keyer = user("zhang.uw", Role.UNDERWRITER)
    app = applications.submit_application(b.consumer_application(), acting(store, keyer)())
    with pytest.raises(Forbidden, match="four-eyes"):
        approval.approve_application(ApproveApplication(app.id, b.START),
                                         acting(store, keyer)(), b.engine())
    other = user("li.uw", Role.UNDERWRITER)
    assert approval.approve_application(
        ApproveApplication(app.id, b.START), acting(store, other)(),
        b.engine()).application.status is ApplicationStatus.APPROVED


def _claimable(store: Store):
    return _claimable_on(system_uow(store))


def _claimable_on(factory):
    policy = b.issued_policy(factory)
    with factory() as u:
        loan = u.loans.get(policy.loan_id)
    return policy, loan.installments[0].due_date + timedelta(days=95)


def test_the_adjuster_who_files_a_claim_cannot_pay_it_but_a_colleague_can(store):
    policy, on = _claimable(store)
    maker = user("wu.adj", Role.CLAIMS_ADJUSTER)
    claim = claims.file_claim(FileClaim(policy.id, on), acting(store, maker)())
    assert claim.amount_fen <= 5_000_000  # within an adjuster's limit: only four-eyes refuses
    with pytest.raises(Forbidden, match="four-eyes"):
        claims.pay_claim(PayClaim(claim.id, on), acting(store, maker)())
    # A first-payment default: referred to a person, who approves; the maker may not.
    with pytest.raises(Forbidden, match="four-eyes"):
        claims.approve_claim(ApproveClaim(claim.id, on), acting(store, maker)())
    approver = user("li.app", Role.CLAIMS_APPROVER)
    claims.approve_claim(ApproveClaim(claim.id, on), acting(store, approver)())
    with pytest.raises(Forbidden, match="four-eyes"):
        claims.pay_claim(PayClaim(claim.id, on), acting(store, approver)())
    paid = claims.pay_claim(PayClaim(claim.id, on),
                            acting(store, user("sun.adj", Role.CLAIMS_ADJUSTER))())
    assert paid.paid_on == on


def test_the_batch_needs_batch_run_and_records_its_actor(sqlite_uow):
    # On SQLite: the batch's set questions are answered in SQL only.
    b.seed(sqlite_uow, funders=(b.bank(), b.bank("BANK-B")))
    _, on = _claimable_on(sqlite_uow)
    with pytest.raises(Forbidden):
        servicing.run_end_of_day(RunEndOfDay(on), sqlite_uow(user("x.uw", Role.UNDERWRITER)))
    finance = user("qian.fin", Role.FINANCE)
    report = servicing.run_end_of_day(RunEndOfDay(on), sqlite_uow(finance))
    assert report.claims_opened
    with sqlite_uow() as u:
        makers = u.events.makers("claim", [report.claims_opened[0]], ["ClaimNotified"])
    assert makers == {report.claims_opened[0]: {"user:qian.fin"}}


@pytest.fixture
def creds() -> Argon2JwtCredentials:
    return Argon2JwtCredentials(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),
                                TokenSigner({"t1": b"k" * 32}, "t1"))


def _with_user(store, creds):
    accounts.add_user(accounts.AddUser("li.na", "李娜", PASSWORD, ["claims_approver"]),
                      system_uow(store)(), creds, now=NOW)


def test_a_user_logs_in_and_the_session_carries_their_roles(store, creds):
    _with_user(store, creds)
    session = accounts.login("li.na", PASSWORD, system_uow(store)(), creds, now=NOW)
    active = accounts.resolve_session(session.token, system_uow(store)(),
                                      now=NOW + timedelta(minutes=5))
    assert active.principal.roles == {Role.CLAIMS_APPROVER}
    assert active.csrf_token == session.csrf_token
    with pytest.raises(Unauthenticated):
        accounts.resolve_session(session.token, system_uow(store)(),
                                 now=NOW + timedelta(minutes=5) + SESSION_IDLE)


def test_repeated_wrong_passwords_lock_the_account_even_against_the_right_one(store, creds):
    _with_user(store, creds)
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(Unauthenticated, match="invalid credentials"):
            accounts.login("li.na", "wrong password!", system_uow(store)(), creds, now=NOW)
    with pytest.raises(Unauthenticated, match="invalid credentials"):
        accounts.login("li.na", PASSWORD, system_uow(store)(), creds, now=NOW)
    later = NOW + timedelta(minutes=16)
    assert accounts.login("li.na", PASSWORD, system_uow(store)(), creds, now=later).token
    with InMemoryUnitOfWork(store) as u:
        names = [r.name for r in u.events.records()]
    assert names.count("LoginFailed") == MAX_FAILED_LOGINS - 1
    assert "AccountLocked" in names and "LoginRefused" in names


def test_an_unknown_user_gets_the_same_answer_and_is_recorded(store, creds):
    with pytest.raises(Unauthenticated, match="^invalid credentials$"):
        accounts.login("nobody", PASSWORD, system_uow(store)(), creds, now=NOW)
    with InMemoryUnitOfWork(store) as u:
        assert [r.name for r in u.events.records()][-1] == "LoginFailed"


def test_weak_passwords_and_bad_roles_are_refused_by_rule(store, creds):
    with pytest.raises(DomainError, match="SEC-PASSWORD-LENGTH"):
        accounts.add_user(accounts.AddUser("li.na", "李娜", "short", ["auditor"]),
                          system_uow(store)(), creds, now=NOW)
    with pytest.raises(DomainError, match="SEC-ROLE"):
        accounts.add_user(accounts.AddUser("li.na", "李娜", PASSWORD, ["funder"]),
                          system_uow(store)(), creds, now=NOW)
    with pytest.raises(Forbidden):
        accounts.add_user(accounts.AddUser("li.na", "李娜", PASSWORD, ["auditor"]),
                          acting(store, user("x", Role.FINANCE))(), creds, now=NOW)


def test_a_rotated_client_secret_works_through_its_grace_period_only(store, creds):
    client, old = accounts.add_client(accounts.AddClient("bank-a-api", "Bank A", ["funder"],
                                                         "BANK-A"),
                                      system_uow(store)(), creds, now=NOW)
    _, new = accounts.rotate_client_secret("bank-a-api", system_uow(store)(), creds, now=NOW)
    for secret in (old, new):
        assert accounts.issue_token("bank-a-api", secret, system_uow(store)(), creds,
                                    now=NOW + timedelta(hours=23)).token
    with pytest.raises(Unauthenticated):
        accounts.issue_token("bank-a-api", old, system_uow(store)(), creds,
                             now=NOW + timedelta(hours=25))
    token = accounts.issue_token("bank-a-api", new, system_uow(store)(), creds, now=NOW).token
    principal = accounts.resolve_token(token, system_uow(store)(), creds,
                                       now=NOW + timedelta(minutes=1))
    assert principal.funder_id == funder_id(store, "BANK-A") and client.client_id == "bank-a-api"
    accounts.set_client_active("bank-a-api", False, system_uow(store)(), now=NOW)
    with pytest.raises(Unauthenticated):
        accounts.resolve_token(token, system_uow(store)(), creds, now=NOW + timedelta(minutes=1))
    with pytest.raises(Unauthenticated):
        accounts.resolve_token(token, system_uow(store)(), creds, now=NOW + timedelta(minutes=16))


def test_manual_postings_are_bounded_by_authority_and_recorded_with_who_and_why(store):
    finance = acting(store, user("qian.fin", Role.FINANCE))
    with pytest.raises(Forbidden, match="authority limit"):
        ledger.inject_capital(InjectCapital(1_000_000_001, b.START, "CAP-BIG"), finance())
    entry = ledger.inject_capital(InjectCapital(50_000_000, b.START, "CAP-1"), finance())
    ledger.inject_capital(InjectCapital(50_000_000, b.START, "CAP-1"), finance())  # a retry
    reversal = ledger.reverse_entry(ReverseEntry(entry.id, b.START, "keyed twice", "REV-1"),
                                    finance())
    with InMemoryUnitOfWork(store) as u:
        records = [r for r in u.events.records() if r.aggregate == "journal_entry"
                   and r.actor != "system:operator"]  # the test seed's capital
    assert [(r.name, r.aggregate_id, r.actor) for r in records] == [
        ("CapitalInjected", entry.id, "user:qian.fin"),
        ("EntryReversed", reversal.id, "user:qian.fin")]
    assert records[1].data == {"reverses": entry.id, "reason": "keyed twice"}
