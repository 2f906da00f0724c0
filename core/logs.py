"""Request ids and JSON log lines (issue 24).

Every request gets an id: the one its proxy sent in `X-Request-ID` when that is a plain token, else a new one. It
goes back out in the response's `X-Request-ID`, and every log line written while the request is served carries
it, on whatever thread the line is written (the id is a context variable, and the database's writer and readers
run a request's work in a copy of its context, core/db.py). A user quoting the id from a failed request finds its
lines.

LOG_FORMAT=json writes one JSON object per line: `time` (UTC, ISO 8601), `level`, `logger`, `message`,
`request_id` when there is one, what the line was given as `extra` (an order's `order_id`, say), and `exception`
with the traceback. The default, LOG_FORMAT=plain, is the one line a person reads.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
HEADER = "X-Request-ID"
# What a proxy's id may be to be kept: a token, short. Anything else (a log line's worth of text, a newline) is
# replaced, so no client writes into the log through it.
_GIVEN = re.compile(r"[A-Za-z0-9._:-]{8,64}")

# The attributes every LogRecord has: whatever else a record carries came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


def request_id_middleware(get_response):
    """Outermost: the id is set before anything else runs, and every response carries it, refusals included."""

    def begin(request) -> contextvars.Token:
        given = request.headers.get(HEADER, "")
        request.request_id = given if _GIVEN.fullmatch(given) else uuid.uuid4().hex
        return REQUEST_ID.set(request.request_id)

    if iscoroutinefunction(get_response):

        async def middleware(request):
            token = begin(request)
            try:
                response = await get_response(request)
            finally:
                REQUEST_ID.reset(token)
            response[HEADER] = request.request_id
            return response

        markcoroutinefunction(middleware)
    else:

        def middleware(request):
            token = begin(request)
            try:
                response = get_response(request)
            finally:
                REQUEST_ID.reset(token)
            response[HEADER] = request.request_id
            return response

    return middleware


request_id_middleware.sync_capable = True
request_id_middleware.async_capable = True


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or None) on every record, for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # Django's own line for a 4xx or 5xx (django.request) is written after the middleware has returned,
            # so outside the request's context; it carries the request itself.
            record.request_id = REQUEST_ID.get() or getattr(getattr(record, "request", None), "request_id", None)
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key == "request":  # Django's request lines pass the request itself: its path is what a reader needs
                line.setdefault("path", getattr(value, "path", None))
            elif key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)
