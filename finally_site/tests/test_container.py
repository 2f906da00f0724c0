"""The Docker image's steps, run outside Docker: the Dockerfile is a thin wrapper over scripts/container.sh,
so installing from a clean venv, collecting static files, starting as PID 1 would, the HEALTHCHECK and a
`docker stop` (SIGTERM to that one process) are all exercised here for real."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from conftest import ROOT, free_port

pytestmark = pytest.mark.e2e

COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "db", "staticfiles", "__pycache__", ".pytest_cache", ".hypothesis", ".env", "*.migrate.lock"
)


def test_the_dockerfile_is_the_script():
    dockerfile = (ROOT / "Dockerfile").read_text()
    steps = re.findall(r"^(RUN|CMD|HEALTHCHECK|FROM|USER|VOLUME|EXPOSE)\b(.*)$", dockerfile, flags=re.MULTILINE)
    runs = [args.strip() for kind, args in steps if kind == "RUN"]
    assert runs[1] == "scripts/container.sh install"
    assert runs[2].startswith("scripts/container.sh build")
    assert ("CMD", ' ["scripts/container.sh", "start"]') in steps
    assert any(kind == "HEALTHCHECK" and '"scripts/container.sh", "health"' in args for kind, args in steps)
    assert ("USER", " finally") in steps and ("VOLUME", " /app/db") in steps and ("EXPOSE", " 8000") in steps
    assert re.search(r"^FROM python:3\.\d+-slim$", dockerfile, flags=re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", ".git", "db/*"} <= set(ignored)


def test_install_build_start_healthy_and_stop_on_sigterm(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(ROOT, app, ignore=COPY_IGNORE)
    (app / "db").mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "PRICE_STORE_PATH", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")}
    # A clean venv from the base interpreter (not ours); pip's wheel cache is reused, nothing is preinstalled.
    port = free_port()
    env.update(
        VENV=str(tmp_path / "venv"), PYTHON=getattr(sys, "_base_executable", sys.executable), BIND_HOST="127.0.0.1",
        BIND_PORT=str(port), PORT="1", HOST="0.0.0.0", PYTHONUNBUFFERED="1", MASSIVE_API_KEY="", LLM_MOCK="true",
        DJANGO_SECRET_KEY="test-only-secret",
    )
    script = str(app / "scripts" / "container.sh")
    installed = subprocess.run([script, "install"], env=env, capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    built = subprocess.run([script, "build"], env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    assert (app / "staticfiles").is_dir() and any((app / "staticfiles").rglob("*.js"))
    assert not (app / "db" / ".secret_key").exists()  # no secret baked in at build time

    log = open(tmp_path / "container.log", "wb")
    process = subprocess.Popen([script, "start"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/health"  # BIND_PORT wins over the PORT an --env-file may carry
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(url, timeout=2).json()
                if health["prices"]["fresh"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        output = (tmp_path / "container.log").read_text(errors="replace")
        assert health and health["prices"]["fresh"] and health["database"], output
        assert subprocess.run([script, "health"], env=env).returncode == 0  # the image's HEALTHCHECK
        assert (app / "db" / "finally.db").exists()  # the data sits in the volume's folder
        children = psutil.Process(process.pid).children(recursive=True)
        # The web server (uvicorn, inside `manage.py serve`, which prepared the database) and the worker.
        assert any("manage.py serve" in " ".join(c.cmdline()) for c in children)
        assert any("price_worker" in " ".join(c.cmdline()) for c in children)

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)  # what `docker stop` sends to PID 1, and only to it
        assert process.wait(timeout=20) == 0
        assert time.monotonic() - started < 10  # within docker stop's default grace period
        time.sleep(0.5)
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert subprocess.run([script, "health"], env=env, capture_output=True).returncode != 0
