"""What an order costs above the steps under it, measured side by side in one run.

    .venv/bin/python bench/floor.py [--rounds 10] [--batch 300]

Two servers on the same uvicorn (uvloop + httptools) as `trades.py`: a bare ASGI app that answers every request as
an order is answered (bench/floor_asgi.py), and the app with the price worker and bench/floor_urls.py's extra
routes, each of which does one more of an order's steps (Django's request cycle and middleware; reading the order;
the writer thread; a transaction). The last route is the real order. The same client as `trades.py` (httpx, one
keep-alive connection per server) sends alternating buy 1 / sell 1 AAPL bodies to each route in turn, `--batch`
requests at a time, round after round in alternating order, so the machine's changing load falls on all alike.
For each: latency p50 / p99, the server's CPU per request (user + system, all threads), and what the step adds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import BenchStack
from trades import ORDERS, percentile, web_cpu

# (server, route, step): each step does one thing more than the one above it; the last is the order itself.
STEPS = [
    ("bare", "/api/portfolio/trade", "uvicorn and a bare ASGI app: the same answer, no Django"),
    ("app", "/api/floor/django", "Django's request cycle, all middleware, a fixed 201 (bench/floor_urls.py)"),
    ("app", "/api/floor/read", "+ read and validate the order (JSON, TradeIn)"),
    ("app", "/api/floor/hop", "+ an empty call on the writer thread"),
    ("app", "/api/floor/transaction", "+ a one-statement transaction there (BEGIN IMMEDIATE, UPDATE, COMMIT)"),
    ("app", "/api/portfolio/trade", "the market order"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=300, help="requests to one route before the next one's turn")
    args = parser.parse_args()

    latencies: list[list[float]] = [[] for _ in STEPS]
    cpu = [0.0 for _ in STEPS]
    with (
        BenchStack(extra_env={"DJANGO_SETTINGS_MODULE": "bench.floor_settings"}) as app,
        BenchStack("bare-asgi", worker=False) as bare,
        httpx.Client(base_url=app.base_url, timeout=10) as app_client,
        httpx.Client(base_url=bare.base_url, timeout=10) as bare_client,
    ):
        servers = {"app": (app, app_client), "bare": (bare, bare_client)}

        def send(step: int, count: int) -> None:
            server, route, _ = STEPS[step]
            stack, client = servers[server]
            before = web_cpu(stack)
            for i in range(count):
                start = time.perf_counter()
                response = client.post(route, json=ORDERS[i % 2])
                latencies[step].append(time.perf_counter() - start)
                if response.status_code != 201:
                    raise SystemExit(f"{route} answered {response.status_code}: {response.text}")
            cpu[step] += web_cpu(stack) - before

        for step in range(len(STEPS)):  # warm-up, not counted
            send(step, 200)
            latencies[step].clear()
            cpu[step] = 0.0
        order = list(range(len(STEPS)))
        for n in range(args.rounds):
            for step in order if n % 2 == 0 else order[::-1]:
                send(step, args.batch)

    print(f"{'server':6s} {'route':24s} {'p50 ms':>7s} {'p99 ms':>7s} {'CPU ms':>7s} {'+CPU':>7s}  step")
    previous = None
    for (server, route, step), lat, used in zip(STEPS, latencies, cpu, strict=True):
        per_request = used * 1000 / len(lat)
        added = f"{per_request - previous:+.3f}" if previous is not None else ""
        print(f"{server:6s} {route:24s} {percentile(lat, 50) * 1000:7.3f} {percentile(lat, 99) * 1000:7.3f} "
              f"{per_request:7.3f} {added:>7s}  {step}")
        previous = per_request


if __name__ == "__main__":
    main()
