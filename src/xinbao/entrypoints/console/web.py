"""What every console page shares: who is signed in, the reader's language, the CSRF check
of forms, lists paginated and sorted on the server, the menu, and errors shown as pages.

A page handler takes a ``Console`` (``Signed``): the signed-in person's session, units of
work acting for them, and ``render``. Nobody signed in is sent to the sign-in page. A use
case's refusal becomes a page in the reader's language with the rule it broke (the API's
error handlers hand ``/console/`` paths to ``error_page``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Path, Request
from fastapi.responses import Response

from xinbao.bootstrap import Container
from xinbao.entrypoints.console import i18n
from xinbao.entrypoints.console.i18n import N_
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Action, Unauthenticated
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.paging import PageRequest

SESSION_COOKIE = "xinbao_session"


@dataclass(frozen=True, slots=True)
class MenuItem:
    key: str
    path: str
    label: str
    action: Action | None  # shown to whoever may do this (None: everyone signed in)


#: The console's menu, in order; each area's pages set ``page`` to their item's key.
MENU = (
    MenuItem("dashboard", "/console/", N_("Dashboard"), None),
    MenuItem("applications", "/console/applications", N_("Applications"),
             Action.APPLICATION_READ),
    MenuItem("referrals", "/console/referrals", N_("Referrals"), Action.APPLICATION_APPROVE),
    MenuItem("policies", "/console/policies", N_("Policies"), Action.POLICY_READ),
    MenuItem("claims", "/console/claims", N_("Claims"), Action.CLAIM_READ),
    MenuItem("eod", "/console/eod", N_("End of day"), Action.REPORT_READ),
    MenuItem("feeds", "/console/feeds", N_("Funder files"), Action.LOAN_READ),
    MenuItem("finance", "/console/finance", N_("Finance"), Action.LEDGER_READ),
    MenuItem("audit", "/console/audit", N_("Audit trail"), Action.AUDIT_READ),
    MenuItem("admin", "/console/admin", N_("Administration"), Action.USER_MANAGE),
)


class FormRejected(Exception):
    """A form sent without the session's CSRF token (or with a stale one)."""


def now() -> datetime:
    """Wall-clock time as naive UTC, as sessions store it."""
    return datetime.now(UTC).replace(tzinfo=None)


def form_date(field: str, text: str) -> date:
    """A date a form sent (``YYYY-MM-DD``); InvalidInput naming the field otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput.single(field, "date.format", "a date as YYYY-MM-DD") from None


def form_yuan(field: str, text: str, *, zero: bool = False) -> int:
    """An amount typed in yuan (up to two decimals, thousands separators allowed) as integer
    fen: more than 0 (or 0 too, ``zero``); InvalidInput naming the field otherwise."""
    try:
        yuan = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        yuan = Decimal("NaN")
    if not yuan.is_finite() or yuan != yuan.quantize(Decimal("0.01")) or yuan < 0 \
            or (yuan == 0 and not zero):
        raise InvalidInput.single(field, "amount.yuan",
                                  f"a {'' if zero else 'positive '}amount in yuan with at "
                                  "most two decimals")
    return int(yuan * 100)


def today() -> date:
    return date.today()


def render(request: Request, name: str, context: dict[str, Any], *,
           status_code: int = 200) -> Response:
    """A page in the reader's language."""
    return i18n.templates(i18n.locale_of(request)).TemplateResponse(
        request, name, context, status_code=status_code)


def gettext(request: Request) -> Callable[[str], str]:
    return i18n.translations(i18n.locale_of(request)).gettext


def session_of(request: Request) -> accounts.ActiveSession | None:
    """The live session behind the request's cookie, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return accounts.resolve_session(token, request.app.state.container.uow(), now=now())
    except Unauthenticated:
        return None


@dataclass(frozen=True, slots=True)
class Console:
    """One request of a signed-in person."""

    request: Request
    session: accounts.ActiveSession

    @property
    def container(self) -> Container:
        return self.request.app.state.container

    def uow(self) -> Any:
        """A unit of work acting for the person (one per use case)."""
        return self.container.uow(self.session.principal)

    def may(self, action: Action, amount_fen: int | None = None) -> bool:
        return self.session.principal.may(action, amount_fen)

    @property
    def locale(self) -> str:
        return i18n.locale_of(self.request)

    def gettext(self, message: str) -> str:
        return i18n.translations(self.locale).gettext(message)

    def render(self, name: str, page: str, *, status_code: int = 200,
               **context: Any) -> Response:
        """The template ``name`` with the menu's ``page`` marked as current."""
        return render(self.request, name, {"page": page, **context, "me": self.session,
                                           "menu": menu(self.session)},
                      status_code=status_code)

    def check_csrf(self, token: str) -> None:
        """FormRejected unless a form repeats the session's CSRF token."""
        if not hmac.compare_digest(self.session.csrf_token.encode(), token.encode()):
            raise FormRejected("the form's CSRF token is missing or wrong")


def console(request: Request) -> Console:
    """The signed-in person's console, or a redirect to the sign-in page."""
    active = session_of(request)
    if active is None:
        raise HTTPException(303, "sign in first", headers={"Location": "/console/login"})
    request.state.principal = active.principal  # for the record of a refusal
    return Console(request, active)


Signed = Annotated[Console, Depends(console)]
#: An object's id in a page's address: a positive 64-bit integer (anything else is a 422 page).
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def menu(active: accounts.ActiveSession | None) -> list[MenuItem]:
    if active is None:
        return []
    return [m for m in MENU if m.action is None or active.principal.may(m.action)]


@dataclass(frozen=True, slots=True)
class Listing:
    """A list's page as its URL asks for it: ``?sort=key&dir=asc|desc&page=N`` on top of
    the list's own filters, which every link of the page keeps."""

    request: Request
    sort: str
    descending: bool
    number: int
    size: int

    @classmethod
    def of(cls, request: Request, sorts: Sequence[str], *, default: str = "id",
           descending: bool = True, size: int = 50) -> Listing:
        """The page asked for; an unknown sort key or page falls back to the default."""
        q = request.query_params
        sort = q.get("sort", default)
        if sort not in sorts:
            sort = default
        direction = q.get("dir")
        desc = descending if direction not in ("asc", "desc") else direction == "desc"
        try:
            number = max(1, min(int(q.get("page", "1")), 1_000_000))
        except ValueError:
            number = 1
        return cls(request, sort, desc, number, size)

    def page_request(self) -> PageRequest:
        return PageRequest(self.sort, self.descending, (self.number - 1) * self.size,
                           self.size)

    def url(self, **changes: object) -> str:
        """This page's URL with some parameters changed (None drops one)."""
        params = dict(self.request.query_params)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = str(value)
        query = urlencode(sorted(params.items()))
        return f"{self.request.url.path}?{query}" if query else self.request.url.path

    def sort_url(self, key: str) -> str:
        """Sort by ``key``: the other way if it is the current key, from page 1."""
        desc = not self.descending if key == self.sort else key in ("id", "date")
        return self.url(sort=key, dir="desc" if desc else "asc", page=None)

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"


def error_page(request: Request, status_code: int, detail: str,
               rules: Sequence[tuple[str, str, str]] = ()) -> Response:
    """A refusal or failure as a console page: a heading in the reader's language, what was
    wrong, and the rules broken (field, rule code, message)."""
    titles = {400: N_("The request could not be read"), 403: N_("Not allowed"),
              404: N_("Not found"), 409: N_("The record has changed"),
              422: N_("Please correct the form")}
    fallback = N_("Something went wrong")
    _ = gettext(request)
    active = session_of(request)
    return render(request, "error.html", {
        "page": None, "me": active, "menu": menu(active),
        "title": _(titles.get(status_code, fallback)),
        "detail": detail, "rules": list(rules), "status": status_code},
        status_code=status_code)
