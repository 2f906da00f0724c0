"""The market's clock: US Eastern time, and when a trading session ends (a `day` order's expiry).

One place for the rule, so the Massive source (which session's closes to read) and the orders (when a `day`
order expires) agree.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

# tzdata ships with the requirements, so this works where the system has no time-zone files (a slim image).
EASTERN = ZoneInfo("America/New_York")

MARKET_CLOSE = time(16)


def session_end(now: datetime, *, source: str) -> datetime:
    """When the session trading at `now` ends, as an aware datetime.

    With Massive (real prices) it is the next 16:00 ET on a weekday, the exchanges' close (holidays are not
    known here: an order placed on one expires at that day's 16:00, when there was nothing to fill it anyway).
    The simulator trades around the clock, so its session is the calendar day in ET: it ends at midnight.
    """
    local = now.astimezone(EASTERN)
    if source == "massive":
        day = local.date()
        if local.time() >= MARKET_CLOSE:
            day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return datetime.combine(day, MARKET_CLOSE, tzinfo=EASTERN)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=EASTERN)
