"""Issue 19: the price worker's CPU per tick and the simulator's memory, before and after, in one run.

    .venv/bin/python bench/worker_tick.py [--sizes 10 100 1000 2000] [--ticks 200] [--adds 10]

"Before" is the simulator and SimulatorSource of 7cd9b3b, the commit before issue 19 (`git show 7cd9b3b:...`,
loaded as modules of their own: an N x N correlation matrix and its Cholesky factor, rebuilt on every change of
the ticker set), "after" this
checkout's (the market + sector factor model). Both run inside this checkout's worker: `PriceWorker.tick()` with
the embedded SQLite price store (a temp file), so a tick is the source's step plus the store's write, as in
production; only the database read of which tickers to price is replaced by a fixed set.

Per size and simulator:
- steady tick: CPU (process time) of one tick with an unchanged ticker set, median of `--ticks`;
- add tick: one tick that prices one ticker more than the last (the issue's 15,000 adds), median of `--adds`;
- held: memory the simulator holds once it prices N tickers (tracemalloc: numpy's arrays included);
- add peak: the most memory allocated at once during one add (set_tickers to N + 1 and a step).

The cap (WATCHLIST_MAX_TICKERS, default 100) is one of the sizes; the larger ones show how each grows past it.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finally_site.settings")

import django  # noqa: E402

django.setup()
logging.disable(logging.INFO)  # the simulator's event lines

from django.conf import settings  # noqa: E402

from market import simulator as after_simulator  # noqa: E402
from market import sources as after_sources  # noqa: E402
from market.sqlite_store import SQLitePriceStore  # noqa: E402
from market.worker import PriceWorker  # noqa: E402

# The last commit before issue 19 replaced the simulator: a fixed point to compare with, whatever main becomes.
BEFORE = "7cd9b3b"


def _load_main(tmp: Path, path: str, name: str):
    """A module as it was before issue 19, loaded under a name of its own beside this checkout's."""
    git_show = ["git", "show", f"{BEFORE}:{path}"]
    text = subprocess.run(git_show, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    file = tmp / f"{name}.py"
    file.write_text(text)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_before(tmp: Path):
    """The simulator of BEFORE, and its SimulatorSource driving it (the code issue 19 replaced)."""
    simulator = _load_main(tmp, "market/simulator.py", "simulator_main")
    sources = _load_main(tmp, "market/sources.py", "sources_main")
    sources.PriceSimulator = simulator.PriceSimulator
    return simulator, sources


def names(n: int, start: int = 0) -> list[str]:
    return [f"X{i:05d}" for i in range(start, start + n)]


def make_worker(modules, tickers: set[str], path: Path) -> PriceWorker:
    _, sources = modules
    source = sources.SimulatorSource(interval=0.5, seed=1)
    worker = PriceWorker(source=source, store=SQLitePriceStore(path))
    worker._priced_tickers = lambda: tickers  # the set the database would name
    return worker


def cpu_of(func) -> float:
    start = time.process_time()
    func()
    return time.process_time() - start


def tick_cpu(modules, n: int, ticks: int, adds: int, path: Path) -> tuple[float, float]:
    tickers = set(names(n))
    worker = make_worker(modules, tickers, path)
    for _ in range(5):
        worker.tick()
    gc.collect()
    steady = statistics.median(cpu_of(worker.tick) for _ in range(ticks))
    added = []
    for i in range(adds):
        tickers.add(names(1, start=n + i)[0])
        added.append(cpu_of(worker.tick))
    return steady, statistics.median(added)


def memory(modules, n: int) -> tuple[float, float]:
    """MB the simulator holds at N tickers, and the peak MB allocated by one add (set_tickers + step)."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        sim = modules[0].PriceSimulator(tick_seconds=0.5, seed=1)
        sim.set_tickers(names(n))
        sim.step()
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sim.set_tickers(names(n + 1))
        sim.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (held - base) / 1e6, (peak - held) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--adds", type=int, default=10)
    args = parser.parse_args()
    cap = settings.WATCHLIST_MAX_TICKERS
    sizes = sorted(set(args.sizes or [10, 100, cap, 1000, 2000]))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        variants = {
            "before (7cd9b3b: N x N Cholesky)": load_before(tmp),
            "after (factor model)": (after_simulator, after_sources),
        }
        print(f"cap (WATCHLIST_MAX_TICKERS) = {cap}; CPU = process time per tick, median")
        print(f"{'simulator':<32} | {'tickers':>7} | {'steady tick':>11} | {'add tick':>10} | {'held':>9} | "
              f"{'add peak':>9}")
        for n in sizes:
            for label, modules in variants.items():
                steady, add = tick_cpu(modules, n, args.ticks, args.adds, tmp / f"{modules[0].__name__}-{n}.db")
                held, peak = memory(modules, n)
                mark = " (cap)" if n == cap else ""
                print(
                    f"{label:<32} | {n:>7}{mark} | {steady * 1e3:>8.3f} ms | {add * 1e3:>7.3f} ms | "
                    f"{held:>6.3f} MB | {peak:>6.3f} MB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
