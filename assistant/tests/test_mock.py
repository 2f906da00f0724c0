"""The mock assistant's reading of a message: quantities by the trade bar's rule, written back plainly."""

import json

import pytest

from assistant import mock
from assistant.selectors import Context

CONTEXT = Context(cash=10_000.0, total_value=10_000.0, unrealized_pnl=0.0, positions=[], watchlist=[])


def reply(message: str) -> dict:
    return json.loads(mock.reply(message, CONTEXT))


@pytest.mark.parametrize("typed", ["1e3", "1E3", "1e0", "1e+2", "2.5e-1", "1e-0"])
def test_an_exponent_is_not_read_as_a_number(typed):
    # float() read "1e3" as a thousand shares; the trade bar and the command line refuse it.
    body = reply(f"buy {typed} aapl")
    [trade] = body["trades"]
    assert trade["quantity"] == typed
    assert body["message"] == f"Mock assistant: buy {typed} AAPL."


@pytest.mark.parametrize(
    "typed, quantity, shown",
    [
        ("10", 10, "10"),
        ("0.5", 0.5, "0.5"),
        (".25", 0.25, "0.25"),
        ("99999999", 99999999, "99,999,999"),
        ("99999999999", 99999999999, "99,999,999,999"),
        ("-1", -1, "-1"),
        ("0.00005", 0.00005, "0.00005"),  # shown as asked: the engine refuses its fifth decimal
    ],
)
def test_a_plain_decimal_is_a_number_written_back_plainly(typed, quantity, shown):
    body = reply(f"buy {typed} aapl")
    [trade] = body["trades"]
    assert trade["quantity"] == quantity and not isinstance(trade["quantity"], str)
    assert body["message"] == f"Mock assistant: buy {shown} AAPL."


def test_a_quantity_no_float_holds_exactly_is_passed_on_as_typed():
    # As a float, 999999999.99999999 is 1,000,000,000: an order the engine would fill, not the one asked for.
    body = reply("buy 999999999.99999999 aapl")
    assert body["trades"][0]["quantity"] == "999999999.99999999"
    assert body["message"] == "Mock assistant: buy 999999999.99999999 AAPL."
