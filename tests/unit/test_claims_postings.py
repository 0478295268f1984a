"""The claim posting templates, and paid-in capital's: accounts and direction, keys,
references, zero amounts."""

from __future__ import annotations

import hashlib
from datetime import date

from xinbao.claims import postings
from xinbao.ledger import model as gl
from xinbao.ledger.model import JournalEntry

ON = date(2025, 6, 30)


def lines(entry: JournalEntry | None) -> list[tuple[str, int]]:
    assert entry is not None
    assert sum(line.amount_fen for line in entry.lines) == 0
    return [(line.account, line.amount_fen) for line in entry.lines]


def test_a_claims_reserve_is_set_and_released_each_move_keyed_by_its_step():
    e = postings.claim_reserve_moved(on=ON, claim_id=42, policy_no="XB0000000007",
                                     change_fen=3_240_000, step="a1")
    assert lines(e) == [(gl.CLAIM_RESERVE_CHARGE, 3_240_000), (gl.CLAIM_RESERVE, -3_240_000)]
    assert e is not None
    assert e.source_command == "ClaimReserve"
    assert e.description == "Claim reserve for claim 42 on XB0000000007"
    assert (e.idempotency_key, e.reference) == ("claim:42:reserve:a1", "claim:42")
    released = postings.claim_reserve_moved(on=ON, claim_id=42, policy_no="XB0000000007",
                                            change_fen=-240_000, step="a2")
    assert lines(released) == [(gl.CLAIM_RESERVE, 240_000), (gl.CLAIM_RESERVE_CHARGE, -240_000)]
    assert released is not None and released.idempotency_key == "claim:42:reserve:a2"


def test_paying_the_indemnity_moves_the_cash_and_releases_the_reserve():
    e = postings.indemnity_paid(on=ON, claim_id=42, amount_fen=3_240_000,
                                reserve_fen=3_240_000)
    assert lines(e) == [
        (gl.CLAIMS_PAID, 3_240_000), (gl.BANK, -3_240_000),
        (gl.CLAIM_RESERVE, 3_240_000), (gl.CLAIM_RESERVE_CHARGE, -3_240_000),
    ]
    assert e is not None
    assert e.source_command == "PayClaim"
    assert e.description == "Indemnity paid on claim 42"
    assert (e.idempotency_key, e.reference) == ("claim:42", "claim:42")
    reserved = postings.claim_reserve_moved(on=ON, claim_id=42, policy_no="XB7",
                                            change_fen=3_240_000, step="a1")
    assert reserved is not None
    statement = gl.underwriting_statement(gl.trial_balance([*reserved.lines, *e.lines]))
    assert statement.claim_reserve_change_fen == 0
    assert statement.claims_incurred_fen == 3_240_000


def test_a_recovery_is_cash_against_recoveries_once_per_receipt():
    e = postings.recovery_received(on=ON, claim_id=42, amount_fen=500_000,
                                   recovered_from="collateral", receipt="RC-9")
    assert lines(e) == [(gl.BANK, 500_000), (gl.RECOVERIES, -500_000)]
    assert e is not None
    assert e.source_command == "RecordRecovery"
    assert e.description == "Recovery on claim 42 (collateral)"
    assert (e.idempotency_key, e.reference) == ("claim:42:RC-9", "claim:42")
    assert gl.underwriting_statement(gl.trial_balance(e.lines)).claims_incurred_fen == -500_000


def test_zero_claim_amounts_post_nothing():
    assert postings.claim_reserve_moved(on=ON, claim_id=1, policy_no="XB1", change_fen=0,
                                        step="a1") is None
    assert postings.indemnity_paid(on=ON, claim_id=1, amount_fen=0, reserve_fen=0) is None
    assert postings.recovery_received(on=ON, claim_id=1, amount_fen=0, recovered_from="x",
                                      receipt="r") is None


def test_paid_in_capital_is_cash_against_equity_keyed_by_its_reference():
    e = gl.capital_paid_in(on=ON, amount_fen=400_000_000, reference="CAP-1")
    assert lines(e) == [(gl.BANK, 400_000_000), (gl.PAID_IN_CAPITAL, -400_000_000)]
    assert e is not None
    assert (e.source_command, e.description) == ("InjectCapital", "Paid-in capital")
    assert (e.idempotency_key, e.reference) == ("CAP-1", "")
    assert gl.capital_paid_in(on=ON, amount_fen=0, reference="CAP-0") is None


def test_the_key_digest_is_the_first_24_hex_digits_of_the_sha256_of_the_parts():
    assert gl.key_digest(["7", "8"]) == hashlib.sha256(b"7|8").hexdigest()[:24]
    assert gl.key_digest(["7", "8"]) != gl.key_digest(["78"])
