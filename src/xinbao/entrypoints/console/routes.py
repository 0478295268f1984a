"""The web console: server-rendered pages over server-side sessions, in zh-CN or English.

The session cookie is HttpOnly, Secure and SameSite=Strict and holds only a random token
(its SHA-256 is what is stored). Every form carries a CSRF token: before sign-in a random
token in a short-lived cookie that the form must repeat (double submit); after sign-in the
session's own token. Five wrong passwords lock the account for 15 minutes.
"""

from __future__ import annotations

import hmac
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from xinbao.entrypoints.console import admin, applications, claims, finance, i18n, policies, web
from xinbao.entrypoints.console.web import N_, SESSION_COOKIE
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Action, Forbidden, Unauthenticated
from xinbao.reporting import services as reporting
from xinbao.risk import referrals
from xinbao.risk import services as risk

LOGIN_CSRF_COOKIE = "xinbao_login_csrf"
_HERE = Path(__file__).parent
router = APIRouter(prefix="/console", include_in_schema=False)
#: A limit's used share from which the dashboard shows it amber, and red.
AMBER, RED = Decimal("0.8"), Decimal("0.95")


#: The limits by the dimension they watch, as the dashboard names them (``Headroom``).
LIMIT_NAMES = {
    "retained": N_("Retained liability"),
    "obligor (individual)": N_("Single obligor, individual"),
    "obligor (enterprise)": N_("Single obligor, enterprise"),
    "funder": N_("Concentration by funder"),
    "region": N_("Concentration by region"),
    "industry": N_("Concentration by industry"),
    "product": N_("Concentration by product"),
}
LIGHTS = {"green": N_("within the limit"), "amber": N_("near the limit"),
          "red": N_("at or over the limit")}


def _login_page(request: Request, *, error: str | None = None,
                status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    _ = web.gettext(request)
    response = web.render(request, "login.html", {
        "csrf_token": token, "error": _(error) if error else None, "width": "narrow"},
        status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=600, httponly=True, secure=True,
                        samesite="strict", path="/console")
    return response


@router.get("/static/console.css")
def stylesheet() -> FileResponse:
    return FileResponse(_HERE / "static" / "console.css", media_type="text/css")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(request: Request,
          username: Annotated[str, Form(max_length=64, pattern="^[^\\x00]*$")],
          password: Annotated[str, Form(max_length=128)],
          csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(request, error=N_("The form expired; please sign in again."),
                           status_code=403)
    container = request.app.state.container
    try:
        session = accounts.login(username, password, container.uow(), container.credentials,
                                 now=web.now())
    except Unauthenticated:
        return _login_page(request, error=N_("Wrong user name or password, or the account "
                                             "is locked."), status_code=401)
    response = RedirectResponse("/console/", status_code=303)
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, secure=True,
                        samesite="strict", path="/",
                        max_age=int((session.expires_at - web.now()).total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.get("/language/{code}")
def choose_language(code: str, next: str = "/console/") -> Response:  # noqa: A002
    """Switch the console's language (a cookie) and go back to the page (only a console
    page: never an address elsewhere)."""
    target = next if next.startswith("/console/") and "//" not in next else "/console/"
    response = RedirectResponse(target, status_code=303)
    if code in i18n.LOCALES:
        response.set_cookie(i18n.LANG_COOKIE, code, max_age=365 * 86400, httponly=True,
                            secure=True, samesite="strict", path="/console")
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    """Key figures, alerts and the limits for who may read reports; who one is, for all."""
    active = web.session_of(request)
    if active is None:
        return RedirectResponse("/console/login", status_code=303)
    p = active.principal
    context: dict[str, Any] = {
        "page": "dashboard", "me": active, "menu": web.menu(active), "actor": p.actor,
        "roles": sorted(r.value for r in p.roles),
        "permissions": sorted(a.value for a in Action if p.may(a)),
        "kpis": None, "limits": None, "alerts": None}
    if p.may(Action.REPORT_READ):
        context.update(_figures(request, active))
    return web.render(request, "dashboard.html", context)


def _figures(request: Request, active: accounts.ActiveSession) -> dict[str, Any]:
    container = request.app.state.container
    _ = web.gettext(request)
    uow = lambda: container.uow(active.principal)  # noqa: E731 - one per use case
    position = risk.capital_position(uow(), container.risk.params.limits)
    limits, alerts = [], []
    for h in position.limits:
        share = (Decimal(h.used_fen) / h.cap_fen if h.used_fen is not None and h.cap_fen
                 else None)
        light = ("green" if share is None or share < AMBER
                 else "amber" if share < RED else "red")
        name = _(LIMIT_NAMES.get(h.dimension, h.dimension))
        limits.append({"code": h.code, "name": name, "used_fen": h.used_fen,
                       "cap_fen": h.cap_fen, "share": share, "light": light,
                       "light_name": _(LIGHTS[light])})
        if light != "green":
            alerts.append((light, _("%(limit)s is at %(share)s of its cap") % {
                "limit": name, "share": i18n.percent(share, i18n.locale_of(request))}))
    try:
        waiting = len(referrals.referral_queue(uow(), limit=500))
    except Forbidden:
        waiting = 0
    if waiting:
        alerts.append(("amber", _("Referrals waiting for review: %(count)s") % {
            "count": "500+" if waiting >= 500 else waiting}))
    return {"kpis": reporting.portfolio_kpis(uow()), "limits": limits, "alerts": alerts}


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    container = request.app.state.container
    if token:
        try:
            active = accounts.resolve_session(token, container.uow(), now=web.now())
        except Unauthenticated:
            active = None
        if active is not None and hmac.compare_digest(active.csrf_token, csrf_token):
            accounts.logout(token, container.uow(active.principal), now=web.now())
        elif active is not None:
            return Response("CSRF token missing or wrong", status_code=403)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


for _area in (applications, policies, claims, finance, admin):
    router.include_router(_area.router)
