"""Settings from the environment: bad numbers refused at start, each instance's price store its own."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DJANGO_SECRET_KEY": "test-only", **env}
    full_env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("MASSIVE_POLL_SECONDS", "0"),
        ("MASSIVE_POLL_SECONDS", "abc"),
        ("MASSIVE_CALLS_PER_MINUTE", "0"),
        ("MASSIVE_POLL_SECONDS", "nan"),
        ("PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS", "-1"),
        ("MARKET_TICK_SECONDS", "0"),
        ("MARKET_TICK_SECONDS", "inf"),
        ("PRICE_HISTORY_SECONDS", "ten"),
        ("SIMULATOR_SEED", "1.5"),
    ],
)
def test_a_bad_numeric_setting_stops_start_up_with_a_clear_message(tmp_path, name, value):
    result = run_manage("check", **{name: value, "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"})
    assert result.returncode != 0
    assert f"FinAlly configuration error: {name} must be" in result.stderr
    assert repr(value) in result.stderr
    assert "Traceback" not in result.stderr


def settings_of(*names: str, **env: str) -> list[str]:
    """The settings module as a fresh process computes it (no database driver needed)."""
    code = f"import finally_site.settings as s; print(*[getattr(s, n) for n in {names!r}], sep='\\n')"
    full_env = {**os.environ, "DJANGO_SECRET_KEY": "test-only", **env}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_the_price_store_sits_beside_its_sqlite_database_in_a_folder_made_for_it(tmp_path):
    target = tmp_path / "does" / "not" / "exist" / "finally.db"
    [store] = settings_of("PRICE_STORE_PATH", DATABASE_URL=f"sqlite:///{target}", PRICE_STORE_PATH="")
    assert store == str(target.with_name("finally-prices.db"))
    assert target.parent.is_dir()


def test_two_sqlite_files_in_one_folder_get_two_stores(tmp_path):
    [a] = settings_of("PRICE_STORE_PATH", DATABASE_URL=f"sqlite:///{tmp_path / 'a.db'}", PRICE_STORE_PATH="")
    [b] = settings_of("PRICE_STORE_PATH", DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}", PRICE_STORE_PATH="")
    assert a != b


def test_a_postgresql_instance_gets_a_store_named_after_its_database():
    [store] = settings_of(
        "PRICE_STORE_PATH", DATABASE_URL="postgres://u:p@db.internal:5433/finally_two", PRICE_STORE_PATH=""
    )
    assert store.endswith("db/prices-finally_two_db.internal_5433.db")
    [explicit] = settings_of(
        "PRICE_STORE_PATH", DATABASE_URL="postgres://u:p@h/x", PRICE_STORE_PATH="/srv/prices/x.db"
    )
    assert explicit == "/srv/prices/x.db"


def test_env_example_lists_every_setting_the_settings_read():
    source = (ROOT / "finally_site" / "settings.py").read_text()
    read = set(re.findall(r'(?:environ\.get|environ\[|env_bool|env_number|env_list)\(?"([A-Z_]+)"', source))
    assert len(read) >= 19
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z_]+)=", example, flags=re.MULTILINE))
    assert read - listed == set()
    assert {"PORT", "HOST"} <= listed
    for name in read:
        line = example.split(f"{name}=")[0].rstrip("# \n").rsplit("\n", 1)[-1]
        assert line.startswith("#"), f"{name} has no comment above it"


def test_the_http_limits_come_from_the_environment_with_their_defaults():
    names = ("DATA_UPLOAD_MAX_MEMORY_SIZE", "MAX_REQUEST_HEADER_BYTES", "MAX_STREAMS_PER_PROCESS")
    clean = {name: "" for name in ("MAX_REQUEST_BODY_BYTES", "MAX_REQUEST_HEADER_BYTES", "MAX_STREAMS_PER_PROCESS")}
    assert settings_of(*names, **clean) == ["65536", "32768", "5000"]
    assert settings_of(
        *names, MAX_REQUEST_BODY_BYTES="100000", MAX_REQUEST_HEADER_BYTES="8192", MAX_STREAMS_PER_PROCESS="2",
    ) == ["100000", "8192", "2"]


@pytest.mark.parametrize(
    "name, value",
    [("MAX_REQUEST_BODY_BYTES", "100"), ("MAX_REQUEST_BODY_BYTES", "64k"), ("MAX_REQUEST_HEADER_BYTES", "0"),
     ("MAX_STREAMS_PER_PROCESS", "0")],
)
def test_a_bad_http_limit_stops_start_up(tmp_path, name, value):
    result = run_manage("check", **{name: value, "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"})
    assert result.returncode != 0
    assert f"FinAlly configuration error: {name} must be" in result.stderr
