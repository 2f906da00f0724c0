from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed webhooks (issue 24): an account's URL hears of its trades, fills, cancels and fired alerts, through an
    outbox written in the event's own transaction and delivered by the price worker's own threads."""

    name = "webhooks"

    def ready(self):
        from market import hooks
        from webhooks import delivery

        # The worker runs the deliveries on threads of their own: a slow or dead receiver never holds up a tick
        # (and never an order, which the web processes make).
        hooks.register_worker_thread(delivery.start)
        hooks.register_periodic_task(hooks.PeriodicTask(name="prune-webhook-deliveries", func=delivery.prune,
                                                        interval=lambda: 3600.0))
