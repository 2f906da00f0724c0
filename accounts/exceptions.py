class AccountError(Exception):
    """A request about accounts that cannot be done; the message says why and is safe to show."""


class SignInRefused(AccountError):
    """Wrong name or password (never which), or too many failures: `retry_after` seconds then."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NoSuchToken(AccountError):
    pass


class TooManyTokens(AccountError):
    pass


class AccountsOff(AccountError):
    pass
