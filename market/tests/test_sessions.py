"""When a session ends: a `day` order's expiry, with real prices and with the simulator."""

from datetime import UTC, datetime

import pytest

from market.sessions import EASTERN, session_end


def et(*args) -> datetime:
    return datetime(*args, tzinfo=EASTERN)


@pytest.mark.parametrize("now, ends", [
    (et(2026, 12, 4, 10, 30), et(2026, 12, 4, 16)),     # a Friday morning: that afternoon's close
    (et(2026, 12, 4, 16, 0), et(2026, 12, 7, 16)),      # at the close on Friday: Monday's
    (et(2026, 12, 5, 12, 0), et(2026, 12, 7, 16)),      # a Saturday: Monday's
    (et(2026, 3, 9, 9, 0), et(2026, 3, 9, 16)),         # the Monday after the clocks went forward: 16:00 EDT
])
def test_with_real_prices_the_session_ends_at_the_next_weekday_close(now, ends):
    assert session_end(now, source="massive") == ends
    assert session_end(now.astimezone(UTC), source="massive") == ends  # whatever zone `now` is in


def test_the_simulators_session_is_the_calendar_day_in_eastern_time():
    # 03:00 UTC on the 5th is still the 4th in New York: that day ends at midnight ET.
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    assert session_end(now, source="simulator") == et(2026, 12, 5, 0, 0)
    assert session_end(et(2026, 12, 5, 23, 59), source="simulator") == et(2026, 12, 6, 0, 0)
