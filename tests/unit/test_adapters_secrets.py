"""The secrets file: creation with 0600, validation, permission check and key rotation."""

from __future__ import annotations

import base64
import os
import stat
import tomllib
from pathlib import Path

import pytest

from xinbao.platform.crypto import PiiCipher, TokenSigner
from xinbao.platform.secrets import (
    SECRETS_FILE_ENV,
    SecretsError,
    add_pii_key,
    add_token_key,
    load_secrets,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


KEY_A = b64(b"a" * 32)
KEY_B = b64(b"b" * 32)


def write_secrets(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def valid_toml(*, pii_active: str = "k1", pii_key: str = KEY_A, index_key: str = KEY_B,
               session_key: str = KEY_B) -> str:
    return (f'[pii]\nactive = "{pii_active}"\nindex_key = "{index_key}"\n'
            f'[pii.keys]\nk1 = "{pii_key}"\n'
            f'[tokens]\nactive = "t1"\n[tokens.keys]\nt1 = "{KEY_A}"\n'
            f'[session]\nkey = "{session_key}"\n')


@posix_only
def test_missing_file_is_created_owner_only_with_fresh_keys(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "xinbao" / "secrets.toml"
    created = load_secrets(path, create_if_missing=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert created.source == str(path)
    assert (created.pii_active, created.token_active) == ("k1", "t1")
    keys = [created.pii_keys["k1"], created.index_key, created.token_keys["t1"],
            created.session_key]
    assert all(len(key) == 32 for key in keys)
    assert len(set(keys)) == 4
    other = load_secrets(tmp_path / "other.toml", create_if_missing=True)
    assert other.pii_keys["k1"] != created.pii_keys["k1"]


def test_created_file_reloads_identically(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    created = load_secrets(path, create_if_missing=True)
    assert load_secrets(path, create_if_missing=False) == created
    assert load_secrets(path, create_if_missing=True) == created


def test_hand_written_file_is_parsed_with_or_without_base64_padding(tmp_path: Path) -> None:
    path = write_secrets(tmp_path / "s.toml", valid_toml(pii_key=KEY_A.rstrip("=")))
    loaded = load_secrets(path, create_if_missing=False)
    assert loaded.pii_keys == {"k1": b"a" * 32}
    assert loaded.index_key == b"b" * 32
    assert loaded.token_keys == {"t1": b"a" * 32}
    assert loaded.session_key == b"b" * 32


def test_loaded_keys_work_with_the_cipher_and_signer(tmp_path: Path) -> None:
    s = load_secrets(tmp_path / "s.toml", create_if_missing=True)
    cipher = PiiCipher(s.pii_keys, s.pii_active, s.index_key)
    assert cipher.decrypt(cipher.encrypt("x", field="f"), field="f") == "x"
    TokenSigner(s.token_keys, s.token_active)


def test_missing_file_without_create_names_the_file_and_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(SecretsError) as err:
        load_secrets(path, create_if_missing=False)
    assert str(path) in str(err.value)
    assert SECRETS_FILE_ENV in str(err.value)
    assert not path.exists()


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_secrets(tmp_path / "s.toml", valid_toml(), mode)
    with pytest.raises(SecretsError, match=f"chmod 600 {path}"):
        load_secrets(path, create_if_missing=False)


@posix_only
def test_owner_read_only_file_is_accepted(tmp_path: Path) -> None:
    path = write_secrets(tmp_path / "s.toml", valid_toml(), 0o400)
    assert load_secrets(path, create_if_missing=False).pii_active == "k1"


@pytest.mark.parametrize(("text", "message"), [
    ("not = [toml", "not valid TOML"),
    (valid_toml().replace("[session]\n", "[sess]\n"), r"missing \[session\]"),
    (valid_toml(pii_active="k2"), r"pii.active must name one of \[pii.keys\] \(k1\)"),
    (valid_toml(pii_key=b64(b"a" * 16)), "pii.keys.k1 must decode to 32 bytes, got 16"),
    (valid_toml(index_key="not base64!"), "pii.index_key must be a base64url string"),
    (valid_toml(session_key="A"), "session.key is not valid base64url"),
    (valid_toml().replace(f'index_key = "{KEY_B}"\n', ""), "pii.index_key must be"),
    (valid_toml().replace(f'[pii.keys]\nk1 = "{KEY_A}"\n', "[pii.keys]\n"),
     r"\[pii.keys\] must list at least one key"),
    (valid_toml().replace("t1 = ", '"t 1" = '), "key id tokens.keys.t 1"),
])
def test_invalid_files_are_refused_with_a_clear_message(tmp_path: Path, text: str,
                                                         message: str) -> None:
    path = write_secrets(tmp_path / "s.toml", text)
    with pytest.raises(SecretsError, match=message):
        load_secrets(path, create_if_missing=False)


def test_error_messages_and_repr_never_show_key_material(tmp_path: Path) -> None:
    short = b64(b"z" * 16)
    path = write_secrets(tmp_path / "s.toml", valid_toml(pii_key=short))
    with pytest.raises(SecretsError) as err:
        load_secrets(path, create_if_missing=False)
    assert short not in str(err.value)
    loaded = load_secrets(tmp_path / "new.toml", create_if_missing=True)
    text = repr(loaded)
    for key in [loaded.pii_keys["k1"], loaded.index_key, loaded.session_key]:
        assert b64(key) not in text and repr(key) not in text


@posix_only
def test_add_pii_key_activates_a_new_key_and_keeps_the_old(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    before = load_secrets(path, create_if_missing=True)
    cipher = PiiCipher(before.pii_keys, before.pii_active, before.index_key)
    stored = cipher.encrypt("110105194912310021", field="id_number")

    assert add_pii_key(path) == "k2"
    after = load_secrets(path, create_if_missing=False)
    assert after.pii_active == "k2"
    assert after.pii_keys["k1"] == before.pii_keys["k1"]
    assert len(after.pii_keys["k2"]) == 32 and after.pii_keys["k2"] != before.pii_keys["k1"]
    assert (after.index_key, after.token_keys, after.token_active, after.session_key) == (
        before.index_key, before.token_keys, before.token_active, before.session_key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    rotated = PiiCipher(after.pii_keys, after.pii_active, after.index_key)
    assert rotated.decrypt(stored, field="id_number") == "110105194912310021"
    assert add_pii_key(path) == "k3"
    assert set(load_secrets(path, create_if_missing=False).pii_keys) == {"k1", "k2", "k3"}


@posix_only
def test_add_token_key_activates_t2_and_keeps_t1(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    before = load_secrets(path, create_if_missing=True)
    assert add_token_key(path) == "t2"
    after = load_secrets(path, create_if_missing=False)
    assert after.token_active == "t2"
    assert after.token_keys["t1"] == before.token_keys["t1"]
    assert set(after.token_keys) == {"t1", "t2"}
    assert after.pii_keys == before.pii_keys
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotation_numbers_after_the_highest_existing_kid(tmp_path: Path) -> None:
    text = valid_toml().replace(f'[pii.keys]\nk1 = "{KEY_A}"\n',
                                f'[pii.keys]\nk1 = "{KEY_A}"\nk7 = "{KEY_B}"\nlegacy = "{KEY_A}"\n')
    path = write_secrets(tmp_path / "s.toml", text)
    assert add_pii_key(path) == "k8"
    loaded = load_secrets(path, create_if_missing=False)
    assert set(loaded.pii_keys) == {"k1", "k7", "legacy", "k8"}
    assert loaded.pii_keys["legacy"] == b"a" * 32


def test_rotation_leaves_no_temporary_files_and_valid_toml(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    load_secrets(path, create_if_missing=True)
    add_pii_key(path)
    add_token_key(path)
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["pii"]["active"] == "k2" and data["tokens"]["active"] == "t2"


def test_rotation_of_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="does not exist"):
        add_pii_key(tmp_path / "absent.toml")
    with pytest.raises(SecretsError, match="does not exist"):
        add_token_key(tmp_path / "absent.toml")
    assert not (tmp_path / "absent.toml").exists()
