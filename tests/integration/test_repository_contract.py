"""One contract for every unit of work: the in-memory fake, SQLite and PostgreSQL.

The use cases only know the protocol, so the fake used by unit tests must behave like the
SQL adapters; these tests hold all three to the same behaviour.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import DBAPIError

from tests import builders as b
from tests import support
from tests.conftest import BACKENDS, provision
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.catalogue.model.agreements import Agreement
from xinbao.catalogue.model.parties import (
    Borrower,
    Funder,
    FunderKind,
    InsuranceMode,
    PolicyRole,
    Roles,
)
from xinbao.catalogue.model.products import PremiumBasis, RefundMethod, RepaymentMethod
from xinbao.claims.model import Claim, ClaimStatus, Recovery
from xinbao.compliance.repository import AuditFilter
from xinbao.kernel.audit import verify
from xinbao.kernel.errors import Conflict
from xinbao.kernel.events import Event
from xinbao.kernel.paging import PageRequest
from xinbao.ledger import model as ledger
from xinbao.ledger.repository import EntryFilter
from xinbao.loans.model import Loan, LoanStatus, Repayment
from xinbao.platform.database import create_db_engine
from xinbao.platform.repository import StoredResponse
from xinbao.policy.model import Policy, PolicyStatus
from xinbao.reporting.repository import PolicyFigures
from xinbao.risk.model.decision import DecisionRecord, Outcome, Review
from xinbao.risk.model.exposure import Counter
from xinbao.sql_unit_of_work import SqlUnitOfWork
from xinbao.underwriting.model import (
    Application,
    ApplicationStatus,
    CollateralKind,
    CollateralOffer,
    Evidence,
    EvidenceKind,
    Profile,
)


@pytest.fixture(params=[pytest.param("memory", id="memory"), *BACKENDS])
def uow_factory(request: pytest.FixtureRequest, tmp_path):
    if request.param == "memory":
        store = Store()
        yield lambda: InMemoryUnitOfWork(store)
        return
    with provision(request.param, request, tmp_path) as url:
        engine = create_db_engine(url)
        yield lambda: SqlUnitOfWork(engine, cipher=support.cipher())
        engine.dispose()


def _funder(uow_factory) -> Funder:
    with uow_factory() as u:
        f = u.funders.add(Funder(code="BANK-A", name="Bank", credit_code=b.CREDIT_CODE_BANK,
                                 kind=FunderKind.BANK, licensed=True,
                                 commission_rate=Decimal("0.125"),
                                 products=("CONSUMER-G", "SME-C")))
        u.commit()
    return f


def _application(funder_id: int, ref: str = "A-1") -> Application:
    borrower = Borrower.individual(name="张三", id_number=b.RESIDENT_ID, phone=b.PHONE,
                                   bank_card=b.BANK_CARD)
    return Application(
        funder_id=funder_id, product_code="CONSUMER-G", product_version=1,
        mode=InsuranceMode.GUARANTEE, borrower=borrower,
        roles=Roles(PolicyRole.DEBTOR, PolicyRole.CREDITOR), amount_fen=1_000_000,
        term_months=6, annual_rate=Decimal("0.1234"),
        repayment_method=RepaymentMethod.EQUAL_PRINCIPAL, applied_on=date(2025, 2, 28),
        external_ref=ref)


def _seeded(uow_factory) -> tuple[Funder, Application]:
    for cmd in b.products().values():
        from xinbao.catalogue import services as catalogue

        catalogue.register_product(cmd, uow_factory())
    funder = _funder(uow_factory)
    with uow_factory() as u:
        app = u.applications.add(_application(funder.id))
        u.commit()
    return funder, app


def test_products_round_trip_with_versions_and_exact_rates(uow_factory):
    from xinbao.catalogue import services as catalogue

    cmd = b.products()["MORTGAGE-C"]
    v1 = catalogue.register_product(cmd, uow_factory())
    v2 = catalogue.register_product(replace(cmd, monthly_premium_rate=Decimal("0.00123"),
                                            effective_from=date(2025, 6, 1)), uow_factory())
    with uow_factory() as u:
        assert u.products.get("MORTGAGE-C", 1) == v1
        assert u.products.get("MORTGAGE-C", 2) == v2
        assert [p.version for p in u.products.versions("MORTGAGE-C")] == [1, 2]
        assert u.products.list_latest() == [v2]
        assert u.products.get("MORTGAGE-C", 3) is None
    assert v2.monthly_premium_rate == Decimal("0.00123")


def test_funders_round_trip_and_codes_are_unique(uow_factory):
    funder = _funder(uow_factory)
    with uow_factory() as u:
        assert u.funders.get(funder.id).commission_rate == Decimal("0.125")
        assert u.funders.get_by_code("BANK-A").id == funder.id
        assert [f.code for f in u.funders.list()] == ["BANK-A"]
        assert u.funders.get_by_code("NOPE") is None


def test_agreement_versions_are_appended_and_the_funders_terms_saved(uow_factory):
    funder = _funder(uow_factory)
    v1 = Agreement("BANK-A", 1, date(2025, 1, 1), ("CONSUMER-G", "SME-C"), Decimal("0.125"))
    v2 = Agreement("BANK-A", 2, date(2025, 3, 1), ("SME-C",), Decimal("0.05"),
                   volume_share=Decimal("0.4"), risk_share=Decimal("0.1"), settlement_days=15,
                   file_format="jsonl")
    with uow_factory() as u:
        u.funders.add_agreement(funder.id, v1)
        u.funders.add_agreement(funder.id, v2)
        funder.adopt(v2, on=date(2025, 3, 1))
        u.funders.save(funder)
        u.commit()
    with uow_factory() as u:
        assert u.funders.agreements(funder.id) == [v1, v2]
        assert u.funders.agreements() == [v1, v2]
        saved = u.funders.get(funder.id)
        assert (saved.products, saved.commission_rate) == (("SME-C",), Decimal("0.05"))
        assert [e.name for e in u.events.list(aggregate="funder")] == ["AgreementAmended"]


def test_applications_round_trip_with_borrower_and_roles(uow_factory):
    funder, app = _seeded(uow_factory)
    with uow_factory() as u:
        loaded = u.applications.get(app.id)
        assert u.applications.get_by_external_ref(funder.id, "A-1").id == app.id
        assert u.applications.count() == 1
    assert loaded.borrower == app.borrower
    assert loaded.borrower.birth_date == date(1949, 12, 31)
    assert loaded.roles == app.roles and loaded.annual_rate == Decimal("0.1234")
    assert loaded.status is ApplicationStatus.SUBMITTED


def test_applications_waiting_for_a_decision_by_date_and_funder(uow_factory):
    funder, first = _seeded(uow_factory)
    with uow_factory() as u:
        later = u.applications.add(replace(_application(funder.id, "A-2"),
                                           applied_on=date(2025, 3, 5)))
        decided = u.applications.add(_application(funder.id, "A-3"))
        decided.status, decided.decided_on = ApplicationStatus.DECLINED, date(2025, 3, 1)
        u.applications.save(decided)
        u.commit()
    with uow_factory() as u:
        assert u.applications.waiting(applied_by=date(2025, 3, 1)) == [first.id]
        assert u.applications.waiting(applied_by=date(2025, 3, 5),
                                      funder_id=funder.id) == [first.id, later.id]
        assert u.applications.waiting(applied_by=date(2025, 2, 27)) == []
        assert u.applications.waiting(applied_by=date(2025, 3, 5), funder_id=funder.id + 1) == []


def test_a_list_of_applications_filters_sorts_and_pages_with_its_total(uow_factory):
    from xinbao.kernel.paging import PageRequest
    from xinbao.underwriting.repository import ApplicationFilter

    funder, first = _seeded(uow_factory)  # 10,000 yuan applied 2025-02-28, submitted
    with uow_factory() as u:
        large = u.applications.add(replace(_application(funder.id, "A-2"),
                                           amount_fen=5_000_000, applied_on=date(2025, 3, 5)))
        declined = u.applications.add(replace(_application(funder.id, "A-3"),
                                              amount_fen=2_000_000))
        declined.status = ApplicationStatus.DECLINED
        u.applications.save(declined)
        u.commit()

    def ids(where: ApplicationFilter, sort: str = "id", descending: bool = False,
            offset: int = 0, size: int = 10) -> tuple[list[int], int]:
        with uow_factory() as u:
            page = u.applications.page(where, PageRequest(sort, descending, offset, size))
            return [a.id for a in page.items], page.total

    everything = ApplicationFilter()
    assert ids(everything) == ([first.id, large.id, declined.id], 3)
    assert ids(everything, "amount", True) == ([large.id, declined.id, first.id], 3)
    assert ids(everything, "date", False, 1, 1) == ([declined.id], 3)  # ties by id
    assert ids(everything, "status", True) == ([large.id, first.id, declined.id], 3)
    assert ids(ApplicationFilter(status=ApplicationStatus.DECLINED)) == ([declined.id], 1)
    assert ids(ApplicationFilter(min_fen=2_000_000, max_fen=4_999_999)) == ([declined.id], 1)
    assert ids(ApplicationFilter(applied_from=date(2025, 3, 1),
                                 applied_to=date(2025, 3, 5))) == ([large.id], 1)
    assert ids(ApplicationFilter(product_code="CONSUMER-G", funder_id=funder.id))[1] == 3
    assert ids(ApplicationFilter(funder_id=funder.id + 1)) == ([], 0)
    assert ids(ApplicationFilter(product_code="SME-C")) == ([], 0)


def test_rows_added_together_get_their_own_ids_in_order(uow_factory):
    funder, first = _seeded(uow_factory)
    refs = [f"M-{i}" for i in range(7)]
    with uow_factory() as u:
        added = u.applications.add_many([replace(_application(funder.id, ref),
                                                 amount_fen=1_000_000 + i)
                                         for i, ref in enumerate(refs)])
        policies = u.policies.add_many([replace(_policy(a, funder.id),
                                                principal_insured_fen=a.amount_fen) for a in added])
        u.commit()
    ids = [a.id for a in added]
    assert ids == sorted(ids) and len(set(ids)) == 7 and first.id not in ids
    with uow_factory() as u:
        for a, p in zip(added, policies, strict=True):
            assert u.applications.get(a.id).external_ref == a.external_ref
            loaded = u.policies.get(p.id)
            assert (loaded.application_id, loaded.principal_insured_fen) == (a.id, a.amount_fen)


def test_changes_are_invisible_until_saved_and_committed(uow_factory):
    _, app = _seeded(uow_factory)
    with uow_factory() as u:
        loaded = u.applications.get(app.id)
        loaded.status = ApplicationStatus.APPROVED
        loaded.reason_codes = ("X",)
        u.applications.save(loaded)
        # no commit: leaving the block rolls back
    with uow_factory() as u:
        assert u.applications.get(app.id).status is ApplicationStatus.SUBMITTED
        loaded = u.applications.get(app.id)
        loaded.status = ApplicationStatus.DECLINED
        loaded.reason_codes = ("UW-AMOUNT-RANGE",)
        loaded.decided_on = date(2025, 3, 1)
        u.applications.save(loaded)
        u.commit()
    with uow_factory() as u:
        again = u.applications.get(app.id)
    assert (again.status, again.reason_codes, again.decided_on) == (
        ApplicationStatus.DECLINED, ("UW-AMOUNT-RANGE",), date(2025, 3, 1))


def _loan(funder_id: int) -> Loan:
    return Loan.disburse(funder_id=funder_id, contract_no="LN-1", principal_fen=1_000_000,
                         annual_rate=Decimal("0.1234"), term_months=6,
                         method=RepaymentMethod.EQUAL_PRINCIPAL, start=date(2025, 2, 28))


def test_loans_keep_their_schedule_and_repayments_their_references(uow_factory):
    funder, _ = _seeded(uow_factory)
    with uow_factory() as u:
        loan = u.loans.add(_loan(funder.id))
        r = u.repayments.add(Repayment(loan.id, 1, date(2025, 3, 28), 166_667, 10_283), "TX-1")
        u.commit()
    with uow_factory() as u:
        loaded = u.loans.get(loan.id)
        assert loaded.installments == loan.installments
        assert u.loans.get_by_contract(funder.id, "LN-1").id == loan.id
        assert u.repayments.for_loan(loan.id) == [r]
        assert u.repayments.get_by_reference(loan.id, "TX-1") == r
        assert u.repayments.get_by_reference(loan.id, "TX-2") is None
        loaded.status = LoanStatus.PAID_OFF
        u.loans.save(loaded)
        u.commit()
    with uow_factory() as u:
        assert u.loans.get(loan.id).status is LoanStatus.PAID_OFF


def test_loans_are_saved_together_only_if_each_is_still_in_the_state_it_was_read_in(
        uow_factory):
    funder, _ = _seeded(uow_factory)
    with uow_factory() as u:
        first, second = (u.loans.add(replace(_loan(funder.id), contract_no=f"LN-{n}"))
                         for n in (1, 2))
        u.commit()
    with uow_factory() as u:
        loans = [u.loans.get(first.id), u.loans.get(second.id)]
        for loan in loans:
            loan.pay_off()
        assert u.loans.save_all_if_status(loans, LoanStatus.ACTIVE)
        assert u.loans.save_all_if_status([], LoanStatus.ACTIVE)
        u.commit()
    with uow_factory() as u:
        assert {u.loans.get(i).status for i in (first.id, second.id)} == {LoanStatus.PAID_OFF}
        again = u.loans.get(first.id)
        again.status = LoanStatus.CLAIMED
        # stored as paid off, not active: refused, nothing written
        assert not u.loans.save_all_if_status([again], LoanStatus.ACTIVE)
    with uow_factory() as u:
        assert u.loans.get(first.id).status is LoanStatus.PAID_OFF


def _policy(app: Application, funder_id: int) -> Policy:
    return Policy(
        application_id=app.id, product_code="CONSUMER-G", product_version=1,
        mode=InsuranceMode.GUARANTEE, funder_id=funder_id, borrower_id_number=b.RESIDENT_ID,
        policyholder=PolicyRole.DEBTOR, insured=PolicyRole.CREDITOR,
        principal_insured_fen=1_000_000,
        coverage_share=Decimal("0.9"), premium_basis=PremiumBasis.SINGLE,
        monthly_premium_rate=Decimal("0.0031"), refund_method=RefundMethod.RULE_OF_78,
        term_months=6, single_premium_fen=18_600, installment_premium_fen=0,
        quoted_on=date(2025, 2, 28))


def test_policies_round_trip_every_field_and_record_their_events(uow_factory):
    funder, app = _seeded(uow_factory)
    with uow_factory() as u:
        loan = u.loans.add(_loan(funder.id))
        policy = u.policies.add(_policy(app, funder.id))
        policy.issue(on=date(2025, 2, 28), start=date(2025, 2, 28), loan_id=loan.id, interest_fen=0)
        policy.come_into_force(date(2025, 2, 28))
        policy.earned_fen = 1234
        u.policies.save(policy)
        u.commit()
    with uow_factory() as u:
        loaded = u.policies.get(policy.id)
        assert u.policies.get_by_loan(loan.id).id == policy.id
        assert u.policies.get_by_application(app.id).id == policy.id
        assert [p.id for p in u.policies.list_by_status([PolicyStatus.IN_FORCE])] == [policy.id]
        assert u.policies.list_by_status([PolicyStatus.CLOSED]) == []
        assert u.policies.count_by_status() == {PolicyStatus.IN_FORCE: 1}
        events = u.events.list(aggregate="policy", aggregate_id=policy.id)
    for name in ("application_id", "status", "start_date", "end_date", "coverage_share",
                 "refund_method", "earned_fen", "loan_id", "single_premium_fen"):
        assert getattr(loaded, name) == getattr(policy, name), name
    assert [e.name for e in events] == ["PolicyIssued", "PolicyCameIntoForce"]
    assert all(e.aggregate_id == policy.id for e in events)


def test_the_month_close_reads_earning_terms_and_sets_only_earned_from_what_it_read(
        uow_factory):
    funder, app = _seeded(uow_factory)
    start = date(2025, 2, 28)
    with uow_factory() as u:
        other = u.applications.add(_application(funder.id, "A-2"))
        ids = []
        for application, contract in ((app, "LN-1"), (other, "LN-2")):
            loan = u.loans.add(replace(_loan(funder.id), contract_no=contract))
            policy = u.policies.add(_policy(application, funder.id))
            policy.issue(on=start, start=start, loan_id=loan.id, interest_fen=0)
            policy.come_into_force(start)
            u.policies.save(policy)
            ids.append(policy.id)
        u.commit()
    with uow_factory() as u:
        terms = u.policies.earning_terms()
        assert [(t.id, t.product_code, t.refund_method, t.single_premium_fen, t.earned_fen,
                 t.start_date, t.end_date, t.term_months) for t in terms] == [
            (i, "CONSUMER-G", RefundMethod.RULE_OF_78, 18_600, 0, start, date(2025, 8, 28), 6)
            for i in ids]
        # the second's "before" is stale: it is left as it is, and the count says so
        assert u.policies.set_earned([(ids[0], 0, 5_000), (ids[1], 99, 6_000)]) == 1
        u.commit()
    with uow_factory() as u:
        first, second = u.policies.get_many(ids)
        assert (first.earned_fen, second.earned_fen) == (5_000, 0)
        assert first.borrower_id_number == b.RESIDENT_ID
        assert first.status is PolicyStatus.IN_FORCE
        first.earned_fen = first.single_premium_fen  # all earned: nothing left to earn
        u.policies.save(first)
        u.commit()
    with uow_factory() as u:
        assert [t.id for t in u.policies.earning_terms()] == [ids[1]]


def test_a_search_of_policies_filters_sorts_pages_and_counts_issued_ones(uow_factory):
    from xinbao.kernel.paging import PageRequest
    from xinbao.policy.repository import PolicyFilter

    funder, _ = _seeded(uow_factory)
    covers = [3_000_000, 1_000_000, 2_000_000, 1_000_000]
    interest = [0, 0, 1_500_000, 0]  # the sum insured orders: principal and interest
    with uow_factory() as u:
        apps = u.applications.add_many([_application(funder.id, f"S-{n}") for n in range(5)])
        quote = replace(_policy(apps[4], funder.id), principal_insured_fen=9_000_000)
        issued = [replace(_policy(a, funder.id), principal_insured_fen=c)
                  for a, c in zip(apps, covers, strict=False)]
        u.policies.add_many([*issued, quote])
        for n, p in enumerate(issued):
            p.issue(on=date(2025, 3, 1 + n), start=date(2025, 3, 1 + n), loan_id=None,
                    interest_fen=interest[n])
        issued[0].come_into_force(date(2025, 3, 1))
        u.policies.save_many(issued)
        u.commit()
    ids = [p.id for p in issued]
    with uow_factory() as u:
        by_cover = u.policies.search(PolicyFilter(), PageRequest("cover", False, 0, 3))
        second = u.policies.search(PolicyFilter(), PageRequest("cover", False, 3, 3))
        newest = u.policies.search(PolicyFilter(), PageRequest("issued", True, 0, 10))
        in_force = u.policies.search(PolicyFilter(status=PolicyStatus.IN_FORCE),
                                     PageRequest("id", True, 0, 10))
        one = u.policies.search(PolicyFilter(policy_id=ids[2]), PageRequest())
        other = u.policies.search(PolicyFilter(funder_id=funder.id + 1), PageRequest())
    assert [p.id for p in by_cover.items] == [ids[1], ids[3], ids[0]]  # ties by id
    assert by_cover.total == 4 and by_cover.pages == 2
    assert [p.id for p in second.items] == [ids[2]] and second.number == 2
    assert second.items[0].sum_insured_fen == 3_500_000
    assert [p.id for p in newest.items] == ids[::-1]
    assert [p.id for p in in_force.items] == [ids[0]] and in_force.total == 1
    assert [p.id for p in one.items] == [ids[2]] and one.items[0].borrower_id_number
    assert other.items == [] and other.total == 0


def _open_claim(uow_factory) -> tuple[Funder, Policy, Claim]:
    """(funder, policy, claim): an approved claim on an issued loan, committed."""
    funder, app = _seeded(uow_factory)
    with uow_factory() as u:
        loan = u.loans.add(_loan(funder.id))
        policy = u.policies.add(_policy(app, funder.id))
        claim = u.claims.add(Claim(policy_id=policy.id, loan_id=loan.id,
                                   opened_on=date(2025, 8, 1), days_past_due=91,
                                   principal_fen=500_000, interest_fen=5_000, amount_fen=454_500,
                                   status=ClaimStatus.APPROVED, funder_id=funder.id,
                                   reserve_fen=454_500))
        u.commit()
    return funder, policy, claim


def test_claims_and_recoveries_round_trip(uow_factory):
    funder, policy, claim = _open_claim(uow_factory)
    with uow_factory() as u:
        loaded = u.claims.get(claim.id)
        loaded.pay(date(2025, 8, 10))
        assert u.claims.save_if_unchanged(loaded, status=ClaimStatus.APPROVED, recovered_fen=0)
        rec = u.recoveries.add(Recovery(claim.id, date(2025, 9, 1), 1000, "borrower"), "R-1")
        u.commit()
    with uow_factory() as u:
        again = u.claims.get(claim.id)
        assert again.status is ClaimStatus.PAID and again.paid_on == date(2025, 8, 10)
        assert u.claims.for_policy(policy.id)[0].id == claim.id
        assert {k: [c.id for c in v] for k, v in
                u.claims.for_policies([policy.id, policy.id + 1]).items()} == {
            policy.id: [claim.id], policy.id + 1: []}
        page = {"after_id": 0, "limit": 10}
        assert u.claims.page(status=ClaimStatus.APPROVED, funder_id=None, **page) == []
        assert [c.id for c in u.claims.page(status=None, funder_id=funder.id, **page)] \
            == [claim.id]
        assert u.claims.page(status=None, funder_id=funder.id + 1, **page) == []
        assert u.claims.page(status=None, funder_id=None, after_id=claim.id, limit=10) == []
        assert u.recoveries.for_claim(claim.id) == [rec]
        assert u.recoveries.get_by_reference(claim.id, "R-1") == rec
        assert [e.name for e in u.events.list(aggregate="claim")] == ["ClaimPaid"]


def test_a_list_of_claims_filters_sorts_and_pages_with_its_total(uow_factory):
    from xinbao.claims.repository import ClaimFilter
    from xinbao.kernel.paging import PageRequest

    funder, policy, first = _open_claim(uow_factory)
    with uow_factory() as u:
        # A policy has one claim that stands: the paid one is on a second policy.
        other = u.policies.add(_policy(u.applications.add(_application(funder.id, "A-2")),
                                       funder.id))
        for opened_on, amount, status, on in (
                (date(2025, 8, 3), 100, ClaimStatus.DECLINED, policy.id),
                (date(2025, 8, 2), 900_000, ClaimStatus.PAID, other.id)):
            u.claims.add(replace(first, id=None, policy_id=on, opened_on=opened_on,
                                 amount_fen=amount, status=status, events=[]))
        u.commit()
    with uow_factory() as u:
        def ids(filters=None, sort="id", descending=True, offset=0, size=10):
            found = u.claims.search(filters or ClaimFilter(),
                                    PageRequest(sort, descending, offset, size))
            return [r.claim.id for r in found.items], found.total

        a, b_, c = first.id, first.id + 1, first.id + 2
        assert ids() == ([c, b_, a], 3)
        assert ids(sort="opened", descending=False) == ([a, c, b_], 3)
        assert ids(sort="amount") == ([c, a, b_], 3)
        assert ids(sort="status", descending=False) == ([a, b_, c], 3)
        assert ids(offset=1, size=1) == ([b_], 3)
        assert ids(ClaimFilter(status=ClaimStatus.PAID)) == ([c], 1)
        assert ids(ClaimFilter(funder_id=funder.id)) == ([c, b_, a], 3)
        assert ids(ClaimFilter(funder_id=funder.id + 1)) == ([], 0)
        assert ids(ClaimFilter(opened_from=date(2025, 8, 2),
                               opened_to=date(2025, 8, 2))) == ([c], 1)
        row = u.claims.search(ClaimFilter(), PageRequest(descending=False)).items[0]
        assert row.funder_id == funder.id and row.claim.policy_id == policy.id


def test_a_claim_is_saved_only_from_the_state_it_was_read_in(uow_factory):
    _, _, claim = _open_claim(uow_factory)
    with uow_factory() as u:
        first, second = u.claims.get(claim.id), u.claims.get(claim.id)
        first.pay(date(2025, 8, 10))
        assert u.claims.save_if_unchanged(first, status=ClaimStatus.APPROVED, recovered_fen=0)
        second.pay(date(2025, 8, 11))
        assert not u.claims.save_if_unchanged(second, status=ClaimStatus.APPROVED,
                                              recovered_fen=0)
        assert second.events == []
        u.commit()
    with uow_factory() as u:
        stored = u.claims.get(claim.id)
        assert stored.status is ClaimStatus.PAID and stored.paid_on == date(2025, 8, 10)
        assert [e.name for e in u.events.list(aggregate="claim")] == ["ClaimPaid"]


def test_the_register_s_figures_are_each_issued_policy_with_its_paid_claims(uow_factory):
    funder, app = _seeded(uow_factory)
    with uow_factory() as u:
        quote = u.applications.add(_application(funder.id, "A-2"))
        loan = u.loans.add(_loan(funder.id))
        issued = u.policies.add(_policy(app, funder.id))
        issued.issue(on=date(2025, 2, 28), start=date(2025, 2, 28), loan_id=loan.id, interest_fen=0)
        issued.come_into_force(date(2025, 2, 28))
        issued.refunded_fen = 600
        u.policies.save(issued)
        u.policies.add(_policy(quote, funder.id))  # quoted only: not in the register
        # Declined claims never count; of those that stand (one a policy), paid ones do,
        # with what was recovered on them.
        for status, amount, recovered in ((ClaimStatus.DECLINED, 9_999, 0),
                                          (ClaimStatus.RECOVERING, 400_000, 1_000)):
            u.claims.add(Claim(policy_id=issued.id, loan_id=loan.id,
                               opened_on=date(2025, 8, 1), days_past_due=91,
                               principal_fen=amount, interest_fen=0, amount_fen=amount,
                               status=status, recovered_fen=recovered, funder_id=funder.id))
        u.commit()
    with uow_factory() as u:
        assert u.reporting.policy_figures() == [PolicyFigures(
            issued.id, "CONSUMER-G", "guarantee", "in_force", 1_000_000, 18_000, 400_000,
            1_000)]


def _entry(key: str, amount: int = 500) -> ledger.JournalEntry:
    return ledger.entry(on=date(2025, 3, 1), description="test", source="Test", key=key,
                        reference="policy:1",
                        moves=[(ledger.BANK, ledger.WRITTEN_PREMIUM, amount),
                               (ledger.UPR_CHARGE, ledger.UNEARNED_PREMIUM_RESERVE, amount)])


def test_ledger_entries_round_trip_and_sum_per_account(uow_factory):
    _seeded(uow_factory)
    with uow_factory() as u:
        first = u.ledger.add(_entry("k1"))
        second = u.ledger.add(replace(_entry("k2", 700), posted_on=date(2025, 4, 1)))
        u.commit()
    with uow_factory() as u:
        assert u.ledger.get(first.id) == first
        assert u.ledger.get_by_key("Test", "k2") == second
        assert u.ledger.get_by_key("Test", "k3") is None
        assert [e.id for e in u.ledger.entries(reference="policy:1")] == [first.id, second.id]
        tb = ledger.trial_balance(u.ledger.lines())
        march = ledger.trial_balance(u.ledger.lines(through=date(2025, 3, 31)))
    assert tb.balance(ledger.BANK) == 1200 and tb.total == 0
    assert march.balance(ledger.BANK) == 500


def test_a_ledger_key_posts_only_once(uow_factory):
    _seeded(uow_factory)
    with uow_factory() as u:
        u.ledger.add(_entry("k1"))
        u.commit()
    with uow_factory() as u, pytest.raises((Conflict, Exception)):
        u.ledger.add(_entry("k1"))
        u.commit()
    with uow_factory() as u:
        assert len(u.ledger.entries()) == 1


def test_reversals_are_found_from_the_original(uow_factory):
    _seeded(uow_factory)
    with uow_factory() as u:
        original = u.ledger.add(_entry("k1"))
        reversal = u.ledger.add(ledger.reverse(original, on=date(2025, 3, 2), key="r1",
                                               reason="test"))
        u.commit()
    with uow_factory() as u:
        assert u.ledger.reversal_of(original.id) == reversal
        assert not any(ledger.trial_balance(u.ledger.lines()).balances.values())


def test_events_are_appended_in_order(uow_factory):
    _seeded(uow_factory)
    with uow_factory() as u:
        u.events.add([Event("A", "loan", 1, date(2025, 1, 1), {"n": 1}),
                      Event("B", "loan", 2, date(2025, 1, 2), {"n": [1, 2]})])
        u.commit()
    with uow_factory() as u:
        assert [(e.name, e.data) for e in u.events.list(aggregate="loan")] == [
            ("A", {"n": 1}), ("B", {"n": [1, 2]})]
        assert [e.name for e in u.events.list(aggregate_id=2)] == ["B"]


def test_makers_are_found_per_object_by_event_name(uow_factory):
    _seeded(uow_factory)
    with uow_factory() as u:
        u.events.add([Event("ClaimOpened", "claim", 1, date(2025, 1, 1), {}),
                      Event("ClaimPaid", "claim", 2, date(2025, 1, 2), {}),
                      Event("ClaimOpened", "loan", 3, date(2025, 1, 2), {})])
        u.commit()
    with uow_factory() as u:
        u.events.add([Event("ClaimOpened", "claim", 2, date(2025, 1, 3), {})])  # not committed
        found = u.events.makers("claim", [1, 2, 3], ["ClaimOpened"])
    actor = found[1].copy().pop()
    assert found == {1: {actor}, 2: {actor}, 3: set()}  # pending events count too


def test_refreshing_the_first_unpaid_due_date_follows_the_domain_rule(uow_factory):
    from xinbao.loans.model import first_unpaid_due_date

    funder, _ = _seeded(uow_factory)
    with uow_factory() as u:
        loan = u.loans.add(_loan(funder.id))
        s = loan.installments
        u.repayments.add_many([
            (Repayment(loan.id, 1, s[0].due_date, s[0].principal_fen, s[0].interest_fen), "R1"),
            (Repayment(loan.id, 2, s[1].due_date, s[1].principal_fen, 0), "R2"),  # interest owed
            (Repayment(loan.id, 3, s[1].due_date, s[2].principal_fen, s[2].interest_fen), "R3"),
        ])
        u.loans.refresh_first_unpaid([loan.id])
        u.commit()
    with uow_factory() as u:
        paid = u.repayments.paid_totals([loan.id])[loan.id]
        stored = u.loans.get(loan.id).first_unpaid_due_date
    assert stored == first_unpaid_due_date(s, paid) == s[1].due_date
    with uow_factory() as u:
        u.repayments.add_many([(Repayment(loan.id, 2, s[1].due_date, 0, s[1].interest_fen),
                                "R4")] + [
            (Repayment(loan.id, i.number, i.due_date, i.principal_fen, i.interest_fen),
             f"R{i.number + 10}") for i in s[3:]])
        u.loans.refresh_first_unpaid([loan.id])
        u.commit()
    with uow_factory() as u:
        assert u.loans.get(loan.id).first_unpaid_due_date is None


def test_an_idempotent_answer_is_stored_once_and_a_second_writer_gets_the_first(uow_factory):
    now = datetime(2025, 1, 1, 9, 0)
    first = StoredResponse("client:a", "k-1", "h1", 201, {"id": 1})
    with uow_factory() as u:
        assert u.idempotency.add_once(first, now) == first
        u.commit()
    with uow_factory() as u:
        late = u.idempotency.add_once(StoredResponse("client:a", "k-1", "h2", 201, {"id": 2}),
                                      now)
        other_scope = u.idempotency.add_once(
            StoredResponse("client:b", "k-1", "h9", 201, {"id": 9}), now)
        u.commit()
    assert late == first and other_scope.body == {"id": 9}
    with uow_factory() as u:
        assert u.idempotency.get("client:a", "k-1") == first
        assert u.idempotency.get("client:a", "k-2") is None


def test_the_audit_trail_chains_what_each_unit_of_work_adds_in_commit_order(uow_factory):
    for n in range(3):
        with uow_factory() as u:
            u.events.add([Event(f"E{n}", "loan", n, date(2025, 1, 1), {"n": n})])
            u.commit()
    with uow_factory() as u:
        u.events.add([Event("Dropped", "loan", 9, date(2025, 1, 1), {})])  # rolled back
    with uow_factory() as u:
        records = list(u.events.records())
        report = verify(records, head=u.events.head())
    assert [r.name for r in records] == ["E0", "E1", "E2"] and report.intact
    assert [r.seq for r in records] == [1, 2, 3]


# --- the risk engine's repositories -----------------------------------------------------------


def _with_profile(funder_id: int, ref: str, *, phone: str, device: str | None,
                  applied_on: date, id_number: str = b.RESIDENT_ID) -> Application:
    a = _application(funder_id, ref)
    borrower = replace(a.borrower, phone=phone, id_number=id_number)
    return replace(a, borrower=borrower, applied_on=applied_on,
                   profile=Profile(monthly_income_fen=1_234_500, employment="salaried",
                                   device_id=device, address="上海市浦东新区1号"),
                   collateral=CollateralOffer(CollateralKind.HOUSE, appraised_fen=9_000_000,
                                              city_tier=2, prior_liens_fen=100),
                   evidence=(Evidence(EvidenceKind.CONSENT, "archive://c", "ab" * 32),))


def test_the_declared_profile_collateral_and_evidence_round_trip(uow_factory):
    funder, _ = _seeded(uow_factory)
    app = _with_profile(funder.id, "P-1", phone=b.PHONE, device="DEV-1",
                        applied_on=date(2025, 3, 1))
    with uow_factory() as u:
        u.applications.add(app)
        u.commit()
    with uow_factory() as u:
        loaded = u.applications.get(app.id)
    assert (loaded.profile, loaded.collateral, loaded.evidence) == (
        app.profile, app.collateral, app.evidence)


def test_sightings_count_applications_sharing_a_value_within_the_window(uow_factory):
    funder, _ = _seeded(uow_factory)
    with uow_factory() as u:
        for i, day in enumerate((1, 10, 20, 40)):
            u.applications.add(_with_profile(funder.id, f"S-{i}", phone="13900000001",
                                             device=f"DEV-{i % 2}",
                                             applied_on=date(2025, 3, 1) + timedelta(days=day)))
        u.commit()
    with uow_factory() as u:
        found = u.risk.sightings({"phone": (["13900000001", "13900000009"], date(2025, 3, 2)),
                                  "device_id": (["DEV-0", "DEV-9"], date(2025, 3, 12)),
                                  "bank_card": ([], date(2025, 1, 1))}, date(2025, 3, 31))
        wide = u.risk.sightings({"device_id": (["DEV-0"], date(2025, 1, 1))},
                                date(2025, 12, 1))
    seen, devices = found["phone"], found["device_id"]
    assert sorted(s.applied_on.day for s in seen["13900000001"]) == [2, 11, 21]
    assert "13900000009" not in seen
    assert [s.applied_on.day for s in devices["DEV-0"]] == [21]  # from the 12th only
    assert found["bank_card"] == {} and set(found) == {"phone", "device_id", "bank_card"}
    assert len(wide["device_id"]["DEV-0"]) == 2 and set(wide) == {"device_id"}


def test_the_neighbourhood_follows_shared_values_two_links_away(uow_factory):
    funder, first = _seeded(uow_factory)  # first: phone PHONE, no device
    with uow_factory() as u:
        a = u.applications.add(_with_profile(funder.id, "N-1", phone=b.PHONE, device="DEV-X",
                                             applied_on=date(2025, 3, 1)))
        c = u.applications.add(_with_profile(funder.id, "N-2", phone="13900000002",
                                             device="DEV-X", applied_on=date(2025, 3, 1)))
        lone = u.applications.add(replace(_application(funder.id, "N-3"),
                                          borrower=replace(first.borrower,
                                                           phone="13900000003",
                                                           bank_card=None)))
        u.commit()
    with uow_factory() as u:
        near = u.risk.neighbourhood([first.id], date(2025, 4, 1))
        alone = u.risk.neighbourhood([lone.id], date(2025, 4, 1))
    assert sorted(n.application_id for n in near) == sorted([first.id, a.id, c.id])
    assert all(not n.overdue for n in near)
    assert [n.application_id for n in alone] == [lone.id]


def test_limit_counters_reserve_all_or_nothing(uow_factory):
    keys = [("retained", "all"), ("funder", "BANK-A")]
    with uow_factory() as u:
        u.counters.ensure([Counter("retained", "all", 1000, 0),
                           Counter("funder", "BANK-A", 500, 0)], basis_fen=250, on=b.START)
        u.commit()
    with uow_factory() as u:
        assert u.counters.reserve(keys, 400)
        assert not u.counters.reserve(keys, 200)  # the funder's 500 would be passed
        got = u.counters.get(keys)
        assert [got[k].used_fen for k in keys] == [400, 400]
        u.counters.ensure([Counter("retained", "all", 5, 5)], basis_fen=1, on=b.START)
        assert u.counters.get(keys)[("retained", "all")].cap_fen == 1000  # kept
        u.commit()
    with uow_factory() as u:
        assert u.counters.basis() == (250, b.START)
        u.counters.replace_all([Counter("retained", "all", 2000, 7)], basis_fen=500,
                               on=date(2025, 2, 1))
        u.commit()
    with uow_factory() as u:
        assert [(c.dimension, c.used_fen) for c in u.counters.all()] == [
            ("funder", 0), ("retained", 7)]  # a portfolio counter not named: nothing used
        assert u.counters.basis() == (500, date(2025, 2, 1))


def test_the_fullest_counter_of_each_dimension_is_the_most_used_the_first_key_on_a_tie(
        uow_factory):
    with uow_factory() as u:
        u.counters.ensure([Counter("retained", "all", 10**9, 300),
                           Counter("funder", "BANK-A", 900, 200),
                           Counter("funder", "BANK-B", 900, 500),
                           Counter("region", "310000", 900, 40),
                           Counter("region", "110000", 900, 40)], basis_fen=250, on=b.START)
        u.commit()
    with uow_factory() as u:
        top = {c.dimension: (c.key, c.used_fen) for c in u.counters.fullest()}
    assert top == {"retained": ("all", 300), "funder": ("BANK-B", 500),
                   "region": ("110000", 40)}


def test_limit_counters_reserve_a_batch_in_one_step_all_or_nothing(uow_factory):
    total, bank, one, two = (("retained", "all"), ("funder", "BANK-A"), ("obligor", "o1"),
                             ("obligor", "o2"))
    with uow_factory() as u:
        u.counters.ensure([Counter(*total, 1000, 0), Counter(*bank, 600, 0),
                           Counter(*one, 300, 0), Counter(*two, 300, 0)],
                          basis_fen=250, on=b.START)
        u.commit()
    with uow_factory() as u:
        assert u.counters.reserve_many({total: 500, bank: 500, one: 200, two: 300})
        # the funder's 600 would be passed: nothing of the second batch is kept
        assert not u.counters.reserve_many({total: 150, two: 0, bank: 150, one: 100})
        got = u.counters.get([total, bank, one, two])
        assert [got[k].used_fen for k in (total, bank, one, two)] == [500, 500, 200, 300]
        assert u.counters.reserve_many({total: 100, bank: 100, one: 100})
        assert u.counters.reserve_many({})
        u.commit()
    with uow_factory() as u:
        got = u.counters.get([total, bank, one, two, ("obligor", "nobody")])
        assert [got[k].used_fen for k in (total, bank, one, two)] == [600, 600, 300, 300]
        assert ("obligor", "nobody") not in got


def test_a_savepoint_as_the_first_write_is_undone_with_its_unit_of_work(uow_factory):
    """A reservation or an idempotent answer taken in a savepoint before anything else was
    written is still part of the unit of work: a rollback undoes it (SQLite's driver let
    such a savepoint begin the transaction, and its release committed it)."""
    total = ("retained", "all")
    answer = StoredResponse("client:a", "k-9", "h1", 201, {"id": 1})
    with uow_factory() as u:
        u.counters.ensure([Counter(*total, 1000, 0)], basis_fen=250, on=b.START)
        u.commit()
    with uow_factory() as u:
        assert u.counters.reserve_many({total: 400})
        assert u.counters.get([total])[total].used_fen == 400
        u.rollback()
    with uow_factory() as u:
        assert u.idempotency.add_once(answer, datetime(2025, 1, 1, 9, 0)) == answer
        u.rollback()
    with uow_factory() as u:
        assert u.counters.get([total])[total].used_fen == 0
        assert u.idempotency.get("client:a", "k-9") is None


def test_a_reservation_that_fails_leaves_its_unit_of_work_usable(database_url):
    """A reservation the database refuses (an amount past BIGINT) raises, and is undone to
    its savepoint: on PostgreSQL the transaction would otherwise stay aborted. (The fakes
    have no integer width: databases only.)"""
    engine = create_db_engine(database_url)
    uow_factory = lambda: SqlUnitOfWork(engine, cipher=support.cipher())  # noqa: E731
    total = ("retained", "all")
    with uow_factory() as u:
        u.counters.ensure([Counter(*total, 10**18, 0)], basis_fen=250, on=b.START)
        u.commit()
    with uow_factory() as u:
        assert u.counters.reserve_many({total: 100})
        with pytest.raises((OverflowError, DBAPIError)):
            u.counters.reserve_many({total: 2**70})
        assert u.counters.reserve_many({total: 20})
        u.commit()
    with uow_factory() as u:
        assert u.counters.get([total])[total].used_fen == 120
    engine.dispose()


def test_the_blacklist_matches_values_and_keeps_no_value(uow_factory):
    with uow_factory() as u:
        assert u.blacklist.add("phone", b.PHONE, reason="fraud F-1", on=b.START, by="me")
        assert not u.blacklist.add("phone", b.PHONE, reason="again", on=b.START, by="me")
        u.commit()
    with uow_factory() as u:
        assert u.blacklist.listed([("phone", b.PHONE), ("phone", "13900000000"),
                                   ("bank_card", b.PHONE)]) == {("phone", b.PHONE)}
        (entry,) = u.blacklist.entries()
        assert (entry.field, entry.reason) == ("phone", "again")
        assert u.blacklist.remove("phone", b.PHONE)
        assert not u.blacklist.remove("phone", b.PHONE)
        assert u.blacklist.listed([("phone", b.PHONE)]) == set()


def test_decisions_round_trip_and_referrals_queue_in_order(uow_factory):
    funder, app = _seeded(uow_factory)
    record = DecisionRecord(
        application_id=app.id, outcome=Outcome.REFER, decided_on=b.START,
        decided_by="system:test", reason_codes=("SCR-PD-REFER",), requested_fen=1_000_000,
        approved_fen=900_000, annual_premium_rate=Decimal("0.0612"),
        monthly_premium_rate=Decimal("0.0051"), pd=Decimal("0.13"), score=577,
        model="pd/v1", rule_set_version="r1", params_version="p1",
        detail={"findings": [{"stage": "score", "code": "SCR-PD-REFER", "action": "refer",
                              "detail": "PD 13%"}]}, final=False)
    with uow_factory() as u:
        u.decisions.add_many([record])
        u.commit()
    with uow_factory() as u:
        loaded = u.decisions.get(app.id)
        queue = u.decisions.pending(funder_id=funder.id, after_id=0, limit=10)
        other = u.decisions.pending(funder_id=funder.id + 1, after_id=0, limit=10)
        assert (loaded.outcome, loaded.pd, loaded.annual_premium_rate, loaded.detail) == (
            Outcome.REFER, Decimal("0.13"), Decimal("0.0612"), record.detail)
        assert [d.application_id for d in queue] == [app.id] and other == []
        u.decisions.save(replace(loaded, final=True, reviews=(
            Review("user:li", "approve", b.START, "ok"),)))
        u.commit()
    with uow_factory() as u:
        assert u.decisions.get(app.id).reviews[0].actor == "user:li"
        assert u.decisions.pending(funder_id=None, after_id=0, limit=10) == []


def test_waiting_referrals_are_counted_by_funder_and_by_a_whole_reason_code(uow_factory):
    funder, first = _seeded(uow_factory)
    with uow_factory() as u:
        others = u.applications.add_many([_application(funder.id, f"A-{i}") for i in (2, 3, 4)])
        u.commit()
    codes = [("SYS-DECISION-ERROR",), ("SCR-PD-REFER", "SYS-DECISION-ERROR"),
             ("SYS-DECISION-ERROR-X",), ("SYS-DECISION-ERROR",)]
    with uow_factory() as u:
        u.decisions.add_many([DecisionRecord(
            application_id=a.id, outcome=Outcome.REFER, decided_on=b.START,
            decided_by="system:test", reason_codes=reasons, requested_fen=1_000_000,
            approved_fen=0, annual_premium_rate=None, monthly_premium_rate=None, pd=None,
            score=None, model="none", rule_set_version="r1", params_version="p1", detail={},
            final=a is others[-1]) for a, reasons in zip([first, *others], codes, strict=True)])
        u.commit()
    with uow_factory() as u:
        assert u.decisions.count_pending(funder_id=None) == 3
        assert u.decisions.count_pending(funder_id=funder.id) == 3
        assert u.decisions.count_pending(funder_id=funder.id + 1) == 0
        # A final decision no longer waits; a longer code is not the code.
        assert u.decisions.count_pending(funder_id=None, reason_code="SYS-DECISION-ERROR") == 2
        assert u.decisions.count_pending(funder_id=funder.id + 1,
                                         reason_code="SYS-DECISION-ERROR") == 0
        assert u.decisions.count_pending(funder_id=None, reason_code="SYS-DECISION") == 0


def test_the_referral_queue_pages_by_date_or_amount_with_its_total(uow_factory):
    from xinbao.kernel.paging import PageRequest

    funder, first = _seeded(uow_factory)
    with uow_factory() as u:
        apps = [first, *u.applications.add_many([_application(funder.id, f"A-{n}")
                                                 for n in (2, 3, 4)])]
        u.decisions.add_many([DecisionRecord(
            application_id=a.id, outcome=Outcome.REFER, decided_on=date(2025, 3, day),
            decided_by="system:test", reason_codes=("SCR-PD-REFER",), requested_fen=1_000_000,
            approved_fen=amount, annual_premium_rate=None, monthly_premium_rate=None,
            pd=None, score=None, model="m", rule_set_version="r", params_version="p",
            detail={}, final=final)
            for a, day, amount, final in zip(apps, (3, 1, 2, 1), (500, 900, 700, 100),
                                             (False, False, False, True), strict=True)])
        u.commit()
    first_id, second, third, _ = (a.id for a in apps)
    with uow_factory() as u:
        by_date = u.decisions.pending_page(funder_id=None, request=PageRequest("date", False))
        by_amount = u.decisions.pending_page(funder_id=funder.id,
                                             request=PageRequest("amount", True, 1, 1))
        other = u.decisions.pending_page(funder_id=funder.id + 1, request=PageRequest())
    assert [d.application_id for d in by_date.items] == [second, third, first_id]
    assert by_date.total == 3 and by_amount.total == 3
    assert [d.application_id for d in by_amount.items] == [third]
    assert (other.items, other.total) == ([], 0)


def test_exposure_rows_are_the_live_policies_outstanding_liability(uow_factory):
    funder, app = _seeded(uow_factory)
    with uow_factory() as u:
        u.policies.add(_policy(app, funder.id))
        u.commit()
    with uow_factory() as u:
        (row,) = u.risk.exposure_rows()
        key = u.risk.obligor_key(b.RESIDENT_ID)
    assert (row.obligor, row.funder, row.region, row.product, row.enterprise) == (
        key, "BANK-A", "11", "CONSUMER-G", False)
    assert row.principal_fen == 1_000_000 and row.coverage_share == Decimal("0.9")


def test_the_end_of_day_questions_find_the_policies_each_step_concerns(database_url):
    """The batch's set questions are answered in SQL only (the fake has no copy of them):
    policies in force past due, with installment premiums unwritten, with single premium
    still to earn, with their loan fully repaid; an expired policy is never one of them."""
    engine = create_db_engine(database_url)
    factory = lambda: SqlUnitOfWork(engine, cipher=support.cipher())  # noqa: E731
    funder, app = _seeded(factory)
    start, on = date(2025, 2, 28), date(2025, 5, 10)
    with factory() as u:
        apps = [app, *(u.applications.add(_application(funder.id, f"A-{n}")) for n in (2, 3, 4))]
        past_due, repaid, current, lapsed = (
            u.loans.add(replace(_loan(funder.id), contract_no=f"LN-{n}")) for n in range(1, 5))
        repaid.first_unpaid_due_date = None
        u.loans.save(repaid)
        current.first_unpaid_due_date = date(2025, 6, 28)
        u.loans.save(current)
        single = _policy(app, funder.id)
        installment = replace(single, premium_basis=PremiumBasis.PER_INSTALLMENT,
                              single_premium_fen=0, installment_premium_fen=3_100)
        policies = {}
        for name, base, application, loan in (
                ("past_due", installment, apps[0], past_due), ("repaid", single, apps[1], repaid),
                ("current", single, apps[2], current), ("lapsed", single, apps[3], lapsed)):
            policy = u.policies.add(replace(base, application_id=application.id, events=[]))
            policy.issue(on=start, start=start, loan_id=loan.id, interest_fen=0)
            policy.come_into_force(start)
            if name == "lapsed":
                policy.expire(on)
            u.policies.save(policy)
            policies[name] = policy.id
        u.commit()
    with factory() as u:
        eod = u.end_of_day
        assert eod.overdue(on) == [(policies["past_due"], date(2025, 3, 28), 80)]
        assert eod.installment_premiums_due(on) == [(policies["past_due"], 2)]
        assert [t.id for t in u.policies.earning_terms()] == sorted([policies["repaid"],
                                                                     policies["current"]])
        assert eod.fully_repaid() == [policies["repaid"]]
        assert eod.overdue(date(2025, 3, 28)) == []  # on its due date it is not yet past due
    engine.dispose()


def test_a_page_of_entries_is_filtered_sorted_and_counted(uow_factory):
    _seeded(uow_factory)
    with uow_factory() as u:
        added = [u.ledger.add(replace(_entry(f"k{i}", 100 + i),
                                      posted_on=date(2025, 3, 1) + timedelta(days=(i * 7) % 10),
                                      reference=f"policy:{i % 3}"))
                 for i in range(10)]
        capital = u.ledger.add(ledger.capital_paid_in(on=date(2025, 3, 5), amount_fen=9,
                                                      reference="cap"))
        u.commit()
    ids = [e.id for e in added]
    with uow_factory() as u:
        newest = u.ledger.page(EntryFilter(), PageRequest("id", True, 0, 4))
        rest = u.ledger.page(EntryFilter(), PageRequest("id", True, 8, 4))
        by_date = u.ledger.page(EntryFilter(), PageRequest("date", False, 0, 11))
        premium = u.ledger.page(EntryFilter(account=ledger.WRITTEN_PREMIUM),
                                PageRequest("id", False, 0, 50))
        period = u.ledger.page(EntryFilter(posted_from=date(2025, 3, 3),
                                           posted_to=date(2025, 3, 5)),
                               PageRequest("id", False, 0, 50))
        referenced = u.ledger.page(EntryFilter(reference="policy:1", account=ledger.BANK),
                                   PageRequest("id", False, 0, 50))
    assert [e.id for e in newest.items] == [capital.id, *ids[::-1][:3]] and newest.total == 11
    assert [e.id for e in rest.items] == ids[2::-1] and rest.number == 3
    assert newest.items[1] == added[-1]  # with its lines
    dates = [(e.posted_on, e.id) for e in by_date.items]
    assert dates == sorted(dates)
    assert [e.id for e in premium.items] == ids and premium.total == 10
    assert {e.id for e in period.items} == {
        e.id for e in [*added, capital] if date(2025, 3, 3) <= e.posted_on <= date(2025, 3, 5)}
    assert [e.id for e in referenced.items] == [ids[1], ids[4], ids[7]]


def test_a_page_of_the_audit_trail_is_filtered_sorted_and_counted(uow_factory):
    with uow_factory() as u:
        u.events.add([Event("A" if i % 2 else "B", "loan", i % 4, date(2025, 1, 10 - i), {"i": i})
                      for i in range(1, 10)])
        u.commit()
    with uow_factory() as u:
        newest = u.audit.page(AuditFilter(), PageRequest("id", True, 0, 3))
        oldest = u.audit.page(AuditFilter(), PageRequest("id", False, 3, 3))
        named = u.audit.page(AuditFilter(name="A"), PageRequest("id", True, 0, 50))
        one = u.audit.page(AuditFilter(aggregate="loan", aggregate_id=2),
                           PageRequest("date", False, 0, 50))
        nobody = u.audit.page(AuditFilter(actor="user:nobody"), PageRequest("id", True, 0, 5))
    assert [r.seq for r in newest.items] == [9, 8, 7] and newest.total == 9
    assert [r.seq for r in oldest.items] == [4, 5, 6]
    assert [r.data["i"] for r in named.items] == [9, 7, 5, 3, 1] and named.total == 5
    assert [r.data["i"] for r in one.items] == [6, 2]  # business date ascending
    assert one.items[0].hash and one.items[0].actor == "system:operator"
    assert nobody.items == [] and nobody.total == 0
