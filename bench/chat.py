"""Chat round trip in mock mode: everything the assistant adds around a model call, through real HTTP.

    .venv/bin/python bench/chat.py --messages 500

LLM_MOCK=true answers at once, so a round trip is the assistant's own cost: reading the context and the
history, storing both messages, and executing the trade through the engine. Each message is an order
(alternately "buy 1 AAPL" and "sell 1 AAPL") that must come back executed. Also: web start-up to a healthy
/api/health, which the assistant must not slow down (litellm is imported on the first real model call only).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import BenchStack  # noqa: E402
from bench.trades import percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    started = time.perf_counter()
    with BenchStack(extra_env={"LLM_MOCK": "true"}) as stack:
        print(f"stack (migrate, worker, web) healthy with fresh prices after {time.perf_counter() - started:.2f} s")
        latencies = []
        with httpx.Client(base_url=stack.base_url, timeout=30) as client:
            for i in range(args.messages + 20):
                message = "buy 1 AAPL" if i % 2 == 0 else "sell 1 AAPL"
                t0 = time.perf_counter()
                body = client.post("/api/chat", json={"message": message}).json()
                elapsed = time.perf_counter() - t0
                assert body["trades"][0]["status"] == "executed", body
                if i >= 20:
                    latencies.append(elapsed * 1000)
        print(f"chat round trip (mock, one executed trade) n={len(latencies)}: "
              f"p50 {percentile(latencies, 50):.2f} ms, p99 {percentile(latencies, 99):.2f} ms")


if __name__ == "__main__":
    main()
