"""The trade engine's rules, table-driven, on the real database; seeding and reset."""

import time
from decimal import Decimal

import pytest

from assistant.models import ChatMessage
from core.db import DEFAULT_USER
from market import selectors as market_selectors
from market import services as market_services
from portfolio import selectors, services
from portfolio.exceptions import InsufficientCash, InsufficientShares, InvalidOrder, NoPrice, StalePrice
from portfolio.models import PortfolioSnapshot, Position, Profile, Trade

pytestmark = pytest.mark.django_db

D = Decimal


def cash() -> Decimal:
    return Profile.objects.get(pk="default").cash_balance


def position(ticker="AAPL"):
    return Position.objects.filter(ticker=ticker).first()


# Each case: steps of (price, side, quantity), then the expected cash, position (qty, avg, basis) or None,
# and the realized P&L of the last trade. Prices are set in the store before each step.
RULES = [
    pytest.param([(100, "buy", 10)], D("9000.00"), (D("10"), D("100"), D("1000.00")), None, id="buy"),
    pytest.param(
        [(100, "buy", 10), (130, "buy", 5)],
        D("8350.00"),
        (D("15"), D("110"), D("1650.00")),
        None,
        id="second buy at another price: weighted average",
    ),
    pytest.param(
        [(100, "buy", 10), (120, "sell", 4)],
        D("9480.00"),
        (D("6"), D("100"), D("600.00")),
        D("80.00"),
        id="partial sell keeps avg cost",
    ),
    pytest.param(
        [(100, "buy", 10), (90, "sell", 10)], D("9900.00"), None, D("-100.00"), id="full sell deletes the row"
    ),
    pytest.param(
        [(191.37, "buy", D("0.5")), (191.37, "buy", D("0.25"))],
        # 95.685 and 47.8425 are each rounded up to the cent; avg_cost is the price paid (SPEC §5).
        D("9856.46"),
        (D("0.75"), D("191.37"), D("143.54")),
        None,
        id="fractional shares: cost rounds up, average is the price paid",
    ),
    pytest.param(
        [(100, "buy", 3), (130, "buy", D("1.5"))],
        D("9505.00"),
        (D("4.5"), D("110"), D("495.00")),
        None,
        id="weighted average of the prices paid",
    ),
    pytest.param(
        [(60, "buy", D("0.0003")), (60, "sell", D("0.0003"))],
        # 0.018 costs 0.02; selling it all pays 0.01 (rounded down): the round trip loses a cent, never gains.
        D("9999.99"),
        None,
        D("-0.01"),
        id="round trip rounds against the trader",
    ),
]


@pytest.mark.parametrize("steps, expected_cash, expected_position, expected_realized", RULES)
def test_rules(publish, steps, expected_cash, expected_position, expected_realized):
    fill = None
    for price, side, quantity in steps:
        publish({"AAPL": price})
        fill = services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side=side, quantity=quantity)
    assert cash() == expected_cash == fill.cash_balance
    held = position()
    if expected_position is None:
        assert held is None
    else:
        assert (held.quantity, held.avg_cost, held.cost_basis) == expected_position
    assert fill.realized_pnl == expected_realized
    assert Trade.objects.count() == len(steps)


REJECTIONS = [
    pytest.param([], ("sell", 1), InsufficientShares, "you hold 0 AAPL", id="sell unheld"),
    pytest.param([("buy", 5)], ("sell", 6), InsufficientShares, "you hold 5 AAPL", id="oversell"),
    pytest.param([], ("buy", 101), InsufficientCash, "costs $10,100.00", id="insufficient cash"),
    pytest.param([], ("buy", 0), InvalidOrder, "greater than zero", id="zero"),
    pytest.param([], ("buy", -1), InvalidOrder, "greater than zero", id="negative"),
    pytest.param(
        [], ("buy", D("0.00005")), InvalidOrder, "at most 4 decimal places", id="5 decimals refused, not rounded"
    ),
    pytest.param([], ("buy", D("0.00004")), InvalidOrder, "at most 4 decimal places", id="would round to zero"),
    pytest.param([], ("buy", 1.00001), InvalidOrder, "at most 4 decimal places", id="float with 5 decimals"),
    pytest.param([], ("buy", float("nan")), InvalidOrder, "must be a number", id="nan"),
    pytest.param([], ("buy", float("inf")), InvalidOrder, "must be a number", id="infinity"),
    pytest.param([], ("buy", 1e308), InvalidOrder, "at most", id="huge"),
    pytest.param([], ("buy", True), InvalidOrder, "must be a number", id="bool"),
    # Typed text (the trade bar's form) is a plain decimal; Decimal() alone reads all of these as numbers.
    pytest.param([], ("buy", "1e1"), InvalidOrder, "written plainly", id="text with exponent"),
    pytest.param([], ("buy", "1E1"), InvalidOrder, "written plainly", id="text with upper-case exponent"),
    pytest.param([], ("buy", "+5"), InvalidOrder, "written plainly", id="text with sign"),
    pytest.param([], ("buy", "1_0"), InvalidOrder, "written plainly", id="text with underscore"),
    pytest.param([], ("buy", "\u0661\u0660"), InvalidOrder, "written plainly", id="non-ASCII digits"),
    pytest.param([], ("buy", "Infinity"), InvalidOrder, "written plainly", id="text infinity"),
    pytest.param([], ("hold", 1), InvalidOrder, "'buy' or 'sell'", id="bad side"),
    pytest.param([], ("BUY", 1), InvalidOrder, "'buy' or 'sell'", id="upper-case side"),
]


@pytest.mark.parametrize("before, order, error, message", REJECTIONS)
def test_rejections_change_nothing(publish, before, order, error, message):
    publish({"AAPL": 100})
    for side, quantity in before:
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side=side, quantity=quantity)
    state = (cash(), list(Position.objects.values_list("ticker", "quantity")), Trade.objects.count(),
             PortfolioSnapshot.objects.count())
    side, quantity = order
    with pytest.raises(error, match=message.replace("$", r"\$")):
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side=side, quantity=quantity)
    assert state == (cash(), list(Position.objects.values_list("ticker", "quantity")), Trade.objects.count(),
                     PortfolioSnapshot.objects.count())


def test_no_price_is_rejected(publish):
    publish({"AAPL": 100})
    with pytest.raises(NoPrice, match="no price for ZZZZ"):
        services.execute_trade(user_id=DEFAULT_USER, ticker="zzzz", side="buy", quantity=1)
    assert Trade.objects.count() == 0


def test_a_ticker_its_source_stopped_sending_is_not_traded_while_others_are(publish):
    """The feed is live (MSFT keeps coming), but AAPL's last price was received 42 s ago: never filled at."""
    publish({"AAPL": 100, "MSFT": 400})
    # While it was live: a position to sell.
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=2)
    now = time.time()
    publish({"AAPL": 100, "MSFT": 400}, produced_at=now - 42)  # AAPL's last price: 42 s ago
    publish({"MSFT": 401}, keep={"AAPL", "MSFT"}, produced_at=now)
    before = (cash(), list(Position.objects.values_list("ticker", "quantity")), Trade.objects.count())
    for side in ("buy", "sell"):
        with pytest.raises(StalePrice, match=r"^The price of AAPL is 4\d s old: .* resume when it is priced again\.$"):
            services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side=side, quantity=1)
    assert before == (cash(), list(Position.objects.values_list("ticker", "quantity")), Trade.objects.count())
    assert services.execute_trade(user_id=DEFAULT_USER, ticker="MSFT", side="buy", quantity=1).price == Decimal("401")
    publish({"AAPL": 101, "MSFT": 401})  # priced again: tradable again
    assert services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="sell", quantity=1).price == Decimal("101")


def test_ticker_unknown_to_the_source_says_so(publish):
    publish({"AAPL": 100}, keep={"AAPL", "NOPE"}, unknown={"NOPE"})
    with pytest.raises(NoPrice, match="NOPE is not a ticker the price source knows"):
        services.execute_trade(user_id=DEFAULT_USER, ticker="NOPE", side="buy", quantity=1)


def test_invalid_ticker_is_rejected():
    with pytest.raises(InvalidOrder, match="not a ticker"):
        services.execute_trade(user_id=DEFAULT_USER, ticker="<b>", side="buy", quantity=1)


def test_order_worth_less_than_a_cent_is_rejected(publish):
    market_services.add_ticker(user_id=DEFAULT_USER, ticker="PENNY")
    publish({"PENNY": 0.5})
    with pytest.raises(InvalidOrder, match="less than a cent"):
        services.execute_trade(user_id=DEFAULT_USER, ticker="PENNY", side="buy", quantity=D("0.0001"))
    assert cash() == D("10000.00")


def test_buy_exactly_all_cash(publish):
    publish({"AAPL": 100})
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=100)
    assert cash() == D("0.00")
    with pytest.raises(InsufficientCash):
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=D("0.0001"))


def test_each_trade_records_a_snapshot_at_live_prices(publish):
    publish({"AAPL": 100, "MSFT": 200})
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=10)
    publish({"AAPL": 110, "MSFT": 200})
    services.execute_trade(user_id=DEFAULT_USER, ticker="MSFT", side="buy", quantity=1)
    values = [v for v, _ in selectors.snapshot_series(user_id=DEFAULT_USER)]
    assert values == [D("10000.00"), D("10000.00"), D("10100.00")]


def test_held_ticker_removed_from_watchlist_stays_sellable(publish):
    publish({"NFLX": 600})
    services.execute_trade(user_id=DEFAULT_USER, ticker="NFLX", side="buy", quantity=2)
    market_services.remove_ticker(user_id=DEFAULT_USER, ticker="NFLX")
    assert "NFLX" in market_selectors.priced_tickers()
    fill = services.execute_trade(user_id=DEFAULT_USER, ticker="NFLX", side="sell", quantity=2)
    assert fill.cash_balance == D("10000.00")
    assert "NFLX" not in market_selectors.priced_tickers()


def test_a_quote_left_for_a_ticker_just_removed_does_not_buy_it(publish):
    """The store keeps a removed ticker's quote until the worker's next tick (a poll's 15 s with Massive): bought
    then, it would be held without ever having counted towards the watchlist's cap (market.services.add_ticker)."""
    market_services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
    publish({"PYPL": 100})
    market_services.remove_ticker(user_id=DEFAULT_USER, ticker="PYPL")
    with pytest.raises(NoPrice, match="PYPL is not on your watchlist: add it to the watchlist before buying it"):
        services.execute_trade(user_id=DEFAULT_USER, ticker="PYPL", side="buy", quantity=1)
    assert position("PYPL") is None and cash() == D("10000.00")


def test_a_held_ticker_off_the_watchlist_can_still_be_bought(publish):
    publish({"NFLX": 600})
    services.execute_trade(user_id=DEFAULT_USER, ticker="NFLX", side="buy", quantity=1)
    market_services.remove_ticker(user_id=DEFAULT_USER, ticker="NFLX")
    services.execute_trade(user_id=DEFAULT_USER, ticker="NFLX", side="buy", quantity=1)
    assert position("NFLX").quantity == 2

class TestValuation:
    def test_portfolio_view(self, publish):
        publish({"AAPL": 100, "MSFT": 200})
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=10)
        services.execute_trade(user_id=DEFAULT_USER, ticker="MSFT", side="buy", quantity=5)
        services.execute_trade(user_id=DEFAULT_USER, ticker="MSFT", side="sell", quantity=1)
        publish({"AAPL": 110, "MSFT": 190})
        view = selectors.portfolio(user_id=DEFAULT_USER)
        assert view.cash_balance == D("8200.00")
        assert view.invested_value == D("1100.00") + D("760.00")
        assert view.total_value == D("10060.00")
        assert view.unrealized_pnl == D("100.00") + D("-40.00")
        assert view.realized_pnl == D("0.00")
        aapl, msft = view.positions
        assert (aapl.ticker, aapl.unrealized_pnl, aapl.unrealized_pnl_percent) == ("AAPL", D("100.00"), D("10.00"))
        assert aapl.weight == pytest.approx(1100 / 1860)
        assert msft.day_change_percent == pytest.approx(-5.0)

    def test_position_without_price_is_valued_at_cost(self, publish, price_store):
        publish({"AAPL": 100})
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=10)
        price_store.clear()
        view = selectors.portfolio(user_id=DEFAULT_USER)
        assert view.positions[0].current_price is None
        assert view.total_value == D("10000.00")


class TestSeedAndReset:
    def test_seed_is_idempotent_and_respects_user_changes(self):
        market_services.remove_ticker(user_id=DEFAULT_USER, ticker="NFLX")
        assert services.seed(user_id=DEFAULT_USER) is False
        assert Profile.objects.count() == 1
        assert "NFLX" not in market_selectors.watched_tickers(user_id=DEFAULT_USER)
        assert PortfolioSnapshot.objects.count() == 1

    def test_fresh_database_is_seeded(self):
        Profile.objects.all().delete()
        market_services.clear_watchlist(user_id=DEFAULT_USER)
        PortfolioSnapshot.objects.all().delete()
        assert services.seed(user_id=DEFAULT_USER) is True
        assert cash() == D("10000.00")
        assert market_selectors.watched_tickers(user_id=DEFAULT_USER) == [
            "AAPL", "GOOGL", "MSFT", "AMZN", "TSLA", "NVDA", "META", "JPM", "V", "NFLX"
        ]
        assert [v for v, _ in selectors.snapshot_series(user_id=DEFAULT_USER)] == [D("10000.00")]

    def test_reset(self, publish):
        publish({"AAPL": 100})
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=10)
        market_services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        market_services.remove_ticker(user_id=DEFAULT_USER, ticker="NFLX")
        ChatMessage.objects.create(role="user", content="hi")
        services.reset(user_id=DEFAULT_USER)
        assert cash() == D("10000.00")
        assert Position.objects.count() == Trade.objects.count() == ChatMessage.objects.count() == 0
        watched = market_selectors.watched_tickers(user_id=DEFAULT_USER)
        assert watched[-1] == "NFLX" and "PYPL" not in watched
        assert [v for v, _ in selectors.snapshot_series(user_id=DEFAULT_USER)] == [D("10000.00")]


def test_engine_rows_read_back_through_the_orm_unchanged(publish):
    """The engine writes with SQL (trade_sql.py); the ORM must read exactly what it reported."""
    publish({"AAPL": 191.37})
    fill = services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=D("0.3333"))
    trade = Trade.objects.get()
    assert (trade.id, trade.ticker, trade.side, trade.quantity, trade.price, trade.executed_at, trade.realized_pnl) == (
        fill.id, "AAPL", "buy", D("0.3333"), D("191.37"), fill.executed_at, None,
    )
    assert trade.notional == fill.notional == D("63.79")  # 63.783621, rounded up: a buy's cost
    held = position()
    assert (held.quantity, held.cost_basis, held.avg_cost) == (D("0.3333"), D("63.79"), D("191.37"))
    assert held.updated_at == fill.executed_at
    assert PortfolioSnapshot.objects.latest("recorded_at").recorded_at == fill.executed_at
    assert cash() == fill.cash_balance == D("9936.21")


def test_a_whole_position_worth_less_than_a_cent_can_still_be_sold(publish):
    publish({"AAPL": 150})
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=D("1.0001"))
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="sell", quantity=1)
    publish({"AAPL": 60})
    fill = services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="sell", quantity=D("0.0001"))
    assert fill.notional == D("0.00") and position() is None  # proceeds round down: the house's cent


@pytest.mark.django_db(transaction=True)
def test_reset_while_orders_fill_never_deadlocks_and_leaves_the_books_exact(publish):
    """A reset takes its locks in the order a trade does (the profile row first), so on PostgreSQL the two
    queue behind each other instead of deadlocking. Run by `make test` under --postgres."""
    import threading
    import time

    from django.db import connection

    if connection.vendor != "postgresql":
        # SQLite has one writer at a time (and the test database's shared cache refuses threads that write at once).
        pytest.skip("row locks: PostgreSQL only (pytest --postgres)")
    publish({"AAPL": 100, "MSFT": 200})
    errors: list[BaseException] = []
    done = threading.Event()

    def trader(n: int) -> None:
        try:
            i = 0
            while not done.is_set():
                side = "buy" if i % 3 != 2 else "sell"
                try:
                    services.execute_trade(user_id=DEFAULT_USER, ticker=("AAPL", "MSFT")[n % 2], side=side, quantity=1)
                except (InsufficientShares, InvalidOrder, InsufficientCash):
                    pass  # a sell just after a reset holds nothing; an order the reset overtook
                i += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def resetter() -> None:
        try:
            for _ in range(15):
                time.sleep(0.05)  # orders build positions between resets: a reset always has rows to delete
                services.reset(user_id=DEFAULT_USER)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=trader, args=(n,)) for n in range(4)] + [threading.Thread(target=resetter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    # Whatever the last reset left behind, the orders after it add up exactly.
    assert Profile.objects.count() == 1
    basis = sum((p.cost_basis for p in Position.objects.all()), D(0))
    realized = sum((t.realized_pnl for t in Trade.objects.filter(side="sell")), D(0))
    assert cash() + basis - realized == D("10000.00")
    for held in Position.objects.all():
        trades = Trade.objects.filter(ticker=held.ticker)
        assert held.quantity == sum(t.quantity if t.side == "buy" else -t.quantity for t in trades)
    assert PortfolioSnapshot.objects.count() == Trade.objects.count() + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("snapshot", ["one book", "every holder (the worker's)"])
def test_a_snapshot_taken_during_a_reset_never_outlives_it(publish, snapshot):
    """The worker's snapshot reads the book, then writes its value: on PostgreSQL, one that read the book before
    a reset and wrote after it would put the old portfolio's value into the new history. It takes the profile
    row first too, so it comes wholly before the reset (and is deleted by it) or wholly after."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (pytest --postgres)")
    publish({"AAPL": 100})
    stale: list[list[Decimal]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def snapshotter() -> None:
        try:
            while not done.is_set():
                if snapshot == "one book":
                    services.record_snapshot(user_id=DEFAULT_USER)
                else:
                    services.record_snapshots()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=snapshotter) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(40):
            # A holder: the worker snapshots it.
            services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity="1")
            Profile.objects.filter(pk="default").update(cash_balance=D("5000.00"))  # a book worth $5,100
            services.reset(user_id=DEFAULT_USER)
            after = PortfolioSnapshot.objects.exclude(total_value=D("10000.00"))
            if after.exists():
                stale.append(list(after.values_list("total_value", flat=True)))
    finally:
        done.set()
        for thread in threads:
            thread.join(30)
        connection.close()
    assert not errors, errors
    assert not stale, stale


@pytest.mark.parametrize("text, expected", [("10", D("10")), (" 2.5 ", D("2.5")), (".5", D("0.5")), ("3.", D("3"))])
def test_a_typed_quantity_in_plain_decimals_fills(publish, text, expected):
    publish({"AAPL": 100})
    fill = services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=text)
    assert fill.quantity == expected


class TestIntervalSnapshots:
    def test_every_book_holding_a_position_gets_one_at_live_prices_and_cash_only_books_none(self, publish):
        publish({"AAPL": 100, "MSFT": 50})
        for book in ("a", "b", "cash-only"):
            services.seed(user_id=book)
        services.execute_trade(user_id="a", ticker="AAPL", side="buy", quantity="3")
        services.execute_trade(user_id="b", ticker="MSFT", side="buy", quantity="2")
        services.execute_trade(user_id="b", ticker="AAPL", side="buy", quantity="1")
        publish({"AAPL": 110, "MSFT": 40})
        before = PortfolioSnapshot.objects.count()
        assert services.record_snapshots() == 2
        latest = {s.user_id: s.total_value for s in PortfolioSnapshot.objects.order_by("recorded_at")}
        assert latest["a"] == D("10030.00")  # 10,000 - 300 + 3 x 110
        assert latest["b"] == D("9990.00")  # 10,000 - 100 - 100 + 2 x 40 + 110
        assert PortfolioSnapshot.objects.count() == before + 2
        assert not PortfolioSnapshot.objects.filter(user_id="cash-only").exclude(total_value=D("10000.00")).exists()

    def test_a_thousand_books_in_a_few_queries(self, publish, django_assert_max_num_queries):
        publish({"AAPL": 100})
        Profile.objects.bulk_create([Profile(id=f"u{n}") for n in range(1000)])
        Position.objects.bulk_create([Position(user_id=f"u{n}", ticker="AAPL", quantity=1, avg_cost=100,
                                               cost_basis=100) for n in range(1000)])
        with django_assert_max_num_queries(14):
            assert services.record_snapshots() == 1000
