import pytest
from django.test import Client

from accounts import services

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Django's real hasher takes ~0.5 s a password by design; these tests check who gets in, not the hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def accounts_on(settings):
    settings.ACCOUNTS = True
    return settings


@pytest.fixture
def make_account(db):
    def make(username: str, password: str = PASSWORD):
        return services.create_account(username=username, password=password)

    return make


@pytest.fixture
def signed_in(make_account):
    """A client signed in as a new account (by the login page, as a browser would)."""

    def sign_in(username: str) -> Client:
        make_account(username)
        client = Client()
        response = client.post("/login", {"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.content
        return client

    return sign_in
