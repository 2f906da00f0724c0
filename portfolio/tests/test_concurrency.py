"""Concurrent orders against a real running server (real HTTP, real SQLite): nothing lost, nothing overdrawn."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

pytestmark = pytest.mark.e2e


def fire(base_url: str, orders: list[dict]) -> list[httpx.Response]:
    """Send every order at once from its own thread, all released by one barrier."""
    barrier = threading.Barrier(len(orders))

    def send(order):
        with httpx.Client(base_url=base_url, timeout=30) as client:
            barrier.wait()
            return client.post("/api/portfolio/trade", json=order)

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        return list(pool.map(send, orders))


def db_rows(stack, sql: str) -> list[tuple]:
    return stack.query(sql)  # SQLite, or PostgreSQL under `pytest --postgres`


def test_simultaneous_buys_never_overdraw(live_stack):
    # 40 × 3 NVDA at about $800 is about $96,000: far more than the $10,000 of cash.
    responses = fire(live_stack.base_url, [{"ticker": "NVDA", "quantity": 3, "side": "buy"}] * 40)
    assert {r.status_code for r in responses} <= {201, 400}
    accepted = [r.json() for r in responses if r.status_code == 201]
    rejected = [r.json() for r in responses if r.status_code == 400]
    assert accepted and rejected
    assert all("Not enough cash" in r["error"] for r in rejected)

    portfolio = httpx.get(live_stack.base_url + "/api/portfolio").json()
    cash = Decimal(str(portfolio["cash_balance"]))
    spent = sum(Decimal(str(t["notional"])) for t in accepted)
    assert cash >= 0
    assert cash + spent == Decimal("10000.00")
    (trades,) = db_rows(live_stack, "SELECT COUNT(*) FROM trades")[0]
    assert trades == len(accepted)
    assert portfolio["positions"][0]["quantity"] == 3 * len(accepted)


def test_mixed_buys_and_sells_keep_quantity_consistent(live_stack):
    setup = httpx.post(
        live_stack.base_url + "/api/portfolio/trade", json={"ticker": "AAPL", "quantity": 10, "side": "buy"}
    )
    assert setup.status_code == 201
    rng = random.Random(4)
    orders = [
        {"ticker": "AAPL", "quantity": rng.choice([1, 2, 3]), "side": rng.choice(["buy", "sell"])} for _ in range(40)
    ]
    responses = fire(live_stack.base_url, orders)
    assert {r.status_code for r in responses} <= {201, 400}

    accepted = [o for o, r in zip(orders, responses, strict=True) if r.status_code == 201]
    expected = 10 + sum(o["quantity"] if o["side"] == "buy" else -o["quantity"] for o in accepted)
    log = db_rows(
        live_stack,
        "SELECT side, quantity FROM trades WHERE ticker = 'AAPL'",
    )
    from_log = sum(Decimal(str(q)) * (1 if side == "buy" else -1) for side, q in log)
    assert len(log) == len(accepted) + 1
    held = db_rows(live_stack, "SELECT quantity FROM positions WHERE ticker = 'AAPL'")
    held_quantity = Decimal(str(held[0][0])) if held else Decimal(0)
    assert held_quantity == from_log == expected
    assert held_quantity >= 0

    cash = Decimal(str(db_rows(live_stack, "SELECT cash_balance FROM users_profile")[0][0]))
    basis = Decimal(str(db_rows(live_stack, "SELECT cost_basis FROM positions")[0][0])) if held else Decimal(0)
    sells = db_rows(live_stack, "SELECT realized_pnl FROM trades WHERE side = 'sell'")
    realized = sum(Decimal(str(r[0])) for r in sells)
    assert (cash + basis - realized).quantize(Decimal("0.01")) == Decimal("10000.00")


def test_portfolio_reads_never_see_half_a_trade(stack_factory):
    """At a constant $100.00, buying or selling whole shares never changes total value: a read that saw the cash
    after a trade and the positions before it (or the other way) would show $9,900 or $10,100."""
    import time

    from market.sqlite_store import SQLitePriceStore

    stack = stack_factory()
    stack.start_web()
    store = SQLitePriceStore(stack.data_dir / "prices.db")
    stop = threading.Event()

    def price_feed():  # the test is the price worker: the same price, always fresh
        while not stop.is_set():
            store.publish(prices={"AAPL": 100.0}, keep={"AAPL"}, produced_at=time.time(), source="test", interval=0.5)
            stop.wait(0.2)

    def trader():
        with httpx.Client(base_url=stack.base_url, timeout=30) as client:
            side = "buy"
            while not stop.is_set():
                trade = client.post("/api/portfolio/trade", json={"ticker": "AAPL", "quantity": 5, "side": side})
                if trade.status_code == 201:
                    side = "sell" if side == "buy" else "buy"

    feed = threading.Thread(target=price_feed)
    feed.start()
    try:
        time.sleep(0.3)
        traders = [threading.Thread(target=trader) for _ in range(2)]
        for thread in traders:
            thread.start()
        totals = set()
        with httpx.Client(base_url=stack.base_url, timeout=30) as client:
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                totals.add(client.get("/api/portfolio").json()["total_value"])
    finally:
        stop.set()
        feed.join()
        for thread in traders:
            thread.join()
    trades = db_rows(stack, "SELECT COUNT(*) FROM trades")[0][0]
    assert trades > 50
    assert totals == {10000.0}
    snapshots = {row[0] for row in db_rows(stack, "SELECT DISTINCT total_value FROM portfolio_snapshots")}
    assert snapshots == {10000}
