"""Web-server CPU per market order: a figure the machine's other load hardly moves, unlike latency.

    .venv/bin/python bench/order_cpu.py --orders 2000 --rounds 3 [--root OTHER_CHECKOUT ...]

Each round starts a stack (worker + uvicorn) from each checkout given (default: this one), sends
alternating buy 1 / sell 1 AAPL orders on one keep-alive connection, and reads the web process's CPU time
(user + system, all threads) before and after. Checkouts are interleaved round by round, so a comparison
between two versions is made under the same load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import load_stack  # noqa: E402

ORDERS = [{"ticker": "AAPL", "quantity": 1, "side": "buy"}, {"ticker": "AAPL", "quantity": 1, "side": "sell"}]


def measure(stack_class, orders: int) -> tuple[float, float]:
    """(CPU ms per order in the web process, wall ms per order)."""
    with stack_class() as stack:
        web = psutil.Process(stack.web_pid)
        with httpx.Client(base_url=stack.base_url, timeout=10) as client:
            for i in range(200):  # warm-up
                assert client.post("/api/portfolio/trade", json=ORDERS[i % 2]).status_code == 201
            cpu0, wall0 = sum(web.cpu_times()[:2]), time.perf_counter()
            for i in range(orders):
                assert client.post("/api/portfolio/trade", json=ORDERS[i % 2]).status_code == 201
            cpu1, wall1 = sum(web.cpu_times()[:2]), time.perf_counter()
    return (cpu1 - cpu0) * 1000 / orders, (wall1 - wall0) * 1000 / orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--root", type=Path, action="append", help="a checkout to measure (repeat to compare)")
    args = parser.parse_args()
    roots = [r.resolve() for r in (args.root or [Path(__file__).resolve().parent.parent])]
    stacks = {root: load_stack(root) for root in roots}
    results: dict[Path, list[tuple[float, float]]] = {root: [] for root in roots}
    for round_no in range(1, args.rounds + 1):
        for root in roots:
            cpu, wall = measure(stacks[root], args.orders)
            results[root].append((cpu, wall))
            print(f"round {round_no} {root}: web CPU {cpu:.3f} ms/order, wall {wall:.3f} ms/order", flush=True)
    for root in roots:
        cpus = [c for c, _ in results[root]]
        walls = [w for _, w in results[root]]
        print(f"{root}: median web CPU {statistics.median(cpus):.3f} ms/order, "
              f"median wall {statistics.median(walls):.3f} ms/order")


if __name__ == "__main__":
    sys.exit(main())
