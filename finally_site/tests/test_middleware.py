"""Django's own checks on every path, the JSON API included: Host validation, security headers, CSRF."""

import json

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from core.db import DEFAULT_USER
from finally_site.middleware import api_json_only_middleware
from portfolio.models import PortfolioSnapshot, Position, Profile, Trade

pytestmark = pytest.mark.django_db

FORGED = "attacker.example"


def api_operations(client) -> list[tuple[str, str]]:
    """Every operation the API serves, from its own OpenAPI document (so a new route is covered at once)."""
    document = client.get("/api/openapi.json").json()
    operations = []
    for path, methods in document["paths"].items():
        for method in methods:
            operations.append((method.upper(), path.replace("{ticker}", "AAPL")))
    return operations


def books():
    return (
        Profile.objects.get().cash_balance,
        list(Position.objects.values_list("ticker", "quantity")),
        Trade.objects.count(),
        PortfolioSnapshot.objects.count(),
    )


@pytest.fixture(autouse=True)
def prices(publish):
    publish({"AAPL": 190.0})


def test_every_api_route_is_covered(client):
    operations = api_operations(client)
    assert ("POST", "/api/portfolio/trade") in operations
    assert ("GET", "/api/stream/prices") in operations
    assert len(operations) >= 8


def test_a_forged_host_is_refused_on_every_api_route_and_changes_nothing(client):
    from market.selectors import watched_tickers

    before, watched = books(), watched_tickers(user_id=DEFAULT_USER)
    body = json.dumps({"ticker": "AAPL", "quantity": 1, "side": "buy"})
    for method, path in api_operations(client) + [("GET", "/api/openapi.json"), ("GET", "/api/nowhere")]:
        response = client.generic(method, path, data=body, content_type="application/json", HTTP_HOST=FORGED)
        assert response.status_code == 400, (method, path, response.status_code)
        assert "Host header" in response.json()["error"], (method, path)
    assert books() == before and watched_tickers(user_id=DEFAULT_USER) == watched


def test_a_forged_host_is_refused_on_pages_and_admin(client):
    for path in ("/", "/admin/", "/admin/login/"):
        assert client.get(path, HTTP_HOST=FORGED).status_code == 400


def test_an_allowed_host_still_trades(client):
    response = client.post(
        "/api/portfolio/trade", {"ticker": "AAPL", "quantity": 1, "side": "buy"}, content_type="application/json",
        HTTP_HOST="localhost",
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/api/portfolio"), ("GET", "/api/watchlist"), ("GET", "/api/health"), ("GET", "/api/nowhere"),
     ("POST", "/api/portfolio/trade")],
)
def test_api_responses_carry_the_pages_security_headers(client, method, path):
    response = client.generic(method, path, data="{}", content_type="application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", ""],
)
def test_a_cross_site_form_cannot_post_to_the_api(client, content_type):
    before = books()
    data = "ticker=AAPL&quantity=1&side=buy"
    response = client.generic("POST", "/api/portfolio/trade", data=data, content_type=content_type)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert books() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_bodyless_api_post_must_still_say_json(content_type):
    """An endpoint that takes no body (say, a future reset) is as safe from cross-site forms as the rest."""
    reached = []

    def reset_view(request):
        reached.append(request)
        return HttpResponse(status=204)

    guarded = api_json_only_middleware(reset_view)
    factory = RequestFactory()
    assert guarded(factory.post("/api/reset", content_type=content_type)).status_code == 415
    assert reached == []
    assert guarded(factory.post("/api/reset", content_type="application/json")).status_code == 204
    assert guarded(factory.delete("/api/watchlist/AAPL")).status_code == 204
    assert guarded(factory.post("/admin/logout/", content_type=content_type)).status_code == 204  # pages: Django's CSRF


@pytest.mark.e2e
def test_over_a_real_asgi_server_a_forged_host_cannot_trade(live_stack):
    """The ASGI path (uvicorn) runs the middleware in async mode: check it there too, not only in the test client."""
    import httpx

    api = live_stack.base_url + "/api"
    before = httpx.get(api + "/portfolio").json()
    for method, path, body in [
        ("POST", "/portfolio/trade", {"ticker": "AAPL", "quantity": 1, "side": "buy"}),
        ("POST", "/watchlist", {"ticker": "PYPL"}),
        ("DELETE", "/watchlist/AAPL", None),
        ("GET", "/portfolio", None),
        ("GET", "/stream/prices", None),
    ]:
        response = httpx.request(method, api + path, json=body, headers={"Host": FORGED})
        assert response.status_code == 400, (method, path)
        assert "Host header" in response.json()["error"]
    assert httpx.get(api + "/portfolio").json() == before
    assert "PYPL" not in {q["ticker"] for q in httpx.get(api + "/watchlist").json()}
    ok = httpx.post(api + "/portfolio/trade", json={"ticker": "AAPL", "quantity": 1, "side": "buy"})
    assert ok.status_code == 201
    for header, value in [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
                          ("Cross-Origin-Opener-Policy", "same-origin"), ("X-Frame-Options", "DENY")]:
        assert ok.headers[header] == value
    form = httpx.post(api + "/portfolio/trade", content=b"ticker=AAPL&quantity=1&side=buy",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415


@pytest.mark.e2e
def test_over_a_real_asgi_server_static_files_check_the_host_too(live_stack):
    import re

    import httpx

    page = httpx.get(live_stack.base_url + "/")
    css = re.search(r'href="(/static/css/workstation\.[0-9a-f]+\.css)"', page.text).group(1)
    assert httpx.get(live_stack.base_url + css).status_code == 200
    assert httpx.get(live_stack.base_url + css, headers={"Host": FORGED}).status_code == 400


def test_a_forged_host_is_logged_in_one_line(client, caplog):
    with caplog.at_level("WARNING", logger="django.security.DisallowedHost"):
        assert client.get("/api/health", HTTP_HOST=FORGED).status_code == 400
    [record] = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert "Invalid HTTP_HOST header" in record.getMessage() and record.exc_info is None


@pytest.mark.parametrize("content_type", ["text/plain", ""])
def test_a_form_post_is_refused_where_a_post_is_served_and_405_where_none_is(client, content_type):
    """A POST to a path that serves no POST reaches no view: the router's 405 with Allow says so (a 415 would tell
    the client to change its body). Every path that does serve a POST still refuses a form; none changes a thing."""
    before = books()
    documented = {}
    for method, path in api_operations(client):
        documented.setdefault(path, set()).add(method)
    for path, methods in documented.items():
        response = client.generic("POST", path, data="ticker=AAPL", content_type=content_type)
        if "POST" in methods:
            assert response.status_code == 415, path
        else:
            assert response.status_code == 405, (path, response.status_code)
            assert set(response["Allow"].replace(" ", "").split(",")) == methods, path
            assert response.json()["error"]
    assert client.generic("POST", "/api/nowhere", data="x", content_type=content_type).status_code == 415
    assert books() == before
