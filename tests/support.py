"""Settings and keys for tests: one throwaway secrets file per test run (never the
developer's ``out/``), and argon2id at test speed."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from xinbao.config import Settings
from xinbao.platform.crypto import PiiCipher
from xinbao.platform.secrets import load_secrets

SECRETS_FILE = Path(tempfile.mkdtemp(prefix="xinbao-test-")) / "secrets.toml"
# The run's keys go with it (each run left its folder and keys in the temp directory).
atexit.register(shutil.rmtree, SECRETS_FILE.parent, ignore_errors=True)

# In-process CLI runs and subprocesses read these from the environment.
os.environ["XINBAO_SECRETS_FILE"] = str(SECRETS_FILE)
os.environ["XINBAO_PASSWORD_HASHING"] = "fast"
#: The end-of-day snapshots of in-process CLI runs: the run's folder, never the checkout's out/.
SNAPSHOTS = SECRETS_FILE.parent / "snapshots"
os.environ["XINBAO_SNAPSHOT_DIR"] = str(SNAPSHOTS)


T = TypeVar("T")

#: No model registry: decisions use the fallback score unless a test promotes a model.
NO_MODELS = str(SECRETS_FILE.parent / "no-models")


def settings(database_url: str, **changes: object) -> Settings:
    changes.setdefault("models_dir", NO_MODELS)
    changes.setdefault("snapshot_dir", str(SNAPSHOTS))
    return Settings(database_url=database_url, secrets_file=str(SECRETS_FILE),
                    password_hashing="fast", **changes)  # type: ignore[arg-type]


@cache
def cipher() -> PiiCipher:
    s = load_secrets(SECRETS_FILE, create_if_missing=True)
    return PiiCipher(s.pii_keys, s.pii_active, s.index_key)


def api_token(container, client_id: str, roles: list[str],
              funder_code: str | None = None) -> str:
    """Register an API client with these roles (as the system) and return a fresh token."""
    from datetime import UTC, datetime

    from xinbao.iam import services as accounts

    now = datetime.now(UTC).replace(tzinfo=None)
    _, secret = accounts.add_client(accounts.AddClient(client_id, client_id, roles, funder_code),
                                    container.uow(), container.credentials, now=now)
    return accounts.issue_token(client_id, secret, container.uow(), container.credentials,
                                now=now).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def race(callers: int, call: Callable[[int], T]) -> list[T]:
    """``call(i)`` from ``callers`` threads released together at a barrier (each should open
    its own client, connection and transaction): the results in caller order. A caller that
    raised fails the race with its error."""
    start = threading.Barrier(callers)
    results: list[Any] = [None] * callers
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = call(i)
        except BaseException as exc:  # noqa: BLE001 - reported below, with its traceback
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "a caller did not finish in 120 s"
    return results


#: The password of every console user the tests add.
CONSOLE_PASSWORD = "a long enough passphrase"


def csrf_of(html: str) -> str:
    """The CSRF token a console page's forms carry."""
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def console_sign_in(container, client, username: str, roles: list[str], *,
                    funder_code: str | None = None) -> str:
    """Add the console user and sign in on ``client`` (its cookies are that person's from
    now on); the session's CSRF token, as the pages' forms carry it."""
    from xinbao.entrypoints.api.deps import utcnow
    from xinbao.iam import services as accounts

    accounts.add_user(accounts.AddUser(username, username, CONSOLE_PASSWORD, roles,
                                       funder_code=funder_code),
                      container.uow(), container.credentials, now=utcnow())
    client.cookies.delete("xinbao_session")
    page = client.get("/console/login")
    signed = client.post("/console/login", data={
        "username": username, "password": CONSOLE_PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False)
    assert signed.status_code == 303
    return csrf_of(client.get("/console/").text)
