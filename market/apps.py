from django.apps import AppConfig
from django.conf import settings


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market data"

    def ready(self):
        from core import db, metrics
        from market import bars, hooks
        from market.store import get_store

        # Read from the store when scraped, in every process that serves metrics (the web's and the worker's).
        metrics.measure(metrics.TICK_AGE, lambda: get_store().status().age())

        # The price worker is the deployment's one long-lived background process: it checkpoints the database.
        hooks.register_periodic_task(
            hooks.PeriodicTask(
                name="database-checkpoint", func=db.checkpoint, interval=lambda: settings.DATABASE_CHECKPOINT_SECONDS
            )
        )
        hooks.register_periodic_task(
            hooks.PeriodicTask(name="prune-price-bars", func=bars.prune, interval=lambda: 3600.0)
        )
