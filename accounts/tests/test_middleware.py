"""Who a request is: the implicit user with ACCOUNTS=off; a signed-in account or a token with ACCOUNTS=on."""

import pytest
from django.test import Client

from accounts import services
from core.db import DEFAULT_USER
from portfolio.models import Profile

pytestmark = pytest.mark.django_db


def test_accounts_off_serves_the_implicit_user_without_sign_in(client):
    assert client.get("/").status_code == 200
    assert client.get("/api/portfolio").json()["cash_balance"] == 10000.0
    assert b"Sign out" not in client.get("/").content


class TestSignInRequired:
    def test_pages_send_the_anonymous_to_the_login_page(self, accounts_on, client):
        response = client.get("/?ticker=AAPL")
        assert response.status_code == 302
        assert response["Location"] == "/login?next=/%3Fticker%3DAAPL"

    def test_an_htmx_fragment_sends_the_whole_page_to_the_login_page(self, accounts_on, client):
        response = client.get("/panels/summary", HTTP_HX_REQUEST="true")
        assert response.status_code == 401
        assert response["HX-Redirect"] == "/login"

    @pytest.mark.parametrize("method, path", [
        ("get", "/api/portfolio"), ("get", "/api/watchlist"), ("get", "/api/trades"), ("get", "/api/chat/history"),
        ("get", "/api/portfolio/history"), ("get", "/api/stream/prices"), ("get", "/api/openapi.json"),
        ("get", "/api/auth/tokens"), ("delete", "/api/watchlist/AAPL"),
    ])
    def test_the_api_answers_401_in_json(self, accounts_on, client, method, path):
        response = getattr(client, method)(path)
        assert response.status_code == 401
        assert response.json()["error"].startswith("Sign in first")
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_an_order_without_an_account_is_refused_and_changes_nothing(self, accounts_on, client, publish):
        publish({"AAPL": 100.0})
        response = client.post("/api/portfolio/trade", {"ticker": "AAPL", "side": "buy", "quantity": 1},
                               content_type="application/json")
        assert response.status_code == 401
        assert Profile.objects.get(pk=DEFAULT_USER).cash_balance == 10000

    def test_health_stays_open_and_names_no_account(self, accounts_on, client, make_account):
        make_account("alice")
        response = client.get("/api/health")
        assert response.status_code in (200, 503)
        assert "alice" not in response.content.decode()

    def test_the_login_page_is_open(self, accounts_on, client):
        assert client.get("/login").status_code == 200

    def test_sign_up_is_closed_unless_opened(self, accounts_on, client):
        assert client.get("/signup").status_code == 302  # not open: to the login page, like any other page
        accounts_on.ACCOUNTS_SIGNUP = True
        assert client.get("/signup").status_code == 200


class TestSignedIn:
    def test_a_signed_in_account_trades_its_own_book(self, accounts_on, signed_in, publish):
        publish({"AAPL": 100.0})
        alice = signed_in("alice")
        response = alice.post("/api/portfolio/trade", {"ticker": "AAPL", "side": "buy", "quantity": 2},
                              content_type="application/json")
        assert response.status_code == 201
        assert alice.get("/api/portfolio").json()["cash_balance"] == 9800.0
        page = alice.get("/").content.decode()
        assert "alice" in page and "Sign out" in page

    def test_sign_out_ends_the_session(self, accounts_on, signed_in):
        alice = signed_in("alice")
        assert alice.post("/logout").status_code == 302
        assert alice.get("/api/portfolio").status_code == 401

    def test_an_inactive_account_is_signed_out(self, accounts_on, signed_in):
        alice = signed_in("alice")
        from django.contrib.auth.models import User

        User.objects.filter(username="alice").update(is_active=False)
        assert alice.get("/api/portfolio").status_code == 401


class TestTokens:
    def test_a_token_works_on_any_api_call_and_not_after_revoking(self, accounts_on, make_account):
        user = make_account("bot")
        row, token = services.issue_token(user=user, name="bot")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/portfolio").status_code == 200
        assert client.get("/api/watchlist").status_code == 200
        services.revoke_token(user=user, token_id=row.id)
        response = client.get("/api/portfolio")
        assert response.status_code == 401
        assert "not valid" in response.json()["error"]

    def test_a_wrong_token_is_401_even_with_a_session(self, accounts_on, signed_in):
        alice = signed_in("alice")
        assert alice.get("/api/portfolio", HTTP_AUTHORIZATION="Bearer fin_nope").status_code == 401

    def test_a_token_does_not_open_pages(self, accounts_on, make_account):
        user = make_account("bot")
        _, token = services.issue_token(user=user, name="bot")
        assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/").status_code == 302
