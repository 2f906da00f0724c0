"""Error tracking with Sentry (issue 24): on when SENTRY_DSN is set, in every process that starts Django (the web
processes and the price worker: core's AppConfig.ready calls `start`). Off, sentry_sdk is never imported.

What is sent is an error's type, message and stack (without local variables), the route, and the log lines before
it as breadcrumbs. What is never sent:

- keys and tokens: Authorization and Cookie headers, cookies, the query string (Massive's `apiKey=` travels
  there), any configured secret wherever it appears (the secret key, the model provider's and Massive's keys,
  the metrics token, the database's and Redis' passwords), and anything shaped like a bearer token or `apiKey=`;
- the user: no address, no account name or id (send_default_pii off);
- request bodies, and with them the chat's text, unless SENTRY_SEND_CHAT=true, which keeps the body of the
  assistant's chat requests only (still with every secret above taken out).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)

FILTERED = "[Filtered]"
_SHAPES = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+|(api_?key=)[^&\s\"']+|\bsk-[A-Za-z0-9_-]{8,}")
_SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "x-csrftoken", "proxy-authorization"}


def secrets() -> list[str]:
    """Every secret this deployment is configured with, longest first (a short one inside a long one)."""
    found = [settings.SECRET_KEY, getattr(settings, "OPENROUTER_API_KEY", ""), getattr(settings, "MASSIVE_API_KEY", ""),
             getattr(settings, "METRICS_TOKEN", ""), settings.DATABASES["default"].get("PASSWORD") or ""]
    redis_url = getattr(settings, "REDIS_URL", "") or ""
    if "://" in redis_url:
        found.append(urlsplit(redis_url).password or "")
    return sorted({s for s in found if s and len(s) >= 4}, key=len, reverse=True)


def scrub_text(text: str, known: list[str]) -> str:
    for secret in known:
        text = text.replace(secret, FILTERED)
    return _SHAPES.sub(lambda m: (m.group(1) or m.group(2) or "") + FILTERED, text)


def _scrub(value: Any, known: list[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, known)
    if isinstance(value, dict):
        return {key: _scrub(item, known) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item, known) for item in value]
    return value


def _is_chat(request: dict) -> bool:
    path = urlsplit(request.get("url") or "").path
    return path.endswith("/chat") or path.endswith("/chat/")


def before_send(event: dict, hint: dict | None = None) -> dict:
    """The last look at an event before it leaves the process: what the module says is never sent, taken out."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("env", None)
        if request.get("query_string"):
            request["query_string"] = FILTERED
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: FILTERED if k.lower() in _SECRET_HEADERS else v for k, v in headers.items()}
        if "data" in request and not (settings.SENTRY_SEND_CHAT and _is_chat(request)):
            request["data"] = FILTERED
    event.pop("user", None)
    return _scrub(event, secrets())


def before_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    return _scrub(crumb, secrets())


def wrap_asgi(application):
    """The web process's ASGI application, inside Sentry's ASGI middleware when Sentry is on.

    Sentry's Django integration gives each request a scope of its own by patching Django's ASGIHandler.__call__,
    which core.fastpath.ASGIHandler replaces: without this, every request's event processor would pile up on one
    shared scope (growing for ever, and an error reported with another request's details)."""
    if not settings.SENTRY_DSN:
        return application
    import sentry_sdk
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

    if not sentry_sdk.get_client().is_active():
        return application
    tracked = SentryAsgiMiddleware(application, unsafe_context_data=True)

    async def app(scope, receive, send):
        # HTTP only: uvicorn's lifespan probe is refused by Django's handler (a ValueError uvicorn expects), which
        # is not an error of the service.
        if scope["type"] != "http":
            return await application(scope, receive, send)
        return await tracked(scope, receive, send)

    return app


def start() -> bool:
    """Start Sentry if SENTRY_DSN is set; whether it started. A malformed DSN is said once, and the process runs
    without error tracking rather than not at all."""
    dsn = settings.SENTRY_DSN
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    try:
        sentry_sdk.init(
            dsn=dsn,
            environment=settings.SENTRY_ENVIRONMENT,
            integrations=[DjangoIntegration(), LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
            send_default_pii=False,
            include_local_variables=False,  # a frame's variables hold orders, chat text, keys
            max_request_body_size="always" if settings.SENTRY_SEND_CHAT else "never",
            before_send=before_send,
            before_breadcrumb=before_breadcrumb,
            traces_sample_rate=0.0,
        )
    except Exception as exc:  # sentry_sdk's BadDsn, say
        logger.error("SENTRY_DSN is not usable (%s): running without error tracking", type(exc).__name__)
        return False
    return True
