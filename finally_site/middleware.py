"""Middleware of the JSON API: its error contract, and its defence against cross-site forms.

Django makes some responses before a view runs (unknown path, wrong method, a Host not in ALLOWED_HOSTS);
under /api/ they become `{"error": ...}` like every other API error.
"""

import functools
import re
from http import HTTPStatus

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import JsonResponse

from core.fastpath import API_PREFIX


def _api_response(request, response):
    if (
        not request.path.startswith(API_PREFIX)
        or response.status_code < 400
        or response.streaming
        or response.get("Content-Type", "").startswith("application/json")
    ):
        return response
    converted = JsonResponse({"error": _reason(request, response.status_code)}, status=response.status_code)
    # Keep what inner middleware and Django set (Allow on a 405, X-Frame-Options), not the HTML body's type.
    for header, value in response.items():
        if header.lower() not in ("content-type", "content-length"):
            converted[header] = value
    return converted


def _reason(request, status: int) -> str:
    if status == HTTPStatus.BAD_REQUEST:
        try:
            request.get_host()
        except DisallowedHost:
            return "This server does not answer to that Host header (see DJANGO_ALLOWED_HOSTS)."
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _async_capable(func):
    func.sync_capable = True
    func.async_capable = True
    return func


@_async_capable
def api_error_middleware(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _api_response(request, await get_response(request))

        markcoroutinefunction(middleware)
    else:

        def middleware(request):
            return _api_response(request, get_response(request))

    return middleware


def _cross_site_form_risk(request) -> bool:
    """A POST under /api/ that does not say it is JSON.

    The API takes no cookies' word for anything, so Django's CSRF token is not its guard; this is. A page on
    another site can make a browser POST only as a form (urlencoded, multipart or text/plain) without asking
    first; sending `application/json` cross-site needs a CORS preflight, which this server never approves.
    Requiring it on every POST, body or not, keeps endpoints without a body (a future reset) as safe as the
    ones with one. PUT, PATCH and DELETE always need a preflight cross-site.
    """
    return (
        request.method == "POST"
        and request.path_info.startswith(API_PREFIX)
        and request.content_type != "application/json"
        and not _routes_without_post().fullmatch(request.path_info)
    )


@functools.cache
def _routes_without_post() -> re.Pattern:
    """The API paths no POST is served on: a POST there is answered 405 (with Allow) by the router and reaches no
    view, so it is left to the router rather than refused as a form (a 415 would tell a client the wrong thing).
    Every other path under /api/, known or not, is guarded."""
    from finally_site.api import api

    paths = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            if not any("POST" in operation.methods for operation in path_view.operations):
                full = API_PREFIX + "/".join(p.strip("/") for p in (prefix, path) if p.strip("/"))
                paths.append(re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(full)))
    return re.compile("|".join(paths) or "(?!)")


@_async_capable
def api_json_only_middleware(get_response):
    def refuse():
        return JsonResponse(
            {"error": "Send API requests with Content-Type: application/json."},
            status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        )

    if iscoroutinefunction(get_response):

        async def middleware(request):
            return refuse() if _cross_site_form_risk(request) else await get_response(request)

        markcoroutinefunction(middleware)
    else:

        def middleware(request):
            return refuse() if _cross_site_form_risk(request) else get_response(request)

    return middleware
