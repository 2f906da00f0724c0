"""The JSON API's error contract: every rejection is `{"error": "<readable message>"}` with a 4xx."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import Schema
from ninja.parser import Parser


class ErrorOut(Schema):
    error: str


class RequestRejected(Exception):
    """Raised while reading a request body; carries the status and message to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _reject_constant(name: str):
    raise RequestRejected(400, f"{name} is not a valid JSON number.")


class StrictJSONParser(Parser):
    """JSON bodies only: the Content-Type must say so (which also keeps cross-site form posts out),
    and NaN/Infinity, which Python's json module would otherwise accept, are refused."""

    def parse_body(self, request: HttpRequest):
        content_type = request.content_type or ""
        if content_type != "application/json":
            raise RequestRejected(415, "Send the request body as JSON with Content-Type: application/json.")
        try:
            return json.loads(request.body, parse_constant=_reject_constant)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestRejected(400, f"The request body is not valid JSON ({exc}).") from None
        except (ValueError, RecursionError):
            # Valid JSON that Python refuses to read: an integer of more than 4,300 digits (int_max_str_digits),
            # or arrays nested deeper than the recursion limit. Both were a 500.
            raise RequestRejected(
                400, "The request body holds a number too long or nesting too deep to read."
            ) from None


def describe_validation_errors(errors: list[dict]) -> str:
    """'quantity: Input should be greater than 0; side: ...' from pydantic's error list."""
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "payload", "path", "query")]
        field = ".".join(loc)
        message = error.get("msg", "invalid value")
        if not field and error.get("type") in ("model_type", "model_attributes_type", "dict_type"):
            message = "The request body must be a JSON object."  # not pydantic's words, which name our classes
        elif not field and error.get("type") == "missing":
            # No body at all: the whole payload is what is missing (pydantic says only "Field required").
            message = "The request body is empty: send a JSON object (the API's docs at /api/docs list its fields)."
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts) or "Invalid request."
