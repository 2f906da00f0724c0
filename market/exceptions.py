"""Domain errors of the market app; every message is fit to show to the user as is."""


class MarketError(ValueError):
    """Base of the market's rejections of user input."""


class InvalidTicker(MarketError):
    pass


class AlreadyWatching(MarketError):
    pass


class NotWatching(MarketError):
    pass


class WatchlistFull(MarketError):
    pass
