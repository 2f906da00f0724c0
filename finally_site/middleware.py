"""The JSON API's error contract for responses Django makes before a view runs (unknown path, wrong method,
bad Host): under /api/ they become `{"error": ...}` like every other API error."""

from http import HTTPStatus

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import JsonResponse

API_PREFIX = "/api/"


def _api_response(request, response):
    if (
        not request.path.startswith(API_PREFIX)
        or response.status_code < 400
        or response.streaming
        or response.get("Content-Type", "").startswith("application/json")
    ):
        return response
    try:
        reason = HTTPStatus(response.status_code).phrase
    except ValueError:
        reason = "Error"
    converted = JsonResponse({"error": reason}, status=response.status_code)
    # Keep what the outer middleware (security headers) and the client (Allow on a 405) need.
    for header in ("Allow", "X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"):
        if header in response:
            converted[header] = response[header]
    return converted


def api_error_middleware(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _api_response(request, await get_response(request))

        markcoroutinefunction(middleware)
    else:

        def middleware(request):
            return _api_response(request, get_response(request))

    return middleware


api_error_middleware.sync_capable = True
api_error_middleware.async_capable = True
