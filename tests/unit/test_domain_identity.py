"""Identity numbers (GB 11643, GB 32100, Luhn), phones, ages and masked display."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric

from xinbao.kernel.identity import (
    MaskingRules,
    age_on,
    check_bank_card,
    check_credit_code,
    check_phone,
    check_resident_id,
    mask_bank_card,
    mask_id_number,
    mask_phone,
    normalize,
    resident_birth_date,
)

RESIDENT_ID = "11010519491231002X"
RESIDENT_ID_2 = "110105198001011238"
CREDIT_CODE = "911100001000033177"
CREDIT_CODE_2 = "91310101MA1FPX1R3U"
PHONE = "13812345678"
BANK_CARD = "6222021234567890128"


def resident_id(first_17: str) -> str:
    """A resident ID with the right ISO 7064 MOD 11-2 check digit for its first 17 digits."""
    return first_17 + ric.calc_check_digit(first_17 + "0")


def with_last(value: str, last: str) -> str:
    return value[:-1] + last


# --- resident ID ------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [RESIDENT_ID, RESIDENT_ID_2, resident_id("11010520000229123")])
def test_valid_resident_ids_pass(number):
    assert check_resident_id(number) is None


def test_resident_id_with_lower_case_x_and_separators_passes():
    assert check_resident_id("110105 19491231 002x") is None
    assert check_resident_id("110105-19491231-002X") is None


@pytest.mark.parametrize(
    "number",
    [
        with_last(RESIDENT_ID, "0"),
        with_last(RESIDENT_ID, "1"),
        with_last(RESIDENT_ID_2, "9"),
        with_last(RESIDENT_ID_2, "X"),
    ],
)
def test_resident_id_with_a_wrong_check_digit_is_refused(number):
    error = check_resident_id(number, "borrower.id_number")
    assert error is not None
    assert error.field == "borrower.id_number"
    assert error.rule == "resident_id.gb11643"


@pytest.mark.parametrize(
    "first_17",
    [
        "11010519490230123",  # 30 February
        "11010520010229123",  # 29 February of a common year
        "11010519491331123",  # month 13
        "11010519491200123",  # day 0
    ],
)
def test_resident_id_with_an_impossible_birth_date_is_refused_even_with_a_right_check_digit(
    first_17,
):
    error = check_resident_id(resident_id(first_17))
    assert error is not None
    assert (error.field, error.rule) == ("id_number", "resident_id.gb11643")


@pytest.mark.parametrize(
    "number", ["", "1101051949123100", "11010519491231002XX", "A1010519491231002X"]
)
def test_resident_id_of_wrong_length_or_format_is_refused(number):
    assert check_resident_id(number) is not None


def test_birth_date_is_read_from_the_resident_id():
    assert resident_birth_date(RESIDENT_ID) == date(1949, 12, 31)
    assert resident_birth_date(RESIDENT_ID_2) == date(1980, 1, 1)
    assert resident_birth_date("110105 19491231 002x") == date(1949, 12, 31)


# --- age --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (date(2025, 12, 30), 75),  # the day before the 76th birthday
        (date(2025, 12, 31), 76),  # the birthday itself
        (date(2026, 1, 1), 76),
        (date(1949, 12, 31), 0),
    ],
)
def test_age_turns_over_on_the_birthday_itself(on, age):
    assert age_on(date(1949, 12, 31), on) == age


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (date(2001, 2, 28), 0),  # in a common year a 29 Feb birthday counts from 1 March
        (date(2001, 3, 1), 1),
        (date(2004, 2, 28), 3),
        (date(2004, 2, 29), 4),  # and on the day itself in a leap year
        (date(2018, 2, 28), 17),
        (date(2018, 3, 1), 18),
    ],
)
def test_age_of_someone_born_on_29_february(on, age):
    assert age_on(date(2000, 2, 29), on) == age


# --- unified social credit code ---------------------------------------------------------------


@pytest.mark.parametrize("code", [CREDIT_CODE, CREDIT_CODE_2, "91310101ma1fpx1r3u"])
def test_valid_credit_codes_pass(code):
    assert check_credit_code(code) is None


@pytest.mark.parametrize(
    "code",
    [
        with_last(CREDIT_CODE, "8"),
        with_last(CREDIT_CODE_2, "4"),
        CREDIT_CODE[:-1],
        "",
        "91310101MA1FPX1R3I",  # I is not in the GB 32100 alphabet
    ],
)
def test_credit_code_with_a_wrong_check_character_or_length_is_refused(code):
    error = check_credit_code(code, "funder.credit_code")
    assert error is not None
    assert (error.field, error.rule) == ("funder.credit_code", "credit_code.gb32100")


# --- phone ------------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", [PHONE, "19900000000", "138 1234 5678", "138-1234-5678"])
def test_mainland_mobile_numbers_pass(phone):
    assert check_phone(phone) is None


@pytest.mark.parametrize(
    "phone",
    ["12812345678", "1381234567", "138123456789", "23812345678", "+8613812345678", "1381234567a",
     ""],
)
def test_phone_that_is_not_an_11_digit_mainland_mobile_is_refused(phone):
    error = check_phone(phone, "borrower.phone")
    assert error is not None
    assert (error.field, error.rule) == ("borrower.phone", "phone.cn_mobile")


# --- bank card --------------------------------------------------------------------------------


@pytest.mark.parametrize("card", [BANK_CARD, "6222 0212 3456 7890 128", "4111111111111111"])
def test_bank_card_with_a_right_luhn_digit_passes(card):
    assert check_bank_card(card) is None


@pytest.mark.parametrize("last", ["0", "1", "7", "9"])
def test_bank_card_with_a_wrong_luhn_digit_is_refused(last):
    error = check_bank_card(with_last(BANK_CARD, last))
    assert error is not None
    assert (error.field, error.rule) == ("bank_card", "bank_card.luhn")


@pytest.mark.parametrize("card", ["12345678903", "62220212345678901280", "6222A21234567890128", ""])
def test_bank_card_outside_12_to_19_digits_is_refused_as_format(card):
    error = check_bank_card(card)
    assert error is not None
    assert error.rule == "bank_card.format"


def test_normalize_strips_spaces_and_dashes_and_upper_cases():
    assert normalize(" 110105-19491231 002x ") == RESIDENT_ID
    assert normalize("91310101ma1fpx1r3u") == CREDIT_CODE_2


# --- masking ----------------------------------------------------------------------------------


def test_bank_card_is_masked_to_first_six_and_last_four():
    assert mask_bank_card(BANK_CARD) == "622202" + "*" * 9 + "0128"
    assert mask_bank_card("6222 0212 3456 7890 128") == "622202" + "*" * 9 + "0128"


def test_resident_id_is_masked_to_first_six_and_last_four():
    assert mask_id_number(RESIDENT_ID) == "110105********002X"
    assert mask_id_number("11010519491231002x") == "110105********002X"


def test_phone_is_masked_three_stars_four():
    assert mask_phone(PHONE) == "138****5678"


def test_masking_rules_may_show_fewer_characters():
    rules = MaskingRules(id_head=3, id_tail=2, phone_head=0, phone_tail=4, card_head=0, card_tail=4)
    assert mask_id_number(RESIDENT_ID, rules) == "110" + "*" * 13 + "2X"
    assert mask_phone(PHONE, rules) == "****5678"
    assert mask_bank_card(BANK_CARD, rules) == "*" * 15 + "0128"


def test_masking_with_no_tail_hides_the_end():
    rules = MaskingRules(card_head=6, card_tail=0)
    assert mask_bank_card(BANK_CARD, rules) == "622202" + "*" * 13


def test_a_value_no_longer_than_what_would_be_shown_is_masked_completely():
    assert mask_bank_card("1234567890") == "**********"
    assert mask_phone("1234567") == "*******"


@pytest.mark.parametrize(
    "changes", [{"card_head": 7}, {"card_tail": 5}, {"card_head": 8, "card_tail": 6}]
)
def test_masking_rules_refuse_showing_more_card_digits_than_pci_dss_allows(changes):
    with pytest.raises(ValueError, match="PCI DSS"):
        MaskingRules(**changes)


def test_masking_rules_allow_exactly_the_pci_dss_maximum():
    rules = MaskingRules(card_head=6, card_tail=4)
    assert (rules.card_head, rules.card_tail) == (6, 4)
