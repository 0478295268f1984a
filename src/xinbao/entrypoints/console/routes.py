"""The web console: server-rendered pages over server-side sessions, in zh-CN or English.

The session cookie is HttpOnly, Secure and SameSite=Strict and holds only a random token
(its SHA-256 is what is stored). Every form carries a CSRF token: before sign-in a random
token in a short-lived cookie that the form must repeat (double submit); after sign-in the
session's own token. Five wrong passwords lock the account for 15 minutes.
"""

from __future__ import annotations

import calendar
import hmac
import secrets
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from xinbao.analytics.portfolio import monthly_statement, vintage_curves
from xinbao.entrypoints.console import (
    admin,
    applications,
    batch,
    claims,
    finance,
    i18n,
    policies,
    web,
)
from xinbao.entrypoints.console.web import N_, SESSION_COOKIE
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Action, Forbidden, Unauthenticated
from xinbao.reinsurance.services import shipped as treaties
from xinbao.reporting import html as report
from xinbao.reporting import services as reporting
from xinbao.risk import referrals
from xinbao.risk import services as risk
from xinbao.risk.model import exposure

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
#: Every text the dashboard's charts show (``reporting.html`` draws them in English and asks
#: ``gettext`` for each); listed here, where the catalogs' extractor looks.
CHART_MESSAGES = (
    N_("Monthly written and earned premium"), N_("Written premium"), N_("Earned premium"),
    N_("Monthly claims paid and recoveries"), N_("Claims paid"), N_("Recoveries"),
    N_("%(month)s · %(series)s: %(amount)s yuan"), N_("billion yuan"), N_("million yuan"),
    N_("thousand yuan"), N_("yuan"),
    N_("Loss ratio (claims incurred ÷ earned premium)"), N_("Monthly loss ratio"),
    N_("Cumulative loss ratio"), N_("percent"),
    N_("Cumulative default rate by vintage"), N_("cumulative default rate, percent"),
    N_("months on book"), N_("Vintage"),
    N_("Vintage %(vintage)s (%(policies)s policies): %(rate)s at %(months)s months on book"),
    N_("no data"),
)


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
def dashboard(console: web.Signed) -> Response:
    """Key figures, charts and limits for who may read reports; alerts for them and for who
    may read applications (the referrals waiting); who one is, for all."""
    request, active = console.request, console.session
    p = active.principal
    context: dict[str, Any] = {
        "actor": p.actor, "roles": sorted(r.value for r in p.roles),
        "permissions": sorted(a.value for a in Action if p.may(a)),
        "kpis": None, "limits": None, "alerts": None, "charts": None}
    if p.may(Action.REPORT_READ):
        context.update(_figures(request, active))
    if p.may(Action.REPORT_READ) or p.may(Action.APPLICATION_READ):
        context["alerts"] = (_limit_alerts(request, context["limits"] or [])
                             + _referral_alerts(request, active))
    return console.render("dashboard.html", "dashboard", **context)


def _figures(request: Request, active: accounts.ActiveSession) -> dict[str, Any]:
    """What a reader of reports sees: the key figures, the four charts of the portfolio
    report, and the limits with their lights."""
    container = request.app.state.container
    uow = lambda: container.uow(active.principal)  # noqa: E731 - one per use case
    return {"kpis": reporting.portfolio_kpis(uow()), "limits": _limits(request, uow()),
            "charts": _charts(request, uow)}


def _limits(request: Request, uow: Any) -> list[dict[str, Any]]:
    """The portfolio and regulatory limits with their used share and light."""
    container = request.app.state.container
    _ = web.gettext(request)
    rows = []
    position = risk.capital_position(uow, container.risk.params.limits,
                                     ceded_share=treaties().quota_share_on(web.today()))
    for h in position.limits:
        share = (Decimal(h.used_fen) / h.cap_fen if h.used_fen is not None and h.cap_fen
                 else None)
        light = ("green" if share is None or share < AMBER
                 else "amber" if share < RED else "red")
        rows.append({"code": h.code, "name": _(LIMIT_NAMES.get(h.dimension, h.dimension)),
                     "used_fen": h.used_fen, "cap_fen": h.cap_fen, "share": share,
                     "light": light, "light_name": _(LIGHTS[light])})
        if h.dimension == exposure.RETAINED:  # and what the quota shares leave us of it
            rows.append({"code": h.code, "name": _("Retained liability net of reinsurance"),
                         "used_fen": position.net_retained_fen, "cap_fen": h.cap_fen,
                         "share": Decimal(position.net_retained_fen) / h.cap_fen
                         if h.cap_fen else None, "light": "", "light_name": ""})
    return rows


#: An alert: its level (amber or red), its text, and where to act on it.
Alert = tuple[str, str, str]


def _limit_alerts(request: Request, limits: list[dict[str, Any]]) -> list[Alert]:
    """A limit near or over its cap, pointing at the limits' table on the dashboard."""
    _ = web.gettext(request)
    locale = i18n.locale_of(request)
    return [(row["light"], _("%(limit)s is at %(share)s of its cap") % {
                "limit": row["name"], "share": i18n.percent(row["share"], locale)},
             "#limits-title")
            for row in limits if row["light"] in ("amber", "red")]


def _referral_alerts(request: Request, active: accounts.ActiveSession) -> list[Alert]:
    """Applications whose decision failed (to the referred applications: the error is on
    each one's page) and referrals waiting (to the referral queue for who may review them,
    else to the referred applications)."""
    _ = web.gettext(request)
    p = active.principal
    try:
        counts = referrals.waiting_referrals(request.app.state.container.uow(p))
    except Forbidden:
        return []
    referred = "/console/applications?status=referred"
    alerts: list[Alert] = []
    if counts.failed:
        alerts.append(("red", _("Applications the engine failed to decide, referred: "
                                "%(count)s") % {"count": counts.failed}, referred))
    if counts.waiting:
        queue = "/console/referrals" if p.may(Action.APPLICATION_APPROVE) else referred
        alerts.append(("amber", _("Referrals waiting for review: %(count)s") % {
            "count": counts.waiting}, queue))
    return alerts


def _charts(request: Request, uow: Callable[[], Any]) -> list[Markup]:
    """The portfolio report's charts in the reader's language: monthly premium and claims,
    loss ratio (monthly and cumulative), vintage default curves. Vintages are followed to
    the end of the ledger's last month (today's month on a live book; a simulated book's
    last month otherwise)."""
    monthly = monthly_statement(reporting.ledger_by_month(uow()))
    as_of = _month_end(monthly["month"].max()) if monthly.height else web.today()
    vintages = vintage_curves(reporting.policy_vintages(uow()), as_of)
    # The SVG is built by reporting.html, which escapes every text it writes.
    return [Markup(svg) for svg in report.chart_figures(
        monthly=monthly, vintages=vintages, gettext=web.gettext(request))]


def _month_end(month: object) -> date:
    """The last day of a ``YYYY-MM`` month."""
    year, number = (int(part) for part in str(month).split("-"))
    return date(year, number, calendar.monthrange(year, number)[1])


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    """End the session (its form must carry the session's CSRF token: a 403 page if not);
    without a live session, just back to the sign-in page."""
    active = web.session_of(request)
    if active is not None:
        web.Console(request, active).check_csrf(csrf_token)
        accounts.logout(request.cookies[SESSION_COOKIE],
                        request.app.state.container.uow(active.principal), now=web.now())
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


for _area in (applications, policies, claims, batch, finance, admin):
    router.include_router(_area.router)
