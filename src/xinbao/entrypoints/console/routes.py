"""The web console's sign-in: server-rendered pages, server-side sessions.

The session cookie is HttpOnly, Secure and SameSite=Strict and holds only a random token
(its SHA-256 is what is stored). Every form carries a CSRF token: before sign-in a random
token in a short-lived cookie that the form must repeat (double submit); after sign-in the
session's own token. Five wrong passwords lock the account for 15 minutes.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from xinbao.iam import services as accounts
from xinbao.iam.model.security import Action, Unauthenticated

SESSION_COOKIE = "xinbao_session"
LOGIN_CSRF_COOKIE = "xinbao_login_csrf"
_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=_HERE / "templates")  # autoescapes .html
router = APIRouter(prefix="/console", include_in_schema=False)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _login_page(request: Request, *, error: str | None = None,
                status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(request, "login.html", {
        "csrf_token": token, "error": error}, status_code=status_code)
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
        return _login_page(request, error="The form expired; please sign in again.",
                           status_code=403)
    container = request.app.state.container
    try:
        session = accounts.login(username, password, container.uow(), container.credentials,
                                 now=_now())
    except Unauthenticated:
        return _login_page(request, error="Wrong user name or password, or the account is "
                                          "locked.", status_code=401)
    response = RedirectResponse("/console/", status_code=303)
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, secure=True,
                        samesite="strict", path="/",
                        max_age=int((session.expires_at - _now()).total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    container = request.app.state.container
    try:
        if not token:
            raise Unauthenticated("no session")
        active = accounts.resolve_session(token, container.uow(), now=_now())
    except Unauthenticated:
        return RedirectResponse("/console/login", status_code=303)
    p = active.principal
    return templates.TemplateResponse(request, "home.html", {
        "display_name": active.display_name, "actor": p.actor,
        "roles": sorted(r.value for r in p.roles), "csrf_token": active.csrf_token,
        "permissions": sorted(a.value for a in Action if p.may(a))})


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    container = request.app.state.container
    if token:
        try:
            active = accounts.resolve_session(token, container.uow(), now=_now())
        except Unauthenticated:
            active = None
        if active is not None and hmac.compare_digest(active.csrf_token, csrf_token):
            accounts.logout(token, container.uow(active.principal), now=_now())
        elif active is not None:
            return Response("CSRF token missing or wrong", status_code=403)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
