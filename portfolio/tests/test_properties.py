"""Property-based: any sequence of orders keeps cash and quantities non-negative and the books exact."""

import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import DEFAULT_USER
from portfolio import selectors, services
from portfolio.exceptions import TradeRejected
from portfolio.models import STARTING_CASH, Position, Profile, Trade

pytestmark = pytest.mark.django_db

TICKERS = ["AAPL", "MSFT", "PENNY"]

orders = st.lists(
    st.tuples(
        st.sampled_from(TICKERS),
        st.sampled_from(["buy", "sell"]),
        st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4),
        st.decimals(min_value=Decimal("0.50"), max_value=Decimal("2000"), places=2),
    ),
    max_size=40,
)


def assert_books_balance():
    cash = Profile.objects.get(pk="default").cash_balance
    positions = list(Position.objects.all())
    basis = sum((p.cost_basis for p in positions), Decimal(0))
    realized = sum((t.realized_pnl for t in Trade.objects.filter(side="sell")), Decimal(0))
    assert cash >= 0
    assert all(p.quantity > 0 and p.cost_basis >= 0 for p in positions)
    # Every cent that left cash is in a position's cost basis or was realized on a sell.
    assert cash + basis - realized == STARTING_CASH
    assert cash == cash.quantize(Decimal("0.01"))
    assert selectors.portfolio(user_id=DEFAULT_USER).realized_pnl == realized


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=orders)
def test_random_order_sequences_balance(publish, sequence):
    services.reset(user_id=DEFAULT_USER)
    for ticker, side, quantity, price in sequence:
        publish({t: float(price) for t in TICKERS})
        try:
            services.execute_trade(user_id=DEFAULT_USER, ticker=ticker, side=side, quantity=quantity)
        except TradeRejected:
            pass
        assert_books_balance()


def test_ten_thousand_trades_leave_no_residue(publish):
    rng = random.Random(2026)
    prices = {"AAPL": 190.0, "MSFT": 420.0, "PENNY": 3.0}
    executed = 0
    for _ in range(10_000):
        for ticker in prices:
            prices[ticker] = max(0.5, prices[ticker] * (1 + rng.uniform(-0.01, 0.01)))
        publish(prices)
        ticker = rng.choice(list(prices))
        side = rng.choice(["buy", "sell"])
        quantity = Decimal(rng.randint(1, 50_000)) / 10_000  # 0.0001 to 5 shares
        try:
            services.execute_trade(user_id=DEFAULT_USER, ticker=ticker, side=side, quantity=quantity)
            executed += 1
        except TradeRejected:
            pass
    assert executed > 5_000
    assert_books_balance()
    # Selling everything at the last prices lands cash exactly on start + realized P&L.
    for position in list(Position.objects.all()):
        services.execute_trade(user_id=DEFAULT_USER, ticker=position.ticker, side="sell", quantity=position.quantity)
    cash = Profile.objects.get(pk="default").cash_balance
    assert Position.objects.count() == 0
    assert cash == STARTING_CASH + selectors.portfolio(user_id=DEFAULT_USER).realized_pnl


def house_value(prices: dict[str, Decimal]) -> Decimal:
    """Cash plus what is held at the (constant) price, exactly: what trading must never increase."""
    cash = Profile.objects.get(pk="default").cash_balance
    return cash + sum((p.quantity * prices[p.ticker] for p in Position.objects.all()), Decimal(0))


constant_price_orders = st.lists(
    st.tuples(
        st.sampled_from(TICKERS),
        st.sampled_from(["buy", "sell"]),
        st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("3"), places=4),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sequence=constant_price_orders,
    price=st.decimals(min_value=Decimal("0.50"), max_value=Decimal("999.99"), places=2),
)
def test_trading_at_a_constant_price_never_creates_money(publish, sequence, price):
    services.reset(user_id=DEFAULT_USER)
    prices = {t: price for t in TICKERS}
    publish({t: float(price) for t in TICKERS})
    before = house_value(prices)
    for ticker, side, quantity in sequence:
        try:
            services.execute_trade(user_id=DEFAULT_USER, ticker=ticker, side=side, quantity=quantity)
        except TradeRejected:
            continue
        after = house_value(prices)
        assert after <= before, f"{side} {quantity} {ticker} at {price} made {after - before}"
        before = after
    assert_books_balance()


@pytest.mark.parametrize("price", [174.99, 60.00, 0.55, 999.99])
def test_tiny_trade_loop_does_not_mint_cents(publish, price):
    """The loop that took cash from 10,000.00 to 10,000.93 in 300 trades while both sides rounded half-up."""
    publish({"GOOGL": price})
    for _ in range(100):
        for side, quantity in (("buy", "0.0002"), ("sell", "0.0001"), ("sell", "0.0001")):
            try:
                services.execute_trade(user_id=DEFAULT_USER, ticker="GOOGL", side=side, quantity=Decimal(quantity))
            except TradeRejected:
                pass
    assert house_value({"GOOGL": Decimal(str(price))}) <= STARTING_CASH
    assert_books_balance()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    quantity=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("40"), places=4),
    price=st.decimals(min_value=Decimal("0.50"), max_value=Decimal("250"), places=2),
)
def test_a_round_trip_never_makes_money(publish, quantity, price):
    services.reset(user_id=DEFAULT_USER)
    publish({"AAPL": float(price)})
    try:
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=quantity)
    except TradeRejected:
        return
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="sell", quantity=quantity)
    assert Profile.objects.get(pk="default").cash_balance <= STARTING_CASH
