"""Matching cost per tick in the price worker (portfolio.orders.match_tick) against the resting orders it carries.

    .venv/bin/python bench/order_matching.py [--orders 0 1000 10000 100000] [--ticks 300] [--postgres]

For each size: a migrated throwaway database (SQLite in a temp dir, or a throwaway PostgreSQL) with that many
resting orders spread over the ten default tickers and 1,000 books: limit and stop orders, buys and sells, at
prices 2-50 % away from the market (as a book of resting orders mostly is). Then `--ticks` ticks of a random walk
(0.05 % a tick, as the simulator's) are published and matched, each timed: the expiry sweep, the live-price read,
the index reads for the orders the tick reaches, and the fills of those it reaches. Prints p50 / p99 / max per
tick and how many orders filled. The target (issue 22) is 5 ms per tick at 100,000 resting orders.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKERS = {"AAPL": 190.0, "GOOGL": 175.0, "MSFT": 420.0, "AMZN": 185.0, "TSLA": 250.0,
           "NVDA": 120.0, "META": 500.0, "JPM": 200.0, "V": 280.0, "NFLX": 650.0}
BOOKS = 1_000

sys.path.insert(0, str(ROOT))
from bench.stack import django_on_a_throwaway_database  # noqa: E402


def fill_book(count: int, rng: random.Random) -> None:
    """`count` resting orders over 1,000 books, written straight to the tables (the per-book cap is the
    services' rule; this measures the matcher, not placing)."""
    from decimal import Decimal

    from django.db import connection, transaction
    from django.utils import timezone

    from core.db import new_id
    from portfolio.models import Position, Profile

    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic():
        Profile.objects.bulk_create(
            [Profile(id=f"book-{n}", cash_balance=Decimal("1000000000")) for n in range(BOOKS)], ignore_conflicts=True
        )
        Position.objects.bulk_create([
            Position(user_id=f"book-{n}", ticker=t, quantity=Decimal(100000), avg_cost=Decimal(p),
                     cost_basis=Decimal(p * 100000).quantize(Decimal("0.01")))
            for n in range(BOOKS) for t, p in TICKERS.items()
        ], ignore_conflicts=True)
        rows = []
        for i in range(count):
            ticker, price = rng.choice(list(TICKERS.items()))
            side = rng.choice(("buy", "sell"))
            kind = rng.choice(("limit", "stop"))
            away = rng.uniform(0.02, 0.5)
            # a buy limit and a sell stop wait below the market; a sell limit and a buy stop above it
            below = (side == "buy") == (kind == "limit")
            level = round(price * (1 - away if below else 1 + away), 2)
            reserved = round(level * 1.05, 2) if side == "buy" else 0
            rows.append((new_id(), f"book-{i % BOOKS}", ticker, side, 1, kind, "gtc",
                         level if kind == "limit" else None, level if kind == "stop" else None, "new", now, 0,
                         reserved, level, below, ""))
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO orders (id, user_id, ticker, side, qty, type, time_in_force, limit_price, stop_price,"
                " status, created_at, filled_qty, reserved_cash, watch_price, acts_at_or_below, reason)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def run(count: int, ticks: int, seed: int, gap: float) -> dict:
    from django.db import connection

    from market.store import get_store
    from portfolio import orders
    from portfolio.models import Order

    rng = random.Random(seed)
    Order.objects.all().delete()
    fill_book(count, rng)
    store = get_store()
    prices = dict(TICKERS)
    times, filled = [], 0
    for _ in range(ticks):
        prices = {t: round(p * (1 + rng.gauss(0, 0.0005)), 2) for t, p in prices.items()}
        store.publish(prices=prices, keep=set(prices), produced_at=time.time(), source="simulator", interval=0.5)
        began = time.perf_counter()
        filled += orders.match_tick(set(prices))
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    # Then one gap: every price falls by `gap` at once (a market-wide drop), and the buy limits and sell stops it
    # runs through fill in that one tick: the burst a matcher must also survive.
    prices = {t: round(p * (1 - gap), 2) for t, p in prices.items()}
    store.publish(prices=prices, keep=set(prices), produced_at=time.time(), source="simulator", interval=0.5)
    began = time.perf_counter()
    gap_filled = orders.match_tick(set(prices))
    gap_ms = (time.perf_counter() - began) * 1000
    return {
        "orders": count, "vendor": connection.vendor, "p50": statistics.median(times),
        "p99": times[int(len(times) * 0.99) - 1], "max": times[-1], "filled": filled,
        "gap_filled": gap_filled, "gap_ms": gap_ms,
        "resting": Order.objects.filter(status="new").count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, nargs="+", default=[0, 1_000, 10_000, 100_000])
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gap", type=float, default=0.03, help="the last tick's fall, as a fraction (0.03: 3%%)")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL server instead of SQLite")
    args = parser.parse_args()
    django_on_a_throwaway_database("matching", postgres=args.postgres)
    logging.getLogger("portfolio").setLevel(logging.WARNING)  # a line per fill would time the terminal
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"{'resting orders':>15} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'filled':>7}  "
          f"(per tick, {args.ticks} ticks)"
          f"   then a {args.gap:.0%} gap: filled, ms, ms per fill")
    for count in args.orders:
        row = run(count, args.ticks, args.seed, args.gap)
        per_fill = row["gap_ms"] / row["gap_filled"] if row["gap_filled"] else 0
        print(f"{row['orders']:>15,} {row['p50']:>8.2f} {row['p99']:>8.2f} {row['max']:>8.2f} {row['filled']:>7}"
              f"   {row['gap_filled']:>6,} {row['gap_ms']:>9.1f} {per_fill:>6.2f}"
              f"   {row['vendor']}, {row['resting']:,} still resting")


if __name__ == "__main__":
    main()
