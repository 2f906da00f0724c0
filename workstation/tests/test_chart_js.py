"""static/js/chart.js in Chromium: its bars' buckets against market/bars.py's, and the chart through the nights the
clocks change (an autumn hour repeated on the browser's clock made Lightweight Charts refuse the bars)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from market import bars

# The browser fixtures of the workstation's browser tests (the module skips, or fails in CI, without Chromium).
from workstation.tests.test_browser import browser, browser_problems  # noqa: F401

pytestmark = pytest.mark.browser

STATIC = Path(settings.BASE_DIR) / "static"
NEW_YORK = ZoneInfo("America/New_York")
# 2026-11-01 06:00 UTC is 01:00 EST, the second 01:00 of that night in New York; 2026-03-08 07:00 UTC is 03:00 EDT.
AUTUMN = int(datetime(2026, 11, 1, 4, 30, tzinfo=ZoneInfo("UTC")).timestamp())
SPRING = int(datetime(2026, 3, 8, 5, 30, tzinfo=ZoneInfo("UTC")).timestamp())
PAGE = """<!doctype html><title>chart.js</title>
<style>:root { --up: #26a69a; --down: #ef5350; --blue: #2196f3; --muted: #8a94a6; --border: #222; --mono: monospace; }
#chart { width: 900px; height: 400px; } [data-plot] { width: 900px; height: 360px; }</style>
<section id="chart" data-ticker="AAPL"><p data-readout></p><p data-chart-note hidden></p>
<span data-far="above" hidden></span><span data-far="below" hidden></span>
<div data-plot data-bars="{bars}" data-timeframe="{timeframe}" data-seconds="{seconds}" data-complete></div>
</section>"""


def open_chart(browser, zone: str, minutes: list[int], timeframe: str = "1m"):  # noqa: F811
    context = browser.new_context(timezone_id=zone)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    data = " ".join(f"{t},100,101,99,100.5" for t in minutes)
    seconds = str(bars.TIMEFRAMES[timeframe])
    page.set_content(PAGE.replace("{bars}", data).replace("{timeframe}", timeframe).replace("{seconds}", seconds))
    for script in ("js/format.js", "vendor/lightweight-charts-5.2.1.min.js", "js/chart.js"):
        page.add_script_tag(path=str(STATIC / script))
    page.evaluate("() => FinallyChart.mount()")
    page.wait_for_timeout(100)  # a frame or two: the library draws on the next animation frame
    return context, page, errors


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "UTC"])
def test_buckets_are_the_servers_whatever_the_browsers_clock(browser, zone):  # noqa: F811
    times = [t + offset for t in (AUTUMN, SPRING, AUTUMN - 86400 * 40, SPRING + 86400 * 100)
             for offset in range(0, 30 * 3600, 1799)]
    context, page, _ = open_chart(browser, zone, [AUTUMN])
    try:
        for timeframe in ("5m", "15m", "1h", "1d"):
            js = page.evaluate(
                "([ts, s]) => ts.map(t => FinallyChart.bucket(t, s))", [times, bars.TIMEFRAMES[timeframe]]
            )
            expected = [bars.bucket(t, timeframe) for t in times]
            wrong = [(t, j, e) for t, j, e in zip(times, js, expected, strict=True) if j != e]
            assert not wrong, (timeframe, wrong[:5])
    finally:
        context.close()


@pytest.mark.parametrize("start", [AUTUMN, SPRING], ids=["autumn", "spring"])
def test_a_night_the_clocks_change_draws_every_minute_and_takes_ticks(browser, start):  # noqa: F811
    minutes = [start + 60 * i for i in range(181)]  # three hours across the change, one bar a minute
    context, page, errors = open_chart(browser, "America/New_York", minutes)
    try:
        assert page.evaluate("() => FinallyChart.state().bars") == 181
        # A tick in the minute after the last: one more bar; one in it again: the same bar grows.
        at = minutes[-1] + 60 + 5
        page.evaluate("at => { FinallyChart.tick('AAPL', at, 102.5); FinallyChart.tick('AAPL', at + 10, 98.25); }", at)
        last = page.evaluate("() => FinallyChart.state().last")
        assert last == {"t": minutes[-1] + 60, "o": 102.5, "h": 102.5, "l": 98.25, "c": 98.25}
        assert page.locator("#chart canvas").count() > 0
        # The readout names the last bar on this browser's clock (EST once the clocks went back).
        local = datetime.fromtimestamp(minutes[-1] + 60, NEW_YORK).strftime("%H:%M")
        assert local in page.locator("[data-readout]").text_content()
        assert errors == []
    finally:
        context.close()


def test_a_first_bar_of_cents_does_not_fill_the_chart(browser):  # noqa: F811
    """The price axis spans at least 1% of the price: one bar of a 14-cent move drawn top to bottom reads as a
    crash (the issue's complaint about the P&L chart, which has its own floor)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content(PAGE.replace("{bars}", f"{AUTUMN},190,190.14,190,190.14").replace("{timeframe}", "1m")
                     .replace("{seconds}", "60"))
    for script in ("js/format.js", "vendor/lightweight-charts-5.2.1.min.js", "js/chart.js"):
        page.add_script_tag(path=str(STATIC / script))
    try:
        page.evaluate("() => FinallyChart.mount()")
        page.wait_for_timeout(100)
        top, bottom = page.evaluate("() => FinallyChart.range()")
        assert top - bottom >= 190.14 * 0.01 - 1e-9
    finally:
        context.close()
