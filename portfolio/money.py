"""Exact arithmetic for money and share quantities (Decimal, rounded at every write).

Rounding to the cent always favours the house: what a buy costs rounds up, what a sell pays rounds down.
Rounding half-up both ways let a loop of tiny buys and sells mint a cent a cycle (issue 6).
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
QUANTITY_STEP = Decimal("0.0001")  # fractional shares to 1/10,000; finer quantities are refused, not rounded
AVERAGE_STEP = Decimal("0.000001")
MAX_QUANTITY = Decimal("1000000000")
PRICE_STEP = Decimal("0.0001")  # limit and stop prices, as trade prices are kept
MAX_PRICE = Decimal("10000000000")  # the price columns hold 10 digits before the point


def to_cents(amount: Decimal) -> Decimal:
    """Half-up to the cent: for valuations, which move no money."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cost_of(amount: Decimal) -> Decimal:
    """What a buy takes from cash: rounded up to the cent."""
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def proceeds_of(amount: Decimal) -> Decimal:
    """What a sell adds to cash: rounded down to the cent."""
    return amount.quantize(CENT, rounding=ROUND_FLOOR)


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
