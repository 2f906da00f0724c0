"""The engine's cursor: the driver's own, with what Django's cursor wrapper guarantees kept."""

from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from core.db import DEFAULT_USER
from portfolio import services, trade_sql
from portfolio.models import Profile

pytestmark = pytest.mark.django_db


def test_an_order_runs_its_statements_on_the_driver_cursor(publish):
    publish({"AAPL": 100})
    through_django = []
    execute = CursorWrapper.execute

    def record(self, sql, params=None):
        through_django.append(sql)
        return execute(self, sql, params)

    with mock.patch.object(CursorWrapper, "execute", record):
        fill = services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=2)
    assert fill.cash_balance == Decimal("9800.00") == Profile.objects.get(pk="default").cash_balance
    # Only the test's own transaction shows there (the order's atomic block is a savepoint inside it).
    assert through_django and all(sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) for sql in through_django)


def test_the_query_log_still_sees_every_statement_of_an_order(publish):
    publish({"AAPL": 100})
    with CaptureQueriesContext(connection) as queries:
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=2)
    statements = " ".join(query["sql"] for query in queries)
    for table in ("users_profile", "positions", "trades", "portfolio_snapshots"):
        assert table in statements


def test_an_execute_wrapper_still_sees_every_statement_of_an_order(publish):
    publish({"AAPL": 100})
    seen = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=2)
    assert any(sql.startswith("INSERT INTO trades") for sql in seen)
    assert any(sql.startswith("INSERT INTO portfolio_snapshots") for sql in seen)


def test_a_driver_error_is_raised_as_djangos():
    # cash_balance has a CHECK (>= 0): the driver's IntegrityError must reach the caller as django.db's.
    with pytest.raises(IntegrityError), transaction.atomic(), trade_sql.cursor() as cursor:
        trade_sql.set_cash(cursor, "default", Decimal("-1.00"))
    assert Profile.objects.get(pk="default").cash_balance == Decimal("10000.00")


def test_no_statement_runs_in_a_transaction_django_marked_broken():
    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError), trade_sql.cursor() as cursor:
            trade_sql.set_cash(cursor, "default", Decimal("1.00"))
    assert Profile.objects.get(pk="default").cash_balance == Decimal("10000.00")


def test_a_literal_percent_means_the_same_on_both_cursors():
    # Django's convention: %s is a parameter, %% a literal %. The driver cursor must read SQL the same way.
    sql = "SELECT '100%%', '%%s', %s"
    with transaction.atomic(), trade_sql.cursor() as cursor:
        cursor.execute(sql, ["x"])
        driver = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, ["x"])
        django = cursor.fetchone()
    assert tuple(driver) == tuple(django) == ("100%", "%s", "x")


def test_postgresql_connections_plan_no_parallel_queries():
    """finally_site.settings.pooled_postgres: a parallel plan's start-up cost more than the matching read it was
    chosen for (bench/README.md, issue 22). Every connection of the pool says so."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (pytest --postgres)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"
