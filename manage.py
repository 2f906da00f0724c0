#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finally_site.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad setting (MASSIVE_POLL_SECONDS=abc) is the user's to fix: say which, without a traceback.
        sys.exit(f"FinAlly configuration error: {exc}")


if __name__ == "__main__":
    main()
