"""Statistical checks of the simulator over many seeded steps (repeatable)."""

import numpy as np
import pytest

from market.simulator import DEFAULT_PARAMS, PriceSimulator, correlation_matrix

DAILY = 1 / 252  # a large dt makes the drift measurable in a few thousand steps


def log_returns(sim: PriceSimulator, steps: int) -> np.ndarray:
    tickers = sim.tickers
    prices = np.empty((steps + 1, len(tickers)))
    prices[0] = [sim.prices()[t] for t in tickers]
    for i in range(steps):
        step = sim.step()
        prices[i + 1] = [step[t] for t in tickers]
    return np.diff(np.log(prices), axis=0)


class TestGeometricBrownianMotion:
    def test_log_returns_match_mu_and_sigma(self):
        sim = PriceSimulator(dt=DAILY, event_probability=0, seed=7)
        sim.set_tickers(["AAPL", "TSLA", "JPM"])
        steps = 40_000
        returns = log_returns(sim, steps)
        for column, ticker in enumerate(sim.tickers):
            p = DEFAULT_PARAMS[ticker]
            expected_mean = (p.mu - p.sigma**2 / 2) * DAILY
            expected_std = p.sigma * np.sqrt(DAILY)
            standard_error = expected_std / np.sqrt(steps)
            assert abs(returns[:, column].mean() - expected_mean) < 4 * standard_error, ticker
            assert returns[:, column].std() == pytest.approx(expected_std, rel=0.02), ticker

    def test_default_tick_is_half_a_second_of_a_trading_year(self):
        sim = PriceSimulator(tick_seconds=0.5)
        assert sim.dt == pytest.approx(0.5 / (252 * 6.5 * 3600))

    def test_sector_correlations(self):
        sim = PriceSimulator(dt=DAILY, event_probability=0, seed=11)
        sim.set_tickers(["AAPL", "MSFT", "JPM", "V", "TSLA"])
        corr = np.corrcoef(log_returns(sim, 20_000), rowvar=False)
        aapl, msft, jpm, v, tsla = range(5)
        assert corr[aapl, msft] == pytest.approx(0.6, abs=0.03)
        assert corr[jpm, v] == pytest.approx(0.5, abs=0.03)
        assert corr[aapl, jpm] == pytest.approx(0.3, abs=0.03)
        assert corr[tsla, msft] == pytest.approx(0.3, abs=0.03)

    def test_correlation_matrix_is_positive_definite_for_many_tickers(self):
        tickers = list(DEFAULT_PARAMS) + [f"X{i}" for i in range(200)]
        eigenvalues = np.linalg.eigvalsh(correlation_matrix(tickers))
        assert eigenvalues.min() > 0

    def test_prices_stay_positive_through_events(self):
        sim = PriceSimulator(dt=DAILY, event_probability=0.05, seed=3)
        sim.set_tickers(list(DEFAULT_PARAMS))
        for _ in range(5_000):
            assert min(sim.step().values()) > 0


class TestEvents:
    def test_events_happen_at_the_configured_rate_and_size(self):
        sim = PriceSimulator(event_probability=0.01, seed=5)
        sim.set_tickers(list(DEFAULT_PARAMS))
        steps, moves = 20_000, []
        for _ in range(steps):
            sim.step()
            moves.extend(sim.last_events.values())
        expected = 0.01 * steps * len(DEFAULT_PARAMS)
        assert len(moves) == pytest.approx(expected, rel=0.1)
        assert all(0.02 <= abs(m) <= 0.05 for m in moves)
        ups = sum(m > 0 for m in moves)
        assert ups / len(moves) == pytest.approx(0.5, abs=0.05)


class TestTickerSet:
    def test_seed_prices_and_unknown_ticker_at_100(self):
        sim = PriceSimulator(seed=1)
        sim.set_tickers(["AAPL", "PYPL"])
        assert sim.prices() == {"AAPL": 190.0, "PYPL": 100.0}

    def test_adding_a_ticker_keeps_the_others_prices(self):
        sim = PriceSimulator(seed=1)
        sim.set_tickers(["AAPL", "MSFT"])
        moved = sim.step()
        sim.set_tickers(["AAPL", "MSFT", "PYPL"])
        assert sim.prices() == {**moved, "PYPL": 100.0}

    def test_new_tickers_resume_from_given_prices(self):
        sim = PriceSimulator(seed=1)
        sim.set_tickers(["AAPL"], start_prices={"AAPL": 201.5})
        assert sim.prices() == {"AAPL": 201.5}

    def test_removed_ticker_is_no_longer_stepped(self):
        sim = PriceSimulator(seed=1)
        sim.set_tickers(["AAPL", "MSFT"])
        sim.set_tickers(["MSFT"])
        assert set(sim.step()) == {"MSFT"}

    def test_no_tickers(self):
        sim = PriceSimulator(seed=1)
        assert sim.step() == {}

    def test_same_seed_same_path(self):
        a, b = PriceSimulator(seed=42), PriceSimulator(seed=42)
        for sim in (a, b):
            sim.set_tickers(list(DEFAULT_PARAMS))
        assert [a.step() for _ in range(10)] == [b.step() for _ in range(10)]


class TestEnteringTickers:
    def test_a_new_tickers_first_step_is_its_start_price(self):
        sim = PriceSimulator(seed=1, event_probability=1.0)  # an event on every ticker, every step
        sim.set_tickers(["AAPL", "PYPL"])
        assert sim.step() == {"AAPL": 190.0, "PYPL": 100.0}
        assert sim.last_events == {}
        moved = sim.step()
        assert moved["AAPL"] != 190.0 and moved["PYPL"] != 100.0

    def test_only_the_entering_ticker_stays_put(self):
        sim = PriceSimulator(seed=1)
        sim.set_tickers(["AAPL"])
        sim.step()
        before = sim.prices()["AAPL"]
        sim.set_tickers(["AAPL", "PYPL"])
        step = sim.step()
        assert step["PYPL"] == 100.0 and step["AAPL"] != before
