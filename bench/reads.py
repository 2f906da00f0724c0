"""Reads: the API's GETs and the panels a trade refreshes, one after another and with 16 connections, A/B.

    .venv/bin/python bench/reads.py --root ../before --root . [--requests 2000] [--seconds 5] [--rounds 2]

For each checkout (`--root`, in turn, round after round in alternating order so the machine's changing load falls on
all alike): a throwaway FinAlly (bench/stack.py of that checkout, served with bench/floor_settings.py so Django's
bare request cycle, /api/floor/django, is there to compare with), one market order so the book has a position, then
every route below:

- sequential: one keep-alive connection, `--requests` GETs: latency p50 / p99 and the web process's CPU per read
  (user + system, every thread);
- 16 connections for `--seconds`: reads per second and p50 / p99.

Twice: "ticking", with the price worker running (2 ticks/s: every tick changes the prices, so a cached read is made
again at most twice a second), and "quiet", with the worker stopped (nothing changes: what a read costs when nothing
has happened since the last one). The harness's own ceiling is the same load against a bare ASGI app on the same
uvicorn (bench/floor_asgi.py). The client is raw asyncio over uvloop (no HTTP library), 16 connections in two
processes, so the client's own cost is as small as it can be; it still shares the two cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import load_stack, percentile  # noqa: E402

HTMX = {"HX-Request": "true"}
ROUTES = [
    ("/api/floor/django", {}, "Django's request cycle and middleware, a fixed answer (the floor)"),
    ("/api/portfolio", {}, ""),
    ("/api/watchlist", {}, ""),
    ("/api/portfolio/history", {}, ""),
    ("/api/chat/history", {}, ""),
    ("/panels/summary", HTMX, "htmx panel"),
    ("/panels/positions", HTMX, "htmx panel"),
    ("/panels/heatmap", HTMX, "htmx panel"),
    ("/panels/pnl", HTMX, "htmx panel"),
    ("/panels/blotter", HTMX, "htmx panel"),
]



def request_bytes(path: str, headers: dict) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def one_connection(port: int, request: bytes, count: int | None, stop_at: float | None,
                         latencies: list[float]) -> int:
    """Send `request` again and again on one keep-alive connection; returns how many non-200 answers came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    n = 0
    try:
        while (count is None or n < count) and (stop_at is None or time.perf_counter() < stop_at):
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 2"):
                errors += 1
            n += 1
    finally:
        writer.close()
    return errors


def load_process(port: int, request: bytes, connections: int, start_at: float, stop_at: float, out) -> None:
    import uvloop

    async def run():
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        latencies: list[float] = []
        errors = await asyncio.gather(
            *(one_connection(port, request, None, stop_at, latencies) for _ in range(connections))
        )
        out.put((latencies, sum(errors)))

    uvloop.run(run())


def cpu_of(pids: list[int]) -> float:
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


def sequential(port: int, pids: list[int], path: str, headers: dict, count: int) -> dict:
    import uvloop

    latencies: list[float] = []
    request = request_bytes(path, headers)
    uvloop.run(one_connection(port, request, 200, None, []))  # warm-up
    before = cpu_of(pids)
    errors = uvloop.run(one_connection(port, request, count, None, latencies))
    cpu = cpu_of(pids) - before
    return {"p50": percentile(latencies, 50) * 1e3, "p99": percentile(latencies, 99) * 1e3,
            "cpu": cpu * 1e3 / count, "errors": errors}


def concurrent(port: int, path: str, headers: dict, seconds: float, connections: int = 16, procs: int = 2) -> dict:
    out = mp.Queue()
    start_at = time.perf_counter() + 0.5
    stop_at = start_at + seconds
    workers = [mp.Process(target=load_process, args=(port, request_bytes(path, headers), connections // procs,
                                                      start_at, stop_at, out)) for _ in range(procs)]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = [x for lat, _ in results for x in lat]
    return {"rps": len(latencies) / seconds, "cp50": percentile(latencies, 50) * 1e3,
            "cp99": percentile(latencies, 99) * 1e3, "cerrors": sum(e for _, e in results)}


def measure(stack, routes, args) -> dict:
    results = {}
    for path, headers, _ in routes:
        row = sequential(stack.port, stack.web_pids, path, headers, args.requests)
        row.update(concurrent(stack.port, path, headers, args.seconds))
        results[path] = row
    return results


def run_checkout(root: Path, args) -> dict[str, dict]:
    stack_class = load_stack(root)
    with stack_class(extra_env={"DJANGO_SETTINGS_MODULE": "bench.floor_settings"}) as stack:
        fill = httpx.post(stack.base_url + "/api/portfolio/trade",
                          json={"ticker": "AAPL", "side": "buy", "quantity": 5}, timeout=10)
        assert fill.status_code == 201, fill.text
        for path, headers, _ in ROUTES:
            answer = httpx.get(stack.base_url + path, headers=headers, timeout=10)
            assert answer.status_code in (200, 201), (path, answer.status_code, answer.text[:200])
        ticking = measure(stack, ROUTES, args)
        worker = stack.procs.pop("worker")
        worker.terminate()
        worker.wait(10)
        quiet = measure(stack, ROUTES, args)
    return {"ticking": ticking, "quiet": quiet}


def run_ceiling(root: Path, args) -> dict:
    stack_class = load_stack(root)
    with stack_class("bare-asgi", worker=False) as stack:
        return measure(stack, [("/ceiling", {}, "")], args)["/ceiling"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, action="append", help="a checkout to measure (repeat for A/B)")
    parser.add_argument("--requests", type=int, default=2000, help="sequential reads per route")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each 16-connection run")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    roots = args.root or [Path(".")]
    runs: dict[str, list[dict]] = {str(root): [] for root in roots}
    ceilings = []
    for n in range(args.rounds):
        for root in roots if n % 2 == 0 else roots[::-1]:
            print(f"round {n + 1}: {root}", file=sys.stderr, flush=True)
            runs[str(root)].append(run_checkout(root, args))
        ceilings.append(run_ceiling(roots[-1], args))

    header = (f"{'route':24s} {'p50 ms':>7s} {'p99 ms':>7s} {'CPU ms':>7s} {'req/s@16':>9s} {'p50@16':>7s} "
              f"{'p99@16':>7s} {'errors':>6s}")
    for ceiling in ceilings:
        print(f"\nharness ceiling (bare ASGI app on the same uvicorn): {header[25:]}")
        print(f"{'(any)':24s} {ceiling['p50']:7.3f} {ceiling['p99']:7.3f} {ceiling['cpu']:7.3f} {ceiling['rps']:9.0f} "
              f"{ceiling['cp50']:7.2f} {ceiling['cp99']:7.2f} {ceiling['errors'] + ceiling['cerrors']:6d}")
    for root, results in runs.items():
        for n, result in enumerate(results):
            for mode in ("ticking", "quiet"):
                print(f"\n{root} round {n + 1}, {mode}:")
                print(header)
                for path, row in result[mode].items():
                    print(f"{path:24s} {row['p50']:7.3f} {row['p99']:7.3f} {row['cpu']:7.3f} {row['rps']:9.0f} "
                          f"{row['cp50']:7.2f} {row['cp99']:7.2f} {row['errors'] + row['cerrors']:6d}")


if __name__ == "__main__":
    main()
