"""The terminal command line: `buy 10 aapl`, `sell 5 tsla`, `add pypl`, `rm nflx`.

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
HELP = "Commands: buy <qty> <ticker>, sell <qty> <ticker>, add <ticker>, rm <ticker>, help."
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
}

class CommandError(ValueError):
    """The text is not a command we can run; the message says why, fit to show as is."""


@dataclass(frozen=True)
class Command:
    verb: str  # buy, sell, add, rm, help, ask
    ticker: str | None = None
    quantity: Decimal | None = None
    text: str = ""  # the question, for "ask"


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
    # buy / sell: the quantity first (`buy 10 aapl`); the other order is accepted too (`buy aapl 10`).
    if len(args) != 2:
        raise CommandError(f"Usage: {verb} <qty> <ticker>, for example '{verb} 10 aapl'.")
    first, second = args
    if plain_decimal(second) is not None and plain_decimal(first) is None:
        first, second = second, first
    return Command(verb, ticker=_ticker(second), quantity=_quantity(first))
