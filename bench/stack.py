"""Start a throwaway FinAlly for a benchmark run: a migrated database, the price worker, N web processes.

Embedded (the default): SQLite and the SQLite price store. `database="postgres"` / `store="redis"`: a
throwaway PostgreSQL (durable: fsync and synchronous_commit as shipped) and Redis started here, as the tests do.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

SERVERS = {
    # uvicorn with uvloop + httptools (what `make run` uses)
    "uvicorn": ["-m", "uvicorn", "finally_site.asgi:application", "--host", "127.0.0.1", "--port", "{port}",
                "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "1"],
    # two uvicorn worker processes behind one socket (uses both cores; each has its own hub)
    "uvicorn-2w": ["-m", "uvicorn", "finally_site.asgi:application", "--host", "127.0.0.1", "--port", "{port}",
                   "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "1", "--workers", "2"],
    # uvicorn on the plain asyncio loop and the pure-Python h11 parser
    "uvicorn-h11": ["-m", "uvicorn", "finally_site.asgi:application", "--host", "127.0.0.1", "--port", "{port}",
                    "--no-access-log", "--log-level", "warning", "--loop", "asyncio", "--http", "h11",
                    "--timeout-graceful-shutdown", "1"],
    # no Django at all: a bare ASGI app answering like an order, on the same uvicorn (bench/floor.py)
    "bare-asgi": ["-m", "uvicorn", "bench.floor_asgi:application", "--host", "127.0.0.1", "--port", "{port}",
                  "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "1"],
    # daphne, the product owner's named choice
    "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "finally_site.asgi:application"],
}


def percentile(values, p: float) -> float:
    """The p-th percentile of `values` (the nearest rank below), NaN for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def django_on_a_throwaway_database(name: str, *, root: Path = ROOT, postgres: bool = False) -> None:
    """Django set up in this process on a throwaway database, for a benchmark that calls the code directly:
    SQLite in a temp dir, or a throwaway PostgreSQL (removed at exit), the price store beside it. `root`: the
    checkout whose code runs (another one, for a before/after on the same machine)."""
    sys.path.insert(0, str(root))
    os.chdir(root)
    workdir = tempfile.mkdtemp(prefix=f"bench-{name}-")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/finally.db"
    if postgres:
        import atexit

        from finally_site.tests.servers import PostgresServer

        server = PostgresServer().start()
        atexit.register(server.destroy)
        os.environ["DATABASE_URL"] = server.create_database(f"bench_{name}")
    os.environ["PRICE_STORE_PATH"] = f"{workdir}/prices.db"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finally_site.settings")
    import django

    django.setup()


def load_stack(root: Path):
    """The BenchStack class of another checkout (its own bench/stack.py), for A/B runs side by side."""
    # stack.py imports the project's test servers (finally_site.tests.servers) when it starts a stack.
    if str(root.resolve()) not in sys.path:
        sys.path.append(str(root.resolve()))
    spec = importlib.util.spec_from_file_location(f"bench_stack_{abs(hash(root))}", root / "bench" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BenchStack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BenchStack:
    def __init__(
        self, server: str = "uvicorn", worker: bool = True, extra_env: dict | None = None, *, webs: int = 1,
        database: str = "sqlite", store: str = "sqlite",
    ) -> None:
        self.server = server
        self.with_worker = worker
        self.dir = Path(tempfile.mkdtemp(prefix="finally-bench-"))
        self.ports = [free_port() for _ in range(webs)]
        self.port = self.ports[0]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.base_urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.database = database
        self.store = store
        self.servers: list = []
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.dir / 'finally.db'}",
            "PRICE_STORE_PATH": str(self.dir / "prices.db"),
            "DJANGO_SECRET_KEY": "bench",
            "MASSIVE_API_KEY": "",
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> BenchStack:
        try:
            self._start()
        except BaseException:
            self.__exit__()  # a stack that did not come up leaves no process behind
            raise
        return self

    def _start(self) -> None:
        from finally_site.tests.servers import PostgresServer, RedisServer

        if self.database == "postgres":
            postgres = PostgresServer(durable=True).start()
            self.servers.append(postgres)
            self.env["DATABASE_URL"] = postgres.create_database("bench")
        if self.store == "redis":
            redis = RedisServer(self.dir / "redis").start()
            self.servers.append(redis)
            self.env["REDIS_URL"] = redis.url
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)
        if self.with_worker:
            self.procs["worker"] = self._spawn("worker", [sys.executable, "manage.py", "price_worker"])
        for i, port in enumerate(self.ports):
            argv = [sys.executable] + [a.format(port=port) for a in SERVERS[self.server]]
            self.procs["web" if i == 0 else f"web{i + 1}"] = self._spawn("web" if i == 0 else f"web{i + 1}", argv)
        deadline = time.monotonic() + 30
        for url in self.base_urls:
            while True:
                try:
                    health = httpx.get(url + "/api/health", timeout=1).json()
                    if not self.with_worker or health["prices"]["fresh"]:
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("stack did not come up")
                time.sleep(0.2)

    @property
    def web_pids(self) -> list[int]:
        return [proc.pid for name, proc in self.procs.items() if name.startswith("web")]

    def query(self, sql: str) -> list[tuple]:
        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite"):
            import sqlite3

            with sqlite3.connect(url.split("sqlite:///", 1)[1]) as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "wb")
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def web_pid(self) -> int:
        return self.procs["web"].pid

    def __exit__(self, *exc) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in self.servers:
            server.destroy() if hasattr(server, "destroy") else server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
