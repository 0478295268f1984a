"""Identity numbers, contact details and their masked display.

- Resident identity number: GB 11643-1999, check digit ISO 7064 MOD 11-2 (``X`` allowed),
  validated with python-stdnum ``cn.ric``; birth date and age are derived from it.
- Unified social credit code: GB 32100-2015, mod 31 check, python-stdnum ``cn.uscc``.
- Bank card: Luhn check digit (ISO/IEC 7812), 12–19 digits.
- Mobile phone: mainland 11-digit numbers beginning 13–19.

Masking follows JR/T 0171-2020 (ID number, phone and account are C2 personal financial
information) and PCI DSS 3.4.1 (at most the first 6 and last 4 digits of a card shown). The
numbers of characters kept are parameters (``MaskingRules``), defaults from the same sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from xinbao.kernel.errors import FieldError

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_CARD = re.compile(r"^\d{12,19}$")


_SEPARATORS = re.compile(r"[\s-]")


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", value or "").upper()


def check_resident_id(value: str, field: str = "id_number") -> FieldError | None:
    number = _compact(value)
    try:
        ric.validate(number)
    except ValidationError as exc:
        return FieldError(field, "resident_id.gb11643", f"invalid resident ID number: {exc}")
    return None


def resident_birth_date(value: str) -> date:
    """Birth date encoded in a valid resident ID number."""
    return ric.get_birth_date(_compact(value))


def age_on(birth: date, on: date) -> int:
    """Whole years of age on a date (birthday on 29 Feb counts from 1 Mar in other years)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def check_credit_code(value: str, field: str = "credit_code") -> FieldError | None:
    code = _compact(value)
    try:
        uscc.validate(code)
    except ValidationError as exc:
        return FieldError(field, "credit_code.gb32100",
                          f"invalid unified social credit code: {exc}")
    return None


def check_phone(value: str, field: str = "phone") -> FieldError | None:
    if not _PHONE.match(_compact(value)):
        return FieldError(field, "phone.cn_mobile",
                          "phone must be an 11-digit mainland mobile number")
    return None


def check_bank_card(value: str, field: str = "bank_card") -> FieldError | None:
    card = _compact(value)
    if not _CARD.match(card):
        return FieldError(field, "bank_card.format", "bank card must be 12 to 19 digits")
    if not luhn.is_valid(card):
        return FieldError(field, "bank_card.luhn", "bank card check digit (Luhn) is wrong")
    return None


def normalize(value: str) -> str:
    """The canonical stored form: no spaces or dashes, upper case."""
    return _compact(value)


@dataclass(frozen=True, slots=True)
class MaskingRules:
    """How many leading and trailing characters stay visible (defaults: JR/T 0171, PCI DSS)."""

    id_head: int = 6
    id_tail: int = 4
    phone_head: int = 3
    phone_tail: int = 4
    card_head: int = 6
    card_tail: int = 4

    def __post_init__(self) -> None:
        if self.card_head > 6 or self.card_tail > 4:
            raise ValueError("PCI DSS 3.4.1 allows at most the first 6 and last 4 card digits")


def _mask(value: str, head: int, tail: int, fill: str | None = None) -> str:
    text = _compact(value)
    if len(text) <= head + tail:
        return "*" * len(text)
    middle = fill if fill is not None else "*" * (len(text) - head - tail)
    return text[:head] + middle + (text[-tail:] if tail else "")


def mask_id_number(value: str, rules: MaskingRules = MaskingRules()) -> str:
    return _mask(value, rules.id_head, rules.id_tail)


def mask_phone(value: str, rules: MaskingRules = MaskingRules()) -> str:
    return _mask(value, rules.phone_head, rules.phone_tail, fill="****")


def mask_bank_card(value: str, rules: MaskingRules = MaskingRules()) -> str:
    return _mask(value, rules.card_head, rules.card_tail)


def mask_name(value: str) -> str:
    """A person's name with only its first character shown: 张三丰 → 张**."""
    text = value.strip()
    return text[:1] + "*" * max(len(text) - 1, 1) if text else text


def region_of(id_number: str, *, enterprise: bool) -> str:
    """The province code: digits 1-2 of a resident ID, 3-4 of a unified social credit code
    (both hold the GB/T 2260 administrative division of registration)."""
    code = id_number[2:4] if enterprise else id_number[:2]
    return code if code.isdigit() else "00"
