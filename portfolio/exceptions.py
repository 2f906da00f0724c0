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


class StalePrice(NoPrice):
    """The feed has not answered for a while: the last price is not one the user can see as live."""


class OrderIdReused(TradeRejected):
    """A client_order_id that already filled a different order."""
