from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Price alerts (issue 24): a user's `above`/`below` level on a ticker, checked by the price worker each tick."""

    name = "alerts"

    def ready(self):
        from alerts import selectors, services
        from market import hooks

        # An active alert's ticker stays priced (or it could never fire), and is counted by the watchlist's cap as
        # a held one is; the worker checks the alerts right after each tick, as it matches resting orders.
        hooks.register_ticker_provider(selectors.alert_tickers)
        hooks.register_tick_listener(services.check_tick)
