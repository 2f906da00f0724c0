"""static/js/ticket.js, the trade ticket's preview, against the server's rules it mirrors, in Chromium.

What the ticket says an order costs, brings or holds back before the click must be what the server then takes:
portfolio.money (a buy's cost rounds up to the cent, a sell's proceeds down) and portfolio.orders (`reservation`,
`reached`). The server is the rule; a sweep of quantities and prices catches the page drifting from it.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from portfolio.money import cost_of, proceeds_of
from portfolio.orders import STOP_MARGIN, OrderRequest, reached, reservation

# The browser fixtures of the workstation's browser tests (the module skips, or fails in CI, without Chromium).
from workstation.tests.test_browser import browser, browser_problems  # noqa: F401

pytestmark = pytest.mark.browser

JS = Path(settings.BASE_DIR) / "static" / "js"


@pytest.fixture
def page(browser):  # noqa: F811  (the imported fixture)
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<!doctype html><title>ticket.js</title>")
    page.add_script_tag(path=str(JS / "format.js"))
    page.add_script_tag(path=str(JS / "ticket.js"))
    yield page
    context.close()


def request(side, type, qty, limit=None, stop=None) -> OrderRequest:
    return OrderRequest(ticker="AAPL", side=side, qty=Decimal(qty), type=type, time_in_force="day",
                        limit_price=None if limit is None else Decimal(limit),
                        stop_price=None if stop is None else Decimal(stop), client_order_id=None)


def sweep(seed: int, n: int) -> list[tuple[str, str]]:
    """(qty, price) as typed: whole and fractional shares to 1/10,000, prices to 1/10,000 and rounding traps."""
    rng = random.Random(seed)
    cases = [("10", "180.1"), ("3", "0.335"), ("0.0001", "0.0001"), ("1", "1.005"), ("7", "33.3333"),
             ("1000000", "99999.9999"), (".5", "2.01"), ("2.5", "181.2345"), ("100", "0.07")]
    for _ in range(n):
        qty = str(Decimal(rng.randint(1, 10**7)) / Decimal(10) ** rng.choice([0, 1, 2, 4]))
        price = str(Decimal(rng.randint(1, 10**8)) / Decimal(10) ** rng.choice([2, 3, 4]))
        cases.append((qty, price))
    return cases


def test_cost_and_proceeds_round_as_the_server_does(page):
    cases = sweep(22, 3000)
    js = page.evaluate("cs => cs.map(([q, p]) => [FinallyTicket.costOf(q, p), FinallyTicket.proceedsOf(q, p)])", cases)
    wrong = []
    for (qty, price), (cost, proceeds) in zip(cases, js, strict=True):
        amount = Decimal(qty) * Decimal(price)
        expected = (float(cost_of(amount)), float(proceeds_of(amount)))
        if (cost, proceeds) != expected:
            wrong.append(f"{qty} x {price}: server {expected}, page {(cost, proceeds)}")
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, e.g.:\n" + "\n".join(wrong[:20])


def test_what_a_resting_buy_holds_back_is_the_servers_reservation(page):
    cases = [(side, type, qty, price) for qty, price in sweep(23, 500)
             for side in ("buy", "sell") for type in ("limit", "stop", "stop_limit")]
    js = page.evaluate(
        "([cs, m]) => cs.map(([s, t, q, p]) => FinallyTicket.reservation(s, t, q, p, p, m))", [cases, str(STOP_MARGIN)]
    )
    wrong = []
    for (side, type, qty, price), got in zip(cases, js, strict=True):
        needs_limit, needs_stop = type in ("limit", "stop_limit"), type in ("stop", "stop_limit")
        expected = float(reservation(request(side, type, qty, price if needs_limit else None,
                                             price if needs_stop else None)))
        if got != expected:
            wrong.append(f"{side} {type} {qty} @ {price}: server {expected}, page {got}")
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, e.g.:\n" + "\n".join(wrong[:20])


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("is_stop", [False, True])
def test_reached_is_the_servers(page, side, is_stop):
    levels = [(Decimal("100"), Decimal(live)) for live in ("99.99", "100", "100.01")]
    js = page.evaluate("([s, st, ls]) => ls.map(([lv, p]) => FinallyTicket.reached(s, lv, p, st))",
                       [side, is_stop, [[float(lv), float(p)] for lv, p in levels]])
    kind = "stop" if is_stop else "limit"
    expected = [reached(request(side, kind, "1", None if is_stop else lv, lv if is_stop else None), p)
                for lv, p in levels]
    assert js == expected


BOOK = {"ticker": "AAPL", "price": 181.24, "buyingPower": 5000, "freeShares": 15, "margin": "0.05"}


@pytest.mark.parametrize(
    ("order", "book", "text", "warn"),
    [
        ({"side": "buy", "type": "market", "qty": "10"}, {},
         "costs ≈ $1,812.40 at $181.24 · buying power left $3,187.60", False),
        ({"side": "sell", "type": "market", "qty": "10"}, {}, "brings ≈ $1,812.40 at $181.24", False),
        ({"side": "sell", "type": "market", "qty": "3"}, {"price": 0.335}, "brings ≈ $1.00 at $0.3350", False),
        ({"side": "buy", "type": "market", "qty": "3"}, {"price": 0.335}, "costs ≈ $1.01 at $0.3350", False),
        ({"side": "buy", "type": "market", "qty": "30"}, {}, "· more than the buying power $5,000.00", True),
        ({"side": "sell", "type": "market", "qty": "20"}, {}, "· only 15 shares of AAPL are free to sell", True),
        ({"side": "sell", "type": "market", "qty": "2"}, {"freeShares": 1},
         "· only 1 share of AAPL is free to sell", True),
        ({"side": "buy", "type": "limit", "qty": "1", "limit": "180.009"}, {},
         "the limit price must be in whole cents at $1.00 or more", True),
        ({"side": "sell", "type": "market", "qty": "1"}, {"freeShares": 0}, "no AAPL shares free to sell", True),
        ({"side": "buy", "type": "market", "qty": "1"}, {"price": None}, "no live price for AAPL yet", True),
        ({"side": "buy", "type": "limit", "qty": "10", "limit": "180"}, {},
         "rests, buys at $180.00 or lower (live $181.24) · holds $1,800.00 · buying power left $3,200.00", False),
        ({"side": "buy", "type": "limit", "qty": "10", "limit": "185"}, {},
         "costs ≈ $1,812.40 at $181.24, now (the limit is reached) · buying power left $3,187.60", False),
        ({"side": "sell", "type": "limit", "qty": "10", "limit": "190"}, {},
         "rests, sells at $190.00 or higher (live $181.24) · brings at least $1,900.00", False),
        ({"side": "buy", "type": "stop", "qty": "10", "stop": "190"}, {},
         "rests, buys at market once $190.00 trades (live $181.24) · holds $1,995.00 (stop + 5%)", False),
        ({"side": "buy", "type": "stop", "qty": "10", "stop": "170"}, {}, "the stop $170.00 is already reached", True),
        ({"side": "sell", "type": "stop", "qty": "10", "stop": "170"}, {},
         "rests, sells at market once $170.00 trades (live $181.24) · brings ≈ $1,700.00", False),
        ({"side": "buy", "type": "stop_limit", "qty": "1", "stop": "190", "limit": "191"}, {},
         "rests, buys at $191.00 or lower once $190.00 trades (live $181.24) · holds $191.00", False),
        ({"side": "buy", "type": "limit", "qty": "10", "limit": ""}, {}, "enter the limit price", False),
        ({"side": "buy", "type": "stop_limit", "qty": "10", "limit": "1", "stop": ""}, {},
         "enter the stop price", False),
        ({"side": "buy", "type": "stop_limit", "qty": "10", "limit": "1", "stop": "x"}, {},
         "the stop price must be a number written plainly", True),
    ],
)
def test_the_preview_in_words(page, order, book, text, warn):
    order = {"limit": "", "stop": "", **order}
    said = page.evaluate("([o, b]) => FinallyTicket.describe(o, b)", [order, {**BOOK, **book}])
    assert text in said["text"] and said["warn"] is warn, said


def test_nothing_is_said_before_a_quantity_is_typed(page):
    said = page.evaluate("([o, b]) => FinallyTicket.describe(o, b)",
                         [{"side": "buy", "type": "market", "qty": " ", "limit": "", "stop": ""}, BOOK])
    assert said is None


@pytest.mark.parametrize("qty", ["0", "-1", "abc", "1.00001", "1e3"])
def test_a_quantity_the_server_would_refuse_is_said_so(page, qty):
    said = page.evaluate("([o, b]) => FinallyTicket.describe(o, b)",
                         [{"side": "buy", "type": "market", "qty": qty, "limit": "", "stop": ""}, BOOK])
    assert said == {"text": "the quantity must be a number of shares written plainly, such as 10 or 0.5", "warn": True}


@pytest.mark.parametrize("price", ["180", "180.5", "180.50", "0.3333", "1", "0.5", "180.009", "0.33335", "1e3", "-3",
                                   "0", "abc", "1.001", "12.3456"])
def test_a_price_is_refused_by_the_servers_rule(page, price):
    from portfolio.services import price_problem

    js = page.evaluate("p => FinallyTicket.priceProblem(p)", price)
    assert (js is None) == (price_problem(price) is None), (price, js, price_problem(price))
