"""Reads of the accounts app."""

from __future__ import annotations

from accounts.models import TOKEN_PREFIX, ApiToken, token_digest


def token_user(token: str):
    """The active account a bearer token belongs to (with its book), or None: unknown, revoked or inactive."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = ApiToken.objects.select_related("user__book").filter(digest=token_digest(token)).first()
    if row is None or not row.user.is_active:
        return None
    return row.user


def tokens_of(*, user) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user))
