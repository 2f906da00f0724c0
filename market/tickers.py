"""What a ticker symbol may look like, in one place for the watchlist, trades and the assistant."""

import re

from market.exceptions import InvalidTicker

MAX_TICKER_LENGTH = 10
_TICKER_RE = re.compile(rf"[A-Z0-9][A-Z0-9.\-]{{0,{MAX_TICKER_LENGTH - 1}}}", re.ASCII)

DEFAULT_TICKERS = ("AAPL", "GOOGL", "MSFT", "AMZN", "TSLA", "NVDA", "META", "JPM", "V", "NFLX")


def normalize_ticker(raw: object) -> str:
    """Upper-case a symbol such as ' brk.b ' and reject anything that cannot be a ticker."""
    if not isinstance(raw, str):
        raise InvalidTicker("Ticker must be a string such as AAPL.")
    # Whitespace around it (a no-break space pasted with it too) is not part of any symbol.
    ticker = raw.strip()
    # Refused before upper-casing, which maps some non-ASCII letters onto real symbols: "ıbm" -> IBM, "ß" -> SS,
    # "ﬀ" -> FF. A look-alike (a Cyrillic А, a full-width Ａ or １) would trade a different symbol than it reads.
    odd = next((c for c in ticker if not c.isascii()), None)
    if odd is not None:
        raise InvalidTicker(
            f"'{ticker[:MAX_TICKER_LENGTH]}' is not a ticker: it has the non-ASCII character '{odd}' "
            f"(U+{ord(odd):04X}); use the letters A-Z, digits 0-9, '.' or '-' (for example AAPL, BRK.B)."
        )
    ticker = ticker.upper()
    if not ticker:
        raise InvalidTicker("Ticker is empty.")
    if len(ticker) > MAX_TICKER_LENGTH:
        raise InvalidTicker(f"Ticker is longer than {MAX_TICKER_LENGTH} characters.")
    if not _TICKER_RE.fullmatch(ticker):
        raise InvalidTicker(
            f"'{ticker[:MAX_TICKER_LENGTH]}' is not a ticker: use letters, digits, '.' or '-' "
            "(for example AAPL, BRK.B)."
        )
    return ticker
