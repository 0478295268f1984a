"""The end-of-day kernels (issue 21) against the domain's one-loan functions, row by row:
positions as ``loans.model.position`` computes them, buckets and tiers as ``batch.model``
does, and the contagion rule and overrides of the five-tier classification."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinbao.batch import kernels
from xinbao.batch.model import ClassificationRules, Thresholds, Tier, bucket
from xinbao.loans.model import Installment, first_unpaid_due_date, position
from xinbao.parameters import load_classification_rules, load_early_warning_rules

START = date(2025, 1, 15)
RULES = load_classification_rules()


def _loans() -> st.SearchStrategy:
    """Loans of 1 to 6 monthly installments, each with 0 to 3 payments of any size (none,
    part, in full, more than due)."""
    installment = st.tuples(st.integers(0, 50_000), st.integers(0, 5_000),
                            st.lists(st.tuples(st.integers(0, 60_000), st.integers(0, 6_000)),
                                     max_size=3))
    return st.lists(st.lists(installment, min_size=1, max_size=6), min_size=1, max_size=8)


def _frames(loans: list) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    schedule, paid, domain = [], [], {}
    for loan_id, installments in enumerate(loans, start=1):
        rows, sums = [], {}
        for n, (principal, interest, payments) in enumerate(installments, start=1):
            due = START + timedelta(days=30 * n)
            rows.append(Installment(n, due, principal, interest))
            schedule.append((loan_id, n, due, principal, interest))
            for p, i in payments:
                paid.append((loan_id, n, p, i))
                sp, si = sums.get(n, (0, 0))
                sums[n] = (sp + p, si + i)
        domain[loan_id] = (rows, sums)
    s = pl.DataFrame(schedule, orient="row", schema=["loan_id", "number", "due_date",
                                                      "principal_fen", "interest_fen"])
    p = pl.DataFrame(paid, orient="row", schema=["loan_id", "number", "principal_fen",
                                                 "interest_fen"]) if paid else pl.DataFrame(
        schema={"loan_id": pl.Int64, "number": pl.Int32, "principal_fen": pl.Int64,
                "interest_fen": pl.Int64})
    return s, p, domain


@settings(max_examples=150, deadline=None)
@given(_loans(), st.integers(0, 400))
def test_positions_are_the_domains_loan_by_loan(loans, days):
    on = START + timedelta(days=days)
    schedule, paid, domain = _frames(loans)

    got = kernels.positions(schedule, paid, on)

    assert got["loan_id"].to_list() == sorted(domain)
    for row in got.iter_rows(named=True):
        installments, sums = domain[row["loan_id"]]
        want = position(installments, sums, on)
        assert (row["days_past_due"], row["first_unpaid_due_date"],
                row["outstanding_principal_fen"], row["overdue_principal_fen"],
                row["overdue_interest_fen"], row["paid_off"]) == (
            want.days_past_due, want.first_unpaid_due_date, want.outstanding_principal_fen,
            want.overdue_principal_fen, want.overdue_interest_fen, want.paid_off)
        assert row["bucket"] == bucket(want.days_past_due)
        overdue = [i.number for i in installments if i.due_date < on and (
            sums.get(i.number, (0, 0))[0] < i.principal_fen
            or sums.get(i.number, (0, 0))[1] < i.interest_fen)]
        assert row["first_unpaid_number"] == (min(overdue) if overdue else None)
        assert row["partly_paid_installments"] == sum(
            1 for i in installments if i.due_date < on
            and (p := sums.get(i.number, (0, 0))) != (0, 0)
            and not (p[0] >= i.principal_fen and p[1] >= i.interest_fen) and any(p))


def _sums(rows: list[tuple[int, int, int, int]]) -> dict[int, dict[int, tuple[int, int]]]:
    sums: dict[int, dict[int, tuple[int, int]]] = {}
    for loan_id, n, p, i in rows:
        sp, si = sums.setdefault(loan_id, {}).get(n, (0, 0))
        sums[loan_id][n] = (sp + p, si + i)
    return sums


@settings(max_examples=150, deadline=None)
@given(_loans(), st.integers(0, 400), st.data())
def test_positions_from_the_kept_state_are_those_from_the_whole_schedule(loans, days, data):
    """The state kept on each loan (principal repaid, first unpaid installment: after every
    repayment recorded, some of them reported paid after the day) and the installments from
    the first unpaid one to the day give the same positions as every installment does."""
    on = START + timedelta(days=days)
    schedule, paid, _ = _frames(loans)
    later = data.draw(st.lists(st.booleans(), min_size=paid.height, max_size=paid.height))
    paid = paid.with_columns(pl.Series("later", later, dtype=pl.Boolean))
    by_on = paid.filter(~pl.col("later")).drop("later")
    everything = _sums(paid.drop("later").rows())
    state, wanted = [], []
    for loan_id, rows in schedule.group_by("loan_id", maintain_order=True):
        installments = [Installment(n, d, p, i) for _, n, d, p, i in rows.rows()]
        first = first_unpaid_due_date(installments, everything.get(loan_id[0], {}))
        replay = paid.filter((pl.col("loan_id") == loan_id[0]) & pl.col("later")).height > 0
        state.append((loan_id[0], sum(i.principal_fen for i in installments),
                      sum(p for p, _ in everything.get(loan_id[0], {}).values()), first,
                      replay))
        wanted += [(loan_id[0], i.number) for i in installments if replay or (
            first is not None and first <= i.due_date < on)]
    state_frame = pl.DataFrame(state, orient="row", schema=[
        "loan_id", "principal_fen", "principal_paid_fen", "first_unpaid_due_date", "replay"])
    keys = pl.DataFrame(wanted, orient="row", schema={"loan_id": pl.Int64, "number": pl.Int64})
    read = schedule.join(keys, on=["loan_id", "number"], how="semi")
    read_paid = by_on.join(keys, on=["loan_id", "number"], how="semi")

    got = kernels.positions_from_state(state_frame, read, read_paid, on)

    assert got.equals(kernels.positions(schedule, by_on, on))


@given(st.lists(st.integers(-5, 800), min_size=1, max_size=50), st.booleans())
def test_buckets_and_tiers_by_days_are_the_rules_one_loan_at_a_time(days, retail):
    frame = pl.DataFrame({"loan_id": range(len(days)), "obligor": [f"o{i}" for i in
                                                                     range(len(days))],
                          "retail": [retail] * len(days), "days_past_due": days,
                          "exposure_fen": [100] * len(days)})
    got = kernels.classify(frame.with_columns(kernels.bucket(pl.col("days_past_due"))), RULES)
    thresholds = RULES.retail if retail else RULES.non_retail
    assert got["bucket"].to_list() == [bucket(d) for d in days]
    assert got["tier"].to_list() == [int(thresholds.tier(d)) for d in days]
    assert got["tier_label"].to_list() == [thresholds.tier(d).label for d in days]
    assert set(got["tier_basis"]) == {kernels.BY_DAYS}


def test_the_buckets_edges():
    assert [bucket(d) for d in (0, 1, 30, 31, 60, 61, 150, 151, 10_000)] == [
        "M0", "M1", "M1", "M2", "M2", "M3", "M5", "M6+", "M6+"]


def test_the_regulations_thresholds_for_non_retail_and_the_card_style_ones_for_retail():
    assert [RULES.non_retail.tier(d) for d in (0, 1, 90, 91, 270, 271, 360, 361)] == [
        Tier.NORMAL, Tier.SPECIAL_MENTION, Tier.SPECIAL_MENTION, Tier.SUBSTANDARD,
        Tier.SUBSTANDARD, Tier.DOUBTFUL, Tier.DOUBTFUL, Tier.LOSS]
    assert [RULES.retail.tier(d) for d in (90, 91, 120, 121, 180, 181)] == [
        Tier.SPECIAL_MENTION, Tier.SUBSTANDARD, Tier.SUBSTANDARD, Tier.DOUBTFUL,
        Tier.DOUBTFUL, Tier.LOSS]


def _book(rows: list[tuple[int, str, bool, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, orient="row", schema=["loan_id", "obligor", "retail",
                                                    "days_past_due", "exposure_fen"])


def test_a_non_retail_debtor_over_the_contagion_share_has_all_its_loans_substandard():
    book = _book([
        (1, "firm-a", False, 100, 200), (2, "firm-a", False, 0, 1_000),  # 200/1,200 > 10 %
        (3, "firm-b", False, 100, 100), (4, "firm-b", False, 5, 900),  # 100/1,000: not over
        (5, "person", True, 100, 200), (6, "person", True, 0, 1_000),  # retail: no contagion
    ])

    got = kernels.classify(book, RULES).sort("loan_id")

    assert got["tier"].to_list() == [3, 3, 3, 2, 3, 1]
    assert got["tier_basis"].to_list() == ["days_past_due", "contagion", "days_past_due",
                                           "days_past_due", "days_past_due", "days_past_due"]


def test_an_override_sets_the_tier_whatever_the_rules_say_and_keeps_its_reason():
    book = _book([(1, "firm-a", False, 400, 100), (2, "firm-c", False, 0, 100)])
    overrides = pl.DataFrame({"loan_id": [1], "tier": [3],
                              "reason": ["restructured 2026-11-30, collateral sold"]})

    got = kernels.classify(book, RULES, overrides).sort("loan_id")

    assert got["tier"].to_list() == [3, 1]
    assert got["tier_basis"].to_list() == ["override", "days_past_due"]
    assert got["override_reason"].to_list() == ["restructured 2026-11-30, collateral sold",
                                                None]


def test_thresholds_must_rise_and_the_contagion_share_be_a_fraction():
    with pytest.raises(ValueError):
        Thresholds(1, 91, 91, 361)
    with pytest.raises(ValueError):
        Thresholds(0, 91, 271, 361)
    with pytest.raises(ValueError):
        ClassificationRules("v", RULES.retail, RULES.non_retail, Decimal("1.5"))


def test_a_schedule_past_the_kernels_installment_key_is_refused():
    schedule = pl.DataFrame({"loan_id": [1], "number": [kernels.MAX_INSTALLMENTS],
                             "due_date": [START], "principal_fen": [1], "interest_fen": [0]})
    with pytest.raises(ValueError, match="installment numbers"):
        kernels.positions(schedule, schedule.drop("due_date"), START)


EW = load_early_warning_rules()


def _state(rows: list[tuple]) -> pl.DataFrame:
    """(loan, funder, vintage, days past due, first unpaid installment, partly paid)."""
    frame = pl.DataFrame(rows, orient="row", schema=[
        "loan_id", "funder", "vintage", "days_past_due", "first_unpaid_number",
        "partly_paid_installments"])
    return frame.with_columns(kernels.bucket(pl.col("days_past_due")))


def test_a_first_payment_default_is_medium_then_high_from_its_threshold():
    state = _state([(1, "BANK-A", "2025-01", 12, 1, 0), (2, "BANK-A", "2025-01", 45, 1, 0),
                    (3, "BANK-A", "2025-01", 45, 2, 0), (4, "BANK-A", "2025-01", 0, None, 0)])

    got = kernels.early_warnings(state, None, EW).filter(pl.col("code") == "EW-FPD")

    assert got.select("loan_id", "level").rows() == [(1, "medium"), (2, "high")]
    assert got["detail"].to_list()[1] == "first installment unpaid, 45 days past due"


def test_a_roll_to_a_worse_bucket_since_the_previous_snapshot_is_a_signal():
    state = _state([(1, "BANK-A", "2025-01", 35, 3, 0), (2, "BANK-A", "2025-01", 95, 3, 0),
                    (3, "BANK-A", "2025-01", 5, 3, 0), (4, "BANK-A", "2025-01", 0, None, 0),
                    (5, "BANK-A", "2025-01", 40, 3, 0)])
    before = pl.DataFrame({"loan_id": [1, 2, 3, 4], "bucket": ["M1", "M3", "M0", "M1"]})

    got = kernels.early_warnings(state, before, EW).filter(pl.col("code") == "EW-ROLL")

    assert got.select("loan_id", "level", "detail").rows() == [
        (1, "medium", "M1 to M2"), (2, "high", "M3 to M4"), (3, "low", "M0 to M1")]
    assert kernels.early_warnings(state, None, EW).filter(
        pl.col("code") == "EW-ROLL").height == 0  # the first day sees no roll


def test_repeated_partial_payments_and_a_vintage_defaulting_above_its_share():
    defaulted = [(i, "BANK-B", "2025-03", 120 if i < 3 else 0, 2 if i < 3 else None, 0)
                 for i in range(EW.vintage_min_loans)]  # 3 of 20 = 15 % > 5 %
    state = _state([*defaulted, (100, "BANK-A", "2025-01", 0, None, 2),
                    (101, "BANK-A", "2025-01", 0, None, 1)])

    got = kernels.early_warnings(state, None, EW)

    partial = got.filter(pl.col("code") == "EW-PARTIAL")
    assert partial.select("loan_id", "detail").rows() == [
        (100, "2 installments paid in part")]
    vintage = got.filter(pl.col("code") == "EW-VINTAGE")
    assert vintage.select("funder", "vintage", "level", "loan_id", "detail").rows() == [
        ("BANK-B", "2025-03", "high", None, "3 of 20 loans 90+ days past due")]
    small = _state(defaulted[:5])  # under the vintage's least count: no signal
    assert kernels.early_warnings(small, None, EW).filter(
        pl.col("code") == "EW-VINTAGE").height == 0
