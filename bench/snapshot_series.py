"""`snapshot_series` (GET /api/portfolio/history, the P&L chart) after a year of snapshots.

    .venv/bin/python bench/snapshot_series.py [--rows 525600] [--runs 7] [--root OTHER_CHECKOUT]

Builds a migrated SQLite database in a temp dir with one user's snapshots, one a minute for a year (525,600
rows, as the worker's periodic snapshot writes them), then times the series the chart asks for (the whole
year, 1,000 points) and a one-day window, each `--runs` times; prints the median and the best. `--root` runs
another checkout's code (its migrations and its `portfolio.selectors`) against the same kind of database, for
a before/after on the same machine: `git worktree add ../old <commit>`, then `--root ../old`.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import django_on_a_throwaway_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=525_600, help="snapshots, one a minute, ending now")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL server instead of SQLite")
    args = parser.parse_args()

    django_on_a_throwaway_database("snapshots", root=args.root.resolve(), postgres=args.postgres)
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from core.db import new_id
    from portfolio import selectors

    call_command("migrate", verbosity=0)
    now = timezone.now()
    start = now - timedelta(minutes=args.rows - 1)
    started = time.perf_counter()
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO portfolio_snapshots (id, user_id, total_value, recorded_at) VALUES (%s, %s, %s, %s)",
            [(new_id(), "default", 10_000 + (i % 997), adapt(start + timedelta(minutes=i))) for i in range(args.rows)],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE portfolio_snapshots")
    print(f"{args.root.resolve().name} on {connection.vendor}: {args.rows:,} snapshots written in "
          f"{time.perf_counter() - started:.1f} s ({connection.settings_dict['NAME']})")

    cases = {
        "the year, 1,000 points": {},
        "the last day, 1,000 points": {"since": now - timedelta(days=1)},
    }
    # A checkout with accounts (issue 21) asks whose series; an older one has the one user.
    if "user_id" in inspect.signature(selectors.snapshot_series).parameters:
        cases = {name: {"user_id": "default", **kwargs} for name, kwargs in cases.items()}
    for name, kwargs in cases.items():
        times, cpu, points = [], [], 0
        for _ in range(args.runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            points = len(selectors.snapshot_series(**kwargs))
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        # On SQLite the query runs in this process, so its CPU time is the steadier figure on a shared machine.
        print(f"  {name:28} {points:5d} points  wall median {statistics.median(times) * 1000:7.1f} ms"
              f" best {min(times) * 1000:7.1f} ms  cpu median {statistics.median(cpu) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
