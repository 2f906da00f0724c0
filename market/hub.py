"""One price hub per web process: one thread notices each new tick once and every open stream shares it.

The thread waits on the store's watcher for the next tick (the embedded store: its cheap change counter,
PRAGMA data_version, polled every few milliseconds; Redis: one pub/sub subscription per process), renders
once each stream format that some open stream of this process uses (a format nobody streams is not rendered
at all, issue 19), and wakes all streams of this process through one asyncio.Event. A slow client simply
skips to the latest tick; nothing queues up per client. If the store goes away the thread logs, waits and
resumes; the streams stay open and carry on from the next tick.

What belongs to one user rides the same streams: a stream opened for a user (the page's) is counted per user, and
after each tick the reader thread asks the registered `user_versions` (portfolio's: a counter on the book's row that
every fill and reset moves, in the fill's own transaction) for the versions of the users with a stream open in
this process. One query per tick per web process, whoever made the change: another tab, the assistant, another web
process, the worker. A user whose version moved gets a `book` event on each of their streams, and only theirs; the
tick's render itself stays the same bytes for everyone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace

from django.db import connection

from core import metrics
from core.fastpath import database_version
from market import hooks
from market.quotes import StoreUnavailable, Tick
from market.store import PriceStore

logger = logging.getLogger(__name__)

WAIT_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
USERS_PER_QUERY = 500  # users' versions read per query (an IN list; SQLite allows far more, this keeps it small)
RETRY_SECONDS = 1.0
# The worker matches resting orders right after it publishes a tick (portfolio.orders.match_tick: a few ms), so a
# fill usually commits just after this process read the versions for that tick, and would reach its owner's page
# only with the next tick. One more read this long after each tick tells it at once (bench/README.md, issue 22:
# a fill told to its owner's page at p90 503 ms before it, 52 ms with it).
FOLLOW_UP_SECONDS = 0.05

Renderer = Callable[[Tick], bytes]


@dataclass(frozen=True)
class Published:
    """A tick with its rendered stream formats (bytes shared by every client): those some stream used when the
    tick arrived, and any other rendered later on first demand (see PriceHub.frame)."""

    tick: Tick
    frames: dict[str, bytes] = field(default_factory=dict)


class PriceHub:
    def __init__(self, store: PriceStore, renderers: dict[str, Renderer]) -> None:
        self.store = store
        self.renderers = renderers
        self.latest: Published | None = None
        self.clients = 0
        # Open streams per format: the reader thread renders only the formats someone streams.
        self.streams: dict[str, int] = dict.fromkeys(renderers, 0)
        # Open streams per user, and the last version read of each of those users (see the module's docstring).
        self.users: Counter[str] = Counter()
        self.user_versions: dict[str, int] = {}
        self._read_at: int | None = None  # the database's change counter at the last read of the versions
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    # --- event-loop side ---------------------------------------------------------------------------

    def attach(self) -> None:
        """Called by each stream on its event loop; starts the reader thread on first use."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is not loop:
                # A new loop (a test's, or after a restart of the server's loop): rebind the wake-up event.
                self._loop = loop
                self._event = asyncio.Event()
            if self._thread is None:
                self._thread = threading.Thread(target=self._read_ticks, name="price-hub", daemon=True)
                self._thread.start()

    async def wait(self) -> None:
        """Sleep until the next tick or keep-alive; then read `latest`."""
        await self._event.wait()

    def frame(self, published: Published, fmt: str, only: Collection[str] | None = None) -> bytes:
        """`published` in format `fmt`: the shared bytes, rendered now if the reader thread did not (no stream of
        that format was open when the tick arrived). With `only`, the tick without any ticker not in it, rendered
        for this one caller when that leaves something out."""
        tick = published.tick
        if only is not None and any(q.ticker not in only for q in tick.quotes):
            return self.renderers[fmt](replace(tick, quotes=tuple(q for q in tick.quotes if q.ticker in only)))
        frame = published.frames.get(fmt)
        if frame is None:
            frame = published.frames.setdefault(fmt, self.renderers[fmt](tick))
        return frame

    def _wake(self, published: Published | None) -> None:
        if published is not None:
            self.latest = published
        event, self._event = self._event, asyncio.Event()
        event.set()

    # --- reader thread -----------------------------------------------------------------------------

    def _read_ticks(self) -> None:
        watcher = self.store.watch()
        last_seq = None
        last_wake = time.monotonic()
        failing = False
        follow_up = None  # when to read the users' versions again after a tick, with no tick of its own
        try:
            while not self._stopped.is_set():
                published = None
                try:
                    wait = WAIT_SECONDS if follow_up is None else max(0.0, follow_up - time.monotonic())
                    tick = watcher.next_tick(wait)
                    if failing:
                        logger.info("price hub reading %s again", self.store.name)
                        failing = False
                    if tick is not None and tick.seq != last_seq and tick.seq > 0:  # seq 0: the worker never ran
                        last_seq = tick.seq
                        published = Published(
                            tick, {name: render(tick) for name, render in self.renderers.items() if self.streams[name]}
                        )
                except StoreUnavailable as exc:
                    if not failing:
                        logger.warning("price hub cannot read the store, retrying every %.0fs: %s", RETRY_SECONDS, exc)
                    failing = True
                    self._stopped.wait(RETRY_SECONDS)
                except Exception:
                    logger.exception("price hub could not read the store")
                    self._stopped.wait(RETRY_SECONDS)
                users_changed = self._read_user_versions()
                now = time.monotonic()
                if published is not None:
                    follow_up = now + FOLLOW_UP_SECONDS
                elif follow_up is not None and now >= follow_up:
                    follow_up = None
                if published is not None or users_changed or now - last_wake >= KEEPALIVE_SECONDS:
                    last_wake = now
                    self._post(published)
                    if published is not None:  # the worker's clock and ours: the same machine's, or NTP's
                        metrics.FANOUT_SECONDS.observe(max(0.0, time.time() - published.tick.produced_at))
        finally:
            watcher.close()

    def _read_user_versions(self) -> bool:
        """Read the versions of the users with a stream open here; True if any moved. A failure is logged and the
        versions are read again at the next tick: a page misses nothing but a moment."""
        users = [user for user, count in list(self.users.items()) if count > 0]
        if not users or not hooks.user_versions:
            if not users:
                self.user_versions = {}
            return False
        # SQLite: nothing was committed since the last read (its change counter), and no one new came: no query.
        database = database_version()
        if database is not None and database == self._read_at and self.user_versions.keys() >= set(users):
            return False
        versions: dict[str, int] = {}
        try:
            for read in hooks.user_versions:
                for start in range(0, len(users), USERS_PER_QUERY):
                    versions.update(read(users[start:start + USERS_PER_QUERY]))
        except Exception:
            logger.warning("price hub could not read the users' versions; trying again next tick", exc_info=True)
            return False
        finally:
            if connection.vendor != "sqlite":
                connection.close()  # PostgreSQL: back to the pool between ticks, never held by this thread
        self._read_at = database
        changed = any(self.user_versions.get(user) not in (None, version) for user, version in versions.items())
        # Swapped whole: the event loop reads this dict while the thread makes the next one.
        self.user_versions = versions
        return changed

    def _post(self, published: Published | None) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._wake, published)
        except RuntimeError:
            # The loop closed (end of a test, server shutdown); keep the tick for the next loop.
            if published is not None:
                self.latest = published

    def stop(self) -> None:
        self._stopped.set()
