"""The risk approval engine as use cases, on the in-memory unit of work: anti-fraud facts from
the book, the bureau and the model as ports, stored decisions, referral review with a second
approver, the anti-fraud lists and the portfolio limit counters."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests import builders as b
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.iam.model.security import Forbidden, Principal, Role
from xinbao.kernel.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from xinbao.parameters import load_antifraud_rules
from xinbao.risk import approval, lists, referrals
from xinbao.risk import services as decisions
from xinbao.risk.commands import ApproveApplications
from xinbao.risk.model import exposure
from xinbao.risk.model.bureau import BureauResult, Status
from xinbao.risk.model.decision import Outcome
from xinbao.simulation.identities import IdentityFactory
from xinbao.underwriting import services as applications
from xinbao.underwriting.commands import SubmitApplication
from xinbao.underwriting.model import ApplicationStatus, Profile

RULES = load_antifraud_rules()


@pytest.fixture
def store() -> Store:
    s = Store()
    b.seed(lambda: InMemoryUnitOfWork(s), funders=(b.bank(), b.bank("BANK-B")))
    return s


def system(store: Store):
    return lambda: InMemoryUnitOfWork(store)


def acting(store: Store, name: str, *roles: Role, funder_id: int | None = None):
    principal = Principal("user", name, frozenset(roles), funder_id)
    return lambda: InMemoryUnitOfWork(store, actor=principal)


def people(n: int, seed: int = 1) -> list[str]:
    ids = IdentityFactory(seed)
    return [ids.resident_id(born_between=(date(1975, 1, 1), date(1995, 1, 1)))
            for _ in range(n)]


def submit_and_decide(store: Store, cmds: list[SubmitApplication], *, risk=None,
                      on: date = b.START):
    apps = [applications.submit_application(c, system(store)()) for c in cmds]
    return approval.approve_applications(
        ApproveApplications(tuple(a.id for a in apps), on), system(store)(),
        risk or b.engine(rule_set=RULES))


def test_the_decision_is_stored_with_its_inputs_versions_and_reasons(store):
    (r,) = submit_and_decide(store, [b.consumer_application()])
    application, record = referrals.get_decision(system(store)(), r.application.id)
    assert application.status is ApplicationStatus.APPROVED
    assert (record.outcome, record.model, record.rule_set_version) == (
        Outcome.APPROVE, "test/v1", RULES.version)
    assert record.approved_fen == 3_600_000 and record.pd == Decimal("0.02")
    assert record.detail["inputs"]["monthly_income_yuan"] == 20_000.0
    assert record.detail["bureau"]["report"]["score"] == 720
    assert r.policy.monthly_premium_rate == record.monthly_premium_rate


def test_another_funder_cannot_see_the_decision(store):
    (r,) = submit_and_decide(store, [b.consumer_application()])
    with InMemoryUnitOfWork(store) as u:
        bank_b = u.funders.get_by_code("BANK-B").id
    with pytest.raises(NotFound):
        referrals.get_decision(acting(store, "b", Role.FUNDER, funder_id=bank_b)(),
                               r.application.id)


def test_the_same_phone_four_times_in_a_month_is_referred_with_the_count_as_evidence(store):
    ids = people(4)
    cmds = [b.consumer_application(external_ref=f"V-{i}", borrower_id_number=n,
                                   funder_code="BANK-A" if i % 2 else "BANK-B",
                                   applied_on=b.START + timedelta(days=3 * i))
            for i, n in enumerate(ids)]
    results = [submit_and_decide(store, [c], on=c.applied_on)[0] for c in cmds]
    assert [r.application.status for r in results[:3]] == [ApplicationStatus.APPROVED] * 3
    last = results[3]
    assert last.application.status is ApplicationStatus.REFERRED
    hit = next(f for f in last.decision.detail["findings"]
               if f["code"] == "AF-VELOCITY-PHONE-30D")
    assert hit["detail"] == ("4 applications share the phone within 30 days, "
                             "at 2 funder(s)")


def test_applications_sharing_phone_and_device_form_a_ring_and_are_referred(store):
    ids = people(5, seed=2)
    cmds = [b.consumer_application(external_ref=f"R-{i}", borrower_id_number=n,
                                   borrower_phone=f"1391234567{i}",
                                   profile=Profile(monthly_income_fen=b.INCOME_FEN,
                                                   device_id="DEV-SAME",
                                                   address="同一小区1号楼" if i else None))
            for i, n in enumerate(ids)]
    results = submit_and_decide(store, cmds)
    ring = [f for f in results[-1].decision.detail["findings"] if f["code"] == "AF-RING-SIZE"]
    assert ring and ("identity ring of 5 applications linked by address, bank_card, device_id"
                     in ring[0]["detail"])
    assert results[-1].application.status is ApplicationStatus.REFERRED


def test_a_listed_phone_is_declined_until_it_is_taken_off_the_list(store):
    risk = acting(store, "risk.wang", Role.RISK_MANAGER)
    assert lists.add_to_blacklist(lists.ListValue(
        "phone", b.PHONE, "confirmed fraud case F-1", b.START), risk())
    (r,) = submit_and_decide(store, [b.consumer_application()])
    assert r.application.status is ApplicationStatus.DECLINED
    assert "AF-BLACKLIST-PHONE" in r.application.reason_codes
    entries = lists.blacklist_entries(risk())
    assert [(e.field, e.reason) for e in entries] == [("phone", "confirmed fraud case F-1")]
    assert lists.remove_from_blacklist(lists.ListValue(
        "phone", b.PHONE, "cleared after review", b.START), risk())
    (again,) = submit_and_decide(store, [b.consumer_application(external_ref="APP-0002")])
    assert again.application.status is ApplicationStatus.APPROVED
    with pytest.raises(Forbidden):
        lists.add_to_blacklist(lists.ListValue("phone", b.PHONE, "by a clerk", b.START),
                                   acting(store, "uw", Role.UNDERWRITER)())
    with pytest.raises(InvalidInput):
        lists.add_to_blacklist(lists.ListValue("shoe", "x", "no such field", b.START),
                                   risk())


def test_no_answer_from_the_bureau_is_referred(store):
    bureau = b.FakeBureau({b.RESIDENT_ID_2: BureauResult(Status.TIMEOUT, detail="0.8 s")})
    (r,) = submit_and_decide(store, [b.consumer_application()],
                             risk=b.engine(bureau=bureau, rule_set=RULES))
    assert r.application.status is ApplicationStatus.REFERRED
    assert "BUR-UNAVAILABLE" in r.application.reason_codes


def test_a_batch_asks_the_bureau_and_the_model_once(store):
    scorer, bureau = b.FixedScorer(), b.FakeBureau()
    cmds = [b.consumer_application(external_ref=f"B-{i}", borrower_id_number=n)
            for i, n in enumerate(people(6, seed=3))]
    submit_and_decide(store, cmds, risk=b.engine(scorer=scorer, bureau=bureau))
    assert scorer.calls == 1 and len(bureau.asked) == 6


def referred(store: Store, cmd: SubmitApplication):
    """An application the model puts in the referral band."""
    (r,) = submit_and_decide(store, [cmd], risk=b.engine(scorer=b.FixedScorer("0.15")))
    assert r.application.status is ApplicationStatus.REFERRED, r.decision.reason_codes
    return r


def review(store, who, application_id, approve=True, note="checked the payslips"):
    return referrals.review_application(
        referrals.ReviewApplication(application_id, approve, b.START, note), who(),
        b.engine(), approval.quote)


def test_a_referral_waits_in_the_queue_until_an_underwriter_approves_it(store):
    r = referred(store, b.consumer_application())
    queue = referrals.referral_queue(system(store)())
    assert [d.application_id for d in queue] == [r.application.id]
    done = review(store, acting(store, "li.uw", Role.UNDERWRITER), r.application.id)
    assert done.application.status is ApplicationStatus.APPROVED
    assert done.record.final and done.record.reviews[-1].actor == "user:li.uw"
    assert "REV-APPROVED" in done.record.reason_codes
    assert referrals.referral_queue(system(store)()) == []
    with InMemoryUnitOfWork(store) as u:
        quote = u.policies.get_by_application(r.application.id)
    assert quote.principal_insured_fen == r.decision.approved_fen
    assert quote.monthly_premium_rate == r.decision.monthly_premium_rate
    with pytest.raises(IllegalTransition):
        review(store, acting(store, "li.uw", Role.UNDERWRITER), r.application.id)


def test_a_declined_referral_gets_no_quote_and_the_note_is_required(store):
    r = referred(store, b.consumer_application())
    uw = acting(store, "li.uw", Role.UNDERWRITER)
    with pytest.raises(InvalidInput):
        review(store, uw, r.application.id, approve=False, note="no")
    done = review(store, uw, r.application.id, approve=False, note="income not verified")
    assert done.application.status is ApplicationStatus.DECLINED
    assert done.record.outcome is Outcome.DECLINE
    with InMemoryUnitOfWork(store) as u:
        assert u.policies.get_by_application(r.application.id) is None


def test_an_approval_beyond_the_underwriters_authority_needs_a_second_approver(store):
    big = b.sme_application(amount_fen=40_000_000)  # 400,000 yuan; underwriters: 200,000
    r = referred(store, big)
    first = review(store, acting(store, "li.uw", Role.UNDERWRITER), r.application.id)
    assert first.awaiting_second_approver
    assert first.application.status is ApplicationStatus.REFERRED
    assert referrals.referral_queue(system(store)())[0].pending_second_approval.actor == (
        "user:li.uw")
    with pytest.raises(Forbidden, match="maker"):
        review(store, acting(store, "li.uw", Role.UNDERWRITER, Role.UNDERWRITING_APPROVER),
               r.application.id)
    with pytest.raises(Forbidden, match="authority"):
        review(store, acting(store, "zhao.uw", Role.UNDERWRITER), r.application.id)
    second = review(store, acting(store, "chen.boss", Role.UNDERWRITING_APPROVER),
                    r.application.id)
    assert second.application.status is ApplicationStatus.APPROVED
    assert [x.verdict for x in second.record.reviews] == ["recommend", "approve"]


def test_whoever_keyed_the_application_in_cannot_review_it(store):
    keyer = acting(store, "zhang.uw", Role.UNDERWRITER)
    app = applications.submit_application(b.consumer_application(), keyer())
    approval.approve_applications(ApproveApplications((app.id,), b.START), system(store)(),
                                      b.engine(scorer=b.FixedScorer("0.15")))
    with pytest.raises(Forbidden, match="four-eyes"):
        review(store, keyer, app.id)


def test_whoever_keyed_an_application_in_cannot_decide_it_nor_its_batch(store):
    keyer = acting(store, "zhang.uw", Role.UNDERWRITER, Role.UNDERWRITING_APPROVER)
    other = acting(store, "wang.uw", Role.UNDERWRITER)
    theirs = applications.submit_application(b.consumer_application(), other())
    own_app = applications.submit_application(
        b.consumer_application(external_ref="OWN-1", borrower_id_number=people(1, seed=9)[0]),
        keyer())
    with pytest.raises(Forbidden, match="four-eyes"):
        approval.approve_applications(ApproveApplications((theirs.id, own_app.id), b.START),
                                          keyer(), b.engine())
    with InMemoryUnitOfWork(store) as u:  # the batch is refused whole: nothing decided
        assert [u.applications.get(i).status for i in (theirs.id, own_app.id)] == [
            ApplicationStatus.SUBMITTED] * 2
        assert u.decisions.get(theirs.id) is None
    decided = approval.approve_applications(ApproveApplications((theirs.id,), b.START),
                                                keyer(), b.engine())
    assert decided[0].decision is not None


def test_approvals_reserve_retained_liability_and_a_recount_agrees(store):
    results = submit_and_decide(store, [
        b.consumer_application(external_ref=f"L-{i}", borrower_id_number=n)
        for i, n in enumerate(people(3, seed=4))] + [b.sme_application()], risk=b.engine())
    assert all(r.application.status is ApplicationStatus.APPROVED for r in results)
    _, before = decisions.limit_usage(system(store)())
    used = {(c.dimension, c.key): c.used_fen for c in before}
    assert used[(exposure.RETAINED, "all")] == 3 * 3_600_000 + 27_000_000  # SME: 90 % share
    assert used[(exposure.INDUSTRY, "manufacturing")] == 27_000_000
    after = decisions.refresh_limits(system(store)(), b.engine().params.limits, b.START)
    assert {(c.dimension, c.key): c.used_fen for c in after} == used


def _fill(store: Store, key: tuple[str, str], leave_fen: int) -> None:
    """Use up a limit counter but ``leave_fen`` of it (as a busy book would)."""
    with InMemoryUnitOfWork(store) as u:
        counter = u.counters.get([key])[key]
        u.counters.reserve([key], counter.cap_fen - counter.used_fen - leave_fen)
        u.commit()


def test_a_nearly_full_portfolio_limit_cuts_the_amount_and_a_full_one_declines(store):
    submit_and_decide(store, [b.consumer_application(external_ref="FIRST")], risk=b.engine())
    _fill(store, (exposure.RETAINED, "all"), 500_000)
    (cut,) = submit_and_decide(store, [b.consumer_application(
        external_ref="CUT", borrower_id_number=people(1, seed=6)[0])], risk=b.engine())
    assert cut.decision.outcome is Outcome.APPROVE_CHANGED
    assert cut.decision.approved_fen == 500_000
    assert cut.decision.detail["limit"]["binding"] == ["LIM-PORTFOLIO-APPETITE"]
    (full,) = submit_and_decide(store, [b.consumer_application(
        external_ref="FULL", borrower_id_number=people(1, seed=7)[0])], risk=b.engine())
    assert full.decision.outcome is Outcome.DECLINE
    assert full.application.reason_codes[-2:] == ("LIM-PORTFOLIO-APPETITE",
                                                  "LIM-BELOW-PRODUCT-MIN")


def test_room_taken_between_reading_and_reserving_makes_the_batch_decide_again(store,
                                                                             monkeypatch):
    """A concurrent transaction uses up the portfolio limit after the batch read the counters:
    the batch's one-step reservation changes nothing, and each application is decided again
    on the counters as they now stand."""
    from tests.fakes import memory

    submit_and_decide(store, [b.consumer_application(external_ref="FIRST")], risk=b.engine())
    total = (exposure.RETAINED, "all")
    original = memory._Counters.reserve_many
    calls: list[int] = []

    def concurrently_filled(self, amounts):
        calls.append(len(amounts))
        if len(calls) == 1:  # another transaction commits first, leaving 500,000 fen
            c = self.rows[total]
            self.rows[total] = replace(c, used_fen=c.cap_fen - 500_000)
        return original(self, amounts)

    monkeypatch.setattr(memory._Counters, "reserve_many", concurrently_filled)
    cut, full = submit_and_decide(store, [
        b.consumer_application(external_ref=f"R-{i}", borrower_id_number=n)
        for i, n in enumerate(people(2, seed=8))], risk=b.engine())
    assert len(calls) > 1  # the batch's step was refused; the applications reserved alone
    assert cut.decision.outcome is Outcome.APPROVE_CHANGED
    assert cut.decision.approved_fen == 500_000
    assert full.decision.outcome is Outcome.DECLINE
    assert "LIM-PORTFOLIO-APPETITE" in full.application.reason_codes
    _, counters = decisions.limit_usage(system(store)())
    retained = next(c for c in counters if (c.dimension, c.key) == total)
    assert retained.used_fen == retained.cap_fen


def test_one_obligor_may_hold_at_most_one_per_cent_of_net_assets():
    small = Store()
    b.seed(lambda: InMemoryUnitOfWork(small), capital_fen=20_000_000)  # 200,000 yuan
    (r,) = submit_and_decide(small, [b.consumer_application()], risk=b.engine())
    assert r.decision.approved_fen == 200_000  # 1 % of 200,000 yuan: 2,000 yuan
    assert r.decision.detail["limit"]["binding"] == ["LIM-SINGLE-OBLIGOR"]


def test_reviewing_needs_room_under_the_limits_at_the_time_of_review(store):
    r = referred(store, b.consumer_application())
    with InMemoryUnitOfWork(store) as u:
        keys = [(c.dimension, c.key) for c in u.counters.all()]
        counters = u.counters.get(keys)
        retained = counters[(exposure.RETAINED, "all")]
        u.counters.reserve([(exposure.RETAINED, "all")],
                           retained.cap_fen - retained.used_fen - 1)
        u.commit()
    with pytest.raises(Conflict, match="no room"):
        review(store, acting(store, "li.uw", Role.UNDERWRITER), r.application.id)


def test_an_approved_application_is_issued_for_the_approved_amount(store):
    from xinbao.policy import services as policies
    from xinbao.policy.commands import IssuePolicy

    (r,) = submit_and_decide(store, [b.consumer_application(amount_fen=30_000_000)])
    assert r.decision.approved_fen < 30_000_000
    policy = policies.issue_policy(IssuePolicy(r.policy.id, "LN-1", b.START, b.START),
                                   system(store)())
    with InMemoryUnitOfWork(store) as u:
        assert u.loans.get(policy.loan_id).principal_fen == r.decision.approved_fen


def test_decisions_keep_the_product_terms_of_the_engine_they_ran_with(store):
    shipped = b.engine(list_price=False, cost_cap="0.24")
    (r,) = submit_and_decide(store, [b.consumer_application(annual_rate=Decimal("0.08"))],
                             risk=shipped)
    price = r.decision.detail["price"]
    assert Decimal(price["technical_rate"]) == Decimal("0.02") * Decimal("0.85") + Decimal(
        "0.035")
    assert replace(r.decision, events=[]).annual_premium_rate == Decimal(price["annual_rate"])


def test_a_funder_keeping_a_share_of_each_loss_is_priced_and_counted_on_the_rest():
    shared = Store()
    b.seed(lambda: InMemoryUnitOfWork(shared),
           funders=(b.bank(), replace(b.bank("BANK-B"), risk_share=Decimal("0.2"))))
    a_id, b_id = people(2, seed=11)
    engine = b.engine(list_price=False)
    own, kept = submit_and_decide(shared, [
        b.consumer_application(external_ref="RS-A", borrower_id_number=a_id),
        b.consumer_application(external_ref="RS-B", borrower_id_number=b_id,
                               funder_code="BANK-B")], risk=engine)
    assert own.application.status is kept.application.status is ApplicationStatus.APPROVED
    _, mine = referrals.get_decision(system(shared)(), own.application.id)
    _, theirs = referrals.get_decision(system(shared)(), kept.application.id)
    # The same borrower risk: the insurer expects to lose 80 % as much where BANK-B keeps 20 %.
    assert (mine.detail["price"]["risk_share"], theirs.detail["price"]["risk_share"]) == (
        "0", "0.2")
    assert Decimal(theirs.detail["price"]["expected_loss"]) == Decimal(
        mine.detail["price"]["expected_loss"]) * Decimal("0.8")
    assert theirs.monthly_premium_rate < mine.monthly_premium_rate  # a lower price for it
    # The limits count what the insurer retains: the coverage share less the funder's.
    _, counters = decisions.limit_usage(system(shared)())
    used = {(c.dimension, c.key): c.used_fen for c in counters}
    assert used[(exposure.FUNDER, "BANK-A")] == mine.approved_fen
    assert used[(exposure.FUNDER, "BANK-B")] == exposure.retained_fen(
        theirs.approved_fen, Decimal("0.8"))
    recount = decisions.refresh_limits(system(shared)(), engine.params.limits, b.START)
    assert {(c.dimension, c.key): c.used_fen for c in recount} == used
