"""A bare ASGI application answering every request as an order is answered: uvicorn's own cost (bench/floor.py)."""

# A filled order's answer, byte for byte as long as the engine's (bench/floor_urls.py answers the same).
ANSWER = (
    b'{"id":"019abf2e-4b1c-7d2a-9e3f-0c74d54187af","ticker":"AAPL","side":"buy","quantity":1.0,"price":190.0,'
    b'"notional":190.0,"realized_pnl":null,"executed_at":"2026-11-26T08:14:06.533Z","cash_balance":9810.0,'
    b'"client_order_id":null}'
)
HEADERS = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(ANSWER)).encode())]


async def application(scope, receive, send):
    if scope["type"] != "http":
        return  # lifespan: nothing to start
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 201, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})
