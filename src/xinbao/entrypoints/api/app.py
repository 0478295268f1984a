"""The FastAPI application: the routers of every area (``routers/``), the console, the
middleware, and domain errors turned into HTTP statuses.

Who may call what: ``deps.py`` (a bearer token from ``POST /oauth/token``, or a console
session with its CSRF token on writes).

InvalidInput → 422 with field-level details (the same shape as FastAPI's own validation
errors); Unauthenticated → 401; Forbidden → 403 (and an ``AccessDenied`` audit record);
NotFound, and any object outside the caller's tenant → 404; Conflict and IllegalTransition →
409, and so is a collision with a concurrent transaction that a use case did not resolve (a
unique index, a lock, a serialization failure: ``hardening.install_error_handlers``); too many
requests → 429; anything else → 500 with an error id and nothing more.
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TextIO

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from xinbao import __version__
from xinbao.bootstrap import Container, bootstrap
from xinbao.config import Settings
from xinbao.entrypoints.api.batching import DecisionBatcher
from xinbao.entrypoints.api.deps import CsrfRejected, error_location, today, utcnow
from xinbao.entrypoints.api.hardening import (
    AccessLog,
    BodySizeLimit,
    IpRateLimit,
    RateLimiter,
    SecurityHeaders,
    install_error_handlers,
)
from xinbao.entrypoints.api.lane import DecisionLane
from xinbao.entrypoints.api.routers import (
    catalogue,
    claims,
    compliance,
    feeds,
    iam,
    ledger,
    policy,
    reporting,
    risk,
    servicing,
    underwriting,
)
from xinbao.entrypoints.api.schemas.common import HealthOut, dump_json
from xinbao.entrypoints.api.schemas.risk import decision_fields
from xinbao.entrypoints.console import batch as console_batch
from xinbao.entrypoints.console import routes as console
from xinbao.entrypoints.console import web as console_web
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Forbidden, Principal, Unauthenticated
from xinbao.kernel.errors import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
    WriteConflict,
)
from xinbao.platform.log_writer import AccessLogWriter
from xinbao.risk.model_store import ReloadingScorer

#: The routers in the order their routes are matched and listed in the spec.
ROUTERS = (catalogue.router, underwriting.router, risk.router, policy.router,
           servicing.router, feeds.router, claims.router, ledger.router, reporting.router,
           iam.router, compliance.router, iam.oauth, console.router)


def _explained(error: Mapping[str, Any], body: Any, content_type: str | None
               ) -> dict[str, Any]:
    """A validation error as answered, without its input. Two of FastAPI's say too little:
    "JSON decode error" gains its reason and place, and a body never read as JSON (another
    content type, or none) says which content type is expected instead of "Input should be
    a valid dictionary or object"."""
    loc, msg, kind = list(error.get("loc", ())), error.get("msg", ""), error.get("type", "")
    if kind == "json_invalid" and isinstance(body, str) and len(loc) == 2 \
            and isinstance(loc[1], int):
        at = loc[1]
        line, column = body.count("\n", 0, at) + 1, at - body.rfind("\n", 0, at)
        reason = (error.get("ctx") or {}).get("error", "invalid syntax")
        msg = f"Malformed JSON: {reason} at line {line}, column {column} (char {at})"
    elif loc == ["body"] and isinstance(body, bytes):
        given = (content_type or "none")[:80]
        msg = f"The body must be JSON sent as Content-Type: application/json (got {given})"
        kind = "content_type"
    return {"loc": loc, "msg": msg, "type": kind}


def _error_handlers() -> dict[type[Exception], Callable]:
    def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={
            "detail": [{"loc": ["body", *error_location(e.field)], "msg": e.message,
                        "type": e.rule} for e in exc.errors]})

    def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the input; it may hold ID numbers, phones or cards.
        sent = request.headers.get("content-type")
        return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={
            "detail": [_explained(e, exc.body, sent) for e in exc.errors()]})

    def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    def conflict(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    def unauthenticated(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=401, content={"detail": str(exc)},
                            headers={"WWW-Authenticate": "Bearer"})

    def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        container: Container = request.app.state.container
        principal: Principal | None = getattr(request.state, "principal", None)
        accounts.record_security_event("AccessDenied", {
            "action": exc.action.value, "reason": exc.reason, "method": request.method,
            "path": request.url.path}, container.uow(principal), on=today())
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    def csrf(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    handlers: dict[type[Exception], Callable] = {
        InvalidInput: invalid, RequestValidationError: malformed, NotFound: not_found,
        Conflict: conflict, IllegalTransition: conflict, WriteConflict: conflict,
        Unauthenticated: unauthenticated, Forbidden: forbidden, CsrfRejected: csrf,
        console_web.FormRejected: csrf}
    return {kind: _console_aware(handler) for kind, handler in handlers.items()}


def _console_aware(handler: Callable[[Request, Any], JSONResponse]) -> Callable:
    """The handler for the API; on a console page, the same refusal as a page (its status
    and rules, in the reader's language)."""

    def handle(request: Request, exc: Exception) -> Response:
        answer = handler(request, exc)
        if not request.url.path.startswith("/console/"):
            return answer
        if isinstance(exc, InvalidInput):
            rules = [(e.field, e.rule, e.message) for e in exc.errors]
        elif isinstance(exc, RequestValidationError):
            rules = [(".".join(str(x) for x in e.get("loc", ())[1:]), e.get("type", ""),
                      e.get("msg", "")) for e in exc.errors()]
        else:
            rules = []
        detail = "" if rules or isinstance(exc, Unauthenticated) else str(exc)
        return console_web.error_page(request, answer.status_code, detail, rules)

    return handle


def app_from_environment() -> FastAPI:
    """The application of one server process among several (``xinbao serve --workers``),
    configured from the environment like the command that started it, with its access
    log on standard output."""
    container = bootstrap(Settings.from_env(), upgrade=False)
    app = create_app(container, access_log=sys.stdout)
    settle(container)
    return app


def settle(container: Container) -> None:
    """Ready a server process before it serves: build the risk engine and load its model
    (the first decision does not pay for them, and broken parameters or models stop the
    server at start), then move everything alive out of the garbage collector's sight
    (``gc.freeze``).

    A server lives with a large heap that never dies (modules, models, the routes); a full
    collection walked all of it, pausing every request for 320-400 ms several times a
    minute under load; frozen, a full collection takes about 20 ms (issue 5's note)."""
    scorer = container.risk.scorer  # the engine, built on first use
    if isinstance(scorer, ReloadingScorer):
        scorer.ready()  # a promoted model, loaded now rather than by the first decision
    gc.collect()
    gc.freeze()


def create_app(container: Container, *, access_log: TextIO | None = None) -> FastAPI:
    """The API and the console; with ``access_log``, a line for every request is written
    there (``xinbao serve``: standard output, in uvicorn's access format, redacted)."""
    settings = container.settings
    batcher = DecisionBatcher(container.uow, lambda: container.risk,
                              client=lambda client_id: accounts.client_principal(
                                  client_id, container.uow()))
    writer = AccessLogWriter(access_log) if access_log is not None else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.stop()
        if writer is not None:
            writer.close()

    app = FastAPI(title="Xinbao 信保", version=__version__,
                  description="Core system for financing credit & guarantee insurance. "
                              "The spec is at /openapi.json (no hosted docs page: it would "
                              "load scripts from elsewhere).",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.container = container
    app.state.batcher = batcher
    app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    # Outermost last: the decision lane, size cap, then per-IP limit on the credential
    # endpoints, then headers, then (served) the access log.
    masking = container.parameters.masking
    app.add_middleware(DecisionLane, batcher=batcher, limiter=app.state.limiter,
                       credentials=container.credentials, now=utcnow, today=today,
                       answer=lambda r: dump_json(decision_fields(r, masking)))
    uploads = re.compile(f"{feeds.UPLOADS.pattern}|{console_batch.UPLOADS.pattern}")
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       uploads=uploads, upload_max_bytes=settings.max_upload_bytes)
    app.add_middleware(IpRateLimit,
                       limiter=RateLimiter(settings.login_rate_per_minute / 60,
                                           settings.login_rate_per_minute),
                       paths=("/oauth/token", "/console/login"))
    app.add_middleware(SecurityHeaders)
    if writer is not None:
        app.add_middleware(AccessLog, log=writer.log)
    install_error_handlers(app, container.log)

    @app.get("/health", response_model=HealthOut, tags=["operations"])
    def health(request: Request) -> HealthOut:
        c_: Container = request.app.state.container
        try:
            revision, current = c_.schema_state()
            return HealthOut(status="ok" if current else "degraded", database="ok",
                             schema_revision=revision, schema_current=current)
        except Exception as exc:  # noqa: BLE001 - health reports any failure as down
            c_.log.error("health check failed", error=type(exc).__name__)
            return HealthOut(status="down", database="unreachable", schema_revision=None,
                             schema_current=False)

    for router in ROUTERS:
        app.include_router(router)
    for exc_type, handler in _error_handlers().items():
        app.add_exception_handler(exc_type, handler)
    return app
