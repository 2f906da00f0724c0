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
        ("/api/portfolio/history", "get"), ("/api/trades", "get"),
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


@pytest.mark.parametrize(
    "path", ["/api/health", "/api/watchlist", "/api/portfolio", "/api/portfolio/history", "/api/trades"]
)
def test_real_responses_match_their_documented_shape(client, schema, publish, path):
    publish({"AAPL": 190.0})
    ok = schema["paths"][path]["get"]["responses"]["200"]
    documented = resolve(schema, ok["content"]["application/json"]["schema"])
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


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_every_status_the_api_machinery_sends_is_documented(schema):
    """A body can be refused as not JSON (400), too large (413), not sent as JSON (415) or not matching its schema
    (422); a parameter as not matching (422); anything can meet a passing condition (503, with Retry-After)."""
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"503"}
        if "requestBody" in operation:
            expected |= {"400", "413", "415", "422"}
        if operation.get("parameters"):
            expected.add("422")
        assert expected <= set(responses), (path, method, sorted(responses))
        assert responses["503"]["headers"]["Retry-After"]["required"] is True, (path, method)
    watchlist_add = schema["paths"]["/api/watchlist"]["post"]
    assert {"201", "400", "409", "413", "415", "422", "503"} <= set(watchlist_add["responses"])


def test_no_status_is_documented_twice(client):
    """ninja keys responses by int, the document's additions by text: as JSON both would be "503", and a reader
    keeps only the last (the health's own 503 body would be lost)."""
    import json

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    json.loads(client.get("/api/openapi.json").content, object_pairs_hook=no_duplicates)


def test_tickers_and_messages_carry_the_servers_limits(schema):
    import re

    from assistant.reply import MAX_MESSAGE_CHARS
    from market.tickers import MAX_TICKER_LENGTH

    def body_property(path, name):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return resolve(schema, body)["properties"][name]

    def parameter(path, method, name):
        [found] = [p for p in schema["paths"][path][method]["parameters"] if p["name"] == name]
        return found["schema"]

    tickers = [
        body_property("/api/watchlist", "ticker"), body_property("/api/portfolio/trade", "ticker"),
        parameter("/api/watchlist/{ticker}", "delete", "ticker"),
    ]
    for ticker in tickers:
        assert ticker["minLength"] == 1 and ticker["maxLength"] >= MAX_TICKER_LENGTH
        pattern = re.compile(ticker["pattern"])
        assert all(pattern.search(t) for t in ("AAPL", "brk.b", " pypl ", "A" * MAX_TICKER_LENGTH))
        assert not any(pattern.search(t) for t in ("", "A" * (MAX_TICKER_LENGTH + 1), "<b>", "../x", ".A", "ß"))
    message = body_property("/api/chat", "message")
    assert (message["minLength"], message["maxLength"]) == (1, MAX_MESSAGE_CHARS)
    pattern = re.compile(message["pattern"])
    assert pattern.search("hi") and not any(pattern.search(m) for m in (" \t\n\u3000", "a\x00b"))
    until = parameter("/api/portfolio/history", "get", "until")
    assert not re.search(until["anyOf"][0]["pattern"] if "anyOf" in until else until["pattern"], "0.5")


def test_stream_events_match_their_documented_schema(client, schema, publish, price_store):
    """The stream's events carry exactly what the document says (it listed change_percent and status, which no
    event ever had)."""
    import json

    jsonschema = pytest.importorskip("jsonschema")
    from market.sse import render_json

    publish({"AAPL": 190.0, "BRK.B": 0.5})
    publish({"AAPL": 191.0, "BRK.B": 0.4})
    documented = schema["paths"]["/api/stream/prices"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    frame = render_json(price_store.snapshot()).decode()
    events = [json.loads(line[len("data: "):]) for line in frame.splitlines() if line.startswith("data: ")]
    assert len(events) == 2
    for event in events:
        jsonschema.validate(event, documented["schema"])
        assert set(event) == set(documented["schema"]["required"])


def test_health_down_says_when_to_ask_again(client, monkeypatch):
    from market.quotes import StoreUnavailable
    from market.sqlite_store import SQLitePriceStore

    def away(self):
        raise StoreUnavailable("restarting")

    monkeypatch.setattr(SQLitePriceStore, "status", away)
    response = client.get("/api/health")
    assert response.status_code == 503 and response.json()["status"] == "down"
    assert int(response["Retry-After"]) >= 1
