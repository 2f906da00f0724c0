"""The seed and reset management commands."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from core.db import DEFAULT_USER
from market import selectors as market_selectors
from market import services as market_services
from portfolio import services
from portfolio.models import Profile, Trade

pytestmark = pytest.mark.django_db


def test_seed_twice_changes_nothing(capsys):
    call_command("seed")
    call_command("seed")
    assert Profile.objects.count() == 1
    assert len(market_selectors.watched_tickers(user_id=DEFAULT_USER)) == 10
    assert "Already seeded" in capsys.readouterr().out


def test_reset_with_yes(publish):
    publish({"AAPL": 100.0})
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=1)
    market_services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
    call_command("reset", yes=True)
    assert Trade.objects.count() == 0
    assert "PYPL" not in market_selectors.watched_tickers(user_id=DEFAULT_USER)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_reset_refuses_without_confirmation(publish, monkeypatch):
    publish({"AAPL": 100.0})
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=1)
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("reset")
    assert Trade.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_reset_without_a_terminal_says_to_pass_yes(stack_factory):
    stack = stack_factory()
    result = subprocess.run(
        [sys.executable, "manage.py", "reset"], cwd=stack_root(), env=stack.env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "pass --yes" in result.stderr
    assert "Traceback" not in result.stderr and "EOFError" not in result.stderr


def stack_root():
    from conftest import ROOT

    return ROOT
