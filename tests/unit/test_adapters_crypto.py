"""PII field encryption, blind indexes, argon2id passwords and HS256 access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import re
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinbao.platform.crypto import (
    InvalidToken,
    PasswordHasher,
    PiiCipher,
    PiiDecryptError,
    TokenSigner,
    new_secret,
)

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
INDEX_KEY = b"\x07" * 32
T1 = b"t" * 32
T2 = b"u" * 32
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ID_NUMBER = "11010519491231002X"


def cipher(active: str = "k1", **keys: bytes) -> PiiCipher:
    return PiiCipher(keys or {"k1": K1}, active, INDEX_KEY)


def hasher(**params: int) -> PasswordHasher:
    return PasswordHasher(**{"time_cost": 1, "memory_cost": 8192, "parallelism": 1, **params})


def signer(active: str = "t1", issuer: str = "xinbao", **keys: bytes) -> TokenSigner:
    return TokenSigner(keys or {"t1": T1}, active, issuer)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))



@given(st.text())
def test_any_text_round_trips_through_encryption(value: str) -> None:
    c = cipher()
    assert c.decrypt(c.encrypt(value, field="name"), field="name") == value


def test_none_stays_none() -> None:
    c = cipher()
    assert c.encrypt(None, field="name") is None
    assert c.decrypt(None, field="name") is None
    assert c.blind_index(None, field="name") is None


def test_token_has_version_kid_and_unpadded_base64_of_nonce_and_ciphertext() -> None:
    token = cipher().encrypt("张三", field="name")
    assert token is not None
    version, kid, payload = token.split(".")
    assert (version, kid) == ("v1", "k1")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", payload)
    # 12-byte nonce + 6 bytes of UTF-8 + 16-byte tag
    assert len(unb64(payload)) == 12 + len("张三".encode()) + 16
    assert "张三" not in token


def test_each_encryption_uses_a_fresh_nonce() -> None:
    c = cipher()
    tokens = {c.encrypt(ID_NUMBER, field="id_number") for _ in range(20)}
    assert len(tokens) == 20
    nonces = {unb64(t.split(".")[2])[:12] for t in tokens if t}
    assert len(nonces) == 20


def test_ciphertext_copied_into_another_column_does_not_decrypt() -> None:
    c = cipher()
    token = c.encrypt(ID_NUMBER, field="id_number")
    with pytest.raises(PiiDecryptError) as err:
        c.decrypt(token, field="phone")
    assert err.value.field == "phone"
    assert err.value.kid == "k1"


@pytest.mark.parametrize("position", [0, 11, 12, -1])
def test_any_flipped_bit_in_nonce_ciphertext_or_tag_is_rejected(position: int) -> None:
    c = cipher()
    token = c.encrypt(ID_NUMBER, field="id_number")
    assert token is not None
    prefix, payload = token.rsplit(".", 1)
    blob = bytearray(unb64(payload))
    blob[position] ^= 0x01
    with pytest.raises(PiiDecryptError):
        c.decrypt(f"{prefix}.{b64(bytes(blob))}", field="id_number")


def test_a_value_encrypted_under_another_key_is_rejected() -> None:
    token = cipher("k1", k1=K2).encrypt(ID_NUMBER, field="id_number")
    with pytest.raises(PiiDecryptError, match="authentication failed"):
        cipher().decrypt(token, field="id_number")


def test_unknown_key_id_is_rejected_and_named() -> None:
    token = cipher("k9", k9=K1).encrypt(ID_NUMBER, field="id_number")
    with pytest.raises(PiiDecryptError, match="unknown key id") as err:
        cipher().decrypt(token, field="id_number")
    assert err.value.kid == "k9"
    assert "'k9'" in str(err.value)


@pytest.mark.parametrize("token", [
    "", ID_NUMBER, "v1.k1", "v2.k1.AAAA", "v1.k1.not*base64", "v1.k1.AAAA",
    "v1..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "v1.k1.AAAA.extra",
])
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises(PiiDecryptError):
        cipher().decrypt(token, field="id_number")


def test_decrypt_error_messages_name_field_and_kid_but_never_data() -> None:
    c = cipher()
    token = c.encrypt(ID_NUMBER, field="id_number")
    assert token is not None
    payload = token.split(".")[2]
    for bad, field in [(token, "phone"), (token[:-2] + "AA", "id_number"),
                       (ID_NUMBER, "id_number"), (f"v1.k1.{ID_NUMBER}", "id_number")]:
        with pytest.raises(PiiDecryptError) as err:
            c.decrypt(bad, field=field)
        message = str(err.value)
        assert field in message
        assert ID_NUMBER not in message
        assert payload not in message and payload[:12] not in message


def test_blind_index_is_deterministic_hex_and_normalised() -> None:
    c = cipher()
    index = c.blind_index(ID_NUMBER, field="id_number")
    assert index is not None and re.fullmatch(r"[0-9a-f]{64}", index)
    assert c.blind_index(ID_NUMBER, field="id_number") == index
    assert c.blind_index(" 110105 19491231 002x\t", field="id_number") == index
    assert c.blind_index("11010519491231002Y", field="id_number") != index


def test_blind_index_is_the_documented_hmac_of_the_normalised_value() -> None:
    # Stored indexes must stay valid: HMAC-SHA256 under the field's key, itself
    # HMAC-SHA256(index key, "blind-index:" + field), of the normalised value; repeated and
    # interleaved calls (the field's keyed HMAC is copied, never updated) give the same.
    field_key = hmac.new(INDEX_KEY, b"blind-index:id_number", hashlib.sha256).digest()
    expected = hmac.new(field_key, ID_NUMBER.encode(), hashlib.sha256).hexdigest()
    c = cipher()
    for _ in range(3):
        assert c.blind_index(ID_NUMBER.lower(), field="id_number") == expected
        assert c.blind_index("13812345678", field="phone") != expected


def test_blind_index_is_separated_per_field_and_per_key() -> None:
    c = cipher()
    assert c.blind_index("13812345678", field="phone") != c.blind_index(
        "13812345678", field="contact_phone")
    other = PiiCipher({"k1": K1}, "k1", b"\x08" * 32)
    assert other.blind_index("13812345678", field="phone") != c.blind_index(
        "13812345678", field="phone")


def test_blind_index_does_not_depend_on_the_encryption_key() -> None:
    # Rotating the PII key must not invalidate stored indexes.
    assert cipher().blind_index(ID_NUMBER, field="id_number") == cipher(
        "k2", k1=K1, k2=K2).blind_index(ID_NUMBER, field="id_number")


def test_rotation_keeps_old_values_readable_and_reencrypts_under_the_active_key() -> None:
    old = cipher().encrypt(ID_NUMBER, field="id_number")
    assert old is not None
    rotated_cipher = cipher("k2", k1=K1, k2=K2)
    assert rotated_cipher.kid_of(old) == "k1"
    assert rotated_cipher.needs_rotation(old)
    assert rotated_cipher.decrypt(old, field="id_number") == ID_NUMBER

    new = rotated_cipher.rotate(old, field="id_number")
    assert rotated_cipher.kid_of(new) == "k2"
    assert not rotated_cipher.needs_rotation(new)
    assert rotated_cipher.decrypt(new, field="id_number") == ID_NUMBER
    with pytest.raises(PiiDecryptError, match="unknown key id"):
        cipher().decrypt(new, field="id_number")


def test_rotate_refuses_a_value_from_another_column() -> None:
    old = cipher().encrypt(ID_NUMBER, field="id_number")
    assert old is not None
    with pytest.raises(PiiDecryptError):
        cipher("k2", k1=K1, k2=K2).rotate(old, field="phone")


@pytest.mark.parametrize(("keys", "active", "index_key", "message"), [
    ({"k1": b"short"}, "k1", INDEX_KEY, "exactly 32 bytes"),
    ({"k1": K1 + b"x"}, "k1", INDEX_KEY, "exactly 32 bytes"),
    ({"k1": K1}, "k2", INDEX_KEY, "active key id 'k2'"),
    ({}, "k1", INDEX_KEY, "at least one key"),
    ({"k.1": K1}, "k.1", INDEX_KEY, "key id"),
    ({"k1": K1}, "k1", b"short", "index key"),
])
def test_cipher_rejects_bad_keys(keys: dict, active: str, index_key: bytes,
                                 message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PiiCipher(keys, active, index_key)



def test_password_hash_is_argon2id_and_verifies_only_the_right_password() -> None:
    h = hasher()
    stored = h.hash("correct horse 电池")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert h.verify(stored, "correct horse 电池")
    assert not h.verify(stored, "correct horse 电")
    assert h.hash("same") != h.hash("same")


@pytest.mark.parametrize("stored", ["", "plaintext", "$argon2id$v=19$garbage",
                                    "$2b$12$abcdefghijklmnopqrstuu"])
def test_verify_is_false_for_malformed_hashes(stored: str) -> None:
    assert hasher().verify(stored, "anything") is False


def test_needs_rehash_when_parameters_change() -> None:
    stored = hasher().hash("pw")
    assert not hasher().needs_rehash(stored)
    assert hasher(time_cost=2).needs_rehash(stored)
    assert hasher(memory_cost=16384).needs_rehash(stored)
    assert hasher().needs_rehash("not a hash")


def test_default_parameters_are_rfc_9106_low_memory() -> None:
    defaults = {name: p.default
                for name, p in inspect.signature(PasswordHasher).parameters.items()}
    assert defaults == {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}


def test_verify_dummy_runs_a_real_verification_and_reveals_nothing() -> None:
    assert hasher().verify_dummy("whatever") is None


def test_new_secret_is_urlsafe_and_random() -> None:
    secret = new_secret()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert new_secret() != secret
    assert len(unb64(new_secret(16))) == 16



def test_issued_token_verifies_with_registered_and_custom_claims() -> None:
    s = signer()
    token = s.issue("user-42", claims={"roles": ["underwriter"]}, ttl_seconds=900, now=NOW)
    assert jwt.get_unverified_header(token)["kid"] == "t1"
    claims = s.verify(token, now=NOW + timedelta(seconds=899))
    start = int(NOW.timestamp())
    assert claims["sub"] == "user-42"
    assert claims["iss"] == "xinbao"
    assert claims["roles"] == ["underwriter"]
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (start, start, start + 900)
    assert claims["jti"] != s.verify(
        s.issue("user-42", claims={}, ttl_seconds=900, now=NOW), now=NOW)["jti"]


def test_token_is_expired_at_its_exp_time() -> None:
    s = signer()
    token = s.issue("u", claims={}, ttl_seconds=60, now=NOW)
    with pytest.raises(InvalidToken) as err:
        s.verify(token, now=NOW + timedelta(seconds=60))
    assert err.value.reason == "expired"


def test_a_token_verified_before_is_still_refused_once_expired_or_too_early() -> None:
    s = signer()
    token = s.issue("u", claims={}, ttl_seconds=60, now=NOW)
    assert s.verify(token, now=NOW)["sub"] == "u"  # remembered from here on
    with pytest.raises(InvalidToken, match="expired"):
        s.verify(token, now=NOW + timedelta(seconds=60))
    with pytest.raises(InvalidToken, match="not yet valid"):
        s.verify(token, now=NOW - timedelta(seconds=5))
    claims = s.verify(token, now=NOW + timedelta(seconds=1))
    claims["sub"] = "someone else"  # the caller's copy: the remembered claims stay
    assert s.verify(token, now=NOW)["sub"] == "u"


def test_a_remembered_token_does_not_vouch_for_a_forged_one() -> None:
    s = signer()
    token = s.issue("u", claims={"role": "viewer"}, ttl_seconds=60, now=NOW)
    s.verify(token, now=NOW)
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["role"] = "admin"
    with pytest.raises(InvalidToken, match="bad signature"):
        s.verify(".".join([header, b64(json.dumps(claims).encode()), signature]), now=NOW)
    with pytest.raises(InvalidToken):
        TokenSigner({"t2": T2}, "t2").verify(token, now=NOW)  # another signer's keys


def test_leeway_tolerates_small_clock_skew() -> None:
    token = signer().issue("u", claims={}, ttl_seconds=60, now=NOW)
    lenient = TokenSigner({"t1": T1}, "t1", leeway_seconds=30)
    assert lenient.verify(token, now=NOW + timedelta(seconds=80))["sub"] == "u"
    assert lenient.verify(token, now=NOW - timedelta(seconds=20))["sub"] == "u"


def test_token_used_before_it_was_issued_is_refused() -> None:
    s = signer()
    token = s.issue("u", claims={}, ttl_seconds=60, now=NOW)
    with pytest.raises(InvalidToken, match="not yet valid"):
        s.verify(token, now=NOW - timedelta(seconds=5))


def test_tampered_payload_is_refused() -> None:
    s = signer()
    header, payload, signature = s.issue("u", claims={"role": "viewer"}, ttl_seconds=60,
                                         now=NOW).split(".")
    claims = json.loads(unb64(payload))
    claims["role"] = "admin"
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    with pytest.raises(InvalidToken, match="bad signature"):
        s.verify(forged, now=NOW)


def test_token_signed_with_another_key_under_the_same_kid_is_refused() -> None:
    token = signer(t1=T2).issue("u", claims={}, ttl_seconds=60, now=NOW)
    with pytest.raises(InvalidToken, match="bad signature"):
        signer().verify(token, now=NOW)


def test_unknown_kid_is_refused() -> None:
    token = signer("t7", t7=T1).issue("u", claims={}, ttl_seconds=60, now=NOW)
    with pytest.raises(InvalidToken, match="unknown key id"):
        signer().verify(token, now=NOW)


def test_missing_kid_is_refused() -> None:
    token = jwt.encode({"sub": "u"}, T1, algorithm="HS256")
    with pytest.raises(InvalidToken, match="unknown key id"):
        signer().verify(token, now=NOW)


def claims_at(now: datetime) -> dict:
    start = int(now.timestamp())
    return {"iss": "xinbao", "sub": "u", "iat": start, "nbf": start, "exp": start + 60,
            "jti": "x"}


def test_alg_none_is_refused() -> None:
    token = jwt.encode(claims_at(NOW), None, algorithm="none", headers={"kid": "t1"})
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        signer().verify(token, now=NOW)
    # Even with a forged header claiming HS256 and no signature.
    header = b64(json.dumps({"alg": "HS256", "kid": "t1", "typ": "JWT"}).encode())
    unsigned = f"{header}.{token.split('.')[1]}."
    with pytest.raises(InvalidToken):
        signer().verify(unsigned, now=NOW)


def test_other_hmac_algorithms_are_refused_even_with_the_right_key() -> None:
    key = b"w" * 64
    token = jwt.encode(claims_at(NOW), key, algorithm="HS512", headers={"kid": "t1"})
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        signer(t1=key).verify(token, now=NOW)


def test_wrong_issuer_is_refused() -> None:
    token = signer(issuer="other").issue("u", claims={}, ttl_seconds=60, now=NOW)
    with pytest.raises(InvalidToken, match="wrong issuer"):
        signer().verify(token, now=NOW)
    token = signer(issuer="xinbao-test").issue("u", claims={}, ttl_seconds=60, now=NOW)
    with pytest.raises(InvalidToken, match="wrong issuer"):
        signer().verify(token, now=NOW)


def test_token_missing_a_registered_claim_is_refused() -> None:
    claims = claims_at(NOW)
    del claims["exp"]
    token = jwt.encode(claims, T1, algorithm="HS256", headers={"kid": "t1"})
    with pytest.raises(InvalidToken, match="missing claim exp"):
        signer().verify(token, now=NOW)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "....."])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        signer().verify(token, now=NOW)


def test_token_issued_with_t1_still_verifies_after_rotation_to_t2() -> None:
    old = signer().issue("u", claims={}, ttl_seconds=600, now=NOW)
    rotated = signer("t2", t1=T1, t2=T2)
    new = rotated.issue("u", claims={}, ttl_seconds=600, now=NOW)
    assert jwt.get_unverified_header(new)["kid"] == "t2"
    assert rotated.verify(old, now=NOW)["sub"] == "u"
    assert rotated.verify(new, now=NOW)["sub"] == "u"
    with pytest.raises(InvalidToken, match="unknown key id"):
        signer().verify(new, now=NOW)


def test_issue_refuses_overriding_registered_claims_and_bad_arguments() -> None:
    s = signer()
    with pytest.raises(ValueError, match="registered claims"):
        s.issue("u", claims={"exp": 9_999_999_999}, ttl_seconds=60, now=NOW)
    with pytest.raises(ValueError, match="ttl_seconds"):
        s.issue("u", claims={}, ttl_seconds=0, now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        s.issue("u", claims={}, ttl_seconds=60, now=NOW.replace(tzinfo=None))


def test_signer_rejects_short_keys_and_unknown_active_kid() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenSigner({"t1": b"short"}, "t1")
    with pytest.raises(ValueError, match="active key id"):
        TokenSigner({"t1": T1}, "t2")
