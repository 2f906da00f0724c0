"""How many /api/stream/prices clients one web process feeds, and how late.

    .venv/bin/python bench/sse_fanout.py --server uvicorn --clients 100 500 1000
    .venv/bin/python bench/sse_fanout.py --format html --clients 1000     # the page's HTML stream

For each level: open N streams (from 2 client processes), let them settle, then for a measurement window
record, per client and tick, the delay from the tick's timestamp (set by the worker when it produced the
prices) to the moment the client read it; plus the web process's CPU and RSS. 10 tickers at 2 ticks/s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import BenchStack, percentile  # noqa: E402

TS_KEY = b'"timestamp":"'
HTML_TS_KEY = b'data-at="'
PATHS = {"json": "/api/stream/prices", "html": "/stream/prices"}


async def client(host: str, port: int, start_at: float, stop_at: float, lags: list[float], counts: list[int],
                 fmt: str = "json") -> None:
    """A lean HTTP/1.1 reader (raw asyncio streams): client-side parsing must not be what we measure."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {PATHS[fmt]} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    if fmt == "html":
        try:
            await html_ticks(reader, start_at, stop_at, lags, counts)
        finally:
            writer.close()
        return
    received = 0
    last_tick = b""
    buffer = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("stream closed by the server")
            now = time.time()
            buffer += data
            # Each tick's events share one timestamp: count each tick once per client.
            while (at := buffer.find(TS_KEY)) >= 0 and len(buffer) >= at + len(TS_KEY) + 25:
                start = at + len(TS_KEY)
                stamp = buffer[start:start + 24]
                buffer = buffer[start + 24:]
                if stamp == last_tick:
                    continue
                last_tick = stamp
                if start_at <= now <= stop_at:
                    lags.append(now - datetime.fromisoformat(stamp.decode()).timestamp())
                    received += 1
            if len(buffer) > len(TS_KEY) + 25:
                buffer = buffer[-(len(TS_KEY) + 25):]
            if now > stop_at:
                break
    finally:
        writer.close()
    counts.append(received)


async def html_ticks(reader, start_at: float, stop_at: float, lags: list[float], counts: list[int]) -> None:
    """The page's stream: one `tick` event per tick whose <ol data-at="epoch"> is the worker's tick time."""
    received = 0
    buffer = b""
    while True:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("stream closed by the server")
        now = time.time()
        buffer += data
        while (at := buffer.find(HTML_TS_KEY)) >= 0 and (end := buffer.find(b'"', at + len(HTML_TS_KEY))) >= 0:
            stamp = float(buffer[at + len(HTML_TS_KEY):end])
            buffer = buffer[end:]
            if start_at <= now <= stop_at:
                lags.append(now - stamp)
                received += 1
        buffer = buffer[-64:]
        if now > stop_at:
            break
    counts.append(received)


def client_process(host: str, port: int, n: int, start_at: float, stop_at: float, out: mp.Queue,
                   fmt: str = "json") -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main():
        lags: list[float] = []
        counts: list[int] = []
        tasks = []
        for _ in range(n):
            tasks.append(asyncio.create_task(client(host, port, start_at, stop_at, lags, counts, fmt)))
            await asyncio.sleep(0.002)  # ramp up rather than a thundering herd of connects
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = sum(isinstance(r, BaseException) for r in results)
        out.put((lags, counts, errors))

    asyncio.run(main())



def run_level(stack: BenchStack, clients: int, settle: float, window: float, procs: int, fmt: str = "json") -> dict:
    ramp = clients / procs * 0.002 + 1
    start_at = time.time() + ramp + settle
    stop_at = start_at + window
    out: mp.Queue = mp.Queue()
    # Each client process talks to one web process (round robin), as a load balancer would spread them.
    workers = [
        mp.Process(
            target=client_process,
            args=("127.0.0.1", stack.ports[i % len(stack.ports)], clients // procs + (i < clients % procs), start_at,
                  stop_at, out, fmt),
        )
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    webs = [psutil.Process(pid) for pid in stack.web_pids]

    def cpu_total():
        times = [web.cpu_times() for web in webs]
        return sum(t.user + t.system for t in times)

    time.sleep(max(0, start_at - time.time()))
    cpu_before = cpu_total()
    t0 = time.monotonic()
    rss = []
    threads = []
    while time.time() < stop_at:
        rss.append(sum(web.memory_info().rss for web in webs))
        threads.append(sum(web.num_threads() for web in webs))
        time.sleep(0.5)
    cpu_after = cpu_total()
    elapsed = time.monotonic() - t0
    lags, counts, errors = [], [], 0
    for _ in workers:
        part_lags, part_counts, part_errors = out.get(timeout=window + 120)
        lags += part_lags
        counts += part_counts
        errors += part_errors
    for w in workers:
        w.join(timeout=30)
    cpu = (cpu_after - cpu_before) / elapsed * 100
    expected_ticks = window * 2  # 2 ticks/s
    return {
        "clients": clients,
        "connected": len(counts),
        "errors": errors,
        "ticks_expected": expected_ticks,
        "ticks_min": min(counts) if counts else 0,
        "ticks_mean": statistics.mean(counts) if counts else 0,
        "fed_all": bool(counts) and len(counts) == clients and min(counts) >= expected_ticks * 0.9,
        "p50_ms": percentile(lags, 50) * 1000,
        "p99_ms": percentile(lags, 99) * 1000,
        "max_ms": max(lags) * 1000 if lags else float("nan"),
        "cpu_percent": cpu,
        # Web-process CPU per client per tick delivered.
        "cpu_us_per_client_tick": cpu / 100 * window / max(1, sum(counts)) * 1e6,
        "rss_mb": max(rss) / 2**20,
        "threads": max(threads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=["uvicorn", "uvicorn-h11", "daphne"], default="uvicorn")
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--webs", type=int, default=1, help="web processes (client processes spread over them)")
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--format", choices=sorted(PATHS), default="json",
                        help="json: /api/stream/prices; html: the page's /stream/prices")
    args = parser.parse_args()

    topology = dict(webs=args.webs, store=args.store, database=args.database)
    print(f"server={args.server} format={args.format} {topology} window={args.window}s settle={args.settle}s "
          "(10 tickers, 2 ticks/s)")
    print("clients | connected | errors | ticks min/mean (of expected) | lag p50 / p99 / max ms | web CPU % (all webs) "
          "| µs CPU per client-tick | RSS MB | threads")
    for level in args.clients:
        # A fresh server per level, so memory and threads belong to that level alone.
        with BenchStack(server=args.server, **topology) as stack:
            r = run_level(stack, level, args.settle, args.window, args.client_procs, args.format)
        print(
            f"{r['clients']:7d} | {r['connected']:9d} | {r['errors']:6d} | "
            f"{r['ticks_min']:3d}/{r['ticks_mean']:5.1f} (of {r['ticks_expected']:.0f}) | "
            f"{r['p50_ms']:6.1f} / {r['p99_ms']:6.1f} / {r['max_ms']:6.1f} | {r['cpu_percent']:8.1f} | "
            f"{r['cpu_us_per_client_tick']:6.1f} | "
            f"{r['rss_mb']:6.1f} | {r['threads']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
