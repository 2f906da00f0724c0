"""The watchlist's writes: the per-user cap (issue 19), enforced once here for every door, and race-safe."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from core.db import DEFAULT_USER
from market import selectors, services
from market.exceptions import AlreadyWatching, WatchlistFull
from market.models import WatchlistEntry
from portfolio import services as portfolio_services
from portfolio.models import Position


@pytest.mark.django_db
class TestCap:
    def test_adds_stop_at_the_limit_and_the_refusal_names_it(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 12  # the ten seeded tickers and two more
        services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        services.add_ticker(user_id=DEFAULT_USER, ticker="SHOP")
        with pytest.raises(WatchlistFull, match="at most 12 tickers") as refused:
            services.add_ticker(user_id=DEFAULT_USER, ticker="UBER")
        assert "UBER" in str(refused.value)
        watched = selectors.watched_tickers(user_id=DEFAULT_USER)
        assert len(watched) == 12 and "UBER" not in watched

    def test_a_removal_makes_room(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        with pytest.raises(WatchlistFull):
            services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        services.remove_ticker(user_id=DEFAULT_USER, ticker="NFLX")
        services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        assert selectors.watched_tickers(user_id=DEFAULT_USER)[-1] == "PYPL"

    def test_a_ticker_already_watched_on_a_full_list_says_so(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        with pytest.raises(AlreadyWatching):
            services.add_ticker(user_id=DEFAULT_USER, ticker="aapl")

    def test_the_limit_is_per_user(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        services.add_ticker(user_id="other", ticker="PYPL")
        assert WatchlistEntry.objects.filter(user_id="other").count() == 1



@pytest.mark.django_db
def test_the_priced_set_is_read_as_one_row_per_ticker():
    """Many books watch the same tickers: the worker's query must fetch each ticker once, not once per entry (the
    watchlist's default ordering, if it joined DISTINCT, made it every row of every book)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(5):
        services.seed_watchlist(user_id=f"book-{n}", tickers=("AAPL", "MSFT", "NVDA"))
    with CaptureQueriesContext(connection) as queries:
        tickers = selectors.priced_tickers()
    assert {"AAPL", "MSFT", "NVDA"} <= tickers
    fetched = 0
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            cursor.execute(query["sql"])
            fetched += len(cursor.fetchall())
    assert fetched == len(tickers)  # one row per distinct ticker, whatever the number of books


def tick(publish) -> None:
    """One worker tick: a price for every ticker the worker prices now, and every other one dropped."""
    publish({t: 100.0 for t in selectors.priced_tickers()})


@pytest.mark.django_db
class TestHeldTickersCount:
    """A held ticker stays priced off the watchlist (SPEC §3), so the cap counts it: the review's loop (add, buy a
    cent's worth, remove, repeat) grew the priced set without limit while the watchlist stayed under the cap."""

    def test_add_buy_remove_rounds_never_get_past_the_cap(self, settings, publish):
        settings.WATCHLIST_MAX_TICKERS = 14  # the ten seeded tickers and four more
        cap, made_up, held = 14, iter(f"ZQ{i}" for i in range(100)), []
        for _ in range(3):
            added = []
            while True:
                ticker = next(made_up)
                try:
                    services.add_ticker(user_id=DEFAULT_USER, ticker=ticker)
                except WatchlistFull as refused:
                    assert "at most 14 tickers watched or held" in str(refused)
                    assert "Sell or remove one" in str(refused)
                    break
                added.append(ticker)
                assert len(selectors.priced_tickers()) <= cap
            tick(publish)
            for ticker in added:
                # $0.01 each
                portfolio_services.execute_trade(user_id=DEFAULT_USER, ticker=ticker, side="buy", quantity="0.0001")
                services.remove_ticker(user_id=DEFAULT_USER, ticker=ticker)
            held += added
            tick(publish)
            assert len(selectors.priced_tickers()) <= cap
        # The first round filled the four places; the later ones found none, held positions taking them.
        assert len(held) == 4 and set(Position.objects.values_list("ticker", flat=True)) == set(held)
        assert len(selectors.watched_tickers(user_id=DEFAULT_USER)) == 10 and len(selectors.priced_tickers()) == cap

    def test_selling_makes_room(self, settings, publish):
        settings.WATCHLIST_MAX_TICKERS = 11
        services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        tick(publish)
        portfolio_services.execute_trade(user_id=DEFAULT_USER, ticker="PYPL", side="buy", quantity="1")
        services.remove_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        with pytest.raises(WatchlistFull):
            services.add_ticker(user_id=DEFAULT_USER, ticker="SHOP")
        portfolio_services.execute_trade(user_id=DEFAULT_USER, ticker="PYPL", side="sell", quantity="1")
        services.add_ticker(user_id=DEFAULT_USER, ticker="SHOP")
        assert selectors.watched_tickers(user_id=DEFAULT_USER)[-1] == "SHOP"

    def test_a_held_ticker_can_be_watched_again_at_the_cap(self, settings, publish):
        settings.WATCHLIST_MAX_TICKERS = 11
        services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        tick(publish)
        portfolio_services.execute_trade(user_id=DEFAULT_USER, ticker="PYPL", side="buy", quantity="1")
        services.remove_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        # Already priced: watching it again prices nothing more.
        services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        assert "PYPL" in selectors.watched_tickers(user_id=DEFAULT_USER)

    def test_another_users_positions_do_not_count(self, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        Position.objects.create(user_id="default", ticker="PYPL", quantity=Decimal(1), avg_cost=Decimal(100),
                                cost_basis=Decimal(100))
        assert selectors.kept_tickers(user_id="other") == set()
        services.add_ticker(user_id="other", ticker="SHOP")
        assert selectors.kept_tickers(user_id=DEFAULT_USER) == {"PYPL"}


@pytest.mark.django_db(transaction=True)
def test_an_add_waits_for_a_buy_in_flight(publish):
    """PostgreSQL: a buy of a watched ticker, still uncommitted while the ticker is removed and another added, is
    counted by that add (it takes the owner's book first, as the trade does); counting without it let the add in
    and left the user one past the cap. Run by `make test` under --postgres."""
    from django.conf import settings
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (pytest --postgres)")
    settings.WATCHLIST_MAX_TICKERS = 11
    services.add_ticker(user_id=DEFAULT_USER, ticker="ZQA")
    publish({"ZQA": 100.0})
    bought, commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def buyer() -> None:
        try:
            with transaction.atomic():
                portfolio_services.execute_trade(user_id=DEFAULT_USER, ticker="ZQA", side="buy", quantity="1")
                bought.set()
                commit.wait(10)
        finally:
            connection.close()

    def adder() -> None:
        try:
            services.add_ticker(user_id=DEFAULT_USER, ticker="ZQB")
            outcome["added"] = True
        except WatchlistFull as exc:
            outcome["refused"] = str(exc)
        finally:
            connection.close()

    buying = threading.Thread(target=buyer)
    buying.start()
    assert bought.wait(10)
    services.remove_ticker(user_id=DEFAULT_USER, ticker="ZQA")  # the buy's transaction holds no lock on the watchlist
    adding = threading.Thread(target=adder)
    adding.start()
    adding.join(0.5)
    waited = adding.is_alive()
    commit.set()
    buying.join(10)
    adding.join(10)
    assert waited, "the add did not wait for the buy's lock on the book"
    assert "at most 11 tickers watched or held" in outcome.get("refused", ""), outcome
    watched = set(selectors.watched_tickers(user_id=DEFAULT_USER))
    assert len(selectors.kept_tickers(user_id=DEFAULT_USER) | watched) == 11

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


class TestDeploymentCap:
    def test_past_the_deployments_cap_only_already_priced_tickers_can_be_added(self, db, settings):
        from portfolio import services as portfolio_services

        portfolio_services.seed(user_id="other")
        settings.PRICED_TICKERS_MAX = len(selectors.priced_tickers())  # the default watchlist: 10
        with pytest.raises(WatchlistFull, match="at most 10 different tickers across all accounts"):
            services.add_ticker(user_id="other", ticker="PYPL")
        services.remove_ticker(user_id=DEFAULT_USER, ticker="NFLX")
        services.remove_ticker(user_id="other", ticker="NFLX")
        services.add_ticker(user_id="other", ticker="PYPL")  # a place freed: NFLX no longer priced
        services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")  # priced already: costs nothing more
        assert "PYPL" in selectors.watched_tickers(user_id=DEFAULT_USER)
