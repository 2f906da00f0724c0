"""The command-line parser as a table: what each line means, and what each hostile line is refused with."""

from decimal import Decimal

import pytest

from workstation.commands import HELP, MAX_LENGTH, Command, CommandError, parse

PARSED = [
    ("buy 10 aapl", Command("buy", "AAPL", Decimal(10))),
    ("sell 5 tsla", Command("sell", "TSLA", Decimal(5))),
    ("  BUY   0.5   msft  ", Command("buy", "MSFT", Decimal("0.5"))),
    ("buy aapl 10", Command("buy", "AAPL", Decimal(10))),
    ("b 1 v", Command("buy", "V", Decimal(1))),
    ("s .25 brk.b", Command("sell", "BRK.B", Decimal(".25"))),
    ("add pypl", Command("add", "PYPL")),
    ("rm nflx", Command("rm", "NFLX")),
    ("remove nflx", Command("rm", "NFLX")),
    ("help", Command("help")),
    ("?", Command("help")),
    # orders that wait
    ("buy 10 aapl @ 180", Command("buy", "AAPL", Decimal(10), order_type="limit", limit_price=Decimal(180))),
    ("buy 10 aapl @180.5 gtc", Command("buy", "AAPL", Decimal(10), order_type="limit", limit_price=Decimal("180.5"),
                                       time_in_force="gtc")),
    ("sell 5 tsla limit $260", Command("sell", "TSLA", Decimal(5), order_type="limit", limit_price=Decimal(260))),
    ("sell 5 tsla stop 240", Command("sell", "TSLA", Decimal(5), order_type="stop", stop_price=Decimal(240))),
    ("buy 1 nvda stop 130 @ 131", Command("buy", "NVDA", Decimal(1), order_type="stop_limit",
                                          limit_price=Decimal(131), stop_price=Decimal(130))),
    ("orders", Command("orders")),
    ("cancel all", Command("cancel", text="all")),
    ("cancel 3F9A2B1C", Command("cancel", text="3f9a2b1c")),
    # price alerts
    ("alert aapl > 200", Command("alert", "AAPL", condition="above", price=Decimal(200))),
    ("alert aapl >200", Command("alert", "AAPL", condition="above", price=Decimal(200))),
    ("alert AAPL above $200.50", Command("alert", "AAPL", condition="above", price=Decimal("200.50"))),
    ("alert tsla < 150", Command("alert", "TSLA", condition="below", price=Decimal(150))),
    ("alert tsla <=150", Command("alert", "TSLA", condition="below", price=Decimal(150))),
    ("alert tsla >= 150", Command("alert", "TSLA", condition="above", price=Decimal(150))),
    ("alert tsla below 0.5", Command("alert", "TSLA", condition="below", price=Decimal("0.5"))),
    ("alerts", Command("alerts")),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[t for t, _ in PARSED])
def test_parses(text, expected):
    assert parse(text) == expected


REFUSED = [
    ("buy 10 aapl @", "'@' needs a price"),
    ("buy 10 aapl @ cheap", "is not a price"),
    ("buy 10 aapl stop 1e3", "is not a price"),
    ("buy 10 aapl now", "'now' is not part of an order"),
    ("buy 1 aapl gtc", "'gtc' is for orders that wait"),
    ("orders all", "Usage: orders"),
    ("cancel", "Usage: cancel"),
    ("cancel <script>", "is not an order or alert id"),
    ("buy 1e9 aapl", "not a quantity"),
    ("buy 1E3 aapl", "not a quantity"),
    ("buy aapl 1e3", "not a quantity"),
    ("sell nan x", "not a quantity"),
    ("sell inf aapl", "not a quantity"),
    ("buy +5 aapl", "not a quantity"),
    ("buy 1_000 aapl", "not a quantity"),
    ("buy 1,000 aapl", "not a quantity"),
    ("buy \uff11 aapl", "not a quantity"),  # fullwidth 1
    ("buy \u0661 aapl", "not a quantity"),  # Arabic-Indic 1
    ("buy 10", "Usage: buy <qty> <ticker>"),
    ("buy 10 aapl now", "Usage: buy <qty> <ticker>"),
    ("sell", "Usage: sell <qty> <ticker>"),
    ("add", "Usage: add <ticker>"),
    ("add two words", "Usage: add <ticker>"),
    ("rm", "Usage: rm <ticker>"),
    ("buy 10 <script>", "is not a ticker"),
    # Look-alikes: upper-casing "ıbm" made IBM, "ß" SS, a real symbol the user did not type.
    ("buy 10 \u0131bm", "non-ASCII character '\u0131'"),
    ("add \u00df", "non-ASCII character '\u00df'"),
    ("sell 1 \uff21\uff21\uff30\uff2c", "non-ASCII"),
    ("rm \u0410APL", "non-ASCII"),
    ("add toolongtickername", "longer than 10"),
    ("alert aapl", "Usage: alert <ticker> > <price>"),
    ("alert aapl 200", "Usage: alert <ticker> > <price>"),
    ("alert aapl ~ 200", "Usage: alert <ticker> > <price>"),
    ("alert aapl > 200 now", "Usage: alert <ticker> > <price>"),
    ("alert aapl >= 1e3", "'1e3' after '>=' is not a price"),
    ("alert <script> > 1", "Usage: alert"),
    ("alert a/b above 1", "is not a ticker"),
    ("alerts all", "Usage: alerts"),
    ("", "Type a command"),
    ("   ", "Type a command"),
    ("x" * 10_000, f"longer than {MAX_LENGTH}"),
    ("buy 10 aapl " + "a" * 10_000, f"longer than {MAX_LENGTH}"),
]


# Written plainly, so read: whether it is a quantity the engine fills (greater than zero, at most 1,000,000,000, at
# most 4 decimals) is the engine's to say, in the trade bar's words (test_views).
IN_THE_ENGINES_HANDS = [
    ("buy -1 aapl", Decimal(-1)),
    ("buy 0 aapl", Decimal(0)),
    ("buy 99999999999 aapl", Decimal("99999999999")),
    ("buy aapl 99999999999", Decimal("99999999999")),
    ("buy 0.00001 aapl", Decimal("0.00001")),
    ("buy 5. aapl", Decimal(5)),
]


@pytest.mark.parametrize(("text", "quantity"), IN_THE_ENGINES_HANDS, ids=[t for t, _ in IN_THE_ENGINES_HANDS])
def test_a_plain_number_out_of_range_is_left_to_the_engine(text, quantity):
    assert parse(text) == Command("buy", "AAPL", quantity)


QUESTIONS = ["hello world", "what should I buy?", "  How concentrated am I?  ", "\x00buy 1 aapl", "<b>hi</b>"]


@pytest.mark.parametrize("text", QUESTIONS)
def test_text_that_does_not_start_with_a_command_is_a_question_for_the_assistant(text):
    assert parse(text) == Command("ask", text=text.strip())


@pytest.mark.parametrize(("text", "message"), REFUSED, ids=[t[:30] for t, _ in REFUSED])
def test_refuses(text, message):
    with pytest.raises(CommandError) as excinfo:
        parse(text)
    assert message in str(excinfo.value)
    # The message is shown in place: it never echoes a long input back.
    assert len(str(excinfo.value)) < 300


def test_a_command_word_with_the_wrong_arguments_is_a_usage_error_never_a_question():
    # A mistyped order is not handed to the model to guess at.
    with pytest.raises(CommandError, match="Usage: buy <qty> <ticker>"):
        parse("buy some apple stock")


def test_not_a_string():
    with pytest.raises(CommandError):
        parse(None)
    assert "buy" in HELP
