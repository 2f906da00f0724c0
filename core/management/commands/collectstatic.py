"""Django's `collectstatic`, which also records what it collected from, so a start-up can skip it (core/startup.py)."""

from django.contrib.staticfiles.management.commands import collectstatic

from core.startup import record_static_fingerprint, static_fingerprint


class Command(collectstatic.Command):
    def handle(self, **options):
        # Taken before collecting: a source edited while it runs then differs from what is recorded, and the
        # next start collects again (taken after, the edit would pass as collected).
        fingerprint = static_fingerprint()
        result = super().handle(**options)
        if not options["dry_run"]:
            record_static_fingerprint(fingerprint)
        return result
