"""The watchlist's writes: the per-user cap (issue 19), enforced once here for every door, and race-safe."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from market import selectors, services
from market.exceptions import AlreadyWatching, WatchlistFull
from market.models import WatchlistEntry


@pytest.mark.django_db
class TestCap:
    def test_adds_stop_at_the_limit_and_the_refusal_names_it(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 12  # the ten seeded tickers and two more
        services.add_ticker(ticker="PYPL")
        services.add_ticker(ticker="SHOP")
        with pytest.raises(WatchlistFull, match="at most 12 tickers") as refused:
            services.add_ticker(ticker="UBER")
        assert "UBER" in str(refused.value)
        assert len(selectors.watched_tickers()) == 12 and "UBER" not in selectors.watched_tickers()

    def test_a_removal_makes_room(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        with pytest.raises(WatchlistFull):
            services.add_ticker(ticker="PYPL")
        services.remove_ticker(ticker="NFLX")
        services.add_ticker(ticker="PYPL")
        assert selectors.watched_tickers()[-1] == "PYPL"

    def test_a_ticker_already_watched_on_a_full_list_says_so(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        with pytest.raises(AlreadyWatching):
            services.add_ticker(ticker="aapl")

    def test_the_limit_is_per_user(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        services.add_ticker(user_id="other", ticker="PYPL")
        assert WatchlistEntry.objects.filter(user_id="other").count() == 1


@pytest.mark.e2e
def test_concurrent_adds_never_pass_the_limit(stack_factory):
    """Twenty adds at once, two places left, through a real server (SQLite, or PostgreSQL with --postgres): the
    count and the insert are one step, so exactly two get in whatever the interleaving."""
    stack = stack_factory(WATCHLIST_MAX_TICKERS="12")
    stack.start_web()
    tickers = [f"ZZ{i}" for i in range(20)]
    barrier = threading.Barrier(len(tickers))

    def add(ticker):
        with httpx.Client(base_url=stack.base_url, timeout=30) as client:
            barrier.wait()
            return client.post("/api/watchlist", json={"ticker": ticker})

    with ThreadPoolExecutor(max_workers=len(tickers)) as pool:
        responses = list(pool.map(add, tickers))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 2 + [409] * 18, [r.text for r in responses]
    assert all("at most 12 tickers" in r.json()["error"] for r in responses if r.status_code == 409)
    assert stack.query("SELECT COUNT(*) FROM watchlist")[0][0] == 12
