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
def test_an_account_is_locked_for_the_addresses_that_failed_even_with_the_right_password(limits, make_account, name):
    make_account("alice")
    for n in range(3):
        assert login(name, "wrong-password", address=f"10.0.0.{n}").status_code == 200
    # From an address that failed for it: refused, right password or not, until the window passes.
    assert "Too many failed sign-ins" in login(name, PASSWORD, address="10.0.0.1").content.decode()
    response = token(name, PASSWORD, address="10.0.0.2")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0


def test_the_throttled_page_is_a_429_that_does_not_call_the_password_wrong(limits, make_account):
    make_account("alice")
    wrong = login("alice", "wrong-password")
    assert wrong.status_code == 200 and 'aria-invalid="true"' in wrong.content.decode()
    for _ in range(2):
        login("alice", "wrong-password")
    refused = login("alice", PASSWORD)
    page = refused.content.decode()
    assert refused.status_code == 429 and "Too many failed sign-ins" in page
    assert 'aria-invalid="true"' not in page and "Wrong account name or password." not in page


def test_a_locked_accounts_owner_still_gets_in_from_an_address_that_never_failed(limits, make_account):
    make_account("alice")
    for n in range(5):
        login("alice", "wrong-password", address=f"10.0.0.{n}")
    assert login("alice", PASSWORD, address="192.168.7.7").status_code == 302
    # and a guesser's new address gets one try, then is refused too
    assert login("alice", "wrong-again", address="10.0.9.9").status_code == 200
    assert "Too many failed sign-ins" in login("alice", PASSWORD, address="10.0.9.9").content.decode()


def test_attempts_sent_together_are_counted_together(limits, make_account):
    """All counted before any password is checked: a burst cannot pass a count none of its attempts is in yet."""
    make_account("alice")
    attempts = [throttle.Attempt(username="alice", address="10.2.2.2") for _ in range(40)]
    allowed = [a for a in attempts if a.wait_seconds() == 0]
    assert len(allowed) <= limits.LOGIN_FAILURES_PER_ACCOUNT


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

    window = timedelta(seconds=limits.LOGIN_FAILURE_WINDOW_SECONDS)
    LoginFailure.objects.update(at=LoginFailure.objects.first().at - window)
    assert login("alice", PASSWORD).status_code == 302


def test_the_token_route_counts_failures_too(limits, make_account):
    make_account("alice")
    for _ in range(3):
        assert token("alice", "wrong-password").status_code == 401
    assert token("alice", PASSWORD).status_code == 429
    assert login("alice", PASSWORD).status_code == 429  # the login page counts the same failures


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

    def test_an_ipv6_client_counts_as_its_64(self, settings):
        settings.TRUSTED_PROXIES = []
        assert throttle.client_address(self.request("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
        assert throttle.client_address(self.request("2001:db8:1:2:ffff::9")) == "2001:db8:1:2::/64"
        assert throttle.client_address(self.request("::ffff:10.1.2.3")) == "10.1.2.3"


def test_housekeeping_deletes_ended_sessions_and_old_counts(limits, signed_in):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts import services
    from accounts.models import SignUp
    from market import hooks

    assert any(task.name == "accounts-housekeeping" for task in hooks.periodic_tasks)
    signed_in("alice")
    login("alice", "wrong-password")
    SignUp.objects.create(address="10.0.0.1", at=timezone.now() - timedelta(days=2))
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    LoginFailure.objects.update(at=timezone.now() - timedelta(seconds=limits.LOGIN_FAILURE_WINDOW_SECONDS + 1))
    services.housekeeping()
    assert not Session.objects.exists() and not LoginFailure.objects.exists() and not SignUp.objects.exists()
