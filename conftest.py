"""Fixtures shared by every app's tests: a private price store per test, and a real running stack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent

# `pytest --postgres`: the whole run on a throwaway PostgreSQL server (make test runs the engine's tests so).
_postgres_run = None
_postgres_missing = None


def pytest_addoption(parser):
    parser.addoption(
        "--postgres", action="store_true",
        help="run against a throwaway PostgreSQL server started for this run (and each e2e stack on its own database)",
    )


def pytest_configure(config):
    global _postgres_run
    if not config.getoption("--postgres"):
        return
    import dj_database_url
    from django.conf import settings

    from finally_site.settings import pooled_postgres
    from finally_site.tests.servers import IN_CI, PostgresServer

    global _postgres_missing
    try:
        _postgres_run = PostgresServer().start()
    except pytest.skip.Exception as exc:  # not installed, outside CI: every test is skipped, saying why
        _postgres_missing = str(exc.msg)
        return
    except BaseException as exc:  # in CI a missing server fails the run (pytest's outcomes are BaseExceptions)
        raise pytest.UsageError(f"--postgres: {getattr(exc, 'msg', exc)}" + (" (CI)" if IN_CI else "")) from None
    settings.DATABASES["default"] = pooled_postgres(dj_database_url.parse(_postgres_run.url("finally"), conn_max_age=0))
    # django.setup() already read DATABASES (nothing connected yet): let the connection handler read them again.
    from asgiref.local import Local
    from django.db import connections

    connections.__dict__.pop("settings", None)
    connections._settings = None
    connections._connections = Local(connections.thread_critical)


def pytest_collection_modifyitems(config, items):
    if _postgres_missing:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=f"--postgres: {_postgres_missing}"))


def pytest_unconfigure(config):
    if _postgres_run is not None:
        _postgres_run.destroy()


def pytest_report_header(config):
    if _postgres_run is not None:
        return f"database: PostgreSQL on 127.0.0.1:{_postgres_run.port} (--postgres)"
    return None


@pytest.fixture(scope="session", autouse=True)
def collected_static():
    """Hashed, compressed static files, as `make run` serves them: the page's {% static %} reads the manifest."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def price_store(settings, tmp_path):
    """Each test gets an empty price store of its own (and in-process writes join the test's transaction)."""
    from market.store import get_store

    settings.PRICE_STORE_PATH = str(tmp_path / "prices.db")
    settings.REDIS_URL = ""
    settings.DB_THREADS = False
    return get_store()


@pytest.fixture
def publish(price_store):
    """Write one tick to the store as the worker would: publish({"AAPL": 190.0})."""

    def _publish(prices: dict[str, float], keep: set[str] | None = None, **extra) -> int:
        return price_store.publish(
            prices=prices,
            keep=set(prices) if keep is None else keep,
            produced_at=extra.pop("produced_at", time.time()),
            source="test",
            interval=0.5,
            **extra,
        )

    return _publish


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    """A migrated database, a price worker and a uvicorn web server, as real processes."""

    port: int
    env: dict[str, str]
    data_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        # `input` goes to the command's stdin as a pipe, which is how a prompting command (adduser) reads it.
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            check=check, input=input,
        )

    def add_account(self, username: str, password: str) -> None:
        """An account (ACCOUNTS=on) as an admin makes one: `manage.py adduser`, the password on stdin."""
        made = self.manage("adduser", username, check=False, input=password + "\n")
        assert made.returncode == 0, made.stderr

    def start_worker(self) -> None:
        self.processes["worker"] = self._spawn("worker", [sys.executable, "manage.py", "price_worker"])

    def start_web(self, name: str = "web", port: int | None = None) -> None:
        """A uvicorn web process; scale-out tests start several (`web2` on its own port)."""
        port = port or self.port
        self.processes[name] = self._spawn(
            name,
            [sys.executable, "-m", "uvicorn", "finally_site.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--timeout-graceful-shutdown", "1", "--no-access-log"],
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"web server did not start:\n{self.log(name)}")

    def query(self, sql: str) -> list[tuple]:
        """Read the stack's database directly (SQLite file or PostgreSQL), behind the app's back."""
        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite"):
            import sqlite3

            with sqlite3.connect(url.split("sqlite:///", 1)[1]) as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()

    def wait_for_prices(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if httpx.get(f"{self.base_url}/api/health", timeout=2).json()["prices"]["fresh"]:
                return
            time.sleep(0.1)
        raise RuntimeError(f"no fresh prices:\n{self.log('worker')}")

    def _spawn(self, name: str, argv: list[str], **popen) -> subprocess.Popen:
        log = open(self.data_dir / f"{name}.log", "wb")
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, **popen)

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str) -> int | None:
        process = self.processes.pop(name, None)
        if process is None:
            return None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


def make_stack(data_dir: Path, *, migrate: bool = True, **env_overrides: str) -> Stack:
    port = free_port()
    database_url = f"sqlite:///{data_dir / 'finally.db'}"
    if _postgres_run is not None and "DATABASE_URL" not in env_overrides:
        database_url = _postgres_run.create_database(f"stack_{data_dir.parent.name}_{data_dir.name}".lower()[-60:])
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PRICE_STORE_PATH": str(data_dir / "prices.db"),
        "DJANGO_SECRET_KEY": "test-only-secret",
        "MASSIVE_API_KEY": "",
        "LLM_MOCK": "true",
        "PYTHONUNBUFFERED": "1",
        **env_overrides,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    stack = Stack(port=port, env=env, data_dir=data_dir)
    if migrate:
        stack.manage("migrate", "--no-input")
    return stack


@pytest.fixture
def stack_factory(tmp_path):
    """Build stacks on demand; every process started is stopped at the end of the test."""
    stacks: list[Stack] = []

    def _make(**env_overrides: str) -> Stack:
        data_dir = tmp_path / f"stack{len(stacks)}"
        data_dir.mkdir()
        stack = make_stack(data_dir, **env_overrides)
        stacks.append(stack)
        return stack

    yield _make
    for stack in stacks:
        stack.stop_all()


@pytest.fixture
def live_stack(stack_factory):
    """Worker and web server running on a fresh, migrated and seeded database, prices flowing."""
    stack = stack_factory()
    stack.start_worker()
    stack.start_web()
    stack.wait_for_prices()
    return stack


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server for the session (skipped outside CI when not installed, failed in CI)."""
    from finally_site.tests.servers import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session: the --postgres run's, or one of its own."""
    from finally_site.tests.servers import PostgresServer

    if _postgres_run is not None:
        yield _postgres_run
        return
    server = PostgresServer().start()
    yield server
    server.destroy()


@pytest.fixture
def anyio_backend():
    """Async tests run on asyncio (what uvicorn and daphne use), through anyio's pytest plugin."""
    return "asyncio"
