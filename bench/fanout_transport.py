"""The cross-process tick fan-out alone: redis-py pub/sub (what RedisPriceStore does) vs Channels' Redis layers.

    .venv/bin/python bench/fanout_transport.py                  # redis-py only (no extra packages)
    /tmp/chan-venv/bin/python bench/fanout_transport.py --modes redispy channels channels-pubsub
                                                                # needs `channels channels-redis` installed there

One publisher (the worker) sends a 10-quote tick (about 1.6 KB of JSON) R times a second; S subscriber
processes (the web processes' hubs) each receive every tick. Reported: messages lost, delivery delay
(receive time − send time, p50/p99), and CPU per tick in the publisher and in each subscriber. A real
redis-server is started here (Debian's `redis-server`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import percentile  # noqa: E402

TICKERS = ["AAPL", "GOOGL", "MSFT", "AMZN", "TSLA", "NVDA", "META", "JPM", "V", "NFLX"]


def payload(seq: int) -> str:
    quotes = [
        {"ticker": t, "price": 190.12 + i, "prev_price": 190.01 + i, "open_price": 189.5 + i,
         "timestamp": "2026-11-25T22:00:00.500Z", "direction": "up"}
        for i, t in enumerate(TICKERS)
    ]
    return json.dumps({"seq": seq, "sent": time.time(), "quotes": quotes * 2})  # ~1.6 KB like a real tick



def channel_layer(mode: str, url: str):
    if mode == "channels":
        from channels_redis.core import RedisChannelLayer

        return RedisChannelLayer(hosts=[url])
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return RedisPubSubChannelLayer(hosts=[url])


def subscriber(mode: str, url: str, count: int, ready, out) -> None:
    delays: list[float] = []
    process = psutil.Process()
    if mode == "redispy":
        import redis

        client = redis.Redis.from_url(url, decode_responses=True)
        pubsub = client.pubsub()
        pubsub.subscribe("ticks")
        pubsub.get_message(timeout=5)  # the subscribe confirmation
        ready.set()
        cpu0 = sum(process.cpu_times()[:2])
        while len(delays) < count:
            message = pubsub.get_message(timeout=5)
            if message is None:
                break
            if message["type"] == "message":
                delays.append(time.time() - json.loads(message["data"])["sent"])
        out.put((delays, sum(process.cpu_times()[:2]) - cpu0))
        return

    async def run():
        layer = channel_layer(mode, url)
        channel = await layer.new_channel()
        await layer.group_add("ticks", channel)
        ready.set()
        cpu0 = sum(process.cpu_times()[:2])
        while len(delays) < count:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=5)
            except TimeoutError:
                break
            delays.append(time.time() - json.loads(message["data"])["sent"])
        out.put((delays, sum(process.cpu_times()[:2]) - cpu0))

    asyncio.run(run())


def publish_all(mode: str, url: str, count: int, rate: float) -> float:
    process = psutil.Process()
    cpu0 = sum(process.cpu_times()[:2])
    if mode == "redispy":
        import redis

        client = redis.Redis.from_url(url)
        next_at = time.monotonic()
        for seq in range(count):
            client.publish("ticks", payload(seq))
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    else:

        async def run():
            layer = channel_layer(mode, url)
            next_at = time.monotonic()
            for seq in range(count):
                await layer.group_send("ticks", {"type": "tick", "data": payload(seq)})
                next_at += 1 / rate
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        asyncio.run(run())
    return sum(process.cpu_times()[:2]) - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", default=["redispy"], choices=["redispy", "channels", "channels-pubsub"])
    parser.add_argument("--subscribers", type=int, default=2)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="ticks per second (the app makes 2)")
    args = parser.parse_args()

    from finally_site.tests.servers import RedisServer

    server = RedisServer(Path(tempfile.mkdtemp(prefix="finally-fanout-"))).start()
    try:
        print(f"{args.count} ticks at {args.rate:g}/s to {args.subscribers} subscriber processes")
        print("mode | lost | delay p50 / p99 ms | publisher µs CPU per tick | subscriber µs CPU per tick (mean)")
        for mode in args.modes:
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            readies = [ctx.Event() for _ in range(args.subscribers)]
            subs = [ctx.Process(target=subscriber, args=(mode, server.url, args.count, r, out)) for r in readies]
            for p in subs:
                p.start()
            for r in readies:
                r.wait(30)
            time.sleep(0.5)
            pub_cpu = publish_all(mode, server.url, args.count, args.rate)
            results = [out.get(timeout=60) for _ in subs]
            for p in subs:
                p.join(timeout=10)
            delays = [d for ds, _ in results for d in ds]
            lost = args.count * args.subscribers - len(delays)
            sub_cpu = sum(cpu for _, cpu in results) / len(results)
            print(f"{mode} | {lost} | {percentile(delays, 50) * 1000:.2f} / {percentile(delays, 99) * 1000:.2f} | "
                  f"{pub_cpu / args.count * 1e6:.0f} | {sub_cpu / args.count * 1e6:.0f}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
