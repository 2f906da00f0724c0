"""`make run`'s script as a user meets it: settings from .env, a crashed worker started again, clean stops.

Each test runs scripts/run.sh in a copy of the checkout, so it can write a .env of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from conftest import ROOT, free_port
from market.tests.sse_client import StreamRecorder

pytestmark = pytest.mark.e2e

COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "db", "staticfiles", "__pycache__", ".pytest_cache", ".hypothesis", ".env"
)


@pytest.fixture
def checkout(tmp_path) -> Path:
    copy = tmp_path / "finally"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORE)
    (copy / "db").mkdir()
    return copy


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST", "DJANGO_SETTINGS_MODULE", "DATABASE_URL",
                                                             "PRICE_STORE_PATH")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", PYTHONUNBUFFERED="1", MASSIVE_API_KEY="", **extra)
    return env


class Running:
    def __init__(self, checkout: Path, env: dict[str, str], port: int, migrate: bool = True):
        self.port = port
        self.log_path = checkout / "run.log"
        if migrate:
            subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=checkout, env=env, check=True,
                           capture_output=True)
        self.process = subprocess.Popen(
            ["bash", "scripts/run.sh"], cwd=checkout, env=env, stdout=open(self.log_path, "wb"),
            stderr=subprocess.STDOUT, start_new_session=True,  # its own process group, as in a terminal
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> dict | None:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=2).json()
        except httpx.HTTPError:
            return None

    def wait_fresh(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health()
            if health and health["prices"]["fresh"]:
                return
            time.sleep(0.1)
        raise AssertionError(f"prices never fresh:\n{self.log()}")

    def workers(self) -> list[psutil.Process]:
        tree = psutil.Process(self.process.pid).children(recursive=True)
        return [p for p in tree if "price_worker" in " ".join(self._cmdline(p))]

    @staticmethod
    def _cmdline(process: psutil.Process) -> list[str]:
        try:
            return process.cmdline()
        except psutil.Error:  # it exited (or is a zombie) between listing and reading it
            return []

    def interrupt(self, timeout: float = 10) -> float:
        """Ctrl-C in a terminal: SIGINT to the whole process group. Returns how long everything took to end."""
        tree = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        start = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        gone, alive = psutil.wait_procs(tree, timeout=timeout)
        for process in alive:
            process.kill()
        assert not alive, f"still running after {timeout}s: {[p.cmdline() for p in alive]}\n{self.log()}"
        return time.monotonic() - start

    def kill(self) -> None:
        if self.process.poll() is None:
            for process in psutil.Process(self.process.pid).children(recursive=True):
                process.kill()
            self.process.kill()
            self.process.wait()


@pytest.fixture
def run_script(checkout):
    started: list[Running] = []

    def start(env: dict[str, str], port: int, migrate: bool = True) -> Running:
        running = Running(checkout, env, port, migrate)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


def test_port_and_host_come_from_dotenv(checkout, run_script):
    port = free_port()
    (checkout / ".env").write_text(f"PORT={port}\nHOST=127.0.0.1  # as .env.example says\nDJANGO_SECRET_KEY=t\n")
    running = run_script(environment(), port)
    running.wait_fresh()
    assert f"on http://127.0.0.1:{port}" in running.log()
    assert running.interrupt() < 8


def test_a_killed_worker_is_started_again_while_the_stream_stays_connected(checkout, run_script):
    port = free_port()
    running = run_script(environment(PORT=str(port), DJANGO_SECRET_KEY="t"), port)
    running.wait_fresh()
    [first] = running.workers()
    with StreamRecorder(f"{running.url}/api/stream/prices") as stream:
        assert stream.wait_for(lambda events: len(events) >= 10, timeout=10) is not None
        first.kill()  # SIGKILL: a crash, no clean-up
        first.wait(5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not running.workers():
            time.sleep(0.1)
        [second] = running.workers()
        assert second.pid != first.pid
        running.wait_fresh()
        restarted = time.monotonic()
        assert stream.wait_for(lambda events: events and events[-1][0] > restarted + 1, timeout=10) is not None
        assert stream._thread.is_alive(), "the price stream was closed"
        assert running.health()["status"] == "ok"
    assert "starting it again" in running.log()
    assert running.interrupt() < 8


def test_sigterm_to_the_script_stops_everything(checkout, run_script):
    port = free_port()
    running = run_script(environment(PORT=str(port), DJANGO_SECRET_KEY="t"), port)
    running.wait_fresh()
    tree = [psutil.Process(running.process.pid), *psutil.Process(running.process.pid).children(recursive=True)]
    running.process.send_signal(signal.SIGTERM)
    gone, alive = psutil.wait_procs(tree, timeout=8)
    assert not alive, [p.cmdline() for p in alive]


def test_a_new_checkout_is_migrated_seeded_and_collected_at_start_and_the_next_start_does_neither(checkout, run_script):
    """No separate migrate or collectstatic step: the web server and the worker prepare what is missing, once."""
    port = free_port()
    env = environment(PORT=str(port), DJANGO_SECRET_KEY="t")
    running = run_script(env, port, migrate=False)
    running.wait_fresh()
    first_log = running.log()
    assert first_log.count("seeded user default") == 1, first_log
    assert "static files collected" in first_log
    assert httpx.get(f"{running.url}/").status_code == 200  # the page finds its hashed static files
    trade = httpx.post(f"{running.url}/api/portfolio/trade", json={"ticker": "AAPL", "quantity": 1, "side": "buy"})
    assert trade.status_code == 201
    assert running.interrupt() < 8

    running = run_script(env, port, migrate=False)
    running.wait_fresh()
    second_log = running.log()[len(first_log):] if running.log().startswith(first_log) else running.log()
    assert "seeded" not in second_log and "migrated" not in second_log and "collected" not in second_log, second_log
    assert httpx.get(f"{running.url}/api/portfolio").json()["positions"][0]["ticker"] == "AAPL"
    assert running.interrupt() < 8
