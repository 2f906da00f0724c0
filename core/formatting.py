"""Template filters for numbers in the terminal: money, signed amounts, percentages, quantities.

Registered as a template builtin (settings.TEMPLATES), so the page, its partials and the price stream's
fragment format a number the same way. The browser recomputes portfolio figures on each tick and formats them with
static/js/format.js, this module's mirror: change one, change the other
(workstation/tests/test_format_js.py compares the two in Chromium over a pinned table and a sweep of ties).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

MINUS = "-"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _cents(number: Decimal) -> Decimal:
    """To the hundredth shown: a sign and a colour follow the figure on screen, so -0.004 reads 0.00, not -0.00."""
    return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@register.filter
def money(value) -> str:
    """$10,000.00; -$5.25."""
    number = _decimal(value)
    if number is None:
        return "—"
    number = _cents(number)
    sign = MINUS if number < 0 else ""
    return f"{sign}${abs(number):,.2f}"


def _signed(value, unit: str, suffix: str = "") -> str:
    """To the hundredth, with a sign that says which way it went (none for exactly zero)."""
    number = _decimal(value)
    if number is None:
        return "—"
    number = _cents(number)
    sign = "+" if number > 0 else MINUS if number < 0 else ""
    return f"{sign}{unit}{abs(number):,.2f}{suffix}"


@register.filter
def signed_money(value) -> str:
    """+$12.34, -$5.00, $0.00: a P&L figure always says which way it went."""
    return _signed(value, "$")


@register.filter
def signed_percent(value) -> str:
    """+0.79%, -1.20%, 0.00%."""
    return _signed(value, "", "%")


@register.filter
def price(value) -> str:
    """191.50, 0.4321 (sub-dollar prices keep four decimals, as the store does). Unlike the figures above, a tie
    rounds to even (format() of a Decimal uses the default context's ROUND_HALF_EVEN): format.js does the same."""
    number = _decimal(value)
    if number is None:
        return "—"
    return f"{number:,.2f}" if abs(number) >= 1 else f"{number:,.4f}"


@register.filter
def quantity(value) -> str:
    """10, 0.5, 1,234.5678: no trailing zeros, no exponent. A stored quantity has at most 4 decimals; one with
    more (an order the engine refused for them) keeps every digit, not rounded into another order."""
    number = _decimal(value)
    if number is None:
        return "—"
    places = max(4, -number.as_tuple().exponent)
    text = f"{number:,.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


@register.filter
def tone(value) -> str:
    """CSS class for a signed number as shown (to the hundredth): up, down or flat (a red 0.00% would say a loss
    the figure does not show)."""
    number = _decimal(value)
    if number is not None:
        number = _cents(number)
    if number is None or number == 0:
        return "flat"
    return "up" if number > 0 else "down"
