from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate

from core.db import DEFAULT_USER


def _seed_after_migrate(sender, using, **kwargs):
    """A fresh database is seeded by `migrate` itself: first start needs no manual step."""
    from portfolio import services

    services.seed(user_id=DEFAULT_USER)


class PortfolioConfig(AppConfig):
    name = "portfolio"

    def ready(self):
        from market import hooks
        from portfolio import orders, selectors, services

        # The worker keeps held tickers priced and records the interval snapshot, and the watchlist's cap counts
        # held tickers under the trade's own lock; market never imports us.
        hooks.register_ticker_provider(selectors.held_tickers)
        hooks.register_ticker_provider(selectors.resting_tickers)
        hooks.register_tick_listener(orders.match_tick)
        hooks.register_owner_lock(services.lock_book)
        hooks.register_user_versions(selectors.book_versions)
        hooks.register_periodic_task(
            hooks.PeriodicTask(
                name="portfolio-snapshot",
                func=services.record_snapshots,
                interval=lambda: settings.PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS,
            )
        )
        post_migrate.connect(_seed_after_migrate, sender=self)
