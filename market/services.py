"""Writes of the market app: the watchlist. Prices are written by the worker alone (worker.py)."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import DEFAULT_USER
from market.exceptions import AlreadyWatching, NotWatching
from market.models import WatchlistEntry
from market.tickers import normalize_ticker


def add_ticker(*, user_id: str = DEFAULT_USER, ticker: str) -> WatchlistEntry:
    """Watch a ticker; the worker prices it from its next tick."""
    ticker = normalize_ticker(ticker)
    try:
        with transaction.atomic():
            return WatchlistEntry.objects.create(user_id=user_id, ticker=ticker)
    except IntegrityError:
        raise AlreadyWatching(f"{ticker} is already on the watchlist.") from None


def remove_ticker(*, user_id: str = DEFAULT_USER, ticker: str) -> str:
    """Stop watching a ticker; it leaves the streams at the worker's next tick unless a position holds it."""
    ticker = normalize_ticker(ticker)
    deleted, _ = WatchlistEntry.objects.filter(user_id=user_id, ticker=ticker).delete()
    if not deleted:
        raise NotWatching(f"{ticker} is not on the watchlist.")
    return ticker


def seed_watchlist(*, user_id: str = DEFAULT_USER, tickers: tuple[str, ...]) -> None:
    # Stagger added_at so the watchlist keeps the order given (it is ordered by added_at).
    now = timezone.now()
    WatchlistEntry.objects.bulk_create(
        [WatchlistEntry(user_id=user_id, ticker=t, added_at=now + timedelta(microseconds=i)) for i, t in enumerate(tickers)],
        ignore_conflicts=True,
    )


def clear_watchlist(*, user_id: str = DEFAULT_USER) -> None:
    WatchlistEntry.objects.filter(user_id=user_id).delete()
