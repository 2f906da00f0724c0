"""Writes of the accounts app: signing in (throttled), accounts made, API tokens issued and revoked."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from accounts import throttle
from accounts.exceptions import NoSuchToken, SignInRefused, TooManyTokens
from accounts.models import TOKEN_PREFIX, ApiToken, LoginFailure, SignUp, token_digest
from portfolio import services as portfolio_services

logger = logging.getLogger(__name__)

WRONG = "Wrong account name or password."  # the same words whether the account exists or not


def sign_in(request, *, username: str, password: str):
    """The account, if `password` is its password and the attempt is not throttled; else SignInRefused.

    The attempt is counted before its password is checked (accounts.throttle.Attempt), so a burst of guesses sent
    at once is throttled like one sent in turn. Django's authenticate() runs the password hasher for an unknown
    name too, so the answer takes as long either way; a throttled attempt is refused before any password is
    checked, so guessing stops for the window."""
    address = throttle.client_address(request)
    attempt = throttle.Attempt(username=username, address=address)
    wait = attempt.wait_seconds()
    if wait:
        logger.warning("sign-in throttled from %s for %d s", address, wait)
        raise SignInRefused(throttle.refusal(wait), retry_after=wait)
    user = authenticate(request, username=username, password=password)
    if user is None:
        logger.info("failed sign-in from %s", address)
        raise SignInRefused(WRONG)
    attempt.succeeded()
    return user


@transaction.atomic
def create_account(*, username: str, password: str):
    """A new account with its book ($10,000 and the default watchlist); the password must pass the validators
    (ValidationError otherwise: the caller shows the messages)."""
    model = get_user_model()
    user = model(username=username)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    portfolio_services.open_book(account_id=user.pk)
    return user


def housekeeping() -> None:
    """Delete ended sessions (Django's clearsessions) and sign-in and sign-up counts older than their windows."""
    from django.contrib.sessions.models import Session

    now = timezone.now()
    Session.objects.filter(expire_date__lt=now).delete()
    LoginFailure.objects.filter(at__lte=now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)).delete()
    SignUp.objects.filter(at__lte=now - throttle.SIGNUP_WINDOW).delete()


def issue_token(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the token itself, which is never stored and cannot be shown again."""
    name = (name or "").strip()[:60] or "API token"
    with transaction.atomic():
        # The account's row first, so two issues at the cap cannot both count the same tokens (PostgreSQL).
        get_user_model()._default_manager.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user).count() >= settings.API_TOKENS_PER_ACCOUNT:
            raise TooManyTokens(
                f"An account may hold at most {settings.API_TOKENS_PER_ACCOUNT} tokens: revoke one first."
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken.objects.create(user=user, name=name, digest=token_digest(token), hint=token[:10])
    logger.info("API token %s issued to account %s", row.id, user.pk)
    return row, token


def revoke_token(*, user, token_id: str) -> None:
    """Revoke one of `user`'s tokens: every web process refuses it from the next request (nothing caches tokens).
    Another account's token is NoSuchToken, exactly as one that does not exist."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if not deleted:
        raise NoSuchToken("There is no such token.")
    logger.info("API token %s revoked by account %s", token_id, user.pk)
