"""Issue 21: many accounts on one deployment, each with an open price stream and placing orders at random.

    .venv/bin/python bench/accounts.py                                  # 1,000 accounts, two web processes
    .venv/bin/python bench/accounts.py --webs 3
    .venv/bin/python bench/accounts.py --accounts 500 --webs 2 --seconds 60

The scale-out topology (bench/stack.py): a throwaway PostgreSQL (durable) and Redis, the price worker, and `--webs`
uvicorn processes, with ACCOUNTS=on. Then:

1. Setup, in a subprocess on the stack's database (not through HTTP, so it does not pay a password hash per
   account): `--accounts` users made with one precomputed password hash, each book opened as sign-up opens it
   ($10,000, the default watchlist), a quarter of them adding one or two tickers of their own (so the priced union
   is wider than the default ten), and one API token each.
2. Load, from `--client-procs` client processes (asyncio on uvloop): every account holds one
   `GET /api/stream/prices` with its Bearer token, and places market orders (`POST /api/portfolio/trade`) at
   Poisson-random times, a mean of one per `--order-interval` seconds each (1,000 accounts: ~100 orders/s in
   all). Open loop: an order goes out at its time whether or not the last one was answered, so a slow server
   is not hidden by clients that wait. Mostly buys of 1-3 shares of a watched ticker; three in ten orders of an
   account that holds something sell part or all of one holding. Account i uses web process i mod --webs, for
   its stream and its orders, as a load balancer with sticky sessions would.
3. After `--settle` seconds, a `--seconds` window measures:
   - orders placed in the window: latency p50 / p99 / max, answered 201, refused (4xx: not enough cash or
     shares; counted apart) and failed (5xx, timeouts, dropped connections);
   - streams: lag of each tick stamped in the window (the time a client read it minus the tick's `timestamp`,
     set by the worker), and whether every stream got every tick stamped in the window;
   - the price worker: each interval snapshot (`record_snapshots`, timed by a wrapper this script puts around
     the worker's periodic task: wall and CPU time, books written) and the worker's CPU over the window;
   - CPU (% of one core) of every web process, the worker, PostgreSQL (all its backends), Redis, the client
     processes and the whole machine, from /proc; RSS of every web process and the worker;
   - PostgreSQL commits per second (pg_stat_database).
4. At the end, a check: the database holds exactly the orders answered 201, and every book's cash is $10,000
   less the buys' and plus the sells' notionals to the cent.

The snapshot interval is `--snapshot-seconds`, 60 s as shipped (two snapshots fall in the default two-minute
window); what one costs depends on how many books hold positions, not on the interval, but a shorter interval puts
more of them, and the orders they hold up, in the window.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.stack import percentile  # noqa: E402

# Tickers some accounts add to the default ten (market.tickers.DEFAULT_TICKERS); the simulator prices any symbol.
EXTRA_TICKERS = ("AMD", "INTC", "ORCL", "IBM", "CRM", "ADBE", "PYPL", "DIS", "KO", "PEP",
                 "WMT", "COST", "BAC", "GS", "XOM", "CVX", "PFE", "MRK", "UBER", "SHOP")
PASSWORD = "not-used-by-the-bench"  # the accounts sign in with tokens; one hash for all of them
TS_KEY = b'"timestamp":"'
TS_LEN = 24  # 2026-12-05T13:01:29.123Z: the stream's ISO time of the tick
SLOW = 0.2  # seconds: an order slower than this is counted, and told whether a snapshot ran meanwhile
GRACE = 3.0  # seconds the streams keep reading after the window, for the window's last ticks
SNAPSHOT_LINE = re.compile(r"BENCH-SNAPSHOT at=(\S+) wall_ms=(\S+) cpu_ms=(\S+) books=(\d+)")


# --- in the stack's environment: the setup and the timed worker (subprocesses) -------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finally_site.settings")
    import django

    django.setup()


def setup_accounts(n: int, seed: int, out: Path) -> None:
    """Make `n` accounts with a book and a token each; write [{book, token, watch}] to `out` as JSON."""
    _django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from accounts.services import issue_token
    from market.services import add_ticker
    from market.tickers import DEFAULT_TICKERS
    from portfolio.services import open_book

    rng = random.Random(seed)
    model = get_user_model()
    password = make_password(PASSWORD)  # one hash, not n: what `adduser` pays per account is not measured here
    model.objects.bulk_create([model(username=f"trader{i:05d}", password=password) for i in range(n)], batch_size=500)
    users = list(model.objects.filter(username__startswith="trader").order_by("username"))
    accounts = []
    for start in range(0, len(users), 100):
        with transaction.atomic():  # a hundred accounts per commit: durable commits are what would take the time
            for user in users[start:start + 100]:
                book = open_book(account_id=user.pk)  # as sign-up and adduser open it
                extra = rng.sample(EXTRA_TICKERS, rng.choice((1, 2))) if rng.random() < 0.25 else []
                for ticker in extra:
                    add_ticker(user_id=book, ticker=ticker)
                _, token = issue_token(user=user, name="bench")
                accounts.append({"book": book, "token": token, "watch": [*DEFAULT_TICKERS, *extra]})
    out.write_text(json.dumps(accounts))


def timed_worker() -> None:
    """`manage.py price_worker`, with its interval snapshot timed: one BENCH-SNAPSHOT line on stdout per snapshot.

    The product's worker runs the snapshot on a side thread (market/worker.py); the wrapper measures that call's
    wall time and its thread's CPU time, outside the product code."""
    _django()
    from django.core.management import call_command

    from market import hooks

    def timed(func):
        def run():
            wall, cpu = time.perf_counter(), time.thread_time()
            books = func()
            print(f"BENCH-SNAPSHOT at={time.time():.3f} wall_ms={(time.perf_counter() - wall) * 1000:.1f} "
                  f"cpu_ms={(time.thread_time() - cpu) * 1000:.1f} books={books}", flush=True)
            return books

        return run

    hooks.periodic_tasks[:] = [
        dataclasses.replace(task, func=timed(task.func)) if task.name == "portfolio-snapshot" else task
        for task in hooks.periodic_tasks
    ]
    call_command("price_worker")


# --- the clients -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Window:
    orders_from: float  # orders start (epoch s): after every stream of every client process has connected
    start: float
    stop: float


class Account:
    def __init__(self, spec: dict, port: int) -> None:
        self.book = spec["book"]
        self.token = spec["token"]
        self.watch = spec["watch"]
        self.port = port
        self.held: dict[str, int] = {}
        self.cash_delta = Decimal(0)  # -buys + sells, from the answers (the check at the end)
        self.ticks: list[float] = []  # the window's ticks this account's stream received (their timestamps)
        self.stream_error: str | None = None


async def stream(account: Account, window: Window, lags: list[float], stamps: dict[bytes, float]) -> None:
    """One account's price stream, read raw (client-side parsing must not be what is measured).

    Every event of a tick carries the tick's timestamp: each tick is counted once, at the first of its events."""
    reader, writer = await asyncio.open_connection("127.0.0.1", account.port)
    writer.write(f"GET /api/stream/prices HTTP/1.1\r\nHost: 127.0.0.1:{account.port}\r\n"
                 f"Authorization: Bearer {account.token}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        last = b""
        buffer = b""
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("stream closed by the server")
            now = time.time()
            buffer += data
            at = 0
            while (at := buffer.find(TS_KEY, at)) >= 0 and len(buffer) >= at + len(TS_KEY) + TS_LEN:
                at += len(TS_KEY)
                stamp = buffer[at:at + TS_LEN]
                if stamp != last:
                    last = stamp
                    ts = stamps.get(stamp)
                    if ts is None:
                        ts = stamps[stamp] = datetime.fromisoformat(stamp.decode()).timestamp()
                    if window.start <= ts <= window.stop:
                        lags.append(now - ts)
                        account.ticks.append(ts)
            buffer = buffer[-(len(TS_KEY) + TS_LEN):]
            if now > window.stop + GRACE:
                return
    except (OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
        account.stream_error = f"{type(exc).__name__}: {exc}"
    finally:
        writer.close()


class Orders:
    """The orders of one client process: what was answered, and the latencies of those placed in the window."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.sent: list[float] = []  # when each of those was sent (epoch s): the slow ones, against the snapshots
        self.ports: list[int] = []  # and to which web process
        self.late: list[float] = []  # how late the client sent each window order (a client bottleneck shows here)
        self.window = Counter()  # outcome -> count, orders placed in the window
        self.total = Counter()  # the same over the whole run
        self.filled = 0
        self.reasons = Counter()  # the refusals' messages (their first words)


async def place(session, account: Account, due: float, window: Window, orders: Orders, rng: random.Random) -> None:
    import aiohttp

    if account.held and rng.random() < 0.3:
        ticker = rng.choice(sorted(account.held))
        order = {"ticker": ticker, "side": "sell", "quantity": rng.randint(1, account.held[ticker])}
    else:
        order = {"ticker": rng.choice(account.watch), "side": "buy", "quantity": rng.randint(1, 3)}
    sent = time.time()
    t0 = time.perf_counter()
    try:
        async with session.post(f"http://127.0.0.1:{account.port}/api/portfolio/trade", json=order,
                                headers={"Authorization": f"Bearer {account.token}"}) as response:
            body = await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        status, body = type(exc).__name__, b""
    latency = time.perf_counter() - t0
    if status == 201:
        fill = json.loads(body)
        quantity = int(fill["quantity"])
        notional = Decimal(str(fill["notional"]))
        if fill["side"] == "buy":
            account.held[fill["ticker"]] = account.held.get(fill["ticker"], 0) + quantity
            account.cash_delta -= notional
        else:
            account.held[fill["ticker"]] -= quantity
            if account.held[fill["ticker"]] <= 0:
                del account.held[fill["ticker"]]
            account.cash_delta += notional
        orders.filled += 1
        outcome = "filled"
    elif isinstance(status, int) and 400 <= status < 500:
        outcome = f"refused {status}"
        # Why, in the words before the figures ("Not enough cash", "Not enough shares"): a bench bug shows here.
        try:
            orders.reasons[str(json.loads(body).get("error", ""))[:17]] += 1
        except (ValueError, AttributeError):
            orders.reasons[body[:17].decode(errors="replace")] += 1
    else:
        outcome = f"failed {status}"
    orders.total[outcome] += 1
    if window.start <= due <= window.stop:
        orders.window[outcome] += 1
        orders.latencies.append(latency)
        orders.sent.append(sent)
        orders.ports.append(account.port)
        orders.late.append(sent - due)


async def trader(session, account: Account, window: Window, mean: float, orders: Orders, seed: int) -> None:
    """Orders at Poisson-random times (exponential gaps of mean `mean` s), each sent at its time (open loop)."""
    rng = random.Random(seed)
    due = window.orders_from + rng.expovariate(1 / mean)
    pending = set()
    while due <= window.stop:
        await asyncio.sleep(max(0.0, due - time.time()))
        task = asyncio.create_task(place(session, account, due, window, orders, rng))
        pending.add(task)
        task.add_done_callback(pending.discard)
        due += rng.expovariate(1 / mean)
    if pending:
        await asyncio.gather(*pending)


def client_process(specs: list[tuple[dict, int]], window: Window, mean: float, seed: int, with_streams: bool, ready,
                   out) -> None:
    import uvloop

    uvloop.install()

    async def main():
        import aiohttp

        accounts = [Account(spec, port) for spec, port in specs]
        lags: list[float] = []
        stamps: dict[bytes, float] = {}
        streams = []
        for account in accounts if with_streams else ():
            streams.append(asyncio.create_task(stream(account, window, lags, stamps)))
            await asyncio.sleep(0.004)  # ramp up, rather than a thundering herd of connects
        ready.put(os.getpid())
        orders = Orders()
        # keepalive_timeout under uvicorn's 5 s: a kept connection the server is about to close is not reused.
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(trader(session, a, window, mean, orders, seed * 100_003 + i)
                                   for i, a in enumerate(accounts)))
        await asyncio.gather(*streams)
        out.put({
            "lags": lags,
            "latencies": orders.latencies,
            "sent": orders.sent,
            "ports": orders.ports,
            "late": orders.late,
            "window": dict(orders.window),
            "total": dict(orders.total),
            "filled": orders.filled,
            "reasons": dict(orders.reasons),
            "streams": [{"book": a.book, "port": a.port, "ticks": a.ticks, "error": a.stream_error,
                         "cash_delta": str(a.cash_delta)} for a in accounts],
        })

    asyncio.run(main())


# --- measuring the processes -------------------------------------------------------------------------------------



class ProcessGroup:
    """CPU time of a set of processes, new ones included (PostgreSQL forks a backend per connection)."""

    def __init__(self, name: str, pids) -> None:
        self.name = name
        self.pids = pids  # a callable: the group's processes now

    def cpu(self) -> dict[int, float]:
        import psutil

        times = {}
        for pid in self.pids():
            try:
                t = psutil.Process(pid).cpu_times()
                times[pid] = t.user + t.system
            except psutil.Error:
                pass
        return times


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that ended in between is lost (a few PostgreSQL backends of the pool's at most); a new one counts whole.
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def with_children(pid: int) -> list[int]:
    import psutil

    try:
        process = psutil.Process(pid)
        return [pid] + [child.pid for child in process.children(recursive=True)]
    except psutil.Error:
        return []


def run(args) -> dict:
    import psutil

    from bench.stack import BenchStack

    class Stack(BenchStack):
        def _spawn(self, name, argv):
            if name == "worker":  # the product's worker, with its snapshot timed (timed_worker)
                argv = [sys.executable, str(Path(__file__).resolve()), "--role", "worker"]
            return super()._spawn(name, argv)

    load = os.getloadavg()[0]  # the machine is shared: say how busy it was as the run began
    env = {
        "ACCOUNTS": "on",
        "PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS": str(args.snapshot_seconds),
        "DATABASE_POOL_SIZE": str(args.pool_size),
    }
    with Stack(webs=args.webs, database="postgres", store="redis", extra_env=env) as stack:
        t0 = time.monotonic()
        accounts_file = stack.dir / "accounts.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--role", "setup", "--accounts",
                        str(args.accounts), "--seed", str(args.seed), "--out", str(accounts_file)],
                       cwd=ROOT, env=stack.env, check=True)
        specs = json.loads(accounts_file.read_text())
        setup_seconds = time.monotonic() - t0
        # Let the worker price the union of the new watchlists before anyone trades.
        time.sleep(2)
        [(priced,)] = stack.query("SELECT COUNT(DISTINCT ticker) FROM watchlist")

        by_proc: list[list] = [[] for _ in range(args.client_procs)]
        for i, spec in enumerate(specs):
            by_proc[i % args.client_procs].append((spec, stack.ports[i % len(stack.ports)]))
        ramp = len(by_proc[0]) * 0.004 + 3.0
        orders_from = time.time() + ramp
        window = Window(orders_from=orders_from, start=orders_from + args.settle,
                        stop=orders_from + args.settle + args.seconds)
        ready, out = mp.Queue(), mp.Queue()
        clients = [
            mp.Process(target=client_process,
                       args=(part, window, args.order_interval, args.seed + n, not args.no_streams, ready, out))
            for n, part in enumerate(by_proc)
        ]
        for client in clients:
            client.start()
        for _ in clients:
            ready.get(timeout=ramp + 30)
        if time.time() > orders_from:
            print(f"warning: the streams took {time.time() - orders_from + ramp:.1f}s to connect", flush=True)

        postgres, redis = stack.servers
        postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])
        webs = {name: proc.pid for name, proc in stack.procs.items() if name.startswith("web")}
        groups = [ProcessGroup(name, lambda pid=pid: with_children(pid)) for name, pid in webs.items()]
        groups += [
            ProcessGroup("worker", lambda: [stack.procs["worker"].pid]),
            ProcessGroup("postgres", lambda: with_children(postmaster)),
            ProcessGroup("redis", lambda: [redis.process.pid]),
            ProcessGroup("clients", lambda: [c.pid for c in clients]),
            ProcessGroup("bench", lambda: [os.getpid()]),
        ]

        def commits() -> int:
            return stack.query("SELECT xact_commit FROM pg_stat_database WHERE datname = 'bench'")[0][0]

        time.sleep(max(0.0, window.start - time.time()))
        before = {g.name: g.cpu() for g in groups}
        machine_before = psutil.cpu_times()
        commits_before = commits()
        started = time.monotonic()
        rss: dict[str, list[int]] = {name: [] for name in [*webs, "worker"]}
        while time.time() < window.stop:
            for name, pid in [*webs.items(), ("worker", stack.procs["worker"].pid)]:
                rss[name].append(sum(psutil.Process(p).memory_info().rss for p in with_children(pid)))
            time.sleep(1.0)
        elapsed = time.monotonic() - started
        after = {g.name: g.cpu() for g in groups}
        machine_after = psutil.cpu_times()
        commits_after = commits()
        cpu = {g.name: cpu_between(before[g.name], after[g.name]) / elapsed * 100 for g in groups}
        busy = lambda t: t.user + t.nice + t.system + t.irq + t.softirq + t.steal  # noqa: E731
        machine = (busy(machine_after) - busy(machine_before)) / elapsed * 100
        iowait = (machine_after.iowait - machine_before.iowait) / elapsed * 100

        parts = [out.get(timeout=args.seconds + 120) for _ in clients]
        for client in clients:
            client.join(timeout=30)
        worker_log = (stack.dir / "worker.log").read_text(errors="replace")
        snapshots = [(float(at), float(wall), float(cpu_ms), int(books))
                     for at, wall, cpu_ms, books in SNAPSHOT_LINE.findall(worker_log)]
        in_window = [s for s in snapshots if window.start <= s[0] <= window.stop + 1]
        late_ticks = len(re.findall(r"tick \d+ started \d+ ms late", worker_log))
        errors_logged = {name: (stack.dir / f"{name}.log").read_text(errors="replace").count("Traceback")
                         for name in [*webs, "worker"]}

        # The check: the database against the answers.
        [(trades,)] = stack.query("SELECT COUNT(*) FROM trades")
        cash = dict(stack.query("SELECT id, cash_balance FROM users_profile"))
        streams = [s for part in parts for s in part["streams"]]
        wrong_cash = sum(cash.get(s["book"]) != Decimal("10000.00") + Decimal(s["cash_delta"]) for s in streams)

    lags = [x for part in parts for x in part["lags"]]
    latencies = [x for part in parts for x in part["latencies"]]
    sent = [x for part in parts for x in part["sent"]]
    # An order that was in flight while an interval snapshot ran (which locks every holder's book, see
    # portfolio.services.record_snapshots), against one that was not.
    running = [(at - wall / 1000, at) for at, wall, _, _ in snapshots]
    overlaps = [
        any(start <= t + lat and t <= end for start, end in running)
        for t, lat in zip(sent, latencies, strict=True)
    ]
    away = [lat for lat, o in zip(latencies, overlaps, strict=True) if not o]
    slow = [o for lat, o in zip(latencies, overlaps, strict=True) if lat > SLOW]
    if args.dump:  # every window order and snapshot, for a closer look (when the slow ones were, on which process)
        ports = [x for part in parts for x in part["ports"]]
        args.dump.write_text(json.dumps({"orders": list(zip(sent, latencies, ports, strict=True)), "snapshots": running,
                                         "window": [window.start, window.stop]}))
    late = [x for part in parts for x in part["late"]]
    in_window_orders = sum((Counter(part["window"]) for part in parts), Counter())
    total_orders = sum((Counter(part["total"]) for part in parts), Counter())
    filled = sum(part["filled"] for part in parts)
    reasons = sum((Counter(part["reasons"]) for part in parts), Counter())
    ticks = set().union(*(s["ticks"] for s in streams))  # every tick stamped in the window that anyone received
    return {
        "load": load, "snapshot_seconds": args.snapshot_seconds, "accounts": args.accounts, "webs": args.webs,
        "seconds": args.seconds, "setup_s": setup_seconds, "priced": priced,
        "orders": sum(in_window_orders.values()), "orders_per_s": sum(in_window_orders.values()) / args.seconds,
        "outcomes": dict(in_window_orders), "outcomes_total": dict(total_orders), "reasons": dict(reasons),
        "order_p50_ms": percentile(latencies, 50) * 1000, "order_p99_ms": percentile(latencies, 99) * 1000,
        "order_max_ms": max(latencies, default=float("nan")) * 1000,
        "client_late_p99_ms": percentile(late, 99) * 1000,
        "during_snapshots": sum(overlaps), "away_p50_ms": percentile(away, 50) * 1000,
        "away_p99_ms": percentile(away, 99) * 1000, "slow": len(slow), "slow_during_snapshots": sum(slow),
        "streams": len(streams), "stream_errors": Counter(s["error"] for s in streams if s["error"]),
        "ticks": len(ticks), "fed_all": sum(len(set(s["ticks"])) == len(ticks) for s in streams),
        "ticks_min": min((len(set(s["ticks"])) for s in streams), default=0),
        # A stream that falls behind skips to its process's latest tick (market/hub.py): which ticks each web
        # process's streams missed, for the ticks some stream (of another process, maybe) did receive.
        "missed_by_port": {port: len(ticks - set().union(*(s["ticks"] for s in streams if s["port"] == port)))
                           for port in sorted({s["port"] for s in streams})},
        "lag_p50_ms": percentile(lags, 50) * 1000, "lag_p99_ms": percentile(lags, 99) * 1000,
        "lag_max_ms": max(lags, default=float("nan")) * 1000,
        "snapshots": in_window, "late_ticks": late_ticks, "tracebacks": errors_logged,
        "cpu": cpu, "machine_cpu": machine, "iowait": iowait,
        "commits_per_s": (commits_after - commits_before) / elapsed,
        "rss_mb": {name: max(values) / 2**20 for name, values in rss.items() if values},
        "check": f"trades {trades} vs {filled} filled; books with wrong cash: {wrong_cash} of {len(streams)}",
        "check_ok": trades == filled and wrong_cash == 0,
    }


def report(r: dict) -> None:
    print(f"\n== {r['accounts']} accounts, {r['webs']} web processes, {r['seconds']:.0f} s window "
          f"(setup {r['setup_s']:.0f} s; {r['priced']} tickers priced; snapshots every {r['snapshot_seconds']:.0f} s; "
          f"load average {r['load']:.1f} at the start) ==")
    print(f"orders in the window: {r['orders']} ({r['orders_per_s']:.1f}/s): {r['outcomes']}")
    print(f"  latency p50 {r['order_p50_ms']:.1f} ms, p99 {r['order_p99_ms']:.1f} ms, max {r['order_max_ms']:.1f} ms; "
          f"client sent them late by p99 {r['client_late_p99_ms']:.1f} ms")
    print(f"  {r['during_snapshots']} were in flight during a snapshot; the others: p50 {r['away_p50_ms']:.1f} ms, "
          f"p99 {r['away_p99_ms']:.1f} ms; slower than {SLOW * 1000:.0f} ms: {r['slow']}, of which "
          f"{r['slow_during_snapshots']} during a snapshot")
    print(f"  whole run: {r['outcomes_total']}; refusals: {r['reasons']}")
    print(f"streams: {r['streams']}, errors {dict(r['stream_errors']) or 0}; {r['fed_all']} of {r['streams']} got "
          f"all {r['ticks']} ticks of the window (fewest {r['ticks_min']}); lag p50 {r['lag_p50_ms']:.1f} ms, "
          f"p99 {r['lag_p99_ms']:.1f} ms, max {r['lag_max_ms']:.1f} ms; ticks no stream of a web process got: "
          f"{list(r['missed_by_port'].values())}")
    for at, wall, cpu, books in r["snapshots"]:
        print(f"snapshot at {datetime.fromtimestamp(at):%H:%M:%S}: {books} books, {wall:.1f} ms wall, "
              f"{cpu:.1f} ms CPU (worker thread)")
    print(f"worker: CPU {r['cpu']['worker'] / 100 * r['snapshot_seconds'] * 1000:.0f} ms per snapshot interval "
          f"(ticks and snapshot); ticks started late {r['late_ticks']}; tracebacks in logs {r['tracebacks']}")
    others = r["machine_cpu"] - sum(r["cpu"].values())
    print("CPU % of one core: " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu"].items())
          + f"; the machine {r['machine_cpu']:.1f} of 200, of which {others:.1f} outside this run "
          f"(other sessions, the kernel); iowait {r['iowait']:.1f}")
    print(f"PostgreSQL commits/s {r['commits_per_s']:.0f}")
    print("RSS MB (max): " + ", ".join(f"{k} {v:.0f}" for k, v in r["rss_mb"].items()))
    print(f"check: {r['check']} -> {'OK' if r['check_ok'] else 'WRONG'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--webs", type=int, default=2, help="web processes (accounts spread over them)")
    parser.add_argument("--seconds", type=float, default=120.0, help="the measured window")
    parser.add_argument("--settle", type=float, default=15.0, help="orders and streams before the window")
    parser.add_argument("--order-interval", type=float, default=10.0, help="mean seconds between one account's orders")
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--no-streams", action="store_true",
                        help="orders only (what the streams cost, by difference); --order-interval 1e9: streams only")
    parser.add_argument("--snapshot-seconds", type=float, default=60.0,
                        help="PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS (60: as shipped)")
    parser.add_argument("--pool-size", type=int, default=20, help="DATABASE_POOL_SIZE per process (the default)")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--dump", type=Path, help="write every window order (sent, latency, port) here as JSON")
    parser.add_argument("--role", choices=["bench", "setup", "worker"], default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "setup":
        setup_accounts(args.accounts, args.seed, args.out)
    elif args.role == "worker":
        timed_worker()
    else:
        report(run(args))


if __name__ == "__main__":
    main()
