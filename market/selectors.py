"""Reads of the market app; plain values, never lazy querysets."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from core.fastpath import sqlite_version
from market import bars as bar_rules
from market import hooks
from market.models import PriceBar, WatchlistEntry
from market.quotes import FeedStatus, Quote
from market.store import get_store

# --- simulated prices: what the page says about them ----------------------------------------------------


def simulated_prices() -> bool:
    """Prices come from the simulator: no Massive key (the rule market.sources.build_source follows)."""
    return not settings.MASSIVE_API_KEY


def seeded_symbols() -> tuple[str, ...]:
    """The symbols the simulator has parameters for; any other ticker gets a price it makes up."""
    from market.simulator import DEFAULT_PARAMS  # numpy: only when asked

    return tuple(DEFAULT_PARAMS)


def invented_by_simulator(ticker: str) -> bool:
    """The simulator prices this ticker from nothing (a made-up ZZZZZZ gets $100 and a random walk)."""
    return simulated_prices() and ticker not in seeded_symbols()


def watched_tickers(*, user_id: str, limit: int | None = None) -> list[str]:
    """The watchlist in display order; only its first `limit` tickers when given."""
    tickers = WatchlistEntry.objects.filter(user_id=user_id).values_list("ticker", flat=True)
    return list(tickers[:limit] if limit is not None else tickers)


def watch_count(*, user_id: str) -> int:
    return WatchlistEntry.objects.filter(user_id=user_id).count()


def kept_tickers(*, user_id: str) -> set[str]:
    """What other apps keep priced for this user off the watchlist (their held positions)."""
    tickers: set[str] = set()
    for provider in hooks.ticker_providers:
        tickers.update(provider(user_id=user_id))
    return tickers


def priced_tickers() -> set[str]:
    """What the worker must price: every watched ticker and whatever other apps need (held positions)."""
    # order_by() drops the model's default ordering, which would otherwise join DISTINCT and return every row.
    tickers = set(WatchlistEntry.objects.order_by().values_list("ticker", flat=True).distinct())
    for provider in hooks.ticker_providers:
        tickers.update(provider())
    return tickers


@dataclass(frozen=True)
class WatchedTicker:
    ticker: str
    quote: Quote | None
    # "priced"; "stale" when its source stopped sending its price (not tradable, see market.quotes.is_live);
    # "pending" until the worker's next tick; "unknown" when the source does not know it.
    status: str
    # While "priced": when it turns "stale" by time alone, if no newer price comes (a cached read expires then).
    live_until: float | None = None


def quote_status(ticker: str, quote: Quote | None, status: FeedStatus) -> str:
    if quote is not None:
        return "priced" if status.quote_is_live(quote) else "stale"
    return "unknown" if ticker in status.unknown else "pending"


def watchlist_quotes(*, user_id: str, limit: int | None = None) -> list[WatchedTicker]:
    """The watchlist in display order (its first `limit` tickers) with each one's latest quote and whether one
    is coming."""
    tickers = watched_tickers(user_id=user_id, limit=limit)
    store = get_store()
    quotes = store.quotes(tickers)
    status = store.status()
    watched = []
    for ticker in tickers:
        quote = quotes.get(ticker)
        state = quote_status(ticker, quote, status)
        live_until = status.quote_live_until(quote) if state == "priced" else None
        watched.append(WatchedTicker(ticker, quote, state, live_until))
    return watched


def prices_version() -> int | None:
    """The price store's change counter, for the API's cached reads (core.fastpath.ReadCache): the embedded store's
    SQLite counter; None for Redis, whose reads are then made afresh each time."""
    store = get_store()
    return sqlite_version(store.path) if store.kind == "sqlite" else None


# --- price bars (market.bars) -------------------------------------------------------------------------------


def first_minute(ticker: str) -> int | None:
    """When the ticker's kept history begins (its oldest minute bar's start, epoch seconds), None without one."""
    found = PriceBar.objects.filter(ticker=ticker).order_by("minute").values_list("minute", flat=True).first()
    return int(found.timestamp()) if found else None


def has_bars(ticker: str) -> bool:
    """Whether any minute bar of the ticker is kept (the primary key's index answers it)."""
    return PriceBar.objects.filter(ticker=ticker).exists()


def bars(ticker: str, timeframe: str, limit: int) -> list[bar_rules.Bar]:
    """The last `limit` bars of `timeframe` for `ticker`, oldest first, the minute in progress included: the bars
    the worker's minute bars make (market.bars.read), then, for the minutes it has not written yet, the price
    store's tick history. Empty for a ticker never priced here (history starts when a ticker is first priced)."""
    kept, last_minute = bar_rules.read(ticker, timeframe, limit)
    store = get_store()
    # The store's history is kept at each poll's time: the simulator's prices are made then, Massive's were traded
    # earlier (a delayed plan's 15 minutes; the last trade repeated all night), and only its saved bars, which the
    # worker puts at the trade's minute, are a minute's prices.
    if simulated_prices() and not store.status().notice:
        recent = bar_rules.BarBuilder()
        if last_minute is not None:
            start = last_minute + bar_rules.MINUTE
        else:
            start = bar_rules.since(timeframe, limit, time.time())
        for t, price in store.history(ticker, since=start):
            recent.add({ticker: price}, t)
        kept += [bar for _, bar in recent.all()]
    # The bars read are whole buckets (a day's are its hours): rolled up, the minutes in progress join the last.
    return bar_rules.roll_up(kept, timeframe)[-limit:]
