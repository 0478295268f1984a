"""Money in integer fen, rates as Decimal, one ROUND_HALF_UP rounding to the fen."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xinbao.kernel.money import Money, apply_rate, format_yuan, parse_rate, ratio, round_fen

# --- Money.yuan -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fen"),
    [
        ("12.34", 1234),
        ("0.01", 1),
        ("1.5", 150),
        ("1.230", 123),  # trailing zeros are not extra precision
        ("-0.01", -1),
        ("0", 0),
        (5, 500),
        (Decimal("36000.00"), 3_600_000),
        ("5000000", 500_000_000),
    ],
)
def test_yuan_parses_text_int_and_decimal_into_whole_fen(amount, fen):
    assert Money.yuan(amount) == Money(fen)


@pytest.mark.parametrize("amount", [1.5, 0.1, 100.0])
def test_yuan_refuses_floats_even_when_they_look_exact(amount):
    with pytest.raises(TypeError, match="never float"):
        Money.yuan(amount)


@pytest.mark.parametrize("amount", ["0.001", "1.005", "-12.345", Decimal("0.125"), "1e-3"])
def test_yuan_refuses_amounts_finer_than_one_fen(amount):
    with pytest.raises(ValueError, match="more precision than one fen"):
        Money.yuan(amount)


def test_yuan_refuses_sub_fen_precision_on_very_large_amounts():
    with pytest.raises(ValueError, match="more precision than one fen"):
        Money.yuan("12345678901234567890123456.789")


def test_yuan_refuses_an_infinite_amount_with_value_error():
    with pytest.raises(ValueError):
        Money.yuan("Infinity")


@pytest.mark.parametrize("fen", [1.0, Decimal(1), "1", True])
def test_money_holds_only_integer_fen(fen):
    with pytest.raises(TypeError, match="integer fen"):
        Money(fen)


def test_money_adds_subtracts_and_negates_in_fen():
    a, b = Money(1050), Money(75)
    assert a + b == Money(1125)
    assert a - b == Money(975)
    assert -a == Money(-1050)
    assert Money.zero() == Money(0)


def test_money_orders_by_amount():
    assert sorted([Money(3), Money(-1), Money(2)]) == [Money(-1), Money(2), Money(3)]
    assert Money(1) < Money(2)


def test_money_as_decimal_yuan_is_exact():
    assert Money(123457).as_decimal_yuan == Decimal("1234.57")
    assert Money(-1).as_decimal_yuan == Decimal("-0.01")


def test_money_prints_as_grouped_yuan():
    assert str(Money(123456)) == "1,234.56"


# --- rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("2.5", 3),  # half away from zero, not banker's rounding (which gives 2)
        ("3.5", 4),
        ("2.4999999", 2),
        ("-2.5", -3),
        ("-2.4", -2),
        ("0.5", 1),
        ("-0.5", -1),
    ],
)
def test_round_fen_rounds_half_away_from_zero(value, fen):
    assert round_fen(Decimal(value)) == fen


@pytest.mark.parametrize(
    ("fen", "rate", "expected"),
    [
        (1, "0.5", 1),  # 0.5 fen rounds up to 1
        (-1, "0.5", -1),  # and away from zero when negative
        (3, "0.5", 2),  # 1.5 → 2
        (5, "0.1", 1),  # 0.5 → 1
        (-5, "0.1", -1),
        (4, "0.1", 0),  # 0.4 → 0
        (-4, "0.1", 0),
        (12345, "0.85", 10493),  # 10493.25
        (3_600_000, "0.003", 10800),
        (1, "0", 0),
        (100, "1", 100),
    ],
)
def test_apply_rate_rounds_the_product_half_up_to_the_fen(fen, rate, expected):
    assert apply_rate(fen, Decimal(rate)) == expected
    assert Money(fen).times(Decimal(rate)) == Money(expected)


def test_apply_rate_keeps_precision_for_large_amounts_and_long_rates():
    # 500,000,000 fen × 0.0123456789012345678901 = 6172839.45061728394505 → 6172839
    assert apply_rate(500_000_000, Decimal("0.0123456789012345678901")) == 6_172_839
    # 10^15 fen × (0.5 + 10^-16) lies above .5 only in the 17th decimal place
    assert apply_rate(10**15 + 1, Decimal("0.5")) == 500_000_000_000_001


# --- formatting and ratios --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (123456, "1,234.56"),
        (0, "0.00"),
        (5, "0.05"),
        (-5, "-0.05"),
        (100, "1.00"),
        (-123456789, "-1,234,567.89"),
        (100_000_000_000, "1,000,000,000.00"),
    ],
)
def test_format_yuan_shows_two_decimals_grouped_thousands_and_sign(fen, text):
    assert format_yuan(fen) == text


def test_ratio_is_none_when_the_denominator_is_zero():
    assert ratio(100, 0) is None
    assert ratio(0, 0) is None


def test_ratio_divides_exactly_with_working_precision():
    assert ratio(1, 4) == Decimal("0.25")
    assert ratio(-3, 4) == Decimal("-0.75")
    assert ratio(0, 7) == 0
    third = ratio(1, 3)
    assert third is not None
    assert str(third).startswith("0.3333333333333333333333333333333")  # beyond 28 digits


# --- parse_rate -------------------------------------------------------------------------------


def test_parse_rate_reads_text_decimal_and_int():
    assert parse_rate("0.0825") == Decimal("0.0825")
    assert parse_rate(Decimal("0.12")) == Decimal("0.12")
    assert parse_rate(0) == Decimal(0)


@pytest.mark.parametrize("text", ["abc", "", "NaN", "Infinity", "-Infinity"])
def test_parse_rate_refuses_text_that_is_not_a_finite_number(text):
    with pytest.raises(ValueError):
        parse_rate(text)


def test_parse_rate_refuses_floats():
    with pytest.raises(TypeError):
        parse_rate(0.12)
