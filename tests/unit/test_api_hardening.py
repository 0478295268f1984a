"""The API edge refuses oversized bodies, sets security headers, limits brute force and keeps
exception details out of responses. Each test builds a tiny app of its own."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
import structlog.testing
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from xinbao.entrypoints.api.hardening import (
    BodySizeLimit,
    IpRateLimit,
    RateLimited,
    RateLimiter,
    SecurityHeaders,
    install_error_handlers,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def error(self, event: str, /, **kw: Any) -> None:
        self.events.append((event, kw))


def echo_app(limit: int = 16) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(await request.body())

    app.add_middleware(BodySizeLimit, max_bytes=limit)
    return app


def chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


async def call_asgi(app: Any, scope: Scope, messages: list[Message]) -> list[Message]:
    pending = list(messages)
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(path: str = "/", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers or [],
            "client": ("203.0.113.9", 50000), "server": ("testserver", 80)}


# --- BodySizeLimit ---------------------------------------------------------------------------


def test_a_body_declared_larger_than_the_limit_is_refused_with_413() -> None:
    client = TestClient(echo_app(limit=16))
    response = client.post("/echo", content=b"x" * 17)
    assert response.status_code == 413
    assert response.json() == {"detail": "request body too large (limit 16 bytes)"}


def test_a_chunked_body_growing_past_the_limit_is_refused_with_413() -> None:
    client = TestClient(echo_app(limit=16))
    response = client.post("/echo", content=chunks(b"x" * 10, b"y" * 10))
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["detail"] == "request body too large (limit 16 bytes)"


def test_bodies_within_the_limit_reach_the_app_intact() -> None:
    client = TestClient(echo_app(limit=16))
    assert client.post("/echo", content=b"0123456789abcdef").content == b"0123456789abcdef"
    streamed = client.post("/echo", content=chunks(b"01234", b"56789"))
    assert streamed.status_code == 200
    assert streamed.content == b"0123456789"


def test_an_upload_path_takes_the_larger_limit_declared_or_streamed_and_no_other_path_does(
) -> None:
    app = FastAPI()

    @app.post("/v1/funders/{code}/feeds")
    @app.post("/echo")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(await request.body())

    app.add_middleware(BodySizeLimit, max_bytes=16, uploads=re.compile(r"/v1/funders/[^/]+/feeds"),
                       upload_max_bytes=64)
    client = TestClient(app)
    upload = "/v1/funders/BANK-A/feeds"

    assert client.post(upload, content=b"x" * 64).content == b"x" * 64
    assert client.post(upload, content=chunks(b"x" * 40, b"y" * 24)).status_code == 200
    over = client.post(upload, content=b"x" * 65)
    assert over.status_code == 413
    assert over.json()["detail"] == "request body too large (limit 64 bytes)"
    assert client.post(upload, content=chunks(b"x" * 40, b"y" * 25)).status_code == 413
    assert client.post("/echo", content=b"x" * 17).status_code == 413
    assert client.post(upload + "/more", content=b"x" * 17).status_code == 413


def test_a_streamed_body_over_the_limit_never_reaches_the_app_even_if_it_under_declares() -> None:
    app_called = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal app_called
        app_called = True

    limited = BodySizeLimit(app, max_bytes=8)
    scope = http_scope(headers=[(b"content-length", b"4")])
    sent = asyncio.run(call_asgi(limited, scope, [
        {"type": "http.request", "body": b"abcd", "more_body": True},
        {"type": "http.request", "body": b"efgh", "more_body": True},
        {"type": "http.request", "body": b"i", "more_body": False},
    ]))
    assert not app_called
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert json.loads(body) == {"detail": "request body too large (limit 8 bytes)"}


def test_a_multi_chunk_body_within_the_limit_is_replayed_whole_then_disconnect_follows() -> None:
    received: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(await receive())
        received.append(await receive())

    limited = BodySizeLimit(app, max_bytes=8)
    asyncio.run(call_asgi(limited, http_scope(), [
        {"type": "http.request", "body": b"abcd", "more_body": True},
        {"type": "http.request", "body": b"efgh", "more_body": False},
    ]))
    assert received == [{"type": "http.request", "body": b"abcdefgh", "more_body": False},
                        {"type": "http.disconnect"}]


def test_the_body_limit_passes_non_http_scopes_through_untouched() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    scope: Scope = {"type": "lifespan"}
    asyncio.run(BodySizeLimit(app, max_bytes=0)(scope, None, None))  # type: ignore[arg-type]
    assert seen == [scope]


# --- SecurityHeaders -------------------------------------------------------------------------


EXPECTED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
}


def headers_app(*, hsts: bool = True) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/framed")
    def framed() -> JSONResponse:
        return JSONResponse({}, headers={"X-Frame-Options": "SAMEORIGIN",
                                         "Cache-Control": "max-age=60"})

    @app.get("/{path:path}")
    def anything(path: str) -> dict[str, str]:
        return {"path": path}

    app.add_middleware(SecurityHeaders, hsts=hsts)
    return app


def test_every_response_carries_the_security_headers() -> None:
    response = TestClient(headers_app()).get("/health")
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers[name] == value


def test_headers_the_app_set_itself_are_not_overridden_or_duplicated() -> None:
    response = TestClient(headers_app()).get("/v1/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.get_list("cache-control") == ["max-age=60"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/v1/products", "/oauth/token", "/console/login"])
def test_api_oauth_and_console_responses_are_not_stored(path: str) -> None:
    assert TestClient(headers_app()).get(path).headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/health", "/v1", "/static/app.css", "/docs"])
def test_other_responses_get_no_cache_control(path: str) -> None:
    assert "cache-control" not in TestClient(headers_app()).get(path).headers


def test_hsts_can_be_turned_off() -> None:
    response = TestClient(headers_app(hsts=False)).get("/health")
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-frame-options"] == "DENY"


# --- RateLimiter -----------------------------------------------------------------------------


def test_a_full_bucket_allows_the_burst_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=2.0, burst=3, clock=clock)
    assert [limiter.check("a") for _ in range(3)] == [None, None, None]
    assert limiter.check("a") == pytest.approx(0.5)
    clock.advance(0.2)
    assert limiter.check("a") == pytest.approx(0.3)


def test_tokens_refill_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=10.0, burst=2, clock=clock)
    limiter.check("a")
    limiter.check("a")
    assert limiter.check("a") == pytest.approx(0.1)
    clock.advance(0.1)
    assert limiter.check("a") is None
    assert limiter.check("a") == pytest.approx(0.1)
    clock.advance(3600)
    assert [limiter.check("a") for _ in range(3)][:2] == [None, None]
    assert limiter.check("a") is not None


def test_a_refused_request_does_not_consume_a_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=clock)
    assert limiter.check("a") is None
    for _ in range(5):
        assert limiter.check("a") == pytest.approx(1.0)
    clock.advance(1.0)
    assert limiter.check("a") is None


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=FakeClock())
    assert limiter.check("a") is None
    assert limiter.check("a") is not None
    assert limiter.check("b") is None


def test_the_least_recently_used_keys_are_forgotten_beyond_max_keys() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=FakeClock(), max_keys=2)
    limiter.check("a")
    limiter.check("b")
    assert limiter.check("a") is not None  # touches "a", so "b" is now the oldest
    limiter.check("c")  # evicts "b"
    assert len(limiter) == 2
    assert limiter.check("b") is None  # forgotten, so full again; this evicts "a"
    assert limiter.check("c") is not None
    assert limiter.check("a") is None


def test_concurrent_checks_never_hand_out_more_than_the_burst() -> None:
    limiter = RateLimiter(rate_per_second=1e-9, burst=50, clock=FakeClock())
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(20):
            ok = limiter.check("k") is None
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50


@pytest.mark.parametrize("kwargs", [{"rate_per_second": 0, "burst": 1},
                                    {"rate_per_second": 1, "burst": 0},
                                    {"rate_per_second": 1, "burst": 1, "max_keys": 0}])
def test_a_limiter_that_could_never_allow_anything_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)


# --- IpRateLimit -----------------------------------------------------------------------------


def limited_app(limiter: RateLimiter) -> FastAPI:
    app = FastAPI()

    @app.post("/oauth/token")
    def token() -> dict[str, str]:
        return {"access_token": "t"}

    @app.post("/console/login")
    def login() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/v1/products")
    def products() -> list[str]:
        return []

    app.add_middleware(IpRateLimit, limiter=limiter,
                       paths=("/oauth/token", "/console/login"))
    return app


def test_brute_force_on_the_token_endpoint_gets_429_with_retry_after() -> None:
    clock = FakeClock()
    client = TestClient(limited_app(RateLimiter(rate_per_second=0.4, burst=2, clock=clock)))
    assert client.post("/oauth/token").status_code == 200
    assert client.post("/oauth/token").status_code == 200
    refused = client.post("/oauth/token")
    assert refused.status_code == 429
    assert refused.json() == {"detail": "too many requests"}
    assert refused.headers["retry-after"] == "3"  # 2.5 s rounded up
    clock.advance(2.5)
    assert client.post("/oauth/token").status_code == 200


def test_retry_after_is_at_least_one_second() -> None:
    client = TestClient(limited_app(RateLimiter(rate_per_second=1000.0, burst=1,
                                                clock=FakeClock())))
    client.post("/console/login")
    refused = client.post("/console/login")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"


def test_the_ip_limit_shares_one_bucket_per_client_across_the_configured_paths() -> None:
    client = TestClient(limited_app(RateLimiter(rate_per_second=0.1, burst=1,
                                                clock=FakeClock())))
    assert client.post("/oauth/token").status_code == 200
    assert client.post("/console/login").status_code == 429


def test_paths_outside_the_configured_ones_are_never_limited() -> None:
    client = TestClient(limited_app(RateLimiter(rate_per_second=0.1, burst=1,
                                                clock=FakeClock())))
    assert all(client.get("/v1/products").status_code == 200 for _ in range(5))


def test_clients_are_told_apart_by_ip_and_a_missing_client_counts_as_unknown() -> None:
    limiter = RateLimiter(rate_per_second=0.1, burst=1, clock=FakeClock())
    app = limited_app(limiter)
    assert TestClient(app, client=("198.51.100.1", 1)).post("/oauth/token").status_code == 200
    assert TestClient(app, client=("198.51.100.1", 2)).post("/oauth/token").status_code == 429
    assert TestClient(app, client=("198.51.100.2", 1)).post("/oauth/token").status_code == 200

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("must not be reached")

    middleware = IpRateLimit(inner, limiter=limiter, paths=("/oauth/token",))
    scope = http_scope("/oauth/token")
    del scope["client"]
    limiter.check("unknown")
    sent = asyncio.run(call_asgi(middleware, scope, []))
    assert sent[0]["status"] == 429


# --- Error handlers --------------------------------------------------------------------------


def failing_app(log: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret 110101199003077777")

    @app.get("/v1/slow-down")
    def slow_down() -> None:
        raise RateLimited(retry_after=4.2)

    @app.get("/v1/missing")
    def missing() -> None:
        raise HTTPException(404, detail="no such policy", headers={"X-Reason": "gone"})

    install_error_handlers(app, log)
    return app


def test_an_unhandled_error_gives_a_bare_500_with_an_error_id_that_is_logged() -> None:
    client = TestClient(failing_app(structlog.get_logger("test")), raise_server_exceptions=False)
    with structlog.testing.capture_logs() as logs:
        response = client.get("/v1/boom")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "error_id"}
    assert body["detail"] == "internal error"
    assert len(body["error_id"]) == 32
    int(body["error_id"], 16)
    for leak in ("secret", "110101199003077777", "Traceback", "RuntimeError", "boom"):
        assert leak not in response.text
    assert logs == [{"event": "unhandled error", "log_level": "error",
                     "error_id": body["error_id"], "error": "RuntimeError", "path": "/v1/boom"}]


def test_each_unhandled_error_gets_its_own_id() -> None:
    client = TestClient(failing_app(RecordingLog()), raise_server_exceptions=False)
    first, second = client.get("/v1/boom").json(), client.get("/v1/boom").json()
    assert first["error_id"] != second["error_id"]


def test_a_rate_limited_use_case_becomes_429_with_retry_after() -> None:
    response = TestClient(failing_app(RecordingLog())).get("/v1/slow-down")
    assert response.status_code == 429
    assert response.json() == {"detail": "too many requests"}
    assert response.headers["retry-after"] == "5"


def test_an_http_exception_keeps_its_status_detail_and_headers_and_nothing_else() -> None:
    response = TestClient(failing_app(RecordingLog())).get("/v1/missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such policy"}
    assert response.headers["x-reason"] == "gone"
    unknown = TestClient(failing_app(RecordingLog())).get("/nowhere")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Not Found"}
