"""Simulator step time for 10, 100 and 1,000 tickers (target: 1,000 tickers under 2 ms a step).

    .venv/bin/python bench/simulator_step.py
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from market.simulator import DEFAULT_PARAMS, PriceSimulator  # noqa: E402


def main(steps: int = 2000) -> None:
    print(f"{'tickers':>8} | {'median µs':>9} | {'p99 µs':>8} | {'set_tickers ms':>14}")
    for n in (10, 100, 1000):
        tickers = list(DEFAULT_PARAMS) + [f"X{i}" for i in range(n - len(DEFAULT_PARAMS))]
        sim = PriceSimulator(seed=1)
        t0 = time.perf_counter()
        sim.set_tickers(tickers)  # per-ticker factor loadings: no matrix (issue 19)
        setup = time.perf_counter() - t0
        for _ in range(100):
            sim.step()
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            sim.step()
            times.append(time.perf_counter() - t0)
        times.sort()
        p99 = times[int(len(times) * 0.99)]
        print(f"{n:>8} | {statistics.median(times) * 1e6:>9.1f} | {p99 * 1e6:>8.1f} | {setup * 1000:>14.1f}")


if __name__ == "__main__":
    main()
