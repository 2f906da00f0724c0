"""Numbers as the terminal writes them."""

from decimal import Decimal

import pytest

from core import formatting
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


@pytest.mark.parametrize(
    ("filter_name", "value", "expected"),
    [
        ("money", Decimal(10000), "$10,000.00"),
        ("money", Decimal("-5.25"), "-$5.25"),
        ("signed_money", Decimal("12.345"), "+$12.35"),
        ("signed_money", Decimal("-0.001"), "$0.00"),
        ("signed_percent", 0.789, "+0.79%"),
        ("signed_percent", -1.2, "-1.20%"),
        ("price", 191.5, "191.50"),
        ("price", 0.4321, "0.4321"),
        ("quantity", Decimal("10.0000"), "10"),
        ("quantity", Decimal("1234.5600"), "1,234.56"),
        ("tone", 0, "flat"),
        # The sign and the colour follow the figure as shown: a tiny loss is 0.00%, neither red nor "-".
        ("tone", -0.0001, "flat"),
        ("tone", -0.004, "flat"),
        ("tone", "-0.005", "down"),
        ("tone", 0.004, "flat"),
        ("signed_percent", -0.004, "0.00%"),
        ("money", Decimal("-0.004"), "$0.00"),
        ("money", Decimal("-0.005"), "-$0.01"),
        ("money", None, "—"),
        ("price", "nan", "—"),
    ],
)
def test_formatting(filter_name, value, expected):
    assert getattr(formatting, filter_name)(value) == expected
