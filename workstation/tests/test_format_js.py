"""static/js/format.js, the page's number formatters, against core/formatting.py, the server's, in Chromium.

The page re-renders portfolio figures on every tick with format.js; the server rendered them first with
core/formatting.py. A figure must not change its text when the next tick repaints it, so both must give the same
text for the same number. The server is the rule: the pinned table below is what it writes, and either side
drifting from it (or from the other, over a sweep of rounding cases) fails here.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from core.formatting import money, price, signed_money, signed_percent, tone
from portfolio.money import to_cents

# The browser fixtures of the workstation's browser tests (the module skips, or fails in CI, without Chromium):
# a Chromium launched as those tests launch it, and a test failure on any console error or CSP violation.
from workstation.tests.test_browser import browser, browser_problems  # noqa: F401

pytestmark = pytest.mark.browser

FORMAT_JS = Path(settings.BASE_DIR) / "static" / "js" / "format.js"
PYTHON = {"money": money, "signedMoney": signed_money, "signedPercent": signed_percent, "price": price, "tone": tone}

# (value, (money, signed_money, signed_percent, price, tone)) as the server writes them; a list, as 0.0 == -0.0.
TABLE = [
    (0.0, ("$0.00", "$0.00", "0.00%", "0.0000", "flat")),
    (-0.0, ("$0.00", "$0.00", "0.00%", "-0.0000", "flat")),  # a price keeps -0's sign, as Decimal's format does
    (0.004, ("$0.00", "$0.00", "0.00%", "0.0040", "flat")),
    (-0.004, ("$0.00", "$0.00", "0.00%", "-0.0040", "flat")),  # a tiny loss reads 0.00, not -0.00, and is not red
    (0.005, ("$0.01", "+$0.01", "+0.01%", "0.0050", "up")),
    (-0.005, ("-$0.01", "-$0.01", "-0.01%", "-0.0050", "down")),  # a tie goes away from zero (ROUND_HALF_UP)
    (0.015, ("$0.02", "+$0.02", "+0.02%", "0.0150", "up")),
    (1.005, ("$1.01", "+$1.01", "+1.01%", "1.00", "up")),  # cents half-up on the decimal, price half-even
    (-1.005, ("-$1.01", "-$1.01", "-1.01%", "-1.00", "down")),
    (2.125, ("$2.13", "+$2.13", "+2.13%", "2.12", "up")),
    (-2.125, ("-$2.13", "-$2.13", "-2.13%", "-2.12", "down")),
    (2.675, ("$2.68", "+$2.68", "+2.68%", "2.68", "up")),
    (12.345, ("$12.35", "+$12.35", "+12.35%", "12.34", "up")),
    (0.5, ("$0.50", "+$0.50", "+0.50%", "0.5000", "up")),
    (0.12345, ("$0.12", "+$0.12", "+0.12%", "0.1234", "up")),
    (0.00015, ("$0.00", "$0.00", "0.00%", "0.0002", "flat")),
    (0.00005, ("$0.00", "$0.00", "0.00%", "0.0000", "flat")),
    (0.99996, ("$1.00", "+$1.00", "+1.00%", "1.0000", "up")),  # under a dollar: four decimals, even rounded up to 1
    (1e-07, ("$0.00", "$0.00", "0.00%", "0.0000", "flat")),
    (0.79, ("$0.79", "+$0.79", "+0.79%", "0.7900", "up")),
    (-1.2, ("-$1.20", "-$1.20", "-1.20%", "-1.20", "down")),
    (-37.5, ("-$37.50", "-$37.50", "-37.50%", "-37.50", "down")),
    (250.0, ("$250.00", "+$250.00", "+250.00%", "250.00", "up")),
    (1234.5, ("$1,234.50", "+$1,234.50", "+1,234.50%", "1,234.50", "up")),
    (-1234.567, ("-$1,234.57", "-$1,234.57", "-1,234.57%", "-1,234.57", "down")),
    (999.995, ("$1,000.00", "+$1,000.00", "+1,000.00%", "1,000.00", "up")),
    (-999.995, ("-$1,000.00", "-$1,000.00", "-1,000.00%", "-1,000.00", "down")),
    (123456.785, ("$123,456.79", "+$123,456.79", "+123,456.79%", "123,456.78", "up")),
    (1e6, ("$1,000,000.00", "+$1,000,000.00", "+1,000,000.00%", "1,000,000.00", "up")),
    (1e21, ("$1,000,000,000,000,000,000,000.00", "+$1,000,000,000,000,000,000,000.00",
            "+1,000,000,000,000,000,000,000.00%", "1,000,000,000,000,000,000,000.00", "up")),
    (None, ("—", "—", "—", "—", "flat")),
    (math.nan, ("—", "—", "—", "—", "flat")),
    (math.inf, ("—", "—", "—", "—", "flat")),
]

FORMAT_ALL = """values => values.map(v => {
    const f = window.FinallyFormat;
    return {value: Object.is(v, -0) ? "-0" : String(v), money: f.money(v), signedMoney: f.signedMoney(v),
            signedPercent: f.signedPercent(v), price: f.price(v), tone: f.tone(v), cents: f.cents(v)};
})"""


@pytest.fixture
def formatted(browser):  # noqa: F811  (the imported fixture)
    """Runs format.js (the file the page loads) in a blank Chromium page: values -> each formatter's text."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<!doctype html><title>format.js</title>")
    page.add_script_tag(path=str(FORMAT_JS))
    yield lambda values: page.evaluate(FORMAT_ALL, values)
    context.close()


def python_row(value) -> dict:
    return {name: fn(value) for name, fn in PYTHON.items()}


def differences(values, js_rows) -> list[str]:
    problems = []
    for value, js in zip(values, js_rows, strict=True):
        py = python_row(value)
        shown = {name: js[name] for name in PYTHON}
        if shown != py:
            problems.append(f"{value!r}: server {py} page {shown}")
        if value is not None and math.isfinite(value) and js["cents"] != float(to_cents(Decimal(str(value)))):
            problems.append(f"{value!r}: server values at {to_cents(Decimal(str(value)))}, page at {js['cents']}")
    return problems


def test_the_server_writes_the_pinned_table():
    wrong = [
        f"{v!r}: {tuple(python_row(v).values())} != {row}" for v, row in TABLE if tuple(python_row(v).values()) != row
    ]
    assert not wrong, "\n".join(wrong)


def test_format_js_writes_the_pinned_table(formatted):
    values = [value for value, _ in TABLE]
    rows = formatted(values)
    # -0, NaN and infinities reach the page as themselves (Playwright serializes them), not as 0 or null.
    assert [r["value"] for r in rows[:2]] == ["0", "-0"] and [r["value"] for r in rows[-2:]] == ["NaN", "Infinity"]
    wrong = [f"{v!r}: {tuple(r[n] for n in PYTHON)} != {row}"
             for (v, row), r in zip(TABLE, rows, strict=True) if tuple(r[n] for n in PYTHON) != row]
    assert not wrong, "\n".join(wrong)


def test_format_js_agrees_with_the_server_over_a_sweep_of_rounding_cases(formatted):
    """Every thousandth and hundred-thousandth near zero (half-cent and half-tenth-of-a-cent ties, both signs),
    ties at every magnitude, and random figures of every size a portfolio shows."""
    rng = random.Random(20)
    values = [k / 1000 for k in range(-3000, 3001)] + [k / 100_000 for k in range(-3000, 3001)]
    values += [sign * (n + 0.005) * 10**e for sign in (1, -1) for n in range(1, 200, 7) for e in range(0, 8)]
    values += [sign * (n + 0.00005) for sign in (1, -1) for n in range(0, 10)]
    values += [rng.uniform(-1e7, 1e7) for _ in range(2000)]
    values += [round(rng.uniform(-1e4, 1e4), 3) for _ in range(2000)]
    values += [rng.uniform(0, 2) * rng.choice([1e-4, 1e-2, 1, 1e2]) for _ in range(2000)]
    problems = differences(values, formatted(values))
    assert not problems, f"{len(problems)} of {len(values)} differ, e.g.:\n" + "\n".join(problems[:20])
