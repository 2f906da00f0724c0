"""What a ticker may look like: look-alikes that upper-casing would turn into real symbols are refused."""

import pytest

from market.exceptions import InvalidTicker
from market.tickers import normalize_ticker

# Each of these reads as (or upper-cases to) a real, different symbol: a paste from a web page, or a model's output.
LOOK_ALIKES = {
    "\u0131bm": "IBM",  # dotless i: str.upper() makes it I
    "\u00df": "SS",  # sharp s: str.upper() makes it SS
    "\ufb00": "FF",  # the ff ligature
    "\uff21\uff21\uff30\uff2c": "AAPL",  # full-width letters
    "\u0410APL": "AAPL",  # a Cyrillic A in front
    "BRK\uff0eB": "BRK.B",  # a full-width full stop
    "\uff11\uff12": "12",  # full-width digits
    "AAPL\u200b": "AAPL",  # a zero-width space inside the text
}


@pytest.mark.parametrize("raw", list(LOOK_ALIKES), ids=[ascii(r) for r in LOOK_ALIKES])
def test_non_ascii_is_refused_before_upper_casing(raw):
    with pytest.raises(InvalidTicker, match=r"non-ASCII character .* \(U\+[0-9A-F]{4}\)"):
        normalize_ticker(raw)


@pytest.mark.parametrize(
    "raw, expected",
    [(" brk.b ", "BRK.B"), ("aapl", "AAPL"), ("\u00a0msft\u3000", "MSFT"), ("\tv\n", "V")],
    ids=["ascii-spaces", "lower", "no-break-and-ideographic-spaces", "tab-newline"],
)
def test_ascii_symbols_and_surrounding_whitespace(raw, expected):
    # Whitespace around a symbol is no part of it (a no-break space comes along with a paste): stripped, any kind.
    assert normalize_ticker(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\u3000", "AA PL", "-AAPL", "A" * 11, "<b>", None, 12])
def test_refused(raw):
    with pytest.raises(InvalidTicker):
        normalize_ticker(raw)
