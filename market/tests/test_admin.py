"""The watchlist admin keeps the API's ticker rules."""

import pytest
from django.urls import reverse

from core.db import DEFAULT_USER
from market import selectors

pytestmark = pytest.mark.django_db


def test_admin_add_normalizes_and_validates_the_ticker(admin_client):
    url = reverse("admin:market_watchlistentry_add")
    rejected = admin_client.post(url, {"user_id": "default", "ticker": "<b>x</b>"})
    assert rejected.status_code == 200 and "is not a ticker" in rejected.content.decode()
    admin_client.post(url, {"user_id": "default", "ticker": " pypl "})
    assert selectors.watched_tickers(user_id=DEFAULT_USER)[-1] == "PYPL"
