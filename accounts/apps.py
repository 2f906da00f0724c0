from django.apps import AppConfig
from django.conf import settings


class AccountsConfig(AppConfig):
    """Who is asking: sign-in, sign-up, API tokens and the rule that every request names its book (request.book).

    With ACCOUNTS=off (the default) every request is the implicit user's; with ACCOUNTS=on, an account's. Nothing
    below the request layer knows which: services and selectors take the book's id (SPEC's user id) either way."""

    name = "accounts"

    def ready(self):
        from accounts import services
        from market import hooks

        # Ended sessions and old sign-in counts are deleted by the price worker, so neither table grows with
        # every sign-in for ever.
        hooks.register_periodic_task(
            hooks.PeriodicTask(
                name="accounts-housekeeping",
                func=services.housekeeping,
                interval=lambda: settings.ACCOUNTS_HOUSEKEEPING_SECONDS,
            )
        )
