"""The database's write-ahead log is checkpointed by the price worker, not inside an order's commit
(core.db.checkpoint)."""

import sqlite3
import subprocess
import sys
import time

from conftest import ROOT, make_stack
from core.db import checkpoint
from market import hooks

WRITES = """
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("PRAGMA wal_autocheckpoint")
    print("autocheckpoint", cursor.fetchone()[0])
    cursor.execute("CREATE TABLE scratch (n INTEGER)")
for n in range(3000):  # one commit each, as orders are: about 3,000 pages of log
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO scratch VALUES (%s)", [n])
print("written", flush=True)
import sys
sys.stdin.readline()  # stay connected: the last connection to close would checkpoint the log itself
"""


def rows_in_the_database_file(path) -> int:
    """Rows of `scratch` in the database file itself: `immutable` makes SQLite ignore the write-ahead log."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM scratch").fetchone()[0]
        except sqlite3.OperationalError:  # the table itself is still only in the log
            return 0


def test_the_worker_folds_the_log_into_the_database_file_and_commits_never_do(tmp_path):
    database = tmp_path / "finally.db"
    stack = make_stack(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    writer = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", WRITES], cwd=ROOT, env=stack.env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        said = []
        while not said or said[-1] not in ("written\n", ""):
            said.append(writer.stdout.readline())
        assert "autocheckpoint 10000\n" in said and said[-1] == "written\n", said
        # SQLite's default (1,000 pages) would have checkpointed during those commits; none of them did.
        assert rows_in_the_database_file(database) == 0
        assert (tmp_path / "finally.db-wal").stat().st_size > 2000 * 4096

        stack.start_worker()
        deadline = time.monotonic() + 30
        while rows_in_the_database_file(database) < 3000 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rows_in_the_database_file(database) == 3000, stack.log("worker")
    finally:
        writer.communicate("\n", timeout=30)
        stack.stop_all()


def test_the_checkpoint_is_one_of_the_workers_periodic_tasks(settings):
    [task] = [task for task in hooks.periodic_tasks if task.name == "database-checkpoint"]
    assert task.func is checkpoint
    settings.DATABASE_CHECKPOINT_SECONDS = 0.25
    assert task.interval() == 0.25
