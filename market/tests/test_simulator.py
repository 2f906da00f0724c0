"""Statistical checks of the simulator over many seeded steps (repeatable)."""

import tracemalloc

import numpy as np
import pytest

from market.simulator import DEFAULT_PARAMS, PriceSimulator, correlation_matrix, loadings

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


class TestFactorModel:
    """The correlations come from shared factors, not from an N x N matrix (issue 19)."""

    def test_empirical_correlations_of_a_mixed_set(self):
        unknown = ["PYPL", "SHOP", "UBER"]
        sim = PriceSimulator(dt=DAILY, event_probability=0, seed=19)
        sim.set_tickers(list(DEFAULT_PARAMS) + unknown)
        corr = np.corrcoef(log_returns(sim, 20_000), rowvar=False)
        sector = {t: DEFAULT_PARAMS[t].sector if t in DEFAULT_PARAMS else "other" for t in sim.tickers}
        groups: dict[str, list[float]] = {"tech": [], "finance": [], "cross": [], "tsla": [], "other": []}
        for i, a in enumerate(sim.tickers):
            for j, b in enumerate(sim.tickers[:i]):
                if "TSLA" in (a, b):
                    groups["tsla"].append(corr[i, j])
                elif sector[a] == sector[b] and sector[a] in ("tech", "finance"):
                    groups[sector[a]].append(corr[i, j])
                elif sector[a] == sector[b]:
                    groups["other"].append(corr[i, j])
                else:
                    groups["cross"].append(corr[i, j])
        expected = {"tech": 0.6, "finance": 0.5, "cross": 0.3, "tsla": 0.3, "other": 0.3}
        for name, values in groups.items():
            assert values, name
            # Every pair near its target, and their mean closer still.
            assert np.mean(values) == pytest.approx(expected[name], abs=0.02), name
            assert max(abs(v - expected[name]) for v in values) < 0.04, name

    def test_each_returns_variance_is_still_sigma_squared(self):
        # The loadings of a ticker sum (in squares) to one whatever its sector.
        for sector in ("tech", "finance", "tsla", "other"):
            assert sum(w**2 for w in loadings(sector)) == pytest.approx(1.0), sector

    @staticmethod
    def _held_elements(sim: PriceSimulator) -> int:
        return sum(value.size for value in vars(sim).values() if isinstance(value, np.ndarray))

    @staticmethod
    def _peak_bytes(func) -> int:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            func()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak - before

    def test_state_and_work_grow_linearly_with_the_tickers(self):
        # Structure, not time: what the simulator holds and allocates for an add and a step, at 100 and at
        # 2,000 tickers. An N x N matrix (the Cholesky factor) is 400 times larger at 2,000; linear is 20.
        small, large = 100, 2_000
        held, add_peak, step_peak = {}, {}, {}
        for n in (small, large):
            tickers = [f"X{i}" for i in range(n)] + list(DEFAULT_PARAMS)
            sim = PriceSimulator(seed=1)
            sim.set_tickers(tickers[:-1])
            sim.step()
            # One add to n + 9 tickers (measured at once; the defaults bind this round's simulator all the same).
            add_peak[n] = self._peak_bytes(lambda sim=sim, tickers=tickers: sim.set_tickers(tickers))
            held[n] = self._held_elements(sim)
            sim.step()
            step_peak[n] = self._peak_bytes(sim.step)
        assert held[large] <= 16 * (large + len(DEFAULT_PARAMS))  # a handful of numbers per ticker
        ratio = large / small
        for name, measured in (("held", held), ("add", add_peak), ("step", step_peak)):
            assert measured[large] <= 1.5 * ratio * measured[small], (name, measured)

    def test_no_matrix_factorisation_on_add_or_step(self, monkeypatch):
        def refuse(*args, **kwargs):
            raise AssertionError("the simulator factorised a matrix")

        monkeypatch.setattr(np.linalg, "cholesky", refuse)
        sim = PriceSimulator(seed=1)
        for n in range(1, 30):
            sim.set_tickers([f"X{i}" for i in range(n)] + ["AAPL", "JPM"])
            sim.step()
