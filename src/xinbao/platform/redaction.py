"""Keeps personal data out of logs: finds and masks ID numbers, mobile phones and bank cards.

JR/T 0171-2020 classes resident ID numbers, phone numbers and account numbers as C2 personal
financial information, which logs must not hold in full. Candidates are runs of ASCII digits
not touching other digits (an ID may end in ``X``); each is then validated, so order numbers
and amounts are left alone:

- resident ID (GB 11643): 17 digits + ISO 7064 MOD 11-2 check character and a real birth date.
  The region code is deliberately not looked up: a county created after the holder's birth
  year (Pudong 310115, 1993) fails python-stdnum's place check, and such a number must still
  be masked.
- mainland mobile: 11 digits ``1[3-9]…``.
- bank card: 13–19 digits with a valid Luhn check digit (ISO/IEC 7812).

Masks keep what the same standard and PCI DSS 3.4.1 allow on screen: ID first 6 + last 4,
phone first 3 + last 4, card first 6 + last 4.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

RESIDENT_ID = "resident_id"
PHONE = "phone"
BANK_CARD = "bank_card"

_CANDIDATE = re.compile(r"(?<![0-9])(?:[0-9]{17}[Xx]|[0-9]{11,19})(?![0-9])")
_PHONE = re.compile(r"1[3-9][0-9]{9}")


def _classify(candidate: str) -> tuple[str, str] | None:
    """(kind, the part of the candidate that is personal data), or None."""
    if len(candidate) == 18 and _is_resident_id(candidate):
        return RESIDENT_ID, candidate
    # 17 digits + "X" that is not an ID may still be a 17-digit card followed by a letter.
    digits = candidate if candidate[-1].isdigit() else candidate[:-1]
    n = len(digits)
    if n == 11 and _PHONE.fullmatch(digits):
        return PHONE, digits
    if 13 <= n <= 19 and luhn.is_valid(digits):
        return BANK_CARD, digits
    return None


def _is_resident_id(value: str) -> bool:
    number = value.upper()
    if ric.calc_check_digit(number) != number[-1]:
        return False
    try:
        ric.get_birth_date(number)
    except ValidationError:
        return False
    return True


def _mask(kind: str, value: str) -> str:
    if kind == RESIDENT_ID:
        return value[:6] + "********" + value[-4:]
    if kind == PHONE:
        return value[:3] + "****" + value[-4:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def find_pii(text: str) -> list[tuple[str, str]]:
    """(kind, value) for each ID number, mobile phone and bank card in the text, in order."""
    return [found for match in _CANDIDATE.finditer(text)
            if (found := _classify(match.group())) is not None]


def _replace(match: re.Match[str]) -> str:
    candidate = match.group()
    found = _classify(candidate)
    if found is None:
        return candidate
    kind, value = found
    return _mask(kind, value) + candidate[len(value):]


def redact_text(text: str) -> str:
    return _CANDIDATE.sub(_replace, text)


def redact_value(obj: Any) -> Any:
    """``obj`` with every string in it redacted, dict keys included; dicts, lists and tuples
    keep their shape, other values are returned as they are."""
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        return {redact_value(key): redact_value(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [redact_value(item) for item in obj]
    if isinstance(obj, tuple):
        items = [redact_value(item) for item in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    return obj


def redaction_processor(logger: Any, method_name: str,
                        event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redacts every value of the event, the message included. Place it
    after ``format_exc_info`` so rendered tracebacks are redacted too."""
    for key, value in event_dict.items():
        event_dict[key] = redact_value(value)
    return event_dict


class RedactingFilter(logging.Filter):
    """A stdlib logging filter for handlers that also carry other libraries' records (the
    web server's access log holds URLs): the message and its arguments are redacted in
    place, keeping their types so that formatters that unpack the arguments still work."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if record.args:
            record.args = redact_value(record.args)
        return True
