import os
import signal
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from market.sources import make_source
from market.store import WriterAlreadyRunning, get_store, iso_utc
from market.worker import PriceWorker


class Command(BaseCommand):
    help = "Run the price worker: the single writer of prices (simulator, or Massive when MASSIVE_API_KEY is set)."

    def add_arguments(self, parser):
        parser.add_argument("--max-ticks", type=int, default=None, help="Stop after this many ticks (tests).")

    def handle(self, *args, max_ticks=None, **options):
        store = get_store()
        database = settings.DATABASES["default"]
        try:
            store.claim_writer(
                owner={
                    "pid": os.getpid(),
                    "database": f"{database['ENGINE'].rsplit('.', 1)[-1]}:{database['NAME']}",
                    "since": iso_utc(time.time()),
                }
            )
        except WriterAlreadyRunning as exc:
            raise CommandError(str(exc), returncode=3) from None
        quotes = store.quotes()
        try:
            source = make_source(
                settings=settings,
                start_prices={t: q.price for t, q in quotes.items()},
                start_opens={t: q.open_price for t, q in quotes.items()},
            )
        except ImproperlyConfigured as exc:  # e.g. a malformed MASSIVE_API_KEY: one line, no traceback
            raise CommandError(str(exc), returncode=3) from None
        worker = PriceWorker(source=source, store=store, max_ticks=max_ticks)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: worker.stop())
        worker.run()
