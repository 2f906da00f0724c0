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
