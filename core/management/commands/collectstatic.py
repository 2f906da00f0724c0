"""Django's `collectstatic`, which also records what it collected from, so a start-up can skip it (core/startup.py)."""

from django.contrib.staticfiles.management.commands import collectstatic

from core.startup import record_static_fingerprint


class Command(collectstatic.Command):
    def handle(self, **options):
        result = super().handle(**options)
        if not options["dry_run"]:
            record_static_fingerprint()
        return result
