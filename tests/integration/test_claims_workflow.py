"""Claims as a workflow (issue 22), on SQLite and PostgreSQL: a funder's notice kept until its
trigger, idempotent by its reference; a duplicate declined with its evidence; automatic claims;
review with authority, a second approver and four-eyes; decline and appeal; recalculation
with its difference; the case reserve in the ledger equal to the claims' at every step; racing
notices and payments over HTTP with one effect and never a 5xx."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from tests import support
from xinbao import migrate
from xinbao.bootstrap import Container
from xinbao.claims import services as claims
from xinbao.claims.commands import (
    ApproveClaim,
    DeclineClaim,
    FileClaim,
    PayClaim,
    RecalculateClaim,
    RecordRecovery,
    ReviewClaim,
    SettleClaims,
)
from xinbao.claims.model import ClaimStatus, Exclusion, RightStatus
from xinbao.iam.model.security import Forbidden, Principal, Role
from xinbao.kernel.errors import Conflict, IllegalTransition, InvalidInput
from xinbao.ledger import model as accounts
from xinbao.ledger import services as ledger
from xinbao.loans.model import Loan
from xinbao.platform.database import create_db_engine
from xinbao.policy.model import Policy, PolicyStatus
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment, RunEndOfDay
from xinbao.simulation.identities import IdentityFactory

CALLERS = 20
_PEOPLE = IdentityFactory(22)


def someone() -> str:
    """Another borrower's valid ID number (each borrower's cover is capped)."""
    return _PEOPLE.resident_id(born_between=(date(1975, 1, 1), date(1985, 12, 31)))


@pytest.fixture
def container(decided_container: Container) -> Container:
    return decided_container


def staff(name: str, *roles: Role) -> Principal:
    return Principal("user", name, frozenset(roles))


def defaulted(container: Container, cmd: Any = None, *, paid: int = 3,
              ) -> tuple[Policy, Loan, date]:
    """An issued policy whose borrower paid its first ``paid`` installments (with their
    premium) and then stopped, and the day its trigger is reached. Three paid: no early
    default, so claim anti-fraud refers nothing."""
    policy = b.issued_policy(container.uow, cmd)
    with container.uow() as u:
        loan = u.loans.get(policy.loan_id)
        product = u.products.get(policy.product_code, policy.product_version)
    for i in loan.installments[:paid]:
        servicing.record_repayment(RecordRepayment(
            loan.id, i.number, i.due_date, i.principal_fen, i.interest_fen,
            f"TX-{loan.id}-{i.number}", premium_fen=policy.installment_with_vat_fen),
            container.uow())
    with container.uow() as u:
        loan = u.loans.get(policy.loan_id)
    default = loan.installments[paid].due_date
    return policy, loan, default + timedelta(days=product.claim_trigger_dpd)


def reserves_tie_out(container: Container) -> int:
    """The claim reserve in the ledger equals the sum of the claims' reserves (returned)."""
    with container.uow() as u:
        held = sum(c.reserve_fen for p in u.policies.list_by_status(PolicyStatus)
                   for c in u.claims.for_policy(p.id))
    tb = ledger.trial_balance(container.uow())
    assert tb.total == 0
    assert -tb.balance(accounts.CLAIM_RESERVE) == held
    return held


def events(container: Container, name: str, claim_id: int) -> list[str]:
    with container.uow() as u:
        return [r.actor for r in u.events.records(limit=10_000)
                if r.name == name and r.aggregate == "claim" and r.aggregate_id == claim_id]


def test_a_notice_before_the_trigger_is_kept_and_the_batch_approves_it_on_the_day(container):
    policy, _, trigger = defaulted(container)
    funder = Principal("client", "bank-a-api", frozenset({Role.FUNDER}), policy.funder_id)
    early = trigger - timedelta(days=20)

    kept = claims.file_claim(FileClaim(policy.id, early, reference="BANK-A-N-1"),
                             container.uow(funder))
    assert (kept.status, kept.source.value, kept.reserve_fen) == (ClaimStatus.NOTIFIED,
                                                                  "notice", 0)
    assert kept.reason_codes == ("CLM-TRIGGER-NOT-REACHED",)
    before = servicing.run_end_of_day(RunEndOfDay(trigger - timedelta(days=1)), container.uow())
    assert (before.claims_opened, before.claims_declined) == ([], [])
    on_the_day = servicing.run_end_of_day(RunEndOfDay(trigger), container.uow())

    assert on_the_day.claims_opened == on_the_day.claims_automatic == [kept.id]
    with container.uow() as u:
        claim = u.claims.get(kept.id)
        assessments = u.claims.assessments(kept.id)
        assert u.policies.get(policy.id).status is PolicyStatus.CLAIMED
    assert claim.status is ClaimStatus.APPROVED and claim.approvals == ("system:auto-claims",)
    assert claim.trigger_on == trigger and claim.reserve_fen == claim.amount_fen > 0
    assert [r.reason for r in assessments] == ["notice", "recheck"]
    assert not assessments[0].assessment.covered and assessments[1].assessment.covered
    assert reserves_tie_out(container) == claim.amount_fen


def test_the_same_notice_again_is_the_same_claim_and_another_one_a_declined_duplicate(
        decided_app, container):
    policy, _, trigger = defaulted(container)
    headers = support.bearer(support.api_token(container, "bank-a-api", ["funder"], "BANK-A"))
    client = TestClient(decided_app)
    body = {"policy_id": policy.id, "on": trigger.isoformat(), "reference": "N-1",
            "documents": [{"reference": "overdue-notice.pdf", "sha256": "ab" * 32}]}

    first = client.post("/v1/claims", json=body, headers=headers)
    again = client.post("/v1/claims", json=body, headers=headers)
    other = client.post("/v1/claims", json={**body, "reference": "N-2"}, headers=headers)
    missing = client.post("/v1/claims", json={**body, "reference": None}, headers=headers)

    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["status"] == "approved"
    assert other.json()["status"] == "declined"
    # The first claim was approved at once: the policy is claimed, and the claim stands.
    assert other.json()["reason_codes"] == ["CLM-NOT-IN-FORCE", "CLM-DUPLICATE"]
    (assessment,) = client.get(f"/v1/claims/{other.json()['id']}/assessments",
                               headers=headers).json()
    duplicate = next(c for c in assessment["checks"] if c["code"] == "CLM-DUPLICATE")
    assert duplicate["evidence"] == {"standing_claims": str(first.json()["id"])}
    assert missing.status_code == 422 and missing.json()["detail"][0]["type"] == "claim.reference"
    assert len(events(container, "ClaimNotified", first.json()["id"])) == 1
    with container.uow() as u:
        assert [d.reference for d in u.claims.documents(first.json()["id"])] == [
            "overdue-notice.pdf"]
    reserves_tie_out(container)


@pytest.mark.parametrize("exclusion", list(Exclusion))
def test_a_declared_exclusion_declines_with_its_code_and_what_shows_it(container, exclusion):
    policy, _, trigger = defaulted(container)
    adjuster = staff("qian.adj", Role.CLAIMS_ADJUSTER)

    claim = claims.file_claim(FileClaim(policy.id, trigger, {exclusion: "court file 123"}),
                              container.uow(adjuster))

    code = f"CLM-EXCLUSION-{exclusion.value.upper()}"
    assert (claim.status, claim.reason_codes, claim.amount_fen) == (
        ClaimStatus.DECLINED, (code,), 0)
    with container.uow() as u:
        (record,) = u.claims.assessments(claim.id)
    failed = [c for c in record.assessment.checks if not c.passed]
    assert [(c.code, dict(c.evidence)) for c in failed] == [
        (code, {"declared": exclusion.value, "shown_by": "court file 123"})]
    assert record.assessment.amount.payable_fen > 0  # the figures are kept all the same
    with pytest.raises(IllegalTransition):
        claims.pay_claim(PayClaim(claim.id, trigger), container.uow())
    assert reserves_tie_out(container) == 0


def test_a_notice_later_than_the_agreement_allows_is_declined_with_the_dates(container):
    policy, _, trigger = defaulted(container)
    funder = Principal("client", "bank-a-api", frozenset({Role.FUNDER}), policy.funder_id)

    late = claims.file_claim(FileClaim(policy.id, trigger + timedelta(days=31),
                                       reference="LATE-1"), container.uow(funder))

    assert late.reason_codes == ("CLM-NOTICE-LATE",)
    with container.uow() as u:
        (record,) = u.claims.assessments(late.id)
    check = next(c for c in record.assessment.checks if c.code == "CLM-NOTICE-LATE")
    assert check.evidence["trigger_on"] == trigger.isoformat()
    assert check.evidence["notice_days"] == 30


def test_above_the_automatic_limit_a_person_approves_with_authority_and_four_eyes(container):
    policy, _, trigger = defaulted(container, b.car_application())  # 120,000 yuan
    entered_by = staff("qian.adj", Role.CLAIMS_ADJUSTER)
    adjuster = staff("sun.adj", Role.CLAIMS_ADJUSTER)  # approves up to 50,000 yuan
    approver = staff("li.boss", Role.CLAIMS_APPROVER)  # up to 3,000,000 yuan
    payer = staff("zhou.pay", Role.CLAIMS_APPROVER)

    claim = claims.file_claim(FileClaim(policy.id, trigger), container.uow(entered_by))
    assert claim.status is ClaimStatus.UNDER_REVIEW and claim.amount_fen > 10_000_000
    assert reserves_tie_out(container) == claim.amount_fen
    with container.uow() as u:
        assert [c.id for c in u.claims.queue(funder_id=None, limit=10)] == [claim.id]

    with pytest.raises(Forbidden, match="four-eyes"):
        claims.approve_claim(ApproveClaim(claim.id, trigger), container.uow(entered_by))
    first = claims.approve_claim(ApproveClaim(claim.id, trigger, "checked the file"),
                                 container.uow(adjuster))
    assert first.status is ClaimStatus.UNDER_REVIEW and first.approvals == ("user:sun.adj",)
    with pytest.raises(Forbidden, match="four-eyes"):
        claims.approve_claim(ApproveClaim(claim.id, trigger), container.uow(adjuster))
    done = claims.approve_claim(ApproveClaim(claim.id, trigger, "second"),
                                container.uow(approver))
    assert done.status is ClaimStatus.APPROVED
    assert done.approvals == ("user:sun.adj", "user:li.boss")
    with pytest.raises(Forbidden, match="four-eyes"):
        claims.pay_claim(PayClaim(claim.id, trigger + timedelta(days=3)),
                         container.uow(approver))
    paid = claims.pay_claim(PayClaim(claim.id, trigger + timedelta(days=3)),
                            container.uow(payer))
    assert paid.status is ClaimStatus.PAID and paid.reserve_fen == 0
    assert reserves_tie_out(container) == 0
    tb = ledger.trial_balance(container.uow())
    # Paid once: what the loan owed at the trigger (principal and interest), not more.
    assert tb.balance(accounts.CLAIMS_PAID) == paid.amount_fen \
        <= paid.principal_fen + paid.interest_fen


def test_a_decline_names_what_it_found_and_an_appeal_reopens_the_claim(container):
    policy, _, trigger = defaulted(container, b.car_application())
    adjuster = staff("sun.adj", Role.CLAIMS_ADJUSTER)
    claim = claims.file_claim(FileClaim(policy.id, trigger), container.uow())
    assert claim.status is ClaimStatus.UNDER_REVIEW

    with pytest.raises(InvalidInput, match="decline names the exclusion"):
        claims.decline_claim(DeclineClaim(claim.id, trigger, "no"), container.uow(adjuster))
    declined = claims.decline_claim(DeclineClaim(
        claim.id, trigger, "the dealer's invoice was forged",
        {Exclusion.INSURED_FRAUD: "police report 2025-88"}), container.uow(adjuster))
    assert declined.status is ClaimStatus.DECLINED and declined.reserve_fen == 0
    assert reserves_tie_out(container) == 0

    appealed = claims.review_claim(ReviewClaim(claim.id, trigger + timedelta(days=10),
                                               "the funder appealed: the invoice is genuine"),
                                   container.uow(adjuster))
    assert appealed.status is ClaimStatus.UNDER_REVIEW and appealed.reason_codes == ()
    assert appealed.reserve_fen == appealed.amount_fen > 0
    assert reserves_tie_out(container) == appealed.amount_fen
    with container.uow() as u:
        assert [r.reason for r in u.claims.assessments(claim.id)] == [
            "manual", "review", "appeal"]
    assert events(container, "ClaimReopened", claim.id) == ["user:sun.adj"]


def test_a_recalculation_after_the_funder_corrects_its_data_keeps_the_difference(container):
    policy, loan, trigger = defaulted(container, b.car_application())
    claim = claims.file_claim(FileClaim(policy.id, trigger), container.uow())
    first = loan.installments[3]  # the first unpaid: its interest, reported late
    servicing.record_repayment(RecordRepayment(
        loan.id, 4, first.due_date + timedelta(days=5), 0, first.interest_fen, "TX-LATE-1"),
        container.uow())

    again = claims.recalculate_claim(RecalculateClaim(claim.id, trigger + timedelta(days=2)),
                                     container.uow())

    with container.uow() as u:
        records = u.claims.assessments(claim.id)
    assert [r.reason for r in records] == ["manual", "recalculation"]
    assert claim.amount_fen - again.amount_fen == first.interest_fen  # coverage share 1
    assert records[-1].difference_fen == again.amount_fen - claim.amount_fen
    assert again.reserve_fen == again.amount_fen
    assert reserves_tie_out(container) == again.amount_fen
    assert again.status is ClaimStatus.UNDER_REVIEW  # still for a person


def test_a_paid_claims_amount_is_fixed_and_a_paid_claim_is_not_declined(container):
    policy, _, trigger = defaulted(container)
    claim = claims.file_claim(FileClaim(policy.id, trigger), container.uow())
    claims.pay_claim(PayClaim(claim.id, trigger), container.uow())
    with pytest.raises(Conflict, match="fixed"):
        claims.recalculate_claim(RecalculateClaim(claim.id, trigger), container.uow())
    with pytest.raises(Conflict, match="cannot be declined"):
        claims.decline_claim(DeclineClaim(claim.id, trigger, "late"), container.uow())


def test_racing_notices_of_one_reference_make_one_claim_without_a_5xx(decided_app, container):
    policy, _, trigger = defaulted(container)
    headers = support.bearer(support.api_token(container, "bank-a-api", ["funder"], "BANK-A"))
    body = {"policy_id": policy.id, "on": trigger.isoformat(), "reference": "RACE-1"}

    def send(_: int) -> Any:
        return TestClient(decided_app, raise_server_exceptions=False).post(
            "/v1/claims", json=body, headers=headers)

    answers = support.race(CALLERS, send)

    assert sorted(a.status_code for a in answers) == [201] * CALLERS
    assert len({a.json()["id"] for a in answers}) == 1
    with container.uow() as u:
        assert len(u.claims.for_policy(policy.id)) == 1
    assert len(events(container, "ClaimNotified", answers[0].json()["id"])) == 1
    assert reserves_tie_out(container) == answers[0].json()["amount_fen"]


def test_fifty_racing_payments_pay_once_within_what_is_owed_without_a_5xx(decided_app,
                                                                            container):
    policy, _, trigger = defaulted(container)
    claim = claims.file_claim(FileClaim(policy.id, trigger), container.uow())
    assert claim.status is ClaimStatus.APPROVED
    headers = support.bearer(support.api_token(container, "payer", ["claims_approver"]))
    body = {"on": (trigger + timedelta(days=5)).isoformat()}

    def send(_: int) -> Any:
        return TestClient(decided_app, raise_server_exceptions=False).post(
            f"/v1/claims/{claim.id}/pay", json=body, headers=headers)

    answers = support.race(50, send)

    assert sorted(a.status_code for a in answers) == [200] * 50
    assert {a.json()["status"] for a in answers} == {"paid"}
    assert len(events(container, "ClaimPaid", claim.id)) == 1
    tb = ledger.trial_balance(container.uow())
    assert tb.total == 0
    assert tb.balance(accounts.CLAIMS_PAID) == claim.amount_fen \
        <= min(claim.principal_fen + claim.interest_fen, policy.principal_insured_fen)
    assert reserves_tie_out(container) == 0
    assert len(events(container, "RecoveryRightCreated", claim.id)) == 1
    with container.uow() as u:
        rights = u.recoveries.rights(status=None, funder_id=None, limit=10)
    assert [(r.right.claim_id, r.right.amount_fen) for r in rights] == [
        (claim.id, claim.amount_fen)]


def test_payment_hands_the_recovery_right_to_collection_and_recovery_closes_it(container):
    policy, loan, trigger = defaulted(container)
    claim = claims.file_claim(FileClaim(policy.id, trigger), container.uow())
    paid_on = trigger + timedelta(days=3)
    claim = claims.pay_claim(PayClaim(claim.id, paid_on), container.uow(
        staff("li.na", Role.CLAIMS_APPROVER)))
    with container.uow() as u:
        right = u.recoveries.right_for(claim.id)
        open_rights = u.recoveries.rights(status=RightStatus.OPEN, funder_id=policy.funder_id,
                                          limit=10)
    assert right is not None and right.status is RightStatus.OPEN
    assert (right.policy_id, right.loan_id, right.application_id, right.opened_on) == (
        policy.id, loan.id, policy.application_id, paid_on)
    assert (right.amount_fen, right.principal_fen, right.interest_fen) == (
        claim.amount_fen, claim.principal_fen, claim.interest_fen)
    assert [(r.right.id, r.recovered_fen, r.policy_no, r.contract_no) for r in open_rights] \
        == [(right.id, 0, policy.policy_no, loan.contract_no)]
    collector = container.uow(staff("zhou.col", Role.COLLECTOR))
    claims.record_recovery(RecordRecovery(claim.id, 100_000, paid_on + timedelta(days=30),
                                          "borrower", "RC-1"), collector)
    with container.uow() as u:
        assert u.recoveries.right_for(claim.id).status is RightStatus.OPEN
        assert u.recoveries.rights(status=None, funder_id=None, limit=5)[0].recovered_fen \
            == 100_000
    claims.record_recovery(RecordRecovery(claim.id, 50_000, paid_on + timedelta(days=60),
                                          "borrower", "RC-2", final=True),
                           container.uow(staff("zhou.col", Role.COLLECTOR)))
    with container.uow() as u:
        closed = u.recoveries.right_for(claim.id)
        assert u.recoveries.rights(status=RightStatus.OPEN, funder_id=None, limit=5) == []
    assert closed.status is RightStatus.CLOSED
    assert closed.closed_on == paid_on + timedelta(days=60)
    assert len(events(container, "RecoveryRightClosed", claim.id)) == 1


def test_claims_paid_before_recovery_rights_existed_get_theirs_from_the_migration(container):
    policy, loan, trigger = defaulted(container)
    claim = claims.file_claim(FileClaim(policy.id, trigger), container.uow())
    claims.pay_claim(PayClaim(claim.id, trigger + timedelta(days=3)),
                     container.uow(staff("li.na", Role.CLAIMS_APPROVER)))
    with container.uow() as u:
        made = u.recoveries.right_for(claim.id)
        limits = [a.assessment.amount.limit_fen for a in u.claims.assessments(claim.id)]
    engine = create_db_engine(container.settings.database_url)
    migrate.downgrade(engine, "0018")
    migrate.upgrade(engine)
    engine.dispose()
    with container.uow() as u:
        again = u.recoveries.right_for(claim.id)
        # 0019 gives each assessment the sum insured as it then stood: the principal (the
        # interest insured came with 0027); this claim was limited by both.
        assert [a.assessment.amount.limit_fen for a in u.claims.assessments(claim.id)] \
            == [policy.principal_insured_fen]
        assert limits == [u.policies.get(policy.id).sum_insured_fen] > [
            policy.principal_insured_fen]
    assert made is not None and again is not None
    assert (again.claim_id, again.policy_id, again.loan_id, again.application_id,
            again.opened_on, again.amount_fen, again.principal_fen, again.interest_fen,
            again.status) == (made.claim_id, made.policy_id, made.loan_id, made.application_id,
                              made.opened_on, made.amount_fen, made.principal_fen,
                              made.interest_fen, made.status)


def test_a_payment_batch_pays_the_cycles_approved_claims_once_and_ties_out(decided_app,
                                                                           container):
    approved = [defaulted(container, b.consumer_application(
        external_ref=f"BATCH-{n}", borrower_id_number=someone())) for n in range(2)]
    refused, _, trigger = defaulted(container, b.consumer_application(
        external_ref="BATCH-X", borrower_id_number=someone()))
    queued, _, car_trigger = defaulted(container, b.car_application(borrower_id_number=someone()))
    paid_claims = [claims.file_claim(FileClaim(p.id, t), container.uow()) for p, _, t in approved]
    claims.file_claim(FileClaim(refused.id, trigger, {Exclusion.FORCE_MAJEURE: "flood"}),
                      container.uow())
    claims.file_claim(FileClaim(queued.id, car_trigger), container.uow())
    pay_day = max(trigger, car_trigger) + timedelta(days=31)
    payer = staff("zhou.pay", Role.CLAIMS_APPROVER)

    batch = claims.settle_claims(SettleClaims("BANK-A", pay_day), container.uow(payer))
    again = claims.settle_claims(SettleClaims("BANK-A", pay_day), container.uow(payer))

    s = batch.settlement
    assert not batch.repeat and again.repeat and again.settlement == s
    assert [line.claim.id for line in batch.lines] == [c.id for c in paid_claims]
    assert s.number == f"ST-BANK-A-{s.cycle_to:%Y%m%d}" and s.cycle_to <= pay_day
    assert (s.claims, s.total_fen) == (2, sum(c.amount_fen for c in paid_claims))
    with container.uow() as u:
        states = {p.id: u.claims.for_policy(p.id)[0].status
                  for p in (*[p for p, _, _ in approved], refused, queued)}
        bank_postings = sum(-line.amount_fen for e in u.ledger.entries()
                            if e.source_command == "PayClaim" for line in e.lines
                            if line.account == accounts.BANK)
    assert states == {approved[0][0].id: ClaimStatus.PAID, approved[1][0].id: ClaimStatus.PAID,
                      refused.id: ClaimStatus.DECLINED, queued.id: ClaimStatus.UNDER_REVIEW}
    # Claims paid per funder = the statement's total = the bank postings.
    tb = ledger.trial_balance(container.uow())
    assert tb.balance(accounts.CLAIMS_PAID) == s.total_fen == bank_postings
    assert len(events(container, "ClaimPaid", paid_claims[0].id)) == 1
    assert reserves_tie_out(container) > 0  # the car claim in review holds its reserve

    headers = support.bearer(support.api_token(container, "bank-a-api", ["funder"], "BANK-A"))
    client = TestClient(decided_app)
    csv_answer = client.get(f"/v1/claim-settlements/{s.id}/statement.csv", headers=headers)
    pdf_answer = client.get(f"/v1/claim-settlements/{s.id}/statement.pdf", headers=headers)
    assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith(
        "text/csv")
    rows = csv_answer.content.decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + 2 + 1  # heading, the two claims, the total
    assert rows[-1].endswith(f"{s.total_fen // 100}.{s.total_fen % 100:02d}")
    assert pdf_answer.status_code == 200 and pdf_answer.content.startswith(b"%PDF")
    # Another funder's batches are not found (test_api_security.py); nor is one never made.
    assert client.get(f"/v1/claim-settlements/{s.id + 1}", headers=headers).status_code == 404


def test_a_payment_batch_refuses_a_payer_who_approved_one_of_its_claims(container):
    policy, _, trigger = defaulted(container, b.car_application())
    adjuster = staff("sun.adj", Role.CLAIMS_ADJUSTER)
    approver = staff("li.boss", Role.CLAIMS_APPROVER)
    claim = claims.file_claim(FileClaim(policy.id, trigger), container.uow())
    claims.approve_claim(ApproveClaim(claim.id, trigger), container.uow(adjuster))
    claims.approve_claim(ApproveClaim(claim.id, trigger), container.uow(approver))

    with pytest.raises(Forbidden, match="four-eyes"):
        claims.settle_claims(SettleClaims("BANK-A", trigger + timedelta(days=31)),
                             container.uow(approver))
    with container.uow() as u:
        assert u.claims.get(claim.id).status is ClaimStatus.APPROVED
        assert u.settlements.for_cycle(policy.funder_id, trigger) is None
    with pytest.raises(InvalidInput, match="first settlement cycle"):
        claims.settle_claims(SettleClaims("BANK-A", date(2000, 1, 1)), container.uow())


def test_a_first_payment_default_is_referred_to_a_person_with_its_evidence(container):
    policy, loan, trigger = defaulted(container, paid=0)

    report = servicing.run_end_of_day(RunEndOfDay(trigger), container.uow())

    (claim_id,) = report.claims_opened
    assert report.claims_automatic == []
    with container.uow() as u:
        claim = u.claims.get(claim_id)
        (record,) = u.claims.assessments(claim_id)
    assert claim.status is ClaimStatus.UNDER_REVIEW and claim.referrals == ("CLM-FRAUD-FPD",)
    assert record.assessment.covered
    assert [(r.code, dict(r.evidence)) for r in record.assessment.referrals] == [
        ("CLM-FRAUD-FPD", {"installment": 1,
                           "due_date": loan.installments[0].due_date.isoformat()})]
    assert reserves_tie_out(container) == claim.amount_fen
    approver = staff("li.boss", Role.CLAIMS_APPROVER)
    approved = claims.approve_claim(ApproveClaim(claim_id, trigger, "the borrower died"),
                                    container.uow(approver))
    assert approved.status is ClaimStatus.APPROVED


def test_a_second_notice_on_a_policy_is_referred_as_repeated(container):
    policy, _, trigger = defaulted(container, b.car_application())
    funder = Principal("client", "bank-a-api", frozenset({Role.FUNDER}), policy.funder_id)
    early = claims.file_claim(FileClaim(policy.id, trigger - timedelta(days=5),
                                        reference="R-1", exclusions={}), container.uow(funder))
    assert early.status is ClaimStatus.NOTIFIED
    adjuster = staff("sun.adj", Role.CLAIMS_ADJUSTER)
    claims.decline_claim(DeclineClaim(early.id, trigger, "the notice was premature",
                                      {Exclusion.FORCE_MAJEURE: "the bank's own letter"}),
                         container.uow(adjuster))

    again = claims.file_claim(FileClaim(policy.id, trigger, reference="R-2"),
                              container.uow(funder))

    assert again.status is ClaimStatus.UNDER_REVIEW
    assert again.referrals == ("CLM-FRAUD-NOTICES",)


def test_the_notice_limit_and_premium_grace_are_the_funders_agreement_terms(container):
    from xinbao.catalogue import services as catalogue
    from xinbao.catalogue.commands import AmendAgreement

    policy, _, trigger = defaulted(container)
    amended = catalogue.amend_agreement(AmendAgreement(
        "BANK-A", on=trigger - timedelta(days=40), claim_notice_days=10,
        premium_grace_days=0), container.uow())
    assert (amended.agreement.claim_notice_days, amended.agreement.premium_grace_days) == (10, 0)
    funder = Principal("client", "bank-a-api", frozenset({Role.FUNDER}), policy.funder_id)

    late = claims.file_claim(FileClaim(policy.id, trigger + timedelta(days=11),
                                       reference="LATE-10"), container.uow(funder))

    assert late.reason_codes == ("CLM-NOTICE-LATE",)
    with container.uow() as u:
        (record,) = u.claims.assessments(late.id)
    checks = {c.code: c for c in record.assessment.checks}
    assert checks["CLM-NOTICE-LATE"].evidence["notice_days"] == 10
    assert checks["CLM-PREMIUM-UNPAID"].evidence["grace_days"] == 0
    with pytest.raises(InvalidInput, match="0 to 365"):
        catalogue.amend_agreement(AmendAgreement("BANK-A", on=trigger, claim_notice_days=400),
                                  container.uow())


def test_the_funders_risk_share_of_each_loss_is_its_own(container):
    from dataclasses import replace as changed
    from decimal import Decimal

    from xinbao.catalogue import services as catalogue

    catalogue.register_funder(changed(b.bank("BANK-B"), risk_share=Decimal("0.25")),
                              container.uow())
    policy, claim, _ = b.claimed_after_three_installments(container.uow, b.consumer_application(
        funder_code="BANK-B", external_ref="RS-1", borrower_id_number=someone()))
    with container.uow() as u:
        assessed = u.claims.assessments(claim.id)[-1].assessment.amount
    assert assessed.share == policy.coverage_share * Decimal("0.75")
    owed = assessed.principal_fen + assessed.interest_fen
    assert claim.amount_fen == assessed.payable_fen < owed * policy.coverage_share
