"""POST /api/auth/token, the token list and revocation, the leaderboard."""

import pytest
from django.test import Client

from accounts.models import ApiToken, token_digest
from accounts.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def issue(username="alice", password=PASSWORD, **extra):
    return Client().post("/api/auth/token", {"username": username, "password": password, **extra},
                         content_type="application/json")


def test_a_token_is_issued_once_and_stored_hashed(accounts_on, make_account):
    make_account("alice")
    response = issue(name="my bot")
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("fin_") and body["name"] == "my bot"
    row = ApiToken.objects.get()
    assert row.digest == token_digest(body["token"]) and body["token"] not in (row.digest, row.hint)
    listed = Client(HTTP_AUTHORIZATION=f"Bearer {body['token']}").get("/api/auth/tokens").json()
    assert listed == [{"id": row.id, "name": "my bot", "hint": row.hint, "created_at": listed[0]["created_at"]}]
    assert "token" not in listed[0]


def test_a_wrong_password_is_a_401(accounts_on, make_account):
    make_account("alice")
    response = issue(password="nope-nope-nope")
    assert response.status_code == 401 and response.json() == {"error": "Wrong account name or password."}


def test_the_token_route_is_a_404_with_accounts_off(db):
    response = issue()
    assert response.status_code == 404 and "ACCOUNTS=on" in response.json()["error"]


def test_tokens_per_account_are_capped(accounts_on, make_account):
    accounts_on.API_TOKENS_PER_ACCOUNT = 2
    make_account("alice")
    assert issue().status_code == 201 and issue().status_code == 201
    response = issue()
    assert response.status_code == 409 and "at most 2" in response.json()["error"]


def test_bad_bodies_are_4xx(accounts_on, make_account):
    make_account("alice")
    assert issue(password="x" * 5000).status_code == 422
    assert Client().post("/api/auth/token", "username=alice", content_type="text/plain").status_code == 415


def test_the_leaderboard_shows_opted_in_names_and_returns_only(accounts_on, signed_in, publish):
    publish({"AAPL": 100.0})
    alice, bob = signed_in("alice"), signed_in("bob")
    alice.post("/api/portfolio/trade", {"ticker": "AAPL", "side": "buy", "quantity": 10},
               content_type="application/json")
    assert alice.get("/api/leaderboard").json() == []
    assert alice.post("/account/leaderboard", {"show": "on", "display_name": "Al"}).status_code == 302
    publish({"AAPL": 110.0})
    from portfolio import services

    services.record_snapshots()
    rows = bob.get("/api/leaderboard").json()
    assert rows == [{"rank": 1, "name": "Al", "return_percent": 1.0, "as_of": rows[0]["as_of"]}]
    page = bob.get("/leaderboard").content.decode()
    assert "Al" in page and "+1.00%" in page and "9,000" not in page


def test_opting_in_needs_a_display_name(accounts_on, signed_in):
    alice = signed_in("alice")
    response = alice.post("/account/leaderboard", {"show": "on", "display_name": "  "})
    assert response.status_code == 400 and "display name" in response.content.decode()


def test_a_display_name_shown_by_another_book_is_taken_in_any_case(accounts_on, signed_in):
    alice, bob = signed_in("alice"), signed_in("bob")
    assert alice.post("/account/leaderboard", {"show": "on", "display_name": "Top Gun"}).status_code == 302
    response = bob.post("/account/leaderboard", {"show": "on", "display_name": "top  gun"})
    assert response.status_code == 400 and "is taken" in response.content.decode()
    assert alice.post("/account/leaderboard", {"display_name": "Top Gun"}).status_code == 302  # alice opts out
    assert bob.post("/account/leaderboard", {"show": "on", "display_name": "top gun"}).status_code == 302
