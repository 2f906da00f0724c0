"""scripts/start_mac.sh and stop_mac.sh against a stand-in `docker` (no Docker engine runs here): what they ask
Docker to do, that they are idempotent, and that stopping keeps the data volume. The compose files are
checked for the topology the README shows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

FAKE_DOCKER = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    # A stand-in for the docker CLI: remembers images and containers in a JSON file, logs every call.
    import json, os, sys
    state_path = os.environ["FAKE_DOCKER_STATE"]
    state = json.load(open(state_path)) if os.path.exists(state_path) else {"images": [], "containers": {}}
    args = sys.argv[1:]
    with open(state_path + ".log", "a") as log:
        log.write(json.dumps(args) + "\\n")
    def save():
        json.dump(state, open(state_path, "w"))
    def named(filters):
        name = next(f.split("name=^/")[1].rstrip("$") for f in filters if f.startswith("name="))
        return name
    cmd = args[0]
    if cmd == "info":
        sys.exit(0)
    if cmd == "image" and args[1] == "inspect":
        sys.exit(0 if args[2] in state["images"] else 1)
    if cmd == "build":
        state["images"].append(args[args.index("-t") + 1]); save(); sys.exit(0)
    if cmd == "ps":
        name = named([args[i + 1] for i, a in enumerate(args) if a == "--filter"])
        c = state["containers"].get(name)
        if c and (c == "running" or "-aq" in args):
            print("abc123")
        sys.exit(0)
    if cmd == "run":
        name = args[args.index("--name") + 1]
        if name in state["containers"]:
            sys.exit(125)
        state["containers"][name] = "running"; save(); print("abc123"); sys.exit(0)
    if cmd == "stop":
        if args[1] not in state["containers"]:
            sys.exit(1)
        state["containers"][args[1]] = "exited"; save(); sys.exit(0)
    if cmd == "rm":
        if state["containers"].get(args[1]) in (None, "running"):
            sys.exit(1)
        del state["containers"][args[1]]; save(); sys.exit(0)
    if cmd == "inspect":
        print("running healthy" if state["containers"].get(args[-1]) == "running" else "exited"); sys.exit(0)
    sys.exit(f"fake docker: unsupported {args}")
    """
)


@pytest.fixture
def docker(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(FAKE_DOCKER)
    fake.chmod(0o755)
    checkout = tmp_path / "finally"
    (checkout / "scripts").mkdir(parents=True)
    for name in ("start_mac.sh", "stop_mac.sh"):
        shutil.copy2(ROOT / "scripts" / name, checkout / "scripts" / name)
    state = tmp_path / "docker.json"
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_DOCKER_STATE": str(state)}

    class Docker:
        root = checkout

        def run(self, script: str, *args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["bash", str(checkout / "scripts" / script), *args], env=env, capture_output=True,
                                  text=True, timeout=60)

        def calls(self) -> list[list[str]]:
            log = Path(str(state) + ".log")
            calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            log.unlink(missing_ok=True)
            return calls

    return Docker()


def verbs(calls):
    return [c[0] for c in calls if c[0] not in ("info", "inspect", "ps", "image")]


def test_start_builds_once_runs_with_volume_port_and_env_and_is_idempotent(docker):
    (docker.root / ".env").write_text("LLM_MOCK=true\n")
    first = docker.run("start_mac.sh", "--no-browser")
    assert first.returncode == 0, first.stderr
    assert "http://localhost:8000" in first.stdout
    calls = docker.calls()
    assert verbs(calls) == ["build", "rm", "run"]
    run = next(c for c in calls if c[0] == "run")
    assert run[run.index("-p") + 1] == "127.0.0.1:8000:8000"
    assert run[run.index("-v") + 1] == "finally-data:/app/db"
    assert run[run.index("--env-file") + 1] == ".env" and run[-1] == "finally"

    again = docker.run("start_mac.sh", "--no-browser")
    assert again.returncode == 0 and "already running at http://localhost:8000" in again.stdout
    assert verbs(docker.calls()) == []  # nothing built, nothing started twice

    rebuilt = docker.run("start_mac.sh", "--build", "--no-browser", "--port", "8010")
    assert rebuilt.returncode == 0, rebuilt.stderr
    calls = docker.calls()
    assert verbs(calls) == ["build", "stop", "rm", "run"]
    run = next(c for c in calls if c[0] == "run")
    assert run[run.index("-p") + 1] == "127.0.0.1:8010:8000" and "http://localhost:8010" in rebuilt.stdout


def test_stop_keeps_the_volume_and_is_idempotent(docker):
    assert docker.run("start_mac.sh", "--no-browser").returncode == 0
    docker.calls()
    stopped = docker.run("stop_mac.sh")
    assert stopped.returncode == 0 and "kept in the Docker volume finally-data" in stopped.stdout
    calls = docker.calls()
    assert verbs(calls) == ["stop", "rm"]
    assert not any("volume" in c for c in calls)
    again = docker.run("stop_mac.sh")
    assert again.returncode == 0 and "not running" in again.stdout
    assert verbs(docker.calls()) == []
    # Starting again reuses the image and the same volume.
    assert docker.run("start_mac.sh", "--no-browser").returncode == 0
    assert verbs(docker.calls()) == ["rm", "run"]


def test_stop_says_so_in_one_line_when_docker_is_not_running(docker):
    # The engine is down: every call the client makes fails with its own error on stderr.
    fake = docker.root.parent / "bin" / "docker"
    fake.write_text(
        '#!/bin/sh\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2\nexit 1\n'
    )
    result = docker.run("stop_mac.sh")
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Docker is installed but not running: start Docker Desktop, then run this again to stop FinAlly."
    )
    assert "Cannot connect" not in result.stdout + result.stderr and "not running." not in result.stdout


def test_without_docker_start_says_what_to_install():
    if shutil.which("docker", path="/usr/bin:/bin"):
        pytest.skip("a real docker is installed here")
    result = subprocess.run(["bash", str(ROOT / "scripts" / "start_mac.sh")], capture_output=True, text=True,
                            env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and "install Docker Desktop" in result.stderr


def test_compose_files_describe_both_topologies():
    single = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    [(name, service)] = single["services"].items()
    assert "finally-data:/app/db" in service["volumes"] and service["build"] == "."
    scale = yaml.safe_load((ROOT / "docker-compose.scale.yml").read_text())
    services = scale["services"]
    assert set(services) == {"redis", "postgres", "worker", "web", "proxy"}
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"] == ["scripts/container.sh", "start", "worker"]
    assert services["web"]["command"] == ["scripts/container.sh", "start", "web"]
    for role in ("web", "worker"):
        env = services[role]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server web:8000" in nginx and "proxy_buffering off" in nginx
