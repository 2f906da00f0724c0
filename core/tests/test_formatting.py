"""Numbers as the terminal writes them."""

from decimal import Decimal

import pytest

from core.formatting import quantity


@pytest.mark.parametrize(
    "value, shown",
    [
        (Decimal("10.0000"), "10"),
        (Decimal("0.5000"), "0.5"),
        (Decimal("1234.5678"), "1,234.5678"),
        (Decimal("0"), "0"),
        (99999999.0, "99,999,999"),  # never 1e+08
        (1e-05, "0.00001"),  # every digit asked for: rounded, a refused 0.00001 read as an order for 0
        (Decimal("999999999.99999999"), "999,999,999.99999999"),
        (Decimal("1E+3"), "1,000"),
        (-1, "-1"),
        (None, "—"),
        ("nan", "—"),
    ],
)
def test_quantity_is_a_plain_decimal_with_every_digit(value, shown):
    assert quantity(value) == shown
