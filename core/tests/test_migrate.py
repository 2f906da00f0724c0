"""`migrate` serialized across processes: several started at once on a new database all succeed."""

import subprocess
import sys

import pytest

from conftest import ROOT, make_stack


@pytest.mark.parametrize("round", [1, 2])
def test_processes_migrating_a_new_database_at_once_all_succeed(tmp_path, round):
    # Unserialized, four at once failed about every other round with "table ... already exists".
    stack = make_stack(tmp_path, migrate=False)
    argv = [sys.executable, "manage.py", "migrate", "--no-input"]
    runs = [subprocess.Popen(argv, cwd=ROOT, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(4)]
    outputs = [(run.wait(timeout=120), run.stdout.read()) for run in runs]
    for code, output in outputs:
        assert code == 0, output
    check = stack.manage("shell", "-c", "from portfolio.models import Profile; print(Profile.objects.count())")
    assert check.stdout.split()[-1] == "1"  # seeded exactly once


def test_processes_starting_together_on_a_new_database_say_migrated_once(tmp_path):
    """The web server and the worker both check at start (core/startup.py); only the one that applied says so."""
    stack = make_stack(tmp_path, migrate=False)
    code = "import django; django.setup(); from core.startup import migrate_if_needed; migrate_if_needed()"
    argv = [sys.executable, "-c", code]
    env = {**stack.env, "DJANGO_SETTINGS_MODULE": "finally_site.settings"}
    runs = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(3)]
    outputs = [(run.wait(timeout=120), run.stdout.read()) for run in runs]
    assert [code for code, _ in outputs] == [0, 0, 0], outputs
    assert sum("database migrated" in output for _, output in outputs) == 1, outputs
