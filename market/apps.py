from django.apps import AppConfig
from django.conf import settings


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market data"

    def ready(self):
        from core import db
        from market import bars, hooks

        # The price worker is the deployment's one long-lived background process: it checkpoints the database.
        hooks.register_periodic_task(
            hooks.PeriodicTask(
                name="database-checkpoint", func=db.checkpoint, interval=lambda: settings.DATABASE_CHECKPOINT_SECONDS
            )
        )
        hooks.register_periodic_task(
            hooks.PeriodicTask(name="prune-price-bars", func=bars.prune, interval=lambda: 3600.0)
        )
