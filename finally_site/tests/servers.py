"""Real Redis and PostgreSQL servers for the tests: started here on 127.0.0.1, free ports, throwaway data dirs.

Debian's `redis-server` and `postgresql` packages provide them (.ci/run installs both). Outside CI a test that
needs one is skipped with a message saying what to install; in CI (CI=true) it fails instead, so a machine
without them can never pass by skipping. PostgreSQL refuses to run as root: as root it runs as the
`postgres` user the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
INSTALL_HINT = "apt-get install -y redis-server postgresql (.ci/run does it)"


def unavailable(message: str):
    """Skip outside CI, fail in CI: the scale-out tests must really run there."""
    message = f"{message}; install with: {INSTALL_HINT}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start on port {port}\n{detail}")


class RedisServer:
    """redis-server without persistence (--save ''): a restart loses everything, the hardest case for us."""

    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server") or unavailable("redis-server is not installed")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = self.workdir / "redis.log"
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--logfile", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, 10, "redis-server", log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


def _postgres_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PostgresServer:
    """A throwaway cluster (initdb), trust auth on 127.0.0.1 only; fsync off unless `durable`."""

    def __init__(self, *, durable: bool = False) -> None:
        self.bin = _postgres_bin() or unavailable("PostgreSQL (initdb, pg_ctl) is not installed")
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
                unavailable("running as root, PostgreSQL needs the 'postgres' user that its package creates")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        # Not under pytest's tmp dirs: those are private to root, and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="finally-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = free_port()
        self.durable = durable
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.running = False

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"{tool} failed: {result.stdout}\n{result.stderr}")
        return result

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
            self.running = False

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
