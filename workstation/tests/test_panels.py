"""The panels' context (workstation/panels.py)."""

import time

import pytest

from market.quotes import stale_after
from workstation.panels import feed_panel, heat_class


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(0, "hm-0"), (0.001, "hm-0"), (0.1, "hm-p1"), (-0.5, "hm-n2"), (2, "hm-p3"), (-12, "hm-n4")],
)
def test_heat_steps(percent, expected):
    assert heat_class(percent) == expected


@pytest.mark.parametrize(
    ("interval", "age", "live"),
    [
        (0.5, 4.0, True),  # the old dot said "delayed" past 3 s while the engine still filled: one rule now
        (0.5, 5.5, False),
        (15.0, 40.0, True),  # a Massive poll every 15 s: live for 45 s
        (15.0, 46.0, False),
    ],
)
def test_the_dot_and_the_engine_read_one_freshness_rule(price_store, interval, age, live):
    now = time.time()
    price_store.publish(prices={"AAPL": 190.0}, keep={"AAPL"}, produced_at=now - age, source="test", interval=interval)
    status = price_store.status()
    feed = feed_panel()["feed"]
    assert status.is_fresh() is live
    assert status.quote_is_live(price_store.latest("AAPL")) is live
    assert (feed["state"] == "live") is live
    assert feed["stale_after"] == stale_after(interval)
