"""What every router shares: the caller of a request (``Me``), path ids, the business date,
the error answers every ``/v1`` route documents, and field errors in FastAPI's shape.

Every ``/v1`` route needs a principal: a funder's API client with a bearer token from
``POST /oauth/token`` (OAuth2 client credentials), or a console user with a session cookie
(and the ``X-CSRF-Token`` header on anything that is not a read). The use cases check the
principal's permissions and tenant themselves; routes only pass it on.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from xinbao.bootstrap import Container
from xinbao.entrypoints.api.hardening import RateLimited
from xinbao.entrypoints.api.lane import RATE_TAKEN
from xinbao.entrypoints.api.schemas.common import BIGINT_MAX, ErrorOut, FieldErrorOut
from xinbao.entrypoints.console.routes import SESSION_COOKIE
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Principal, Unauthenticated
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.identity import MaskingRules
from xinbao.sql_unit_of_work import SqlUnitOfWork

CSRF_HEADER = "X-CSRF-Token"
#: Text parameters may not hold NUL characters (PostgreSQL text and JSON cannot).
NO_NUL = "^[^\\x00]*$"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="access token from POST /oauth/token")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="console session (send X-CSRF-Token on writes)")

#: The error answers every ``/v1`` route may give (its router's ``responses``).
ERRORS: dict[int | str, dict] = {
    401: {"model": ErrorOut, "description": "not authenticated"},
    403: {"model": ErrorOut, "description": "not permitted"},
    404: {"model": ErrorOut, "description": "not found (or not yours)"},
    409: {"model": ErrorOut, "description": "conflicts with the current state"},
    429: {"model": ErrorOut, "description": "too many requests"},
}


def utcnow() -> datetime:
    """Wall-clock time as naive UTC, as accounts and sessions store it."""
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    return date.today()


class CsrfRejected(Exception):
    """A write with a session cookie but without the session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal of one request, and units of work acting for it."""

    container: Container
    principal: Principal

    def uow(self) -> SqlUnitOfWork:
        return self.container.uow(self.principal)

    @property
    def masking(self) -> MaskingRules:
        return self.container.parameters.masking


async def _caller(request: Request,
                  bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
                  session: Annotated[str | None, Security(_cookie)]) -> Caller:
    container: Container = request.app.state.container
    now = utcnow()
    if bearer is not None:
        # A remembered signature and one indexed read of the client, in a worker thread: the
        # read never waits for a writer, but it may wait for a pooled connection.
        principal = await run_in_threadpool(accounts.resolve_token, bearer.credentials,
                                            container.uow(), container.credentials, now=now)
    elif session:
        # Resolving a session writes (its idle clock), which may wait for the database.
        active = await run_in_threadpool(accounts.resolve_session, session, container.uow(),
                                         now=now)
        principal = active.principal
        if request.method not in _SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, ""), active.csrf_token):
            raise CsrfRejected("CSRF token missing or wrong: send the session's token in "
                               f"the {CSRF_HEADER} header")
    else:
        raise Unauthenticated("authentication required: a bearer token or a console session")
    # A request the decision lane hands on has spent its token there (lane.py).
    wait = None if request.scope.get(RATE_TAKEN) else request.app.state.limiter.check(
        principal.actor)
    if wait is not None:
        raise RateLimited(wait)
    request.state.principal = principal
    return Caller(container, principal)


Me = Annotated[Caller, Depends(_caller)]
PathId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]


def error_location(field: str) -> list[str | int]:
    """``evidence[0].sha256`` as the path ``["evidence", 0, "sha256"]``."""
    out: list[str | int] = []
    for part in field.split("."):
        name, _, index = part.partition("[")
        out.append(name)
        if index.rstrip("]").isdigit():
            out.append(int(index.rstrip("]")))
    return out


def field_errors(error: Exception) -> list[FieldErrorOut]:
    """A refusal as field errors, in the shape of a 422's ``detail``."""
    if isinstance(error, InvalidInput):
        return [FieldErrorOut(loc=error_location(e.field), msg=e.message, type=e.rule)
                for e in error.errors]
    return [FieldErrorOut(loc=[], msg=str(error), type=type(error).__name__)]
