"""Instructions per market order in the web process, counted by valgrind: a figure the machine's load hardly moves.

    .venv/bin/python bench/order_instructions.py [--orders 300] [--root OTHER_CHECKOUT ...]

Needs valgrind (`apt-get install -y valgrind`). On these shared machines the CPU time of the same code moves by
±7 % from one run to the next, so a change worth 3 % cannot be seen in `order_cpu.py`; the number of instructions
the process executes moved by about ±1 % (the price worker's ticks, which make the next order read the store
again, are slowed to one per 2 s here so that fewer of them land in a run).

For each checkout (default: this one) the ASGI application is driven in-process on uvloop, with no server and
no socket: alternating buy 1 / sell 1 AAPL orders as `bench/trades.py` sends them, through the whole Django
request cycle, the middleware, the view and the writer thread. It runs twice under callgrind, with a short and
a long series of orders after the same start-up and warm-up; the difference in instructions, divided by the
difference in orders, is what one order costs. Both threads are counted (event loop and writer); uvicorn, the
kernel and the price worker (a process of its own, not traced) are not. Instructions are not time (a cache miss
or a system call costs more than its count), so this compares versions of the code; `trades.py` measures time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ORDERS = [b'{"ticker":"AAPL","quantity":1,"side":"buy"}', b'{"ticker":"AAPL","quantity":1,"side":"sell"}']
WARM_UP = 200


def drive(orders: int) -> None:
    """Run inside valgrind: start-up, a warm-up, then `orders` orders, all in this process."""
    root = Path.cwd()
    sys.path.insert(0, str(root))
    data = Path(tempfile.mkdtemp(prefix="finally-instructions-"))
    os.environ.update(
        DATABASE_URL=f"sqlite:///{data}/finally.db", PRICE_STORE_PATH=str(data / "prices.db"),
        DJANGO_SECRET_KEY="bench", LOG_LEVEL="ERROR", MASSIVE_API_KEY="", LLM_MOCK="true",
        # Fewer ticks and no timed snapshots: each tick makes the next order read the price store again, so their
        # number per order would depend on how fast the run goes. Prices stay fresh for 6 s at one tick per 2 s.
        MARKET_TICK_SECONDS="2", PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS="86400", SIMULATOR_SEED="10",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], check=True, capture_output=True)
    worker = subprocess.Popen([sys.executable, "manage.py", "price_worker"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        import uvloop

        from finally_site.asgi import application
        from market.store import get_store

        async def order(i: int) -> int:
            body = ORDERS[i % 2]
            status, received = [], False

            async def receive():
                nonlocal received
                if not received:
                    received = True
                    return {"type": "http.request", "body": body, "more_body": False}
                await asyncio.Event().wait()  # no disconnect: Django cancels this once the response is sent

            async def send(message):
                if message["type"] == "http.response.start":
                    status.append(message["status"])

            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                "scheme": "http", "path": "/api/portfolio/trade", "raw_path": b"/api/portfolio/trade",
                "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
                "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), (b"accept-encoding", b"gzip, deflate"),
                            (b"accept", b"*/*"), (b"user-agent", b"python-httpx/0.28.1")],
            }
            await application(scope, receive, send)
            return status[0]

        async def main() -> None:
            deadline = time.monotonic() + 120
            while not get_store().status().is_fresh():  # the worker's first tick, without a refused order
                if time.monotonic() > deadline:
                    raise SystemExit("the price worker published no prices")
                await asyncio.sleep(0.1)
            for i in range(WARM_UP + orders):
                if (status := await order(i)) != 201:
                    raise SystemExit(f"order {i} was answered {status}")

        uvloop.run(main())
    finally:
        worker.terminate()
        worker.wait()
        shutil.rmtree(data, ignore_errors=True)


def instructions(root: Path, orders: int) -> int:
    # Each checkout on its own virtualenv's packages, when it has one.
    python = root / ".venv" / "bin" / "python"
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=no",
         str(python if python.exists() else sys.executable), str(Path(__file__).resolve()), "--drive", str(orders)],
        cwd=root, capture_output=True, text=True, check=False,
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"{root}: the driven run failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300, help="orders in the long series beyond the short one (even)")
    parser.add_argument("--root", type=Path, action="append", help="a checkout to measure (repeat to compare)")
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive is not None:
        drive(args.drive)
        return
    if args.orders <= 0 or args.orders % 2:
        parser.error("--orders must be a positive even number (buys and sells in pairs)")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    short = 100
    for root in [r.resolve() for r in (args.root or [Path(__file__).resolve().parent.parent])]:
        few, many = instructions(root, short), instructions(root, short + args.orders)
        print(f"{root}: {(many - few) / args.orders / 1000:,.0f} k instructions per order", flush=True)


if __name__ == "__main__":
    main()
