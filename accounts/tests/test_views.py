"""The sign-up page (ACCOUNTS_SIGNUP=open) and the account page."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.tests.conftest import PASSWORD
from portfolio.models import Profile

pytestmark = pytest.mark.django_db


def sign_up(client, name, password=PASSWORD):
    return client.post("/signup", {"username": name, "password1": password, "password2": password})


def test_sign_up_makes_an_account_with_its_book_and_signs_it_in(accounts_on):
    accounts_on.ACCOUNTS_SIGNUP = True
    client = Client()
    assert sign_up(client, "dora").status_code == 302
    assert Profile.objects.get(account__username="dora").cash_balance == 10000
    assert client.get("/api/portfolio").status_code == 200


def test_sign_up_refuses_weak_passwords_and_taken_names(accounts_on, make_account):
    accounts_on.ACCOUNTS_SIGNUP = True
    make_account("dora")
    assert "already exists" in sign_up(Client(), "dora").content.decode()
    assert "too short" in sign_up(Client(), "eve", password="abc12").content.decode()
    assert not User.objects.filter(username="eve").exists()


def test_one_address_sends_a_few_sign_up_forms_a_day_at_most(accounts_on, make_account):
    accounts_on.ACCOUNTS_SIGNUP = True
    accounts_on.SIGNUPS_PER_ADDRESS = 3
    make_account("taken")
    assert "already exists" in sign_up(Client(REMOTE_ADDR="10.0.0.7"), "taken").content.decode()  # counts too
    for name in ("a1", "a2"):
        assert sign_up(Client(REMOTE_ADDR="10.0.0.7"), name).status_code == 302
    response = sign_up(Client(REMOTE_ADDR="10.0.0.7"), "a3")
    assert response.status_code == 429 and "the most it may" in response.content.decode()
    assert "already exists" not in sign_up(Client(REMOTE_ADDR="10.0.0.7"), "taken").content.decode()
    assert not User.objects.filter(username="a3").exists()
    assert sign_up(Client(REMOTE_ADDR="10.0.0.8"), "a3").status_code == 302


def test_the_account_page_is_a_404_with_accounts_off(client):
    assert client.get("/account").status_code == 404


def test_a_token_made_on_the_account_page_is_shown_once(accounts_on, signed_in):
    alice = signed_in("alice")
    response = alice.post("/account/tokens", {"name": "bot"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = response.context["new_token"]
    assert token.startswith("fin_") and token in response.content.decode()
    assert token not in alice.get("/account").content.decode()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/portfolio").status_code == 200


def test_login_next_never_leaves_the_site(accounts_on, make_account):
    make_account("alice")
    response = Client().post("/login?next=https://evil.example/", {"username": "alice", "password": PASSWORD,
                                                                   "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"
