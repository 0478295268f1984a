"""The decision lane: ``POST /v1/applications/{id}/approve`` from an API client, answered
without FastAPI's routing and dependency solving.

Funders' systems send approve requests by the thousand; FastAPI's route machinery (route
matching, dependency solving, body and answer validation, a worker thread to read the client)
cost about 2-3 ms of CPU per request on a 2-core machine, more than the decision itself in a
batch (issue 5's notes). The lane is a plain ASGI middleware, innermost of ours, so the body
cap, the per-IP limit and the security headers still wrap it. It answers what it can answer
exactly as the route would and hands everything else to the application unchanged:

- it takes only ``POST /v1/applications/{id}/approve`` with a bearer token, a JSON body that
  is ``{"on": ...}`` or ``{}`` by the route's own model, and an id the route accepts;
- the token is checked here (signature, expiry, type; remembered per token like everywhere);
  the client's rate limit is taken here, so a refused request gets the route's 429;
- the decision is asked of the batcher for the token's client id: the client is read once per
  batch, just before it is decided (a disabled client is refused then);
- the answer is the route's answer (the same model, serialized once).

Anything else — another path or method, a console session, a body or id the route would
refuse, an invalid token, a decision that fails (not found, not permitted, not decidable) — is
handed to the application with the body replayed, and the route answers it, errors and their
audit records included. A request handed on after a failed decision has already spent its
rate-limit token here, so the route does not take a second one (``RATE_TAKEN``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Callable
from datetime import date, datetime

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from xinbao.entrypoints.api.batching import DecisionBatcher
from xinbao.entrypoints.api.hardening import RateLimiter, replay, too_many_requests
from xinbao.entrypoints.api.schemas.common import BIGINT_MAX, OnDate
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Principal, Unauthenticated
from xinbao.risk.approval import ApprovalResult

#: The request scope's flag: this request's rate-limit token is already taken.
RATE_TAKEN = "xinbao.rate_taken"

_PATH = re.compile(r"/v1/applications/([1-9][0-9]{0,18})/approve")
_JSON = b"application/json"


class DecisionLane:
    def __init__(self, app: ASGIApp, *, batcher: DecisionBatcher, limiter: RateLimiter,
                 credentials: accounts.Credentials, answer: Callable[[ApprovalResult], bytes],
                 now: Callable[[], datetime], today: Callable[[], date]) -> None:
        """``answer`` serializes a decision as the route does; ``now`` is the wall clock that
        token expiry is checked against, ``today`` the business date when none is given."""
        self.app = app
        self._batcher, self._limiter, self._credentials = batcher, limiter, credentials
        self._answer, self._now, self._today = answer, now, today

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = _PATH.fullmatch(scope["path"])
        token = _bearer(scope["headers"]) if match else None
        if match is None or token is None or int(match[1]) > BIGINT_MAX:
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        if body is None:
            return  # the client left
        replayed = replay(body, receive)
        asked = _asked(body) if _is_json(scope["headers"]) else None
        try:
            client_id = accounts.token_subject(token, self._credentials, now=self._now())
        except Unauthenticated:
            asked = None  # the route answers 401 in its own words
        if asked is None:
            await self.app(scope, replayed, send)
            return
        # The key the route limits by: the principal's actor, ``client:<id>``.
        wait = self._limiter.check(Principal("client", client_id).actor)
        if wait is not None:
            await too_many_requests(wait)(scope, replayed, send)
            return
        try:
            result = await asyncio.wrap_future(self._batcher.submit(
                client_id, int(match[1]), asked.on or self._today()))
        except Exception:  # noqa: BLE001 - the route decides again and answers the error
            scope[RATE_TAKEN] = True
            await self.app(scope, replayed, send)
            return
        payload = self._answer(result)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", _JSON),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token, read as FastAPI's ``HTTPBearer`` reads it (the first header)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == _JSON
    return False


@functools.lru_cache(maxsize=256)
def _asked(body: bytes) -> OnDate | None:
    """The body read by the route's own model, or None when the route would refuse it.

    Remembered for the last bodies seen: a funder's system sends the same few bodies
    (``{"on": "<today>"}``) thousands of times. The model is only read, never changed."""
    try:
        return OnDate.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # JSON errors are ValueErrors
        return None


async def _body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)

