"""An issued policy's e-policy (issue 23), on SQLite and PostgreSQL: the book's parties,
loan and premium schedule in it, the borrower masked; its SHA-256 kept once however often and
however concurrently it is asked for; a quote has none, another funder's is not found; the
CLI by the policy's number, the API and the console serve the same bytes."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests import builders as b
from tests import support
from tests.pdf_text import pages_text
from xinbao.bootstrap import Container
from xinbao.catalogue import services as catalogue
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.cli.main import app
from xinbao.iam.model.security import Principal, Role
from xinbao.kernel.errors import Conflict, NotFound
from xinbao.kernel.identity import mask_id_number
from xinbao.kernel.money import format_yuan
from xinbao.policy.model import Policy
from xinbao.reporting.documents import issue_epolicy, shipped_wordings
from xinbao.underwriting import services as applications

ON = date(2025, 2, 1)


@pytest.fixture
def issued(decided_container: Container) -> tuple[Container, Policy]:
    return decided_container, b.issued_policy(decided_container.uow, b.consumer_application())


def _documents(c: Container, policy: Policy) -> list[tuple[str, date]]:
    with c.uow() as u:
        return [(d.sha256, d.first_issued_on) for d in u.policies.documents(policy.id)]


def test_the_epolicy_says_the_books_policy_and_its_hash_is_kept_once(issued):
    c, policy = issued
    first = issue_epolicy(c.uow(), policy.id, on=ON)
    again = issue_epolicy(c.uow(), policy.id, on=date(2025, 3, 1))

    assert again.pdf == first.pdf
    assert first.sha256 == hashlib.sha256(first.pdf).hexdigest()
    assert _documents(c, policy) == [(first.sha256, ON)]
    assert first.document.wording == shipped_wordings().by_mode["guarantee"].label
    with c.uow() as u:
        loan = u.loans.get(policy.loan_id)
    e = first.epolicy
    assert (e.policy_no, e.contract_no, e.principal_fen) == (
        policy.policy_no, loan.contract_no, loan.principal_fen)
    assert e.interest_covered_fen == sum(i.interest_fen for i in loan.installments)
    assert [(x.due_date, x.premium_fen) for x in e.schedule] == [
        (i.due_date, policy.installment_premium_fen) for i in loan.installments]
    # Guarantee insurance: the borrower holds the policy, the funder is insured.
    assert [p.role_en for p in e.parties] == ["Policyholder", "Insured", "Borrower"]
    holder, insured, borrower = e.parties
    assert holder.name == borrower.name == "张*"
    assert holder.identifier == borrower.identifier
    assert borrower.identifier == mask_id_number(b.RESIDENT_ID_2)
    with c.uow() as u:
        funder = u.funders.get(policy.funder_id)
    assert (insured.name, insured.identifier) == (funder.name, funder.credit_code)
    text = "\n".join(run for page in pages_text(first.pdf) for run in page)
    assert policy.policy_no in text and b.RESIDENT_ID_2 not in text and "张三" not in text
    # The premium excludes VAT; the VAT on each installment's premium is on top of it.
    vat = policy.installment_vat_fen * len(loan.installments)
    assert (e.vat_rate, e.vat_fen) == (Decimal("0.06"), vat) and vat > 0
    assert f"{format_yuan(e.total_premium_fen)} 元（不含增值税）" in text
    assert f"{format_yuan(vat)} 元（税率 6%）" in text
    assert f"{format_yuan(e.total_premium_fen + vat)} 元" in text


def test_concurrent_requests_keep_the_hash_once(issued):
    c, policy = issued
    issued_now = support.race(6, lambda _: issue_epolicy(c.uow(), policy.id, on=ON))
    assert len({x.sha256 for x in issued_now}) == 1
    assert len(_documents(c, policy)) == 1


def test_a_quote_has_no_epolicy_and_another_funders_policy_is_not_found(decided_container):
    c = decided_container
    submitted = applications.submit_application(b.consumer_application(external_ref="Q-1"),
                                                c.uow())
    quote = b.approve(c.uow, submitted.id).policy
    with pytest.raises(Conflict, match="quote"):
        issue_epolicy(c.uow(), quote.id, on=ON)
    policy = b.issued_policy(c.uow, b.consumer_application(
        external_ref="Q-2", borrower_id_number=b.RESIDENT_ID))
    catalogue.register_funder(b.bank("BANK-B"), c.uow())
    with c.uow() as u:
        bank_b = u.funders.get_by_code("BANK-B")
    outsider = Principal("client", "bank-b-api", frozenset({Role.FUNDER}), funder_id=bank_b.id)
    with pytest.raises(NotFound):
        issue_epolicy(c.uow(outsider), policy.id, on=ON)
    assert _documents(c, policy) == []


def test_the_cli_writes_it_by_the_policys_number_and_the_api_serves_the_same_bytes(
        issued, tmp_path):
    c, policy = issued
    out = tmp_path / "policy.pdf"
    shown = CliRunner().invoke(app, ["policies", "show", policy.policy_no, "--pdf", str(out),
                                     "--json", "--database-url", c.settings.database_url])
    mistyped = CliRunner().invoke(app, ["policies", "show", policy.policy_no[:-1] + "0",
                                        "--database-url", c.settings.database_url])

    assert shown.exit_code == 0, shown.output
    written = json.loads(shown.stdout)["epolicy"]
    assert written["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert mistyped.exit_code == 2 and "policy.number" in mistyped.output
    token = support.api_token(c, "bank-a-api", ["funder"], "BANK-A")
    with TestClient(create_app(c)) as client:
        answer = client.get(f"/v1/policies/{policy.id}/epolicy.pdf",
                            headers=support.bearer(token))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["x-document-sha256"] == written["sha256"]
    assert answer.content == out.read_bytes()
    assert len(_documents(c, policy)) == 1


def test_an_endorsed_policy_issues_its_next_version_listing_the_endorsement(issued):
    from xinbao.policy.commands import CancelPolicy
    from xinbao.policy.endorsements import cancel_policy

    c, policy = issued
    first = issue_epolicy(c.uow(), policy.id, on=ON)
    cancel_policy(CancelPolicy(policy.id, b.START + timedelta(days=3), "the borrower asked",
                               insured_consent=True),
                  c.uow(Principal("user", "wu.uw", frozenset({Role.UNDERWRITING_APPROVER}))))

    endorsed = issue_epolicy(c.uow(), policy.id, on=date(2025, 2, 2))

    assert endorsed.sha256 != first.sha256 and endorsed.epolicy.version == 2
    text = "\n".join(run for page in pages_text(endorsed.pdf) for run in page)
    assert "批改记录 / Endorsements" in text and "退保 / cancellation" in text
    assert "第 2 版（经 1 次批改）" in text and "the borrower asked" in text
    assert _documents(c, policy) == [(first.sha256, ON), (endorsed.sha256, date(2025, 2, 2))]
    assert issue_epolicy(c.uow(), policy.id, on=date(2025, 3, 1)).pdf == endorsed.pdf
