"""Money in integer fen (分) and rates as Decimal.

Money never touches a float. Amounts are stored and computed as ``int`` fen; ``Money`` is the
value object used where an amount is parsed, formatted or multiplied by a rate. Every product of
an amount and a rate is rounded once, ROUND_HALF_UP to the fen (the documented rounding point);
sums of rounded amounts are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

FEN_PER_YUAN = 100
#: Working precision for rate arithmetic (schedules, IRR); far above what fen need.
PRECISION = 40


def round_fen(value: Decimal) -> int:
    """Round an exact Decimal number of fen to a whole fen, half away from zero."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def apply_rate(fen: int, rate: Decimal) -> int:
    """``fen × rate`` rounded ROUND_HALF_UP to the fen."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return round_fen(Decimal(fen) * rate)


def apply_fraction(fen: int, numerator: int, denominator: int) -> int:
    """``fen × numerator / denominator`` rounded ROUND_HALF_UP to the fen, in exact integers.

    Used where a share is a ratio of whole numbers (days, months) or a rate divided by a
    whole number, so that an exact half fen always rounds away from zero.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    product = fen * numerator
    quotient, remainder = divmod(abs(product), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if product < 0 else quotient


def apply_rate_over(fen: int, rate: Decimal, divisor: int) -> int:
    """``fen × rate / divisor`` rounded ROUND_HALF_UP to the fen, exactly (e.g. a monthly
    share of an annual rate: ``divisor = 12``)."""
    numerator, denominator = rate.as_integer_ratio()
    return apply_fraction(fen, numerator, denominator * divisor)


def parse_rate(text: str | Decimal | int) -> Decimal:
    """A rate from text such as ``"0.0825"``; floats are refused on purpose."""
    if isinstance(text, float):  # pragma: no cover - guarded by type checkers too
        raise TypeError("rates are Decimal or text, never float")
    try:
        rate = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a rate: {text!r}") from exc
    if not rate.is_finite():
        raise ValueError(f"not a finite rate: {text!r}")
    return rate


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of RMB in integer fen."""

    fen: int

    def __post_init__(self) -> None:
        if not isinstance(self.fen, int) or isinstance(self.fen, bool):
            raise TypeError(f"Money holds integer fen, got {type(self.fen).__name__}")

    @classmethod
    def yuan(cls, amount: str | int | Decimal) -> Money:
        """Parse yuan given as text/int/Decimal; more than two decimals is refused."""
        if isinstance(amount, float):
            raise TypeError("yuan amounts are text, int or Decimal, never float")
        try:
            value = Decimal(amount)
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {amount!r}") from exc
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {amount!r}")
        numerator, denominator = value.as_integer_ratio()  # exact, whatever the size
        fen, remainder = divmod(numerator * FEN_PER_YUAN, denominator)
        if remainder:
            raise ValueError(f"{amount!r} has more precision than one fen")
        return cls(fen)

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    def __add__(self, other: Money) -> Money:
        return Money(self.fen + other.fen)

    def __sub__(self, other: Money) -> Money:
        return Money(self.fen - other.fen)

    def __neg__(self) -> Money:
        return Money(-self.fen)

    def times(self, rate: Decimal) -> Money:
        """Multiply by a rate, rounding ROUND_HALF_UP to the fen."""
        return Money(apply_rate(self.fen, rate))

    @property
    def as_decimal_yuan(self) -> Decimal:
        return Decimal(self.fen) / FEN_PER_YUAN

    def __str__(self) -> str:
        return format_yuan(self.fen)


def format_yuan(fen: int) -> str:
    """``123456`` → ``"1,234.56"``; negative amounts keep their sign."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole:,}.{cents:02d}"


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """An exact ratio of two fen amounts, or None when the denominator is zero."""
    if denominator == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return Decimal(numerator) / Decimal(denominator)
