from django.core.management.base import BaseCommand

from core.db import DEFAULT_USER
from portfolio import services


class Command(BaseCommand):
    help = "Create the default user with $10,000 and the default watchlist, if it does not exist yet (idempotent)."

    def handle(self, *args, **options):
        created = services.seed(user_id=DEFAULT_USER)
        self.stdout.write("Seeded the default user." if created else "Already seeded; nothing changed.")
