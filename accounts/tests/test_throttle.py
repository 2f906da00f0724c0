"""Failed sign-ins are throttled per account name and per address, alike for names that exist and names that do
not (so the throttle tells nothing about which exist)."""

import pytest
from django.test import Client

from accounts import throttle
from accounts.models import LoginFailure
from accounts.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(username, password, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post("/login", {"username": username, "password": password})


def token(username, password, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/api/auth/token", {"username": username, "password": password}, content_type="application/json"
    )


@pytest.fixture
def limits(accounts_on):
    accounts_on.LOGIN_FAILURES_PER_ACCOUNT = 3
    accounts_on.LOGIN_FAILURES_PER_ADDRESS = 5
    return accounts_on


def test_a_wrong_password_and_an_unknown_name_read_the_same(limits, make_account):
    make_account("alice")
    wrong = login("alice", "not-the-password").content.decode()
    unknown = login("nobody", "not-the-password").content.decode()
    assert "Wrong account name or password." in wrong and "Wrong account name or password." in unknown


@pytest.mark.parametrize("name", ["alice", "nobody"])
def test_an_account_is_locked_after_its_failures_even_with_the_right_password(limits, make_account, name):
    make_account("alice")
    for n in range(3):
        assert login(name, "wrong-password", address=f"10.0.0.{n}").status_code == 200
    # From yet another address, with the right password: refused until the window passes.
    body = login(name, PASSWORD, address="10.9.9.9").content.decode()
    assert "Too many failed sign-ins" in body
    response = token(name, PASSWORD, address="10.9.9.8")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0


def test_an_address_is_locked_after_its_failures_across_names(limits, make_account):
    make_account("alice")
    for n in range(5):
        login(f"guess{n}", "wrong-password", address="10.1.1.1")
    assert "Too many failed sign-ins" in login("alice", PASSWORD, address="10.1.1.1").content.decode()
    assert login("alice", PASSWORD, address="10.1.1.2").status_code == 302


def test_the_window_passing_lets_sign_in_again(limits, make_account):
    make_account("alice")
    for _ in range(3):
        login("alice", "wrong-password")
    from datetime import timedelta

    LoginFailure.objects.update(at=LoginFailure.objects.first().at - timedelta(seconds=limits.LOGIN_FAILURE_WINDOW_SECONDS))
    assert login("alice", PASSWORD).status_code == 302


def test_the_token_route_counts_failures_too(limits, make_account):
    make_account("alice")
    for _ in range(3):
        assert token("alice", "wrong-password").status_code == 401
    assert token("alice", PASSWORD).status_code == 429


class TestClientAddress:
    def request(self, remote, forwarded=None):
        from django.test import RequestFactory

        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
        return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)

    def test_forwarded_for_is_ignored_from_an_untrusted_peer(self, settings):
        settings.TRUSTED_PROXIES = []
        assert throttle.client_address(self.request("10.0.0.5", "1.2.3.4")) == "10.0.0.5"

    def test_a_trusted_proxy_names_the_client_by_the_address_it_added(self, settings):
        import ipaddress

        settings.TRUSTED_PROXIES = [ipaddress.ip_network("172.16.0.0/12")]
        # What the client wrote itself (6.6.6.6) comes first; the proxy appends the address it saw.
        assert throttle.client_address(self.request("172.18.0.3", "6.6.6.6, 1.2.3.4")) == "1.2.3.4"
        assert throttle.client_address(self.request("172.18.0.3", "garbage")) == "172.18.0.3"
