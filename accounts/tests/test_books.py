"""portfolio.services.open_book as accounts use it: moving over from one user, and one book per account."""

import pytest

from core.db import DEFAULT_USER
from portfolio import services
from portfolio.models import Profile, Trade

pytestmark = pytest.mark.django_db


def test_the_first_account_takes_over_the_implicit_users_book(make_account, publish):
    publish({"AAPL": 100.0})
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity="5")
    first, second = make_account("first"), make_account("second")
    assert first.book.id == DEFAULT_USER
    assert Trade.objects.filter(user_id=first.book.id).count() == 1
    assert second.book.id == f"user-{second.pk}"
    assert Profile.objects.get(pk=second.book.id).cash_balance == 10000


def test_opening_twice_finds_the_same_book(make_account):
    user = make_account("alice")
    assert services.open_book(account_id=user.pk) == services.open_book(account_id=user.pk) == user.book.id
    assert Profile.objects.filter(account=user).count() == 1


def test_an_account_with_a_book_cannot_be_deleted(make_account):
    from django.db.models import ProtectedError

    user = make_account("alice")
    with pytest.raises(ProtectedError):
        user.delete()
