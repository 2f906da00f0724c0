"""The service's metrics, in Prometheus' text format (issue 24). Off unless METRICS=on.

Every process counts its own: a web process serves what it counted at `/metrics`, the price worker on a port of
its own (METRICS_WORKER_PORT). N web processes are N scrape targets, each scraped directly rather than through
the proxy (deploy/prometheus.yml finds them by the compose service's DNS name); Prometheus adds them up with
`sum()`. Counters start at zero when a process starts, which `rate()` and `increase()` expect.

Who may read them: an address in METRICS_ALLOW (networks; loopback only by default), or a request carrying
`Authorization: Bearer <METRICS_TOKEN>` when a token is set. Anyone else gets a 404, as if there were nothing
there. The address is the socket's peer, never X-Forwarded-For: a proxy in front would otherwise make a header
anyone can write the key.

The metrics are defined here, in one registry of their own (not the library's global one, which would also
carry the library's process and platform collectors twice over in tests), and updated where things happen:
requests (`RequestMetricsMiddleware`, installed only when METRICS is on), orders (portfolio.events, on commit),
streams and fan-out (market.hub, market.stream_limit), ticks (market.worker), model calls (assistant.llm) and
database and Redis errors where they are caught. With METRICS off the counters still count (a counter's
increment is a lock and an add, well under a microsecond); only the request middleware, which times every
request, is left out, and nothing is served.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import Http404, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()

# Latency buckets for work measured in milliseconds (requests, ticks, fan-out) and for model calls (seconds).
FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SLOW = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "finally_http_requests", "HTTP requests answered, by route pattern (not path), method and status.",
    ["route", "method", "status"], registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "finally_http_request_duration_seconds",
    "Time to each response's headers, by route pattern and method (a stream: until it starts).",
    ["route", "method"], buckets=FAST, registry=REGISTRY,
)
ORDERS_PLACED = Counter("finally_orders_placed", "Orders accepted, by type (a market order too).", ["type"],
                        registry=REGISTRY)
ORDERS_FILLED = Counter("finally_orders_filled", "Orders filled, by type.", ["type"], registry=REGISTRY)
ORDERS_REJECTED = Counter(
    "finally_orders_rejected",
    "Orders refused when placed, or rejected at their price by the worker, by reason (the refusal's kind).",
    ["reason"], registry=REGISTRY,
)
ORDERS_CANCELED = Counter("finally_orders_canceled", "Resting orders canceled (by their owner or by a Close).",
                          registry=REGISTRY)
ORDERS_EXPIRED = Counter("finally_orders_expired", "Day orders expired at the session's end.", registry=REGISTRY)
OPEN_STREAMS = Gauge("finally_open_streams", "Price streams this web process holds open.", registry=REGISTRY)
TICK_AGE = Gauge("finally_tick_age_seconds", "Seconds since the newest tick in the price store was made.",
                 registry=REGISTRY)
WORKER_TICK_SECONDS = Histogram(
    "finally_worker_tick_seconds", "The price worker's time per tick (prices, store, bars, resting orders).",
    buckets=FAST, registry=REGISTRY,
)
FANOUT_SECONDS = Histogram(
    "finally_fanout_delay_seconds",
    "From a tick made by the worker to this web process waking its streams with it.",
    buckets=FAST, registry=REGISTRY,
)
ALERTS_FIRED = Counter("finally_alerts_fired", "Price alerts fired by the worker.", registry=REGISTRY)
WEBHOOK_DELIVERIES = Counter(
    "finally_webhook_deliveries", "Webhook delivery tries by outcome (delivered, retry, failed: no more tries).",
    ["outcome"], registry=REGISTRY,
)
MODEL_CALLS = Counter("finally_model_calls", "Calls to the assistant's model, by outcome (ok, error).",
                      ["outcome"], registry=REGISTRY)
MODEL_SECONDS = Histogram("finally_model_call_seconds", "The model's time per call, failed calls included.",
                          buckets=SLOW, registry=REGISTRY)
MODEL_TOKENS = Counter("finally_model_tokens", "Tokens the model's calls used, by kind (prompt, completion).",
                       ["kind"], registry=REGISTRY)
DATABASE_ERRORS = Counter("finally_database_errors", "Database errors caught (a request's, or the worker's).",
                          registry=REGISTRY)
REDIS_ERRORS = Counter("finally_redis_errors", "Redis errors caught (the price store and the tick fan-out).",
                       registry=REGISTRY)


def measure(gauge: Gauge, read: Callable[[], float | None]) -> None:
    """`gauge` reads `read()` when scraped (None: not known, left out as NaN)."""
    def value() -> float:
        try:
            result = read()
        except Exception:  # a scrape must not fail on one figure (the store being away, say)
            logger.debug("metric %s could not be read", gauge._name, exc_info=True)
            return float("nan")
        return float("nan") if result is None else float(result)

    gauge.set_function(value)


def reason(exc: BaseException) -> str:
    """A refusal's kind as a label: InsufficientCash → insufficient_cash (a bounded set: the exception classes)."""
    name = type(exc).__name__
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


def exposition() -> bytes:
    return generate_latest(REGISTRY)


# --- who may read them ---------------------------------------------------------------------------------------


def allowed(peer: str | None, authorization: str | None) -> bool:
    """Whether a scrape from socket peer `peer` with this Authorization header may read the metrics."""
    token = settings.METRICS_TOKEN
    if token and authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address((peer or "").split("%")[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOW)


def metrics_view(request):
    """GET /metrics on a web process; a 404 to anyone not allowed, and when METRICS is off."""
    if not settings.METRICS or not allowed(request.META.get("REMOTE_ADDR"), request.headers.get("Authorization")):
        raise Http404
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


# --- requests --------------------------------------------------------------------------------------------------


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "unmatched"  # a 404 for a path nobody serves: not one label per path a scanner tries
    return "/" + match.route


def request_metrics_middleware(get_response):
    """Counts and times every response (outermost, so what the middleware below answers is counted too)."""

    def observe(request, response, started: float) -> None:
        route = _route(request)
        HTTP_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()

    if iscoroutinefunction(get_response):

        async def middleware(request):
            started = time.perf_counter()
            response = await get_response(request)
            observe(request, response, started)
            return response

        markcoroutinefunction(middleware)
    else:

        def middleware(request):
            started = time.perf_counter()
            response = get_response(request)
            observe(request, response, started)
            return response

    return middleware


request_metrics_middleware.sync_capable = True
request_metrics_middleware.async_capable = True


# --- the worker's port -----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # a connection that sends nothing holds its thread this long, no longer

    def do_GET(self):  # noqa: N802 (the standard library's name)
        if self.path.split("?")[0] != "/metrics" or not allowed(self.client_address[0],
                                                                 self.headers.get("Authorization")):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # scrapes every 15 s would fill the log
        pass


def serve_worker_metrics() -> ThreadingHTTPServer | None:
    """The worker's /metrics on METRICS_WORKER_HOST:METRICS_WORKER_PORT, on a daemon thread; None when off. A port
    already taken is said and the worker prices on without it (metrics are never a reason to stop pricing)."""
    if not settings.METRICS:
        return None
    address = (settings.METRICS_WORKER_HOST, settings.METRICS_WORKER_PORT)
    try:
        server = ThreadingHTTPServer(address, _Handler)
    except OSError as exc:
        logger.error("metrics: cannot listen on %s:%d (%s); the worker runs without them", *address, exc)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics: the worker's on http://%s:%d/metrics", *server.server_address[:2])
    return server
