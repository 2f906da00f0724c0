"""Reads of the market app; plain values, never lazy querysets."""

from __future__ import annotations

from finally_site.db import DEFAULT_USER
from market import hooks
from market.models import WatchlistEntry
from market.store import Quote, get_store


def watched_tickers(*, user_id: str = DEFAULT_USER) -> list[str]:
    return list(WatchlistEntry.objects.filter(user_id=user_id).values_list("ticker", flat=True))


def priced_tickers() -> set[str]:
    """What the worker must price: every watched ticker and whatever other apps need (held positions)."""
    tickers = set(WatchlistEntry.objects.values_list("ticker", flat=True).distinct())
    for provider in hooks.ticker_providers:
        tickers.update(provider())
    return tickers


def watchlist_quotes(*, user_id: str = DEFAULT_USER) -> list[tuple[str, Quote | None]]:
    """The watchlist in display order with each ticker's latest quote (None until it is first priced)."""
    tickers = watched_tickers(user_id=user_id)
    quotes = get_store().quotes(tickers)
    return [(ticker, quotes.get(ticker)) for ticker in tickers]
