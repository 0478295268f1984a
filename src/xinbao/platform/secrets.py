"""The secrets file: keys for personal-data encryption, blind indexes, tokens and sessions.

One TOML file, readable by its owner only (mode 0600), keys as base64url of 32 random bytes::

    [pii]
    active = "k1"
    index_key = "..."
    [pii.keys]
    k1 = "..."
    [tokens]
    active = "t1"
    [tokens.keys]
    t1 = "..."
    [session]
    key = "..."

Rotation (``add_pii_key``, ``add_token_key``) adds a key and makes it active; old keys stay so
stored ciphertexts and issued tokens remain readable until re-encrypted or expired. The blind
index key is never rotated here: every stored index would have to be recomputed with it.
Rewriting the file drops any comments in it. Error messages name files and settings, never
key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import stat
import tempfile
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

SECRETS_FILE_ENV = "XINBAO_SECRETS_FILE"
KEY_BYTES = 32
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class SecretsError(Exception):
    """The secrets file is missing, unsafe or invalid; the message says what to fix."""


@dataclass(frozen=True)
class Secrets:
    pii_keys: dict[str, bytes] = field(repr=False)
    pii_active: str
    index_key: bytes = field(repr=False)
    token_keys: dict[str, bytes] = field(repr=False)
    token_active: str
    session_key: bytes = field(repr=False)
    source: str


def load_secrets(path: Path, *, create_if_missing: bool) -> Secrets:
    """Read the secrets file; when it is missing, create it with fresh keys if allowed."""
    if not path.exists():
        if not create_if_missing:
            raise SecretsError(
                f"secrets file {path} does not exist; point {SECRETS_FILE_ENV} at the "
                f"deployment's secrets file (mode 0600), or create a new one with fresh keys")
        created = _generate(str(path))
        try:
            _create_private(path, _render(created))
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            return created
    return _parse(_read_private(path), str(path))


def add_pii_key(path: Path) -> str:
    """Add a new personal-data key (k2, k3, …), make it active and return its key id."""
    return _add_key(path, "pii", "k")


def add_token_key(path: Path) -> str:
    """Add a new token signing key (t2, t3, …), make it active and return its key id."""
    return _add_key(path, "token", "t")


def _add_key(path: Path, ring: str, prefix: str) -> str:
    current = load_secrets(path, create_if_missing=False)
    keys: dict[str, bytes] = getattr(current, f"{ring}_keys")
    kid = _next_kid(keys, prefix)
    rotation: dict[str, Any] = {f"{ring}_keys": {**keys, kid: os.urandom(KEY_BYTES)},
                                f"{ring}_active": kid}
    rotated = replace(current, **rotation)
    _replace_atomically(path, _render(rotated))
    return kid


def _generate(source: str) -> Secrets:
    return Secrets(pii_keys={"k1": os.urandom(KEY_BYTES)}, pii_active="k1",
                   index_key=os.urandom(KEY_BYTES),
                   token_keys={"t1": os.urandom(KEY_BYTES)}, token_active="t1",
                   session_key=os.urandom(KEY_BYTES), source=source)


def _next_kid(keys: dict[str, bytes], prefix: str) -> str:
    numbers = [int(m.group(1)) for kid in keys if (m := re.fullmatch(rf"{prefix}(\d+)", kid))]
    return f"{prefix}{max(numbers, default=0) + 1}"


def _encode(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def _render(s: Secrets) -> str:
    def keys(table: dict[str, bytes]) -> str:
        return "".join(f'{kid} = "{_encode(key)}"\n' for kid, key in table.items())

    return ("# Xinbao secrets: keep mode 0600, back up securely, never commit.\n"
            f'[pii]\nactive = "{s.pii_active}"\nindex_key = "{_encode(s.index_key)}"\n\n'
            f"[pii.keys]\n{keys(s.pii_keys)}\n"
            f'[tokens]\nactive = "{s.token_active}"\n\n'
            f"[tokens.keys]\n{keys(s.token_keys)}\n"
            f'[session]\nkey = "{_encode(s.session_key)}"\n')


def _parse(text: str, source: str) -> Secrets:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SecretsError(f"{source}: not valid TOML ({exc})") from None
    pii = _table(data, "pii", source)
    tokens = _table(data, "tokens", source)
    session = _table(data, "session", source)
    pii_keys = _keyring(pii, "pii", source)
    token_keys = _keyring(tokens, "tokens", source)
    return Secrets(pii_keys=pii_keys, pii_active=_active(pii, pii_keys, "pii", source),
                   index_key=_key(pii.get("index_key"), "pii.index_key", source),
                   token_keys=token_keys,
                   token_active=_active(tokens, token_keys, "tokens", source),
                   session_key=_key(session.get("key"), "session.key", source), source=source)


def _table(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    table = data.get(name)
    if not isinstance(table, dict):
        raise SecretsError(f"{source}: missing [{name}] table")
    return table


def _keyring(table: dict[str, Any], name: str, source: str) -> dict[str, bytes]:
    keys = table.get("keys")
    if not isinstance(keys, dict) or not keys:
        raise SecretsError(f"{source}: [{name}.keys] must list at least one key")
    ring = {}
    for kid, value in keys.items():
        if not _KID.fullmatch(kid):
            raise SecretsError(f"{source}: key id {name}.keys.{kid} must be 1-32 characters "
                               "of letters, digits, '_' or '-'")
        ring[kid] = _key(value, f"{name}.keys.{kid}", source)
    return ring


def _active(table: dict[str, Any], keys: dict[str, bytes], name: str, source: str) -> str:
    active = table.get("active")
    if not isinstance(active, str) or active not in keys:
        raise SecretsError(f"{source}: {name}.active must name one of [{name}.keys] "
                           f"({', '.join(sorted(keys))})")
    return active


def _key(value: Any, name: str, source: str) -> bytes:
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        raise SecretsError(f"{source}: {name} must be a base64url string of {KEY_BYTES} "
                           "random bytes")
    try:
        key = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise SecretsError(f"{source}: {name} is not valid base64url") from None
    if len(key) != KEY_BYTES:
        raise SecretsError(f"{source}: {name} must decode to {KEY_BYTES} bytes, "
                           f"got {len(key)}")
    return key


def _read_private(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SecretsError(f"cannot open secrets file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretsError(f"secrets file {path} is accessible to group or others "
                               f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}")
        raw = handle.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretsError(f"{path}: not UTF-8 text") from None


def _create_private(path: Path, text: str) -> None:
    """Write a new file that is never readable by others, not even between create and chmod."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    _fsync_dir(path.parent)


def _replace_atomically(path: Path, text: str) -> None:
    # mkstemp creates the file 0600 in the same directory, so os.replace is an atomic rename.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
