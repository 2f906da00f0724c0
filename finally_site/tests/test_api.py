"""The API's error contract (finally_site/api.py): no database exception reaches a client as a 500."""

import json

import pytest
from django.db import DataError, IntegrityError

from market import services as market_services
from market.models import WatchlistEntry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("raised", "status"), [(IntegrityError, 409), (DataError, 422)])
def test_a_write_the_database_refuses_is_a_4xx(client, monkeypatch, raised, status):
    """A constraint no service foresaw (each maps its own): the request is refused, the server has not failed."""

    def refused(**kwargs):
        raise raised("CHECK constraint failed: something_new")

    monkeypatch.setattr(market_services, "add_ticker", refused)
    before = list(WatchlistEntry.objects.values_list("ticker", flat=True))
    response = client.post("/api/watchlist", json.dumps({"ticker": "PYPL"}), content_type="application/json")
    assert response.status_code == status
    assert "nothing was changed" in response.json()["error"]
    assert list(WatchlistEntry.objects.values_list("ticker", flat=True)) == before
