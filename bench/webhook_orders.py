"""An order's latency with no webhook, with a healthy receiver, and with a receiver that hangs (issue 24).

    .venv/bin/python bench/webhook_orders.py --orders 200 --rounds 3

One throwaway FinAlly (worker + uvicorn, WEBHOOK_ALLOW_PRIVATE for the local receivers). Each round places
`--orders` market buys of one share, one at a time over one keep-alive connection, in each of three states,
interleaved: no webhook URL; a receiver that answers 200 at once; a receiver that takes every delivery and answers
nothing for a minute (WEBHOOK_TIMEOUT_SECONDS=1, so the worker's senders give up and try again later). Reported:
the median and p99 of each state, and the deliveries made. A webhook costs an order one indexed read of the book's
endpoint and one outbox row in its transaction; the delivery itself is the worker's.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import BenchStack, percentile
from webhooks.tests.receiver import Receiver


def set_url(client: httpx.Client, url: str) -> None:
    page = client.get("/settings/webhooks")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    field = {"remove": "1"} if url == "" else {"url": url}
    answer = client.post("/settings/webhooks", data={**field, "csrfmiddlewaretoken": token},
                         headers={"Referer": str(client.base_url) + "/settings/webhooks"})
    assert answer.status_code == 302, answer.text


def orders(client: httpx.Client, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.post("/api/portfolio/trade", json={"ticker": "AAPL", "side": "buy", "quantity": 0.01})
        took.append(time.perf_counter() - started)
        assert answer.status_code == 201, answer.text
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = {"WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_TIMEOUT_SECONDS": "1"}
    with Receiver() as healthy, Receiver() as hung, BenchStack(extra_env=env) as stack:
        hung.script((200, 60.0))
        results: dict[str, list[float]] = {"no webhook": [], "receiver healthy": [], "receiver hung": []}
        with httpx.Client(base_url=stack.base_url, timeout=10) as client:
            orders(client, 50)  # warm up
            for _ in range(args.rounds):
                for state, url in (("no webhook", ""), ("receiver healthy", healthy.url), ("receiver hung", hung.url)):
                    set_url(client, url)
                    results[state] += orders(client, args.orders)
        print(f"{args.rounds} rounds of {args.orders} market orders per state, interleaved:")
        for state, took in results.items():
            print(f"  {state:18s} median {statistics.median(took) * 1000:6.2f} ms   p99 "
                  f"{percentile(took, 99) * 1000:6.2f} ms")
        print(f"deliveries: healthy receiver got {len(healthy.requests)}, hung receiver was sent {len(hung.requests)}")


if __name__ == "__main__":
    main()
