"""The append-only double-entry ledger, the trial balance and the underwriting statement."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from xinbao.ledger import model as gl
from xinbao.ledger.model import JournalEntry, Line, UnbalancedEntry

ON = date(2025, 1, 31)


def journal(*lines: tuple[str, int], **changes: object) -> JournalEntry:
    fields = {"posted_on": ON, "description": "premium written", "source_command": "IssuePolicy",
              "idempotency_key": "policy:7", "lines": tuple(Line(a, f) for a, f in lines)}
    return JournalEntry(**{**fields, **changes})


def post(moves: list[tuple[str, str, int]], key: str = "k") -> JournalEntry:
    made = gl.entry(on=ON, description="test", source="Test", key=key, moves=moves)
    assert made is not None
    return made


# --- journal entries --------------------------------------------------------------------------


def test_balanced_entry_is_accepted_and_keyed_by_its_source():
    e = journal((gl.PREMIUM_RECEIVABLE, 129_600), (gl.WRITTEN_PREMIUM, -129_600))
    assert e.key == "IssuePolicy:policy:7"
    assert e.with_id(12).id == 12
    assert e.id is None  # entries are immutable: with_id returns a copy


def test_entry_with_several_lines_balances_as_a_whole():
    journal((gl.BANK, 100), (gl.COMMISSION_EXPENSE, 10), (gl.COMMISSION_PAYABLE, -10),
            (gl.WRITTEN_PREMIUM, -100))


@pytest.mark.parametrize(
    "lines",
    [
        ((gl.BANK, 100), (gl.WRITTEN_PREMIUM, -99)),
        ((gl.BANK, 100), (gl.WRITTEN_PREMIUM, 100)),
        ((gl.BANK, 1), (gl.WRITTEN_PREMIUM, -1), (gl.CLAIMS_PAID, 1)),
    ],
)
def test_unbalanced_entry_is_refused(lines):
    with pytest.raises(UnbalancedEntry, match="out of balance"):
        journal(*lines)


def test_unknown_account_is_refused():
    with pytest.raises(UnbalancedEntry, match="unknown account '9999'"):
        journal((gl.BANK, 100), ("9999", -100))


def test_zero_line_is_refused():
    with pytest.raises(UnbalancedEntry, match="non-zero"):
        journal((gl.BANK, 100), (gl.WRITTEN_PREMIUM, -100), (gl.CLAIMS_PAID, 0))


def test_fractional_amount_is_refused():
    with pytest.raises(UnbalancedEntry, match="whole number"):
        JournalEntry(posted_on=ON, description="", source_command="X", idempotency_key="k",
                     lines=(Line(gl.BANK, Decimal("0.5")), Line(gl.WRITTEN_PREMIUM, -1)))


@pytest.mark.parametrize("lines", [(), ((gl.BANK, 0),), ((gl.BANK, 100),)])
def test_entry_with_fewer_than_two_lines_is_refused(lines):
    with pytest.raises(UnbalancedEntry, match="at least two lines"):
        journal(*lines)


@pytest.mark.parametrize("changes", [{"source_command": ""}, {"idempotency_key": ""}])
def test_entry_without_source_command_or_idempotency_key_is_refused(changes):
    with pytest.raises(UnbalancedEntry, match="source command and idempotency key"):
        journal((gl.BANK, 100), (gl.WRITTEN_PREMIUM, -100), **changes)


def test_unbalanced_entry_is_a_value_error():
    assert issubclass(UnbalancedEntry, ValueError)


# --- entry() ----------------------------------------------------------------------------------


def test_entry_turns_each_move_into_a_debit_and_a_credit():
    e = post([(gl.PREMIUM_RECEIVABLE, gl.WRITTEN_PREMIUM, 129_600),
              (gl.COMMISSION_EXPENSE, gl.COMMISSION_PAYABLE, 12_960)])
    assert e.lines == (
        Line(gl.PREMIUM_RECEIVABLE, 129_600), Line(gl.WRITTEN_PREMIUM, -129_600),
        Line(gl.COMMISSION_EXPENSE, 12_960), Line(gl.COMMISSION_PAYABLE, -12_960),
    )
    assert (e.source_command, e.idempotency_key, e.posted_on) == ("Test", "k", ON)


def test_entry_drops_zero_moves():
    e = post([(gl.BANK, gl.WRITTEN_PREMIUM, 500), (gl.COMMISSION_EXPENSE, gl.COMMISSION_PAYABLE,
                                                   0)])
    assert e.lines == (Line(gl.BANK, 500), Line(gl.WRITTEN_PREMIUM, -500))


def test_entry_flips_a_negative_move_into_the_opposite_direction():
    e = post([(gl.UPR_CHARGE, gl.UNEARNED_PREMIUM_RESERVE, -800)])
    assert e.lines == (Line(gl.UNEARNED_PREMIUM_RESERVE, 800), Line(gl.UPR_CHARGE, -800))


def test_entry_with_only_zero_moves_is_nothing_to_post():
    assert gl.entry(on=ON, description="x", source="S", key="k",
                    moves=[(gl.BANK, gl.WRITTEN_PREMIUM, 0)]) is None
    assert gl.entry(on=ON, description="x", source="S", key="k", moves=[]) is None


def test_entry_with_an_unknown_account_is_refused():
    with pytest.raises(UnbalancedEntry):
        post([(gl.BANK, "0000", 100)])


# --- reversal ---------------------------------------------------------------------------------


def test_reversal_negates_every_line_and_links_the_original():
    original = replace(post([(gl.CLAIMS_PAID, gl.BANK, 900_000)]), reference="claim:5", id=31)
    rev = gl.reverse(original, on=date(2025, 2, 3), key="rev-31", reason="wrong amount")
    assert rev.lines == (Line(gl.CLAIMS_PAID, -900_000), Line(gl.BANK, 900_000))
    assert rev.reverses_id == 31
    assert rev.reference == "claim:5"
    assert (rev.source_command, rev.idempotency_key) == ("ReverseEntry", "rev-31")
    assert rev.posted_on == date(2025, 2, 3)
    assert "31" in rev.description and "wrong amount" in rev.description
    tb = gl.trial_balance(original.lines + rev.lines)
    assert all(v == 0 for v in tb.balances.values())


def test_unposted_entry_cannot_be_reversed():
    with pytest.raises(ValueError, match="posted"):
        gl.reverse(post([(gl.BANK, gl.WRITTEN_PREMIUM, 1)]), on=ON, key="r", reason="x")


# --- trial balance and statement --------------------------------------------------------------


def year_of_business() -> list[JournalEntry]:
    return [
        post([(gl.BANK, gl.PAID_IN_CAPITAL, 10_000_000)], "capital"),
        post([(gl.PREMIUM_RECEIVABLE, gl.WRITTEN_PREMIUM, 120_000)], "written"),
        post([(gl.UPR_CHARGE, gl.UNEARNED_PREMIUM_RESERVE, 80_000)], "upr"),
        post([(gl.BANK, gl.PREMIUM_RECEIVABLE, 120_000)], "collected"),
        post([(gl.COMMISSION_EXPENSE, gl.COMMISSION_PAYABLE, 12_000)], "commission"),
        post([(gl.CLAIMS_PAID, gl.BANK, 30_000)], "claim paid"),
        post([(gl.CLAIM_RESERVE_CHARGE, gl.CLAIM_RESERVE, 5_000)], "reserve"),
        post([(gl.BANK, gl.RECOVERIES, 10_000)], "recovered"),
    ]


def lines_of(entries: list[JournalEntry]) -> list[Line]:
    return [line for e in entries for line in e.lines]


def test_trial_balance_of_balanced_entries_totals_zero():
    tb = gl.trial_balance(lines_of(year_of_business()))
    assert tb.total == 0
    assert tb.balance(gl.BANK) == 10_000_000 + 120_000 - 30_000 + 10_000
    assert tb.balance(gl.PREMIUM_RECEIVABLE) == 0
    assert tb.balance(gl.WRITTEN_PREMIUM) == -120_000
    assert tb.balance("9999") == 0


def test_trial_balance_rows_follow_the_chart_with_debit_and_credit_columns():
    rows = gl.trial_balance(lines_of(year_of_business())).rows()
    assert [a.code for a, _, _ in rows] == [a.code for a in gl.CHART]
    by_code = {a.code: (debit, credit) for a, debit, credit in rows}
    assert by_code[gl.BANK] == (10_100_000, 0)
    assert by_code[gl.WRITTEN_PREMIUM] == (0, 120_000)
    assert by_code[gl.PREMIUM_RECEIVABLE] == (0, 0)
    assert sum(d for _, d, _ in rows) == sum(c for _, _, c in rows)


def test_underwriting_statement_derives_earned_premium_and_ratios():
    st = gl.underwriting_statement(gl.trial_balance(lines_of(year_of_business())))
    assert st.written_premium_fen == 120_000
    assert st.upr_change_fen == 80_000
    assert st.earned_premium_fen == 40_000  # written − UPR change
    assert (st.claims_paid_fen, st.claim_reserve_change_fen, st.recoveries_fen) == (
        30_000, 5_000, 10_000)
    assert st.claims_incurred_fen == 25_000  # paid + reserve change − recoveries
    assert st.commission_fen == 12_000
    assert st.underwriting_result_fen == 3_000
    assert st.loss_ratio == Decimal("0.625")
    assert st.expense_ratio == Decimal("0.3")
    assert st.combined_ratio == Decimal("0.925")


def test_releasing_the_reserve_earns_premium_beyond_what_was_written_this_period():
    tb = gl.trial_balance(lines_of([
        post([(gl.UNEARNED_PREMIUM_RESERVE, gl.UPR_CHARGE, 50_000)], "release"),
        post([(gl.CLAIMS_PAID, gl.BANK, 75_000)], "claim"),
    ]))
    st = gl.underwriting_statement(tb)
    assert (st.written_premium_fen, st.upr_change_fen, st.earned_premium_fen) == (
        0, -50_000, 50_000)
    assert st.loss_ratio == Decimal("1.5")
    assert st.combined_ratio == Decimal("1.5")
    assert st.underwriting_result_fen == -25_000


def test_ratios_are_undefined_without_earned_premium():
    st = gl.underwriting_statement(gl.trial_balance(lines_of([
        post([(gl.PREMIUM_RECEIVABLE, gl.WRITTEN_PREMIUM, 1_000)], "w"),
        post([(gl.UPR_CHARGE, gl.UNEARNED_PREMIUM_RESERVE, 1_000)], "u"),
        post([(gl.CLAIMS_PAID, gl.BANK, 10)], "c"),
    ])))
    assert st.earned_premium_fen == 0
    assert (st.loss_ratio, st.expense_ratio, st.combined_ratio) == (None, None, None)


def test_empty_ledger_gives_an_empty_statement():
    st = gl.underwriting_statement(gl.trial_balance([]))
    assert st.earned_premium_fen == 0
    assert st.underwriting_result_fen == 0
    assert st.loss_ratio is None


def test_chart_codes_are_unique_and_every_named_account_is_in_it():
    assert len(gl.ACCOUNTS) == len(gl.CHART)
    for code in (gl.BANK, gl.PREMIUM_RECEIVABLE, gl.COMMISSION_PAYABLE,
                 gl.UNEARNED_PREMIUM_RESERVE, gl.CLAIM_RESERVE, gl.PAID_IN_CAPITAL,
                 gl.WRITTEN_PREMIUM, gl.COMMISSION_EXPENSE, gl.UPR_CHARGE,
                 gl.CLAIM_RESERVE_CHARGE, gl.CLAIMS_PAID, gl.RECOVERIES):
        assert code in gl.ACCOUNTS
