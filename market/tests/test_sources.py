"""Price sources: the simulator source, and Massive against a local stub of its snapshot endpoint."""

import pytest

from market.sources import MassiveSource, SimulatorSource, SourceUnavailable, make_source
from market.tests.massive_stub import MassiveStub, snapshot


@pytest.fixture
def stub():
    with MassiveStub() as server:
        yield server


def massive(stub: MassiveStub) -> MassiveSource:
    return MassiveSource(api_key="test-key", interval=0.1, base_url=stub.base_url)


class TestMassiveSource:
    def test_one_snapshot_call_for_all_tickers(self, stub):
        stub.script((200, {"status": "OK", "tickers": [snapshot("AAPL", last=191.5, day_open=190.0), snapshot("MSFT", last=421.25)]}))
        quotes = massive(stub).fetch(["AAPL", "MSFT"])
        assert quotes.prices == {"AAPL": 191.5, "MSFT": 421.25}
        assert quotes.open_prices == {"AAPL": 190.0}
        assert quotes.unknown == set()
        assert len(stub.requests) == 1
        request = stub.requests[0]
        assert request["path"] == "/v2/snapshot/locale/us/markets/stocks/tickers"
        assert request["query"]["tickers"] == ["AAPL,MSFT"]
        assert request["auth"] == "Bearer test-key"

    def test_price_falls_back_when_blocks_are_missing(self, stub):
        stub.script((200, {"status": "OK", "tickers": [snapshot("AAPL", day_close=189.0)]}))
        assert massive(stub).fetch(["AAPL"]).prices == {"AAPL": 189.0}

    def test_tickers_massive_does_not_know_are_reported_unknown(self, stub):
        stub.script((200, {"status": "OK", "tickers": [snapshot("AAPL", last=191.5)]}))
        quotes = massive(stub).fetch(["AAPL", "NOPEX"])
        assert quotes.unknown == {"NOPEX"}

    @pytest.mark.parametrize(
        "status, body",
        [
            (429, {"status": "ERROR", "error": "Too many requests"}),
            (500, {"status": "ERROR"}),
            (401, {"status": "ERROR", "error": "Unknown API Key"}),
            (200, "not json"),
            (200, {"status": "OK", "tickers": []}),
        ],
    )
    def test_failures_raise_source_unavailable_after_one_attempt(self, stub, status, body):
        stub.script((status, body))
        with pytest.raises(SourceUnavailable):
            massive(stub).fetch(["AAPL"])
        assert len(stub.requests) == 1  # no retries inside the worker's tick: we back off ourselves

    def test_network_failure_raises_source_unavailable(self):
        source = MassiveSource(api_key="k", interval=0.1, base_url="http://127.0.0.1:9")  # discard port: refused
        with pytest.raises(SourceUnavailable):
            source.fetch(["AAPL"])

    def test_no_tickers_no_call(self, stub):
        assert massive(stub).fetch([]).prices == {}
        assert stub.requests == []


class TestChoice:
    def test_simulator_without_key(self, settings):
        settings.MASSIVE_API_KEY = ""
        assert make_source(settings=settings).name == "simulator"

    def test_massive_with_key(self, settings):
        settings.MASSIVE_API_KEY = "abc"
        source = make_source(settings=settings)
        assert source.name == "massive"
        assert source.interval == settings.MASSIVE_POLL_SECONDS


class TestSimulatorSource:
    def test_prices_every_ticker_asked(self):
        source = SimulatorSource(interval=0.5, seed=1)
        quotes = source.fetch(["AAPL", "PYPL"])
        assert set(quotes.prices) == {"AAPL", "PYPL"}
        assert quotes.unknown == set()

    def test_resumes_from_stored_prices(self):
        source = SimulatorSource(interval=0.5, seed=1, start_prices={"AAPL": 250.0}, start_opens={"AAPL": 240.0})
        quotes = source.fetch(["AAPL"])
        assert quotes.prices["AAPL"] == 250.0
        assert quotes.open_prices == {"AAPL": 240.0}  # the stored session open, not the resumed price

    def test_a_new_ticker_opens_at_its_seed_exactly(self):
        source = SimulatorSource(interval=0.5, seed=1)
        first = source.fetch(["AAPL", "PYPL"])
        assert first.prices == {"AAPL": 190.0, "PYPL": 100.0}
        assert first.open_prices == {"AAPL": 190.0, "PYPL": 100.0}
        assert source.fetch(["AAPL", "PYPL"]).open_prices == {}  # later steps leave the open alone

    def test_a_ticker_removed_and_added_again_resumes_where_it_was(self):
        source = SimulatorSource(interval=0.5, seed=1, start_prices={"PYPL": 80.0})
        for _ in range(20):
            last = source.fetch(["AAPL", "PYPL"]).prices["PYPL"]
        source.fetch(["AAPL"])
        source.fetch(["AAPL"])
        again = source.fetch(["AAPL", "PYPL"])
        assert again.prices["PYPL"] == last  # not 80.0, where it stood when the worker started
        assert again.open_prices == {"PYPL": 80.0}
