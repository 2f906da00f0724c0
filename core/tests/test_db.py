"""The writer: writes on its own thread, and orders waiting together committed as one group; the readers: reads on
long-lived threads that keep their connection (core/db.py)."""

import asyncio
import threading
from decimal import Decimal

import pytest
from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper

from core.db import DEFAULT_USER, Readers, Writer, batchable
from portfolio import services
from portfolio.exceptions import InsufficientCash, InsufficientShares
from portfolio.models import PortfolioSnapshot, Profile, Trade

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def seeded(publish):
    services.seed(user_id=DEFAULT_USER)
    publish({"AAPL": 100.0, "MSFT": 400.0})


def buy_one(ticker: str = "AAPL") -> dict:
    """The arguments of an order for one share."""
    return {"user_id": DEFAULT_USER, "ticker": ticker, "side": "buy", "quantity": 1}


def gate() -> tuple[threading.Event, callable]:
    """A first write that holds the writer until released, so that the writes sent meanwhile queue up together."""
    release = threading.Event()

    def hold():
        release.wait(5)

    return release, hold


async def send_together(writer: Writer, orders: list[dict]) -> list:
    release, hold = gate()
    held = asyncio.ensure_future(writer.run(hold, {}))
    await asyncio.sleep(0.05)  # the writer is now inside hold()
    pending = [asyncio.ensure_future(writer.run(services.execute_trade, order)) for order in orders]
    await asyncio.sleep(0.05)
    release.set()
    await held
    return await asyncio.gather(*pending, return_exceptions=True)


def commits_counted(monkeypatch) -> list[int]:
    counted = []
    original = BaseDatabaseWrapper.commit

    def commit(self):
        counted.append(1)
        return original(self)

    monkeypatch.setattr(BaseDatabaseWrapper, "commit", commit)
    return counted


async def test_orders_waiting_together_are_one_transaction_each_with_its_own_answer(monkeypatch):
    commits = commits_counted(monkeypatch)
    writer = Writer(threads=1, group=True)
    results = await send_together(writer, [
        {"user_id": DEFAULT_USER, "ticker": "AAPL", "side": "buy", "quantity": 10},
        # $100,000: refused, the others go on
        {"user_id": DEFAULT_USER, "ticker": "AAPL", "side": "buy", "quantity": 1000},
        {"user_id": DEFAULT_USER, "ticker": "AAPL", "side": "sell", "quantity": 4},
        {"user_id": DEFAULT_USER, "ticker": "MSFT", "side": "sell", "quantity": 1},  # not held: refused
        {"user_id": DEFAULT_USER, "ticker": "AAPL", "side": "buy", "quantity": 1},
    ])
    assert [type(r).__name__ for r in results] == ["Fill", "InsufficientCash", "Fill", "InsufficientShares", "Fill"]
    assert isinstance(results[1], InsufficientCash) and isinstance(results[3], InsufficientShares)
    assert len(commits) == 1  # the held write had no statements; the group was one commit
    assert await asyncio.to_thread(lambda: Trade.objects.count()) == 3
    profile = await asyncio.to_thread(lambda: Profile.objects.get())
    assert profile.cash_balance == Decimal("10000.00") - 1000 + 400 - 100
    assert results[-1].cash_balance == profile.cash_balance
    assert await asyncio.to_thread(lambda: PortfolioSnapshot.objects.count()) == 1 + 3  # the seed's, one per fill


async def test_a_failed_commit_fails_every_order_of_the_group_and_writes_nothing(monkeypatch):
    def commit(self):
        raise OperationalError("disk I/O error")

    writer = Writer(threads=1, group=True)
    monkeypatch.setattr(BaseDatabaseWrapper, "commit", commit)
    results = await send_together(writer, [buy_one()] * 3)
    monkeypatch.undo()
    assert all(isinstance(r, OperationalError) for r in results)
    assert await asyncio.to_thread(lambda: Trade.objects.count()) == 0
    # The writer carries on afterwards.
    fill = await writer.run(services.execute_trade, buy_one())
    assert fill.quantity == 1


async def test_a_retry_in_the_same_group_replays_the_first_fill():
    writer = Writer(threads=1, group=True)
    order = {"user_id": DEFAULT_USER, "ticker": "AAPL", "side": "buy", "quantity": 2, "client_order_id": "twice"}
    first, again = await send_together(writer, [order, order])
    assert not first.replayed and again.replayed and again.id == first.id
    assert await asyncio.to_thread(lambda: Trade.objects.count()) == 1


async def test_writes_not_marked_batchable_run_alone(monkeypatch):
    commits = commits_counted(monkeypatch)
    writer = Writer(threads=1, group=True)
    seen = []

    def note(n):
        seen.append((n, connection.in_atomic_block))

    release, hold = gate()
    held = asyncio.ensure_future(writer.run(hold, {}))
    await asyncio.sleep(0.05)
    pending = [asyncio.ensure_future(writer.run(note, {"n": n})) for n in range(3)]
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(held, *pending)
    assert seen == [(0, False), (1, False), (2, False)]
    assert commits == []


async def test_without_grouping_each_order_commits_alone(monkeypatch):
    """PostgreSQL's writer: several threads, one transaction per order."""
    commits = commits_counted(monkeypatch)
    writer = Writer(threads=1, group=False)
    results = await send_together(writer, [buy_one()] * 3)
    assert all(r.quantity == 1 for r in results)
    assert len(commits) == 3


async def test_an_error_reaches_its_caller_and_the_writer_carries_on():
    writer = Writer(threads=1, group=True)

    @batchable
    def boom():
        raise SystemExit("not the writer's end")

    with pytest.raises(SystemExit):
        await writer.run(boom, {})
    assert (await writer.run(services.execute_trade, buy_one())).quantity == 1


async def test_an_order_whose_caller_stopped_waiting_before_it_started_is_not_filled():
    """A client that hung up while its order queued: it cannot learn of a fill, so there is none."""
    writer = Writer(threads=1, group=True)
    release, hold = gate()
    held = asyncio.ensure_future(writer.run(hold, {}))
    await asyncio.sleep(0.05)
    gone = asyncio.ensure_future(writer.run(services.execute_trade, buy_one()))
    kept = asyncio.ensure_future(writer.run(services.execute_trade, buy_one("MSFT")))
    await asyncio.sleep(0.05)
    gone.cancel()
    await asyncio.sleep(0.01)
    release.set()
    await held
    assert (await kept).ticker == "MSFT"
    assert await asyncio.to_thread(lambda: list(Trade.objects.values_list("ticker", flat=True))) == ["MSFT"]


async def test_an_order_whose_caller_stopped_waiting_after_its_group_formed_is_not_filled():
    """The boundary of "started": an order taken into a group waits there for the orders ahead of it; a client
    that hangs up meanwhile is gone before its order began, so it is not filled. The group's other orders are."""
    writer = Writer(threads=1, group=True)
    release, hold = gate()
    inside, go_on = threading.Event(), threading.Event()

    @batchable
    def first_of_the_group():
        inside.set()  # the group has formed: the next order is in it, waiting for this one
        go_on.wait(5)
        return services.execute_trade(user_id=DEFAULT_USER, ticker="MSFT", side="buy", quantity=1)

    held = asyncio.ensure_future(writer.run(hold, {}))
    await asyncio.sleep(0.05)
    first = asyncio.ensure_future(writer.run(first_of_the_group, {}))
    gone = asyncio.ensure_future(writer.run(services.execute_trade, buy_one()))
    await asyncio.sleep(0.05)
    release.set()
    await held
    assert await asyncio.to_thread(inside.wait, 5)
    gone.cancel()
    await asyncio.sleep(0.01)  # the cancellation reaches the job (its done-callback runs on this loop)
    go_on.set()
    assert (await first).ticker == "MSFT"
    assert gone.cancelled()
    assert await asyncio.to_thread(lambda: list(Trade.objects.values_list("ticker", flat=True))) == ["MSFT"]
    # The writer carries on, and the order a retry sends is filled.
    assert (await writer.run(services.execute_trade, buy_one())).quantity == 1


async def test_an_order_that_started_completes_though_its_caller_stopped_waiting():
    """The other side of the boundary: once its statements began, the order completes and commits."""
    writer = Writer(threads=1, group=True)
    inside, go_on = threading.Event(), threading.Event()

    @batchable
    def order():
        inside.set()
        go_on.wait(5)
        return services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=1)

    gone = asyncio.ensure_future(writer.run(order, {}))
    assert await asyncio.to_thread(inside.wait, 5)
    gone.cancel()
    await asyncio.sleep(0.01)
    go_on.set()
    # The next write runs after it on the one writer thread: by then the started order has committed.
    assert (await writer.run(services.execute_trade, buy_one("MSFT"))).quantity == 1
    assert await asyncio.to_thread(lambda: sorted(Trade.objects.values_list("ticker", flat=True))) == ["AAPL", "MSFT"]


def test_a_write_that_ends_after_its_event_loop_closed_does_not_end_the_writer():
    writer = Writer(threads=1, group=True)
    release, hold = gate()
    first = asyncio.new_event_loop()
    task = first.create_task(writer.run(hold, {}))
    first.run_until_complete(asyncio.sleep(0.05))  # the writer is inside hold()
    task.cancel()
    first.run_until_complete(asyncio.gather(task, return_exceptions=True))
    first.close()
    release.set()  # hold() returns; its answer has nowhere to go
    second = asyncio.new_event_loop()
    try:
        fill = second.run_until_complete(asyncio.wait_for(
            writer.run(services.execute_trade, buy_one()), timeout=5))
    finally:
        second.close()
    assert fill.quantity == 1


def _connection_and_thread() -> tuple[int, str]:
    connection.ensure_connection()
    return id(connection.connection), threading.current_thread().name


async def test_reads_run_on_threads_that_keep_their_connection_and_see_every_commit():
    readers = Readers(threads=1)
    seen = {await readers.run(_connection_and_thread, {}) for _ in range(5)}
    assert len(seen) == 1  # one thread, one connection, opened once
    assert next(iter(seen))[1].startswith("db-reader")

    def cash() -> Decimal:
        return Profile.objects.get().cash_balance

    before = await readers.run(cash, {})
    await Writer(threads=1, group=True).run(services.execute_trade, buy_one())
    assert await readers.run(cash, {}) == before - 100  # the kept connection reads the writer's commit


async def test_a_read_error_reaches_its_caller_and_the_readers_carry_on():
    readers = Readers(threads=1)

    def broken():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with pytest.raises(OperationalError):
        await readers.run(broken, {})
    assert (await readers.run(_connection_and_thread, {}))[1].startswith("db-reader")


def test_ids_are_uuid7_in_time_order():
    import time
    import uuid

    from core.db import new_id

    first = new_id()
    time.sleep(0.002)
    ids = [new_id() for _ in range(1000)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == ids  # the canonical text form
    assert len(set(ids)) == 1000
    assert first < min(ids)  # a later millisecond sorts after (as text too: that is what the index orders by)
    assert abs(int(ids[0][:8] + ids[0][9:13], 16) / 1000 - time.time()) < 5
