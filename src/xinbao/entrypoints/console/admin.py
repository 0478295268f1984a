"""The console's audit trail and administration pages (issue 20).

The audit trail (``audit.read``): its records a page at a time, and the verification of its
hash chain, which reads and changes nothing. Administration (``user.manage``): console users
(add, roles, active, unlock) and funders' API clients (add, rotate the secret, enable or
disable). A client's secret is shown once, in the answer to the form that made it; it is
never stored in the clear, put in an address or shown again.

Forms repeat the session's CSRF token; the use cases check the authority, so a forged form
of someone without it is a 403 page. After a change the browser is sent to the object's page
(``?done=...`` says what was done); the secret pages are the one exception.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xinbao.catalogue import queries as catalogue
from xinbao.compliance import services as audit
from xinbao.compliance.repository import AUDIT_SORTS, AuditFilter
from xinbao.entrypoints.console import web
from xinbao.entrypoints.console.web import N_, Listing, Signed
from xinbao.iam import services as accounts
from xinbao.iam.model.accounts import ApiClient
from xinbao.iam.model.security import Role
from xinbao.kernel.errors import InvalidInput

router = APIRouter(include_in_schema=False)  # under routes.router's /console

Text = Annotated[str, Query(max_length=120, pattern="^[^\\x00]*$")]
Token = Annotated[str, Form(max_length=100)]
Name = Annotated[str, Form(max_length=120, pattern="^[^\\x00]*$")]
Roles = Annotated[list[str], Form(max_length=20)]
#: Names in addresses: a user name or a client id (their own rules say the rest).
KEY = "^[a-z0-9][a-z0-9._-]{0,63}$"
#: When the secret a rotate form saw was last rotated (ISO time; empty: never).
SEEN = "^(|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,15})$"

#: What a page says after a change (``?done=``); anything else says nothing.
DONE = {
    "created": N_("The user was added."),
    "roles": N_("The roles were changed."),
    "activated": N_("The account was activated."),
    "deactivated": N_("The account was deactivated; its sessions ended."),
    "unlocked": N_("The account was unlocked."),
    "enabled": N_("The client was enabled."),
    "disabled": N_("The client was disabled."),
}


def _notice(console: web.Console, done: str) -> str | None:
    return console.gettext(DONE[done]) if done in DONE else None


# The audit trail.

@router.get("/audit", response_class=HTMLResponse)
def audit_trail(console: Signed, aggregate: Text = "", aggregate_id: Text = "",
                name: Text = "", actor: Text = "") -> Response:
    """The records, newest first, filtered by what they happened to, the event and who."""
    listing = Listing.of(console.request, AUDIT_SORTS, default="id", size=50)
    where = AuditFilter(aggregate=aggregate.strip() or None,
                        aggregate_id=_whole_number(aggregate_id, "aggregate_id"),
                        name=name.strip() or None, actor=actor.strip() or None)
    result = audit.audit_page(console.uow(), where, listing.page_request())
    return console.render(
        "admin/audit.html", "audit", listing=listing, result=result,
        filters={"aggregate": aggregate.strip(), "aggregate_id": aggregate_id.strip(),
                 "name": name.strip(), "actor": actor.strip()})


def _whole_number(value: str, field: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit() or len(value.strip()) > 18:
        raise InvalidInput.single(field, "number.whole", "a whole number")
    return int(value.strip())


@router.get("/audit/verify", response_class=HTMLResponse)
def verify(console: Signed) -> Response:
    """Walk the whole chain and say whether it is intact, or where it first breaks."""
    report = audit.verify_trail(console.uow())
    return console.render("admin/verify.html", "audit", report=report,
                          problems=report.problems[:100])


# Console users.

@router.get("/admin", response_class=HTMLResponse)
def users(console: Signed) -> Response:
    """The console's users with their roles and state, and the form to add one."""
    listing = Listing.of(console.request, accounts.USER_SORTS, default="username",
                         descending=False, size=50)
    result = accounts.users_page(console.uow(), listing.page_request())
    return console.render("admin/users.html", "admin", listing=listing, result=result,
                          now=web.now(), **_choices(console))


def _choices(console: web.Console) -> dict[str, Any]:
    """The roles and funders a form offers, and each funder's code by id."""
    funders = [v.funder for v in catalogue.list_funders(console.uow())]
    return {"roles": [r.value for r in Role], "funders": funders,
            "funder_codes": {f.id: f.code for f in funders}}


@router.post("/admin/users")
def add_user(console: Signed, csrf_token: Token,
             username: Annotated[str, Form(max_length=64, pattern="^[^\\x00]*$")],
             display_name: Name, password: Annotated[str, Form(max_length=128)],
             roles: Roles = [],  # noqa: B006 - FastAPI copies the default
             funder_code: Annotated[str, Form(max_length=40)] = "") -> Response:
    console.check_csrf(csrf_token)
    accounts.add_user(accounts.AddUser(username.strip(), display_name, password, roles,
                                       funder_code=funder_code.strip() or None),
                      console.uow(), console.container.credentials, now=web.now())
    return _to_user(username.strip(), "created")


def _to_user(username: str, done: str) -> Response:
    return RedirectResponse(f"/console/admin/users/{username}?done={done}", status_code=303)


@router.get("/admin/users/{username}", response_class=HTMLResponse)
def user(console: Signed, username: Annotated[str, Path(pattern=KEY)],
         done: Text = "") -> Response:
    """One user: roles, state, and the forms that change them."""
    found = accounts.get_user(console.uow(), username)
    return console.render("admin/user.html", "admin", user=found, now=web.now(),
                          notice=_notice(console, done), **_choices(console))


@router.post("/admin/users/{username}/roles")
def set_roles(console: Signed, username: Annotated[str, Path(pattern=KEY)],
              csrf_token: Token, roles: Roles = []) -> Response:  # noqa: B006
    console.check_csrf(csrf_token)
    accounts.set_user_roles(username, roles, console.uow(), now=web.now())
    return _to_user(username, "roles")


@router.post("/admin/users/{username}/active")
def set_active(console: Signed, username: Annotated[str, Path(pattern=KEY)],
               csrf_token: Token, active: Annotated[bool, Form()]) -> Response:
    """Activate or deactivate (idempotent: the state asked for, however often)."""
    console.check_csrf(csrf_token)
    accounts.set_user_active(username, active, console.uow(), now=web.now())
    return _to_user(username, "activated" if active else "deactivated")


@router.post("/admin/users/{username}/unlock")
def unlock(console: Signed, username: Annotated[str, Path(pattern=KEY)],
           csrf_token: Token) -> Response:
    console.check_csrf(csrf_token)
    accounts.unlock_user(username, console.uow(), now=web.now())
    return _to_user(username, "unlocked")


# Funders' API clients.

@router.get("/admin/clients", response_class=HTMLResponse)
def clients(console: Signed) -> Response:
    """The API clients with their roles and state, and the form to add one (no secret
    here: a secret is shown only in the answer to the form that made it)."""
    listing = Listing.of(console.request, accounts.CLIENT_SORTS, default="client_id",
                         descending=False, size=50)
    result = accounts.clients_page(console.uow(), listing.page_request())
    return console.render("admin/clients.html", "admin", listing=listing, result=result,
                          **_choices(console))


@router.post("/admin/clients")
def add_client(console: Signed, csrf_token: Token,
               client_id: Annotated[str, Form(max_length=64, pattern="^[^\\x00]*$")],
               name: Name, roles: Roles = [],  # noqa: B006
               funder_code: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Add a client and show its secret, once: a second post of the same form is a
    conflict (the client exists), never a second client."""
    console.check_csrf(csrf_token)
    client, secret = accounts.add_client(
        accounts.AddClient(client_id.strip(), name, roles,
                           funder_code=funder_code.strip() or None),
        console.uow(), console.container.credentials, now=web.now())
    return _client_page(console, client, secret=secret, status_code=201)


@router.get("/admin/clients/{client_id}", response_class=HTMLResponse)
def client(console: Signed, client_id: Annotated[str, Path(pattern=KEY)],
           done: Text = "") -> Response:
    found = accounts.get_client(console.uow(), client_id)
    return _client_page(console, found, notice=_notice(console, done))


@router.post("/admin/clients/{client_id}/rotate")
def rotate(console: Signed, client_id: Annotated[str, Path(pattern=KEY)],
           csrf_token: Token,
           seen: Annotated[str, Form(max_length=40, pattern=SEEN)] = "") -> Response:
    """A new secret, shown once; the old one keeps working for the grace period. The form
    says which secret its page showed (``seen``: when it was last rotated), so a second
    submit of it is a 409 page, not a second rotation."""
    console.check_csrf(csrf_token)
    rotated, secret = accounts.rotate_client_secret(
        client_id, console.uow(), console.container.credentials, now=web.now(),
        seen=accounts.SeenSecret(_seen(seen)))
    return _client_page(console, rotated, secret=secret)


def _seen(value: str) -> datetime | None:
    """When the secret the form saw was rotated (None: never); a time that cannot be read
    is refused with its rule."""
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput.single("seen", "client.seen", "not a time the page could have "
                                  "shown") from None


@router.post("/admin/clients/{client_id}/active")
def set_client_active(console: Signed, client_id: Annotated[str, Path(pattern=KEY)],
                      csrf_token: Token, active: Annotated[bool, Form()]) -> Response:
    console.check_csrf(csrf_token)
    accounts.set_client_active(client_id, active, console.uow(), now=web.now())
    return RedirectResponse(f"/console/admin/clients/{client_id}?done="
                            f"{'enabled' if active else 'disabled'}", status_code=303)


def _client_page(console: web.Console, found: ApiClient, *, secret: str | None = None,
                 notice: str | None = None, status_code: int = 200) -> Response:
    """A client's page; with ``secret``, the answer that shows it once (never cached)."""
    response = console.render("admin/client.html", "admin", client=found, secret=secret,
                              notice=notice, now=web.now(), status_code=status_code,
                              **_choices(console))
    if secret is not None:
        response.headers["Cache-Control"] = "no-store"
    return response
