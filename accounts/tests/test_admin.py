"""The admin: accounts made there get their book; its login is throttled; tokens are listed and revocable there."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts import services
from accounts.models import ApiToken
from portfolio.models import Profile

pytestmark = pytest.mark.django_db


def test_an_account_made_in_the_admin_gets_its_book(admin_client):
    response = admin_client.post("/admin/auth/user/add/", {
        "username": "carol", "password1": "correct-horse-battery-9", "password2": "correct-horse-battery-9",
        "usable_password": "true",
    })
    assert response.status_code == 302, response.content[:2000]
    carol = User.objects.get(username="carol")
    assert Profile.objects.get(account=carol).cash_balance == 10000


def test_the_admin_login_is_throttled(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    User.objects.create_superuser("root", password="correct-horse-battery-9")
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": "correct-horse-battery-9"})
    assert response.status_code == 200 and "Too many failed sign-ins" in response.content.decode()


def test_tokens_are_listed_and_revoked_in_the_admin(admin_client, make_account):
    row, _ = services.issue_token(user=make_account("alice"), name="alice's bot")
    assert "alice&#x27;s bot" in admin_client.get("/admin/accounts/apitoken/").content.decode()
    response = admin_client.post(f"/admin/accounts/apitoken/{row.id}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not ApiToken.objects.exists()
