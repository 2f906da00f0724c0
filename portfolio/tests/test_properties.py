"""Property-based: any sequence of orders keeps cash and quantities non-negative and the books exact."""

import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    assert selectors.realized_pnl() == realized


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=orders)
def test_random_order_sequences_balance(publish, sequence):
    services.reset()
    for ticker, side, quantity, price in sequence:
        publish({t: float(price) for t in TICKERS})
        try:
            services.execute_trade(ticker=ticker, side=side, quantity=quantity)
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
            services.execute_trade(ticker=ticker, side=side, quantity=quantity)
            executed += 1
        except TradeRejected:
            pass
    assert executed > 5_000
    assert_books_balance()
    # Selling everything at the last prices lands cash exactly on start + realized P&L.
    for position in list(Position.objects.all()):
        services.execute_trade(ticker=position.ticker, side="sell", quantity=position.quantity)
    cash = Profile.objects.get(pk="default").cash_balance
    assert Position.objects.count() == 0
    assert cash == STARTING_CASH + selectors.realized_pnl()
