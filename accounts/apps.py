from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who is asking: sign-in, sign-up, API tokens and the rule that every request names its book (request.book).

    With ACCOUNTS=off (the default) every request is the implicit user's; with ACCOUNTS=on, an account's. Nothing
    below the request layer knows which: services and selectors take the book's id (SPEC's user id) either way."""

    name = "accounts"
