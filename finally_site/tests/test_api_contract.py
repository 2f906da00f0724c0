"""The whole OpenAPI document against a real server: schemathesis with every check on, deterministic cases.

Run through schemathesis' own runner (every phase: examples, coverage, fuzzing), as an outside fuzzer runs it,
against a stack of real processes. Its pytest loader (`schemathesis.pytest.from_fixture`) fails on pytest 9
(it sets `Function._nodeid`, which pytest 9 no longer has). `--generation-deterministic` is schemathesis' fixed
seed: the same cases every run, so a failure here reproduces.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import make_stack

pytestmark = pytest.mark.e2e

# At most this many cases per operation (2,119 in all for 10 operations): about 80 s on a 2-core machine.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory):
    # The fuzzer sends hundreds of chat turns a minute: past the per-account budget most would be 429s (documented,
    # and held to the document all the same) and the run would trade too little for the books' check below.
    stack = make_stack(tmp_path_factory.mktemp("fuzz"), ASSISTANT_TURNS_PER_MINUTE="10000")
    stack.start_worker()
    stack.start_web()
    stack.wait_for_prices()
    yield stack
    stack.stop_all()


def test_every_operation_keeps_the_documented_contract(fuzzed_stack, tmp_path):
    schemathesis = pytest.importorskip("schemathesis")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG),
            "run", f"{fuzzed_stack.base_url}/api/openapi.json",
            "--checks", "all",
            "--max-examples", str(EXAMPLES),
            "--generation-deterministic",
            "--workers", "1",
            # The stream never ends; its events are held to the document in finally_site/tests/test_openapi.py.
            "--exclude-path", "/api/stream/prices",
            "--request-timeout", "10",
            "--no-color",
            "--report", "junit", "--report-dir", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    print(result.stdout[-2500:])  # the run's summary, shown with -rP
    assert result.returncode == 0, (
        f"schemathesis {schemathesis.__version__}:\n{result.stdout[-20000:]}\n{result.stderr[-3000:]}"
    )


def test_the_books_are_exact_after_the_run(fuzzed_stack):
    """Whatever the fuzzer sent (orders, chat turns that trade, watchlist changes), every trade recorded moved the
    cash and shares it says, and the server logged no failure."""
    from portfolio.money import CENT, cost_of, proceeds_of

    def dec(value) -> Decimal:
        return Decimal(str(value))

    trades = fuzzed_stack.query("SELECT ticker, side, quantity, price, realized_pnl FROM trades")
    [(cash,)] = fuzzed_stack.query("SELECT cash_balance FROM users_profile")
    held = fuzzed_stack.query("SELECT ticker, quantity, cost_basis FROM positions")
    positions = {t: (dec(q), dec(c)) for t, q, c in held}
    expected_cash, shares, cost = Decimal("10000.00"), {}, Decimal(0)
    for ticker, side, quantity, price, realized in trades:
        quantity, price = dec(quantity), dec(price)
        if side == "buy":
            notional = cost_of(quantity * price)
            expected_cash -= notional
            shares[ticker] = shares.get(ticker, Decimal(0)) + quantity
            cost += notional
        else:
            notional = proceeds_of(quantity * price)
            expected_cash += notional
            shares[ticker] = shares.get(ticker, Decimal(0)) - quantity
            cost -= notional - dec(realized)  # the cost basis the sell released
    assert dec(cash).quantize(CENT) == expected_cash
    assert {t: q for t, q in shares.items() if q} == {t: q for t, (q, _) in positions.items()}
    assert sum((c for _, c in positions.values()), Decimal(0)).quantize(CENT) == cost.quantize(CENT)
    print(f"{len(trades)} trades, {len(positions)} positions, cash {cash}")
    assert len(trades) > 10  # the run did trade (the chat's mock buys, orders the fuzzer got right)
    log = fuzzed_stack.log("web")
    assert "Traceback" not in log and "Internal Server Error" not in log, log[-5000:]
