"""Routes of identity and access: who the caller is (``/v1/me``), and access tokens for
API clients (``/oauth/token``, outside ``/v1``: it has OAuth's own error answers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from xinbao.bootstrap import Container
from xinbao.entrypoints.api.deps import ERRORS, NO_NUL, Me, utcnow
from xinbao.entrypoints.api.schemas.common import ErrorOut
from xinbao.entrypoints.api.schemas.iam import MeOut, OAuthErrorOut, TokenOut
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Action, Unauthenticated

router = APIRouter(prefix="/v1", tags=["identity"], responses=ERRORS)
oauth = APIRouter(prefix="/oauth", tags=["identity"])


@router.get("/me", response_model=MeOut)
def who_am_i(me: Me) -> MeOut:
    p = me.principal
    return MeOut(actor=p.actor, kind=p.kind, roles=sorted(r.value for r in p.roles),
                 funder_id=p.funder_id,
                 permissions=sorted(a.value for a in Action if p.may(a)))


def _oauth_error(code: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="xinbao"'} if code == 401 else None
    return JSONResponse(status_code=code, headers=headers,
                        content={"error": error, "error_description": description})


@oauth.post("/token", response_model=TokenOut,
            responses={400: {"model": OAuthErrorOut}, 401: {"model": OAuthErrorOut},
                       429: {"model": ErrorOut}})
def token(request: Request,
          grant_type: Annotated[str, Form(max_length=40)],
          client_id: Annotated[str, Form(min_length=1, max_length=64, pattern=NO_NUL)],
          client_secret: Annotated[str, Form(min_length=1, max_length=200)],
          ) -> TokenOut | JSONResponse:
    """OAuth2 client credentials (RFC 6749 §4.4): a short-lived access token."""
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials")
    container: Container = request.app.state.container
    try:
        t = accounts.issue_token(client_id, client_secret, container.uow(),
                                 container.credentials, now=utcnow())
    except Unauthenticated:
        return _oauth_error(401, "invalid_client", accounts.REFUSED)
    return TokenOut(access_token=t.token, expires_in=t.expires_in)
