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


@pytest.mark.parametrize(
    "message, expected",
    [
        # A phrase that is not a trade ("ten") no longer shifts the next trade's terms onto another trade.
        ("buy ten AAPL and buy 2 MSFT @ 100",
         [{"ticker": "MSFT", "side": "buy", "quantity": 2.0, "limit_price": 100.0, "type": "limit"}]),
        ("buy 10 AAPL,sell 2 MSFT", [{"ticker": "AAPL", "side": "buy", "quantity": 10.0},
                                     {"ticker": "MSFT", "side": "sell", "quantity": 2.0}]),
        ("buy 1 nvda stop 130 @ 131 gtc; sell 3 tsla @ 250",
         [{"ticker": "NVDA", "side": "buy", "quantity": 1.0, "limit_price": 131.0, "stop_price": 130.0,
           "type": "stop_limit", "time_in_force": "gtc"},
          {"ticker": "TSLA", "side": "sell", "quantity": 3.0, "limit_price": 250.0, "type": "limit"}]),
    ],
)
def test_each_trade_takes_its_own_terms(message, expected):
    assert json.loads(mock.reply(message, CONTEXT))["trades"] == expected
