"""Trade latency and throughput through the JSON API, with the price worker running, then a correctness check.

    .venv/bin/python bench/trades.py --server uvicorn --sequential 2000 --concurrency 8 32 --seconds 10

Sequential: one keep-alive client sends alternating buy/sell orders of 1 AAPL; p50/p99 latency.
Concurrent: C clients (asyncio + aiohttp, in one process) each alternate buy 1 / sell 1 of AAPL for a fixed
time; trades/s. After each phase the database is checked against the accepted responses: the number of
trades, the cash to the cent, and the position's quantity. Each phase also reports the web processes' CPU
time (user + system, all threads) per accepted order. `--client-order-ids` gives every order a fresh
client_order_id, as the trade bar does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import BenchStack, percentile  # noqa: E402

ORDERS = [{"ticker": "AAPL", "quantity": 1, "side": "buy"}, {"ticker": "AAPL", "quantity": 1, "side": "sell"}]
ORDER_IDS = False  # --client-order-ids


def order(i: int) -> dict:
    return {**ORDERS[i % 2], "client_order_id": f"bench-{uuid.uuid4().hex}"} if ORDER_IDS else ORDERS[i % 2]


def web_cpu(stack: BenchStack) -> float:
    """CPU seconds used so far by the stack's web processes (every thread; uvicorn --workers' children too)."""
    processes = [psutil.Process(pid) for pid in stack.web_pids]
    processes += [child for process in processes for child in process.children(recursive=True)]
    return sum(sum(process.cpu_times()[:2]) for process in processes)



def check(stack: BenchStack, accepted: list[dict]) -> str:
    """The database must hold exactly the accepted trades, and cash and shares must follow them to the cent."""
    [(trades,)] = stack.query("SELECT COUNT(*) FROM trades")
    [(cash,)] = stack.query("SELECT cash_balance FROM users_profile")
    rows = stack.query("SELECT quantity FROM positions WHERE ticker = 'AAPL'")
    row = rows[0] if rows else None
    held = Decimal(str(row[0])) if row else Decimal(0)
    expected_cash = Decimal("10000.00")
    expected_held = Decimal(0)
    for t in accepted:
        sign = -1 if t["side"] == "buy" else 1
        expected_cash += sign * Decimal(str(t["notional"]))
        expected_held -= sign * Decimal(str(t["quantity"]))
    cash = Decimal(str(cash)).quantize(Decimal("0.01"))
    problems = []
    if trades != len(accepted):
        problems.append(f"{trades} trades in the log, {len(accepted)} accepted")
    if cash != expected_cash:
        problems.append(f"cash {cash} != {expected_cash}")
    if held != expected_held:
        problems.append(f"AAPL held {held} != {expected_held}")
    if cash < 0:
        problems.append("negative cash")
    return "OK (trades, cash to the cent, shares)" if not problems else "WRONG: " + "; ".join(problems)


def sequential(stack: BenchStack, n: int) -> None:
    latencies, accepted, rejected = [], [], 0
    with httpx.Client(base_url=stack.base_url, timeout=10) as client:
        for i in range(50):  # warm up connections and code paths; excluded from the figures
            r = client.post("/api/portfolio/trade", json=order(i))
            accepted.append(r.json()) if r.status_code == 201 else None
        cpu = web_cpu(stack)
        start = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            r = client.post("/api/portfolio/trade", json=order(i))
            latencies.append(time.perf_counter() - t0)
            if r.status_code == 201:
                accepted.append(r.json())
            else:
                rejected += 1
        elapsed = time.perf_counter() - start
        cpu = web_cpu(stack) - cpu
    print(
        f"sequential  n={n}: p50 {percentile(latencies, 50) * 1000:.2f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.2f} ms, "
        f"{n / elapsed:.0f} trades/s, web CPU {cpu * 1000 / max(1, n - rejected):.3f} ms/order, rejected {rejected}; "
        f"check: {check(stack, accepted)}",
        flush=True,
    )


async def concurrent(stack: BenchStack, clients: int, seconds: float) -> None:
    import aiohttp

    accepted: list[dict] = []
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, base_url: str) -> None:
        nonlocal errors
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            async with session.post(base_url + "/api/portfolio/trade", json=order(i)) as r:
                body = await r.json()
            latencies.append(time.perf_counter() - t0)
            if r.status == 201:
                accepted.append(body)
                i += 1
            else:
                errors += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        cpu = web_cpu(stack)
        start = time.perf_counter()
        # Clients spread evenly over the web processes (as a load balancer would).
        await asyncio.gather(*(client(session, stack.base_urls[n % len(stack.base_urls)]) for n in range(clients)))
        elapsed = time.perf_counter() - start
        cpu = web_cpu(stack) - cpu
    print(
        f"concurrent  c={clients} webs={len(stack.base_urls)} db={stack.database} store={stack.store}: "
        f"{len(accepted) / elapsed:.0f} trades/s over {elapsed:.1f}s, "
        f"latency p50 {percentile(latencies, 50) * 1000:.1f} ms p99 {percentile(latencies, 99) * 1000:.1f} ms, "
        f"web CPU {cpu * 1000 / max(1, len(accepted)):.3f} ms/order, "
        f"rejected {errors}; check: {check(stack, accepted)}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=["uvicorn", "uvicorn-2w", "uvicorn-h11", "daphne"], default="uvicorn")
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[8, 32])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--webs", type=int, default=1, help="web processes (clients spread over them)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--client-order-ids", action="store_true", help="a fresh client_order_id on every order")
    args = parser.parse_args()
    global ORDER_IDS
    ORDER_IDS = args.client_order_ids
    topology = dict(webs=args.webs, database=args.database, store=args.store)
    print(f"server={args.server} {topology}, price worker running (simulator, 10 tickers, 2 ticks/s)"
          + (", a client_order_id on every order" if ORDER_IDS else ""))
    if args.sequential:
        with BenchStack(server=args.server, **topology) as stack:
            sequential(stack, args.sequential)
    for clients in args.concurrency:
        with BenchStack(server=args.server, **topology) as stack:
            asyncio.run(concurrent(stack, clients, args.seconds))


if __name__ == "__main__":
    main()
