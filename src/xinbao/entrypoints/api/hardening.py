"""HTTP hardening at the API edge: body size cap, security headers, rate limits, error bodies.

Everything here is plain ASGI (no ``BaseHTTPMiddleware``), so streaming responses, background
tasks and ``request.is_disconnected()`` keep working. Non-HTTP scopes (lifespan, websocket)
pass through untouched.

Install order matters. ``add_middleware`` wraps the application, so the last one added is the
outermost. Add the body cap first and the headers last, so a 413 or 429 still carries the
security headers and a brute-force attempt is refused before its body is read::

    app.add_middleware(BodySizeLimit, max_bytes=1_048_576)
    app.add_middleware(IpRateLimit, limiter=RateLimiter(1.0, 10),
                       paths=("/oauth/token", "/console/login"))
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app, log)

Starlette answers an unhandled exception from ``ServerErrorMiddleware``, which sits outside
all user middleware, so that 500 response does not pass through ``SecurityHeaders``; its body
is the one ``install_error_handlers`` builds and carries nothing from the exception.

``IpRateLimit`` keys on ``scope["client"]``; behind a reverse proxy that is the proxy's address
unless the server is told to trust forwarded headers (``uvicorn --proxy-headers
--forwarded-allow-ips=...``).
"""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", _CSP),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
# Responses under these prefixes carry personal and financial data; no cache may keep them.
_NO_STORE_PREFIXES = ("/v1/", "/oauth/", "/console/")


def retry_after_header(retry_after: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds, rounded up and never 0 (0 invites an instant retry)."""
    return {"Retry-After": str(max(1, math.ceil(retry_after)))}


def too_many_requests(retry_after: float) -> JSONResponse:
    return JSONResponse({"detail": "too many requests"}, status_code=429,
                        headers=retry_after_header(retry_after))


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` again from the start, for a body already read: the whole body first, then
    whatever comes next (a disconnect)."""
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, declared or streamed; a path that
    ``uploads`` matches (a funder's file) may send up to ``upload_max_bytes``.

    A declared ``Content-Length`` over the limit is refused before anything is read. Otherwise
    the body is read into memory up to the limit before the application runs, then replayed to
    it, so a chunked body that grows past the limit is refused before the application has
    produced any output.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 1_048_576, *,
                 uploads: re.Pattern[str] | None = None, upload_max_bytes: int = 0) -> None:
        if max_bytes < 0 or upload_max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.app = app
        self.max_bytes = max_bytes
        self.uploads, self.upload_max_bytes = uploads, upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_max_bytes if self.uploads is not None and scope["method"] == "POST" \
            and self.uploads.fullmatch(scope["path"]) else self.max_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; there is no one to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        await self.app(scope, replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse(
            {"detail": f"request body too large (limit {limit} bytes)"},
            status_code=413,
            # The unread rest of the body makes the connection unusable for another request.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class SecurityHeaders:
    """Add browser security headers to every HTTP response, never replacing the app's own."""

    def __init__(self, app: ASGIApp, *, hsts: bool = True) -> None:
        self.app = app
        self.headers = _SECURITY_HEADERS + ((_HSTS,) if hsts else ())
        # As MutableHeaders.setdefault adds them: lower-case names, Latin-1 bytes.
        self._raw = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                     for name, value in self.headers]
        self._no_store = (b"cache-control", b"no-store")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = scope["path"].startswith(_NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name for name, _ in headers}
                headers.extend(h for h in self._raw if h[0] not in present)
                if no_store and self._no_store[0] not in present:
                    headers.append(self._no_store)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLog:
    """One access line a request, handed to ``log`` (``AccessLogWriter.log`` of
    ``platform/log_writer.py``) as (client, method, path, query string, HTTP version,
    status): the outermost of ours, so that it sees what the client gets, the decision
    lane's answers included.

    A request whose handling raises is logged as the 500 Starlette's outer error handler
    then sends; one whose client left before any answer is not logged (as uvicorn's own
    access log does)."""

    def __init__(self, app: ASGIApp, *, log: Callable[[tuple[Any, ...]], None]) -> None:
        self.app = app
        self._log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        except BaseException:
            if not status:
                status = 500
            raise
        finally:
            if status:
                self._log((scope.get("client"), scope["method"], scope["path"],
                           scope["query_string"], scope["http_version"], status))


class RateLimited(Exception):
    """A caller went over a rate limit; answered as 429 with ``Retry-After``."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.3f} s")
        self.retry_after = retry_after


class RateLimiter:
    """Token buckets per key: ``burst`` requests at once, refilled at ``rate_per_second``.

    Thread-safe. Buckets live in memory, per process; with several workers each has its own.
    Only the ``max_keys`` most recently used keys are kept; a forgotten key starts full again.
    """

    # Absorbs float error in refill arithmetic (0.1 s * 10/s must give a whole token back).
    _EPSILON = 1e-9

    def __init__(self, rate_per_second: float, burst: int,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, key: str) -> float | None:
        """Take a token for ``key``: None when allowed, else seconds until one is available."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst),
                         tokens + max(0.0, now - last) * self.rate_per_second)
            if tokens >= 1.0 - self._EPSILON:
                tokens = max(0.0, tokens - 1.0)
                wait = None
            else:
                wait = (1.0 - tokens) / self.rate_per_second
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)


class IpRateLimit:
    """Apply ``limiter`` per client IP to requests under ``paths`` with one of ``methods``
    (by default POST: credentials are tried by posting them); others pass freely."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, paths: tuple[str, ...],
                 methods: tuple[str, ...] = ("POST",)) -> None:
        self.app = app
        self.limiter = limiter
        self.paths = tuple(paths)
        self.methods = frozenset(m.upper() for m in methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and self.paths and scope["method"] in self.methods
                and scope["path"].startswith(self.paths)):
            client = scope.get("client")
            wait = self.limiter.check(client[0] if client else "unknown")
            if wait is not None:
                await too_many_requests(wait)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _ErrorLog(Protocol):
    def error(self, event: str, /, *args: Any, **kw: Any) -> Any: ...


def install_error_handlers(app: Starlette, log: _ErrorLog) -> None:
    """Answer errors with bodies that say what the client may know and nothing more.

    An unhandled exception becomes a 500 with a random ``error_id`` that is also logged, so
    support can find the log line; its message, which may hold personal data, is not sent.
    (A collision with a concurrent transaction is no fault: the unit of work raises it as
    ``WriteConflict``, which the application's own handlers answer 409.)
    """

    async def unhandled(request: Request, exc: Exception) -> Response:
        error_id = uuid.uuid4().hex
        log.error("unhandled error", error_id=error_id, error=type(exc).__name__,
                  path=request.url.path)
        return JSONResponse({"detail": "internal error", "error_id": error_id},
                            status_code=500)

    async def rate_limited(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RateLimited)
        return too_many_requests(exc.retry_after)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code in {204, 304}:  # these statuses must not have a body
            return Response(status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)

    app.add_exception_handler(Exception, unhandled)
    app.add_exception_handler(RateLimited, rate_limited)
    app.add_exception_handler(HTTPException, http_error)
