"""Reading a chart's bars from a month of minute bars: grouped by the database (market.bars.read) against the
Python roll-up of a time window that came before it (every minute row read into Python), in one run.

    .venv/bin/python bench/bars_read.py [--postgres] [--runs 9]

One ticker with PRICE_BARS_DAYS (30) days of minute bars, every minute (the simulator's 24-hour day: the most
rows a ticker can have). For each timeframe, the chart's ask (1,440 bars) and the API's default (300): the
median time of `selectors.bars` now, and of the old path, which is kept here only to be measured.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import django_on_a_throwaway_database


def old_bars(ticker: str, timeframe: str, limit: int):
    """What market.selectors.bars did before (issue 23's first cut): a time window of minute rows, rolled up here."""
    from market import bars as bar_rules
    from market.models import PriceBar

    start = bar_rules.since(timeframe, limit, time.time())
    rows = (PriceBar.objects.filter(ticker=ticker, minute__gte=datetime.fromtimestamp(start, UTC))
            .order_by("minute").values_list("minute", "open", "high", "low", "close"))
    minutes = [bar_rules.Bar(int(m.timestamp()), o, h, lo, c) for m, o, h, lo, c in rows]
    return bar_rules.roll_up(minutes, timeframe)[-limit:]


def median_ms(fn, runs: int) -> float:
    fn()  # warm: the statement cache, the pages
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    django_on_a_throwaway_database("bars-read", postgres=args.postgres)
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from market import bars, selectors

    now = int(time.time()) // 60 * 60
    days = settings.PRICE_BARS_DAYS
    minutes = [("AAPL", bars.Bar(now - 60 * i, 100 + i % 7, 101 + i % 7, 99 + i % 7, 100.5 + i % 7))
               for i in range(days * 1440, 0, -1)]
    bars.save(minutes)
    if args.postgres:  # what autovacuum does to a month-old table: the planner knows its size
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE price_bars")
    print(f"{len(minutes):,} minute bars of AAPL ({days} days), {'PostgreSQL' if args.postgres else 'SQLite'}")
    print(f"{'timeframe':>9} {'limit':>6} {'bars':>6} {'database groups':>16} {'Python roll-up':>15} {'ratio':>6}")
    for timeframe in bars.TIMEFRAMES:
        for limit in (1440, 300):
            # Each lambda is timed before the loop moves on; the defaults bind this round's values all the same.
            now_ms = median_ms(lambda t=timeframe, n=limit: selectors.bars("AAPL", t, n), args.runs)
            old_ms = median_ms(lambda t=timeframe, n=limit: old_bars("AAPL", t, n), args.runs)
            count = len(selectors.bars("AAPL", timeframe, limit))
            print(f"{timeframe:>9} {limit:>6} {count:>6} {now_ms:>13.1f} ms {old_ms:>12.1f} ms "
                  f"{old_ms / now_ms:>5.1f}x")


if __name__ == "__main__":
    main()
