"""The values the price stores hold and the rules both follow (market/quotes.py)."""

from market.quotes import iso_utc, round_quote


def test_quote_rounding():
    assert round_quote(191.23456) == 191.23
    assert round_quote(0.123456) == 0.1235
    assert iso_utc(0.25) == "1970-01-01T00:00:00.250Z"
