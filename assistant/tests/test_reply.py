"""Reading the model's answer: every valid shape, and everything a model gets wrong."""

import json

import pytest

from assistant.reply import MAX_FIELD_CHARS, MAX_TRADES, AssistantReply, ReplyError, parse_reply

TRADE = {"ticker": "AAPL", "side": "buy", "quantity": 10}
CHANGE = {"ticker": "PYPL", "action": "add"}


@pytest.mark.parametrize(
    "text, message, trades, changes",
    [
        (json.dumps({"message": "hi"}), "hi", 0, 0),
        (json.dumps({"message": "hi", "trades": [], "watchlist_changes": []}), "hi", 0, 0),
        (json.dumps({"message": "hi", "trades": [TRADE]}), "hi", 1, 0),
        (json.dumps({"message": "hi", "watchlist_changes": [CHANGE]}), "hi", 0, 1),
        (json.dumps({"message": "hi", "trades": [TRADE], "watchlist_changes": [CHANGE]}), "hi", 1, 1),
        (json.dumps({"message": "hi", "trades": None, "watchlist_changes": None}), "hi", 0, 0),
        (json.dumps({"message": "hi", "extra": 1, "trades": [{**TRADE, "reason": "momentum"}]}), "hi", 1, 0),
        ("```json\n" + json.dumps({"message": "fenced", "trades": [TRADE]}) + "\n```", "fenced", 1, 0),
        ("```\n" + json.dumps({"message": "fenced"}) + "\n```", "fenced", 0, 0),
        ("Sure! Here is my answer: " + json.dumps({"message": "in prose {braces}"}) + " Hope it helps.",
         "in prose {braces}", 0, 0),
        ('  {"message": "line\\nbreak"}  ', "line\nbreak", 0, 0),
    ],
)
def test_valid_shapes(text, message, trades, changes):
    parsed = parse_reply(text)
    assert parsed.message == message
    assert len(parsed.trades) == trades and len(parsed.watchlist_changes) == changes
    assert all("problem" not in item for item in parsed.trades + parsed.watchlist_changes)


@pytest.mark.parametrize(
    "text",
    [None, "", "   ", "not json at all", "{not json", "[1, 2]", '"just a string"', "42",
     json.dumps({"trades": [TRADE]}), json.dumps({"message": 42}), json.dumps({"message": None}),
     json.dumps({"message": "hi", "trades": "buy AAPL"}), json.dumps({"message": "hi", "watchlist_changes": {}})],
)
def test_unreadable_replies_are_errors(text):
    with pytest.raises(ReplyError):
        parse_reply(text)


@pytest.mark.parametrize(
    "item, problem",
    [
        ({"side": "buy", "quantity": 1}, "no ticker"),
        ({"ticker": 7, "side": "buy", "quantity": 1}, "no ticker"),
        ({"ticker": "AAPL", "side": "hold", "quantity": 1}, "'buy' or 'sell'"),
        ({"ticker": "AAPL", "quantity": 1}, "'buy' or 'sell'"),
        ("buy 10 AAPL", "Not a trade object"),
        (None, "Not a trade object"),
    ],
)
def test_a_bad_trade_is_kept_with_its_problem(item, problem):
    parsed = parse_reply(json.dumps({"message": "m", "trades": [item, TRADE]}))
    assert problem in parsed.trades[0]["problem"]
    assert "problem" not in parsed.trades[1]


def test_numbers_reach_the_engine_as_they_are_and_text_only_as_a_plain_decimal():
    """The engine judges a number (1e12 is over its limit); text must be a plain decimal to be read as one."""
    quantities = ["NaN", '"ten"', "1e12", '"1e1"', '" 2.5 "']
    trades = ", ".join('{"ticker": "AAPL", "side": "buy", "quantity": ' + q + "}" for q in quantities)
    text = '{"message": "m", "trades": [' + trades + "]}"
    trades = parse_reply(text).trades
    assert [t["quantity"] for t in trades] == ["NaN", "ten", 1e12, "1e1", " 2.5 "]
    assert ["problem" in t for t in trades] == [True, True, False, True, False]


@pytest.mark.parametrize(
    "quantity, problem",
    [
        ("1e1", "written plainly"),
        ("1E3", "written plainly"),
        ("+5", "written plainly"),
        ("1_000", "written plainly"),
        ("1,000", "written plainly"),
        ("\uff11", "written plainly"),  # a fullwidth 1
        ("-1", "greater than zero"),
        ("0", "greater than zero"),
        ("0.00001", "at most 4 decimal places"),
        ("99999999999", "at most 1,000,000,000"),
        ("", "must be a number"),
        (".5", None),
        ("5.", None),
        ("10", None),
        (" 2.5 ", None),
        ("123456789.1234", None),
    ],
)
def test_a_quantity_sent_as_text_is_judged_by_the_trade_bars_rule_and_words(quantity, problem):
    [trade] = parse_reply(json.dumps({"message": "m", "trades": [{**TRADE, "quantity": quantity}]})).trades
    assert trade["quantity"] == quantity
    if problem is None:
        assert "problem" not in trade
    else:
        assert problem in trade["problem"]


@pytest.mark.parametrize(
    "raw, shown, problem",
    [
        ("1e400", "1e400", "must be a number"),  # no float holds it: it must not become Infinity in a JSON column
        ("-1e400", "-1e400", "must be a number"),
        # Past Python's int-conversion limit; as text, a plain decimal, and far over the limit.
        ("9" * 5000, "9" * (MAX_FIELD_CHARS - 1) + "…", "at most 1,000,000,000"),
        ("Infinity", "Infinity", "must be a number"),
    ],
)
def test_numbers_no_float_holds_are_kept_as_text_and_refused(raw, shown, problem):
    parsed = parse_reply('{"message": "m", "trades": [{"ticker": "AAPL", "side": "buy", "quantity": ' + raw + "}]}")
    [trade] = parsed.trades
    assert trade["quantity"] == shown and problem in trade["problem"]
    json.dumps(trade, allow_nan=False)  # storable in any JSON column


def test_what_the_model_sends_is_stored_short_and_as_valid_text():
    text = json.dumps({
        "message": "half an emoji \ud83d and a NUL \u0000.",
        "trades": [{"ticker": "X" * 200_000, "side": "buy", "quantity": 1}],
        "watchlist_changes": [{"ticker": {"nested": ["object"]}, "action": "add\u0000"}],
    })
    parsed = parse_reply(text)
    assert parsed.message == "half an emoji ? and a NUL ."
    assert len(parsed.trades[0]["ticker"]) == MAX_FIELD_CHARS
    change = parsed.watchlist_changes[0]
    assert change["ticker"] == '{"nested": ["object"]}' and change["action"] == "add" and change["problem"]
    json.dumps(parsed.trades + parsed.watchlist_changes).encode("utf-8")  # no lone surrogate anywhere


def test_more_trades_than_allowed_are_kept_and_marked():
    parsed = parse_reply(json.dumps({"message": "m", "trades": [TRADE] * 500}))
    assert len(parsed.trades) == 500
    assert all("problem" not in t for t in parsed.trades[:MAX_TRADES])
    assert all("at most" in t["problem"] for t in parsed.trades[MAX_TRADES:])


def test_the_schema_sent_to_the_model():
    schema = AssistantReply.model_json_schema()
    assert set(schema["properties"]) == {"message", "trades", "watchlist_changes", "cancel_orders", "alerts"}
    assert schema["required"] == ["message"]
    assert schema["additionalProperties"] is False


def test_alerts_are_read_one_at_a_time_and_bounded():
    from assistant.reply import MAX_ALERTS

    parsed = parse_reply(json.dumps({"message": "ok", "alerts": [
        {"ticker": "AAPL", "condition": "above", "price": 200},
        {"ticker": "AAPL", "condition": "sideways", "price": 200},
        {"ticker": "AAPL", "condition": "below", "price": True},
        "not an object",
        *[{"ticker": "MSFT", "condition": "below", "price": 1}] * MAX_ALERTS,
    ]}))
    first, sideways, boolean, junk = parsed.alerts[:4]
    assert first == {"ticker": "AAPL", "condition": "above", "price": 200.0}
    assert sideways["problem"] == "Condition must be 'above' or 'below'."
    assert boolean["problem"] == "Price must be a number."
    assert junk["problem"] == "Not an alert object."
    assert all("at most" in a["problem"] for a in parsed.alerts[MAX_ALERTS:])
