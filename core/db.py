"""Data-layer conventions shared by every app: text UUID ids, the single local user, the writer and the readers."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection, transaction

logger = logging.getLogger(__name__)

# The product has one user; only the data layer (model defaults, service defaults) knows its id.
DEFAULT_USER = "default"

T = TypeVar("T")


def new_id() -> str:
    """A UUID version 7 (RFC 9562): milliseconds since 1970 first, then 74 random bits.

    Time-ordered, so each new trade or snapshot lands at the right-hand edge of its primary-key index instead of
    on a random page of it: fewer pages written per commit as the tables grow (an order cost 0.05-0.09 ms less
    CPU with 20,000 trades in the table, bench/README.md). Still a UUID, still unguessable enough for ids.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big") >> 6  # 74 bits: 12 of rand_a, 62 of rand_b
    value = (millis & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | (rand & (2**62 - 1))
    return str(uuid.UUID(int=value))


def checkpoint() -> None:
    """Copy what SQLite's write-ahead log holds back into the database file: the price worker's periodic task.

    Done here, off the order path: a checkpoint made by a committing connection (SQLite's autocheckpoint) runs
    inside that commit, and with it the two fsyncs of `synchronous=NORMAL` (the log's, then the file's), which
    made every ~75th order take 3 ms instead of 0.2 (bench/README.md). PASSIVE never waits for a writer and never
    blocks one. It also bounds what a power loss can take: the log is synced to disk at each checkpoint, so orders
    committed before the last one survive it. PostgreSQL checkpoints on its own.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


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


def _release_broken_connection() -> None:
    """After a DatabaseError: a broken connection must not poison every later write on a long-lived thread."""
    if connection.connection is not None and not connection.is_usable():
        connection.close()
        discard_broken_connections()


def batchable(func: Callable[..., T]) -> Callable[..., T]:
    """Mark a write that may share its transaction with other writes of the same kind (group commit).

    It must be atomic by itself (`transaction.atomic`), so that inside the writer's transaction it runs in a
    savepoint of its own: when it raises, its own statements roll back and the others' stay.
    """
    func.batchable = True
    return func


# The most writes one transaction groups: each waits for the commit of the whole group before it is answered.
MAX_BATCH = 32


@dataclass
class _Job:
    func: Callable
    kwargs: dict
    context: contextvars.Context
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    # Set (from the event loop) when the caller stopped waiting: a client that hung up, a request cancelled. A job
    # abandoned before it started is skipped: an order whose client is gone is not filled behind its back (it
    # could not learn of it, and a retry without a client_order_id would fill it twice). "Started" is the moment
    # its own statements begin: a job in a group waits there for the writes ahead of it, and is checked again
    # just before its turn. Once started, it runs, and commits with its group.
    # A plain flag, not a threading.Event (a lock and a condition per write): the event loop sets it, the writer
    # reads it, and nobody ever waits on it.
    abandoned: bool = False

    @property
    def batchable(self) -> bool:
        return getattr(self.func, "batchable", False)

    def call(self):
        return self.context.run(self.func, **self.kwargs)

    def settle(self, result=None, error: BaseException | None = None) -> None:
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, result, error)
        except RuntimeError:  # the caller's event loop has closed (shutdown): nobody is left to answer
            logger.warning("a database write finished after its event loop closed; its answer is dropped")


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.done():  # the request went away; the write itself has happened (or not) regardless
        return
    if isinstance(error, StopIteration):  # a Future refuses it; say what happened instead
        error = RuntimeError(f"a database write raised {error!r}")
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Writer:
    """This process's database writes, on threads of their own, fed by one queue.

    SQLite has exactly one writer at a time, so on SQLite there is one thread: the next write starts the moment
    the last one committed, where SQLite's busy handler would sleep and poll, and the thread keeps its connection
    instead of opening one per request. Writes marked `batchable` (market orders) that are waiting together run
    one after another in ONE transaction, each in its own savepoint, and each is answered with its own result or
    error once that transaction has committed (group commit): the commit, the BEGIN and the wake-ups are paid
    once per group instead of once per order. A failed write rolls back only its savepoint; a failed commit
    fails every write of the group, none of which was answered before it.

    On PostgreSQL several threads write at once, each write in its own transaction: rows are locked per user,
    and a group holding several users' row locks could deadlock with another thread's group.
    """

    def __init__(self, *, threads: int, group: bool) -> None:
        self.group = group
        # PostgreSQL: each write returns its connection to the pool (_run_one). Read here, once, not after every
        # write (through django.db.connection an attribute costs a few µs), and not on the writer's thread,
        # where a failure outside its loop would end it.
        self.pooled = connection.vendor != "sqlite"
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        for n in range(threads):
            threading.Thread(target=self._serve, name=f"db-writer-{n}", daemon=True).start()

    async def run(self, func: Callable[..., T], kwargs: dict) -> T:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        # The caller's context variables go with the write, as sync_to_async would carry them.
        job = _Job(func, kwargs, contextvars.copy_context(), loop, future)
        future.add_done_callback(lambda done: setattr(job, "abandoned", done.cancelled()))
        self._queue.put(job)
        return await future

    def _serve(self) -> None:
        carried: _Job | None = None
        while True:
            job, carried = carried or self._queue.get(), None
            if job.abandoned:
                continue
            batch = [job]
            while self.group and job.batchable and len(batch) < MAX_BATCH:
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    break
                if waiting.abandoned:
                    continue
                if not waiting.batchable:
                    carried = waiting  # runs alone, right after this group
                    break
                batch.append(waiting)
            try:
                if len(batch) == 1:
                    self._run_one(job, pooled=self.pooled)
                else:
                    self._run_group(batch)
            except BaseException:  # never let one write end the thread every later write waits on
                logger.exception("the database writer failed around a write; carrying on")

    @staticmethod
    def _run_one(job: _Job, *, pooled: bool) -> None:
        try:
            result = job.call()
        except DatabaseError as exc:
            _release_broken_connection()
            job.settle(error=exc)
        except BaseException as exc:  # whatever it is, its caller hears of it and the thread carries on
            job.settle(error=exc)
        else:
            job.settle(result)
        finally:
            if pooled:
                # PostgreSQL: back to the pool, as at the end of a request. The next write checks out a connection
                # the pool has health-checked, so after a database restart no write fails on a dead one.
                connection.close()

    @staticmethod
    def _run_group(batch: list[_Job]) -> None:
        outcomes: list[tuple[object, BaseException | None]] = []
        try:
            with transaction.atomic():
                for job in batch:
                    if job.abandoned:  # its client hung up while the writes ahead of it ran: it never starts
                        outcomes.append((None, None))
                        continue
                    try:
                        outcomes.append((job.call(), None))
                    except BaseException as exc:  # its savepoint is rolled back; the group carries on
                        outcomes.append((None, exc))
                if connection.needs_rollback:
                    # A savepoint could not be rolled back (a broken connection): the whole group is lost.
                    raise DatabaseError("The database connection failed during a group of writes.")
        except BaseException as exc:  # nothing of the group was committed: every write of it failed
            if isinstance(exc, DatabaseError):
                _release_broken_connection()
            outcomes = [(None, _own_copy(exc)) for _ in batch]
        for job, (result, error) in zip(batch, outcomes, strict=True):
            job.settle(result, error)


def _own_copy(exc: BaseException) -> BaseException:
    """The group's failure for one of its callers: each awaits and re-raises its own exception object (one object
    shared by 32 callers would collect all their tracebacks), caused by the original."""
    try:
        copy = type(exc)(*exc.args)
    except Exception:  # an exception type that cannot be rebuilt from its args
        copy = DatabaseError(str(exc))
    copy.__cause__ = exc
    return copy


_writer: Writer | None = None
_writer_lock = threading.Lock()


def _get_writer() -> Writer:
    global _writer
    with _writer_lock:
        if _writer is None:
            sqlite = connection.vendor == "sqlite"
            _writer = Writer(threads=1 if sqlite else 8, group=sqlite)
        return _writer


async def write(func: Callable[..., T], /, **kwargs) -> T:
    """Run a database write (a service call) from async code, on this process's writer (see Writer)."""
    if not settings.DB_THREADS:
        return await sync_to_async(func)(**kwargs)
    return await _get_writer().run(func, kwargs)


# SQLite: the machine's cores, since a read there is CPU (the query, the rendering) and the GIL is shared anyway.
# PostgreSQL: as many as the writer's, since its reads are never cached (no cheap version) and wait on the network.
READER_THREADS = {"sqlite": 2, "other": 8}


class Readers:
    """This process's database reads from async code, on a few threads that keep their connection.

    Where a sync view or `sync_to_async` would start a thread for the request and open (and, at its end, close) a
    database connection on it, about 1.5 ms on SQLite (connect, the PRAGMAs, close) for a read that takes 0.1 ms,
    these threads live as long as the process and keep theirs, as the writer's do. On SQLite each statement outside
    a transaction reads the latest commit (WAL), so a kept connection never reads an old state; on PostgreSQL each
    read returns its connection to the pool, as the writer does, so a restarted server never leaves a dead one.
    """

    def __init__(self, *, threads: int) -> None:
        self.pooled = connection.vendor != "sqlite"  # read once, here (see Writer)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db-reader")

    async def run(self, func: Callable[..., T], kwargs: dict) -> T:
        # The caller's context variables go with the read, as sync_to_async would carry them.
        call = functools.partial(contextvars.copy_context().run, self._call, func, kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def _call(self, func: Callable[..., T], kwargs: dict) -> T:
        try:
            return func(**kwargs)
        except DatabaseError:
            _release_broken_connection()
            raise
        finally:
            if self.pooled:
                connection.close()


_readers: Readers | None = None


def _get_readers() -> Readers:
    global _readers
    with _writer_lock:
        if _readers is None:
            _readers = Readers(threads=READER_THREADS["sqlite" if connection.vendor == "sqlite" else "other"])
        return _readers


async def read(func: Callable[..., T], /, **kwargs) -> T:
    """Run a database read (a selector, a rendering) from async code on this process's readers (see Readers)."""
    if not settings.DB_THREADS:
        return await sync_to_async(func)(**kwargs)
    return await _get_readers().run(func, kwargs)
