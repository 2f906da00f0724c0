"""JSON API of the accounts app: API tokens, and the leaderboard."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from ninja import Router, Status

from accounts import selectors, services
from accounts.exceptions import AccountsOff
from accounts.schemas import LeaderboardRowOut, TokenIn, TokenListedOut, TokenOut
from core.api_errors import ErrorOut
from core.db import write
from portfolio import selectors as portfolio_selectors

router = Router(tags=["accounts"])


def _accounts_on() -> None:
    if not settings.ACCOUNTS:
        raise AccountsOff("Accounts are off (ACCOUNTS=on turns them on): the API needs no token.")


@router.post(
    "/auth/token",
    url_name="auth_token",
    response={201: TokenOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 429: ErrorOut},
    summary="A new API token for an account, given its name and password (throttled like the login page)",
)
async def issue_token(request, payload: TokenIn):
    _accounts_on()
    # Not on the writer: checking a password takes a deliberate few hundred milliseconds, which no order waits for.
    user = await sync_to_async(services.sign_in)(request, username=payload.username, password=payload.password)
    row, token = await write(services.issue_token, user=user, name=payload.name)
    return Status(201, TokenOut(id=row.id, token=token, name=row.name))


@router.get("/auth/tokens", response={200: list[TokenListedOut], 404: ErrorOut}, summary="This account's tokens")
def list_tokens(request):
    _accounts_on()
    return selectors.tokens_of(user=request.user)


@router.delete(
    "/auth/tokens/{token_id}",
    response={204: None, 404: ErrorOut},
    summary="Revoke one of this account's tokens; every web process refuses it from the next request",
)
def revoke_token(request, token_id: str):
    _accounts_on()
    services.revoke_token(user=request.user, token_id=token_id)
    return Status(204, None)


@router.get("/leaderboard", response=list[LeaderboardRowOut], summary="Opted-in books by return since start")
async def leaderboard(request):
    return await sync_to_async(portfolio_selectors.leaderboard)()

