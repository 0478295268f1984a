"""Who may call what over HTTP, once per backend: every route of the OpenAPI spec against
every role, funders kept apart, sessions with CSRF, unmasking audited, hardening headers, no
personal data in logs or answers.

The world: two funders, BANK-A and BANK-B, each with a submitted application, an approved
quote, an issued loan in default and an open claim, all made by the system.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container, bootstrap
from xinbao.claims import services as claims
from xinbao.claims.commands import ApproveClaim, SettleClaims
from xinbao.claims.model import ClaimStatus
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.api.deps import CSRF_HEADER
from xinbao.entrypoints.console.routes import SESSION_COOKIE
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Action, Principal, Role
from xinbao.platform.redaction import find_pii
from xinbao.policy import tables as policy_tables
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment, RunEndOfDay
from xinbao.underwriting import services as applications
from xinbao.underwriting import tables as underwriting_tables

PUBLIC = {("GET", "/health"), ("POST", "/oauth/token")}

#: The action each route's use case checks (None: any authenticated principal). A route
#: missing here fails the test: new routes must be classified.
ROUTES: dict[tuple[str, str], Action | None] = {
    ("GET", "/v1/products"): Action.CATALOGUE_READ,
    ("POST", "/v1/funders"): Action.CATALOGUE_MANAGE,
    ("POST", "/v1/applications"): Action.APPLICATION_SUBMIT,
    ("POST", "/v1/applications/search"): Action.APPLICATION_READ,
    ("POST", "/v1/applications/batch"): Action.APPLICATION_SUBMIT,
    ("GET", "/v1/applications/{application_id}"): Action.APPLICATION_READ,
    ("POST", "/v1/applications/{application_id}/approve"): Action.APPLICATION_APPROVE,
    ("POST", "/v1/applications/approve"): Action.APPLICATION_APPROVE,
    ("GET", "/v1/applications/{application_id}/decision"): Action.APPLICATION_READ,
    ("POST", "/v1/applications/{application_id}/review"): Action.APPLICATION_APPROVE,
    ("GET", "/v1/referrals"): Action.APPLICATION_READ,
    ("POST", "/v1/policies/{policy_id}/issue"): Action.POLICY_ISSUE,
    ("GET", "/v1/policies"): Action.POLICY_READ,
    ("GET", "/v1/policies/{policy_id}"): Action.POLICY_READ,
    ("GET", "/v1/policies/{policy_id}/epolicy.pdf"): Action.POLICY_READ,
    ("POST", "/v1/policies/{policy_id}/cancel"): Action.POLICY_ENDORSE,
    ("POST", "/v1/policies/{policy_id}/transfer"): Action.POLICY_ENDORSE,
    ("POST", "/v1/policies/{policy_id}/restructure"): Action.POLICY_ENDORSE,
    ("POST", "/v1/loans/{loan_id}/partial-prepayments"): Action.REPAYMENT_RECORD,
    ("GET", "/v1/funders/{code}/statement"): Action.LEDGER_READ,
    ("GET", "/v1/funders/{code}/statement.csv"): Action.LEDGER_READ,
    ("GET", "/v1/funders/{code}/statement.pdf"): Action.LEDGER_READ,
    ("GET", "/v1/funders/{code}/statements"): Action.LEDGER_READ,
    ("POST", "/v1/funders/{code}/settle"): Action.LEDGER_POST,
    ("GET", "/v1/policies/{policy_id}/endorsements"): Action.POLICY_READ,
    ("GET", "/v1/loans/{loan_id}"): Action.LOAN_READ,
    ("POST", "/v1/loans/{loan_id}/repayments"): Action.REPAYMENT_RECORD,
    ("POST", "/v1/loans/{loan_id}/prepayment"): Action.REPAYMENT_RECORD,
    ("POST", "/v1/loans/{loan_id}/missed-installments"): Action.REPAYMENT_RECORD,
    ("POST", "/v1/funders/{code}/feeds"): Action.REPAYMENT_RECORD,
    ("POST", "/v1/batch/end-of-day"): Action.BATCH_RUN,
    ("POST", "/v1/claims"): Action.CLAIM_FILE,
    ("GET", "/v1/claims/{claim_id}"): Action.CLAIM_READ,
    ("GET", "/v1/claims/queue"): Action.CLAIM_READ,
    ("GET", "/v1/claims/service-levels"): Action.CLAIM_READ,
    ("GET", "/v1/claims/{claim_id}/assessments"): Action.CLAIM_READ,
    ("POST", "/v1/claims/{claim_id}/review"): Action.CLAIM_REVIEW,
    ("POST", "/v1/claims/{claim_id}/approve"): Action.CLAIM_APPROVE,
    ("POST", "/v1/claims/{claim_id}/decline"): Action.CLAIM_REVIEW,
    ("POST", "/v1/claims/{claim_id}/recalculate"): Action.CLAIM_REVIEW,
    ("POST", "/v1/claims/{claim_id}/pay"): Action.CLAIM_PAY,
    ("POST", "/v1/funders/{code}/claim-settlements"): Action.CLAIM_PAY,
    ("GET", "/v1/claim-settlements/{settlement_id}"): Action.CLAIM_READ,
    ("GET", "/v1/claim-settlements/{settlement_id}/statement.csv"): Action.CLAIM_READ,
    ("GET", "/v1/claim-settlements/{settlement_id}/statement.pdf"): Action.CLAIM_READ,
    ("POST", "/v1/claims/{claim_id}/recoveries"): Action.RECOVERY_RECORD,
    ("GET", "/v1/recovery-rights"): Action.CLAIM_READ,
    ("GET", "/v1/ledger/trial-balance"): Action.LEDGER_READ,
    ("POST", "/v1/reinsurance/close"): Action.LEDGER_POST,
    ("POST", "/v1/reinsurance/{code}/settle"): Action.LEDGER_POST,
    ("GET", "/v1/kpis"): Action.REPORT_READ,
    ("GET", "/v1/me"): None,
    ("GET", "/v1/audit/verify"): Action.AUDIT_READ,
    ("GET", "/v1/audit/records"): Action.AUDIT_READ,
}

_refs = count(1)


@dataclass(frozen=True)
class Book:
    """One funder's objects."""

    code: str
    funder_id: int
    id_number: str
    application_id: int  # submitted, undecided
    quote_id: int  # approved, not issued
    policy_id: int  # issued, claimed
    loan_id: int
    claim_id: int
    claim_on: Any
    settlement_id: int


def _book(c: Container, code: str, id_number: str) -> Book:
    system = c.uow
    cmd = b.consumer_application(funder_code=code, borrower_id_number=id_number,
                                 external_ref=f"{code}-1")
    issued = b.issued_policy(system, cmd)
    pending = applications.submit_application(replace(cmd, external_ref=f"{code}-2"), system())
    quoted = applications.submit_application(replace(cmd, external_ref=f"{code}-3"), system())
    quote = approval.approve_application(ApproveApplication(quoted.id, b.START),
                                             system(), b.engine()).policy
    with system() as u:
        loan = u.loans.get(issued.loan_id)
        funder_id = u.funders.get_by_code(code).id
    for i in loan.installments[:3]:  # three paid: no early default, the claim is automatic
        servicing.record_repayment(RecordRepayment(
            loan.id, i.number, i.due_date, i.principal_fen, i.interest_fen,
            f"{code}-TX-{i.number}", premium_fen=issued.installment_with_vat_fen), system())
    claim_on = loan.installments[3].due_date + timedelta(days=95)
    report = servicing.run_end_of_day(RunEndOfDay(claim_on), system())
    with system() as u:
        claim = u.claims.for_policy(issued.id)[0]
    if claim.status is ClaimStatus.UNDER_REVIEW:  # the borrowers share a phone: a ring
        claims.approve_claim(ApproveClaim(claim.id, claim_on, "reviewed"), system())
    assert quote is not None and report is not None
    batch = claims.settle_claims(SettleClaims(code, claim_on + timedelta(days=31)), system())
    return Book(code, funder_id, id_number, pending.id, quote.id, issued.id, loan.id,
                claim.id, claim_on, batch.settlement.id)


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[Container, Book, Book]]:
    c = bootstrap(support.settings(database_url))
    c.risk = b.engine()
    b.seed(c.uow, funders=(b.bank("BANK-A"), b.bank("BANK-B")))
    yield c, _book(c, "BANK-A", b.RESIDENT_ID), _book(c, "BANK-B", b.RESIDENT_ID_2)
    c.close()


def _path(template: str, book: Book) -> str:
    return (template.replace("{application_id}", str(book.application_id))
            .replace("{policy_id}", str(book.quote_id if "issue" in template
                                        else book.policy_id))
            .replace("{loan_id}", str(book.loan_id)).replace("{claim_id}", str(book.claim_id))
            .replace("{settlement_id}", str(book.settlement_id)).replace("{code}", book.code))


def _request(method: str, template: str, book: Book) -> dict[str, Any]:
    """A request that is valid in every way except, perhaps, whose object it touches."""
    ref = f"R{next(_refs)}"
    on = book.claim_on.isoformat()
    bodies: dict[str, dict[str, Any]] = {
        "/v1/funders": {"code": f"F{ref}", "name": "新资金方", "credit_code": b.CREDIT_CODE_CFC,
                        "kind": "consumer_finance", "licensed": True, "commission_rate": "0.05",
                        "products": ["CONSUMER-G"]},
        "/v1/applications": {
            "funder_code": book.code, "external_ref": ref, "product_code": "CONSUMER-G",
            "borrower_kind": "individual", "borrower_name": "张三",
            "borrower_id_number": book.id_number, "borrower_phone": b.PHONE,
            "borrower_bank_card": b.BANK_CARD, "amount_fen": 3_600_000, "term_months": 12,
            "annual_rate": "0.12", "repayment_method": "equal_installment",
            "applied_on": b.START.isoformat()},
        "/v1/applications/{application_id}/approve": {"on": b.START.isoformat()},
        "/v1/applications/approve": {"application_ids": [book.application_id],
                                     "on": b.START.isoformat()},
        "/v1/applications/{application_id}/review": {"approve": False,
                                                     "note": "reviewed in a test"},
        "/v1/policies/{policy_id}/issue": {"contract_no": f"LN-{ref}",
                                           "disbursed_on": b.START.isoformat()},
        "/v1/policies/{policy_id}/cancel": {"on": on, "reason": "a test",
                                            "insured_consent": True},
        "/v1/policies/{policy_id}/transfer": {"to_funder": book.code,
                                              "contract_no": f"LN-T-{ref}", "on": on,
                                              "reason": "a test"},
        "/v1/loans/{loan_id}/repayments": {
            "installment_number": 1, "paid_on": b.START.isoformat(), "principal_fen": 1,
            "interest_fen": 0, "reference": ref},
        "/v1/loans/{loan_id}/prepayment": {"paid_on": on, "reference": ref},
        "/v1/loans/{loan_id}/partial-prepayments": {"paid_on": on, "principal_fen": 100,
                                                    "reference": f"PART-{ref}"},
        "/v1/funders/{code}/settle": {"on": on, "bank_reference": f"BK-{ref}",
                                      "bank_amount_fen": 0},
        "/v1/policies/{policy_id}/restructure": {"installments": 12, "reference": f"RS-{ref}",
                                                 "reason": "a test", "on": on},
        "/v1/loans/{loan_id}/missed-installments": {"installment_number": 1,
                                                    "reported_on": on},
        "/v1/batch/end-of-day": {"on": on},
        "/v1/claims": {"policy_id": book.policy_id, "on": on, "reference": f"N-{ref}"},
        "/v1/claims/{claim_id}/review": {"on": on, "why": "a test"},
        "/v1/claims/{claim_id}/approve": {"on": on},
        "/v1/claims/{claim_id}/decline": {"on": on, "why": "a test"},
        "/v1/claims/{claim_id}/recalculate": {"on": on},
        "/v1/claims/{claim_id}/pay": {"on": on},
        "/v1/funders/{code}/claim-settlements": {"on": on},
        "/v1/reinsurance/close": {"through": on},
        "/v1/reinsurance/{code}/settle": {"on": on, "reference": ref},
        "/v1/claims/{claim_id}/recoveries": {"amount_fen": 100, "received_on": on,
                                             "source": "collection", "reference": ref},
    }
    bodies["/v1/applications/search"] = {"id_number": book.id_number}
    bodies["/v1/applications/batch"] = {"applications": [
        {**bodies["/v1/applications"], "external_ref": f"{ref}-B"}]}
    if template == "/v1/funders/{code}/feeds":  # a file and its manifest (multipart)
        manifest = {"type": "repayments", "funder": book.code, "business_date": on, "rows": 0}
        return {"method": method, "url": _path(template, book), "files": {
            "file": (f"{ref}.csv", b"contract_no,installment_number,paid_on,principal,"
                                   b"interest,reference\n", "text/csv"),
            "manifest": ("m.json", json.dumps(manifest).encode(), "application/json")}}
    return {"method": method, "url": _path(template, book),
            "json": bodies.get(template) if method == "POST" else None}


def _openapi_routes(client: TestClient) -> set[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}


def _b_state(c: Container, book: Book) -> tuple:
    with c.uow() as u:
        return (u.applications.get(book.application_id).status,
                u.policies.get(book.quote_id).status, u.policies.get(book.policy_id).status,
                len(u.repayments.for_loan(book.loan_id)), u.claims.get(book.claim_id).status,
                u.claims.get(book.claim_id).recovered_fen, len(u.ledger.entries()),
                u.applications.count())


def test_every_route_is_classified_and_needs_credentials(world):
    c, a, _ = world
    with TestClient(create_app(c)) as client:
        routes = _openapi_routes(client)
        assert routes - PUBLIC == set(ROUTES), "classify new routes in ROUTES"
        for method, template in ROUTES:
            response = client.request(**_request(method, template, a))
            assert response.status_code == 401, (method, template)
            assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("direction", ["A reaches for B", "B reaches for A"])
def test_a_funder_never_reads_or_changes_another_funders_business(world, direction):
    c, a, other = world
    if direction == "B reaches for A":
        a, other = other, a
    client_id = f"{a.code.lower()}-api"
    token = support.api_token(c, client_id, ["funder"], a.code)
    funder = Principal("client", client_id, frozenset({Role.FUNDER}), a.funder_id)
    before = _b_state(c, other)
    with TestClient(create_app(c)) as client:
        client.headers.update(support.bearer(token))
        for (method, template), action in ROUTES.items():
            response = client.request(**_request(method, template, other))
            code = response.status_code
            where = f"{method} {template}: {code} {response.text[:200]}"
            if action is not None and not funder.may(action):
                assert code == 403, where
            elif template == "/v1/applications" and method == "POST":
                assert code == 422 and response.json()["detail"][0]["type"] == "funder.known", \
                    where
            elif template == "/v1/applications/search":
                assert code == 200 and response.json() == [], where
            elif template == "/v1/policies":
                assert code == 200, where
                assert {p["id"] for p in response.json()["items"]} == {a.policy_id}, where
            elif "{" in template or template in ("/v1/claims", "/v1/applications/approve"):
                assert code == 404, where
            else:
                assert code == 200, where  # the catalogue and who-am-I are not tenant data
        # The same routes on its own objects: found (the 404s above are not blanket ones).
        for template in ("/v1/applications/{application_id}", "/v1/policies/{policy_id}",
                         "/v1/loans/{loan_id}", "/v1/claims/{claim_id}"):
            assert client.get(_path(template, a)).status_code == 200, template
    assert _b_state(c, other) == before


def test_each_insurer_role_is_refused_exactly_the_routes_it_holds_no_permission_for(world):
    c, a, _ = world
    staff = [r for r in Role if r is not Role.FUNDER]
    tokens = {r: support.api_token(c, f"staff-{r.value.replace('_', '-')}", [r.value])
              for r in staff}
    with TestClient(create_app(c)) as client:
        for role in staff:
            principal = Principal("client", role.value, frozenset({role}))
            for (method, template), action in ROUTES.items():
                response = client.request(**_request(method, template, a),
                                          headers=support.bearer(tokens[role]))
                allowed = action is None or principal.may(action)
                where = f"{role.value} {method} {template}: {response.status_code}"
                assert (response.status_code == 403) is (not allowed), where
                assert response.status_code not in (401, 500), where


def test_refusals_are_in_the_audit_trail_with_the_actor(world):
    c, a, _ = world
    token = support.api_token(c, "bank-a-api", ["funder"], "BANK-A")
    with TestClient(create_app(c)) as client:
        assert client.get("/v1/kpis", headers=support.bearer(token)).status_code == 403
    with c.uow() as u:
        denied = [r for r in u.events.records() if r.name == "AccessDenied"]
    assert denied[-1].actor == "client:bank-a-api"
    assert denied[-1].data["action"] == "report.read"


def _user(c: Container, username: str, roles: list[str]) -> str:
    password = "a long enough passphrase"
    accounts.add_user(accounts.AddUser(username, username, password, roles), c.uow(),
                      c.credentials, now=accounts_now())
    return password


def accounts_now():
    from xinbao.entrypoints.api.deps import utcnow
    return utcnow()


def _login(client: TestClient, username: str, password: str) -> Any:
    page = client.get("/console/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": token}, follow_redirects=False)


def test_a_console_session_works_for_reads_and_needs_the_csrf_token_for_writes(world):
    c, a, _ = world
    password = _user(c, "chen.uw", ["underwriting_approver"])
    with TestClient(create_app(c), base_url="https://testserver") as client:
        response = _login(client, "chen.uw", password)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
        assert client.get("/v1/me").json()["actor"] == "user:chen.uw"
        home = client.get("/console/")
        csrf = home.text.split('name="csrf_token" value="')[1].split('"')[0]
        url = f"/v1/applications/{a.application_id}/approve"
        assert client.post(url, json={"on": b.START.isoformat()}).status_code == 403
        assert client.post(url, json={"on": b.START.isoformat()},
                           headers={CSRF_HEADER: "forged"}).status_code == 403
        approved = client.post(url, json={"on": b.START.isoformat()},
                               headers={CSRF_HEADER: csrf})
        assert approved.status_code == 200, approved.text
        client.post("/console/logout", data={"csrf_token": csrf})
        client.cookies.delete(SESSION_COOKIE)
        assert client.get("/v1/me").status_code == 401


def test_the_login_form_refuses_a_missing_csrf_token_and_locks_after_five_failures(world):
    c, _, _ = world
    password = _user(c, "li.na", ["auditor"])
    with TestClient(create_app(c), base_url="https://testserver") as client:
        forged = client.post("/console/login", data={
            "username": "li.na", "password": password, "csrf_token": "x"})
        assert forged.status_code == 403
        for _ in range(5):
            assert _login(client, "li.na", "not the password").status_code == 401
        assert _login(client, "li.na", password).status_code == 401  # locked
    with c.uow() as u:
        assert u.users.get_by_username("li.na").locked_until is not None


def test_the_token_endpoint_speaks_oauth2_client_credentials(world):
    c, _, _ = world
    _, secret = accounts.add_client(accounts.AddClient("bank-a-api", "A", ["funder"], "BANK-A"),
                                    c.uow(), c.credentials, now=accounts_now())
    with TestClient(create_app(c)) as client:
        good = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                 "client_id": "bank-a-api",
                                                 "client_secret": secret})
        assert good.status_code == 200 and good.json()["token_type"] == "bearer"
        assert good.json()["expires_in"] == 900
        me = client.get("/v1/me", headers=support.bearer(good.json()["access_token"]))
        assert me.json()["funder_id"] is not None
        bad = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                "client_id": "bank-a-api",
                                                "client_secret": "wrong"})
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
        grant = client.post("/oauth/token", data={"grant_type": "password",
                                                  "client_id": "bank-a-api",
                                                  "client_secret": secret})
        assert grant.json()["error"] == "unsupported_grant_type"
        tampered = good.json()["access_token"][:-3] + "AAA"
        assert client.get("/v1/me", headers=support.bearer(tampered)).status_code == 401


@pytest.mark.parametrize("ttl_seconds", [2**70, 15 * 60 + 1])
def test_a_correctly_signed_token_living_longer_than_the_maximum_is_refused(world,
                                                                            ttl_seconds):
    c, _, _ = world
    support.api_token(c, "bank-a-api", ["funder"], "BANK-A")
    now = accounts_now()
    long_lived = c.credentials.sign_token("bank-a-api", {"typ": "access"}, ttl_seconds, now)
    in_limit = c.credentials.sign_token("bank-a-api", {"typ": "access"}, 15 * 60, now)
    with TestClient(create_app(c)) as client:
        assert client.get("/v1/me", headers=support.bearer(in_limit)).status_code == 200
        refused = client.get("/v1/me", headers=support.bearer(long_lived))
        assert refused.status_code == 401


def test_unmasking_needs_the_permission_and_a_reason_and_is_audited(world):
    c, a, _ = world
    approver = support.api_token(c, "claims-boss", ["claims_approver"])
    finance = support.api_token(c, "fin", ["finance"])
    url = f"/v1/applications/{a.application_id}"
    with TestClient(create_app(c)) as client:
        masked = client.get(url, headers=support.bearer(finance)).json()
        assert masked["masked"] and masked["borrower_id_number"] != a.id_number
        assert masked["borrower_name"] == "张*"
        assert client.get(url, params={"unmask": True, "reason": "claim review"},
                          headers=support.bearer(finance)).status_code == 403
        assert client.get(url, params={"unmask": True},
                          headers=support.bearer(approver)).status_code == 422
        full = client.get(url, params={"unmask": True, "reason": "claim 7 review"},
                          headers=support.bearer(approver)).json()
        assert full["borrower_id_number"] == a.id_number and not full["masked"]
    with c.uow() as u:
        record = [r for r in u.events.records() if r.name == "PiiUnmasked"][-1]
    assert (record.actor, record.aggregate_id, record.data["reason"]) == (
        "client:claims-boss", a.application_id, "claim 7 review")


def test_personal_data_is_encrypted_at_rest_and_found_by_blind_index(world):
    c, a, _ = world
    with c.engine.connect() as conn:
        rows = conn.execute(select(underwriting_tables.applications.c.borrower_id_number,
                                   underwriting_tables.applications.c.borrower_phone,
                                   underwriting_tables.applications.c.borrower_name)).all()
        policies_ids = conn.execute(
            select(policy_tables.policies.c.borrower_id_number)).scalars().all()
    stored = json.dumps([list(r) for r in rows] + policies_ids, ensure_ascii=False)
    assert find_pii(stored) == [] and "张三" not in stored
    assert all(value.startswith("v1.") for r in rows for value in r)
    with c.uow() as u:
        assert {x.id for x in u.applications.find_by_id_number(a.id_number.lower())} >= {
            a.application_id}


def test_responses_and_logs_carry_no_full_id_number_phone_or_card(world, caplog):
    c, a, other = world
    caplog.set_level(logging.DEBUG)
    token = support.api_token(c, "ops", ["underwriter", "finance", "auditor"])
    bodies = []
    with TestClient(create_app(c), raise_server_exceptions=False) as client:
        client.headers.update(support.bearer(token))
        for (method, template) in ROUTES:
            for book in (a, other):
                bodies.append(client.request(**_request(method, template, book)).text)
        bad = _request("POST", "/v1/applications", a)
        bad["json"]["term_months"] = "twelve"
        bodies.append(client.request(**bad).text)
    c.log.info("application received", id_number=a.id_number, phone=b.PHONE,
               note=f"card {b.BANK_CARD}")
    leaked = find_pii("\n".join(_without_hashes(body) for body in bodies))
    assert leaked + find_pii(caplog.text) == []


def _without_hashes(body: str) -> str:
    """The answer without the audit trail's hex hashes and without JSON numbers (amounts in
    fen, ids), whose digit runs can pass a phone or Luhn check by chance; personal data is
    always text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()
                    if k not in ("hash", "prev_hash", "head_hash")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool):
            return 0
        return value
    return json.dumps(strip(data), ensure_ascii=False)


def test_security_headers_and_limits_apply_to_api_answers(world):
    c, _, _ = world
    c = replace(c, settings=replace(c.settings, rate_limit_burst=3, rate_limit_per_second=1,
                                    max_body_bytes=2048))
    token = support.api_token(c, "fin", ["finance"])
    with TestClient(create_app(c)) as client:
        client.headers.update(support.bearer(token))
        first = client.get("/v1/me")
        assert first.headers["X-Content-Type-Options"] == "nosniff"
        assert first.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in first.headers["Content-Security-Policy"]
        statuses = [client.get("/v1/me").status_code for _ in range(5)]
        assert 429 in statuses
        big = client.post("/v1/batch/end-of-day", content=b"{" + b" " * 4096 + b"}",
                          headers={"Content-Type": "application/json"})
        assert big.status_code == 413
