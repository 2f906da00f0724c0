"""The alerts' JSON API: POST/GET /api/alerts, DELETE /api/alerts/{id}, and its refusals."""

from __future__ import annotations

import json

import pytest

from alerts import services

pytestmark = pytest.mark.django_db


def api(client, method, path, body=None):
    kwargs = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method)(path, **kwargs)


def test_set_list_and_cancel_an_alert(client, publish):
    made = api(client, "post", "/api/alerts", {"ticker": "aapl", "condition": "above", "price": 200})
    assert made.status_code == 201, made.content
    alert = made.json()
    assert {k: alert[k] for k in ("ticker", "condition", "price", "status", "fired_at")} == {
        "ticker": "AAPL", "condition": "above", "price": 200.0, "status": "active", "fired_at": None}
    assert [a["id"] for a in client.get("/api/alerts").json()] == [alert["id"]]
    assert [a["id"] for a in client.get("/api/alerts?status=active").json()] == [alert["id"]]
    assert client.get("/api/alerts?status=history").json() == []
    canceled = api(client, "delete", f"/api/alerts/{alert['id']}")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    again = api(client, "delete", f"/api/alerts/{alert['id']}")
    assert again.status_code == 409 and "canceled" in again.json()["error"]
    assert [a["status"] for a in client.get("/api/alerts?status=history").json()] == ["canceled"]


def test_a_fired_alert_says_when_and_at_what(client, publish):
    alert = api(client, "post", "/api/alerts", {"ticker": "AAPL", "condition": "below", "price": "150.50"}).json()
    publish({"AAPL": 150.25})
    assert services.check_tick({"AAPL"}) == 1
    [fired] = client.get("/api/alerts").json()
    assert fired["id"] == alert["id"] and fired["status"] == "fired"
    assert fired["fired_price"] == 150.25 and fired["fired_at"]


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"ticker": "AAPL", "condition": "sideways", "price": 1}, 422, "condition"),
        ({"ticker": "AAPL", "condition": "above", "price": 0}, 400, "price must be greater than zero"),
        ({"ticker": "AAPL", "condition": "above", "price": "1.001"}, 400, "whole cents"),
        ({"ticker": "QQQQ", "condition": "above", "price": 1}, 400, "not on your watchlist"),
        ({"ticker": "AAPL", "condition": "above"}, 422, "price"),
        ({}, 422, "ticker"),
    ],
)
def test_bad_alerts_get_a_clear_4xx_and_nothing_is_made(client, body, status, message):
    refused = api(client, "post", "/api/alerts", body)
    assert refused.status_code == status, refused.content
    assert message in refused.json()["error"]
    assert client.get("/api/alerts").json() == []


def test_past_the_cap_a_409(client, settings):
    settings.ALERTS_MAX_ACTIVE = 1
    assert api(client, "post", "/api/alerts", {"ticker": "AAPL", "condition": "above", "price": 1}).status_code == 201
    refused = api(client, "post", "/api/alerts", {"ticker": "AAPL", "condition": "above", "price": 2})
    assert refused.status_code == 409 and "1 active alerts" in refused.json()["error"]


def test_an_unknown_or_malformed_id(client):
    assert api(client, "delete", "/api/alerts/0190a0a0-0000-7000-8000-000000000000").status_code == 404
    assert api(client, "delete", "/api/alerts/not-an-id!").status_code == 422
