import logging
import os
import signal
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from core import metrics
from core.startup import migrate_if_needed
from market import hooks
from market.quotes import StoreUnavailable, WriterAlreadyRunning, iso_utc
from market.sources import make_source
from market.store import get_store
from market.worker import PriceWorker, sleep_unless

logger = logging.getLogger("market.worker")


class Command(BaseCommand):
    help = "Run the price worker: the single writer of prices (simulator, or Massive when MASSIVE_API_KEY is set)."

    def add_arguments(self, parser):
        parser.add_argument("--max-ticks", type=int, default=None, help="Stop after this many ticks (tests).")

    def handle(self, *args, max_ticks=None, **options):
        # Started beside the web server (make run), which may not have migrated a new database yet.
        migrate_if_needed()
        store = get_store()
        # Signal handlers set flags only (see PriceWorker.stop): a lock taken in a handler can deadlock.
        stopping = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.append(True))
        database = settings.DATABASES["default"]
        owner = {
            "pid": os.getpid(),
            "host": os.uname().nodename,
            "database": f"{database['ENGINE'].rsplit('.', 1)[-1]}:{database['NAME']}",
            "since": iso_utc(time.time()),
        }
        delay = 0.5
        # A lease left by a worker that just died (Redis: it lapses within lease_seconds) is waited out, so a
        # supervisor restarting a crashed worker is not refused; a live worker keeps renewing it and wins.
        give_up_at = time.monotonic() + getattr(store, "lease_seconds", 0.0) + 1.0
        while True:
            # A store that is down at start (Redis restarting) is waited for, as it is later on.
            try:
                store.claim_writer(owner=owner)
                quotes = store.quotes()
                break
            except WriterAlreadyRunning as exc:
                if time.monotonic() >= give_up_at:
                    raise CommandError(str(exc), returncode=3) from None
                if sleep_unless(lambda: bool(stopping), 0.5):
                    return
            except StoreUnavailable as exc:
                store.release_writer()
                logger.warning("price store unavailable, retrying in %.1fs: %s", delay, exc)
                if sleep_unless(lambda: bool(stopping), delay):
                    return
                delay = min(delay * 2, 5.0)
        scrape, services = None, []
        try:
            try:
                source = make_source(
                    settings=settings,
                    start_prices={t: q.price for t, q in quotes.items()},
                    start_opens={t: q.open_price for t, q in quotes.items()},
                )
            except ImproperlyConfigured as exc:  # e.g. a malformed MASSIVE_API_KEY: one line, no traceback
                raise CommandError(str(exc), returncode=3) from None
            worker = PriceWorker(source=source, store=store, max_ticks=max_ticks)
            scrape = metrics.serve_worker_metrics()  # METRICS=on: the worker's own /metrics port
            services = [start() for start in hooks.worker_threads]  # other apps' (webhook deliveries)
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: worker.stop())
            if stopping:
                return
            try:
                worker.run()
            except WriterAlreadyRunning as exc:
                raise CommandError(str(exc), returncode=3) from None
        finally:
            for service in services:
                service.stop()
            if scrape is not None:
                scrape.shutdown()
            store.release_writer()
