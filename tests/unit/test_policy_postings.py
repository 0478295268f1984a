"""The premium posting templates: accounts and direction, keys and references, zero amounts."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from xinbao.ledger import model as gl
from xinbao.ledger.model import JournalEntry
from xinbao.policy import postings

ON = date(2025, 3, 31)
BANK = gl.funder_party("BANK-A")


def bank(premium_fen: int = 0, commission_fen: int = 0, *,
         collects: bool = False, vat_fen: int = 0) -> postings.FunderShare:
    """BANK-A's part of a posting (the insurer collects its premium unless ``collects``)."""
    return postings.FunderShare(BANK, collects, premium_fen, commission_fen, vat_fen)


def digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def lines(entry: JournalEntry | None) -> list[tuple[str, int]]:
    """The entry's lines in order, after checking it balances."""
    assert entry is not None
    assert sum(line.amount_fen for line in entry.lines) == 0
    return [(line.account, line.amount_fen) for line in entry.lines]


# --- single premium at issue ------------------------------------------------------------------


def test_single_premium_is_written_deferred_to_the_upr_and_its_commission_accrued():
    e = postings.single_premiums_at_issue(on=ON, policy_ids=[7], shares=[bank(720_000, 72_000)],
                                          collected=False)
    assert lines(e) == [
        (gl.PREMIUM_RECEIVABLE, 720_000), (gl.WRITTEN_PREMIUM, -720_000),
        (gl.UPR_CHARGE, 720_000), (gl.UNEARNED_PREMIUM_RESERVE, -720_000),
        (gl.COMMISSION_EXPENSE, 72_000), (gl.COMMISSION_PAYABLE, -72_000),
    ]
    assert e is not None
    assert (e.posted_on, e.source_command, e.description) == (
        ON, "IssuePolicy", "Single premium of 1 policies")
    assert (e.idempotency_key, e.reference) == (digest("7"), "policy:7")


def test_single_premium_collected_at_disbursement_also_moves_the_cash():
    e = postings.single_premiums_at_issue(on=ON, policy_ids=[7], shares=[bank(720_000, 72_000)],
                                          collected=True)
    assert lines(e)[-2:] == [(gl.BANK, 720_000), (gl.PREMIUM_RECEIVABLE, -720_000)]


def test_single_premiums_issued_together_are_one_entry_keyed_by_exactly_those_policies():
    e = postings.single_premiums_at_issue(on=ON, policy_ids=[7, 8, 12], shares=[bank(100, 10)],
                                          collected=False)
    assert e is not None
    assert e.idempotency_key == digest("7", "8", "12")
    assert e.reference == "issue:2025-03-31"
    assert e.description == "Single premium of 3 policies"
    other = postings.single_premiums_at_issue(on=ON, policy_ids=[7, 8], shares=[bank(100, 10)],
                                          collected=False)
    assert other is not None and other.idempotency_key != e.idempotency_key


def test_a_single_premium_without_commission_posts_no_commission_line():
    e = postings.single_premiums_at_issue(on=ON, policy_ids=[7], shares=[bank(500, 0)],
                                          collected=False)
    assert {account for account, _ in lines(e)} == {
        gl.PREMIUM_RECEIVABLE, gl.WRITTEN_PREMIUM, gl.UPR_CHARGE, gl.UNEARNED_PREMIUM_RESERVE}


def test_no_single_premium_posts_nothing():
    assert postings.single_premiums_at_issue(on=ON, policy_ids=[7], shares=[bank(0, 0)],
                                          collected=True) is None


# --- installment premium written ---------------------------------------------------------------


def test_installment_premium_is_written_and_earned_at_once_with_its_commission():
    e = postings.installment_premiums_written(
        on=ON, source="eod:2025-03-31", installments=[(7, 1, 3), (9, 2, 2)],
        premium_fen=86_400, vat_fen=5_184, commission={BANK: 8_640})
    assert lines(e) == [
        (gl.PREMIUM_RECEIVABLE, 86_400), (gl.WRITTEN_PREMIUM, -86_400),
        (gl.PREMIUM_RECEIVABLE, 5_184), (gl.OUTPUT_VAT, -5_184),
        (gl.COMMISSION_EXPENSE, 8_640), (gl.COMMISSION_PAYABLE, -8_640),
    ]  # no UPR: the cover was given before the premium fell due; the VAT is owed
    assert e is not None
    assert e.source_command == "WriteInstallmentPremium"
    assert e.description == "Installment premiums written (2 policies)"
    assert e.idempotency_key == "eod:2025-03-31:" + digest("7:1-3", "9:2-2")
    assert e.reference == "eod:2025-03-31"


def test_installment_premium_key_changes_with_which_installments_are_written():
    def key(installments):
        e = postings.installment_premiums_written(on=ON, source="s", installments=installments,
                                                  premium_fen=1, vat_fen=0, commission={})
        assert e is not None
        return e.idempotency_key

    assert key([(7, 1, 3)]) != key([(7, 1, 4)]) != key([(7, 2, 4)])


def test_no_installment_premium_posts_nothing():
    assert postings.installment_premiums_written(
        on=ON, source="s", installments=[], premium_fen=0, vat_fen=0, commission={}) is None


# --- premium collected -------------------------------------------------------------------------


def test_premium_collected_with_a_repayment_file_moves_receivable_to_bank():
    e = postings.premium_collected(on=ON, amount_fen=21_600, funder_code="BANK1",
                                   file_reference="F-0331",
                                   repayments=[(3, "TX-1"), (4, "TX-9")], share=bank())
    assert lines(e) == [(gl.BANK, 21_600), (gl.PREMIUM_RECEIVABLE, -21_600)]
    assert e is not None
    assert (e.source_command, e.description) == ("CollectPremium",
                                                 "Premium collected with repayments")
    assert e.idempotency_key == "BANK1:F-0331:" + digest("3:TX-1", "4:TX-9")
    assert e.reference == "file:BANK1:F-0331"


def test_no_premium_collected_posts_nothing():
    assert postings.premium_collected(on=ON, amount_fen=0, funder_code="BANK1",
                                      file_reference="F", repayments=[(3, "TX-1")],
                                      share=bank()) is None


# --- premium earned ----------------------------------------------------------------------------


def test_premium_earned_on_one_policy_releases_the_upr_keyed_by_what_it_has_earned():
    e = postings.premium_earned(on=ON, policy_id=7, policy_no="XB0000000007",
                                earned_through_fen=57_000, amount_fen=12_000)
    assert lines(e) == [(gl.UNEARNED_PREMIUM_RESERVE, 12_000), (gl.UPR_CHARGE, -12_000)]
    assert e is not None
    assert e.source_command == "EarnPremium"
    assert e.description == "Premium earned on XB0000000007 to 2025-03-31"
    assert (e.idempotency_key, e.reference) == ("policy:7:57000", "policy:7")


def test_premium_earned_in_the_days_batch_is_one_entry_per_product_keyed_by_its_policies():
    e = postings.premiums_earned(on=ON, source="eod:2025-03-31", product_code="CAR-G",
                                 earned=[(7, 57_000), (8, 1_200)], amount_fen=14_000)
    assert lines(e) == [(gl.UNEARNED_PREMIUM_RESERVE, 14_000), (gl.UPR_CHARGE, -14_000)]
    assert e is not None
    assert e.source_command == "EarnPremium"
    assert e.description == "Premium earned on CAR-G to 2025-03-31 (2 policies)"
    assert e.idempotency_key == "eod:2025-03-31:CAR-G:" + digest("7:57000", "8:1200")
    assert e.reference == "eod:2025-03-31"
    other = postings.premiums_earned(on=ON, source="eod:2025-03-31", product_code="MORTGAGE-C",
                                     earned=[(7, 57_000), (8, 1_200)], amount_fen=14_000)
    assert other is not None and other.idempotency_key != e.idempotency_key


@pytest.mark.parametrize("template", [
    lambda: postings.premium_earned(on=ON, policy_id=7, policy_no="XB7",
                                    earned_through_fen=0, amount_fen=0),
    lambda: postings.premiums_earned(on=ON, source="s", product_code="CAR-G", earned=[],
                                     amount_fen=0),
    lambda: postings.premium_refunded(on=ON, policy_id=7, policy_no="XB7", amount_fen=0,
                                      vat_fen=0, share=bank()),
])
def test_nothing_earned_or_refunded_posts_nothing(template):
    assert template() is None


# --- premium refunded --------------------------------------------------------------------------


def test_refund_on_prepayment_reverses_written_premium_and_releases_the_same_upr():
    e = postings.premium_refunded(on=ON, policy_id=7, policy_no="XB0000000007",
                                  amount_fen=21_000, vat_fen=1_260, share=bank())
    assert lines(e) == [
        (gl.WRITTEN_PREMIUM, 21_000), (gl.BANK, -21_000),
        (gl.OUTPUT_VAT, 1_260), (gl.BANK, -1_260),  # its VAT goes back with it
        (gl.UNEARNED_PREMIUM_RESERVE, 21_000), (gl.UPR_CHARGE, -21_000),
    ]
    assert e is not None
    assert e.source_command == "RefundPremium"
    assert e.description == "Premium refund on prepayment of XB0000000007"
    assert (e.idempotency_key, e.reference) == ("policy:7", "policy:7")


def test_a_refund_claws_back_the_funders_commission_on_it():
    e = postings.premium_refunded(on=ON, policy_id=7, policy_no="XB7", amount_fen=21_000,
                                  vat_fen=1_260, share=bank(), commission_fen=2_100)
    assert lines(e)[-2:] == [(gl.COMMISSION_PAYABLE, 2_100), (gl.COMMISSION_EXPENSE, -2_100)]
    assert e is not None and sum(line.amount_fen for line in e.lines) == 0


def test_a_refund_leaves_earned_premium_as_it_was():
    e = postings.premium_refunded(on=ON, policy_id=7, policy_no="XB7", amount_fen=21_000,
                                  vat_fen=1_260, share=bank())
    assert e is not None
    statement = gl.underwriting_statement(gl.trial_balance(e.lines))
    assert statement.written_premium_fen == -21_000
    assert statement.earned_premium_fen == 0


# --- a funder's party and the premium it holds ---------------------------------------------------


def parties(entry: JournalEntry | None) -> list[tuple[str, int, str]]:
    assert entry is not None
    return [(line.account, line.amount_fen, line.party) for line in entry.lines]


def test_commission_payable_carries_each_funders_party_and_its_own_amount():
    other = gl.funder_party("TRUST-B")
    e = postings.single_premiums_at_issue(
        on=ON, policy_ids=[7, 8], shares=[bank(720_000, 72_000),
                                          postings.FunderShare(other, False, 100_000, 5_000)],
        collected=False)
    assert [(a, f, p) for a, f, p in parties(e) if a == gl.COMMISSION_PAYABLE] == [
        (gl.COMMISSION_PAYABLE, -72_000, BANK), (gl.COMMISSION_PAYABLE, -5_000, other)]
    assert all(p == "" for a, _, p in parties(e) if a != gl.COMMISSION_PAYABLE)
    written = postings.installment_premiums_written(
        on=ON, source="s", installments=[(7, 1, 1)], premium_fen=900, vat_fen=54,
        commission={BANK: 90, other: 0})
    assert [(a, f, p) for a, f, p in parties(written) if a == gl.COMMISSION_PAYABLE] == [
        (gl.COMMISSION_PAYABLE, -90, BANK)]


def test_premium_a_funder_collects_is_held_by_it_and_refunds_come_out_of_it():
    share = bank(720_000, 72_000, collects=True, vat_fen=43_200)
    issued = postings.single_premiums_at_issue(on=ON, policy_ids=[7], shares=[share],
                                               collected=True)
    # The VAT is owed to the tax office; the funder holds what the borrower paid, VAT in.
    assert (gl.OUTPUT_VAT, -43_200, "") in parties(issued)
    assert parties(issued)[-2:] == [(gl.DUE_FROM_FUNDERS, 763_200, BANK),
                                    (gl.PREMIUM_RECEIVABLE, -763_200, "")]
    collected = postings.premium_collected(on=ON, amount_fen=900, funder_code="BANK-A",
                                           file_reference="F", repayments=[(3, "TX-1")],
                                           share=share)
    assert parties(collected) == [(gl.DUE_FROM_FUNDERS, 900, BANK),
                                  (gl.PREMIUM_RECEIVABLE, -900, "")]
    refunded = postings.premium_refunded(on=ON, policy_id=7, policy_no="XB7",
                                         amount_fen=21_000, vat_fen=1_260, share=share,
                                         commission_fen=2_100)
    assert parties(refunded) == [
        (gl.WRITTEN_PREMIUM, 21_000, ""), (gl.DUE_FROM_FUNDERS, -21_000, BANK),
        (gl.OUTPUT_VAT, 1_260, ""), (gl.DUE_FROM_FUNDERS, -1_260, BANK),
        (gl.UNEARNED_PREMIUM_RESERVE, 21_000, ""), (gl.UPR_CHARGE, -21_000, ""),
        (gl.COMMISSION_PAYABLE, 2_100, BANK), (gl.COMMISSION_EXPENSE, -2_100, "")]


def test_a_refund_after_a_partial_prepayment_is_keyed_by_the_version_it_made():
    once = postings.premium_refunded(on=ON, policy_id=7, policy_no="XB7", amount_fen=100,
                                     vat_fen=6, share=bank(), version=3)
    assert once is not None and once.idempotency_key == "policy:7:v3"
