"""Data-layer conventions shared by every app: text UUID ids, the single local user, the writer thread."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

# The product has one user; only the data layer (model defaults, service defaults) knows its id.
DEFAULT_USER = "default"

T = TypeVar("T")


def new_id() -> str:
    return str(uuid.uuid4())


_writer: ThreadPoolExecutor | None = None


def _writer_executor() -> ThreadPoolExecutor:
    global _writer
    if _writer is None:
        # SQLite has exactly one writer at a time. Queueing this process's writes on one thread wakes
        # the next one the moment the last commits, where SQLite's busy handler would sleep and poll,
        # and the thread keeps its connection instead of opening one per request.
        workers = 1 if connection.vendor == "sqlite" else 8
        _writer = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db-writer")
    return _writer


_pool_check = threading.Lock()


def discard_broken_connections() -> None:
    """After a database error (a restart, say): have the pool test its idle connections now, in the background,
    and replace the dead ones. Left alone, psycopg's pool finds them one checkout at a time, backing off longer
    after each, and a request after the database is back could time out on a pool full of dead connections."""
    pool = getattr(connection, "pool", None)
    if pool is None or not _pool_check.acquire(blocking=False):
        return

    def check():
        try:
            pool.check()
        except Exception:
            logger.warning("could not check the database connection pool", exc_info=True)
        finally:
            _pool_check.release()

    threading.Thread(target=check, name="db-pool-check", daemon=True).start()


def _run_write(func: Callable[..., T], kwargs: dict) -> T:
    try:
        return func(**kwargs)
    except DatabaseError:
        # A broken connection must not poison every later write on this long-lived thread.
        if connection.connection is not None and not connection.is_usable():
            connection.close()
            discard_broken_connections()
        raise
    finally:
        if connection.vendor != "sqlite":
            # PostgreSQL: back to the pool, as at the end of a request. The next write checks out a connection
            # the pool has health-checked, so after a database restart no write fails on a dead connection.
            connection.close()


async def write(func: Callable[..., T], /, **kwargs) -> T:
    """Run a database write (a service call) from async code, on this process's writer thread."""
    if not settings.DB_WRITER_THREAD:
        return await sync_to_async(func)(**kwargs)
    return await sync_to_async(_run_write, thread_sensitive=False, executor=_writer_executor())(func, kwargs)
