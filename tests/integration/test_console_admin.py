"""The console's audit trail and administration pages over HTTP, on each backend: the trail
paged and filtered, its verification finding an edited record, users and API clients managed
through forms with the session's CSRF token, refusals as pages, and a client's secret shown
once (issue 20; the same pages in a browser: ``tests/browser``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests import support
from xinbao.bootstrap import Container
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.api.deps import utcnow
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Role, Unauthenticated
from xinbao.kernel.errors import Conflict
from xinbao.kernel.events import Event

PASSWORD = support.CONSOLE_PASSWORD
sign_in, csrf_of = support.console_sign_in, support.csrf_of


@pytest.fixture
def console(decided_container: Container) -> Iterator[tuple[Container, TestClient]]:
    with TestClient(create_app(decided_container), base_url="https://testserver") as client:
        client.cookies.set("xinbao_lang", "en")
        yield decided_container, client






def seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'<th scope="row" class="num">(\d+)</th>', html)]


def record_events(container: Container, n: int) -> None:
    """``n`` events on loan 1..n, alternately named A and B."""
    with container.uow() as u:
        u.events.add([Event("TestA" if i % 2 else "TestB", "loan", i, date(2025, 3, 1), {"i": i})
                      for i in range(1, n + 1)])
        u.commit()


def last_seq(container: Container) -> int:
    with container.uow() as u:
        return u.events.head()[0]


# The audit trail.

def test_the_audit_trail_is_paged_newest_first(console):
    container, client = console
    record_events(container, 60)
    sign_in(container, client, "li.audit", ["auditor"])
    head = last_seq(container)

    first = client.get("/console/audit")
    second = client.get("/console/audit", params={"page": "2"})
    oldest = client.get("/console/audit", params={"dir": "asc"})

    assert first.status_code == 200 and "<h1>Audit trail</h1>" in first.text
    assert seqs(first.text)[0] >= head and len(seqs(first.text)) == 50
    assert seqs(first.text) == sorted(seqs(first.text), reverse=True)
    assert seqs(second.text)[0] == seqs(first.text)[-1] - 1
    assert seqs(oldest.text)[:3] == [1, 2, 3]


def test_the_audit_trail_filters_by_object_event_and_actor(console):
    container, client = console
    record_events(container, 10)
    sign_in(container, client, "li.audit", ["auditor"])

    named = client.get("/console/audit", params={"name": "TestA"})
    one = client.get("/console/audit", params={"aggregate": "loan", "aggregate_id": "4"})
    by_actor = client.get("/console/audit", params={"actor": "user:nobody"})
    bad = client.get("/console/audit", params={"aggregate_id": "four"})

    assert "5 in all" in named.text and "TestB" not in named.text.split("<tbody>")[1]
    assert "1 in all" in one.text and "loan 4" in one.text
    assert "No records match." in by_actor.text
    assert bad.status_code == 422 and "number.whole" in bad.text
    # The pager and the sort links keep the filters.
    assert 'href="/console/audit?dir=asc&amp;name=TestA&amp;sort=id"' in named.text


def test_verifying_the_chain_says_intact_and_finds_an_edited_record(console):
    container, client = console
    record_events(container, 5)
    sign_in(container, client, "li.audit", ["auditor"])
    before = last_seq(container)

    intact = client.get("/console/audit/verify")
    assert intact.status_code == 200
    assert "The chain is intact" in intact.text
    assert last_seq(container) == before  # verifying records nothing
    _as_intruder(container, "UPDATE domain_events SET actor = 'user:mallory' WHERE seq = 3")

    broken = client.get("/console/audit/verify")

    assert broken.status_code == 200
    assert "The chain is broken" in broken.text
    assert "The first broken record is 3." in broken.text and "edited" in broken.text


def _as_intruder(c: Container, statement: str) -> None:
    """Change a record past the append-only triggers, as a rogue DBA would."""
    with c.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE domain_events DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER domain_events_no_update"))
        conn.execute(text(statement))
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE domain_events ENABLE TRIGGER USER"))


def test_the_audit_trail_needs_audit_read(console):
    container, client = console
    sign_in(container, client, "wang.fin", ["finance"])

    assert client.get("/console/audit").status_code == 403
    assert client.get("/console/audit/verify").status_code == 403


# Users.

def test_an_admin_adds_a_user_and_is_sent_to_the_users_page(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])

    added = client.post("/console/admin/users", data={
        "csrf_token": token, "username": "zhou.uw", "display_name": "周伟",
        "password": "correct horse battery", "roles": ["underwriter", "collector"]},
        follow_redirects=False)
    page = client.get(added.headers["location"])
    again = client.post("/console/admin/users", data={
        "csrf_token": token, "username": "zhou.uw", "display_name": "周伟",
        "password": "correct horse battery", "roles": ["underwriter"]})

    assert added.status_code == 303
    assert added.headers["location"] == "/console/admin/users/zhou.uw?done=created"
    assert "The user was added." in page.text and "<h1>User zhou.uw</h1>" in page.text
    user = accounts.get_user(container.uow(), "zhou.uw")
    assert user.roles == {Role.UNDERWRITER, Role.COLLECTOR} and user.display_name == "周伟"
    assert again.status_code == 409 and "exists" in again.text
    listed = client.get("/console/admin")
    assert 'href="/console/admin/users/zhou.uw"' in listed.text


def test_a_user_for_a_funder_is_bound_to_it(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])

    client.post("/console/admin/users", data={
        "csrf_token": token, "username": "bank.ops", "display_name": "Bank A ops",
        "password": "correct horse battery", "roles": ["funder"], "funder_code": "BANK-A"})

    user = accounts.get_user(container.uow(), "bank.ops")
    assert user.roles == {Role.FUNDER} and user.funder_id is not None
    assert "BANK-A" in client.get("/console/admin").text


@pytest.mark.parametrize(("form", "rule"), [
    ({"password": "short"}, "SEC-PASSWORD-LENGTH"),
    ({"roles": ["overlord"]}, "SEC-ROLE"),
    ({"roles": []}, "SEC-ROLE"),
    ({"roles": ["funder"]}, "SEC-ROLE"),  # the funder role needs its funder
    ({"username": "No Spaces"}, "SEC-USERNAME"),
])
def test_bad_input_is_refused_with_its_rule_and_adds_nobody(console, form, rule):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])
    data = {"csrf_token": token, "username": "new.user", "display_name": "New",
            "password": "correct horse battery", "roles": ["auditor"], **form}

    refused = client.post("/console/admin/users", data=data)

    assert refused.status_code == 422
    assert "Please correct the form" in refused.text and rule in refused.text
    assert [u.username for u in accounts.list_users(container.uow())] == ["root.admin"]


def test_an_admin_changes_roles_deactivates_activates_and_unlocks(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])
    accounts.add_user(accounts.AddUser("sun.fin", "孙", PASSWORD, ["finance"]),
                      container.uow(), container.credentials, now=utcnow())
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            accounts.login("sun.fin", "wrong password!!", container.uow(),
                           container.credentials, now=utcnow())
    page = client.get("/console/admin/users/sun.fin")
    assert "Locked" in page.text and "/console/admin/users/sun.fin/unlock" in page.text

    roles = client.post("/console/admin/users/sun.fin/roles",
                        data={"csrf_token": token, "roles": ["finance", "actuary"]},
                        follow_redirects=False)
    off = client.post("/console/admin/users/sun.fin/active",
                      data={"csrf_token": token, "active": "false"}, follow_redirects=False)
    off_twice = client.post("/console/admin/users/sun.fin/active",
                            data={"csrf_token": token, "active": "false"})
    assert not accounts.get_user(container.uow(), "sun.fin").active
    on = client.post("/console/admin/users/sun.fin/active",
                     data={"csrf_token": token, "active": "true"}, follow_redirects=False)
    unlocked = client.post("/console/admin/users/sun.fin/unlock", data={"csrf_token": token})

    assert roles.headers["location"].endswith("?done=roles")
    assert off.headers["location"].endswith("?done=deactivated")
    assert off_twice.status_code == 200 and "deactivated" in off_twice.text
    assert on.headers["location"].endswith("?done=activated")
    assert unlocked.status_code == 200 and "The account was unlocked." in unlocked.text
    user = accounts.get_user(container.uow(), "sun.fin")
    assert user.roles == {Role.FINANCE, Role.ACTUARY} and user.active
    assert not user.is_locked(utcnow())


def test_a_form_with_a_wrong_csrf_token_is_refused_and_changes_nothing(console):
    container, client = console
    sign_in(container, client, "root.admin", ["admin"])

    forged = client.post("/console/admin/users", data={
        "csrf_token": "not-the-token", "username": "evil.user", "display_name": "Evil",
        "password": "correct horse battery", "roles": ["admin"]})
    missing = client.post("/console/admin/clients", data={
        "client_id": "evil-client", "name": "Evil", "roles": ["funder"],
        "funder_code": "BANK-A"})

    assert forged.status_code == 403
    assert missing.status_code == 422  # no token at all: the form is malformed
    assert [u.username for u in accounts.list_users(container.uow())] == ["root.admin"]
    assert accounts.list_clients(container.uow()) == []


def test_who_may_not_manage_users_gets_403_pages_even_with_a_forged_form(console):
    container, client = console
    token = sign_in(container, client, "li.audit", ["auditor"])

    pages = [client.get(url).status_code for url in
             ("/console/admin", "/console/admin/clients", "/console/admin/users/li.audit")]
    forged = client.post("/console/admin/users", data={
        "csrf_token": token, "username": "evil.user", "display_name": "Evil",
        "password": "correct horse battery", "roles": ["admin"]})
    promote = client.post("/console/admin/users/li.audit/roles",
                          data={"csrf_token": token, "roles": ["admin"]})

    assert pages == [403, 403, 403]
    assert forged.status_code == 403 and "Not allowed" in forged.text
    assert promote.status_code == 403
    assert 'href="/console/admin"' not in client.get("/console/").text
    with container.uow() as u:
        assert u.users.get_by_username("evil.user") is None
        assert u.users.get_by_username("li.audit").roles == {Role.AUDITOR}


# API clients.

def test_a_new_client_s_secret_is_shown_once_and_never_on_the_list(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])

    created = client.post("/console/admin/clients", data={
        "csrf_token": token, "client_id": "bank-a-1", "name": "Bank A loans",
        "roles": ["funder"], "funder_code": "BANK-A"})
    secret = re.search(r'<p class="secret" id="secret">([^<]+)</p>', created.text).group(1)
    listed = client.get("/console/admin/clients")
    again = client.get("/console/admin/clients/bank-a-1")

    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    assert "Copy the secret now" in created.text
    issued = accounts.issue_token("bank-a-1", secret, container.uow(), container.credentials,
                                  now=utcnow())
    assert issued.token
    assert secret not in listed.text and secret not in again.text
    assert "Copy the secret now" not in again.text
    assert 'href="/console/admin/clients/bank-a-1"' in listed.text
    assert secret not in str(created.url) and "secret" not in created.headers.get("location", "")


def test_a_second_post_of_the_create_form_is_a_conflict_not_a_second_client(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])
    form = {"csrf_token": token, "client_id": "bank-a-1", "name": "Bank A loans",
            "roles": ["funder"], "funder_code": "BANK-A"}

    first = client.post("/console/admin/clients", data=form)
    second = client.post("/console/admin/clients", data=form)

    assert first.status_code == 201
    assert second.status_code == 409 and "exists" in second.text
    assert 'class="secret"' not in second.text
    assert [c.client_id for c in accounts.list_clients(container.uow())] == ["bank-a-1"]


def test_rotating_shows_the_new_secret_once_and_disabling_stops_tokens(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])
    _, old = accounts.add_client(accounts.AddClient("bank-a-1", "Bank A", ["funder"], "BANK-A"),
                                 container.uow(), container.credentials, now=utcnow())

    rotated = client.post("/console/admin/clients/bank-a-1/rotate", data={"csrf_token": token})
    new = re.search(r'<p class="secret" id="secret">([^<]+)</p>', rotated.text).group(1)
    disabled = client.post("/console/admin/clients/bank-a-1/active",
                           data={"csrf_token": token, "active": "false"},
                           follow_redirects=False)

    assert rotated.status_code == 200 and new != old
    assert disabled.headers["location"] == "/console/admin/clients/bank-a-1?done=disabled"
    shown = client.get(disabled.headers["location"])
    assert "The client was disabled." in shown.text and new not in shown.text
    with pytest.raises(Unauthenticated):
        accounts.issue_token("bank-a-1", new, container.uow(), container.credentials,
                             now=utcnow())
    enabled = client.post("/console/admin/clients/bank-a-1/active",
                          data={"csrf_token": token, "active": "true"})
    assert "The client was enabled." in enabled.text
    assert accounts.issue_token("bank-a-1", new, container.uow(), container.credentials,
                                now=utcnow()).token


def test_a_client_id_against_its_rule_is_refused_with_it(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])

    refused = client.post("/console/admin/clients", data={
        "csrf_token": token, "client_id": "Bank A!", "name": "Bank A", "roles": ["funder"],
        "funder_code": "BANK-A"})
    unknown = client.get("/console/admin/clients/no-such-client")

    assert refused.status_code == 422 and "SEC-CLIENT-ID" in refused.text
    assert unknown.status_code == 404


def test_a_rotate_form_sent_twice_rotates_once(console):
    container, client = console
    token = sign_in(container, client, "root.admin", ["admin"])
    accounts.add_client(accounts.AddClient("bank-a-1", "Bank A", ["funder"], "BANK-A"),
                        container.uow(), container.credentials, now=utcnow())
    page = client.get("/console/admin/clients/bank-a-1").text
    seen = re.search(r'name="seen" value="([^"]*)"', page).group(1)

    first = client.post("/console/admin/clients/bank-a-1/rotate",
                        data={"csrf_token": token, "seen": seen})
    second = client.post("/console/admin/clients/bank-a-1/rotate",
                         data={"csrf_token": token, "seen": seen})

    assert first.status_code == 200 and second.status_code == 409
    new = re.search(r'<p class="secret" id="secret">([^<]+)</p>', first.text).group(1)
    assert 'class="secret"' not in second.text
    assert accounts.issue_token("bank-a-1", new, container.uow(), container.credentials,
                                now=utcnow()).token
    with container.uow() as uow:
        names = [e.name for e in uow.events.list(aggregate="api_client")]
    assert names.count("ClientSecretRotated") == 1


def test_concurrent_rotations_of_the_secret_one_saw_make_one(console):
    container, _ = console
    accounts.add_client(accounts.AddClient("bank-a-1", "Bank A", ["funder"], "BANK-A"),
                        container.uow(), container.credentials, now=utcnow())

    def rotate(_: int) -> str:
        try:
            accounts.rotate_client_secret(
                "bank-a-1", container.uow(), container.credentials, now=utcnow(),
                seen=accounts.SeenSecret(None))
        except Conflict:
            return "conflict"
        return "rotated"

    outcomes = support.race(8, rotate)

    assert sorted(outcomes) == ["conflict"] * 7 + ["rotated"]
