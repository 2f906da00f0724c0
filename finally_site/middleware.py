"""Keep the JSON API's error contract even for responses Django itself produces."""

from http import HTTPStatus

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import JsonResponse

API_PREFIX = "/api/"


def _as_json_error(request, response):
    """Turn an HTML/plain 4xx/5xx under /api/ (unknown path, wrong method, bad host) into `{"error": ...}`."""
    if (
        response.status_code < 400
        or response.streaming
        or not request.path.startswith(API_PREFIX)
        or response.get("Content-Type", "").startswith("application/json")
    ):
        return response
    try:
        reason = HTTPStatus(response.status_code).phrase
    except ValueError:
        reason = "Error"
    converted = JsonResponse({"error": reason}, status=response.status_code)
    if "Allow" in response:
        converted["Allow"] = response["Allow"]
    return converted


def json_api_errors(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _as_json_error(request, await get_response(request))

        markcoroutinefunction(middleware)
    else:

        def middleware(request):
            return _as_json_error(request, get_response(request))

    return middleware


json_api_errors.sync_capable = True
json_api_errors.async_capable = True
