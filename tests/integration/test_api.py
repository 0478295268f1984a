"""The REST API over a real database: the thin lifecycle, refusals, statuses, idempotency and
masking, once per backend (SQLite always, PostgreSQL when ``XINBAO_TEST_POSTGRES_URL`` is set).

Requests go through ``TestClient`` to the app built by the composition root; what was written
is checked through the unit of work, never through the routes under test.
"""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from tests import support
from xinbao import migrate
from xinbao.bootstrap import Container, bootstrap
from xinbao.claims import services as claims
from xinbao.claims.commands import ApproveClaim, PayClaim
from xinbao.entrypoints.api.app import create_app, settle
from xinbao.entrypoints.api.deps import utcnow
from xinbao.iam import services as accounts
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RunEndOfDay
from xinbao.underwriting import services as applications

UNLICENSED = replace(b.bank("BANK-U", licensed=False), credit_code=b.CREDIT_CODE_CFC)
UNKNOWN_ID = 987_654
PAID_INSTALLMENTS = 3  # the borrower pays these, then stops

# Masked forms (JR/T 0171-2020; PCI DSS 3.4.1): ID 6 + 4, phone 3 + **** + 4, card 6 + 4.
MASKED_ID = b.RESIDENT_ID_2[:6] + "*" * 8 + b.RESIDENT_ID_2[-4:]
MASKED_PHONE = b.PHONE[:3] + "****" + b.PHONE[-4:]
MASKED_CARD = b.BANK_CARD[:6] + "*" * (len(b.BANK_CARD) - 10) + b.BANK_CARD[-4:]


@pytest.fixture
def container(database_url: str) -> Iterator[Container]:
    c = bootstrap(support.settings(database_url))
    c.risk = b.engine()
    b.seed(c.uow, funders=(b.bank(), UNLICENSED))
    yield c
    c.close()


#: Who does what in these tests, as at an insurer: an underwriter keys applications in,
#: operations staff approve, issue, service and run the batch, and a claims approver (never
#: the one who opened a claim: four-eyes) pays.
STAFF = {
    "underwriter": ["underwriter"],
    "ops": ["underwriting_approver", "finance", "risk_manager", "claims_adjuster",
            "collector", "auditor"],
    "claims-approver": ["claims_approver"],
}


class StaffClient(TestClient):
    """A TestClient that sends each request with the token of the staff member who would
    make it (see STAFF)."""

    tokens: dict[str, str]

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        path = str(url)
        who = ("underwriter" if method.upper() == "POST"
               and path in ("/v1/applications", "/v1/applications/batch")
               else "claims-approver" if path.startswith("/v1/claims/") and path.endswith("/pay")
               else "ops")
        headers = {**support.bearer(self.tokens[who]), **(kwargs.pop("headers", None) or {})}
        return super().request(method, url, headers=headers, **kwargs)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with StaffClient(create_app(container)) as test_client:
        test_client.tokens = {name: support.api_token(container, name, roles)
                              for name, roles in STAFF.items()}
        yield test_client


def application_body(**changes: Any) -> dict[str, Any]:
    """The JSON of ``builders.consumer_application()``: valid unless a test changes a field."""
    return {
        "funder_code": "BANK-A", "external_ref": "APP-0001", "product_code": "CONSUMER-G",
        "borrower_kind": "individual", "borrower_name": "张三",
        "borrower_id_number": b.RESIDENT_ID_2, "borrower_phone": b.PHONE,
        "borrower_bank_card": b.BANK_CARD, "amount_fen": 3_600_000, "term_months": 12,
        "annual_rate": "0.12", "repayment_method": "equal_installment",
        "applied_on": b.START.isoformat(), "monthly_income_fen": b.INCOME_FEN,
        "employment": "salaried",
        "evidence": [{"kind": e.kind.value, "reference": e.reference, "sha256": e.sha256}
                     for e in b.evidence()], **changes,
    }


@dataclass(frozen=True)
class Written:
    """How much is stored: compared before and after a refused request."""

    applications: int
    ledger_entries: int
    events: int


def written(container: Container) -> Written:
    with container.uow() as u:
        return Written(u.applications.count(), len(u.ledger.entries()), len(u.events.list()))


def repayment_body(installment: dict[str, Any], *, premium_fen: int = 0,
                   reference: str | None = None) -> dict[str, Any]:
    return {"installment_number": installment["number"], "paid_on": installment["due_date"],
            "principal_fen": installment["principal_fen"],
            "interest_fen": installment["interest_fen"], "premium_fen": premium_fen,
            "reference": reference or f"TX-{installment['number']}"}


def claimed_loan(container: Container) -> tuple[int, int]:
    """An issued consumer loan never repaid, claimed at the trigger and paid: (loan, claim)."""
    policy = b.issued_policy(container.uow)
    assert policy.loan_id is not None
    with container.uow() as u:
        loan = u.loans.get(policy.loan_id)
    assert loan is not None
    on = loan.installments[0].due_date + timedelta(days=80)  # CONSUMER-G's trigger
    report = servicing.run_end_of_day(RunEndOfDay(on), container.uow())
    (claim_id,) = report.claims_opened
    # A first-payment default: referred to a person, approved, then paid.
    claims.approve_claim(ApproveClaim(claim_id, on, "reviewed"), container.uow())
    claims.pay_claim(PayClaim(claim_id, on), container.uow())
    return policy.loan_id, claim_id


def test_health_reports_ok_with_the_schema_at_the_newest_revision(client: TestClient) -> None:
    health = client.get("/health").json()

    assert health == {"status": "ok", "database": "ok",
                      "schema_revision": migrate.head_revision(), "schema_current": True}


def test_openapi_lists_every_endpoint_of_the_lifecycle(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    for path, method in [
        ("/v1/applications", "post"), ("/v1/applications/{application_id}", "get"),
        ("/v1/applications/{application_id}/approve", "post"),
        ("/v1/applications/approve", "post"),
        ("/v1/policies/{policy_id}/issue", "post"), ("/v1/policies/{policy_id}", "get"),
        ("/v1/loans/{loan_id}", "get"), ("/v1/loans/{loan_id}/repayments", "post"),
        ("/v1/batch/end-of-day", "post"), ("/v1/claims", "post"),
        ("/v1/claims/{claim_id}", "get"), ("/v1/claims/{claim_id}/pay", "post"),
        ("/v1/claims/{claim_id}/recoveries", "post"), ("/v1/ledger/trial-balance", "get"),
        ("/v1/kpis", "get"), ("/health", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from OpenAPI"


def test_an_application_posted_over_http_is_stored_and_answered_masked(
        client: TestClient, container: Container) -> None:
    response = client.post("/v1/applications", json=application_body())

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "submitted"
    assert created["annual_rate"] == "0.12"
    assert (created["borrower_id_number"], created["borrower_phone"],
            created["borrower_bank_card"]) == (MASKED_ID, MASKED_PHONE, MASKED_CARD)
    assert (created["policyholder"], created["insured"]) == ("debtor", "creditor")
    with container.uow() as u:
        stored = u.applications.get(created["id"])
    assert stored is not None and stored.external_ref == "APP-0001"
    assert client.get(f"/v1/applications/{created['id']}").json() == created


def test_a_funder_registered_over_http_is_stored(client: TestClient,
                                                 container: Container) -> None:
    response = client.post("/v1/funders", json={
        "code": "CFC-1", "name": "示例消费金融有限公司", "credit_code": b.CREDIT_CODE_CFC,
        "kind": "consumer_finance", "licensed": True, "commission_rate": "0.05",
        "products": ["CONSUMER-G"]})

    assert response.status_code == 201, response.text
    assert response.json()["commission_rate"] == "0.05"
    assert response.json()["products"] == ["CONSUMER-G"]
    with container.uow() as u:
        assert u.funders.get_by_code("CFC-1").products == ("CONSUMER-G",)
    unknown = client.post("/v1/funders", json={
        "code": "CFC-2", "name": "示例消费金融有限公司", "credit_code": b.CREDIT_CODE_CFC,
        "kind": "consumer_finance", "licensed": True, "commission_rate": "0.05",
        "products": ["TRAVEL-X"]})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["type"] == "product.known"
    car = client.post("/v1/applications", json=application_body(
        funder_code="CFC-1", external_ref="CFC-CAR", product_code="CAR-G",
        amount_fen=10_000_000))
    assert car.status_code == 422
    assert {"loc": ["body", "product_code"], "type": "funder.agreement"} in [
        {"loc": d["loc"], "type": d["type"]} for d in car.json()["detail"]]


@pytest.mark.parametrize("submitted_via", [
    pytest.param("http"),
    "service",  # the funder's file, through the use case: the rest still runs over HTTP
])
def test_a_defaulted_loan_is_claimed_paid_and_recovered_over_http_with_a_balanced_ledger(
        client: TestClient, container: Container, submitted_via: str) -> None:
    if submitted_via == "http":
        response = client.post("/v1/applications", json=application_body())
        assert response.status_code == 201, response.text
        application_id = response.json()["id"]
    else:
        application_id = applications.submit_application(b.consumer_application(),
                                                         container.uow()).id
    product = next(p for p in client.get("/v1/products").json() if p["code"] == "CONSUMER-G")
    assert (product["claim_trigger_dpd"], product["coverage_share"]) == (80, "1")

    decision = client.post(f"/v1/applications/{application_id}/approve",
                           json={"on": b.START.isoformat()})
    assert decision.status_code == 200, decision.text
    assert decision.json()["approved"] is True
    assert decision.json()["application"]["status"] == "approved"
    quote = decision.json()["policy"]
    # CONSUMER-G: 0.60 % a month on the sum insured, with each installment.
    assert quote["status"] == "quoted"
    assert quote["installment_premium_fen"] == 21_600
    assert quote["total_premium_fen"] == 12 * 21_600

    issued = client.post(f"/v1/policies/{quote['id']}/issue", json={
        "contract_no": "LN-0001", "disbursed_on": b.START.isoformat()})
    assert issued.status_code == 200, issued.text
    policy = issued.json()
    assert policy["status"] == "in_force"
    assert (policy["start_date"], policy["end_date"]) == ("2025-01-15", "2026-01-15")
    loan_id = policy["loan_id"]
    schedule = client.get(f"/v1/loans/{loan_id}").json()["schedule"]
    assert len(schedule) == 12 and sum(i["principal_fen"] for i in schedule) == 3_600_000
    # The sum insured (保险金额): the principal and the interest the schedule bears.
    interest = sum(i["interest_fen"] for i in schedule)
    assert (policy["principal_insured_fen"], policy["interest_insured_fen"]) == (
        3_600_000, interest)
    assert policy["sum_insured_fen"] == 3_600_000 + interest > 3_600_000

    for installment in schedule[:PAID_INSTALLMENTS]:
        paid = client.post(f"/v1/loans/{loan_id}/repayments", json=repayment_body(
            installment, premium_fen=policy["installment_premium_fen"]
            + policy["installment_vat_fen"]))
        assert paid.status_code == 201, paid.text
        assert paid.json()["principal_fen"] == installment["principal_fen"]

    first_missed = date.fromisoformat(schedule[PAID_INSTALLMENTS]["due_date"])
    trigger_day = first_missed + timedelta(days=product["claim_trigger_dpd"])
    day_before = client.post("/v1/batch/end-of-day",
                             json={"on": (trigger_day - timedelta(days=1)).isoformat()})
    assert day_before.status_code == 200, day_before.text
    assert day_before.json()["claims_opened"] == []

    batch = client.post("/v1/batch/end-of-day", json={"on": trigger_day.isoformat()}).json()
    assert batch["claims_declined"] == []
    (claim_id,) = batch["claims_opened"]
    claim = client.get(f"/v1/claims/{claim_id}").json()
    outstanding = sum(i["principal_fen"] for i in schedule[PAID_INSTALLMENTS:])
    overdue_interest = sum(i["interest_fen"] for i in schedule[PAID_INSTALLMENTS:]
                           if date.fromisoformat(i["due_date"]) < trigger_day)
    assert claim["status"] == "approved"  # within the automatic limit: approved at once
    assert claim["source"] == "trigger" and claim["approvals"] == ["system:auto-claims"]
    assert batch["claims_automatic"] == [claim_id]
    assert claim["reserve_fen"] == claim["amount_fen"]
    assert claim["days_past_due"] == 80
    assert (claim["principal_fen"], claim["interest_fen"]) == (outstanding, overdue_interest)
    assert claim["amount_fen"] == outstanding + overdue_interest  # coverage share 1
    position = client.get(f"/v1/loans/{loan_id}",
                          params={"as_of": trigger_day.isoformat()}).json()["position"]
    assert position["days_past_due"] == 80
    assert claim["amount_fen"] == (position["outstanding_principal_fen"]
                                   + position["overdue_interest_fen"])
    assert client.get(f"/v1/policies/{quote['id']}").json()["status"] == "claimed"

    paid_on = trigger_day + timedelta(days=7)
    payment = client.post(f"/v1/claims/{claim_id}/pay", json={"on": paid_on.isoformat()})
    assert payment.status_code == 200, payment.text
    assert (payment.json()["status"], payment.json()["paid_on"]) == ("paid", paid_on.isoformat())
    assert client.get(f"/v1/loans/{loan_id}").json()["status"] == "claimed"

    recovery = client.post(f"/v1/claims/{claim_id}/recoveries", json={
        "amount_fen": 500_000, "received_on": (paid_on + timedelta(days=30)).isoformat(),
        "source": "borrower", "reference": "RC-0001"})
    assert recovery.status_code == 201, recovery.text
    assert client.get(f"/v1/claims/{claim_id}").json()["recovered_fen"] == 500_000

    tb = client.get("/v1/ledger/trial-balance").json()
    assert tb["balanced"] is True
    assert tb["total_debit_fen"] == tb["total_credit_fen"]
    rows = {r["account"]: r for r in tb["rows"]}
    assert rows["6511"]["debit_fen"] == claim["amount_fen"]  # claims paid
    assert rows["6513"]["credit_fen"] == 500_000  # recoveries
    assert rows["2602"]["credit_fen"] == 0  # the reserve was released on payment

    installments_due = sum(1 for i in schedule if date.fromisoformat(i["due_date"]) <= trigger_day)
    kpis = client.get("/v1/kpis").json()
    assert kpis["written_premium_fen"] == installments_due * policy["installment_premium_fen"]
    assert kpis["claims_paid_fen"] == claim["amount_fen"]
    assert kpis["recoveries_fen"] == 500_000
    assert kpis["claims_incurred_fen"] == claim["amount_fen"] - 500_000
    assert (kpis["applications"], kpis["policies"]) == (1, 1)
    assert kpis["policies_by_status"] == {"claimed": 1}
    assert kpis["trial_balance_total_fen"] == 0


def refusal(changes: dict[str, Any], field: str, rule: str, name: str) -> Any:
    """A case refused by the use case: the field in `loc`, the rule in `type`."""
    return pytest.param(changes, ["body", field], rule, id=name)


def test_collateral_that_does_not_describe_its_kind_is_refused_naming_the_missing_fields(
        client: TestClient, container: Container) -> None:
    before = written(container)
    response = client.post("/v1/applications", json=application_body(
        product_code="CAR-G", amount_fen=10_000_000,
        collateral={"kind": "car", "new_price_fen": 20_000_000}))
    assert response.status_code == 422, response.text
    assert {tuple(d["loc"]) for d in response.json()["detail"]} == {
        ("body", "collateral", "brand_tier"), ("body", "collateral", "first_registered")}
    assert written(container) == before


@pytest.mark.parametrize(("changes", "loc"), [
    pytest.param({"evidence": [{"kind": "consent", "reference": "r", "sha256": "abc"}]},
                 ["body", "evidence", 0, "sha256"], id="short-sha256"),
    pytest.param({"evidence": [{"kind": "selfie", "reference": "r", "sha256": "a" * 64}]},
                 ["body", "evidence", 0, "kind"], id="unknown-evidence-kind"),
    pytest.param({"collateral": {"kind": "house", "appraised_fen": 1, "city_tier": 9}},
                 ["body", "collateral", "city_tier"], id="city-tier-out-of-range"),
    pytest.param({"monthly_income_fen": -1}, ["body", "monthly_income_fen"],
                 id="negative-income"),
])
def test_malformed_evidence_collateral_or_income_is_refused_with_the_field_named(
        client: TestClient, container: Container, changes: dict[str, Any],
        loc: list[Any]) -> None:
    before = written(container)
    response = client.post("/v1/applications", json=application_body(**changes))
    assert response.status_code == 422, response.text
    assert loc in [d["loc"] for d in response.json()["detail"]]
    assert written(container) == before


def test_the_decision_is_read_back_with_its_reasons_limit_and_price(
        client: TestClient, container: Container) -> None:
    app_id = client.post("/v1/applications", json=application_body(
        amount_fen=30_000_000)).json()["id"]
    decided = client.post(f"/v1/applications/{app_id}/approve", json={"on": "2025-01-15"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["outcome"] == "approve_changed"
    record = client.get(f"/v1/applications/{app_id}/decision")
    assert record.status_code == 200, record.text
    body = record.json()
    assert body["outcome"] == "approve_changed" and body["final"] is True
    assert body["approved_fen"] < 30_000_000 == body["requested_fen"]
    assert "LIM-INCOME-DSR" in body["limit"]["binding"]
    assert body["price"]["annual_rate"] == body["annual_premium_rate"]
    assert body["inputs"]["monthly_income_yuan"] == 20_000.0
    assert body["bureau"]["status"] == "ok"
    policy = decided.json()["policy"]
    assert policy["principal_insured_fen"] == body["approved_fen"]
    assert client.get(f"/v1/applications/{UNKNOWN_ID}/decision").status_code == 404


def test_a_batch_of_applications_is_decided_in_one_request_in_the_order_asked(
        client: TestClient, container: Container) -> None:
    first, second, third = (client.post("/v1/applications", json=application_body(
        external_ref=f"APP-B{i}", borrower_id_number=number)).json()["id"]
        for i, number in enumerate((b.RESIDENT_ID, b.RESIDENT_ID_2, "310104198505203824")))
    refused = client.post("/v1/applications/approve", json={
        "application_ids": [third, UNKNOWN_ID], "on": "2025-01-15"})
    assert refused.status_code == 404
    assert client.get(f"/v1/applications/{third}").json()["status"] == "submitted"
    for bad in ({"application_ids": []}, {"application_ids": [0]},
                {"application_ids": list(range(1, 502))}, {"application_ids": ["x"]}):
        assert client.post("/v1/applications/approve", json=bad).status_code == 422, bad
    decided = client.post("/v1/applications/approve", json={
        "application_ids": [second, first, second], "on": "2025-01-15"})
    assert decided.status_code == 200, decided.text
    answers = decided.json()["decisions"]
    assert [a["application"]["id"] for a in answers] == [second, first, second]
    assert all(a["outcome"] == "approve" and a["policy"] for a in answers)
    assert answers[0]["application"]["borrower_id_number"] != b.RESIDENT_ID_2  # masked
    assert client.get(f"/v1/applications/{first}/decision").json()["outcome"] == "approve"
    single = client.post(f"/v1/applications/{first}/approve", json={"on": "2025-01-15"})
    assert single.json()["policy"] == answers[1]["policy"]  # decided before: the same answer


def test_a_referral_is_queued_and_approved_by_a_reviewer_over_http(
        client: TestClient, container: Container) -> None:
    container.risk = b.engine(scorer=b.FixedScorer("0.15"))
    app_id = client.post("/v1/applications", json=application_body()).json()["id"]
    decided = client.post(f"/v1/applications/{app_id}/approve", json={"on": "2025-01-15"})
    assert decided.json()["outcome"] == "refer" and decided.json()["policy"] is None
    assert "SCR-PD-REFER" in decided.json()["reason_codes"]
    queue = client.get("/v1/referrals").json()
    assert [d["application_id"] for d in queue] == [app_id]
    short = client.post(f"/v1/applications/{app_id}/review", json={"approve": True,
                                                                   "note": "ok"})
    assert short.status_code == 422
    reviewed = client.post(f"/v1/applications/{app_id}/review", json={
        "approve": True, "note": "payslips checked", "on": "2025-01-16"})
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["final"] and reviewed.json()["reviews"][0]["verdict"] == "approve"
    assert client.get("/v1/referrals").json() == []
    again = client.post(f"/v1/applications/{app_id}/review", json={
        "approve": False, "note": "changed my mind"})
    assert again.status_code == 409


@pytest.mark.parametrize(("changes", "loc", "rule"), [
    refusal({"borrower_id_number": "110105194912310021"}, "borrower_id_number",
            "resident_id.gb11643", "invalid-resident-id"),
    refusal({"amount_fen": 0}, "amount_fen", "loan.amount_positive", "zero-amount"),
    refusal({"amount_fen": -100}, "amount_fen", "loan.amount_positive", "negative-amount"),
    refusal({"product_code": "TRAVEL-X"}, "product_code", "product.known",
            "unknown-product"),
    refusal({"term_months": 48}, "term_months", "product.term_range", "term-out-of-range"),
    refusal({"policyholder_id": b.CREDIT_CODE_BANK}, "policyholder_id",
            "roles.guarantee.policyholder", "funder-as-policyholder-of-guarantee"),
    refusal({"funder_code": "NO-SUCH-BANK"}, "funder_code", "funder.known",
            "unknown-funder"),
    refusal({"funder_code": UNLICENSED.code}, "funder_code", "funder.licensed",
            "unlicensed-funder"),
    refusal({"amount_fen": 2**63 - 1}, "amount_fen", "amount.maximum", "amount-2^63"),
    refusal({"monthly_income_fen": 2**63 - 1}, "monthly_income_fen", "amount.maximum",
            "income-2^63"),
    refusal({"annual_rate": "1e-999999"}, "annual_rate", "loan.rate_places", "rate-1e-999999"),
    refusal({"annual_rate": "0"}, "annual_rate", "loan.rate_range", "rate-0"),
    refusal({"applied_on": "9999-12-31"}, "applied_on", "application.date_window",
            "year-9999"),
    refusal({"applied_on": (date.today() + timedelta(days=2)).isoformat()}, "applied_on",
            "application.date_window", "dated-after-today"),
    refusal({"borrower_name": "张\u0007三"}, "borrower_name", "text.control_characters",
            "control-character-in-name"),
    refusal({"external_ref": "APP\n0001"}, "external_ref", "application.external_ref",
            "line-break-in-reference"),
])
def test_an_application_breaking_a_rule_is_refused_with_422_and_nothing_is_written(
        client: TestClient, container: Container, changes: dict[str, Any], loc: list[str],
        rule: str) -> None:
    before = written(container)

    response = client.post("/v1/applications", json=application_body(**changes))

    assert response.status_code == 422, response.text
    assert {"loc": loc, "type": rule} in [
        {"loc": d["loc"], "type": d["type"]} for d in response.json()["detail"]]
    assert written(container) == before


@pytest.mark.parametrize(("changes", "loc", "type_prefix"), [
    pytest.param({"nickname": "小张"}, ["body", "nickname"], "extra_forbidden",
                 id="unknown-field"),
    pytest.param({"applied_on": "2025-02-30"}, ["body", "applied_on"], "date_",
                 id="impossible-date"),
    pytest.param({"applied_on": "15/01/2025"}, ["body", "applied_on"], "date_",
                 id="malformed-date"),
    pytest.param({"amount_fen": "a lot"}, ["body", "amount_fen"], "int_",
                 id="amount-not-a-number"),
    pytest.param({"amount_fen": True}, ["body", "amount_fen"], "value_error",
                 id="amount-true"),
    pytest.param({"term_months": False}, ["body", "term_months"], "value_error",
                 id="term-false"),
])
def test_a_malformed_application_is_refused_with_422_naming_the_field_and_nothing_is_written(
        client: TestClient, container: Container, changes: dict[str, Any], loc: list[str],
        type_prefix: str) -> None:
    before = written(container)

    response = client.post("/v1/applications", json=application_body(**changes))

    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["loc"] == loc
    assert detail["type"].startswith(type_prefix)
    assert written(container) == before


@pytest.mark.parametrize(("body", "at"), [
    pytest.param(b'{"funder_code": ', "at line 1, column 17 (char 16)", id="cut-short"),
    pytest.param(b'{"funder_code": "BANK-A",\n "amount_fen": }', "at line 2, column 16 (char 41)",
                 id="second-line"),
])
def test_a_malformed_json_body_is_refused_with_422_saying_where_it_breaks(
        client: TestClient, container: Container, body: bytes, at: str) -> None:
    before = written(container)

    response = client.post("/v1/applications", content=body,
                           headers={"Content-Type": "application/json"})

    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["type"] == "json_invalid"
    assert detail["msg"].startswith("Malformed JSON: ") and detail["msg"].endswith(at)
    assert "BANK-A" not in response.text
    assert written(container) == before


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])
def test_a_body_sent_as_another_content_type_is_refused_naming_application_json(
        client: TestClient, container: Container, content_type: str | None) -> None:
    before = written(container)
    headers = {"Content-Type": content_type} if content_type else {}

    response = client.post("/v1/applications", content=json.dumps(application_body()),
                           headers=headers)

    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body"] and detail["type"] == "content_type"
    assert "Content-Type: application/json" in detail["msg"]
    assert "valid dictionary" not in detail["msg"]
    assert written(container) == before


@pytest.mark.parametrize(("method", "path", "body", "kind"), [
    ("get", f"/v1/applications/{UNKNOWN_ID}", None, "application"),
    ("post", f"/v1/applications/{UNKNOWN_ID}/approve", {"on": "2025-01-15"}, "application"),
    ("get", f"/v1/policies/{UNKNOWN_ID}", None, "policy"),
    ("post", f"/v1/policies/{UNKNOWN_ID}/issue",
     {"contract_no": "LN-X", "disbursed_on": "2025-01-15"}, "policy"),
    ("post", "/v1/claims", {"policy_id": UNKNOWN_ID, "on": "2025-06-01"}, "policy"),
    ("get", f"/v1/claims/{UNKNOWN_ID}", None, "claim"),
    ("post", f"/v1/claims/{UNKNOWN_ID}/pay", {"on": "2025-06-01"}, "claim"),
    ("post", f"/v1/claims/{UNKNOWN_ID}/recoveries",
     {"amount_fen": 100, "received_on": "2025-06-01", "source": "borrower",
      "reference": "RC-X"}, "claim"),
    ("get", f"/v1/loans/{UNKNOWN_ID}", None, "loan"),
    ("post", f"/v1/loans/{UNKNOWN_ID}/repayments",
     {"installment_number": 1, "paid_on": "2025-02-15", "principal_fen": 100,
      "interest_fen": 0, "reference": "TX-X"}, "loan"),
])
def test_an_unknown_object_is_answered_404_naming_it(
        client: TestClient, container: Container, method: str, path: str,
        body: dict[str, Any] | None, kind: str) -> None:
    before = written(container)

    response = client.request(method, path, json=body)

    assert response.status_code == 404, response.text
    assert response.json()["detail"] == f"{kind} {UNKNOWN_ID} not found"
    assert written(container) == before


def test_issuing_a_policy_again_under_another_contract_is_a_409_and_books_no_second_loan(
        client: TestClient, container: Container) -> None:
    policy = b.issued_policy(container.uow)
    before = written(container)

    again = client.post(f"/v1/policies/{policy.id}/issue",
                        json={"contract_no": "LN-OTHER", "disbursed_on": "2025-01-20"})

    assert again.status_code == 409, again.text
    assert "cannot issue" in again.json()["detail"]
    assert written(container) == before
    with container.uow() as u:
        assert u.loans.get_by_contract(policy.funder_id, "LN-OTHER") is None
    assert client.get(f"/v1/policies/{policy.id}").json()["loan_id"] == policy.loan_id
    same = client.post(f"/v1/policies/{policy.id}/issue",
                       json={"contract_no": "LN-APP-0001", "disbursed_on": "2025-01-15"})
    assert same.status_code == 200, same.text  # a retry of the same issue is no conflict
    assert same.json()["loan_id"] == policy.loan_id
    assert written(container) == before


def test_paying_a_declined_claim_is_a_409_and_posts_nothing(client: TestClient,
                                                            container: Container) -> None:
    policy = b.issued_policy(container.uow)
    notice = client.post("/v1/claims", json={
        "policy_id": policy.id, "on": "2025-03-01", "exclusions": ["insured_fraud"],
        "shown_by": {"insured_fraud": "the funder's own audit report"}})
    assert notice.status_code == 201, notice.text
    claim = notice.json()
    assert claim["status"] == "declined"
    assert claim["reason_codes"] == ["CLM-TRIGGER-NOT-REACHED", "CLM-EXCLUSION-INSURED_FRAUD"]
    (assessment,) = client.get(f"/v1/claims/{claim['id']}/assessments").json()
    fraud = next(c for c in assessment["checks"] if c["code"] == "CLM-EXCLUSION-INSURED_FRAUD")
    assert fraud["evidence"] == {"declared": "insured_fraud",
                                 "shown_by": "the funder's own audit report"}
    before = written(container)

    payment = client.post(f"/v1/claims/{claim['id']}/pay", json={"on": "2025-03-02"})

    assert payment.status_code == 409, payment.text
    assert "declined" in payment.json()["detail"]
    assert client.get(f"/v1/claims/{claim['id']}").json()["status"] == "declined"
    assert written(container) == before


def test_a_repayment_on_a_claimed_loan_is_a_409_and_is_not_recorded(
        client: TestClient, container: Container) -> None:
    loan_id, _ = claimed_loan(container)
    loan = client.get(f"/v1/loans/{loan_id}").json()
    assert loan["status"] == "claimed"
    before = written(container)

    response = client.post(f"/v1/loans/{loan_id}/repayments",
                           json=repayment_body(loan["schedule"][0], reference="LATE-1"))

    assert response.status_code == 409, response.text
    assert "claimed" in response.json()["detail"]
    assert written(container) == before
    with container.uow() as u:
        assert u.repayments.for_loan(loan_id) == []


def test_the_same_repayment_reference_twice_is_recorded_once(client: TestClient,
                                                             container: Container) -> None:
    policy = b.issued_policy(container.uow)
    first_installment = client.get(f"/v1/loans/{policy.loan_id}").json()["schedule"][0]
    body = repayment_body(first_installment, premium_fen=policy.installment_with_vat_fen)
    first = client.post(f"/v1/loans/{policy.loan_id}/repayments", json=body)
    assert first.status_code == 201, first.text
    before = written(container)

    repeat = client.post(f"/v1/loans/{policy.loan_id}/repayments", json=body)

    assert repeat.status_code in (200, 201), repeat.text
    assert repeat.json() == first.json()
    assert written(container) == before
    with container.uow() as u:
        assert len(u.repayments.for_loan(policy.loan_id)) == 1
    position = client.get(f"/v1/loans/{policy.loan_id}",
                          params={"as_of": first_installment["due_date"]}).json()["position"]
    assert position["outstanding_principal_fen"] == (3_600_000
                                                     - first_installment["principal_fen"])


def test_the_same_application_external_ref_returns_the_stored_application(
        client: TestClient, container: Container) -> None:
    stored = applications.submit_application(b.consumer_application(), container.uow())
    before = written(container)

    repeat = client.post("/v1/applications", json=application_body())

    assert repeat.status_code in (200, 201), repeat.text
    assert repeat.json()["id"] == stored.id
    assert written(container) == before


def test_application_responses_show_only_masked_identity_numbers(
        client: TestClient, container: Container) -> None:
    stored = applications.submit_application(b.consumer_application(), container.uow())

    fetched = client.get(f"/v1/applications/{stored.id}")
    decided = client.post(f"/v1/applications/{stored.id}/approve", json={"on": "2025-01-15"})

    for response in (fetched, decided):
        assert response.status_code == 200, response.text
        for secret in (b.RESIDENT_ID_2, b.PHONE, b.BANK_CARD):
            assert secret not in response.text
    for shown in (fetched.json(), decided.json()["application"]):
        assert shown["borrower_id_number"] == MASKED_ID
        assert shown["borrower_phone"] == MASKED_PHONE
        assert shown["borrower_bank_card"] == MASKED_CARD


def test_a_refused_request_never_echoes_the_borrowers_identity_numbers(
        client: TestClient) -> None:
    body = application_body()
    del body["applied_on"]

    response = client.post("/v1/applications", json=body)

    assert response.status_code == 422
    assert ["body", "applied_on"] in [d["loc"] for d in response.json()["detail"]]
    for secret in (b.RESIDENT_ID_2, b.PHONE, b.BANK_CARD):
        assert secret not in response.text


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(
        client: TestClient, container: Container) -> None:
    headers = {"Idempotency-Key": "batch-7/row-1"}
    first = client.post("/v1/applications", json=application_body(), headers=headers)
    assert first.status_code == 201 and first.headers["Idempotent-Replayed"] == "false"
    before = written(container)
    again = client.post("/v1/applications", json=application_body(), headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/applications", json=application_body(amount_fen=3_700_000),
                        headers=headers)
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    assert written(container) == before
    too_long = client.post("/v1/applications", json=application_body(),
                           headers={"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422


def test_idempotency_keys_belong_to_their_caller(client: TestClient,
                                                 container: Container) -> None:
    headers = {"Idempotency-Key": "same-key"}
    assert client.post("/v1/applications", json=application_body(),
                       headers=headers).status_code == 201
    other_caller = support.api_token(container, "another-underwriter", ["underwriter"])
    response = client.post("/v1/applications",
                           json=application_body(external_ref="APP-0002"),
                           headers={**headers, **support.bearer(other_caller)})
    assert response.status_code == 201 and response.json()["external_ref"] == "APP-0002"


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("post", "/v1/applications", {"json": application_body(product_code="CONSUMER\x00")}),
    ("post", "/v1/applications/search", {"json": {"id_number": "1\x00"}}),
    ("get", "/v1/audit/records", {"params": {"actor": "user:\x00"}}),
])
def test_text_with_a_nul_character_is_refused_not_sent_to_the_database(
        client: TestClient, container: Container, method: str, path: str,
        kwargs: dict[str, Any]) -> None:
    before = written(container)
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == 422, response.text
    assert written(container) == before


def test_a_batch_stores_the_good_rows_and_refuses_each_bad_one_with_its_errors(
        client: TestClient, container: Container) -> None:
    rows = [application_body(external_ref="F-1"),
            application_body(external_ref="F-2", term_months=48),
            application_body(external_ref="F-3", borrower_id_number=b.RESIDENT_ID)]
    response = client.post("/v1/applications/batch", json={"applications": rows})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [a["external_ref"] for a in body["accepted"]] == ["F-1", "F-3"]
    assert body["rejected"] == [{"index": 1, "external_ref": "F-2", "errors": [
        {"loc": ["term_months"], "msg": body["rejected"][0]["errors"][0]["msg"],
         "type": "product.term_range"}]}]
    with container.uow() as u:
        assert u.applications.count() == 2
    again = client.post("/v1/applications/batch", json={"applications": rows[:1]})
    assert again.json()["accepted"][0]["id"] == body["accepted"][0]["id"]  # a repeat
    too_many = client.post("/v1/applications/batch", json={"applications": []})
    assert too_many.status_code == 422


def test_a_server_process_is_settled_before_it_serves(database_url: str):
    c = bootstrap(support.settings(database_url))
    try:
        assert gc.get_freeze_count() == 0
        settle(c)
        assert c._risk is not None  # the engine is built before the first request
        assert gc.get_freeze_count() > 0  # what lives on is out of the collector's sight
    finally:
        gc.unfreeze()
        c.close()


# The decision lane (lane.py): a client's approve request is answered outside FastAPI's
# routing; everything the lane does not take is answered by the route as before.

class SpyBatcher:
    """Records who each decision was asked for: a client id (the lane) or a principal."""

    def __init__(self, batcher: Any) -> None:
        self.asked: list[Any] = []
        self._submit = batcher.submit
        batcher.submit = self.submit

    def submit(self, who: Any, application_id: int, on: date) -> Any:
        self.asked.append(who)
        return self._submit(who, application_id, on)


def submitted(container: Container, ref: str = "APP-0001") -> int:
    return applications.submit_application(b.consumer_application(external_ref=ref),
                                           container.uow()).id


def test_the_lane_decides_a_clients_request_and_answers_as_the_route_does(
        client: TestClient, container: Container) -> None:
    spy = SpyBatcher(client.app.state.batcher)
    app_id = submitted(container)

    lane = client.post(f"/v1/applications/{app_id}/approve", json={"on": "2025-01-15"})
    # A JSON subtype: the lane hands it on and FastAPI's route answers (decided before: the
    # same decision back).
    route = client.post(f"/v1/applications/{app_id}/approve", content=b'{"on": "2025-01-15"}',
                        headers={"Content-Type": "application/vnd.api+json"})

    assert (lane.status_code, route.status_code) == (200, 200), (lane.text, route.text)
    assert spy.asked[0] == "ops" and spy.asked[1].actor == "client:ops"
    assert lane.json() == route.json()
    assert lane.json()["application"]["status"] == "approved" and lane.json()["policy"]
    for header in ("Content-Type", "X-Content-Type-Options", "Cache-Control",
                   "Content-Security-Policy"):
        assert lane.headers[header] == route.headers[header], header


@pytest.mark.parametrize(("path", "body", "loc"), [
    ("{id}", b'{"on": "2025-02-30"}', ["body", "on"]),
    ("{id}", b'{"on": "2025-01-15", "approve": true}', ["body", "approve"]),
    ("{id}", b'{"on": ', ["body", 7]),
    ("{id}", b"[]", ["body"]),
    ("{id}", b"", ["body"]),
    ("0", b'{"on": "2025-01-15"}', ["path", "application_id"]),
    (str(2**63), b'{"on": "2025-01-15"}', ["path", "application_id"]),
])
def test_the_lane_hands_what_the_route_refuses_to_the_route(
        client: TestClient, container: Container, path: str, body: bytes,
        loc: list[Any]) -> None:
    spy = SpyBatcher(client.app.state.batcher)
    app_id = submitted(container)
    before = written(container)

    response = client.post(f"/v1/applications/{path.format(id=app_id)}/approve",
                           content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert spy.asked == [] and written(container) == before


def test_the_lane_refuses_a_client_disabled_after_its_token_was_granted(
        client: TestClient, container: Container) -> None:
    app_id = submitted(container)
    accounts.set_client_active("ops", False, container.uow(), now=utcnow())

    response = client.post(f"/v1/applications/{app_id}/approve", json={"on": "2025-01-15"})

    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    with container.uow() as u:
        assert u.applications.get(app_id).status.value == "submitted"


def test_the_lane_takes_one_rate_limit_token_a_request_even_when_the_route_answers(
        database_url: str) -> None:
    c = bootstrap(support.settings(database_url, rate_limit_burst=2,
                                   rate_limit_per_second=1))
    c.risk = b.engine()
    b.seed(c.uow)
    token = support.api_token(c, "ops", STAFF["ops"])
    app_id = submitted(c)
    try:
        with TestClient(create_app(c), headers=support.bearer(token)) as test_client:
            missing = test_client.post(f"/v1/applications/{UNKNOWN_ID}/approve",
                                       json={"on": "2025-01-15"})
            decided = test_client.post(f"/v1/applications/{app_id}/approve",
                                       json={"on": "2025-01-15"})
            refused = test_client.post(f"/v1/applications/{app_id}/approve",
                                       json={"on": "2025-01-15"})
    finally:
        c.close()
    assert missing.status_code == 404  # answered by the route, on the lane's token
    assert decided.status_code == 200  # the second of a burst of two
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_an_approve_the_client_may_not_make_is_refused_by_the_route_and_recorded_once(
        client: TestClient, container: Container) -> None:
    app_id = submitted(container)
    token = client.tokens["claims-approver"]  # pays claims; approves no applications

    refused = client.post(f"/v1/applications/{app_id}/approve", json={"on": "2025-01-15"},
                          headers=support.bearer(token))

    assert refused.status_code == 403, refused.text
    with container.uow() as u:
        denied = [r for r in u.events.records() if r.name == "AccessDenied"]
        assert u.applications.get(app_id).status.value == "submitted"
    assert [(r.actor, r.data["action"]) for r in denied] == [
        ("client:claims-approver", "application.approve")]


def test_the_served_app_logs_every_request_once_redacted_the_lanes_answers_included(
        container: Container) -> None:
    app_id = submitted(container)
    stream = io.StringIO()
    with StaffClient(create_app(container, access_log=stream)) as client:
        client.tokens = {name: support.api_token(container, name, roles)
                         for name, roles in STAFF.items()}
        assert client.post(f"/v1/applications/{app_id}/approve",
                           json={"on": "2025-01-15"}).status_code == 200  # the lane
        assert client.get("/health").status_code == 200
        assert client.get(f"/v1/applications/{UNKNOWN_ID}").status_code == 404
        client.get(f"/v1/applications?borrower_id_number={b.RESIDENT_ID_2}")
    lines = stream.getvalue().splitlines()  # the lifespan's end wrote out what was queued

    assert [line.split(" - ", 1)[1] for line in lines[:3]] == [
        f'"POST /v1/applications/{app_id}/approve HTTP/1.1" 200 OK',
        '"GET /health HTTP/1.1" 200 OK',
        f'"GET /v1/applications/{UNKNOWN_ID} HTTP/1.1" 404 Not Found']
    assert all(line.startswith("INFO:     testclient:") for line in lines)
    assert len(lines) == 4
    assert MASKED_ID in lines[3] and b.RESIDENT_ID_2 not in stream.getvalue()


def test_the_decision_answers_json_is_byte_for_byte_what_its_models_write(
        container: Container) -> None:
    # The decision answers are written from their fields (``dump_json``) without building
    # the models; the models are the schema and must write the very same bytes.
    from xinbao.entrypoints.api.schemas.common import dump_json
    from xinbao.entrypoints.api.schemas.risk import DecisionBatchOut, DecisionOut, decision_fields

    masking = container.parameters.masking
    cases = [  # (application, the engine's PD): approve, refer, decline; kinds and terms
        (b.consumer_application(external_ref='APP-"引号\\斜线"-1'), "0.01"),
        (b.consumer_application(external_ref="APP-2", borrower_id_number=b.RESIDENT_ID,
                                borrower_bank_card=None), "0.15"),
        (b.consumer_application(external_ref="APP-3", borrower_id_number="310104198505203824"),
         "0.9"),
        (b.car_application(), "0.02"),
        (b.sme_application(), "0.03"),
    ]
    results = []
    for cmd, pd in cases:
        app_id = applications.submit_application(cmd, container.uow()).id
        results.append(b.approve(container.uow, app_id,
                                 risk=b.engine(scorer=b.FixedScorer(pd))))
    assert {r.decision.outcome.value for r in results} >= {"approve", "refer", "decline"}
    assert any(r.policy for r in results) and any(r.policy is None for r in results)

    for r in results:
        fields = decision_fields(r, masking)
        model = DecisionOut.model_validate(fields)
        assert dump_json(fields) == model.model_dump_json().encode()
    batch = {"decisions": [decision_fields(r, masking) for r in results]}
    assert (dump_json(batch)
            == DecisionBatchOut.model_validate(batch).model_dump_json().encode())
