"""Every request names its book: `request.book`, the user id every service and selector is given.

ACCOUNTS=off: the implicit user's book, no sign-in, exactly as before accounts existed. ACCOUNTS=on: the signed-in
account's (a session from the login page, or `Authorization: Bearer <token>` on /api/); without one a page is sent
to the login page and an API call gets a 401 in the API's JSON. The only rule about who may see what lives here:
below this layer nothing asks which mode runs, and every read and write is scoped to `request.book`.
"""

from __future__ import annotations

import functools

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpResponse, JsonResponse
from django.urls import reverse

from accounts import selectors
from core.db import DEFAULT_USER, read, write
from core.fastpath import API_PREFIX
from portfolio import services as portfolio_services

SIGN_IN_FIRST = (
    "Sign in first: a session from the login page, or Authorization: Bearer <token> (POST /api/auth/token)."
)
BAD_TOKEN = "The bearer token is not valid: revoked, never issued, or its account is inactive."


@functools.cache
def _open_paths(signup: bool) -> frozenset[str]:
    """What anyone may reach: the way in, the health check load balancers use (it names no account), and the
    metrics (they name none either, and have an allow-list and a token of their own: core.metrics)."""
    names = ["login", "api:health", "api:auth_token", "favicon", "metrics"] + (["signup"] if signup else [])
    return frozenset(reverse(name) for name in names)


def _is_open(path: str) -> bool:
    # The admin site signs in staff on its own login page; static files are served before this middleware.
    return path in _open_paths(settings.ACCOUNTS_SIGNUP) or path.startswith("/admin/")


def _unauthorized(message: str) -> HttpResponse:
    response = JsonResponse({"error": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="finally"'
    return response


def _to_login(request) -> HttpResponse:
    if request.headers.get("HX-Request"):
        # An htmx fragment (a session that ended): have the whole page go to the login page, not a panel.
        response = HttpResponse(status=401)
        response["HX-Redirect"] = f"{reverse('login')}"
        return response
    return redirect_to_login(request.get_full_path())


async def _account(request):
    """The account making the request: a bearer token's on the API, else the session's (AnonymousUser if none);
    None for a token that is not valid (refused outright, never read as anonymous)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and request.path_info.startswith(API_PREFIX):
        # On the process's readers, which give the connection back to the pool at once: sync_to_async would open
        # one on the request's own thread and hold it until the response, while the order waits for the writer,
        # and a burst of orders would then leave the writer none (PostgreSQL pool timeouts, 500s).
        user = await read(selectors.token_user, token=header[7:].strip())
        if user is not None:
            request.user = user  # a token request never carries the session's account
        return user
    # The session and its account, read on the readers too (request.auser() would hold a connection all request).
    user = await read(get_user, request=request)
    request.user = user  # resolved once; templates and views read it without a second query
    return user


async def _book(user) -> str:
    # Read with the account (accounts.backends, accounts.selectors.token_user), so never a query here.
    if type(user).book.is_cached(user):
        try:
            return user.book.id
        except ObjectDoesNotExist:
            pass
    # An account made outside sign-up and adduser (createsuperuser, the shell): its book opens on first use.
    return await write(portfolio_services.open_book, account_id=user.pk)


def account_middleware(get_response):
    if not iscoroutinefunction(get_response):
        raise TypeError("accounts.middleware.account_middleware runs under ASGI only")

    async def middleware(request):
        if not settings.ACCOUNTS:
            request.book = DEFAULT_USER
            return await get_response(request)
        path = request.path_info
        if _is_open(path):
            request.book = None
            return await get_response(request)
        user = await _account(request)
        api = path.startswith(API_PREFIX)
        if user is None:
            return _unauthorized(BAD_TOKEN)
        if not user.is_authenticated:
            return _unauthorized(SIGN_IN_FIRST) if api else _to_login(request)
        request.book = await _book(user)
        return await get_response(request)

    markcoroutinefunction(middleware)
    return middleware


account_middleware.async_capable = True
account_middleware.sync_capable = False
