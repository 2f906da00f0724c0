"""Why an alert could not be made or canceled; each message is fit to show to the user as is."""


class AlertError(Exception):
    """Base of every refusal; nothing was changed."""


class InvalidAlert(AlertError):
    pass


class TooManyAlerts(AlertError):
    pass


class NoSuchAlert(AlertError):
    """No alert of this book has that id (another book's is not told apart from one that never was)."""


class AlertNotActive(AlertError):
    """A cancel of an alert that has fired or was canceled already: the message says which."""
