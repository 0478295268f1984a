"""Finding and masking resident ID numbers, mobile phones and bank cards in log output."""

from __future__ import annotations

import json
from collections import namedtuple
from datetime import date, timedelta

import structlog
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from xinbao.platform.redaction import (
    BANK_CARD,
    PHONE,
    RESIDENT_ID,
    find_pii,
    redact_text,
    redact_value,
    redaction_processor,
)

ID_X = "11010519491231002X"
ID_DIGITS = "110105198001011238"
PUDONG_1985 = "310115198501011234"  # valid; python-stdnum's place check rejects it
PHONE_NO = "13812345678"
CARD_19 = "6222021234567890128"
CARD_16 = "4111111111111111"


def resident_id(region: str, born: date, sequence: int) -> str:
    body = f"{region}{born:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def card(prefix: str) -> str:
    return prefix + luhn.calc_check_digit(prefix)


def not_luhn(digits: str) -> str:
    """``digits`` with the last digit changed until the Luhn check fails."""
    for last in "0123456789":
        candidate = digits[:-1] + last
        if not luhn.is_valid(candidate):
            return candidate
    raise AssertionError("unreachable")


ids = st.builds(resident_id, st.sampled_from(["110105", "310115", "440305", "510104"]),
                st.dates(date(1930, 1, 1), date(2010, 12, 31)), st.integers(0, 999))
phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
cards = st.builds(card, st.from_regex(r"[1-9][0-9]{11,17}", fullmatch=True))
non_digits = st.characters(exclude_categories=["Nd"])
edges = st.text(non_digits, max_size=12)
separators = st.text(non_digits, min_size=1, max_size=12)


def test_fixture_numbers_are_what_they_claim() -> None:
    assert ric.is_valid(ID_X) and ric.is_valid(ID_DIGITS)
    assert not ric.is_valid(PUDONG_1985)
    assert resident_id("310115", date(1985, 1, 1), 123) == PUDONG_1985
    assert luhn.is_valid(CARD_19) and luhn.is_valid(CARD_16)


def test_pii_inside_a_chinese_sentence_is_found_and_masked() -> None:
    text = f"客户张三，身份证{ID_X}，手机{PHONE_NO}，卡号{CARD_19}，借款金额 300000 元。"
    assert find_pii(text) == [(RESIDENT_ID, ID_X), (PHONE, PHONE_NO), (BANK_CARD, CARD_19)]
    assert redact_text(text) == ("客户张三，身份证110105********002X，手机138****5678，"
                                 "卡号622202*********0128，借款金额 300000 元。")


def test_pii_inside_json_text_is_masked_and_json_stays_valid() -> None:
    text = json.dumps({"id_number": ID_DIGITS, "phone": PHONE_NO, "card": CARD_16,
                       "amount_fen": 30000000})
    redacted = json.loads(redact_text(text))
    assert redacted == {"id_number": "110105********1238", "phone": "138****5678",
                        "card": "411111******1111", "amount_fen": 30000000}


def test_lower_case_x_id_and_region_unknown_to_stdnum_are_masked() -> None:
    assert redact_text(ID_X.lower()) == "110105********002x"
    assert redact_text(f"id={PUDONG_1985};") == "id=310115********1234;"


def test_card_mask_keeps_first_six_and_last_four_for_every_length() -> None:
    for length in range(13, 20):
        number = card("6" * (length - 1))
        assert redact_text(number) == number[:6] + "*" * (length - 10) + number[-4:]


def test_id_that_is_also_luhn_valid_is_reported_as_an_id() -> None:
    both = next(n for s in range(1000)
                if luhn.is_valid(n := resident_id("110105", date(1980, 1, 1), s)))
    assert find_pii(both) == [(RESIDENT_ID, both)]
    assert redact_text(both) == both[:6] + "********" + both[-4:]


def test_eighteen_digits_failing_the_id_check_but_passing_luhn_are_a_card() -> None:
    number = card("62148301234567890")
    assert len(number) == 18 and not ric.is_valid(number)
    assert find_pii(number) == [(BANK_CARD, number)]


def test_seventeen_digit_card_followed_by_x_is_still_masked() -> None:
    number = next(c for p in range(100)
                  if not ric.is_valid((c := card(f"6214830{p:09d}")) + "X"))
    assert len(number) == 17
    assert redact_text(number + "X") == number[:6] + "*******" + number[-4:] + "X"


def test_invalid_checksums_are_left_alone() -> None:
    wrong_id = next(n for d in "0123456789"
                    if not luhn.is_valid(n := ID_X[:-1] + d) and n[-1] != "X")
    wrong_card = not_luhn(CARD_19)
    body = "11010519801301001"  # month 13
    bad_date_id = body + ric.calc_check_digit(body + "0")
    assert not luhn.is_valid(bad_date_id)
    for text in [f"id {wrong_id}", f"card {wrong_card}", f"id {bad_date_id}",
                 "11010519491231002Y", "phone 12812345678", "phone 10012345678"]:
        assert find_pii(text) == []
        assert redact_text(text) == text


def test_numbers_inside_longer_digit_runs_are_left_alone() -> None:
    runs = ["9" + CARD_19, CARD_19 + "0", "0" + ID_DIGITS + "00",
            not_luhn("8" + PHONE_NO + "1"), "86" + PHONE_NO + "0000000", ID_DIGITS + "12"]
    for run in runs:
        assert find_pii(run) == []
        assert redact_text(run) == run


def test_ordinary_numbers_amounts_and_dates_are_untouched() -> None:
    text = "保单 P2025000123 保费 12,345.67 元，贷款 3000000 分，日期 2025-03-01，订单 20250301"
    assert redact_text(text) == text


def test_numbers_next_to_letters_and_punctuation_are_masked() -> None:
    assert redact_text(f"tel{PHONE_NO}ext") == "tel138****5678ext"
    assert redact_text(f"[{PHONE_NO}][{PHONE_NO}]") == "[138****5678][138****5678]"


@given(ids, phones, cards, edges, separators, separators, edges)
def test_generated_pii_embedded_in_any_text_is_found_and_masked(
        id_number: str, phone: str, card_no: str, a: str, b: str, c: str, d: str) -> None:
    text = a + id_number + b + phone + c + card_no + d
    kinds = [kind for kind, _ in find_pii(text)]
    assert kinds[:2] == [RESIDENT_ID, PHONE]
    assert kinds[2] in (BANK_CARD, RESIDENT_ID)  # an 18-digit card can also be a valid ID
    redacted = redact_text(text)
    for value in (id_number, phone, card_no):
        assert value not in redacted


@given(st.text(st.sampled_from("0123456789Xx -,:;\"'{}abc身份证")))
def test_redaction_keeps_length_changes_only_digits_and_is_idempotent(text: str) -> None:
    redacted = redact_text(text)
    assert len(redacted) == len(text)
    for before, after in zip(text, redacted, strict=True):
        assert after == before or (before.isdigit() and after == "*")
    assert redact_text(redacted) == redacted


def test_redact_value_recurses_and_keeps_shapes() -> None:
    Pair = namedtuple("Pair", "label value")
    data = {"borrower": {"phone": PHONE_NO, "ids": [ID_X, (CARD_16, 42)]},
            PHONE_NO: Pair("card", CARD_19), "amount": 13812345678, "ok": True, "none": None}
    result = redact_value(data)
    assert result == {
        "borrower": {"phone": "138****5678",
                     "ids": ["110105********002X", ("411111******1111", 42)]},
        "138****5678": Pair("card", "622202*********0128"),
        "amount": 13812345678, "ok": True, "none": None,
    }
    assert isinstance(result["borrower"]["ids"], list)
    assert isinstance(result["borrower"]["ids"][1], tuple)
    assert isinstance(result["138****5678"], Pair)
    assert data["borrower"]["phone"] == PHONE_NO  # the input is not modified


def test_processor_redacts_event_and_nested_values() -> None:
    event = {"event": f"login by {PHONE_NO}", "user": {"id_number": ID_DIGITS},
             "cards": [CARD_16], "count": 3}
    assert redaction_processor(None, "info", event) == {
        "event": "login by 138****5678", "user": {"id_number": "110105********1238"},
        "cards": ["411111******1111"], "count": 3}


def test_processor_in_a_structlog_chain_keeps_pii_out_of_rendered_lines() -> None:
    log = structlog.wrap_logger(structlog.ReturnLogger(), processors=[
        redaction_processor, structlog.processors.JSONRenderer(ensure_ascii=False)])
    line = log.info(f"放款 to card {CARD_19}", borrower={"phone": PHONE_NO, "id": ID_X})
    assert CARD_19 not in line and PHONE_NO not in line and ID_X not in line
    assert json.loads(line) == {"event": "放款 to card 622202*********0128",
                                "borrower": {"phone": "138****5678",
                                             "id": "110105********002X"}}


def test_birth_dates_from_any_day_are_accepted() -> None:
    born = date(1992, 2, 29)
    for offset in range(0, 366, 37):
        number = resident_id("440305", born + timedelta(days=offset), 7)
        assert find_pii(number) == [(RESIDENT_ID, number)]


def test_the_logging_filter_masks_messages_and_arguments_keeping_their_shape():
    import logging

    from xinbao.platform.redaction import RedactingFilter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:1", "GET", "/v1/x?id=11010519491231002X", "1.1", 401),
                               None)
    assert RedactingFilter().filter(record)
    client, method, path, version, status = record.args
    assert path == "/v1/x?id=110105********002X" and status == 401
    assert "11010519491231002X" not in record.getMessage()
