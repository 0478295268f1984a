"""``xinbao users|clients|audit|keys|retention`` over a real database, once per backend."""

from __future__ import annotations

import getpass
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container, bootstrap
from xinbao.catalogue.model.parties import ANONYMIZED
from xinbao.entrypoints.api.deps import utcnow
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Role, Unauthenticated
from xinbao.ledger import services as ledger
from xinbao.policy import tables as policy_tables
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordPrepayment
from xinbao.underwriting import services as applications
from xinbao.underwriting import tables as underwriting_tables

runner = CliRunner()
PASSWORD = "a long enough passphrase"


def xinbao(c: Container, *args: str, stdin: str | None = None,
           env: dict[str, str] | None = None) -> Result:
    return runner.invoke(__import__("xinbao.entrypoints.cli.main", fromlist=["app"]).app,
                         [*args, "--database-url", c.settings.database_url], input=stdin,
                         env=env)


@pytest.fixture
def c(database_url: str) -> Iterator[Container]:
    container = bootstrap(support.settings(database_url))
    b.seed(container.uow)
    yield container
    container.close()


def test_users_are_added_listed_and_managed_and_passwords_never_go_on_the_command_line(c):
    added = xinbao(c, "users", "add", "li.na", "--name", "李娜", "--role", "claims_approver",
                   "--role", "collector", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert accounts.login("li.na", PASSWORD, c.uow(), c.credentials, now=utcnow()).token
    listed = xinbao(c, "users", "list")
    assert "li.na" in listed.output and "claims_approver, collector" in listed.output
    weak = xinbao(c, "users", "add", "wang.wu", "--name", "王五", "--role", "auditor",
                  "--password-stdin", stdin="short\n")
    assert weak.exit_code == 2 and "SEC-PASSWORD-LENGTH" in weak.output
    assert xinbao(c, "users", "set-roles", "li.na", "--role", "auditor").exit_code == 0
    assert xinbao(c, "users", "disable", "li.na").exit_code == 0
    with pytest.raises(Unauthenticated):
        accounts.login("li.na", PASSWORD, c.uow(), c.credentials, now=utcnow())
    assert xinbao(c, "users", "enable", "li.na").exit_code == 0
    with c.uow() as u:
        user = u.users.get_by_username("li.na")
        names = [r.name for r in u.events.records(actor=None)]
        actors = {r.actor for r in u.events.records() if r.name == "UserCreated"}
    assert user.roles == {Role.AUDITOR} and user.active
    assert {"UserCreated", "RolesChanged", "UserDisabled", "UserEnabled"} <= set(names)
    assert actors == {f"system:cli:{getpass.getuser()}"}  # who ran the command
    assert xinbao(c, "users", "unlock", "nobody").exit_code == 3


def test_a_client_gets_its_secret_once_and_a_rotation_keeps_the_old_one_for_a_while(c):
    added = xinbao(c, "clients", "add", "bank-a-api", "--name", "Bank A", "--funder", "BANK-A")
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert accounts.issue_token("bank-a-api", secret, c.uow(), c.credentials, now=utcnow())
    rotated = xinbao(c, "clients", "rotate", "bank-a-api")
    new = rotated.output.strip().splitlines()[-1]
    assert new != secret
    for s in (secret, new):
        assert accounts.issue_token("bank-a-api", s, c.uow(), c.credentials, now=utcnow())
    assert "bank-a-api" in xinbao(c, "clients", "list").output
    assert xinbao(c, "clients", "disable", "bank-a-api").exit_code == 0
    with pytest.raises(Unauthenticated):
        accounts.issue_token("bank-a-api", new, c.uow(), c.credentials, now=utcnow())
    bad = xinbao(c, "clients", "add", "bank-x-api", "--name", "X", "--funder", "NOPE")
    assert bad.exit_code == 3


def _closed_and_declined(c: Container) -> tuple[int, int]:
    policy = b.issued_policy(c.uow)
    servicing.record_prepayment(RecordPrepayment(
        loan_id=policy.loan_id, paid_on=b.START + timedelta(days=20), interest_fen=0,
        reference="PRE-1"), c.uow())
    declined = applications.submit_application(
        b.consumer_application(external_ref="NO-1", amount_fen=50_000), c.uow())
    approval.approve_application(ApproveApplication(declined.id, b.START), c.uow(), b.engine())
    return policy.application_id, declined.id


def test_retention_anonymizes_closed_cases_and_leaves_the_figures_alone(c):
    closed_app, declined_app = _closed_and_declined(c)
    open_app = applications.submit_application(
        b.consumer_application(external_ref="OPEN-1"), c.uow()).id
    balance = ledger.trial_balance(c.uow())
    dry = xinbao(c, "retention", "run", "--days", "30", "--dry-run")
    assert dry.exit_code == 0 and "2 cases" in dry.output, dry.output
    done = xinbao(c, "retention", "run", "--days", "30")
    assert done.exit_code == 0 and "of 2 cases" in done.output, done.output
    with c.uow() as u:
        for app_id in (closed_app, declined_app):
            borrower = u.applications.get(app_id).borrower
            assert (borrower.id_number, borrower.phone, borrower.bank_card) == (
                ANONYMIZED, ANONYMIZED, None)
        assert u.applications.get(open_app).borrower.id_number == b.RESIDENT_ID_2
        closed_policy = u.policies.get_by_application(closed_app)
        assert closed_policy.borrower_id_number == ANONYMIZED
    with c.engine.connect() as conn:  # the end-of-day batch's copy of the blind index too
        il = policy_tables.insured_loans
        assert conn.execute(select(il.c.borrower_id_index).where(
            il.c.policy_id == closed_policy.id)).scalar_one() == ANONYMIZED.lower()
    with c.uow() as u:
        assert len([r for r in u.events.records()
                    if r.name == "PersonalDataAnonymized"]) == 2
    assert ledger.trial_balance(c.uow()) == balance
    again = xinbao(c, "retention", "run", "--days", "30")
    assert "of 0 cases" in again.output
    recent = xinbao(c, "retention", "run", "--days", "100000", "--dry-run")
    assert "0 cases" in recent.output


def test_rotating_the_pii_key_reencrypts_everything_readably(c, tmp_path: Path):
    secrets = tmp_path / "secrets.toml"
    shutil.copy(support.SECRETS_FILE, secrets)
    secrets.chmod(0o600)
    mine = bootstrap(replace(c.settings, secrets_file=str(secrets)))
    app_id = applications.submit_application(b.consumer_application(), mine.uow()).id
    rotated = xinbao(mine, "keys", "rotate-pii", env={"XINBAO_SECRETS_FILE": str(secrets)})
    assert rotated.exit_code == 0, rotated.output
    assert "Key k2 active; re-encrypted 1 applications" in rotated.output
    after = bootstrap(replace(c.settings, secrets_file=str(secrets)))
    with after.engine.connect() as conn:
        stored = conn.execute(
            select(underwriting_tables.applications.c.borrower_id_number)).scalar_one()
    assert stored.startswith("v1.k2.")
    with after.uow() as u:
        assert u.applications.get(app_id).borrower.id_number == b.RESIDENT_ID_2
    mine.close()
    after.close()


def test_the_audit_commands_report_an_intact_trail_and_its_newest_records(c):
    applications.submit_application(b.consumer_application(), c.uow())
    verified = xinbao(c, "audit", "verify")  # the seed's capital and funder, the submission
    assert verified.exit_code == 0 and "Audit trail intact: 3 records" in verified.output
    tail = xinbao(c, "audit", "tail", "--limit", "3")
    assert tail.exit_code == 0 and "ApplicationSubmitted" in tail.output
