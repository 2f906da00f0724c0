"""Exact arithmetic for money and share quantities (Decimal, rounded at every write)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
QUANTITY_STEP = Decimal("0.0001")  # fractional shares to 1/10,000
AVERAGE_STEP = Decimal("0.000001")
MAX_QUANTITY = Decimal("1000000000")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal | None:
    """A number from JSON or a form as an exact Decimal (floats through their shortest repr); None if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float, str)):
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            return None
    return None
