"""The terminal command line: `buy 10 aapl`, `sell 5 tsla`, `add pypl`, `rm nflx`; orders that wait:
`buy 10 aapl @ 180` (limit), `sell 5 tsla stop 240`, `buy 1 nvda stop 130 @ 131` (stop-limit), `... gtc`;
`orders`, `cancel <id>`, `cancel all`; price alerts: `alert aapl > 200` (or `above`, `<`, `below`), `alerts`,
and `cancel <id>` for an alert too.

Parsing only: what the user asked for, or a CommandError fit to show them. The view executes a command
through the same services as the buttons (the trade engine decides whether a trade may happen).
Text that does not start with a command word is a question for the assistant (verb "ask"); a command word
with the wrong arguments is a usage error, never a guess passed on to the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from market.exceptions import InvalidTicker
from market.tickers import normalize_ticker
from portfolio.services import plain_decimal

MAX_LENGTH = 200
HELP = (
    # One line at 1440 px beside the input (test_browser): the orders that wait are spelled out by their usage error.
    "Commands: buy <qty> <ticker> (or sell) [@ <limit>] [stop <price>] [gtc], orders, cancel <id|all>, "
    "alert <ticker> >|< <price>, alerts, add <ticker>, rm <ticker>, help."
)
ASK_HELP = " Anything else is a question for the assistant."

VERBS = {
    "buy": "buy",
    "b": "buy",
    "sell": "sell",
    "s": "sell",
    "add": "add",
    "watch": "add",
    "rm": "rm",
    "remove": "rm",
    "del": "rm",
    "help": "help",
    "?": "help",
    "orders": "orders",
    "cancel": "cancel",
    "alert": "alert",
    "alerts": "alerts",
}
ALERT_CONDITIONS = {">": "above", ">=": "above", "above": "above", "<": "below", "<=": "below", "below": "below"}


class CommandError(ValueError):
    """The text is not a command we can run; the message says why, fit to show as is."""


@dataclass(frozen=True)
class Command:
    verb: str  # buy, sell, add, rm, help, ask, orders, cancel, alert, alerts
    ticker: str | None = None
    quantity: Decimal | None = None
    text: str = ""  # the question, for "ask"; the order's id (or "all"), for "cancel"
    # buy / sell: market unless a limit (`@ 180`, `limit 180`) or a stop (`stop 240`) is given; both: a stop-limit
    order_type: str = "market"
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str = "day"
    # alert: above or below `price`
    condition: str = ""
    price: Decimal | None = None


def shown(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quantity(raw: str) -> Decimal:
    """Read by the trade bar's rule (a plain decimal). Whether it is a quantity the engine fills (greater than zero,
    at most the limit, 4 decimals) is the engine's to say, so the command line says it in the trade bar's words."""
    quantity = plain_decimal(raw)
    if quantity is None:
        raise CommandError(f"'{shown(raw)}' is not a quantity: use a plain number such as 10 or 0.5.")
    return quantity


def _ticker(raw: str) -> str:
    try:
        return normalize_ticker(raw)
    except InvalidTicker as exc:
        raise CommandError(str(exc)) from None


def parse(text: object) -> Command:
    if not isinstance(text, str):
        raise CommandError("Type a command. " + HELP)
    if len(text) > MAX_LENGTH:
        raise CommandError(f"That is longer than {MAX_LENGTH} characters. " + HELP)
    words = text.split()
    if not words:
        raise CommandError("Type a command. " + HELP)
    verb = VERBS.get(words[0].lower())
    args = words[1:]
    if verb is None:
        return Command("ask", text=text.strip())
    if verb == "help":
        return Command("help")
    if verb in ("add", "rm"):
        if len(args) != 1:
            raise CommandError(f"Usage: {verb} <ticker>, for example '{verb} pypl'.")
        return Command(verb, ticker=_ticker(args[0]))
    if verb == "orders":
        if args:
            raise CommandError("Usage: orders (lists your open orders).")
        return Command("orders")
    if verb == "alerts":
        if args:
            raise CommandError("Usage: alerts (lists your active alerts).")
        return Command("alerts")
    if verb == "alert":
        return _alert(args)
    if verb == "cancel":
        if len(args) != 1:
            raise CommandError("Usage: cancel <id> (as `orders` or `alerts` shows it) or cancel all.")
        target = args[0].lower()
        if target != "all" and not all(c in "0123456789abcdef-" for c in target):
            raise CommandError(f"'{shown(args[0])}' is not an order or alert id: `orders` and `alerts` list them.")
        return Command("cancel", text=target)
    return _order(verb, args)


def _alert(args: list[str]) -> Command:
    """`alert aapl > 200`, `alert aapl above 200`, `alert aapl >200`; `<`, `below` for a fall."""
    usage = "Usage: alert <ticker> > <price> (or <, above, below), for example 'alert aapl > 200'."
    # `>200` is `> 200`
    words = []
    for arg in args:
        sign = None if arg in ALERT_CONDITIONS else next((s for s in (">=", "<=", ">", "<") if arg.startswith(s)), None)
        words += [sign, arg[len(sign):]] if sign else [arg]
    if len(words) != 3 or words[1].lower() not in ALERT_CONDITIONS:
        raise CommandError(usage)
    return Command("alert", ticker=_ticker(words[0]), condition=ALERT_CONDITIONS[words[1].lower()],
                   price=_price(words[2], words[1]))


def _price(raw: str, word: str) -> Decimal:
    price = plain_decimal(raw.lstrip("$"))
    if price is None:
        raise CommandError(f"'{shown(raw)}' after '{word}' is not a price: use a plain number such as 182.50.")
    return price


def _order(verb: str, args: list[str]) -> Command:
    """buy / sell: the quantity and the ticker first, in either order (`buy 10 aapl`, `buy aapl 10`), then what
    makes it wait: `@ 180` or `limit 180`, `stop 240`, and `gtc` or `day`."""
    usage = (f"Usage: {verb} <qty> <ticker> [@ <limit>] [stop <price>] [gtc], for example '{verb} 10 aapl' or "
             f"'{verb} 10 aapl @ 180'.")
    # `@180` is `@ 180`
    words = [w for arg in args for w in (["@", arg[1:]] if arg.startswith("@") and len(arg) > 1 else [arg])]
    if len(words) < 2:
        raise CommandError(usage)
    first, second, rest = words[0], words[1], words[2:]
    if rest and plain_decimal(first) is None and plain_decimal(second) is None:
        raise CommandError(usage)  # "buy some apple stock": words, not an order, and not a question to guess at
    if plain_decimal(second) is not None and plain_decimal(first) is None:
        first, second = second, first
    quantity, ticker = _quantity(first), _ticker(second)
    limit = stop = None
    time_in_force = "day"
    while rest:
        word = rest.pop(0).lower()
        if word in ("gtc", "day"):
            time_in_force = word
            continue
        if word not in ("@", "limit", "lmt", "stop", "stp"):
            raise CommandError(f"'{shown(word)}' is not part of an order. " + usage)
        if not rest:
            raise CommandError(f"'{word}' needs a price after it. " + usage)
        price = _price(rest.pop(0), word)
        if word in ("stop", "stp"):
            stop = price
        else:
            limit = price
    order_type = {(False, False): "market", (True, False): "limit", (False, True): "stop",
                  (True, True): "stop_limit"}[(limit is not None, stop is not None)]
    if order_type == "market" and time_in_force == "gtc":
        raise CommandError("A market order fills at once: 'gtc' is for orders that wait (add '@ <limit>' or "
                           "'stop <price>').")
    return Command(verb, ticker=ticker, quantity=quantity, order_type=order_type, limit_price=limit,
                   stop_price=stop, time_in_force=time_in_force)
