import signal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from market.sources import make_source
from market.store import get_store
from market.worker import PriceWorker


class Command(BaseCommand):
    help = "Run the price worker: the single writer of prices (simulator, or Massive when MASSIVE_API_KEY is set)."

    def add_arguments(self, parser):
        parser.add_argument("--max-ticks", type=int, default=None, help="Stop after this many ticks (tests).")

    def handle(self, *args, max_ticks=None, **options):
        store = get_store()
        last = {ticker: quote.price for ticker, quote in store.quotes().items()}
        try:
            source = make_source(settings=settings, start_prices=last)
        except ImproperlyConfigured as exc:  # e.g. a malformed MASSIVE_API_KEY: one line, no traceback
            raise CommandError(str(exc)) from None
        worker = PriceWorker(source=source, store=store, max_ticks=max_ticks)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: worker.stop())
        worker.run()
