"""How other apps hand work to the price worker without `market` importing them.

`portfolio` registers the held tickers (so a held ticker stays priced after it leaves the watchlist)
and the interval portfolio snapshot from its AppConfig.ready().
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

TickerProvider = Callable[[], Iterable[str]]


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    func: Callable[[], object]
    interval: Callable[[], float]  # read when the worker starts, so settings overrides apply


ticker_providers: list[TickerProvider] = []
periodic_tasks: list[PeriodicTask] = []


def register_ticker_provider(provider: TickerProvider) -> None:
    if provider not in ticker_providers:
        ticker_providers.append(provider)


def register_periodic_task(task: PeriodicTask) -> None:
    if all(t.name != task.name for t in periodic_tasks):
        periodic_tasks.append(task)
