"""The JSON API (under /api/): one NinjaAPI, the apps' routers, and the error contract.

Request and response schemas validate input and generate /api/openapi.json from the same code.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from accounts.api import router as accounts_router
from accounts.exceptions import AccountError, AccountsOff, NoSuchToken, SignInRefused, TooManyTokens
from alerts.api import router as alerts_router
from alerts.exceptions import AlertError, AlertNotActive, NoSuchAlert, TooManyAlerts
from assistant.api import router as assistant_router
from assistant.services import ChatConflict, InvalidMessage, TurnBudgetSpent
from core import metrics
from core.api_errors import RequestRejected, StrictJSONParser, describe_validation_errors
from core.db import discard_broken_connections
from market.api import router as market_router
from market.exceptions import AlreadyWatching, MarketError, NotWatching, WatchlistFull
from market.quotes import StoreUnavailable
from portfolio.api import export_router, orders_router, trades_router
from portfolio.api import router as portfolio_router
from portfolio.exceptions import (
    NoSuchOrder,
    OrderIdReused,
    OrderNotOpen,
    OrderNotRecorded,
    PriceNotYet,
    PricesNotLive,
    TradeRejected,
)

request_logger = logging.getLogger("django.request")

ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again (an order with the same "
        "client_order_id).",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
# What the API's own machinery answers, whatever the operation (the handlers below): documented on every
# operation it applies to, so the document lists every status the server can send.
BODY_RESPONSES = {
    "400": "The body is not valid JSON (or holds a number or nesting too deep to read).",
    "413": "The body is larger than the server accepts.",
    "415": "The body is not sent as Content-Type: application/json.",
    "422": "The body does not match the request schema; the message names the field.",
}
PARAMETER_RESPONSE = ("422", "A path or query parameter does not match its schema; the message names it.")
UNAVAILABLE = (
    "A passing condition, nothing was done: no live prices yet, prices delayed, or the database or the price "
    "store briefly unavailable. Send the same request again after Retry-After seconds."
)


class FinAllyAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in document["paths"].values():
            for operation in operations.values():
                # ninja keys its own responses by int; JSON has only strings, so one key per status here.
                responses = operation["responses"] = {str(status): r for status, r in operation["responses"].items()}
                extra = {}
                if "requestBody" in operation:
                    extra.update(BODY_RESPONSES)
                if operation.get("parameters"):
                    extra.setdefault(*PARAMETER_RESPONSE)
                for status, description in extra.items():
                    responses.setdefault(status, {"description": description, "content": ERROR_BODY})
                unavailable = responses.setdefault("503", {"description": UNAVAILABLE, "content": ERROR_BODY})
                unavailable.setdefault("headers", {}).update(RETRY_AFTER)
        return document


api = FinAllyAPI(
    title="FinAlly API",
    version="1.0.0",
    description="Live prices, the watchlist, a simulated portfolio with market orders, and the assistant.",
    parser=StrictJSONParser(),
    urls_namespace="api",
)
api.add_router("", market_router)
api.add_router("/portfolio", portfolio_router)
api.add_router("/trades", trades_router)
api.add_router("/orders", orders_router)
api.add_router("", export_router)
api.add_router("/chat", assistant_router)
api.add_router("/alerts", alerts_router)
api.add_router("", accounts_router)


def error(request, message: str, status: int):
    return api.create_response(request, {"error": message}, status=status)


def unavailable(request, message: str):
    """A passing condition, not a verdict on the request: 503 with Retry-After, so a client retries (an order with
    the same client_order_id) instead of dropping it as it would a 4xx."""
    response = error(request, message, 503)
    response["Retry-After"] = str(settings.API_RETRY_AFTER_SECONDS)
    # Django logs every 5xx as an ERROR; this one is expected (a restart, a delayed feed), so a warning.
    response._has_been_logged = True
    request_logger.warning("Service Unavailable (passing, Retry-After %s s): %s", response["Retry-After"], request.path)
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    return error(request, describe_validation_errors(exc.errors), 422)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    # The body parser's own rejections arrive wrapped by ninja; answer with what they say.
    cause = exc.__cause__
    if isinstance(cause, RequestRejected):
        return error(request, cause.message, cause.status)
    return error(request, str(exc), exc.status_code)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    return error(request, "The request body is too large.", 413)


@api.exception_handler(InvalidMessage)
def on_invalid_message(request, exc: InvalidMessage):
    return error(request, str(exc), 400)


@api.exception_handler(TurnBudgetSpent)
def on_turn_budget_spent(request, exc: TurnBudgetSpent):
    response = error(request, str(exc), 429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ChatConflict)
def on_chat_conflict(request, exc: ChatConflict):
    return error(request, str(exc), 409)


@api.exception_handler(AccountError)
def on_account_error(request, exc: AccountError):
    if isinstance(exc, SignInRefused):
        if exc.retry_after:
            response = error(request, str(exc), 429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        return error(request, str(exc), 401)
    status = {AccountsOff: 404, NoSuchToken: 404, TooManyTokens: 409}.get(type(exc), 400)
    return error(request, str(exc), status)


DOMAIN_STATUS = {AlreadyWatching: 409, NotWatching: 404, WatchlistFull: 409}
ALERT_STATUS = {TooManyAlerts: 409, NoSuchAlert: 404, AlertNotActive: 409}  # an invalid one: 400, as an order


@api.exception_handler(AlertError)
def on_alert_error(request, exc: AlertError):
    return error(request, str(exc), ALERT_STATUS.get(type(exc), 400))


@api.exception_handler(MarketError)
def on_market_error(request, exc: MarketError):
    return error(request, str(exc), DOMAIN_STATUS.get(type(exc), 400))


@api.exception_handler(TradeRejected)
def on_trade_rejected(request, exc: TradeRejected):
    if isinstance(exc, PriceNotYet):  # no live prices yet, prices delayed: the same order may fill in a moment
        return unavailable(request, str(exc))
    return error(request, str(exc), TRADE_STATUS.get(type(exc), 400))


TRADE_STATUS = {OrderIdReused: 409, OrderNotRecorded: 409, PricesNotLive: 409, NoSuchOrder: 404, OrderNotOpen: 422}


@api.exception_handler(StoreUnavailable)
@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_unavailable(request, exc):
    # The database or the price store is restarting: nothing was written; the client may retry (same
    # client_order_id for an order) once /api/health answers 200 again.
    if not isinstance(exc, StoreUnavailable):
        metrics.DATABASE_ERRORS.inc()
        discard_broken_connections()
    return unavailable(request, "The service is briefly unavailable (database or price store); try again shortly.")


@api.exception_handler(IntegrityError)
@api.exception_handler(DataError)
def on_refused_by_the_database(request, exc):
    # A write a service did not foresee the database refusing (the trade engine maps its own): it was rolled
    # back with its transaction, and it is this request the database refused, not the server that failed.
    return error(request, "The database refused the change (a constraint or a value out of range); nothing was "
                 "changed.", 409 if isinstance(exc, IntegrityError) else 422)

