"""The scale-out topology for real: one price worker and two web processes on Redis and PostgreSQL.

Each test gets its own PostgreSQL database and Redis key prefix on the session's servers (servers.py), so
the tests never see each other's ticks or trades; a test that restarts a server restarts it for all, which is
fine as they run one after another.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from conftest import free_port
from market.tests.sse_client import StreamRecorder

pytestmark = pytest.mark.e2e

DEFAULT = {"AAPL", "GOOGL", "MSFT", "AMZN", "TSLA", "NVDA", "META", "JPM", "V", "NFLX"}


class Cluster:
    """The stack's worker plus web processes `web` and `web2`, each on its own port."""

    def __init__(self, stack, redis_server, postgres_server):
        self.stack = stack
        self.redis = redis_server
        self.postgres = postgres_server
        self.ports = {"web": stack.port, "web2": free_port()}

    def url(self, web: str) -> str:
        return f"http://127.0.0.1:{self.ports[web]}"

    @property
    def urls(self) -> list[str]:
        return [self.url(name) for name in self.ports]

    def start(self) -> Cluster:
        self.stack.start_worker()
        for name, port in self.ports.items():
            self.stack.start_web(name, port)
        self.wait_until(lambda h: h["prices"]["fresh"], "fresh prices")
        return self

    def health(self, web: str) -> tuple[int, dict | None]:
        try:
            response = httpx.get(self.url(web) + "/api/health", timeout=10)
            return response.status_code, response.json()
        except httpx.HTTPError:
            return 0, None

    def wait_until(self, predicate, what: str, timeout: float = 30) -> float:
        """Until predicate(health) holds on every web process; returns the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            results = [self.health(name) for name in self.ports]
            if all(body is not None and predicate(body) for _, body in results):
                return time.monotonic() - start
            time.sleep(0.2)
        raise AssertionError(f"{what} not seen on both web processes: {results}\n{self.stack.log('worker')[-3000:]}")

    def book(self, book_id: str = "default") -> dict:
        """Cash, positions and trades of one book as the database holds them."""
        where = f"WHERE user_id = '{book_id}'"  # a test's own ids, never outside input
        [(cash,)] = self.stack.query(f"SELECT cash_balance FROM users_profile WHERE id = '{book_id}'")
        positions = {
            t: (q, b) for t, q, b in self.stack.query(f"SELECT ticker, quantity, cost_basis FROM positions {where}")
        }
        trades = self.stack.query(
            f"SELECT ticker, side, quantity, price, realized_pnl, client_order_id, id FROM trades {where}"
        )
        return {"cash": Decimal(cash), "positions": positions, "trades": trades}

    def book_of(self, username: str) -> str:
        """The id of the book an account owns (ACCOUNTS=on)."""
        [(book_id,)] = self.stack.query(
            "SELECT p.id FROM users_profile p JOIN auth_user u ON p.account_id = u.id "
            f"WHERE u.username = '{username}'"
        )
        return book_id


def _cluster_stack(stack_factory, redis_server, postgres_server, **env: str):
    """One worker's and two web processes' stack on its own PostgreSQL database and Redis prefix."""
    name = f"scale_{uuid.uuid4().hex[:10]}"
    return stack_factory(
        DATABASE_URL=postgres_server.create_database(name),
        REDIS_URL=redis_server.url,
        REDIS_PREFIX=name,
        PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS="3600",
        **env,
    )


@pytest.fixture
def cluster(stack_factory, redis_server, postgres_server, request):
    return Cluster(_cluster_stack(stack_factory, redis_server, postgres_server), redis_server, postgres_server).start()


def assert_books_exact(book: dict) -> None:
    """Cash + cost basis of what is held − realized P&L is the starting $10,000, to the cent."""
    basis = sum((Decimal(b) for _, b in book["positions"].values()), Decimal(0))
    realized = sum((Decimal(r[4]) for r in book["trades"] if r[1] == "sell"), Decimal(0))
    assert book["cash"] >= 0
    assert book["cash"] + basis - realized == Decimal("10000.00")
    for ticker, (quantity, _) in book["positions"].items():
        signed = sum(Decimal(q) * (1 if side == "buy" else -1) for t, side, q, *_ in book["trades"] if t == ticker)
        assert Decimal(quantity) == signed, ticker


def stream_ticks(stream: StreamRecorder, since: float, until: float) -> set[tuple[str, str, float]]:
    return {(e["ticker"], e["timestamp"], e["price"]) for at, e in list(stream.events) if since <= at <= until}


def test_both_web_processes_stream_the_same_ticks(cluster):
    health = cluster.health("web")[1]
    assert health["store_kind"] == "redis" and health["database_engine"] == "postgresql"
    with StreamRecorder(cluster.url("web") + "/api/stream/prices") as one, StreamRecorder(
        cluster.url("web2") + "/api/stream/prices"
    ) as two:
        for stream in (one, two):
            assert stream.wait_for(lambda events: DEFAULT <= {e["ticker"] for _, e in events}, timeout=5)
        start = time.monotonic()
        time.sleep(4)
        end = time.monotonic()
    # Every tick in the middle of the window reached both clients, identical (ticker, time, price).
    a, b = stream_ticks(one, start, end), stream_ticks(two, start, end)
    times_a = sorted({t for _, t, _ in a})[1:-1]
    assert len(times_a) >= 5, "fewer ticks than expected in 4 s"
    for stamp in times_a:
        assert {x for x in a if x[1] == stamp} == {x for x in b if x[1] == stamp}, stamp


def test_trades_through_both_web_processes_keep_the_books_exact(cluster):
    buys = [{"ticker": "NVDA", "quantity": 3, "side": "buy"}] * 30
    mixed = [
        {"ticker": "AAPL", "quantity": q, "side": s} for q, s in zip(itertools.cycle([1, 2, 3]), ["buy", "sell"] * 15)
    ]
    orders = [dict(o, client_order_id=f"o{i}") for i, o in enumerate(buys + mixed)]
    barrier = threading.Barrier(len(orders))

    def send(indexed):
        index, order = indexed
        with httpx.Client(base_url=cluster.urls[index % 2], timeout=30) as client:
            barrier.wait()
            return client.post("/api/portfolio/trade", json=order)

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        responses = list(pool.map(send, enumerate(orders)))
    assert {r.status_code for r in responses} <= {201, 400}, [r.text for r in responses if r.status_code >= 500]
    accepted = {o["client_order_id"] for o, r in zip(orders, responses, strict=True) if r.status_code == 201}
    assert any(r.status_code == 400 and "Not enough cash" in r.json()["error"] for r in responses)
    book = cluster.book()
    assert {t[5] for t in book["trades"]} == accepted
    assert len(book["trades"]) == len(accepted)
    assert_books_exact(book)
    # Both processes report the same portfolio.
    views = [httpx.get(url + "/api/portfolio").json()["cash_balance"] for url in cluster.urls]
    assert views[0] == views[1] == float(book["cash"])


class Trader(threading.Thread):
    """Places orders in a loop through one web process; a refused or failed order is retried with the
    same client_order_id until it gets an answer that says whether it filled."""

    def __init__(self, url: str, name: str):
        super().__init__(daemon=True)
        self.url = url
        self.name_ = name
        self.stop = threading.Event()
        self.filled: set[str] = set()
        self.statuses: list[int] = []

    def run(self):
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                order = {"ticker": "AAPL", "quantity": 1, "side": "buy" if n % 2 == 0 else "sell",
                         "client_order_id": f"{self.name_}-{n}"}
                while not self.stop.is_set():
                    try:
                        response = client.post("/api/portfolio/trade", json=order)
                    except httpx.HTTPError:
                        self.statuses.append(0)
                        time.sleep(0.2)
                        continue
                    self.statuses.append(response.status_code)
                    if response.status_code == 201:
                        self.filled.add(order["client_order_id"])
                        break
                    time.sleep(0.2)  # 503 (prices delayed, store restarting): the same order again


def test_restarting_redis_mid_stream_loses_no_trade_and_streams_resume(cluster):
    traders = [Trader(url, f"t{i}") for i, url in enumerate(cluster.urls)]
    with StreamRecorder(cluster.url("web") + "/api/stream/prices") as one, StreamRecorder(
        cluster.url("web2") + "/api/stream/prices"
    ) as two:
        for trader in traders:
            trader.start()
        time.sleep(2)
        cluster.redis.restart(down_for=2)
        restarted = time.monotonic()
        for stream in (one, two):
            took = stream.wait_for(lambda events: any(at > restarted for at, _ in events), timeout=20)
            assert took is not None, "the stream did not resume after Redis came back"
        cluster.wait_until(lambda h: h["prices"]["fresh"] and h["store"], "fresh prices after the restart")
        time.sleep(2)
        for trader in traders:
            trader.stop.set()
            trader.join(timeout=40)
    book = cluster.book()
    filled = set().union(*(t.filled for t in traders))
    assert filled and {t[5] for t in book["trades"]} == filled  # every acknowledged order, once; no other
    assert len(book["trades"]) == len(filled)
    assert_books_exact(book)
    statuses = {s for t in traders for s in t.statuses}
    # Never a 500, and never a final 4xx for an order that only met a passing condition (a client that stops at a
    # 4xx would have dropped it): delayed prices and a restarting store are 503s.
    assert statuses <= {201, 503}, statuses
    log = cluster.stack.log("worker")
    assert "could not write the tick" in log and "price store" in log and "is back" in log


def test_killed_worker_shows_stale_on_both_and_a_new_worker_resumes(cluster):
    cluster.stack.processes["worker"].kill()  # SIGKILL: no clean release of its lease
    cluster.stack.processes.pop("worker").wait()
    cluster.wait_until(lambda h: not h["prices"]["fresh"] and h["status"] == "degraded", "a stale feed", timeout=20)
    refused = httpx.post(
        cluster.url("web2") + "/api/portfolio/trade", json={"ticker": "AAPL", "quantity": 1, "side": "buy"}
    )
    assert refused.status_code == 503 and "delayed" in refused.json()["error"] and refused.headers["Retry-After"]
    cluster.stack.start_worker()
    cluster.wait_until(lambda h: h["prices"]["fresh"], "fresh prices from the new worker", timeout=20)
    with StreamRecorder(cluster.url("web2") + "/api/stream/prices") as stream:
        assert stream.wait_for(lambda events: len({e["timestamp"] for _, e in events}) >= 3, timeout=10)


def test_a_crashed_workers_lease_is_waited_out_by_its_replacement(cluster):
    cluster.stack.processes["worker"].kill()  # as a supervisor sees a crash: restarted at once, lease still held
    cluster.stack.processes.pop("worker").wait()
    cluster.stack.start_worker()
    cluster.wait_until(lambda h: h["prices"]["fresh"] and h["prices"]["age_seconds"] < 1, "the replacement's ticks")
    assert cluster.stack.processes["worker"].poll() is None, cluster.stack.log("worker")


def test_a_second_worker_is_refused_while_the_first_holds_the_lease(cluster):
    second = cluster.stack.manage("price_worker", "--max-ticks", "1", check=False)
    assert second.returncode == 3
    assert "lease" in second.stderr and "only one may run" in second.stderr


def test_database_restart_costs_no_request_once_it_is_back(cluster):
    trade = httpx.post(
        cluster.url("web") + "/api/portfolio/trade", json={"ticker": "AAPL", "quantity": 1, "side": "buy"}
    )
    assert trade.status_code == 201
    # Many connections in each process's pool first: every one of them dies with the server.
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = pool.map(lambda u: httpx.get(u + "/api/portfolio", timeout=30), cluster.urls * 24)
        assert {r.status_code for r in answers} == {200}
    cluster.postgres.stop()
    try:
        code, body = cluster.health("web")
        assert code == 503 and body["database"] is False and body["status"] == "down"
        down = httpx.post(cluster.url("web2") + "/api/portfolio/trade",
                          json={"ticker": "AAPL", "quantity": 1, "side": "buy"}, timeout=30)
        assert down.status_code == 503 and "unavailable" in down.json()["error"] and down.headers["Retry-After"]
        assert httpx.get(cluster.url("web") + "/api/health", timeout=30).headers["Retry-After"]
        time.sleep(8)  # long enough for the pool's reconnection attempts to back off to long delays
    finally:
        cluster.postgres.start()
    # The very first requests after the database is back succeed on both processes: pooled connections broken
    # by the restart are checked and replaced, the writer threads' included.
    for url in cluster.urls * 3:
        assert httpx.get(url + "/api/portfolio", timeout=30).status_code == 200
        trade = httpx.post(
            url + "/api/portfolio/trade", json={"ticker": "AAPL", "quantity": 1, "side": "buy"}, timeout=30
        )
        assert trade.status_code == 201, trade.text
    assert all(cluster.health(name)[0] == 200 for name in cluster.ports)
    assert_books_exact(cluster.book())
    # The worker lived through it (it kept pricing the last known tickers) and is still ticking.
    assert cluster.stack.processes["worker"].poll() is None
    cluster.wait_until(lambda h: h["prices"]["fresh"] and h["prices"]["age_seconds"] < 2, "ticks after the restart")


def test_data_survives_a_restart_of_the_whole_app_on_postgresql(cluster):
    url = cluster.url("web")
    trade = httpx.post(url + "/api/portfolio/trade", json={"ticker": "MSFT", "quantity": 2, "side": "buy"})
    assert trade.status_code == 201
    assert httpx.post(url + "/api/watchlist", json={"ticker": "PYPL"}).status_code == 201
    before = httpx.get(url + "/api/portfolio").json()
    cluster.stack.stop_all()
    cluster.start()
    after = httpx.get(cluster.url("web2") + "/api/portfolio").json()
    assert after["cash_balance"] == before["cash_balance"]
    assert [(p["ticker"], p["quantity"]) for p in after["positions"]] == [("MSFT", 2.0)]
    assert "PYPL" in {w["ticker"] for w in httpx.get(url + "/api/watchlist").json()}


def test_data_survives_a_restart_of_the_whole_app_on_sqlite(live_stack):
    url = live_stack.base_url
    trade = httpx.post(url + "/api/portfolio/trade", json={"ticker": "MSFT", "quantity": 2, "side": "buy"})
    assert trade.status_code == 201
    before = httpx.get(url + "/api/portfolio").json()
    history_before = httpx.get(url + "/api/portfolio/history").json()
    live_stack.stop_all()
    live_stack.start_worker()
    live_stack.start_web()
    live_stack.wait_for_prices()
    after = httpx.get(url + "/api/portfolio").json()
    assert after["cash_balance"] == before["cash_balance"]
    assert [(p["ticker"], p["quantity"]) for p in after["positions"]] == [("MSFT", 2.0)]
    assert httpx.get(url + "/api/portfolio/history").json()[: len(history_before)] == history_before


def test_a_trade_on_one_web_process_is_read_at_once_on_the_other(cluster):
    """The API's reads may be cached (core.fastpath.ReadCache), never past a trade: on PostgreSQL and Redis there
    is no change counter this cheap, so they are made afresh; this holds that they stay right."""
    webs = cluster.urls
    for web in webs:
        httpx.get(web + "/api/portfolio", timeout=10)
    for n in range(8):
        trading, other = webs[n % 2], webs[(n + 1) % 2]
        fill = httpx.post(trading + "/api/portfolio/trade", json={"ticker": "AAPL", "side": "buy", "quantity": 1},
                          timeout=10)
        assert fill.status_code == 201, fill.text
        for web in (other, trading):
            body = httpx.get(web + "/api/portfolio", timeout=10).json()
            assert body["cash_balance"] == fill.json()["cash_balance"]
            assert {p["ticker"]: p["quantity"] for p in body["positions"]} == {"AAPL": n + 1}


# ---- ACCOUNTS=on: many books on the same cluster (issue 21) ----


@dataclass
class Account:
    name: str
    password: str
    token: str
    token_id: str
    book_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def issue_token(url: str, name: str, password: str) -> tuple[str, str]:
    """A new bearer token for the account: (its id, the token)."""
    response = httpx.post(url + "/api/auth/token", json={"username": name, "password": password}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["token"]


@pytest.fixture
def accounts_cluster(stack_factory, redis_server, postgres_server):
    """The cluster with ACCOUNTS=on and two accounts made by adduser, each with a token (from different web
    processes: a token one process issued is good on the other)."""
    stack = _cluster_stack(stack_factory, redis_server, postgres_server, ACCOUNTS="on")
    passwords = {"ada": f"ada-{uuid.uuid4().hex}", "bob": f"bob-{uuid.uuid4().hex}"}
    for username, password in passwords.items():
        stack.add_account(username, password)
    cluster = Cluster(stack, redis_server, postgres_server).start()
    cluster.accounts = {}
    for username, url in zip(passwords, cluster.urls, strict=True):
        token_id, token = issue_token(url, username, passwords[username])
        cluster.accounts[username] = Account(username, passwords[username], token, token_id, cluster.book_of(username))
    return cluster


def all_trades(cluster: Cluster, account: Account) -> list[dict]:
    """Every trade the API lists for the account, newest first, a small page at a time from alternating web
    processes (so the paging itself crosses processes)."""
    trades, before = [], None
    for page in itertools.count():
        params = {"limit": 7} | ({"before": before} if before else {})
        response = httpx.get(cluster.urls[page % 2] + "/api/trades", params=params, headers=account.auth, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        trades += body["trades"]
        before = body["next_before"]
        if before is None:
            return trades


def cents(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_two_accounts_trading_at_once_through_both_web_processes_keep_both_books_exact(accounts_cluster):
    cluster = accounts_cluster
    ada, bob = cluster.accounts["ada"], cluster.accounts["bob"]
    # The first account made took over the implicit user's book; the second has a new one.
    assert ada.book_id == "default" and bob.book_id != ada.book_id
    # Each account's orders: buys and sells of two tickers, small enough that most fill. Both use the same
    # client_order_ids: an id is one account's own, so neither's order is taken for a retry of the other's.
    mine = [
        {"ticker": ["AAPL", "MSFT"][i % 2], "quantity": [1, 2, 3, 2][i % 4], "side": ["buy", "buy", "sell"][i % 3]}
        for i in range(36)
    ]
    orders = [(account, dict(o, client_order_id=f"o{i}")) for account in (ada, bob) for i, o in enumerate(mine)]
    barrier = threading.Barrier(len(orders))

    def send(indexed):
        index, (account, order) = indexed
        with httpx.Client(base_url=cluster.urls[index % 2], headers=account.auth, timeout=30) as client:
            barrier.wait()
            return client.post("/api/portfolio/trade", json=order)

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        responses = list(pool.map(send, enumerate(orders)))
    assert {r.status_code for r in responses} <= {201, 400}, [r.text for r in responses if r.status_code != 201]
    assert not any(r.headers.get("Idempotent-Replayed") for r in responses)

    listed = {}
    for account in (ada, bob):
        filled = [o for (a, o), r in zip(orders, responses, strict=True) if a is account and r.status_code == 201]
        accepted = {o["client_order_id"] for o in filled}
        assert any(o["side"] == "sell" for o in filled)
        trades = all_trades(cluster, account)
        listed[account.name] = trades
        # Exactly the account's filled orders, each once.
        assert sorted(t["client_order_id"] for t in trades) == sorted(accepted)
        # Cash to the cent from the account's own trades, as both web processes report it.
        spent = sum((cents(t["notional"]) for t in trades if t["side"] == "buy"), Decimal(0))
        received = sum((cents(t["notional"]) for t in trades if t["side"] == "sell"), Decimal(0))
        expected_cash = Decimal("10000.00") - spent + received
        held = {}
        for t in trades:
            held[t["ticker"]] = held.get(t["ticker"], 0) + t["quantity"] * (1 if t["side"] == "buy" else -1)
        held = {ticker: q for ticker, q in held.items() if q}
        for url in cluster.urls:
            portfolio = httpx.get(url + "/api/portfolio", headers=account.auth, timeout=30).json()
            assert cents(portfolio["cash_balance"]) == expected_cash, (account.name, url)
            assert {p["ticker"]: p["quantity"] for p in portfolio["positions"]} == held, (account.name, url)
        # And the database agrees, book by book.
        book = cluster.book(account.book_id)
        assert book["cash"] == expected_cash
        assert {row[6] for row in book["trades"]} == {t["id"] for t in trades}
        assert {ticker: float(q) for ticker, (q, _) in book["positions"].items() if q} == held
        assert_books_exact(book)
    # Neither account's trades are in the other's list, though their client_order_ids overlap.
    assert not {t["id"] for t in listed["ada"]} & {t["id"] for t in listed["bob"]}
    assert {t["client_order_id"] for t in listed["ada"]} & {t["client_order_id"] for t in listed["bob"]}


def sign_in(url: str, account: Account) -> httpx.Client:
    """A client signed in through the login page, as a browser is: its session cookie and CSRF token."""
    client = httpx.Client(base_url=url, timeout=30)
    client.get("/login")
    signed = client.post("/login", data={"username": account.name, "password": account.password,
                                         "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                         headers={"Referer": url + "/login"})
    assert signed.status_code == 302 and signed.headers["Location"] == "/", signed.text
    return client


def test_accounts_a_burst_of_signed_in_orders_on_one_web_process_all_fill(accounts_cluster):
    """More orders at once than the process's database pool has connections (20): finding each request's account
    must not hold a connection while the order waits for the writer (it once did, and orders failed with 500s)."""
    cluster = accounts_cluster
    bob = cluster.accounts["bob"]
    url = cluster.url("web2")
    browser = sign_in(url, bob)
    cookies, csrf = dict(browser.cookies), browser.cookies["csrftoken"]
    browser.close()
    barrier = threading.Barrier(40)

    def send(n):
        with httpx.Client(base_url=url, cookies=cookies, timeout=30) as client:
            barrier.wait()
            return client.post("/api/portfolio/trade", json={"ticker": "AAPL", "quantity": 1, "side": "buy",
                                                             "client_order_id": f"s{n}"},
                               headers={"X-CSRFToken": csrf, "Referer": url + "/"})

    with ThreadPoolExecutor(max_workers=40) as pool:
        responses = list(pool.map(send, range(40)))
    assert [r.status_code for r in responses] == [201] * 40, {r.text for r in responses if r.status_code != 201}
    book = cluster.book(bob.book_id)
    assert len(book["trades"]) == 40
    assert_books_exact(book)


def test_accounts_a_revoked_token_is_refused_at_once_by_the_other_web_process(accounts_cluster):
    cluster = accounts_cluster
    ada, bob = cluster.accounts["ada"], cluster.accounts["bob"]
    spare_id, spare = issue_token(cluster.url("web2"), ada.name, ada.password)
    for url in cluster.urls * 3:  # whatever either process keeps of a token, it has seen this one now
        assert httpx.get(url + "/api/portfolio", headers=ada.auth, timeout=30).status_code == 200
    # Another account cannot revoke (or learn of) ada's token: it is not found.
    other = httpx.delete(cluster.url("web") + f"/api/auth/tokens/{ada.token_id}", headers=bob.auth, timeout=30)
    assert other.status_code == 404
    assert httpx.get(cluster.url("web2") + "/api/portfolio", headers=ada.auth, timeout=30).status_code == 200

    revoked = httpx.delete(cluster.url("web") + f"/api/auth/tokens/{ada.token_id}", headers=ada.auth, timeout=30)
    assert revoked.status_code == 204, revoked.text
    refused = httpx.get(cluster.url("web2") + "/api/portfolio", headers=ada.auth, timeout=30)
    assert refused.status_code == 401 and "not valid" in refused.json()["error"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert httpx.get(cluster.url("web") + "/api/portfolio", headers=ada.auth, timeout=30).status_code == 401
    trade = httpx.post(cluster.url("web2") + "/api/portfolio/trade", headers=ada.auth, timeout=30,
                       json={"ticker": "AAPL", "quantity": 1, "side": "buy"})
    assert trade.status_code == 401
    # Only that token: ada's other one and bob's still work on both.
    for url in cluster.urls:
        spare_auth = {"Authorization": f"Bearer {spare}"}
        assert httpx.get(url + "/api/portfolio", headers=spare_auth, timeout=30).status_code == 200
        assert httpx.get(url + "/api/portfolio", headers=bob.auth, timeout=30).status_code == 200
    listed = httpx.get(cluster.url("web2") + "/api/auth/tokens", headers={"Authorization": f"Bearer {spare}"}).json()
    assert [t["id"] for t in listed] == [spare_id]
    assert cluster.book(ada.book_id)["trades"] == []


def test_accounts_without_a_token_the_api_is_401_on_both_web_processes_and_health_stays_open(accounts_cluster):
    cluster = accounts_cluster
    for url in cluster.urls:
        for path in ("/api/portfolio", "/api/trades", "/api/watchlist"):
            response = httpx.get(url + path, timeout=30)
            assert response.status_code == 401, (url, path)
            assert response.headers["Content-Type"].startswith("application/json")
            assert "Sign in first" in response.json()["error"]
        bogus = httpx.get(url + "/api/portfolio", headers={"Authorization": "Bearer fin_not-a-token"}, timeout=30)
        assert bogus.status_code == 401 and "not valid" in bogus.json()["error"]
        order = httpx.post(url + "/api/portfolio/trade", json={"ticker": "AAPL", "quantity": 1, "side": "buy"})
        assert order.status_code == 401
        health = httpx.get(url + "/api/health", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert not {"ada", "bob"} & set(re.findall(r"[a-z]+", health.text))  # it names no account
        page = httpx.get(url + "/", timeout=30)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    # No order reached either book.
    for account in cluster.accounts.values():
        assert cluster.book(account.book_id)["trades"] == []
