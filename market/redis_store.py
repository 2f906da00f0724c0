"""The price store on Redis: one worker and any number of web processes, on any number of machines.

The worker writes each tick once, in one MULTI/EXEC: the quotes, their history, the feed status, and a
PUBLISH of the whole tick on `<prefix>:ticks`. Each web process's hub holds one subscription and so
receives every tick once, already complete (no read back); the engine and the API read the hashes.

Keys (prefix `finally` unless REDIS_PREFIX says otherwise):
    <prefix>:quote              hash   ticker -> quote JSON (with received_at: when the worker last got its price)
    <prefix>:history:<ticker>   zset   score = tick time, member "<time>:<price>"
    <prefix>:meta               hash   seq, last_tick_at, heartbeat_at, source, interval, error, unknown, notice (JSON)
    <prefix>:writer             string the price worker's lease (owner JSON + token), renewed every second
    <prefix>:ticks              pub/sub channel of ticks

Every Redis failure surfaces as StoreUnavailable: the worker backs off and retries, the hub re-subscribes
and catches up from the hashes, an order is refused with a 503 and nothing written.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from core import metrics
from market.quotes import (
    PRUNE_EVERY_TICKS,
    FeedStatus,
    Quote,
    StoreUnavailable,
    Tick,
    WriterAlreadyRunning,
    next_quotes,
)

logger = logging.getLogger(__name__)

# A worker killed with SIGKILL holds the lease this long; a clean stop releases it at once.
LEASE_SECONDS = 5.0
LEASE_RENEW_SECONDS = 1.0

# Renew our lease, or take it back if it vanished (a Redis restart without persistence); 0 if another holds it.
RENEW_LEASE = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def redacted(url: str) -> str:
    """The URL without its password, for logs and names."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def _quote_json(quote: Quote) -> str:
    return json.dumps(quote.record(), separators=(",", ":"))


def _quote(raw: str) -> Quote:
    return Quote(**json.loads(raw))


class RedisPriceStore:
    kind = "redis"
    lease_seconds = LEASE_SECONDS

    def __init__(self, url: str, *, prefix: str = "finally", history_seconds: float = 1800.0) -> None:
        self.url = url
        self.prefix = prefix
        self.name = f"{redacted(url)} ({prefix})"
        self.history_seconds = history_seconds
        # Fail fast and let the caller retry: a web request must not hang on a Redis that is down.
        self.redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        self.k_quote = f"{prefix}:quote"
        self.k_meta = f"{prefix}:meta"
        self.k_writer = f"{prefix}:writer"
        self.k_ticks = f"{prefix}:ticks"
        self._seq = 0
        # The writer's last tick, to carry prev/open prices across a Redis restart that lost the data.
        self._last_quotes: dict[str, Quote] = {}
        self._lease: str | None = None
        self._lease_lost = threading.Event()
        self._lease_stop = threading.Event()
        self._lease_thread: threading.Thread | None = None

    def k_history(self, ticker: str) -> str:
        return f"{self.prefix}:history:{ticker}"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except RedisError as exc:
            metrics.REDIS_ERRORS.inc()
            raise StoreUnavailable(f"price store {self.name}: {exc}") from exc

    # --- writer side: the price worker only ------------------------------------------------------

    def publish(
        self,
        *,
        prices: dict[str, float],
        keep: set[str],
        produced_at: float,
        source: str,
        interval: float,
        open_prices: dict[str, float] | None = None,
        unknown: set[str] | None = None,
        source_times: dict[str, float] | None = None,
        notice: str | None = None,
    ) -> int:
        """Write one tick and publish it (one transaction); the same contract as SQLitePriceStore.publish."""
        if self._lease_lost.is_set():
            raise WriterAlreadyRunning(f"this worker lost its lease on {self.name} to another price worker")
        with self._errors():
            raw_quotes, raw_seq = self.redis.pipeline(transaction=True).hgetall(self.k_quote).hget(
                self.k_meta, "seq"
            ).execute()
            previous = {t: _quote(v) for t, v in raw_quotes.items()} or dict(self._last_quotes)
            fresh = next_quotes(
                previous, prices, keep, produced_at=produced_at, source_times=source_times, open_prices=open_prices
            )
            current = {t: q for t, q in previous.items() if t in keep} | {q.ticker: q for q in fresh}
            seq = max(json.loads(raw_seq) if raw_seq else 0, self._seq) + 1
            gone = [t for t in previous if t not in keep]
            pipe = self.redis.pipeline(transaction=True)
            if gone:
                pipe.hdel(self.k_quote, *gone)
                pipe.delete(*(self.k_history(t) for t in gone))
            if fresh:
                pipe.hset(self.k_quote, mapping={q.ticker: _quote_json(q) for q in fresh})
                for q in fresh:
                    pipe.zadd(self.k_history(q.ticker), {f"{produced_at!r}:{q.price!r}": produced_at})
            pipe.hset(
                self.k_meta,
                mapping={
                    key: json.dumps(value)
                    for key, value in dict(
                        seq=seq,
                        last_tick_at=produced_at,
                        heartbeat_at=produced_at,
                        source=source,
                        interval=interval,
                        error=None,
                        unknown=sorted((unknown or set()) & keep),
                        notice=notice,
                    ).items()
                },
            )
            if seq % PRUNE_EVERY_TICKS == 0:
                cutoff = produced_at - self.history_seconds
                for ticker in keep:
                    pipe.zremrangebyscore(self.k_history(ticker), "-inf", f"({cutoff!r}")
            tick = {
                "seq": seq,
                "produced_at": produced_at,
                "interval": interval,
                "quotes": [current[t].record() for t in sorted(current)],
            }
            pipe.publish(self.k_ticks, json.dumps(tick, separators=(",", ":")))
            pipe.execute()
        self._seq = seq
        self._last_quotes = current
        return seq

    def report_failure(self, *, source: str, interval: float, error: str, at: float) -> None:
        with self._errors():
            self.redis.hset(
                self.k_meta,
                mapping={
                    "heartbeat_at": json.dumps(at),
                    "source": json.dumps(source),
                    "interval": json.dumps(interval),
                    "error": json.dumps(error),
                },
            )

    def claim_writer(self, *, owner: dict) -> None:
        """Take the writer's lease (SET NX with a TTL) and keep renewing it, or raise WriterAlreadyRunning.

        A worker that dies however it dies stops renewing, so its lease lapses after LEASE_SECONDS; a clean
        stop releases it (release_writer). If another worker holds it, the refusal names that worker.
        """
        token = json.dumps({**owner, "token": uuid.uuid4().hex}, default=str)
        with self._errors():
            if not self.redis.set(self.k_writer, token, nx=True, px=int(LEASE_SECONDS * 1000)):
                holder = self.redis.get(self.k_writer) or "unknown"
                ttl = self.redis.pttl(self.k_writer)
                raise WriterAlreadyRunning(
                    f"another price worker holds the writer's lease on {self.name} ({holder}); only one may run "
                    f"per price store. A worker that died gives it up within {LEASE_SECONDS:g} s"
                    + (f" (this one in {ttl / 1000:.1f} s)." if ttl and ttl > 0 else ".")
                )
        self._lease = token
        self._lease_lost.clear()
        self._lease_stop.clear()
        self._lease_thread = threading.Thread(target=self._keep_lease, name="writer-lease", daemon=True)
        self._lease_thread.start()

    def _keep_lease(self) -> None:
        renew = self.redis.register_script(RENEW_LEASE)
        while not self._lease_stop.wait(LEASE_RENEW_SECONDS):
            try:
                if not renew(keys=[self.k_writer], args=[self._lease, int(LEASE_SECONDS * 1000)]):
                    logger.error("another price worker took the writer's lease on %s: stopping", self.name)
                    self._lease_lost.set()
                    return
            except RedisError as exc:
                logger.warning("could not renew the writer's lease on %s: %s", self.name, exc)

    def release_writer(self) -> None:
        self._lease_stop.set()
        if self._lease_thread is not None:
            self._lease_thread.join(timeout=5)
            self._lease_thread = None
        if self._lease is not None:
            try:
                self.redis.eval(RELEASE_LEASE, 1, self.k_writer, self._lease)
            except RedisError as exc:
                logger.warning("could not release the writer's lease on %s: %s", self.name, exc)
            self._lease = None

    def clear(self) -> None:
        with self._errors():
            keys = [self.k_quote, self.k_meta, *self.redis.scan_iter(match=f"{self.prefix}:history:*")]
            self.redis.delete(*keys)
        self._seq = 0
        self._last_quotes = {}

    # --- reader side -----------------------------------------------------------------------------

    def latest(self, ticker: str) -> Quote | None:
        with self._errors():
            raw = self.redis.hget(self.k_quote, ticker)
        return _quote(raw) if raw else None

    def quotes(self, tickers: list[str] | None = None) -> dict[str, Quote]:
        with self._errors():
            if tickers is None:
                raw = self.redis.hgetall(self.k_quote)
                return {t: _quote(raw[t]) for t in sorted(raw)}
            if not tickers:
                return {}
            values = self.redis.hmget(self.k_quote, list(tickers))
        return {t: _quote(v) for t, v in zip(tickers, values, strict=True) if v}

    def snapshot(self) -> Tick:
        """All quotes and the tick they belong to, read in one transaction so they agree."""
        with self._errors():
            raw, (seq, at, interval) = self.redis.pipeline(transaction=True).hgetall(self.k_quote).hmget(
                self.k_meta, ["seq", "last_tick_at", "interval"]
            ).execute()
        return Tick(
            seq=json.loads(seq) if seq else 0,
            produced_at=json.loads(at) if at else 0.0,
            quotes=tuple(_quote(raw[t]) for t in sorted(raw)),
            interval=json.loads(interval) if interval else None,
        )

    def history(self, ticker: str, since: float | None = None) -> list[tuple[float, float]]:
        since = time.time() - self.history_seconds if since is None else since
        with self._errors():
            members = self.redis.zrangebyscore(self.k_history(ticker), since, "+inf")
        points = []
        for member in members:
            ts, _, price = member.partition(":")
            points.append((float(ts), float(price)))
        return points

    def status(self) -> FeedStatus:
        with self._errors():
            meta = {key: json.loads(value) for key, value in self.redis.hgetall(self.k_meta).items()}
        return FeedStatus(
            source=meta.get("source"),
            interval=meta.get("interval"),
            last_tick_at=meta.get("last_tick_at"),
            heartbeat_at=meta.get("heartbeat_at"),
            error=meta.get("error"),
            unknown=tuple(meta.get("unknown") or ()),
            notice=meta.get("notice"),
        )

    def ping(self) -> None:
        with self._errors():
            self.redis.ping()

    def watch(self) -> RedisTickWatcher:
        return RedisTickWatcher(self)


class RedisTickWatcher:
    """The hub's subscription: each published tick arrives once, whole; after a (re)subscription, one catch-up."""

    def __init__(self, store: RedisPriceStore) -> None:
        self.store = store
        self.pubsub = store.redis.pubsub()
        self._subscribed = False

    def next_tick(self, timeout: float) -> Tick | None:
        try:
            if not self._subscribed:
                self.pubsub.subscribe(self.store.k_ticks)
                self._subscribed = True
            message = self.pubsub.get_message(timeout=timeout)
        except RedisError as exc:
            # Start over on a new connection next time; the subscribe confirmation then triggers a catch-up.
            self._subscribed = False
            metrics.REDIS_ERRORS.inc()
            try:
                self.pubsub.reset()
            except RedisError:
                pass
            raise StoreUnavailable(f"price store {self.store.name}: {exc}") from exc
        if message is None:
            return None
        if message["type"] == "subscribe":
            # Our first subscription, or redis-py re-subscribed after a reconnect: ticks may have been missed.
            return self.store.snapshot()
        if message["type"] != "message":
            return None
        tick = json.loads(message["data"])
        return Tick(
            seq=tick["seq"],
            produced_at=tick["produced_at"],
            quotes=tuple(Quote(**q) for q in tick["quotes"]),
            interval=tick.get("interval"),
        )

    def close(self) -> None:
        try:
            self.pubsub.close()
        except RedisError:
            pass
