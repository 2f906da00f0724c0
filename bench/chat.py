"""Chat round trip in mock mode: everything the assistant adds around a model call, through real HTTP.

    .venv/bin/python bench/chat.py --messages 500

LLM_MOCK=true answers at once, so a round trip is the assistant's own cost: reading the context and the
history, storing both messages, and executing the trade through the engine. Each message is an order
(alternately "buy 1 AAPL" and "sell 1 AAPL") that must come back executed. The same order through
/api/portfolio/trade is timed in turn with it, so "what the assistant adds" is a difference measured in one
run on the same server (the machines are noisy; only same-run comparisons count). Also: web start-up to a
healthy /api/health with the assistant configured (mock) and without it, in turn: the assistant must not
slow it down (litellm is imported on the first real model call only).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import ROOT, SERVERS, BenchStack, free_port  # noqa: E402
from bench.trades import percentile  # noqa: E402


def startup_seconds(stack: BenchStack, extra_env: dict) -> float:
    """Spawn one more web server on the stack's database and time it to its first healthy answer."""
    port = free_port()
    argv = [sys.executable] + [a.format(port=port) for a in SERVERS["uvicorn"]]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env={**stack.env, **extra_env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > 30:
                raise RuntimeError("web server did not start")
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--startup-rounds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    with BenchStack(extra_env={"LLM_MOCK": "true"}) as stack:
        print(f"stack (migrate, worker, web) healthy with fresh prices after {time.perf_counter() - started:.2f} s")
        chats, orders = [], []
        with httpx.Client(base_url=stack.base_url, timeout=30) as client:
            for i in range(args.messages + 20):
                side = "buy" if i % 2 == 0 else "sell"
                t0 = time.perf_counter()
                body = client.post("/api/chat", json={"message": f"{side} 1 AAPL"}).json()
                t1 = time.perf_counter()
                order = client.post("/api/portfolio/trade", json={"ticker": "MSFT", "quantity": 1, "side": side})
                t2 = time.perf_counter()
                assert body["trades"][0]["status"] == "executed", body
                assert order.status_code == 201, order.text
                if i >= 20:
                    chats.append((t1 - t0) * 1000)
                    orders.append((t2 - t1) * 1000)
        trades = stack.query("SELECT count(*) FROM trades")[0][0]
        print(f"chat round trip (mock, one executed trade) n={len(chats)}: "
              f"p50 {percentile(chats, 50):.2f} ms, p99 {percentile(chats, 99):.2f} ms")
        print(f"the same order through /api/portfolio/trade, in turn: "
              f"p50 {percentile(orders, 50):.2f} ms, p99 {percentile(orders, 99):.2f} ms")
        print(f"the assistant adds around the model call: p50 {percentile(chats, 50) - percentile(orders, 50):.2f} ms "
              f"(context, history, two messages stored, the reply read)")
        print(f"trades in the log: {trades} of {2 * (args.messages + 20)}")

        with_mock, without = [], []
        for _ in range(args.startup_rounds):
            with_mock.append(startup_seconds(stack, {"LLM_MOCK": "true"}))
            without.append(startup_seconds(stack, {"LLM_MOCK": "false", "OPENROUTER_API_KEY": "", "LLM_API_BASE": ""}))
        print(f"web start-up to healthy, median of {args.startup_rounds} in turn: assistant configured (mock) "
              f"{percentile(with_mock, 50):.2f} s, no assistant {percentile(without, 50):.2f} s")


if __name__ == "__main__":
    main()
