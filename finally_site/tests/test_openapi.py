"""The OpenAPI document is generated from the same schemas that validate requests; keep it true."""

import pytest

from finally_site.api import api

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def served_routes() -> set[tuple[str, str]]:
    """(path, method) for every operation the API's URLconf actually routes."""
    routes = set()
    for router_prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            full = "/api/" + "/".join(p.strip("/") for p in (router_prefix, path) if p.strip("/"))
            for operation in path_view.operations:
                routes.update((full, method.lower()) for method in operation.methods)
    return routes


def test_document_lists_exactly_the_served_operations(schema):
    documented = {(path, method) for path, ops in schema["paths"].items() for method in ops if method in HTTP_METHODS}
    assert documented == served_routes()
    assert {
        ("/api/health", "get"), ("/api/stream/prices", "get"), ("/api/watchlist", "get"), ("/api/watchlist", "post"),
        ("/api/watchlist/{ticker}", "delete"), ("/api/portfolio", "get"), ("/api/portfolio/trade", "post"),
        ("/api/portfolio/history", "get"),
    } <= documented


def test_trade_request_schema(schema):
    body = schema["paths"]["/api/portfolio/trade"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    trade_in = resolve(schema, body)
    assert set(trade_in["required"]) == {"ticker", "quantity", "side"}
    assert trade_in["properties"]["side"]["enum"] == ["buy", "sell"]
    assert trade_in["properties"]["quantity"]["exclusiveMinimum"] == 0
    responses = schema["paths"]["/api/portfolio/trade"]["post"]["responses"]
    assert {"201", "400", "415", "422"} <= set(responses)
    error = resolve(schema, responses["400"]["content"]["application/json"]["schema"])
    assert error["required"] == ["error"]


def test_stream_is_documented_as_event_stream(schema):
    assert "text/event-stream" in schema["paths"]["/api/stream/prices"]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize("path", ["/api/health", "/api/watchlist", "/api/portfolio", "/api/portfolio/history"])
def test_real_responses_match_their_documented_shape(client, schema, publish, path):
    publish({"AAPL": 190.0})
    documented = resolve(schema, schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    body = client.get(path).json()
    if documented.get("type") == "array":
        item = resolve(schema, documented["items"])
        assert body, path
        for entry in body:
            assert set(entry) == set(item["properties"])
    else:
        assert set(body) == set(documented["properties"])
        assert set(documented.get("required", [])) <= set(body)


def test_swagger_ui_is_served_without_a_cdn(client):
    page = client.get("/api/docs").content.decode()
    assert "cdn." not in page and "/static/ninja/" in page
