"""Correlated geometric Brownian motion for a changing set of tickers (pure numpy, no Django).

Each step moves every price by S * exp((mu - sigma^2 / 2) dt + sigma sqrt(dt) Z), and now and then one
ticker jumps 2-5 %. Z comes from a factor model: one market factor shared by every ticker, one factor per
sector, and each ticker's own noise,

    Z = sqrt(rho_m) M + sqrt(rho_s - rho_m) S_sector + sqrt(1 - rho_s) e,

so two tickers of one sector correlate at rho_s and any other two at rho_m (SPEC §3). A step draws N + a
few normals and does O(N) arithmetic; adding a ticker builds no matrix. (An N x N correlation matrix and
its Cholesky factor, rebuilt on every add, cost O(N^3) per add and O(N^2) per step and memory: issue 19.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600


@dataclass(frozen=True)
class TickerParams:
    price: float
    sigma: float
    mu: float
    sector: str


DEFAULT_PARAMS: dict[str, TickerParams] = {
    "AAPL": TickerParams(190.0, 0.22, 0.05, "tech"),
    "GOOGL": TickerParams(175.0, 0.25, 0.05, "tech"),
    "MSFT": TickerParams(420.0, 0.20, 0.05, "tech"),
    "AMZN": TickerParams(185.0, 0.28, 0.05, "tech"),
    "TSLA": TickerParams(250.0, 0.50, 0.03, "tsla"),
    "NVDA": TickerParams(800.0, 0.40, 0.08, "tech"),
    "META": TickerParams(500.0, 0.30, 0.05, "tech"),
    "JPM": TickerParams(195.0, 0.18, 0.04, "finance"),
    "V": TickerParams(280.0, 0.17, 0.04, "finance"),
    "NFLX": TickerParams(600.0, 0.35, 0.05, "tech"),
}
UNKNOWN_PARAMS = TickerParams(100.0, 0.25, 0.05, "other")

# Correlation of two tickers in the same sector; anything across sectors (and TSLA with anything,
# and an unknown ticker with anything) is CROSS_SECTOR_CORRELATION, the market factor's share.
SECTOR_CORRELATION = {"tech": 0.6, "finance": 0.5}
CROSS_SECTOR_CORRELATION = 0.3
# The sectors with a factor of their own, in a fixed order (the order of the sector draws of a step).
SECTORS = tuple(SECTOR_CORRELATION)


def params_for(ticker: str) -> TickerParams:
    return DEFAULT_PARAMS.get(ticker, UNKNOWN_PARAMS)


def loadings(sector: str) -> tuple[float, float, float]:
    """(market, sector, own noise) weights of a ticker of `sector`: unit variance, the correlations above."""
    within = SECTOR_CORRELATION.get(sector, CROSS_SECTOR_CORRELATION)
    return (
        np.sqrt(CROSS_SECTOR_CORRELATION),
        np.sqrt(within - CROSS_SECTOR_CORRELATION),
        np.sqrt(1.0 - within),
    )


def correlation_matrix(tickers: list[str]) -> np.ndarray:
    """The correlations the factor model produces (for tests and documentation; the simulator never builds it)."""
    sectors = np.array([params_for(t).sector for t in tickers])
    within = np.array([SECTOR_CORRELATION.get(s, CROSS_SECTOR_CORRELATION) for s in sectors])
    corr = np.where(sectors[:, None] == sectors[None, :], within[:, None], CROSS_SECTOR_CORRELATION)
    np.fill_diagonal(corr, 1.0)
    return corr


class PriceSimulator:
    """Steps a set of tickers forward together; add or remove tickers between steps."""

    def __init__(
        self,
        *,
        tick_seconds: float = 0.5,
        dt: float | None = None,
        event_probability: float = 0.0005,
        event_range: tuple[float, float] = (0.02, 0.05),
        seed: int | None = None,
    ) -> None:
        self.dt = dt if dt is not None else tick_seconds / TRADING_SECONDS_PER_YEAR
        # Per ticker per step: 0.0005 at 2 ticks/s is about one event a minute across ten tickers.
        self.event_probability = event_probability
        self.event_range = event_range
        self._rng = np.random.default_rng(seed)
        self._tickers: list[str] = []
        self._prices = np.empty(0)
        self._sigma = np.empty(0)
        self._mu = np.empty(0)
        # Per ticker: its sector factor's index (-1: none) and its market, sector and own-noise loadings.
        self._sector = np.empty(0, dtype=np.intp)
        self._loadings = np.empty((0, 3))
        # Tickers that joined since the last step: their first quote is their start price, unmoved.
        self._entering = np.empty(0, dtype=bool)
        self.last_events: dict[str, float] = {}

    @property
    def tickers(self) -> list[str]:
        return list(self._tickers)

    def prices(self) -> dict[str, float]:
        return dict(zip(self._tickers, self._prices.tolist(), strict=True))

    def set_tickers(self, tickers: list[str], start_prices: dict[str, float] | None = None) -> None:
        """Price exactly `tickers` from the next step; known ones keep their price, new ones start
        at `start_prices` (e.g. the last stored price) or their seed price."""
        if list(tickers) == self._tickers:
            return
        current = self.prices()
        start_prices = start_prices or {}
        params = [params_for(t) for t in tickers]
        self._prices = np.array(
            [current.get(t, start_prices.get(t, p.price)) for t, p in zip(tickers, params, strict=True)], dtype=float
        )
        self._entering = np.array([t not in current for t in tickers], dtype=bool)
        self._sigma = np.array([p.sigma for p in params])
        self._mu = np.array([p.mu for p in params])
        self._sector = np.array([SECTORS.index(p.sector) if p.sector in SECTORS else -1 for p in params], dtype=np.intp)
        self._loadings = np.array([loadings(p.sector) for p in params], dtype=float).reshape(len(params), 3)
        self._tickers = list(tickers)

    def step(self) -> dict[str, float]:
        n = len(self._tickers)
        if n == 0:
            self.last_events = {}
            return {}
        z = self._correlated_normals(n)
        drift = (self._mu - 0.5 * self._sigma**2) * self.dt
        shock = self._sigma * np.sqrt(self.dt) * z
        factor = np.exp(drift + shock)
        self.last_events = {}
        if self.event_probability > 0:
            hits = np.flatnonzero(self._rng.random(n) < self.event_probability)
            if hits.size:
                sizes = self._rng.uniform(*self.event_range, hits.size)
                signs = self._rng.choice((-1.0, 1.0), hits.size)
                jumps = 1.0 + signs * sizes
                factor[hits] *= jumps
                self.last_events = {
                    self._tickers[i]: float(j - 1.0) for i, j in zip(hits, jumps, strict=True) if not self._entering[i]
                }
        factor[self._entering] = 1.0
        self._entering[:] = False
        self._prices = self._prices * factor
        return dict(zip(self._tickers, self._prices.tolist(), strict=True))

    def _correlated_normals(self, n: int) -> np.ndarray:
        """N standard normals with the sector correlations: O(N) work, whatever N is."""
        draws = self._rng.standard_normal(1 + len(SECTORS) + n)
        market, sectors, own = draws[0], draws[1 : 1 + len(SECTORS)], draws[1 + len(SECTORS) :]
        # A ticker without a sector factor has a zero sector loading; index -1 then reads any draw, times zero.
        return self._loadings[:, 0] * market + self._loadings[:, 1] * sectors[self._sector] + self._loadings[:, 2] * own
