"""The htmx UI's stream format: one `tick` event per tick, its HTML rendered once per web process.

The hub calls `render_html` once per tick (market/hub.py; the format is registered in workstation/apps.py)
and every browser of this process gets the same bytes. The fragment carries each quote formatted for display
and its raw numbers in `data-*` attributes; it depends on no one's portfolio, so the same render serves every
user. htmx swaps it into one hidden element and static/js/workstation.js places each quote where the page
shows it (watchlist, charts, positions, header): a quote may be streamed for a ticker the page does not show
(a held ticker off the watchlist, one just removed), which htmx out-of-band swaps would report as errors.
"""

from __future__ import annotations

from django.template.loader import get_template

from market.quotes import Tick
from market.sse import event

HTML_FORMAT = "html"
EVENT_NAME = "tick"


def tick_context(tick: Tick) -> dict:
    return {
        "seq": tick.seq,
        "at": repr(float(tick.produced_at)),
        "quotes": [
            {
                "ticker": q.ticker,
                "raw_price": repr(float(q.price)),
                "raw_open": repr(float(q.open_price)),
                "price": q.price,
                "change": q.change_percent,
                "direction": q.direction,
                # Its source stopped sending it (market.quotes.is_live): the page marks the row, with how long ago it
                # was last received (epoch s; 0 if unknown), and orders are refused.
                "stale": "" if tick.is_live(q) else repr(float(q.received_at or 0)),
            }
            for q in tick.quotes
        ],
    }


def render_fragment(tick: Tick) -> str:
    # One line: the SSE framing prefixes every line with `data: `, fewer lines are fewer bytes.
    return get_template("workstation/tick.html").render(tick_context(tick)).replace("\n", "")


def render_html(tick: Tick) -> bytes:
    """The `html` stream format, registered with market's stream in WorkstationConfig.ready."""
    return event(render_fragment(tick), EVENT_NAME).encode()
