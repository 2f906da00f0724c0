"""Why the trade engine refused an order; each message is fit to show to the user as is."""


class TradeRejected(Exception):
    """Base of every refusal; nothing was changed."""


class InvalidOrder(TradeRejected):
    pass


class NoPrice(TradeRejected):
    pass


class InsufficientCash(TradeRejected):
    pass


class InsufficientShares(TradeRejected):
    pass


class PriceNotYet(NoPrice):
    """A passing condition: no live prices yet, or none yet for a ticker the worker is about to price. The same
    order may succeed in a moment (the API answers 503 with Retry-After, not a final 4xx)."""


class StalePrice(PriceNotYet):
    """The feed has not answered for a while: the last price is not one the user can see as live."""


class PricesNotLive(NoPrice):
    """The source's prices are not live quotes (Massive's end-of-day closes): no order fills at them, and waiting
    a moment does not change that (a 409, not a 503)."""


class OrderNotRecorded(TradeRejected):
    """The database refused to record the order (a constraint): nothing was traded."""


class OrderIdReused(TradeRejected):
    """A client_order_id that already filled a different order."""


class InvalidProfile(ValueError):
    """A change to a book's settings (its leaderboard entry) that cannot be made; the message says why."""


class NoSuchOrder(TradeRejected):
    """No order of this book has that id (another book's is not told apart from one that never was)."""


class OrderNotOpen(TradeRejected):
    """A cancel of an order that has already filled, expired, been canceled or rejected: the message says which."""


class PositionChanged(TradeRejected):
    """A Close confirmed on a position that has changed since it was shown: nothing was sold."""
