"""Start-up: `make run` to a healthy /api/health (status "ok": database, price store, and fresh prices), venv present.

    .venv/bin/python bench/startup.py --runs 5 [--root OTHER_CHECKOUT ...]

Each run starts `make run` on a free port with its own SQLite database in a temp dir, polls /api/health every
10 ms, and stops it with SIGTERM. The first run of each checkout meets a new database (migrate, seed); the next
ones a migrated one, which is the usual start. Static files are collected once before the runs (the first
`make run` after a change to them pays collectstatic once). Checkouts are interleaved run by run.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_once(root: Path, data: Path) -> tuple[float, float]:
    """Seconds from `make run` to the first answer of /api/health, and to a healthy one."""
    port = free_port()
    env = {
        **os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{data / 'finally.db'}",
        "DJANGO_SECRET_KEY": "bench", "MASSIVE_API_KEY": "", "LOG_LEVEL": "WARNING",
    }
    env.pop("PRICE_STORE_PATH", None)
    url = f"http://127.0.0.1:{port}/api/health"
    start = time.perf_counter()
    proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=root, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = None
    try:
        with httpx.Client(timeout=1) as client:
            while time.perf_counter() - start < 30:
                try:
                    response = client.get(url)
                    first = first or time.perf_counter() - start
                    if response.status_code == 200 and response.json()["status"] == "ok":
                        return first, time.perf_counter() - start
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
        raise RuntimeError(f"{root}: not healthy within 30 s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # Seen once on main: a worker whose SIGTERM handler ran inside itself deadlocked. Not what is measured.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, action="append", help="a checkout to measure (repeat to compare)")
    args = parser.parse_args()
    roots = [r.resolve() for r in (args.root or [Path(__file__).resolve().parent.parent])]
    for root in roots:  # collected once, as after any change to the static files
        subprocess.run([str(root / ".venv/bin/python"), "manage.py", "collectstatic", "--no-input", "-v", "0"],
                       cwd=root, check=True, env={**os.environ, "DJANGO_SECRET_KEY": "bench"})
    dirs = {root: Path(tempfile.mkdtemp(prefix="finally-startup-")) for root in roots}
    results: dict[Path, list[tuple[float, float]]] = {root: [] for root in roots}
    for run in range(1, args.runs + 1):
        for root in roots:
            first, healthy = start_once(root, dirs[root])
            results[root].append((first, healthy))
            kind = "new database" if run == 1 else "migrated database"
            print(f"run {run} {root} ({kind}): first answer {first:.2f} s, healthy {healthy:.2f} s", flush=True)
    for root in roots:
        later = results[root][1:] or results[root]
        print(f"{root}: new database healthy in {results[root][0][1]:.2f} s; migrated database: median first answer "
              f"{statistics.median(f for f, _ in later):.2f} s, "
              f"median healthy {statistics.median(h for _, h in later):.2f} s")


if __name__ == "__main__":
    main()
