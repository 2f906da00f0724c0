"""How other apps hand work to the price worker without `market` importing them.

`portfolio` registers the held tickers and those of resting orders (so they stay priced after they leave the
watchlist), the lock on a user's book (so a watchlist add waits for that user's trades), the interval portfolio
snapshot, and the matching of resting orders after each tick, from its AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

# provider(user_id=None): the tickers it keeps priced for that user, or for every user when None. Per user, so the
# watchlist's cap can count them: a held ticker is priced like a watched one (market.services.add_ticker).
TickerProvider = Callable[..., Iterable[str]]
# owner_lock(user_id=...): inside a transaction, take the lock a trade of that user takes first.
OwnerLock = Callable[..., None]
# user_versions(user_ids): for each of those users, a number that grows whenever something of theirs the page
# shows changed (a fill from anywhere, a reset); the price hub tells that user's open pages (market/hub.py).
UserVersions = Callable[[Collection[str]], dict[str, int]]


# listener(tickers): called by the worker right after each tick is published, with the tickers it priced, on the
# tick's own thread (portfolio matches resting orders there). An exception is logged; the worker carries on.
TickListener = Callable[[Collection[str]], object]


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    func: Callable[[], object]
    interval: Callable[[], float]  # read when the worker starts, so settings overrides apply


# start(): a background service of the price worker (webhook deliveries), started when the worker starts, on threads
# of its own; it returns an object whose stop() the worker calls on the way out.
WorkerThread = Callable[[], object]


ticker_providers: list[TickerProvider] = []
worker_threads: list[WorkerThread] = []
periodic_tasks: list[PeriodicTask] = []
owner_locks: list[OwnerLock] = []
user_versions: list[UserVersions] = []
tick_listeners: list[TickListener] = []


def register_ticker_provider(provider: TickerProvider) -> None:
    if provider not in ticker_providers:
        ticker_providers.append(provider)


def register_periodic_task(task: PeriodicTask) -> None:
    if all(t.name != task.name for t in periodic_tasks):
        periodic_tasks.append(task)


def register_user_versions(func: UserVersions) -> None:
    if func not in user_versions:
        user_versions.append(func)


def register_owner_lock(lock: OwnerLock) -> None:
    if lock not in owner_locks:
        owner_locks.append(lock)


def register_worker_thread(start: WorkerThread) -> None:
    if start not in worker_threads:
        worker_threads.append(start)


def register_tick_listener(listener: TickListener) -> None:
    if listener not in tick_listeners:
        tick_listeners.append(listener)
