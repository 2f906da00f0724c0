"""manage.py adduser, and reset --user."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from portfolio.models import Profile

pytestmark = pytest.mark.django_db


def adduser(name, stdin_text, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    out = io.StringIO()
    call_command("adduser", name, stdout=out)
    return out.getvalue()


def test_adduser_reads_the_password_from_stdin_and_opens_a_book(monkeypatch):
    assert "made" in adduser("alice", "correct-horse-battery-9\n", monkeypatch)
    user = User.objects.get(username="alice")
    assert user.check_password("correct-horse-battery-9")
    assert Profile.objects.get(account=user).cash_balance == 10000


def test_adduser_refuses_a_weak_password_and_a_taken_name(monkeypatch):
    with pytest.raises(CommandError, match="too short|too common"):
        adduser("alice", "password\n", monkeypatch)
    assert not User.objects.filter(username="alice").exists()
    adduser("alice", "correct-horse-battery-9\n", monkeypatch)
    with pytest.raises(CommandError, match="already an account"):
        adduser("alice", "correct-horse-battery-9\n", monkeypatch)


def test_adduser_says_when_the_first_account_takes_over_the_single_user_book(monkeypatch):
    from core.db import DEFAULT_USER
    from portfolio import services

    services.seed(user_id=DEFAULT_USER)
    assert "took over the existing single-user book" in adduser("alice", "correct-horse-battery-9\n", monkeypatch)
    assert Profile.objects.get(account__username="alice").pk == DEFAULT_USER
    second = adduser("bob", "correct-horse-battery-9\n", monkeypatch)
    assert "with $10,000" in second and "took over" not in second


def test_adduser_needs_a_password_line(monkeypatch):
    with pytest.raises(CommandError, match="No password"):
        adduser("alice", "", monkeypatch)


def test_reset_user_resets_that_account_only(make_account, publish):
    from portfolio import services

    publish({"AAPL": 100.0})
    alice, bob = make_account("alice"), make_account("bob")
    for user in (alice, bob):
        services.execute_trade(user_id=user.book.id, ticker="AAPL", side="buy", quantity="1")
    call_command("reset", "--user", "bob", "--yes", stdout=io.StringIO())
    assert Profile.objects.get(account=bob).cash_balance == 10000
    assert Profile.objects.get(account=alice).cash_balance == 9900


def test_reset_names_the_account_when_accounts_are_on(accounts_on):
    with pytest.raises(CommandError, match="--user NAME"):
        call_command("reset", "--yes")
    with pytest.raises(CommandError, match="no account named"):
        call_command("reset", "--user", "ghost", "--yes")
