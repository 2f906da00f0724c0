"""Middleware for the JSON API: its error contract, and no detours through what only pages need."""

from http import HTTPStatus

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import JsonResponse
from django.middleware import clickjacking, common, csrf, security

API_PREFIX = "/api/"


def _api_response(request, response):
    """Turn an HTML/plain 4xx/5xx under /api/ (unknown path, wrong method, bad host) into `{"error": ...}`."""
    if not request.path.startswith(API_PREFIX):
        return response
    # The one header of SecurityMiddleware's that matters for a JSON API (which skips that middleware).
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if (
        response.status_code < 400
        or response.streaming
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
    converted["X-Content-Type-Options"] = "nosniff"
    return converted


def api_middleware(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _api_response(request, await get_response(request))

        markcoroutinefunction(middleware)
    else:

        def middleware(request):
            return _api_response(request, get_response(request))

    return middleware


api_middleware.sync_capable = True
api_middleware.async_capable = True


class SkipForApi:
    """Mixin for Django's MiddlewareMixin classes that the JSON API does not need.

    Under ASGI each process_request/process_response hook of a MiddlewareMixin runs through
    sync_to_async: a thread hop of about 0.1 ms. The API has no sessions, users, messages, CSRF
    cookies (it takes JSON only) or frames, so its requests go straight past these.
    """

    def __call__(self, request):
        if not self.async_mode and request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if request.path_info.startswith(API_PREFIX):
            return await self.get_response(request)
        return await super().__acall__(request)


class SecurityMiddleware(SkipForApi, security.SecurityMiddleware):
    pass


class SessionMiddleware(SkipForApi, sessions.SessionMiddleware):
    pass


class CommonMiddleware(SkipForApi, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(SkipForApi, csrf.CsrfViewMiddleware):
    pass


class AuthenticationMiddleware(SkipForApi, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(SkipForApi, messages.MessageMiddleware):
    pass


class XFrameOptionsMiddleware(SkipForApi, clickjacking.XFrameOptionsMiddleware):
    pass
