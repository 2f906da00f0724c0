"""The workstation's HTML views: the full page, each panel alone for htmx, the forms and their inline errors."""

import re

import pytest
from django.test import Client

from assistant.models import ChatMessage
from market.models import WatchlistEntry
from portfolio.models import PortfolioSnapshot, Position, Profile, Trade
from workstation import panels

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
PANELS = {
    "/panels/summary": "summary",
    "/panels/watchlist": "watchlist",
    "/panels/chart?ticker=AAPL": "chart",
    "/panels/positions": "positions",
    "/panels/heatmap": "heatmap",
    "/panels/pnl": "pnl",
    "/panels/blotter": "blotter",
    "/panels/alerts": "alerts",
}


@pytest.fixture(autouse=True)
def prices(publish):
    publish({"AAPL": 191.5, "MSFT": 420.0, "NVDA": 800.0})
    publish({"AAPL": 192.25, "MSFT": 419.0, "NVDA": 800.0})


def state():
    return (
        Profile.objects.get(pk="default").cash_balance,
        sorted(Position.objects.values_list("ticker", "quantity")),
        Trade.objects.count(),
        PortfolioSnapshot.objects.count(),
        sorted(WatchlistEntry.objects.values_list("ticker", flat=True)),
    )


def root_id(html: str) -> str:
    return re.search(r'<[a-z]+ id="([^"]+)"', html).group(1)


def post(client, url, data, htmx=True):
    return client.post(url, data, headers=HX if htmx else {})


class TestPage:
    def test_renders_every_panel_with_prices_before_any_script(self, client):
        response = client.get("/")
        assert response.status_code == 200
        html = response.content.decode()
        for panel in ("summary", "watchlist", "chart", "tradebar", "positions", "heatmap", "pnl", "blotter",
                      "cmdline", "assistant", "conn", "tick"):
            assert f'id="{panel}"' in html, panel
        assert html.count('<tr data-row="') == 10
        assert "$10,000.00" in html
        assert 'data-px="AAPL">192.25<' in html  # the price is in the first HTML
        assert "+1.18%" in html or "+0.39%" in html  # change since open, signed

    def test_one_event_source_and_csrf_once_on_body(self, client):
        html = client.get("/").content.decode()
        assert html.count("sse-connect=") == 1
        assert re.search(r'<body hx-headers=\'\{"X-CSRFToken": "[A-Za-z0-9]+"\}\'', html)

    def test_strict_csp_and_nothing_inline(self, client):
        response = client.get("/")
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        html = response.content.decode()
        assert " style=" not in html and "<style" not in html
        assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html))
        assert " hx-on" not in html
        assert '"allowEval":false' in html and '"includeIndicatorStyles":false' in html
        assert '"attributesToSettle":["class","width","height"]' in html  # never a style attribute copied over

    def test_static_files_have_hashed_names(self, client):
        html = client.get("/").content.decode()
        for name in ("htmx-2.0.11.min", "htmx-ext-sse-2.2.4.min", "workstation"):
            assert re.search(rf"/static/(vendor|js|css)/{re.escape(name)}\.[0-9a-f]{{12}}\.(js|css)", html), name

    def test_selected_ticker_fills_chart_and_trade_bar(self, client):
        html = client.get("/?ticker=msft").content.decode()
        assert '<h2 id="chart-h">MSFT</h2>' in html
        assert 'id="trade-ticker" name="ticker" value="MSFT"' in html

    def test_a_look_alike_ticker_selects_nothing(self, client, publish):
        WatchlistEntry.objects.create(user_id="default", ticker="IBM")
        publish({"AAPL": 192.25, "MSFT": 419.0, "NVDA": 800.0, "IBM": 150.0})
        html = client.get("/?ticker=%C4%B1bm").content.decode()  # "ıbm", which upper-cases to IBM
        assert '<h2 id="chart-h">AAPL</h2>' in html  # the first row, as for any ticker not on the watchlist
        assert 'name="ticker" value="IBM"' not in html

    def test_a_ticker_its_source_stopped_sending_is_marked_stale(self, client, publish):
        import time

        publish({"AAPL": 192.25, "MSFT": 419.0, "NVDA": 800.0}, produced_at=time.time() - 60)
        publish({"AAPL": 192.5, "MSFT": 419.0}, keep={"AAPL", "MSFT", "NVDA"})
        html = client.get("/panels/watchlist", headers=HX).content.decode()
        assert re.search(r'<tr data-row="NVDA" data-stale data-since="[\d.]+" title="Stale: [^"]+">', html)
        assert '<tr data-row="MSFT">' in html
        assert html.count("data-stale ") == 1

    def test_stale_feed_is_said_in_words(self, client, publish, price_store):
        price_store.clear()
        publish({"AAPL": 190.0}, produced_at=__import__("time").time() - 42)
        html = client.get("/").content.decode()
        # 42.5 s or more rounds to 43 when the render takes half a second (a loaded machine: seen here).
        assert re.search(r"prices delayed 4[23] s", html)
        assert 'class="conn stale"' in html

    @pytest.mark.parametrize(
        "age, interval, live",
        [
            (4, 1.0, True),  # stale for the dot's own 3 s limit before there was one rule
            (7, 1.0, False),
            (40, 15.0, True),  # Massive's interval: three of them
            (50, 15.0, False),
        ],
    )
    def test_the_dot_and_the_engine_agree_on_a_price_being_live(self, client, price_store, age, interval, live):
        """One freshness rule: the dot the server draws, the limit the page's script keeps it by, and the engine's
        refusal to fill all say the same of the same feed."""
        import time

        from market.quotes import stale_after

        price_store.clear()
        price_store.publish(
            prices={"AAPL": 190.0}, keep={"AAPL"}, produced_at=time.time() - age, source="test", interval=interval
        )
        html = client.get("/").content.decode()
        assert re.search(r'class="conn (\w+)"', html).group(1) == ("live" if live else "stale")
        assert f'data-stale-after="{stale_after(interval):.1f}"' in html
        order = client.post(
            "/api/portfolio/trade", {"ticker": "AAPL", "quantity": 1, "side": "buy"}, content_type="application/json"
        )
        assert order.status_code == (201 if live else 503)

    def test_the_dot_carries_the_limit_before_any_tick(self, client, price_store):
        """The page's script has no limit of its own: the dot gives it one even when the feed has said nothing."""
        price_store.clear()
        html = client.get("/").content.decode()
        assert re.search(r'<div id="conn" class="conn stale"[^>]* data-stale-after="5\.0"', html)
        assert "waiting for prices" in html

    def test_end_of_day_prices_are_not_called_live(self, client, publish):
        publish({"AAPL": 190.0}, notice="this Massive plan has no snapshot access: end-of-day prices, not live quotes")
        html = client.get("/").content.decode()
        assert 'class="conn notice"' in html and ">live<" not in html
        assert "This Massive plan has no snapshot access: end-of-day prices, not live quotes</span>" in html
        assert 'data-notice="This Massive plan' in html


class TestPanels:
    @pytest.mark.parametrize("url", PANELS)
    def test_htmx_gets_the_panel_alone(self, client, url):
        response = client.get(url, headers=HX)
        assert response.status_code == 200
        html = response.content.decode().strip()
        assert "<html" not in html and "<body" not in html
        assert root_id(html) == PANELS[url]

    @pytest.mark.parametrize("url", PANELS)
    def test_a_plain_request_gets_the_whole_page(self, client, url):
        response = client.get(url)
        assert response.status_code == 200
        assert response.content.decode().lstrip().startswith("<!doctype html>")

    def test_portfolio_panels_listen_for_the_trigger(self, client):
        html = client.get("/").content.decode()
        for panel in ("summary", "positions", "heatmap", "pnl", "blotter"):
            tag = re.search(rf'<[a-z]+ id="{panel}"[^>]*>', html).group(0)
            assert 'hx-trigger="portfolio-changed from:body' in tag, panel

    def test_chart_of_an_unknown_ticker_is_empty_not_an_error(self, client):
        response = client.get("/panels/chart?ticker=%3Cscript%3E", headers=HX)
        assert response.status_code == 200
        assert "<script" not in response.content.decode()

    def test_positions_have_a_close_button_and_a_totals_row_and_the_header_a_day_pnl(self, client, publish):
        from portfolio.services import record_snapshot

        publish({"AAPL": 190.0, "MSFT": 420.0})
        record_snapshot(user_id="default")  # the day's first value: $10,000
        post(client, "/trade", {"ticker": "AAPL", "quantity": "10", "side": "buy"})
        post(client, "/trade", {"ticker": "MSFT", "quantity": "1.5", "side": "buy"})
        publish({"AAPL": 191.0, "MSFT": 421.0})
        positions = client.get("/panels/positions", headers=HX).content.decode()
        assert 'aria-label="Close AAPL: sell all 10 at market"' in positions
        assert ('hx-post="/positions/close" hx-trigger="confirmed" '
                """hx-vals='{"ticker": "AAPL", "expected": "10.0000"}'""") in positions
        totals = re.search(r"<tfoot>.*?</tfoot>", positions, re.S).group(0)
        assert "$2,541.50" in totals and "+$11.50" in totals  # 1,910 + 631.50; 10 × $1 + 1.5 × $1
        summary = client.get("/panels/summary", headers=HX).content.decode()
        assert 'data-day-start="10000.00"' in summary
        assert "+$11.50" in re.search(r"data-day-pnl.*?</dd>", summary).group(0)

    def test_the_blotter_filters_by_ticker_and_side_and_shows_notional(self, client, publish):
        publish({"AAPL": 190.0, "AMZN": 185.0, "MSFT": 420.0})
        trades = [("AAPL", "3", "buy"), ("AMZN", "2", "buy"), ("MSFT", "1", "buy"), ("AAPL", "1", "sell")]
        for ticker, qty, side in trades:
            post(client, "/trade", {"ticker": ticker, "quantity": qty, "side": side})

        def rows(**query):
            html = client.get("/panels/blotter", query, headers=HX).content.decode()
            return re.findall(r'<tr data-trade data-side="(\w+)">.*?<th scope="row">(\w+)</th>', html, re.S), html

        assert len(rows()[0]) == 4
        assert rows(ticker="a")[0] == [("sell", "AAPL"), ("buy", "AMZN"), ("buy", "AAPL")]  # first letters, any case
        assert rows(ticker="AAPL", side="sell")[0] == [("sell", "AAPL")]
        assert [t for _, t in rows(side="buy")[0]] == ["MSFT", "AMZN", "AAPL"]
        found, html = rows(ticker="zz")
        assert found == [] and "No trades match the filter." in html
        assert len(rows(ticker="<script>", side="all")[0]) == 0  # SCRIPT: no such ticker; "all" is no side
        assert client.get("/panels/blotter", {"ticker": "x" * 5000, "side": "<b>"}, headers=HX).status_code == 200
        assert "$570.00" in rows(ticker="AAPL", side="buy")[1]  # notional: 3 × $190.00

    def test_positions_heatmap_and_blotter_after_trades(self, client):
        post(client, "/trade", {"ticker": "AAPL", "quantity": "10", "side": "buy"})
        post(client, "/trade", {"ticker": "MSFT", "quantity": "2", "side": "buy"})
        post(client, "/trade", {"ticker": "AAPL", "quantity": "4", "side": "sell"})
        positions = client.get("/panels/positions", headers=HX).content.decode()
        assert 'data-position="AAPL" data-qty="6.0000"' in positions
        heatmap = client.get("/panels/heatmap", headers=HX).content.decode()
        assert heatmap.count("<rect") == 2 and 'data-tile="MSFT"' in heatmap
        blotter = client.get("/panels/blotter", headers=HX).content.decode()
        assert blotter.count("<tr data-trade ") == 3
        # The realized P&L of a sell at the buy price.
        assert '<abbr title="Sell">S</abbr>' in blotter and "$0.00" in blotter
        summary = client.get("/panels/summary", headers=HX).content.decode()
        assert "$10,000.00" in summary  # bought and sold at the same price: value unchanged


    def test_a_heatmap_label_is_drawn_only_where_it_fits_its_tile(self, client, publish):
        publish({"AAPL": 192.25, "MSFT": 419.0, "ABCDEFGHIJ": 100.0})
        WatchlistEntry.objects.create(ticker="ABCDEFGHIJ")  # a buy needs the ticker watched (or held)
        for ticker, quantity in (("AAPL", "10"), ("MSFT", "5"), ("ABCDEFGHIJ", "7")):  # a tile 50 wide
            post(client, "/trade", {"ticker": ticker, "quantity": quantity, "side": "buy"})
        heatmap = client.get("/panels/heatmap", headers=HX).content.decode()
        tiles = re.findall(r'data-tile="([A-Z]+)".*?width="([\d.]+)".*?</g>', heatmap, re.S)
        assert len(tiles) == 3
        for ticker, width in tiles:
            tile = re.search(rf'data-tile="{ticker}".*?</g>', heatmap, re.S).group(0)
            if 'class="tk"' in tile:  # a 13 px bold monospace label is about 7.8 px a character
                assert float(width) >= 7.8 * len(ticker) + 4, (ticker, width)
        assert 'class="tk">AAPL<' in heatmap  # the big tiles keep theirs

    def test_the_pnl_figure_and_last_point_are_the_live_total(self, client, publish):
        post(client, "/trade", {"ticker": "AAPL", "quantity": "10", "side": "buy"})  # a snapshot at $10,000.00
        publish({"AAPL": 200.0, "MSFT": 419.0, "NVDA": 800.0})  # AAPL up $7.75: the total is now $10,077.50
        for html in (client.get("/").content.decode(), client.get("/panels/pnl", headers=HX).content.decode()):
            pnl = re.search(r'<section id="pnl".*?</section>', html, re.S).group(0)
            assert re.search(r"data-pnl-last[^>]*>\$10,077\.50<", pnl)
            assert re.search(r'data-pnl-change[^>]*>\+\$77\.50<', pnl)
            assert 'data-last="10077.500000"' in pnl  # the line ends at the value now
        summary = client.get("/").content.decode()
        assert re.search(r"data-total>\$10,077\.50<", summary)


    def test_the_pnl_span_counts_from_its_first_value_and_marks_it(self, client, publish):
        from datetime import timedelta

        from django.utils import timezone

        from portfolio.models import PortfolioSnapshot

        now = timezone.now()
        for days, value in [(30, "9000.00"), (3, "9500.00"), (0.001, "9900.00")]:
            PortfolioSnapshot.objects.create(
                user_id="default", total_value=value, recorded_at=now - timedelta(days=days)
            )
        starts = {}
        for span in ("all", "week", "session", "decade"):
            response = client.get("/panels/pnl", {"span": span}, headers=HX)
            assert response.status_code == 200
            html = response.content.decode()
            starts[span] = re.search(r'data-first="([\d.]+)"', html).group(1)
            assert f'hx-get="/panels/pnl?span={panels.pnl_span(span)}"' in html  # its refreshes keep the span
            assert re.search(r'<line class="start"[^>]*data-start="' + re.escape(starts[span]) + '"', html)
        # The session starts at the value the day began with: the last snapshot before the Eastern midnight (the
        # one 3 days old, or the one 86 s old in the first 86 s of a day), as the header's day P&L does.
        assert starts["all"] == "9000.00" and starts["week"] == "9500.00" and starts["decade"] == "9000.00"
        assert starts["session"] in ("9500.00", "9900.00")

    def test_the_session_span_counts_from_the_value_the_header_counts_the_day_from(self, client):
        from datetime import timedelta

        from django.utils import timezone

        from portfolio import selectors as portfolio_selectors
        from portfolio.models import PortfolioSnapshot

        midnight = portfolio_selectors.day_start(timezone.now())
        PortfolioSnapshot.objects.all().delete()
        for value, at in (("9000.00", midnight - timedelta(minutes=1)), ("9500.00", midnight + timedelta(seconds=30))):
            PortfolioSnapshot.objects.create(user_id="default", total_value=value, recorded_at=at)
        pnl = client.get("/panels/pnl", {"span": "session"}, headers=HX).content.decode()
        page = client.get("/").content.decode()
        assert 'data-first="9000.00"' in pnl and re.search(r'data-pnl-change[^>]*>\+\$1,000\.00<', pnl)
        assert re.search(r'data-day-pnl data-day-start="9000.00">\+\$1,000\.00<', page)

    def test_the_pnl_span_chosen_is_remembered_for_the_next_page(self, client):
        response = client.get("/panels/pnl", {"span": "week"}, headers=HX)
        cookie = response.cookies["pnl_span"]
        assert cookie.value == "week" and cookie["httponly"] and cookie["samesite"] == "Lax"
        assert 'data-span="week" aria-pressed="true"' in client.get("/").content.decode()
        again = client.get("/panels/pnl", {"span": "week"}, headers=HX)  # answered from the panel cache: still set
        assert again.cookies["pnl_span"].value == "week"

    @pytest.mark.parametrize("asked", ["decade", "", "<b>"])
    def test_a_span_it_does_not_draw_is_not_remembered(self, client, asked):
        response = client.get("/panels/pnl", {"span": asked}, headers=HX)
        assert response.status_code == 200 and "pnl_span" not in response.cookies
        client.cookies["pnl_span"] = asked
        assert 'data-span="all" aria-pressed="true"' in client.get("/").content.decode()


class TestMainChart:
    """The main chart's bars ride in the page (its plot's data-*); the timeframe is the user's, kept in a cookie."""

    @staticmethod
    def data(html: str) -> dict:
        plot = re.search(r'<div class="plot" data-plot([^>]*)>', html).group(1)
        attrs = dict(re.findall(r'data-([a-z]+)(?:="([^"]*)")?', plot))
        attrs["bars"] = [[float(v) for v in bar.split(",")] for bar in attrs["bars"].split()]
        return attrs

    def test_the_page_carries_the_charted_tickers_bars(self, client, publish):
        import time

        from market import bars as bar_rules
        from market.bars import Bar

        minute = (int(time.time()) // 60 - 10) * 60
        bar_rules.save([
            ("AAPL", Bar(minute, 190.0, 191.5, 189.25, 191.0)), ("AAPL", Bar(minute + 60, 191.0, 192.0, 190.5, 191.75)),
        ])
        publish({"AAPL": 191.75})
        chart = self.data(client.get("/?ticker=AAPL").content.decode())
        assert chart["timeframe"] == "1m" and chart["seconds"] == "60"
        assert chart["bars"][:2] == [[minute, 190.0, 191.5, 189.25, 191.0], [minute + 60, 191.0, 192.0, 190.5, 191.75]]
        assert "complete" not in chart  # a history shorter than a day: the chart says where it begins
        assert chart["since"] == str(minute) and "source" not in chart  # to the minute, the simulator's
        hourly = self.data(client.get("/panels/chart?ticker=AAPL&timeframe=1h", headers=HX).content.decode())
        assert hourly["since"] == str(minute)  # not the first hour bar's start

    def test_a_history_as_long_as_is_kept_is_complete_in_fewer_bars(self, client, settings):
        import time

        from market import bars as bar_rules
        from market.bars import Bar

        settings.PRICE_BARS_DAYS = 3
        day = (int(time.time()) // 86400 - 3) * 86400 + 14 * 3600
        bar_rules.save([("AAPL", Bar(day, 190.0, 191.0, 189.0, 190.5))])
        html = client.get("/panels/chart?ticker=AAPL&timeframe=1d", headers=HX).content.decode()
        assert len(self.data(html)["bars"]) <= 5 and "complete" in self.data(html)

    def test_a_timeframe_button_draws_it_and_is_remembered_for_the_next_page(self, client):
        response = client.get("/panels/chart?ticker=MSFT&timeframe=15m", headers=HX)
        html = response.content.decode()
        assert self.data(html)["timeframe"] == "15m" and self.data(html)["seconds"] == "900"
        assert 'data-timeframe="15m" aria-pressed="true"' in html and 'data-timeframe="1m" aria-pressed="false"' in html
        cookie = response.cookies["chart_timeframe"]
        assert cookie.value == "15m" and cookie["httponly"] and cookie["samesite"] == "Lax"
        assert self.data(client.get("/").content.decode())["timeframe"] == "15m"
        assert self.data(client.get("/panels/chart?ticker=AAPL", headers=HX).content.decode())["timeframe"] == "15m"

    @pytest.mark.parametrize("asked", ["2m", "", "1D", "<b>"])
    def test_a_timeframe_it_does_not_draw_is_the_default_and_not_remembered(self, client, asked):
        response = client.get("/panels/chart", {"ticker": "AAPL", "timeframe": asked}, headers=HX)
        assert response.status_code == 200 and self.data(response.content.decode())["timeframe"] == "1m"
        assert "chart_timeframe" not in response.cookies
        client.cookies["chart_timeframe"] = asked
        assert self.data(client.get("/").content.decode())["timeframe"] == "1m"


class TestSimulatedPrices:
    INVENTED = "Not one of the simulator's symbols"

    def test_the_header_says_prices_are_simulated_and_an_invented_ticker_is_marked(self, client, settings):
        settings.MASSIVE_API_KEY = ""
        post(client, "/watchlist/add", {"ticker": "ZZZZZZ"})
        html = client.get("/?ticker=ZZZZZZ").content.decode()
        assert html.count('id="simulated"') == 1 and "Simulated prices" in html
        row = re.search(r'<tr data-row="ZZZZZZ".*?</tr>', html, re.S).group(0)
        assert "data-invented" in row and self.INVENTED in row
        aapl = re.search(r'<tr data-row="AAPL".*?</tr>', html, re.S).group(0)
        assert "data-invented" not in aapl
        chart = re.search(r'<section id="chart".*?</section>', html, re.S).group(0)
        assert "invented price" in chart and self.INVENTED in chart
        tradebar = re.search(r'<section id="tradebar".*?</section>', html, re.S).group(0)
        mark = re.search(r"<abbr[^>]*data-trade-invented[^>]*>", tradebar).group(0)
        assert " hidden" not in mark  # shown: the trade bar's ticker is ZZZZZZ
        assert re.search(r'data-seeded="([A-Z ]+)"', html).group(1).split()[:2] == ["AAPL", "GOOGL"]
        aapl_chart = client.get("/panels/chart?ticker=AAPL", headers=HX).content.decode()
        assert "data-invented" not in aapl_chart

    def test_a_held_invented_ticker_is_marked_in_positions(self, client, settings, publish):
        settings.MASSIVE_API_KEY = ""
        publish({"AAPL": 192.25, "ZZZZZZ": 100.0})
        WatchlistEntry.objects.create(ticker="ZZZZZZ")  # a buy needs the ticker watched (or held)
        post(client, "/trade", {"ticker": "ZZZZZZ", "quantity": "1", "side": "buy"})
        post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy"})
        for html in (client.get("/").content.decode(), client.get("/panels/positions", headers=HX).content.decode()):
            row = re.search(r'<tr data-position="ZZZZZZ".*?</tr>', html, re.S).group(0)
            assert "data-invented" in row and self.INVENTED in row
            aapl = re.search(r'<tr data-position="AAPL".*?</tr>', html, re.S).group(0)
            assert "data-invented" not in aapl

    def test_with_massive_nothing_is_called_simulated(self, client, settings):
        settings.MASSIVE_API_KEY = "test-key"
        WatchlistEntry.objects.create(user_id="default", ticker="ZZZZZZ")
        html = client.get("/?ticker=ZZZZZZ").content.decode()
        assert 'id="simulated"' not in html and "data-seeded" not in html
        assert "data-invented" not in html and self.INVENTED not in html


class TestClosePosition:
    def test_close_sells_what_is_held_now_and_says_what_it_canceled(self, client):
        post(client, "/trade", {"ticker": "AAPL", "quantity": "4", "side": "buy"})
        post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "sell", "type": "stop", "stop_price": "100"})
        response = post(client, "/positions/close", {"ticker": "aapl"})
        html = response.content.decode()
        assert response.status_code == 200 and root_id(html) == "tradebar"
        assert response["HX-Trigger"] == '{"portfolio-changed": {}}'
        assert "Sold 4 AAPL at $192.25" in html and "Canceled 1 open sell order of AAPL." in html
        assert not Position.objects.exists()

    @pytest.mark.parametrize("ticker, expected", [("MSFT", ""), ("", ""), ("x" * 500, ""), ("AAPL", "1e3"),
                                                   ("AAPL", "-1"), ("AAPL", "abc"), ("AAPL", "9" * 500)])
    def test_nothing_to_close_is_refused_inline_and_changes_nothing(self, client, ticker, expected):
        post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy"})
        before = state()
        response = post(client, "/positions/close", {"ticker": ticker, "expected": expected})
        assert response.status_code == 200 and 'id="trade-msg"' in response.content.decode()
        assert state() == before

    def test_only_a_post_closes(self, client):
        post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy"})
        assert client.get("/positions/close", {"ticker": "AAPL"}).status_code == 405
        assert Position.objects.exists()


class TestTradeBar:
    def test_fill_triggers_portfolio_changed(self, client):
        response = post(client, "/trade", {"ticker": "aapl", "quantity": "10", "side": "buy"})
        assert response.status_code == 200
        assert response["HX-Trigger"] == '{"portfolio-changed": {}}'
        html = response.content.decode()
        assert root_id(html) == "tradebar"
        assert "Bought 10 AAPL at $192.25 ($1,922.50)." in html
        assert Profile.objects.get().cash_balance == 10000 - 1922.5

    def test_a_resubmitted_form_is_the_same_order(self, client):
        page = client.get("/").content.decode()
        order_id = re.search(r'name="client_order_id" value="([^"]+)"', page).group(1)
        order = {"ticker": "AAPL", "quantity": "3", "side": "buy", "client_order_id": order_id}
        first = post(client, "/trade", order).content.decode()
        again = post(client, "/trade", order).content.decode()  # the first answer was lost on the way
        assert "Bought 3 AAPL" in first and "Bought 3 AAPL" in again
        assert Trade.objects.count() == 1 and Position.objects.get().quantity == 3
        assert re.search(r'name="client_order_id" value="([^"]+)"', first).group(1) != order_id  # a fresh form

    @pytest.mark.parametrize("bad", ["x" * 65, "has space", "<script>"])
    def test_a_forged_order_id_is_refused_inline(self, client, bad):
        before = state()
        html = post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy", "client_order_id": bad})
        assert html.status_code == 200 and "client_order_id must be" in html.content.decode()
        assert state() == before

    def test_sell_says_realized_pnl(self, client):
        post(client, "/trade", {"ticker": "AAPL", "quantity": "2", "side": "buy"})
        html = post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "sell"}).content.decode()
        assert "Sold 1 AAPL at $192.25 ($192.25), realized $0.00." in html

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"ticker": "AAPL", "quantity": "5", "side": "sell"}, "Not enough shares"),
            ({"ticker": "AAPL", "quantity": "1000", "side": "buy"}, "Not enough cash"),
            ({"ticker": "AAPL", "quantity": "-1", "side": "buy"}, "greater than zero"),
            ({"ticker": "AAPL", "quantity": "nan", "side": "buy"}, "must be a number"),
            ({"ticker": "AAPL", "quantity": "", "side": "buy"}, "must be a number"),
            ({"ticker": "AAPL", "quantity": "1e3", "side": "buy"}, "written plainly"),
            ({"ticker": "AAPL", "quantity": "1", "side": ""}, "Choose Buy or Sell"),
            ({"ticker": "AAPL", "quantity": "1"}, "Choose Buy or Sell"),
            ({"ticker": "AAPL", "quantity": "1", "side": "short"}, "Side must be"),
            ({"ticker": "ZZZZ", "quantity": "1", "side": "buy"}, "no price for ZZZZ"),
            ({"ticker": "<b>x</b>", "quantity": "1", "side": "buy"}, "is not a ticker"),
        ],
    )
    def test_rejection_is_inline_and_changes_nothing(self, client, data, message):
        before = state()
        response = post(client, "/trade", data)
        assert response.status_code == 200
        assert "HX-Trigger" not in response
        html = response.content.decode()
        assert root_id(html) == "tradebar"
        assert 'class="form-error" role="alert"' in html and message in html
        assert "<b>x</b>" not in html  # escaped
        assert state() == before

    def test_enter_in_a_box_cannot_pick_a_side(self, client):
        # Enter submits a form through its default button, its first submit button: a disabled one that sends no
        # side, so the trader's Buy or Sell is always a click.
        html = client.get("/").content.decode()
        form = re.search(r'<form class="trade-form".*?</form>', html, re.S).group(0)
        first = re.search(r'<button type="submit"[^>]*>', form).group(0)
        assert "disabled" in first and "name=" not in first

    def test_the_form_keeps_what_was_typed_after_an_error(self, client):
        html = post(client, "/trade", {"ticker": "AAPL", "quantity": "5", "side": "sell"}).content.decode()
        assert 'value="AAPL"' in html and 'value="5"' in html and 'aria-invalid="true"' in html

    def test_without_htmx_it_redirects_after_a_fill(self, client):
        response = post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy"}, htmx=False)
        assert response.status_code == 302 and response["Location"] == "/?ticker=AAPL"

    def test_without_htmx_an_error_renders_the_page(self, client):
        response = post(client, "/trade", {"ticker": "AAPL", "quantity": "9", "side": "sell"}, htmx=False)
        assert response.status_code == 200 and "Not enough shares" in response.content.decode()

    def test_csrf_is_enforced_and_the_header_token_works(self):
        client = Client(enforce_csrf_checks=True)
        before = state()
        refused = client.post("/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy"}, headers=HX)
        assert refused.status_code == 403 and state() == before
        token = re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/").content.decode()).group(1)
        ok = client.post("/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy"},
                         headers={**HX, "X-CSRFToken": token})
        assert ok.status_code == 200 and ok["HX-Trigger"] == '{"portfolio-changed": {}}'

    def test_get_is_not_allowed(self, client):
        assert client.get("/trade").status_code == 405


class TestTicket:
    """The trade bar's order types: a market order as before, or an order that waits, through portfolio.orders."""

    def test_the_ticket_offers_every_type_and_says_its_numbers(self, client):
        html = client.get("/").content.decode()
        form = re.search(r'<form class="trade-form".*?</form>', html, re.S).group(0)
        assert re.findall(r'<option value="([a-z_]+)"', form) == ["market", "limit", "stop", "stop_limit", "day", "gtc"]
        assert '<option value="market" selected>' in form and '<option value="day" selected>' in form
        assert 'name="limit_price"' in form and 'name="stop_price"' in form
        assert 'data-stop-margin="0.05"' in form  # the one constant, portfolio.orders.STOP_MARGIN
        assert 'data-buying-power="10000.00"' in html

    def test_a_limit_below_the_market_rests_and_the_ticket_keeps_its_type(self, client):
        from portfolio.models import Order

        response = post(client, "/trade", {"ticker": "aapl", "quantity": "2", "side": "buy", "type": "limit",
                                           "limit_price": "150", "stop_price": "999", "time_in_force": "gtc"})
        assert response["HX-Trigger"] == '{"portfolio-changed": {}}'
        html = response.content.decode()
        assert root_id(html) == "tradebar"
        assert "Placed: Limit buy 2 AAPL @ $150.00 (gtc), id " in html
        assert '<option value="limit" selected>' in html and '<option value="gtc" selected>' in html
        assert 'name="limit_price" value=""' in html  # the numbers go, the kind of order stays
        order = Order.objects.get(status="new")
        assert (order.type, order.limit_price, order.stop_price, order.reserved_cash) == ("limit", 150, None, 300)
        assert Trade.objects.count() == 0
        assert 'data-buying-power="9700.00"' in client.get("/panels/summary", headers=HX).content.decode()

    def test_a_marketable_limit_fills_at_the_live_price(self, client):
        html = post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy", "type": "limit",
                                       "limit_price": "200"}).content.decode()
        assert "Limit buy 1 AAPL @ $200.00: filled at $192.25." in html
        assert Profile.objects.get().cash_balance == 10000 - 192.25

    def test_a_market_order_ignores_the_hidden_price_boxes(self, client):
        html = post(client, "/trade", {"ticker": "AAPL", "quantity": "1", "side": "buy", "type": "market",
                                       "limit_price": "1", "stop_price": "junk"}).content.decode()
        assert "Bought 1 AAPL at $192.25" in html

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"type": "limit"}, "A limit order needs a limit price."),
            ({"type": "stop_limit", "limit_price": "190"}, "A stop-limit order needs a stop price."),
            ({"type": "limit", "limit_price": "abc"}, "The limit price (limit_price) must be a number written plainly"),
            ({"type": "limit", "limit_price": "150", "time_in_force": "ioc"}, "time_in_force must be"),
            ({"type": "trailing"}, "Choose an order type"),
            ({"type": "stop", "stop_price": "150"}, "already reached"),  # a buy stop below the market
            ({"type": "limit", "limit_price": "150", "quantity": "100"}, "buying power"),
        ],
    )
    def test_a_refused_order_is_inline_keeps_what_was_typed_and_changes_nothing(self, client, data, message):
        from portfolio.models import Order

        before = state()
        form = {"ticker": "AAPL", "quantity": "2", "side": "buy", **data}
        response = post(client, "/trade", form)
        html = response.content.decode()
        assert response.status_code == 200 and "HX-Trigger" not in response
        assert root_id(html) == "tradebar" and 'class="form-error" role="alert"' in html
        assert message in html, html[-600:]
        if data["type"] in ("limit", "stop", "stop_limit"):
            assert f'<option value="{data["type"]}" selected>' in html
        for name in ("limit_price", "stop_price"):
            if name in data:
                assert f'name="{name}" value="{data[name]}"' in html
        assert state() == before and not Order.objects.exists()

    def test_without_htmx_an_order_redirects_to_its_ticker(self, client):
        response = post(client, "/trade", {"ticker": "MSFT", "quantity": "1", "side": "sell", "type": "limit",
                                           "limit_price": "500"}, htmx=False)
        assert response.status_code == 200 and "Not enough shares" in response.content.decode()
        post(client, "/trade", {"ticker": "MSFT", "quantity": "1", "side": "buy"})
        response = post(client, "/trade", {"ticker": "MSFT", "quantity": "1", "side": "sell", "type": "limit",
                                           "limit_price": "500"}, htmx=False)
        assert response.status_code == 302 and response["Location"] == "/?ticker=MSFT"


class TestWatchlist:
    def test_add_returns_the_panel_with_the_new_row(self, client):
        response = post(client, "/watchlist/add", {"ticker": " pypl "})
        assert response.status_code == 200
        html = response.content.decode()
        assert root_id(html) == "watchlist"
        assert '<tr data-row="PYPL"' in html and html.count("<tr data-row=") == 11
        assert "Priced from the next tick" in html

    @pytest.mark.parametrize(
        ("ticker", "message"),
        [("AAPL", "already on the watchlist"), ("", "Ticker is empty"), ("<img>", "is not a ticker"),
         ("A" * 40, "longer than 10")],
    )
    def test_add_errors_are_inline(self, client, ticker, message):
        before = state()
        response = post(client, "/watchlist/add", {"ticker": ticker})
        html = response.content.decode()
        assert response.status_code == 200 and root_id(html) == "watchlist"
        assert 'id="watchlist-error" class="form-error" role="alert"' in html and message in html
        assert "<img>" not in html
        assert state() == before

    def test_add_past_the_limit_is_inline_and_names_it(self, client, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        before = state()
        html = post(client, "/watchlist/add", {"ticker": "pypl"}).content.decode()
        assert 'id="watchlist-error" class="form-error" role="alert"' in html
        assert "The watchlist is full: at most 10 tickers watched or held" in html
        assert state() == before

    def test_remove(self, client):
        html = post(client, "/watchlist/NFLX/remove", {}).content.decode()
        assert '<tr data-row="NFLX"' not in html and html.count("<tr data-row=") == 9

    def test_remove_a_ticker_not_watched_is_inline(self, client):
        html = post(client, "/watchlist/PYPL/remove", {}).content.decode()
        assert "PYPL is not on the watchlist." in html

    def test_remove_accepts_delete(self, client):
        assert client.delete("/watchlist/NFLX/remove", headers=HX).status_code == 200
        assert not WatchlistEntry.objects.filter(ticker="NFLX").exists()

    def test_a_ticker_too_long_is_refused_with_the_rule_not_cut_short(self, client):
        """The boxes take what is pasted (a maxlength cut "ABCDEFGHIJKLMNOP" to a ticker nobody asked for, and
        added it without a word): the server's check says what is wrong, and nothing is added or traded."""
        before = state()
        too_long = "ABCDEFGHIJKLMNOP"
        for html in (post(client, "/watchlist/add", {"ticker": too_long}).content.decode(),
                     post(client, "/trade", {"ticker": too_long, "quantity": "1", "side": "buy"}).content.decode()):
            assert "longer than 10 characters" in html
            assert not re.search(r'<input id="(?:watchlist-ticker|trade-ticker)"[^>]*maxlength', html)
        assert state() == before and not WatchlistEntry.objects.filter(ticker="ABCDEFGHIJ").exists()

    def test_a_seeded_ticker_typed_in_lower_case_is_not_marked_invented(self, client, settings):
        settings.MASSIVE_API_KEY = ""
        html = post(client, "/trade", {"ticker": "tsla", "quantity": "99999", "side": "sell"}).content.decode()
        assert re.search(r"<abbr[^>]*data-trade-invented[^>]* hidden>", html)

    def test_the_selected_row_survives_a_refresh(self, client):
        html = client.get("/panels/watchlist?selected=MSFT", headers=HX).content.decode()
        assert '<tr data-row="MSFT" class="selected" aria-selected="true">' in html


class TestOpenOrders:
    def test_the_panel_lists_resting_orders_and_a_row_cancels_its_own(self, client):
        from portfolio.models import Order

        assert "No open orders" in client.get("/").content.decode()
        post(client, "/command", {"command": "buy 2 aapl @ 150 gtc"})
        post(client, "/command", {"command": "buy 1 aapl stop 200 @ 201"})
        html = client.get("/panels/orders", headers=HX).content.decode()
        assert root_id(html) == "orders" and "2 resting" in html and "Cancel all" in html
        limit = Order.objects.get(type="limit")
        assert f'data-order="{limit.id}"' in html and limit.id[-8:] in html
        # What it holds:
        assert "Limit @ $150.00" in html and "Stop-limit $200.00 @ $201.00" in html and "$300.00" in html
        response = post(client, f"/orders/{limit.id}/cancel", {})
        assert response["HX-Trigger"] == '{"portfolio-changed": {}}'
        assert root_id(response.content.decode()) == "orders" and limit.id not in response.content.decode()
        limit.refresh_from_db()
        assert limit.status == "canceled"
        again = post(client, f"/orders/{limit.id}/cancel", {})
        assert "HX-Trigger" not in again and "This order is canceled" in again.content.decode()
        post(client, "/orders/cancel", {})
        assert not Order.objects.filter(status="new").exists()


class TestAlerts:
    def test_the_panel_sets_lists_and_cancels_an_alert(self, client):
        from alerts.models import Alert

        page = client.get("/").content.decode()
        assert 'id="alerts"' in page and "No active alerts" in page
        assert 'id="alert-ticker" name="ticker" value=""' in page  # workstation.js fills in the charted ticker
        response = post(client, "/alerts/add", {"ticker": "aapl", "condition": "above", "price": "200"})
        assert response["HX-Trigger"] == '{"alerts-changed": {}}'
        html = response.content.decode()
        alert = Alert.objects.get()
        assert root_id(html) == "alerts" and "1 active" in html and f'data-alert-row="{alert.id}"' in html
        assert "Set: Alert AAPL above $200.00 is active, id " + alert.id[-8:] in html
        refused = post(client, "/alerts/add", {"ticker": "AAPL", "condition": "below", "price": "20.001"})
        assert "HX-Trigger" not in refused and "price must be in whole cents" in refused.content.decode()
        # What was typed comes back, to be corrected rather than typed again.
        assert 'value="20.001"' in refused.content.decode()
        assert '<option value="below" selected>' in refused.content.decode()
        empty = post(client, "/alerts/add", {"ticker": "AAPL", "condition": "above", "price": " "}).content.decode()
        assert "Give the price the alert waits for." in empty
        canceled = post(client, f"/alerts/{alert.id}/cancel", {})
        assert canceled["HX-Trigger"] == '{"alerts-changed": {}}' and "No active alerts" in canceled.content.decode()
        again = post(client, f"/alerts/{alert.id}/cancel", {}).content.decode()
        assert "This alert has been canceled" in again

    def test_a_fired_alert_is_in_the_history_and_listed_for_the_toast(self, client, publish):
        from alerts import services

        post(client, "/alerts/add", {"ticker": "AAPL", "condition": "below", "price": "190"})
        publish({"AAPL": 189.5, "MSFT": 419.0, "NVDA": 800.0})
        services.check_tick({"AAPL"})
        html = client.get("/panels/alerts", headers=HX).content.decode()
        assert "0 active" in html
        assert "<li data-alert=" in html and "Alert AAPL below $190.00 fired at $189.50." in html
        assert 'data-alert-history="fired"' in html

    def test_from_the_command_line(self, client):
        from alerts.models import Alert

        made = post(client, "/command", {"command": "alert aapl > 200"})
        assert made["HX-Trigger"] == '{"alerts-changed": {}}'
        alert = Alert.objects.get()
        assert (alert.ticker, alert.condition, alert.price) == ("AAPL", "above", 200)
        assert f"Set: Alert AAPL above $200.00 is active, id {alert.id[-8:]}." in made.content.decode()
        assert alert.id[-8:] in post(client, "/command", {"command": "alerts"}).content.decode()
        refused = post(client, "/command", {"command": "alert zzzz > 1"}).content.decode()
        assert "ZZZZ is not on your watchlist" in refused and 'class="form-error"' in refused
        canceled = post(client, "/command", {"command": f"cancel {alert.id[-8:]}"})
        assert canceled["HX-Trigger"] == '{"alerts-changed": {}}'
        assert "Alert AAPL above $200.00 canceled." in canceled.content.decode()
        assert "No active alerts." in post(client, "/command", {"command": "alerts"}).content.decode()
        missing = post(client, "/command", {"command": "cancel deadbeef"}).content.decode()
        assert "No open order has the id deadbeef" in missing


class TestCommandLine:
    def test_buy(self, client):
        response = post(client, "/command", {"command": "buy 10 aapl"})
        assert response["HX-Trigger"] == '{"portfolio-changed": {}}'
        html = response.content.decode()
        assert root_id(html) == "cmdline" and "Bought 10 AAPL at $192.25" in html
        assert Position.objects.get(ticker="AAPL").quantity == 10

    def test_sell(self, client):
        post(client, "/command", {"command": "buy 10 aapl"})
        response = post(client, "/command", {"command": "sell 4 AAPL"})
        assert "Sold 4 AAPL" in response.content.decode()
        assert Position.objects.get(ticker="AAPL").quantity == 6

    def test_a_limit_rests_is_listed_and_canceled_by_its_short_id(self, client):
        from portfolio.models import Order

        placed = post(client, "/command", {"command": "buy 2 aapl @ 150 gtc"})
        assert placed["HX-Trigger"] == '{"portfolio-changed": {}}'
        order = Order.objects.get(status="new")
        assert f"Placed: Limit buy 2 AAPL @ $150.00 (gtc), id {order.id[-8:]}." in placed.content.decode()
        listed = post(client, "/command", {"command": "orders"}).content.decode()
        assert order.id[-8:] in listed and "Limit buy 2 AAPL" in listed
        canceled = post(client, "/command", {"command": f"cancel {order.id[-8:]}"}).content.decode()
        assert "Canceled: Limit buy 2 AAPL @ $150.00." in canceled
        assert "No open orders." in post(client, "/command", {"command": "orders"}).content.decode()
        missing = post(client, "/command", {"command": "cancel deadbeef"}).content.decode()
        assert "No open order has the id deadbeef" in missing and 'class="form-error"' in missing

    def test_a_marketable_limit_fills_at_once_and_cancel_all(self, client):
        filled = post(client, "/command", {"command": "buy 1 aapl @ 200"}).content.decode()
        assert "Limit buy 1 AAPL @ $200.00: filled at $192.25." in filled
        for limit in (150, 151):
            post(client, "/command", {"command": f"buy 1 aapl @ {limit}"})
        assert "Canceled 2 open orders." in post(client, "/command", {"command": "cancel all"}).content.decode()

    def test_the_orders_panel_lists_recent_fills_of_orders_that_waited_for_the_page_to_tell(self, client):
        from datetime import timedelta

        from django.utils import timezone

        from portfolio.models import Order

        post(client, "/command", {"command": "buy 1 aapl @ 200"})  # marketable: filled at once, by a click
        post(client, "/command", {"command": "buy 2 aapl @ 150"})
        resting = Order.objects.get(status="new")
        Order.objects.filter(pk=resting.pk).update(status="filled", filled_at=timezone.now(), filled_qty=2,
                                                   filled_avg_price="149.50", reserved_cash=0)
        html = client.get("/panels/orders", headers=HX).content.decode()
        fills = re.search(r"<ul hidden data-recent-fills>(.*?)</ul>", html).group(1)
        assert fills.count("<li") == 1  # not the marketable limit: it filled as it was placed, and its answer said so
        assert f'<li data-fill="{resting.id}">Limit buy 2 AAPL @ $150.00: filled at $149.50.</li>' in fills
        Order.objects.filter(pk=resting.pk).update(filled_at=timezone.now() - timedelta(minutes=10))
        assert resting.id not in client.get("/panels/orders", headers=HX).content.decode()  # old news

    def test_add_and_rm_trigger_watchlist_changed(self, client):
        added = post(client, "/command", {"command": "add pypl"})
        assert added["HX-Trigger"] == '{"watchlist-changed": {}}'
        assert "Added PYPL to the watchlist." in added.content.decode()
        removed = post(client, "/command", {"command": "rm nflx"})
        assert removed["HX-Trigger"] == '{"watchlist-changed": {}}'
        assert "PYPL" in state()[4] and "NFLX" not in state()[4]

    def test_add_past_the_limit_is_inline_and_names_it(self, client, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        before = state()
        response = post(client, "/command", {"command": "add pypl"})
        assert response.status_code == 200 and "HX-Trigger" not in response
        assert "The watchlist is full: at most 10 tickers watched or held" in response.content.decode()
        assert state() == before

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("buy -1 aapl", "Quantity must be greater than zero."),
            ("buy 1e9 aapl", "is not a quantity"),
            ("sell nan x", "is not a quantity"),
            ("sell 5 msft", "Not enough shares"),
            ("buy 1000 aapl", "Not enough cash"),
            ("add aapl", "already on the watchlist"),
            ("rm pypl", "not on the watchlist"),
            ("buy 1 \u0131bm", "non-ASCII character"),
            ("z" * 10_000, "longer than 200 characters"),
        ],
    )
    def test_errors_are_inline_escaped_and_change_nothing(self, client, text, message):
        before = state()
        response = post(client, "/command", {"command": text})
        assert response.status_code == 200 and "HX-Trigger" not in response
        html = response.content.decode()
        assert root_id(html) == "cmdline"
        assert message in html and 'class="form-error"' in html
        assert "<script>" not in html
        assert len(html) < 3000  # 10 kB in, never 10 kB echoed back
        assert state() == before

    @pytest.mark.parametrize("typed", ["-1", "0", "-0.5", "99999999999", "1000000000.0001", "0.00001", "1.23456"])
    def test_a_quantity_out_of_range_is_refused_in_the_trade_bars_words(self, client, typed):
        # The command line called 99999999999 "not a quantity" where the trade bar says it is over the limit.
        trade_bar = post(client, "/trade", {"ticker": "AAPL", "quantity": typed, "side": "buy"}).content.decode()
        [expected] = re.findall(r'class="form-error"[^>]*>([^<]+)<', trade_bar)
        assert expected.startswith("Quantity ")
        before = state()
        for command in (f"buy {typed} aapl", f"buy aapl {typed}"):
            html = post(client, "/command", {"command": command}).content.decode()
            assert re.findall(r'class="form-error"[^>]*>([^<]+)<', html) == [expected], command
        assert state() == before

    def test_help(self, client):
        html = post(client, "/command", {"command": "help"}).content.decode()
        assert "Commands: buy" in html


@pytest.fixture
def mock_assistant(settings):
    settings.LLM_MOCK = True


@pytest.fixture
def no_assistant(settings):
    settings.LLM_MOCK = False
    settings.OPENROUTER_API_KEY = ""
    settings.LLM_API_BASE = ""


class TestAskFromTheCommandLine:
    def test_a_question_is_handed_to_the_chat_panel(self, client, mock_assistant):
        before = state()
        response = post(client, "/command", {"command": "  how am I doing? "})
        assert response["HX-Trigger"] == '{"assistant-ask": {"message": "how am I doing?"}}'
        assert "Asked the assistant." in response.content.decode()
        assert state() == before and ChatMessage.objects.count() == 0  # the panel sends it

    def test_without_htmx_the_question_is_answered_then_the_page_shows_it(self, client, mock_assistant):
        response = post(client, "/command", {"command": "please buy 2 aapl"}, htmx=False)
        assert response.status_code == 302
        assert Position.objects.get(ticker="AAPL").quantity == 2
        assert "Mock assistant: buy 2 AAPL." in client.get("/").content.decode()

    @pytest.mark.parametrize("htmx", [True, False])
    def test_a_question_that_is_not_text_is_refused_in_place(self, client, mock_assistant, htmx):
        response = post(client, "/command", {"command": "hi \x00 there"}, htmx=htmx)
        assert response.status_code == 200 and "not text" in response.content.decode()
        assert "HX-Trigger" not in response and ChatMessage.objects.count() == 0

    def test_a_chat_message_that_is_not_text_is_refused_in_the_panel(self, client, mock_assistant):
        html = post(client, "/chat", {"message": "hi \x00"}).content.decode()  # (a form cannot carry a lone surrogate)
        assert "not text" in html and ChatMessage.objects.count() == 0

    def test_without_an_assistant_it_says_so(self, client, no_assistant):
        html = post(client, "/command", {"command": "<script>alert(1)</script>"}).content.decode()
        assert "&#x27;&lt;script&gt;alert(1)" in html and "is not a command" in html and "<script>alert" not in html
        assert "the assistant, which is not configured" in html
        assert "Commands: buy &lt;qty&gt; &lt;ticker&gt;" in html

    def test_help_mentions_the_assistant_only_when_there_is_one(self, client, settings):
        settings.LLM_MOCK = True
        assert "question for the assistant" in post(client, "/command", {"command": "help"}).content.decode()
        settings.LLM_MOCK, settings.OPENROUTER_API_KEY, settings.LLM_API_BASE = False, "", ""
        assert "question for the assistant" not in post(client, "/command", {"command": "help"}).content.decode()


class TestChat:
    def test_a_turn_with_a_fill_is_appended_and_refreshes_the_panels(self, client, mock_assistant):
        response = post(client, "/chat", {"message": "buy 2 AAPL and add PYPL"})
        assert response.status_code == 200
        assert response["HX-Trigger"] == '{"portfolio-changed": {}, "watchlist-changed": {}}'
        html = response.content.decode()
        assert html.count('<article class="msg msg-user"') == 1 and html.count('class="msg msg-assistant"') == 1
        assert "buy 2 AAPL and add PYPL" in html and "Mock assistant: buy 2 AAPL; add PYPL." in html
        assert '<li class="ok" data-action="executed">Bought 2 AAPL at $192.25 ($384.50).</li>' in html
        assert '<li class="ok" data-action="executed">Added PYPL to the watchlist.</li>' in html
        assert Position.objects.get(ticker="AAPL").quantity == 2

    def test_a_rejected_action_is_said_with_its_reason_and_nothing_is_refreshed(self, client, mock_assistant):
        before = state()
        response = post(client, "/chat", {"message": "sell 5 MSFT"})
        assert "HX-Trigger" not in response
        html = response.content.decode()
        assert '<li class="rejected" data-action="rejected">Not filled: sell 5 MSFT. Not enough shares' in html
        assert state() == before

    def test_text_is_escaped_and_line_breaks_kept(self, client, mock_assistant):
        html = post(client, "/chat", {"message": "<img src=x onerror=alert(1)>\nline two"}).content.decode()
        assert "&lt;img src=x onerror=alert(1)&gt;\nline two</p>" in html
        assert "<img" not in html

    @pytest.mark.parametrize(("message", "reason"), [("   ", "Write a message"), ("x" * 4001, "at most 4,000")])
    def test_an_invalid_message_is_refused_in_the_panel_and_not_stored(self, client, mock_assistant, message, reason):
        response = post(client, "/chat", {"message": message})
        html = response.content.decode()
        assert response.status_code == 200 and reason in html and 'msg-assistant failed' in html
        assert "x" * 100 not in html  # never echoed back
        assert ChatMessage.objects.count() == 0

    def test_the_page_restores_the_conversation(self, client, mock_assistant):
        post(client, "/chat", {"message": "buy 1 NVDA"})
        post(client, "/chat", {"message": "sell 9 NVDA"})
        html = client.get("/").content.decode()
        assert html.count('<article class="msg msg-') == 4
        assert html.index("buy 1 NVDA") < html.index("Bought 1 NVDA at $800.00") < html.index("sell 9 NVDA")
        assert "Not filled: sell 9 NVDA." in html

    def test_without_htmx_it_redirects_to_the_page(self, client, mock_assistant):
        response = post(client, "/chat", {"message": "buy 1 MSFT"}, htmx=False)
        assert response.status_code == 302 and Position.objects.get(ticker="MSFT").quantity == 1

    def test_not_configured_says_how_and_stores_nothing(self, client, no_assistant):
        page = client.get("/").content.decode()
        assert 'class="ai-notice"' in page and "set OPENROUTER_API_KEY" in page and "not configured" in page
        html = post(client, "/chat", {"message": "hello"}).content.decode()
        assert "msg-assistant failed" in html and "The assistant is not configured" in html
        assert ChatMessage.objects.count() == 0

    def test_a_resend_after_a_lost_answer_gets_that_answer_and_trades_once(self, client, mock_assistant):
        page = client.get("/").content.decode()
        first_id = re.search(r'id="chat-message-id" name="client_message_id" value="([^"]+)"', page).group(1)
        answered = post(client, "/chat", {"message": "buy 1 AAPL", "client_message_id": first_id}).content.decode()
        next_id = re.search(r'id="chat-message-id" name="client_message_id" value="([^"]+)" hx-swap-oob="true"',
                            answered).group(1)
        assert next_id != first_id
        # The answer was lost on the way (the page kept the old id): sending the same text again is safe.
        again = post(client, "/chat", {"message": "buy 1 AAPL", "client_message_id": first_id}).content.decode()
        assert "Bought 1 AAPL at $192.25" in again and Trade.objects.count() == 1
        edited = post(client, "/chat", {"message": "buy 2 AAPL", "client_message_id": first_id}).content.decode()
        assert "different message" in edited and 'hx-swap-oob="true"' in edited and Trade.objects.count() == 1

    def test_csrf_is_enforced(self, mock_assistant):
        strict = Client(enforce_csrf_checks=True)
        assert strict.post("/chat", {"message": "buy 1 AAPL"}, headers=HX).status_code == 403
        assert Trade.objects.count() == 0

    def test_get_is_not_allowed(self, client):
        assert client.get("/chat").status_code == 405


class TestCompression:
    def test_the_page_is_gzipped(self, client):
        response = client.get("/", headers={"Accept-Encoding": "gzip"})
        assert response["Content-Encoding"] == "gzip"

    @pytest.mark.anyio
    async def test_the_stream_is_never_gzipped(self, async_client):
        response = await async_client.get("/stream/prices", headers={"Accept-Encoding": "gzip"})
        assert response.streaming and response["Content-Type"] == "text/event-stream"
        assert not response.has_header("Content-Encoding")
        first = await anext(aiter(response.streaming_content))
        assert first.startswith(b"retry: ")
        await response.streaming_content.aclose()


class TestNoDatabaseErrorReachesThePage:
    """Whatever the trade engine meets, the trade bar and the command line say why inline, and the books stand."""

    DOORS = [
        ("/trade", {"ticker": "AAPL", "quantity": "3", "side": "sell"}, "tradebar"),
        ("/command", {"command": "sell 3 aapl"}, "cmdline"),
    ]

    @pytest.mark.parametrize(("url", "data", "panel"), DOORS)
    def test_a_zero_quote(self, client, price_store, url, data, panel):
        from portfolio.tests.test_api import store_a_zero_quote

        post(client, "/trade", {"ticker": "AAPL", "quantity": "3", "side": "buy"})
        store_a_zero_quote(price_store, "AAPL")
        before = state()
        response = post(client, url, data)
        assert response.status_code == 200 and "HX-Trigger" not in response
        html = response.content.decode()
        assert root_id(html) == panel and "no usable price for AAPL" in html and 'class="form-error"' in html
        assert state() == before

    @pytest.mark.parametrize(("url", "data", "panel"), DOORS)
    def test_a_constraint_the_engine_did_not_foresee(self, client, monkeypatch, url, data, panel):
        from portfolio import trade_sql

        post(client, "/trade", {"ticker": "AAPL", "quantity": "3", "side": "buy"})
        set_cash = trade_sql.set_cash
        monkeypatch.setattr(trade_sql, "set_cash", lambda cursor, user_id, cash: set_cash(cursor, user_id, -cash))
        before = state()
        response = post(client, url, data)
        assert response.status_code == 200 and "HX-Trigger" not in response
        html = response.content.decode()
        assert root_id(html) == panel and "could not be recorded" in html and "nothing was traded" in html
        assert state() == before


def test_favicon_is_served_and_linked(client):
    """Browsers ask every page's origin for /favicon.ico (the admin's pages link none): not a 404 in the console."""
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")
    assert int(icon["Content-Length"]) > 0
    html = client.get("/").content.decode()
    assert f'<link rel="icon" href="{response["Location"]}" type="image/svg+xml">' in html
