"""Writes of the market app: the watchlist. Prices are written by the worker alone (worker.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from market import hooks, selectors
from market.exceptions import AlreadyWatching, NotWatching, WatchlistFull
from market.models import WatchlistEntry
from market.tickers import normalize_ticker


def _lock_watchlist(user_id: str) -> None:
    """Serialize this user's adds until the transaction ends, so that a count taken now still holds at the insert.

    SQLite: already so, every transaction begins IMMEDIATE (the database's one write lock). PostgreSQL: a
    transaction-scoped advisory lock per user; two adds at the cap minus one would otherwise both count the
    same rows and both insert (READ COMMITTED does not see the other's uncommitted row).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"watchlist:{user_id}"])


def _within_deployment_cap(ticker: str) -> None:
    """The worker prices the union of every account's watchlist and holdings: at most PRICED_TICKERS_MAX, besides each
    account's own cap, so that many accounts together cannot grow every tick without limit. A ticker priced already
    (someone watches or holds it) costs nothing more and is always allowed. PostgreSQL: adds of new tickers take
    one deployment-wide lock, after the user's own, so two at the cap minus one cannot both count the same set."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["priced-tickers"])
    priced = selectors.priced_tickers()
    limit = settings.PRICED_TICKERS_MAX
    if ticker not in priced and len(priced) >= limit:
        raise WatchlistFull(
            f"This deployment prices at most {limit} different tickers across all accounts, and that many are "
            f"priced now: {ticker} cannot be added. A ticker someone already watches or holds can be."
        )


def add_ticker(*, user_id: str, ticker: str) -> WatchlistEntry:
    """Watch a ticker; the worker prices it from its next tick. At most WATCHLIST_MAX_TICKERS per user, watched or
    held: every priced ticker costs the worker, the streams and the assistant's context on every tick (issue 19),
    and a held ticker stays priced off the watchlist (SPEC §3). Adding is the only way a ticker becomes priced (a
    buy needs it watched or held, portfolio.services), so counting here bounds what a user can make the worker
    price: without the held ones, add, buy a cent's worth, remove and repeat grew it without limit."""
    ticker = normalize_ticker(ticker)
    limit = settings.WATCHLIST_MAX_TICKERS
    try:
        with transaction.atomic():
            # The owner's book first, as a trade takes it (and the assistant, ahead of its watchlist changes): on
            # PostgreSQL a buy of a ticker the user watches, committing after a count taken here, would otherwise
            # keep it held once removed and put the user one past the cap.
            for lock in hooks.owner_locks:
                lock(user_id=user_id)
            _lock_watchlist(user_id)
            watched = WatchlistEntry.objects.filter(user_id=user_id)
            if watched.filter(ticker=ticker).exists():
                raise AlreadyWatching(f"{ticker} is already on the watchlist.")
            priced = set(watched.values_list("ticker", flat=True)) | selectors.kept_tickers(user_id=user_id)
            if len(priced | {ticker}) > limit:
                raise WatchlistFull(
                    f"The watchlist is full: at most {limit} tickers watched or held, and a held position counts "
                    f"whether it is on the watchlist or not. Sell or remove one before adding {ticker}."
                )
            _within_deployment_cap(ticker)
            return WatchlistEntry.objects.create(user_id=user_id, ticker=ticker)
    except IntegrityError:
        raise AlreadyWatching(f"{ticker} is already on the watchlist.") from None


def remove_ticker(*, user_id: str, ticker: str) -> str:
    """Stop watching a ticker; it leaves the streams at the worker's next tick unless a position holds it."""
    ticker = normalize_ticker(ticker)
    deleted, _ = WatchlistEntry.objects.filter(user_id=user_id, ticker=ticker).delete()
    if not deleted:
        raise NotWatching(f"{ticker} is not on the watchlist.")
    return ticker


def seed_watchlist(*, user_id: str, tickers: tuple[str, ...]) -> None:
    # Stagger added_at so the watchlist keeps the order given (it is ordered by added_at).
    now = timezone.now()
    WatchlistEntry.objects.bulk_create(
        [
            WatchlistEntry(user_id=user_id, ticker=t, added_at=now + timedelta(microseconds=i))
            for i, t in enumerate(tickers)
        ],
        ignore_conflicts=True,
    )


def clear_watchlist(*, user_id: str) -> None:
    WatchlistEntry.objects.filter(user_id=user_id).delete()
