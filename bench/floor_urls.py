"""The steps under a market order, as routes of their own on the same server (bench/floor.py).

Each route does one step more than the one before it and answers 201 with a body as long as an order's, so the
difference between two routes is what that step costs: Django's request cycle with the whole middleware stack,
reading and validating the order, the hop to the writer thread, a one-statement transaction. The real order
(/api/portfolio/trade) is the last step. Served only with bench/floor_settings.py, never by the app.
"""

from django.db import connection, transaction
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench.floor_asgi import ANSWER
from core.api_errors import StrictJSONParser
from core.db import DEFAULT_USER, write
from finally_site.urls import urlpatterns as app_urlpatterns
from portfolio.schemas import TradeIn

_parser = StrictJSONParser()


def _answer() -> HttpResponse:
    return HttpResponse(ANSWER, status=201, content_type="application/json; charset=utf-8")


async def django_cycle(request):
    return _answer()


async def read_order(request):
    TradeIn.model_validate(_parser.parse_body(request))
    return _answer()


def _nothing() -> None:
    return None


async def writer_hop(request):
    TradeIn.model_validate(_parser.parse_body(request))
    await write(_nothing)
    return _answer()


def _one_statement() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # Rewrites a page every order writes (the user's cash row), with the value it already has.
        cursor.execute("UPDATE users_profile SET cash_balance = cash_balance WHERE id = %s", [DEFAULT_USER])


async def one_statement(request):
    TradeIn.model_validate(_parser.parse_body(request))
    await write(_one_statement)
    return _answer()


urlpatterns = [
    path("api/floor/django", csrf_exempt(django_cycle)),
    path("api/floor/read", csrf_exempt(read_order)),
    path("api/floor/hop", csrf_exempt(writer_hop)),
    path("api/floor/transaction", csrf_exempt(one_statement)),
    *app_urlpatterns,
]
